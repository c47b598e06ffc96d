//! The desks: the routes of every page, the layout they share, the login and the
//! landing of each role.

pub mod admin;
pub mod billing;
mod billing_requests;
pub mod customer_service;
mod home;
mod identification;
mod inbox;
pub mod legal;
mod lookup;
pub mod management;
pub mod sales;

pub use home::login_required;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use lae_api::AppState;
use lae_api::auth::Role;
use lae_api::problem::ApiError;

use crate::session::PageUser;

/// Every page route (each has its `page` rule in `lae_api::auth::rules::RULES`).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::root))
        .route("/login", get(home::login_page).post(home::login))
        .route("/logout", post(home::logout))
        .route("/assets/{file}", get(crate::assets::serve))
        .route("/desk", get(home::desk))
        .route("/desk/audit", get(home::soon))
        .merge(customer_service::router())
        .merge(identification::router())
        .merge(legal::router())
        .merge(sales::router())
        .merge(billing::router())
        .merge(billing_requests::router())
        .merge(inbox::router(lae_projections::Department::Legal))
        .merge(inbox::router(lae_projections::Department::Sales))
        .merge(inbox::router(lae_projections::Department::Billing))
        .merge(admin::router())
        .merge(management::router())
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::session::page_layer,
        ))
}

/// What the top bar of a page shows.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub desk: &'static str,
    pub user: Option<UserBar>,
    pub nav: Vec<NavLink>,
}

/// The signed-in user, in the top bar.
#[derive(Debug, Clone)]
pub struct UserBar {
    pub name: String,
    pub role: &'static str,
    pub form_token: String,
    /// The page is the user's own password page (linked from every desk's bar).
    pub on_password_page: bool,
}

/// One entry of a desk's navigation.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

impl Layout {
    /// A page outside any desk (login, refusals).
    pub fn bare(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            desk: "Plateforme",
            user: None,
            nav: Vec::new(),
        }
    }

    /// A page of the user's desk, `current` being the navigation entry it is.
    pub fn desk(title: impl Into<String>, user: &PageUser, current: &str) -> Self {
        let nav = nav_of(user.role())
            .iter()
            .map(|&(href, label)| NavLink {
                href,
                label,
                current: href == current,
            })
            .collect();
        Self {
            title: title.into(),
            desk: crate::format::role(user.role()),
            user: Some(UserBar {
                name: user.actor.username.clone(),
                role: crate::format::role(user.role()),
                form_token: user.form_token.clone(),
                on_password_page: current == admin::PASSWORD,
            }),
            nav,
        }
    }
}

/// The navigation of each role's desk.
fn nav_of(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::CustomerService => &[
            ("/desk/customer-service", "Recherche"),
            ("/desk/customer-service/tickets", "Tickets ouverts"),
            ("/desk/customer-service/customers/new", "Nouveau client"),
        ],
        Role::Legal => legal::NAV,
        Role::Sales => sales::NAV,
        Role::Billing => billing::NAV,
        Role::Admin => admin::NAV,
        Role::Management => management::NAV,
        Role::Auditor => &[],
    }
}

/// Where each role's desk is.
pub fn desk_of(role: Role) -> &'static str {
    match role {
        Role::CustomerService => "/desk/customer-service",
        Role::Legal => "/desk/legal",
        Role::Sales => "/desk/sales",
        Role::Billing => "/desk/billing",
        Role::Management => "/desk/management",
        Role::Admin => "/desk/admin",
        Role::Auditor => "/desk/audit",
    }
}

/// Renders a template as a page with `status`.
pub fn render(status: StatusCode, page: &impl Template) -> Result<Response, ApiError> {
    let html = page.render().map_err(ApiError::internal)?;
    Ok((status, Html(html)).into_response())
}

/// 303 See Other to `location` (after a form post: reloading does not resend it).
pub fn see_other(location: &str) -> Response {
    axum::response::Redirect::to(location).into_response()
}
