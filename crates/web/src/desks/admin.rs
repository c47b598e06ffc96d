//! The user administration desk (admin only, no customer data): the users, a new
//! account with its initial password shown once, an account's card (role, state,
//! password reset, history), and, for every role, the page where a user changes
//! their own password.
//!
//! Every command goes through the use cases of the JSON routes
//! (`lae_api::routes::admin`, `lae_api::routes::auth::change_own_password`): the
//! last active administrator stays, every change is recorded with its author, and the
//! user's tokens are revoked, exactly as through the API.
//!
//! Generated passwords are shown in the answer to the form that created them, never
//! in an address or a redirect, and never again: they are stored hashed only.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use lae_api::AppState;
use lae_api::auth::password;
use lae_api::auth::users::{User, UserChange};
use lae_api::auth::{Role, session};
use lae_api::problem::ApiError;
use lae_api::routes::admin::{self as use_cases, NewUser};
use lae_api::routes::auth::change_own_password;
use uuid::Uuid;

use super::lookup::{self, path_id};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

const HOME: &str = "/desk/admin";
/// The page where every user changes their own password.
pub const PASSWORD: &str = "/desk/password";

/// The desk's navigation: (address, French label).
pub const NAV: &[(&str, &str)] = &[(HOME, "Utilisateurs")];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(home))
        .route("/desk/admin/users", post(create))
        .route("/desk/admin/users/{id}", get(card))
        .route("/desk/admin/users/{id}/role", post(role))
        .route("/desk/admin/users/{id}/disable", post(disable))
        .route("/desk/admin/users/{id}/enable", post(enable))
        .route("/desk/admin/users/{id}/password", post(reset))
        .route(PASSWORD, get(password_page).post(change_password))
}

/// The roles as the selects offer them: (code, French label).
fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .into_iter()
        .map(|r| (r.as_str(), format::role(r)))
        .collect()
}

/// A role's French label from its code (the stored text).
fn role_label(code: &str) -> &'static str {
    code.parse::<Role>().map_or("Rôle inconnu", format::role)
}

// ---------------------------------------------------------------------------------
// The users and the creation form

#[derive(Debug)]
struct UserLine {
    id: Uuid,
    name: String,
    username: String,
    role: &'static str,
    disabled: bool,
    locked: bool,
    last_change: String,
}

impl UserLine {
    fn of(u: &User) -> Self {
        Self {
            id: u.user_id,
            name: u.display_name.clone(),
            username: u.username.clone(),
            role: format::role(u.role.0),
            disabled: u.disabled,
            locked: u.locked_until.is_some_and(|t| t > Utc::now()),
            last_change: format::maybe_date_time(u.last_change_at),
        }
    }
}

/// The creation form's values (as typed, on a refusal).
#[derive(Debug, Default)]
struct NewForm {
    username: String,
    display_name: String,
    role: String,
}

/// A just created account, with its initial password, shown once.
#[derive(Debug)]
struct Created {
    id: Uuid,
    name: String,
    username: String,
    role: &'static str,
    password: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    layout: Layout,
    form_token: String,
    users: Vec<UserLine>,
    active: usize,
    form: NewForm,
    errors: FieldErrors,
    created: Option<Created>,
    roles: Vec<(&'static str, &'static str)>,
}

async fn users_page(
    state: &AppState,
    user: &PageUser,
    form: NewForm,
    errors: FieldErrors,
    created: Option<Created>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let users: Vec<UserLine> = lae_api::auth::users::list(&state.pool)
        .await?
        .iter()
        .map(UserLine::of)
        .collect();
    let active = users.iter().filter(|u| !u.disabled).count();
    render(
        status,
        &UsersPage {
            layout: Layout::desk("Utilisateurs", user, HOME),
            form_token: user.form_token.clone(),
            users,
            active,
            form,
            errors,
            created,
            roles: roles(),
        },
    )
}

/// `GET /desk/admin`.
async fn home(State(state): State<AppState>, user: PageUser) -> Result<Response, ApiError> {
    users_page(
        &state,
        &user,
        NewForm::default(),
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /desk/admin/users`: creates the account with a generated password, shown in
/// this answer only.
async fn create(
    State(state): State<AppState>,
    user: PageUser,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let typed = NewForm {
        username: form.get("username").to_owned(),
        display_name: form.get("display_name").to_owned(),
        role: form.get("role").to_owned(),
    };
    let mut errors = FieldErrors::default();
    // The same rule as the API's (`users::normalise_username`), said in French here.
    let username = if form.optional("username").is_none() {
        errors.add("username", "Saisissez l'identifiant de connexion.");
        None
    } else if let Ok(name) = lae_api::auth::users::normalise_username(form.get("username")) {
        Some(name)
    } else {
        errors.add(
            "username",
            "Identifiant invalide : 2 à 64 caractères parmi a-z, 0-9, point, tiret et tiret bas, en commençant par une lettre ou un chiffre (exemple : camille.dupont).",
        );
        None
    };
    if form.optional("display_name").is_none() {
        errors.add(
            "display_name",
            "Saisissez le nom de la personne, tel qu'il sera affiché.",
        );
    }
    let role = match form.get("role").parse::<Role>() {
        Ok(role) => Some(role),
        Err(_) => {
            errors.add("role", "Choisissez un rôle dans la liste.");
            None
        }
    };
    let (Some(username), Some(role), true) = (username, role, errors.is_empty()) else {
        return users_page(
            &state,
            &user,
            typed,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let new = NewUser {
        username,
        display_name: form.get("display_name").to_owned(),
        role,
        password: None,
    };
    match use_cases::create_user(&state, &user.actor, new).await {
        Ok(created) => {
            let shown = Created {
                id: created.user.user_id,
                name: created.user.display_name.clone(),
                username: created.user.username.clone(),
                role: format::role(created.user.role.0),
                password: created.initial_password.unwrap_or_default(),
            };
            users_page(
                &state,
                &user,
                NewForm::default(),
                FieldErrors::default(),
                Some(shown),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => match FieldErrors::from_refusal(&e, "username") {
            Some(errors) => {
                let status = refusal_status(&e);
                users_page(&state, &user, typed, errors, None, status).await
            }
            None => Err(e),
        },
    }
}

fn refusal_status(e: &ApiError) -> StatusCode {
    match e {
        ApiError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

// ---------------------------------------------------------------------------------
// An account's card

#[derive(Debug)]
struct HistoryLine {
    at: String,
    what: &'static str,
    detail: String,
    actor: String,
}

impl HistoryLine {
    fn of(c: &UserChange) -> Self {
        let detail = match (&c.old_role, &c.new_role) {
            (Some(old), Some(new)) => format!("{} → {}", role_label(old), role_label(new)),
            _ => String::new(),
        };
        Self {
            at: format::date_time(c.at),
            what: change_label(&c.change),
            detail,
            actor: actor_label(&c.actor),
        }
    }
}

fn change_label(code: &str) -> &'static str {
    match code {
        "created" => "Création du compte",
        "role_changed" => "Changement de rôle",
        "disabled" => "Désactivation",
        "enabled" => "Réactivation",
        "password_reset" => "Mot de passe réinitialisé",
        "password_changed" => "Mot de passe changé par l'utilisateur",
        "locked" => "Verrouillage après des échecs de connexion",
        _ => "Modification",
    }
}

/// Who made a change, as an administrator reads it.
fn actor_label(actor: &str) -> String {
    match actor {
        "login" => "la plateforme (connexion)".to_owned(),
        "bootstrap" => "la plateforme (premier démarrage)".to_owned(),
        other => match other.strip_prefix("cli:") {
            Some(who) => format!("{who} (ligne de commande)"),
            None => other.to_owned(),
        },
    }
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct AccountPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    id: Uuid,
    name: String,
    username: String,
    role: String,
    role_label: &'static str,
    disabled: bool,
    locked_until: Option<String>,
    created: String,
    is_self: bool,
    history: Vec<HistoryLine>,
    errors: FieldErrors,
    provisional: Option<String>,
    roles: Vec<(&'static str, &'static str)>,
}

#[derive(Default)]
struct CardState {
    notice: Option<String>,
    errors: FieldErrors,
    provisional: Option<String>,
    /// The role chosen in a refused change, kept in the select.
    role: Option<String>,
}

async fn card_page(
    state: &AppState,
    user: &PageUser,
    id: Uuid,
    page: CardState,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let account = use_cases::account(state, id).await?;
    let u = account.user;
    render(
        status,
        &AccountPage {
            layout: Layout::desk(u.display_name.clone(), user, ""),
            form_token: user.form_token.clone(),
            notice: page.notice,
            id,
            role: page.role.unwrap_or_else(|| u.role.0.as_str().to_owned()),
            role_label: format::role(u.role.0),
            disabled: u.disabled,
            locked_until: u
                .locked_until
                .filter(|t| *t > Utc::now())
                .map(format::date_time),
            created: format::date_time(u.created_at),
            is_self: u.user_id == user.actor.user_id,
            history: account.history.iter().map(HistoryLine::of).collect(),
            errors: page.errors,
            provisional: page.provisional,
            roles: roles(),
            name: u.display_name,
            username: u.username,
        },
    )
}

fn card_url(id: Uuid) -> String {
    format!("{HOME}/users/{id}")
}

fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    path_id(raw, "user_not_found", "compte")
}

/// `GET /desk/admin/users/{id}`.
async fn card(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[
            (
                "role",
                "Rôle changé : ses sessions sont fermées, il se reconnecte avec son nouveau rôle.",
            ),
            (
                "same",
                "Aucun changement : le compte était déjà dans cet état.",
            ),
            (
                "disabled",
                "Compte désactivé : ses sessions sont fermées et il ne peut plus se connecter.",
            ),
            (
                "enabled",
                "Compte réactivé : il peut de nouveau se connecter.",
            ),
        ],
    );
    let page = CardState {
        notice,
        ..CardState::default()
    };
    card_page(&state, &user, id, page, StatusCode::OK).await
}

/// What a role or state change answers: back to the card, or the card with the
/// refusal beside the form that asked (`field`).
async fn after_change(
    state: &AppState,
    user: &PageUser,
    id: Uuid,
    result: Result<bool, ApiError>,
    done: &str,
    field: &str,
    role: Option<String>,
) -> Result<Response, ApiError> {
    match result {
        Ok(true) => Ok(see_other(&format!("{}?ok={done}", card_url(id)))),
        Ok(false) => Ok(see_other(&format!("{}?ok=same", card_url(id)))),
        Err(e) => {
            let status = refusal_status(&e);
            let Some(errors) = FieldErrors::from_refusal(&e, field) else {
                return Err(e);
            };
            let page = CardState {
                errors,
                role,
                ..CardState::default()
            };
            card_page(state, user, id, page, status).await
        }
    }
}

/// `POST /desk/admin/users/{id}/role`.
async fn role(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    user.check_form(&state, &form)?;
    let chosen = form.get("role").to_owned();
    let result = match chosen.parse::<Role>() {
        Ok(role) => use_cases::change_role(&state, &user.actor, id, role).await,
        Err(_) => Err(ApiError::invalid(
            "invalid_role",
            "role",
            "Choisissez un rôle dans la liste.",
        )),
    };
    after_change(&state, &user, id, result, "role", "role", Some(chosen)).await
}

/// `POST /desk/admin/users/{id}/disable`.
async fn disable(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    user.check_form(&state, &form)?;
    let result = use_cases::set_disabled(&state, &user.actor, id, true).await;
    after_change(&state, &user, id, result, "disabled", "state", None).await
}

/// `POST /desk/admin/users/{id}/enable`.
async fn enable(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    user.check_form(&state, &form)?;
    let result = use_cases::set_disabled(&state, &user.actor, id, false).await;
    after_change(&state, &user, id, result, "enabled", "state", None).await
}

/// `POST /desk/admin/users/{id}/password`: a new generated password, shown in this
/// answer only.
async fn reset(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    user.check_form(&state, &form)?;
    let provisional = use_cases::reset_password(&state, &user.actor, id).await?;
    let page = CardState {
        provisional: Some(provisional),
        ..CardState::default()
    };
    card_page(&state, &user, id, page, StatusCode::OK).await
}

// ---------------------------------------------------------------------------------
// One's own password (every role)

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    errors: FieldErrors,
    min_length: usize,
    min_distinct: usize,
}

fn password_form(
    user: &PageUser,
    notice: Option<String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, ApiError> {
    render(
        status,
        &PasswordPage {
            layout: Layout::desk("Mon mot de passe", user, PASSWORD),
            form_token: user.form_token.clone(),
            notice,
            errors,
            min_length: password::MIN_LENGTH,
            min_distinct: password::MIN_DISTINCT,
        },
    )
}

/// `GET /desk/password`.
async fn password_page(user: PageUser, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[(
            "changed",
            "Mot de passe changé. Vos autres sessions sont fermées ; celle-ci continue.",
        )],
    );
    password_form(&user, notice, FieldErrors::default(), StatusCode::OK)
}

/// `POST /desk/password`: the same change as `POST /api/v1/auth/password`; the
/// session continues under a new token (the others end). Passwords are never sent
/// back into the form.
async fn change_password(
    State(state): State<AppState>,
    user: PageUser,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let mut errors = FieldErrors::default();
    let (current, new, confirmation) = (
        form.get("current_password"),
        form.get("new_password"),
        form.get("confirmation"),
    );
    if current.is_empty() {
        errors.add("current_password", "Saisissez votre mot de passe actuel.");
    }
    if new.is_empty() {
        errors.add("new_password", "Choisissez un nouveau mot de passe.");
    } else {
        errors.check(
            "new_password",
            password::check_strength(new, &user.actor.username),
        );
    }
    if !new.is_empty() && confirmation != new {
        errors.add(
            "confirmation",
            "La confirmation ne correspond pas au nouveau mot de passe : saisissez-le deux fois à l'identique.",
        );
    }
    if !errors.is_empty() {
        return password_form(&user, None, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    match change_own_password(&state, &user.actor, current.to_owned(), new.to_owned()).await {
        Ok(signed_in) => {
            let mut response = see_other(&format!("{PASSWORD}?ok=changed"));
            let cookie = HeaderValue::from_str(&session::session_cookie(&signed_in.token))
                .map_err(ApiError::internal)?;
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(ApiError::Locked { retry_after_secs }) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "current_password",
                format!("Trop d'essais infructueux : réessayez dans {retry_after_secs} s."),
            );
            password_form(&user, None, errors, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(e) => match FieldErrors::from_refusal(&e, "new_password") {
            Some(errors) => password_form(&user, None, errors, refusal_status(&e)),
            None => Err(e),
        },
    }
}
