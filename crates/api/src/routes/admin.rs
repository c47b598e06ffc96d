//! User administration (admin role): no access to customer data from here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::PathId;
use crate::auth::users::{self, User, UserError};
use crate::auth::{Actor, Role};
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::http::Method;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/password", post(reset_password))
}

impl From<UserError> for ApiError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::UsernameTaken => ApiError::Conflict {
                code: "username_taken",
                detail: "Ce nom d'utilisateur est déjà pris.".into(),
                field: Some("username"),
            },
            UserError::InvalidUsername => ApiError::invalid(
                "invalid_username",
                "username",
                "Nom d'utilisateur invalide : 2 à 64 caractères parmi a-z 0-9 . _ -",
            ),
            UserError::NotFound => ApiError::NotFound {
                code: "user_not_found",
                detail: "Utilisateur inconnu.".into(),
            },
            UserError::Password(e @ crate::auth::password::PasswordError::Length) => {
                ApiError::invalid("weak_password", "password", e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users::list(&state.pool).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ValidJson(body): ValidJson<NewUser>,
) -> Result<Response, ApiError> {
    let user = users::create(
        &state.pool,
        &actor.username,
        &body.username,
        &body.display_name,
        body.role,
        &body.password,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn disable(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
) -> Result<StatusCode, ApiError> {
    users::set_disabled(&state.pool, &actor.username, id, true).await?;
    state.auth.standing_cache.forget(id);
    Ok(StatusCode::NO_CONTENT)
}

async fn enable(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
) -> Result<StatusCode, ApiError> {
    users::set_disabled(&state.pool, &actor.username, id, false).await?;
    state.auth.standing_cache.forget(id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
    ValidJson(body): ValidJson<NewPassword>,
) -> Result<StatusCode, ApiError> {
    users::reset_password(&state.pool, &actor.username, id, &body.password).await?;
    state.auth.standing_cache.forget(id);
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.query::<Vec<User>>(Method::GET, "/api/v1/admin/users", 200);
    doc.op::<NewUser, User>(Method::POST, "/api/v1/admin/users", 201);
    doc.bare(Method::POST, "/api/v1/admin/users/{id}/disable", 204);
    doc.bare(Method::POST, "/api/v1/admin/users/{id}/enable", 204);
    doc.op::<NewPassword, ()>(Method::POST, "/api/v1/admin/users/{id}/password", 204);
}
