//! The LAE desks: French, server-rendered pages over the same department read models
//! and the same commands as the JSON API (`lae-api`), served by the same binary.
//!
//! # How a page is served
//! [`app`] composes the API's router with the desks' routes
//! ([`lae_api::routes::compose`]): one rules table (`lae_api::auth::rules::RULES`, whose
//! `page` rules name every route here), one authorization middleware, one session
//! cookie. A page handler then
//! - reads with the department's reader role through the query functions the JSON
//!   routes use (`lae_api::routes::queries::…`): no second SQL for the same data;
//! - sends commands through the same executors and use cases
//!   (`lae_api::routes::{customers, tickets}`): the domain decides, as for the API;
//!   user administration calls the account use cases of `lae_api::routes::admin` and
//!   `lae_api::routes::auth::change_own_password`, which hold the store's rules;
//! - renders an askama template (`templates/`, escaped by default).
//!
//! # Layout
//! - [`session`]: the signed-in user of a page, sliding renewal, anti-forgery tokens.
//! - [`forms`]: form bodies, French messages per field, the input kept on refusal.
//! - [`format`]: dates, amounts and phone numbers as a French reader expects them.
//! - [`assets`]: CSS, scripts (htmx, vendored) embedded in the binary.
//! - [`refusals`]: French pages for 401, 403, 404 and 5xx instead of JSON problems.
//! - [`desks`]: one module per desk.
//!
//! Every page carries a strict Content-Security-Policy ([`PAGE_CSP`]): scripts and
//! styles from this origin only, no inline script, no `unsafe-inline`, no framing.

pub mod assets;
pub mod desks;
pub mod format;
pub mod forms;
pub mod refusals;
pub mod session;

use axum::Router;
use lae_api::AppState;

/// The policy of every page: nothing but this origin's own files, no inline script
/// or style, no plugin, no framing, forms post here only.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The headers of every page, refusals included: the pages' policy, no MIME sniffing,
/// and no caching of personal data unless the answer says otherwise. The
/// `Referrer-Policy` (`no-referrer`) is set for every answer, pages included, by the
/// one layer of [`lae_api::routes::compose`]; the forms' origin check accepts the
/// `Origin: null` a browser sends under that policy only with `Sec-Fetch-Site:
/// same-origin` ([`session::same_origin`]).
pub fn page_headers(headers: &mut axum::http::HeaderMap) {
    use axum::http::{HeaderValue, header};
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The API and the desks, as `lae serve` runs them.
pub fn app(state: AppState) -> Router {
    lae_api::routes::compose(state.clone(), desks::router(state), |routes| {
        routes.layer(axum::middleware::from_fn(refusals::as_pages))
    })
}
