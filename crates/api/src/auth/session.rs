//! Signing in and out, for the JSON API and the desks alike: one session, one cookie.
//!
//! `POST /api/v1/auth/login` and the desks' login page both call [`sign_in`] and set
//! the cookie of [`session_cookie`]; a token from either opens the other.

use axum::http::HeaderMap;

use super::rules::SESSION_COOKIE;
use super::token::{Claims, TTL};
use super::{Actor, Role, password, users};
use crate::problem::ApiError;
use crate::state::AppState;

/// A user who proved their password.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub role: Role,
}

/// Checks a username and password (lock-out, disabled users, constant-time decoy for
/// unknown names) and issues a token.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<SignedIn, ApiError> {
    if password.len() > password::MAX_LENGTH * 4 {
        return Err(ApiError::InvalidCredentials);
    }
    let found = users::find(&state.pool, username)
        .await
        .map_err(ApiError::internal)?;
    let now = chrono::Utc::now();
    if let Some(locked_until) = found
        .as_ref()
        .and_then(|u| u.locked_until)
        .filter(|t| *t > now)
    {
        let secs = (locked_until - now).num_seconds().max(1);
        return Err(ApiError::Locked {
            retry_after_secs: u64::try_from(secs).unwrap_or(1),
        });
    }
    // An unknown user costs one verification too, against a decoy hash, so that
    // response times do not reveal which usernames exist.
    let stored = found
        .as_ref()
        .map_or_else(|| password::decoy().to_owned(), |u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
        .await
        .map_err(ApiError::internal)?;
    let Some(user) = found else {
        return Err(ApiError::InvalidCredentials);
    };
    if !matches {
        users::record_failure(&state.pool, user.user_id).await?;
        tracing::warn!(user = %user.username, "failed login");
        return Err(ApiError::InvalidCredentials);
    }
    if user.disabled {
        return Err(ApiError::InvalidCredentials);
    }
    users::record_success(&state.pool, user.user_id).await?;
    let (token, _) = state
        .auth
        .keys
        .issue(
            user.user_id,
            &user.username,
            user.role.0,
            user.token_generation,
        )
        .map_err(ApiError::internal)?;
    Ok(SignedIn {
        token,
        role: user.role.0,
    })
}

/// Revokes every token of the user (all their sessions, pages and API).
pub async fn sign_out(state: &AppState, actor: &Actor) -> Result<(), ApiError> {
    users::revoke_tokens(&state.pool, actor.user_id)
        .await
        .map_err(ApiError::internal)?;
    state.auth.standing_cache.forget(actor.user_id);
    Ok(())
}

/// The `Set-Cookie` value of a session token.
pub fn session_cookie(token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        TTL.as_secs()
    )
}

/// The `Set-Cookie` value that ends the session in the browser.
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0")
}

/// The session token the browser sent, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    super::rules::cookie(headers, SESSION_COOKIE)
}

/// Whether the request carries an `Authorization` header (an API client, not a
/// browser session: no CSRF exposure).
pub fn has_bearer(headers: &HeaderMap) -> bool {
    headers.contains_key(axum::http::header::AUTHORIZATION)
}

/// The claims of the session cookie, when it is valid (signature and expiry; the
/// user's standing is checked by the rules middleware).
pub fn cookie_claims(state: &AppState, headers: &HeaderMap) -> Option<Claims> {
    state.auth.keys.verify(cookie_token(headers)?)
}
