//! The sales desk (issue 15, part 2). Until its screens land, its landing is the
//! "coming soon" page.

use axum::Router;
use axum::routing::get;
use lae_api::AppState;

const HOME: &str = "/desk/sales";

/// The desk's navigation: (address, French label).
pub const NAV: &[(&str, &str)] = &[];

pub fn router() -> Router<AppState> {
    Router::new().route(HOME, get(super::home::soon))
}
