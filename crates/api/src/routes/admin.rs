//! User administration (admin role): no access to customer data from here.
//!
//! The use cases ([`create_user`], [`account`], [`change_role`], [`set_disabled`],
//! [`reset_password`]) are what both the JSON routes below and the administration
//! desk (`crates/web/src/desks/admin.rs`) call: the store's rules (the last active
//! administrator stays, every change is recorded with its author) and the revocation
//! of the user's tokens on this instance happen here, once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PathId;
use crate::auth::password::{self, PasswordError};
use crate::auth::users::{self, Account, User, UserError};
use crate::auth::{Actor, Role};
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::http::Method;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/{id}", get(show))
        .route("/admin/users/{id}/role", post(role))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/password", post(reset))
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
            UserError::InvalidDisplayName => ApiError::invalid(
                "invalid_display_name",
                "display_name",
                "Le nom affiché doit compter entre 1 et 200 caractères.",
            ),
            UserError::NotFound => ApiError::NotFound {
                code: "user_not_found",
                detail: "Utilisateur inconnu.".into(),
            },
            UserError::LastAdmin => ApiError::Conflict {
                code: "last_admin",
                detail: "C'est le dernier administrateur actif : il ne peut être ni désactivé \
                         ni changer de rôle. Nommez d'abord un autre administrateur."
                    .into(),
                field: None,
            },
            UserError::WrongPassword => ApiError::invalid(
                "wrong_password",
                "current_password",
                "Le mot de passe actuel est incorrect.",
            ),
            UserError::Locked(until) => ApiError::Locked {
                retry_after_secs: u64::try_from((until - chrono::Utc::now()).num_seconds())
                    .unwrap_or(1)
                    .max(1),
            },
            UserError::Password(PasswordError::Hash(e)) => ApiError::internal(e),
            UserError::Password(e) => ApiError::invalid("weak_password", "password", e.to_string()),
            UserError::Db(e) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// A password chosen by the administrator; without it one is generated and
    /// answered once, as `initial_password`.
    #[serde(default)]
    pub password: Option<String>,
}

/// A created user, with the generated password when none was given (shown once: it is
/// stored hashed only).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Created {
    #[serde(flatten)]
    pub user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_password: Option<String>,
}

/// Creates a user with the given password, or a generated one that is returned.
pub async fn create_user(
    state: &AppState,
    actor: &Actor,
    new: NewUser,
) -> Result<Created, ApiError> {
    let (password, generated) = match new.password {
        Some(chosen) => (chosen, false),
        None => (password::generate(), true),
    };
    let user = users::create(
        &state.pool,
        &actor.username,
        &new.username,
        &new.display_name,
        new.role,
        &password,
    )
    .await?;
    Ok(Created {
        user,
        initial_password: generated.then_some(password),
    })
}

/// An account and its history.
pub async fn account(state: &AppState, id: Uuid) -> Result<Account, ApiError> {
    Ok(users::account(&state.pool, id).await?)
}

/// Gives an account another role (revokes its tokens); whether anything changed.
pub async fn change_role(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    role: Role,
) -> Result<bool, ApiError> {
    let changed = users::change_role(&state.pool, &actor.username, id, role)
        .await
        .map_err(|e| match ApiError::from(e) {
            // The role is what the caller asked to change.
            ApiError::Conflict {
                code: "last_admin",
                detail,
                ..
            } => ApiError::Conflict {
                code: "last_admin",
                detail,
                field: Some("role"),
            },
            other => other,
        })?;
    state.auth.standing_cache.forget(id);
    Ok(changed)
}

/// Disables (revoking its tokens) or enables an account; whether anything changed.
pub async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    disabled: bool,
) -> Result<bool, ApiError> {
    let changed = users::set_disabled(&state.pool, &actor.username, id, disabled).await?;
    state.auth.standing_cache.forget(id);
    Ok(changed)
}

/// Gives an account a new generated password (unlocks it, revokes its tokens) and
/// returns it, to be shown once.
pub async fn reset_password(state: &AppState, actor: &Actor, id: Uuid) -> Result<String, ApiError> {
    let provisional = password::generate();
    users::reset_password(&state.pool, &actor.username, id, &provisional).await?;
    state.auth.standing_cache.forget(id);
    Ok(provisional)
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users::list(&state.pool).await?))
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ValidJson(body): ValidJson<NewUser>,
) -> Result<Response, ApiError> {
    let created = create_user(&state, &actor, body).await?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(created),
    )
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(account(&state, id).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

/// What a change answers: the account as it now is, and whether it changed (the same
/// role twice, or disabling a disabled account, changes and records nothing).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Changed {
    pub changed: bool,
    pub user: User,
}

async fn changed(state: &AppState, id: Uuid, changed: bool) -> Result<Json<Changed>, ApiError> {
    let user = account(state, id).await?.user;
    Ok(Json(Changed { changed, user }))
}

async fn role(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
    ValidJson(body): ValidJson<RoleChange>,
) -> Result<Json<Changed>, ApiError> {
    let done = change_role(&state, &actor, id, body.role).await?;
    changed(&state, id, done).await
}

async fn disable(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &actor, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &actor, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The generated password of a reset.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Provisional {
    /// Shown once: stored hashed only. The user should change it at once.
    pub password: String,
}

async fn reset(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId<Uuid>,
) -> Result<Response, ApiError> {
    let password = reset_password(&state, &actor, id).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(Provisional { password }),
    )
        .into_response())
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.query::<Vec<User>>(Method::GET, "/api/v1/admin/users", 200);
    doc.op::<NewUser, Created>(Method::POST, "/api/v1/admin/users", 201);
    doc.query::<Account>(Method::GET, "/api/v1/admin/users/{id}", 200);
    doc.op::<RoleChange, Changed>(Method::POST, "/api/v1/admin/users/{id}/role", 200);
    doc.bare(Method::POST, "/api/v1/admin/users/{id}/disable", 204);
    doc.bare(Method::POST, "/api/v1/admin/users/{id}/enable", 204);
    doc.query::<Provisional>(Method::POST, "/api/v1/admin/users/{id}/password", 200);
}
