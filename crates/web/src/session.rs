//! The signed-in user of a page: who they are (from the rules middleware), the
//! anti-forgery token their forms carry, and the sliding renewal of their session.
//!
//! One session for pages and API: the `lae_session` cookie set by `POST
//! /api/v1/auth/login` or by the login page. A page request older than
//! [`RENEW_AFTER`] gets a fresh token in the same session, so an agent who works
//! keeps their session; an idle one loses it after the token's 15 minutes, and nobody
//! keeps one longer than a working day (`lae_api::auth::token::SESSION_MAX`).
//!
//! Forms that change anything carry `_csrf`, a MAC of the session
//! ([`lae_api::auth::token::TokenKeys::form_token`]); a post whose token does not match,
//! or whose `Origin` is another site, is refused before it is read. A request that
//! authenticates with an `Authorization` header (an API client, never a browser's
//! ambient credential) needs no form token.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use lae_api::AppState;
use lae_api::auth::session;
use lae_api::auth::token::Claims;
use lae_api::auth::{Actor, Role};
use lae_api::problem::ApiError;

use crate::forms::Fields;

/// Renew a page's token once it is this old (seconds).
pub const RENEW_AFTER: i64 = 60;

/// The signed-in user of a page.
#[derive(Debug, Clone)]
pub struct PageUser {
    pub actor: Actor,
    pub claims: Claims,
    /// What this session's forms carry as `_csrf`.
    pub form_token: String,
    /// The session came from the cookie (a browser), not a bearer header.
    pub via_cookie: bool,
}

impl PageUser {
    pub fn role(&self) -> Role {
        self.actor.role
    }

    /// Refuses a form post that does not carry this session's token.
    pub fn check_form(&self, state: &AppState, form: &Fields) -> Result<(), ApiError> {
        self.check_token(state, form.get("_csrf"))
    }

    /// The same for a form token read from another kind of body (a multipart upload).
    pub fn check_token(&self, state: &AppState, sent: &str) -> Result<(), ApiError> {
        if !self.via_cookie {
            return Ok(());
        }
        if state.auth.keys.form_token_matches(&self.claims, sent) {
            Ok(())
        } else {
            Err(forged())
        }
    }
}

fn forged() -> ApiError {
    ApiError::Conflict {
        code: "form_expired",
        detail: "Ce formulaire a expiré ou ne vient pas de cette application : \
                 rechargez la page et recommencez."
            .into(),
        field: Some("_csrf"),
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = parts.extensions.get::<Actor>().cloned();
        let claims = parts.extensions.get::<Claims>().cloned();
        let (Some(actor), Some(claims)) = (actor, claims) else {
            return Err(ApiError::Unauthenticated {
                detail: "Connectez-vous pour ouvrir cette page.",
            });
        };
        Ok(Self {
            form_token: state.auth.keys.form_token(&claims),
            via_cookie: !session::has_bearer(&parts.headers),
            actor,
            claims,
        })
    }
}

/// What every page answer carries: the pages' Content-Security-Policy, no caching of
/// personal data, and a renewed session cookie when the token is ageing.
pub async fn page_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let renewal = renewal(&state, req.headers(), req.extensions().get::<Claims>());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    crate::page_headers(headers);
    // A page that set its own session cookie (login, logout) keeps it.
    if let Some(cookie) = renewal
        && !headers.contains_key(header::SET_COOKIE)
        && let Ok(value) = HeaderValue::from_str(&cookie)
    {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// The cookie of a renewed token, when the request's session token is ageing.
fn renewal(state: &AppState, headers: &HeaderMap, claims: Option<&Claims>) -> Option<String> {
    let claims = claims?;
    if session::has_bearer(headers) || session::cookie_token(headers).is_none() {
        return None;
    }
    if chrono::Utc::now().timestamp() - claims.iat < RENEW_AFTER {
        return None;
    }
    let (token, _) = state.auth.keys.renew(claims)?;
    Some(session::session_cookie(&token))
}

/// Refuses a post sent from another site (`Origin` of another host), before anything
/// else is read: a second line behind the form token and the SameSite cookie.
///
/// Every answer says `Referrer-Policy: no-referrer`, under which a browser sends
/// `Origin: null` with a form it posts. `null` passes only with `Sec-Fetch-Site:
/// same-origin`, a header that browsers set themselves and no page may forge; a `null`
/// from a sandboxed frame or another site comes with `cross-site` (or nothing) and is
/// refused.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    if origin.as_bytes() == b"null" {
        let fetch_site = headers.get("sec-fetch-site").map(HeaderValue::as_bytes);
        return if fetch_site == Some(b"same-origin") {
            Ok(())
        } else {
            Err(forged())
        };
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) if o == h => Ok(()),
        _ => Err(forged()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_static("lae.example:8080"));
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn posts_from_this_site_pass_and_others_are_refused() {
        for (pairs, passes) in [
            (&[][..], true),
            (&[("origin", "https://lae.example:8080")][..], true),
            (&[("origin", "https://evil.example")][..], false),
            // What a browser sends under `Referrer-Policy: no-referrer`.
            (
                &[("origin", "null"), ("sec-fetch-site", "same-origin")][..],
                true,
            ),
            (
                &[("origin", "null"), ("sec-fetch-site", "cross-site")][..],
                false,
            ),
            (
                &[("origin", "null"), ("sec-fetch-site", "same-site")][..],
                false,
            ),
            (&[("origin", "null")][..], false),
        ] {
            assert_eq!(same_origin(&headers(pairs)).is_ok(), passes, "{pairs:?}");
        }
    }
}
