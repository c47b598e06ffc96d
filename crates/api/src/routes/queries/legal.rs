//! Legal's queries, as `lae_legal_reader`: customers, a customer's contact card (with
//! whether a health declaration is on file), their contracts, and the health
//! declaration itself, each read of which is written to the access log first.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::NaiveDate;
use lae_audit::{AccessEntry, AccessKind};
use lae_projections::Department;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::params::{self, NoParams};
use super::search::{self, ContactCard, CustomerPage, SearchParams, contact_columns};
use super::{List, conditional, log_access};
use crate::auth::Actor;
use crate::extract::RequestId;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::routes::PathId;
use crate::state::AppState;

const DEPARTMENT: Department = Department::Legal;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/legal/customers", get(customers))
        .route("/legal/customers/{id}", get(customer))
        .route("/legal/customers/{id}/contracts", get(contracts))
        .route("/legal/customers/{id}/health-declaration", get(health))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/legal/customers", true);
    doc.read::<NoParams, CustomerView>("/api/v1/legal/customers/{id}", true);
    doc.read::<NoParams, List<Contract>>("/api/v1/legal/customers/{id}/contracts", true);
    doc.read::<PurposeParams, HealthDeclaration>(
        "/api/v1/legal/customers/{id}/health-declaration",
        false,
    );
}

async fn customers(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    search::list(&state, DEPARTMENT, query.as_deref(), &headers).await
}

/// A customer as legal sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LegalCustomer")]
struct CustomerView {
    customer: ContactCard,
    /// Whether a health declaration is on file (read it through
    /// `/health-declaration`, which is logged).
    health_declaration: bool,
    /// Contracts of the customer, whatever their status.
    contracts: i64,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    #[sqlx(flatten)]
    card: ContactCard,
    health_declaration: bool,
    contracts: i64,
}

const CUSTOMER_SQL: &str = concat!(
    "SELECT ",
    contact_columns!(),
    ", EXISTS (SELECT 1 FROM legal.health_declarations h WHERE h.customer_id = c.customer_id) \
         AS health_declaration, \
       (SELECT count(*) FROM legal.contracts k WHERE k.customer_id = c.customer_id) AS contracts \
     FROM legal.customers c WHERE c.customer_id = $1"
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
        health_declaration: row.health_declaration,
        contracts: row.contracts,
    };
    conditional::personal(&headers, &view)
}

/// A contract as legal holds it.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "LegalContract")]
struct Contract {
    #[sqlx(rename = "contract_id")]
    id: Uuid,
    offer_id: Option<Uuid>,
    product: Option<String>,
    monthly_premium_cents: Option<i64>,
    /// `requested`, `signed` or `terminated`.
    status: Option<String>,
    requested_on: Option<NaiveDate>,
    reference: Option<String>,
    signed_on: Option<NaiveDate>,
    /// The signed document's SHA-256: `GET /api/v1/contracts/documents/{sha256}`.
    document_sha256: Option<String>,
    document_name: Option<String>,
    document_size_bytes: Option<i64>,
    terminated_on: Option<NaiveDate>,
    termination_reason: Option<String>,
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
        "SELECT contract_id, offer_id, product, monthly_premium_cents, status, \
                requested_on, reference, signed_on, document_sha256, document_name, \
                document_size_bytes, terminated_on, termination_reason, version \
           FROM legal.contracts WHERE customer_id = $1 \
          ORDER BY requested_on DESC NULLS LAST, contract_id",
        id,
    )
    .await?;
    conditional::personal(&headers, &List { items })
}

/// The query string of a read written to the access log.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PurposeParams {
    /// Why the data is read, as written to the access log.
    #[schemars(required, length(min = 1, max = 200))]
    purpose: Option<String>,
}

/// The customer's latest health declaration.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "LegalHealthDeclaration")]
struct HealthDeclaration {
    customer_id: Uuid,
    /// `non_smoker`, `smoker` or `unknown`.
    tobacco: Option<String>,
    /// `none`, `occasional`, `regular` or `unknown`.
    alcohol: Option<String>,
    #[sqlx(try_from = "Option<sqlx::types::Json<Vec<String>>>")]
    illnesses: Illnesses,
    declared_on: Option<NaiveDate>,
    version: i64,
}

/// The illnesses declared, as declared.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
struct Illnesses(Vec<String>);

impl From<Option<sqlx::types::Json<Vec<String>>>> for Illnesses {
    fn from(value: Option<sqlx::types::Json<Vec<String>>>) -> Self {
        Self(value.map(|j| j.0).unwrap_or_default())
    }
}

/// Every successful read is written to the access log before the declaration is sent;
/// a read the log refuses is not answered.
async fn health(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p: PurposeParams = params::parse(query.as_deref())?;
    let purpose = params::purpose(p.purpose.as_deref())?;
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let declaration: Option<HealthDeclaration> = sqlx::query_as(
        "SELECT customer_id, tobacco, alcohol, illnesses, declared_on, version \
           FROM legal.health_declarations WHERE customer_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    conn.release();
    let Some(declaration) = declaration else {
        search::require_customer(&state, DEPARTMENT, id).await?;
        return Err(ApiError::NotFound {
            code: "health_declaration_not_found",
            detail: "Aucune déclaration de santé pour ce client.".into(),
        });
    };
    log_access(
        &state,
        AccessEntry {
            user: actor.username,
            role: actor.role.as_str().into(),
            customer_id: id.to_string(),
            what: AccessKind::Health,
            purpose,
            request_id: Some(request.0.to_string()),
        },
    )
    .await?;
    conditional::logged(&declaration)
}
