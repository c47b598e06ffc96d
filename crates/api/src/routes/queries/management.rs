//! Management's figures, as `lae_management_reader`: counts and rates, no customer.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use lae_projections::{Department, Kpis};
use serde::Serialize;

use super::conditional;
use super::params::{self, NoParams};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/management/kpis", get(kpis))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<NoParams, KpisView>("/api/v1/management/kpis", true);
}

/// The management indicators (see `lae_projections::Kpis`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ManagementKpis")]
struct KpisView {
    /// Customers registered.
    customers: i64,
    /// Offers proposed.
    offers_proposed: i64,
    /// Offers accepted.
    offers_accepted: i64,
    /// Accepted ÷ decided (accepted, declined or withdrawn) offers; `null` until one is decided.
    offer_acceptance_rate: Option<f64>,
    /// Contracts signed and not terminated.
    contracts_in_force: i64,
    /// Invoices issued.
    invoices_issued: i64,
    /// Invoices neither paid nor cancelled.
    invoices_unpaid: i64,
    /// Rejected payments ÷ invoices issued; `null` until one is issued.
    payment_rejection_rate: Option<f64>,
    /// Tickets opened and not resolved.
    tickets_open: i64,
}

impl From<Kpis> for KpisView {
    fn from(k: Kpis) -> Self {
        Self {
            customers: k.customers,
            offers_proposed: k.offers_proposed,
            offers_accepted: k.offers_accepted,
            offer_acceptance_rate: k.offer_acceptance_rate,
            contracts_in_force: k.contracts_in_force,
            invoices_issued: k.invoices_issued,
            invoices_unpaid: k.invoices_unpaid,
            payment_rejection_rate: k.payment_rejection_rate,
            tickets_open: k.tickets_open,
        }
    }
}

async fn kpis(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let mut conn = state
        .queries
        .readers
        .acquire(Department::Management)
        .await?;
    let figures = lae_projections::kpis(&mut conn).await?;
    conn.release();
    conditional::figures(&headers, &KpisView::from(figures))
}
