//! Logging in and out.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::rules::SESSION_COOKIE;
use crate::auth::token::TTL;
use crate::auth::{Actor, Role, password, users};
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::http::Method;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LoggedIn {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub role: Role,
}

async fn login(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<Login>,
) -> Result<Response, ApiError> {
    if body.password.len() > password::MAX_LENGTH * 4 {
        return Err(ApiError::InvalidCredentials);
    }
    let found = users::find(&state.pool, &body.username)
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
    let candidate = body.password;
    let matches = tokio::task::spawn_blocking(move || password::verify(&candidate, &stored))
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
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        TTL.as_secs()
    );
    let mut response = Json(LoggedIn {
        access_token: token,
        token_type: "Bearer",
        expires_in: TTL.as_secs(),
        role: user.role.0,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revokes every token of the user (all their sessions) and clears the cookie.
async fn logout(State(state): State<AppState>, actor: Actor) -> Result<Response, ApiError> {
    users::revoke_tokens(&state.pool, actor.user_id)
        .await
        .map_err(ApiError::internal)?;
    state.auth.standing_cache.forget(actor.user_id);
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Me {
    pub user_id: uuid::Uuid,
    pub username: String,
    pub role: Role,
}

async fn me(actor: Actor) -> Json<Me> {
    Json(Me {
        user_id: actor.user_id,
        username: actor.username,
        role: actor.role,
    })
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Login, LoggedIn>(Method::POST, "/api/v1/auth/login", 200);
    doc.bare(Method::POST, "/api/v1/auth/logout", 204);
    doc.query::<Me>(Method::GET, "/api/v1/auth/me", 200);
}
