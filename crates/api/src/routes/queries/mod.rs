//! The departments' queries: each department reads its own read model, through its
//! own read-only database role, under `/api/v1/{department}/…`.
//!
//! | department       | routes                                                           |
//! | ---------------- | ---------------------------------------------------------------- |
//! | customer service | customers (search), a customer, their tickets                    |
//! | legal            | customers, a customer, their contracts, their health declaration, the queue of requested contracts, a contract |
//! | sales            | customers, a customer (profile), their offers, their contracts   |
//! | billing          | customers, a customer (mandate), their invoices, their mandate   |
//! | management       | the indicators                                                   |
//!
//! Each handler reads through `state.queries.readers.read(<its department>, …)`, on a
//! connection logged in as `lae_<dept>_reader`: a department's route cannot read another department's schema
//! even by mistake. Answers holding personal data are `Cache-Control: no-store` with an
//! `ETag` (see [`conditional`]); health declarations and unmasked IBANs are written to
//! the access log before they are answered, with the caller's `purpose`.

pub mod billing;
mod conditional;
pub mod customer_service;
pub mod inbox;
pub mod legal;
pub mod management;
pub(crate) mod params;
pub mod sales;
pub mod search;

use axum::Router;
use lae_audit::AccessEntry;
use serde::Serialize;

use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub use billing::mask_iban;
pub use customer_service::CUSTOMER_SQL;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(customer_service::router())
        .merge(legal::router())
        .merge(sales::router())
        .merge(billing::router())
        .merge(inbox::router())
        .merge(management::router())
}

pub(super) fn describe(doc: &mut ApiDoc) {
    customer_service::describe(doc);
    legal::describe(doc);
    sales::describe(doc);
    billing::describe(doc);
    inbox::describe(doc);
    management::describe(doc);
}

/// The items of a customer's sub-list (tickets, contracts, offers, invoices).
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct List<T> {
    items: Vec<T>,
}

/// Writes a read of health data or of an IBAN to the access log (as `lae_app`, which
/// may only append to it). Called before the data is answered: when the log cannot be
/// written, the caller gets a 500 and not the data.
async fn log_access(state: &AppState, entry: AccessEntry) -> Result<(), ApiError> {
    lae_audit::log_access(&state.pool, &entry)
        .await
        .map_err(ApiError::internal)
}
