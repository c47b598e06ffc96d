//! Logging in and out.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::token::TTL;
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

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Login, LoggedIn>(Method::POST, "/api/v1/auth/login", 200);
    doc.bare(Method::POST, "/api/v1/auth/logout", 204);
    doc.query::<Me>(Method::GET, "/api/v1/auth/me", 200);
}
