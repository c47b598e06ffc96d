//! Logging in and out.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::password::PasswordError;
use crate::auth::token::TTL;
use crate::auth::users::{self, UserError};
use crate::auth::{Actor, Role, session};
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
        .route("/auth/password", post(password))
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
    let signed_in = session::sign_in(&state, &body.username, body.password).await?;
    let cookie = session::session_cookie(&signed_in.token);
    let mut response = Json(LoggedIn {
        access_token: signed_in.token,
        token_type: "Bearer",
        expires_in: TTL.as_secs(),
        role: signed_in.role,
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
    session::sign_out(&state, &actor).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::cleared_session_cookie())],
    )
        .into_response())
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// A user changes their own password (the desks' "Mot de passe" page calls this too):
/// the current one is checked, the new one must be strong; every session of the user
/// ends, and the one that asked continues under the returned token.
pub async fn change_own_password(
    state: &AppState,
    actor: &Actor,
    current: String,
    new: String,
) -> Result<session::SignedIn, ApiError> {
    let generation = users::change_own_password(&state.pool, actor.user_id, current, new)
        .await
        .map_err(|e| match e {
            // The new password is the one at fault (the From names `password`).
            UserError::Password(
                p @ (PasswordError::Length
                | PasswordError::Repetitive
                | PasswordError::ContainsUsername
                | PasswordError::Unchanged),
            ) => ApiError::invalid("weak_password", "new_password", p.to_string()),
            other => ApiError::from(other),
        })?;
    state.auth.standing_cache.forget(actor.user_id);
    let (token, _) = state
        .auth
        .keys
        .issue(actor.user_id, &actor.username, actor.role, generation)
        .map_err(ApiError::internal)?;
    Ok(session::SignedIn {
        token,
        role: actor.role,
    })
}

async fn password(
    State(state): State<AppState>,
    actor: Actor,
    ValidJson(body): ValidJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let signed_in =
        change_own_password(&state, &actor, body.current_password, body.new_password).await?;
    let cookie = session::session_cookie(&signed_in.token);
    let mut response = Json(LoggedIn {
        access_token: signed_in.token,
        token_type: "Bearer",
        expires_in: TTL.as_secs(),
        role: signed_in.role,
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

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<PasswordChange, LoggedIn>(Method::POST, "/api/v1/auth/password", 200);
    doc.op::<Login, LoggedIn>(Method::POST, "/api/v1/auth/login", 200);
    doc.bare(Method::POST, "/api/v1/auth/logout", 204);
    doc.query::<Me>(Method::GET, "/api/v1/auth/me", 200);
}
