//! Sales' queries, as `lae_sales_reader`: customers, a customer's contact card with
//! their sales profile and whether they have unpaid invoices, their offers and the
//! status of their contracts. The sales desk's pages call the same `pub` functions.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::NaiveDate;
use lae_projections::Department;
use serde::Serialize;
use uuid::Uuid;

use super::params::{self, NoParams};
use super::search::{self, ContactCard, CustomerPage, SearchParams, contact_columns};
use super::{List, conditional};
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::routes::PathId;
use crate::state::AppState;

const DEPARTMENT: Department = Department::Sales;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sales/customers", get(customers))
        .route("/sales/customers/search", post(search_customers))
        .route("/sales/customers/{id}", get(customer))
        .route("/sales/customers/{id}/offers", get(offers))
        .route("/sales/customers/{id}/contracts", get(contracts))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/sales/customers", true);
    doc.op::<SearchParams, CustomerPage>(Method::POST, "/api/v1/sales/customers/search", 200);
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

async fn search_customers(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<SearchParams>,
) -> Result<Response, ApiError> {
    search::search(&state, DEPARTMENT, &body, &headers).await
}

/// A customer as sales sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SalesCustomer")]
pub struct CustomerView {
    pub customer: ContactCard,
    /// `null` until a profile is set.
    pub profile: Option<Profile>,
    /// Whether an invoice of the customer is neither paid nor cancelled (sales sees
    /// no invoice number or amount).
    pub has_unpaid_invoices: bool,
}

/// The sales profile.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SalesCustomerProfile")]
pub struct Profile {
    pub age_band: Option<String>,
    pub profession: Option<String>,
    pub sex: Option<String>,
    pub version: i64,
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
    conditional::personal(&headers, &customer_view(&state, id).await?)
}

/// A customer as sales sees them (404 when sales' read model does not hold them).
pub async fn customer_view(state: &AppState, id: Uuid) -> Result<CustomerView, ApiError> {
    let row: CustomerRow = search::customer_row(state, DEPARTMENT, CUSTOMER_SQL, id).await?;
    Ok(CustomerView {
        customer: row.card,
        profile: row.profile_version.map(|version| Profile {
            age_band: row.age_band,
            profession: row.profession,
            sex: row.sex,
            version,
        }),
        has_unpaid_invoices: row.has_unpaid_invoices,
    })
}

/// An offer made to the customer (newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "SalesOffer")]
pub struct Offer {
    #[sqlx(rename = "offer_id")]
    pub id: Uuid,
    pub product: Option<String>,
    pub monthly_premium_cents: Option<i64>,
    /// `proposed`, `accepted`, `declined` or `withdrawn`.
    pub status: Option<String>,
    pub proposed_on: Option<NaiveDate>,
    pub decided_on: Option<NaiveDate>,
    pub reason: Option<String>,
    pub version: i64,
}

async fn offers(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items = customer_offers(&state, id).await?;
    conditional::personal(&headers, &List { items })
}

/// A customer's offers, newest first.
pub async fn customer_offers(state: &AppState, id: Uuid) -> Result<Vec<Offer>, ApiError> {
    search::customer_rows(
        state,
        DEPARTMENT,
        "SELECT offer_id, product, monthly_premium_cents, status, proposed_on, decided_on, \
        reason, version \
    FROM sales.offers WHERE customer_id = $1 \
    ORDER BY proposed_on DESC NULLS LAST, offer_id",
        id,
    )
    .await
}

/// A contract's status as sales sees it (newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "SalesContract")]
pub struct Contract {
    #[sqlx(rename = "contract_id")]
    pub id: Uuid,
    pub offer_id: Option<Uuid>,
    pub product: Option<String>,
    /// `requested`, `signed` or `terminated`.
    pub status: Option<String>,
    pub requested_on: Option<NaiveDate>,
    pub signed_on: Option<NaiveDate>,
    pub terminated_on: Option<NaiveDate>,
    pub version: i64,
}

async fn contracts(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items = customer_contracts(&state, id).await?;
    conditional::personal(&headers, &List { items })
}

/// The status of a customer's contracts, newest request first.
pub async fn customer_contracts(state: &AppState, id: Uuid) -> Result<Vec<Contract>, ApiError> {
    search::customer_rows(
        state,
        DEPARTMENT,
        "SELECT contract_id, offer_id, product, status, requested_on, signed_on, terminated_on, \
        version \
    FROM sales.contracts WHERE customer_id = $1 \
    ORDER BY requested_on DESC NULLS LAST, contract_id",
        id,
    )
    .await
}
