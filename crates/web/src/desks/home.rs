//! `/`, the login page, logout, and the landing of each role.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lae_api::AppState;
use lae_api::auth::rules::authenticate;
use lae_api::auth::session;
use lae_api::problem::ApiError;

use super::{Layout, desk_of, render, see_other};
use crate::forms::Fields;
use crate::session::PageUser;

/// `GET /`: the login page signed out, the user's desk signed in.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authenticate(&state, &headers).await {
        Ok(actor) => see_other(desk_of(actor.role)),
        Err(_) => see_other("/login"),
    }
}

/// `GET /desk`: the desk of the user's role.
pub async fn desk(user: PageUser) -> Response {
    see_other(desk_of(user.role()))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

/// Where to go after logging in: a desk path of this site only (never another site).
fn safe_next(next: &str) -> &str {
    let local = next.starts_with("/desk")
        && !next.starts_with("//")
        && next
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_".contains(&b));
    if local && next.len() <= 200 { next } else { "" }
}

/// `GET /login`.
pub async fn login_page(RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let query = query.unwrap_or_default();
    let notice = if query.contains("logged_out=1") {
        Some("Vous êtes déconnecté.".to_owned())
    } else if query.contains("expired=1") {
        Some("Votre session a expiré : reconnectez-vous pour continuer.".to_owned())
    } else {
        None
    };
    render(
        StatusCode::OK,
        &LoginPage {
            layout: Layout::bare("Connexion"),
            username: String::new(),
            next: String::new(),
            error: None,
            notice,
        },
    )
}

/// The login form shown in place of a page that needs a session (401).
pub fn login_required(next: &str, expired: bool) -> Result<Response, ApiError> {
    let notice = expired.then(|| {
        "Session expirée : votre session s'est fermée après une période d'inactivité ou à la fin de la journée. Reconnectez-vous pour continuer.".to_owned()
    });
    let notice = notice.or_else(|| Some("Connectez-vous pour ouvrir cette page.".to_owned()));
    render(
        StatusCode::UNAUTHORIZED,
        &LoginPage {
            layout: Layout::bare(if expired {
                "Session expirée"
            } else {
                "Connexion"
            }),
            username: String::new(),
            next: safe_next(next).to_owned(),
            error: None,
            notice,
        },
    )
}

/// `POST /login`: the same sign-in as `POST /api/v1/auth/login`, the same cookie.
pub async fn login(State(state): State<AppState>, form: Fields) -> Result<Response, ApiError> {
    let username = form.get("username").trim().to_owned();
    let next = safe_next(form.get("next")).to_owned();
    let refused = |status: StatusCode, message: String| {
        render(
            status,
            &LoginPage {
                layout: Layout::bare("Connexion"),
                username: username.clone(),
                next: next.clone(),
                error: Some(message),
                notice: None,
            },
        )
    };
    if username.is_empty() || form.get("password").is_empty() {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Saisissez votre identifiant et votre mot de passe.".to_owned(),
        );
    }
    match session::sign_in(&state, &username, form.get("password").to_owned()).await {
        Ok(signed_in) => {
            let target = if next.is_empty() {
                desk_of(signed_in.role).to_owned()
            } else {
                next.clone()
            };
            let mut response = see_other(&target);
            let cookie = HeaderValue::from_str(&session::session_cookie(&signed_in.token))
                .map_err(ApiError::internal)?;
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(ApiError::InvalidCredentials) => refused(
            StatusCode::UNAUTHORIZED,
            "Identifiant ou mot de passe incorrect.".to_owned(),
        ),
        Err(ApiError::Locked { retry_after_secs }) => refused(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Trop d'essais infructueux : le compte est bloqué pendant encore {} s. Réessayez ensuite.",
                retry_after_secs
            ),
        ),
        Err(other) => Err(other),
    }
}

/// `POST /logout`: ends every session of the user and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: PageUser,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    session::sign_out(&state, &user.actor).await?;
    let mut response = see_other("/login?logged_out=1");
    let cookie =
        HeaderValue::from_str(&session::cleared_session_cookie()).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Template)]
#[template(path = "soon.html")]
struct Soon {
    layout: Layout,
}

/// The landing of a desk whose screens come with a later issue (part 2, the KPIs).
pub async fn soon(user: PageUser) -> Result<Response, ApiError> {
    let page = Soon {
        layout: Layout::desk("Bureau", &user, ""),
    };
    Ok(render(StatusCode::OK, &page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_desk_paths_of_this_site_are_followed_after_login() {
        assert_eq!(
            safe_next("/desk/customer-service"),
            "/desk/customer-service"
        );
        assert_eq!(safe_next("//evil.example/desk"), "");
        assert_eq!(safe_next("https://evil.example"), "");
        assert_eq!(safe_next("/desk/x?y=<script>"), "");
        assert_eq!(safe_next("/api/v1/auth/me"), "");
    }
}
