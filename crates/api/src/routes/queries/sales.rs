//! Sales' queries, as `lae_sales_reader`: customers, a customer's contact card with
//! their sales profile and whether they have unpaid invoices, their offers and the
//! status of their contracts.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::NaiveDate;
use lae_projections::Department;
use serde::Serialize;
use uuid::Uuid;

use super::params::{self, NoParams};
use super::search::{self, ContactCard, CustomerPage, SearchParams, contact_columns};
use super::{List, conditional};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::routes::PathId;
use crate::state::AppState;

const DEPARTMENT: Department = Department::Sales;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sales/customers", get(customers))
        .route("/sales/customers/{id}", get(customer))
        .route("/sales/customers/{id}/offers", get(offers))
        .route("/sales/customers/{id}/contracts", get(contracts))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/sales/customers", true);
    doc.read::<NoParams, CustomerView>("/api/v1/sales/customers/{id}", true);
    doc.read::<NoParams, List<Offer>>("/api/v1/sales/customers/{id}/offers", true);
    doc.read::<NoParams, List<Contract>>("/api/v1/sales/customers/{id}/contracts", true);
}

async fn customers(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    search::list(&state, DEPARTMENT, query.as_deref(), &headers).await
}

/// A customer as sales sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SalesCustomer")]
struct CustomerView {
    customer: ContactCard,
    /// `null` until a profile is set.
    profile: Option<Profile>,
    /// Whether an invoice of the customer is neither paid nor cancelled (sales sees
    /// no invoice number or amount).
    has_unpaid_invoices: bool,
}

/// The sales profile.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SalesCustomerProfile")]
struct Profile {
    age_band: Option<String>,
    profession: Option<String>,
    sex: Option<String>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    #[sqlx(flatten)]
    card: ContactCard,
    age_band: Option<String>,
    profession: Option<String>,
    sex: Option<String>,
    profile_version: Option<i64>,
    has_unpaid_invoices: bool,
}

const CUSTOMER_SQL: &str = concat!(
    "SELECT ",
    contact_columns!(),
    ", p.age_band, p.profession, p.sex, p.version AS profile_version, \
       EXISTS (SELECT 1 FROM sales.invoice_flags f \
                WHERE f.customer_id = c.customer_id AND f.unpaid) AS has_unpaid_invoices \
     FROM sales.customers c LEFT JOIN sales.profiles p ON p.customer_id = c.customer_id \
     WHERE c.customer_id = $1"
);

async fn customer(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let row: CustomerRow = search::customer_row(&state, DEPARTMENT, CUSTOMER_SQL, id).await?;
    let view = CustomerView {
        customer: row.card,
        profile: row.profile_version.map(|version| Profile {
            age_band: row.age_band,
            profession: row.profession,
            sex: row.sex,
            version,
        }),
        has_unpaid_invoices: row.has_unpaid_invoices,
    };
    conditional::personal(&headers, &view)
}

/// An offer made to the customer (newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "SalesOffer")]
struct Offer {
    #[sqlx(rename = "offer_id")]
    id: Uuid,
    product: Option<String>,
    monthly_premium_cents: Option<i64>,
    /// `proposed`, `accepted`, `declined` or `withdrawn`.
    status: Option<String>,
    proposed_on: Option<NaiveDate>,
    decided_on: Option<NaiveDate>,
    reason: Option<String>,
    version: i64,
}

async fn offers(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items: Vec<Offer> = search::customer_rows(
        &state,
        DEPARTMENT,
        "SELECT offer_id, product, monthly_premium_cents, status, proposed_on, decided_on, \
        reason, version \
    FROM sales.offers WHERE customer_id = $1 \
    ORDER BY proposed_on DESC NULLS LAST, offer_id",
        id,
    )
    .await?;
    conditional::personal(&headers, &List { items })
}

/// A contract's status as sales sees it (newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "SalesContract")]
struct Contract {
    #[sqlx(rename = "contract_id")]
    id: Uuid,
    offer_id: Option<Uuid>,
    product: Option<String>,
    /// `requested`, `signed` or `terminated`.
    status: Option<String>,
    requested_on: Option<NaiveDate>,
    signed_on: Option<NaiveDate>,
    terminated_on: Option<NaiveDate>,
    version: i64,
}

async fn contracts(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items: Vec<Contract> = search::customer_rows(
        &state,
        DEPARTMENT,
        "SELECT contract_id, offer_id, product, status, requested_on, signed_on, terminated_on, \
        version \
    FROM sales.contracts WHERE customer_id = $1 \
    ORDER BY requested_on DESC NULLS LAST, contract_id",
        id,
    )
    .await?;
    conditional::personal(&headers, &List { items })
}
