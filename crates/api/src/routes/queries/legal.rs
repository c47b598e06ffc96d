//! Legal's queries, as `lae_legal_reader`: customers, a customer's contact card (with
//! whether a health declaration is on file), their contracts, the queue of contracts
//! requested and not yet signed across customers, one contract with its customer, and
//! the health declaration itself, each read of which is written to the access log
//! first.
//!
//! The page handlers of the legal desk call the same `pub` functions.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
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
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::routes::PathId;
use crate::state::AppState;

const DEPARTMENT: Department = Department::Legal;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/legal/customers", get(customers))
        .route("/legal/customers/search", post(search_customers))
        .route("/legal/customers/{id}", get(customer))
        .route("/legal/customers/{id}/contracts", get(contracts))
        .route("/legal/customers/{id}/health-declaration", get(health))
        .route("/legal/contracts/requested", get(requested))
        .route("/legal/contracts/{id}", get(one_contract))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/legal/customers", true);
    doc.op::<SearchParams, CustomerPage>(Method::POST, "/api/v1/legal/customers/search", 200);
    doc.read::<NoParams, CustomerView>("/api/v1/legal/customers/{id}", true);
    doc.read::<NoParams, List<Contract>>("/api/v1/legal/customers/{id}/contracts", true);
    doc.read::<PurposeParams, HealthDeclaration>(
        "/api/v1/legal/customers/{id}/health-declaration",
        false,
    );
    doc.read::<RequestedParams, RequestedPage>("/api/v1/legal/contracts/requested", true);
    doc.read::<NoParams, ContractWithCustomer>("/api/v1/legal/contracts/{id}", true);
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

/// A customer as legal sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LegalCustomer")]
pub struct CustomerView {
    pub customer: ContactCard,
    /// Whether a health declaration is on file (read it through
    /// `/health-declaration`, which is logged).
    pub health_declaration: bool,
    /// Contracts of the customer, whatever their status.
    pub contracts: i64,
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
    conditional::personal(&headers, &customer_view(&state, id).await?)
}

/// A customer as legal sees them (404 when legal's read model does not hold them).
pub async fn customer_view(state: &AppState, id: Uuid) -> Result<CustomerView, ApiError> {
    let row: CustomerRow = search::customer_row(state, DEPARTMENT, CUSTOMER_SQL, id).await?;
    Ok(CustomerView {
        customer: row.card,
        health_declaration: row.health_declaration,
        contracts: row.contracts,
    })
}

/// A contract as legal holds it.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "LegalContract")]
pub struct Contract {
    #[sqlx(rename = "contract_id")]
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub offer_id: Option<Uuid>,
    pub product: Option<String>,
    pub monthly_premium_cents: Option<i64>,
    /// `requested`, `signed` or `terminated`.
    pub status: Option<String>,
    pub requested_on: Option<NaiveDate>,
    pub reference: Option<String>,
    pub signed_on: Option<NaiveDate>,
    /// The signed document's SHA-256: `GET /api/v1/contracts/documents/{sha256}`.
    pub document_sha256: Option<String>,
    pub document_name: Option<String>,
    pub document_size_bytes: Option<i64>,
    pub terminated_on: Option<NaiveDate>,
    pub termination_reason: Option<String>,
    pub version: i64,
}

/// The columns of [`Contract`], for `legal.contracts k`.
macro_rules! contract_columns {
    () => {
        "k.contract_id, k.customer_id, k.offer_id, k.product, k.monthly_premium_cents, \
         k.status, k.requested_on, k.reference, k.signed_on, k.document_sha256, \
         k.document_name, k.document_size_bytes, k.terminated_on, k.termination_reason, \
         k.version"
    };
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

/// A customer's contracts, newest request first.
pub async fn customer_contracts(state: &AppState, id: Uuid) -> Result<Vec<Contract>, ApiError> {
    search::customer_rows(
        state,
        DEPARTMENT,
        concat!(
            "SELECT ",
            contract_columns!(),
            " FROM legal.contracts k WHERE k.customer_id = $1 \
             ORDER BY k.requested_on DESC NULLS LAST, k.contract_id"
        ),
        id,
    )
    .await
}

/// A contract with whom it is for.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LegalContractWithCustomer")]
pub struct ContractWithCustomer {
    pub contract: Contract,
    /// `null` when legal's read model does not hold the customer (erased since).
    pub customer: Option<ContactCard>,
}

async fn one_contract(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    conditional::personal(&headers, &contract(&state, id).await?)
}

/// One contract and its customer's card; 404 when legal holds no such contract.
pub async fn contract(state: &AppState, id: Uuid) -> Result<ContractWithCustomer, ApiError> {
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let found: Option<Contract> = sqlx::query_as(concat!(
        "SELECT ",
        contract_columns!(),
        " FROM legal.contracts k WHERE k.contract_id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    conn.release();
    let Some(contract) = found else {
        return Err(ApiError::NotFound {
            code: "contract_not_found",
            detail: "Aucun contrat à cette adresse.".into(),
        });
    };
    let customer = match contract.customer_id {
        Some(customer_id) => {
            match search::customer_row::<ContactCard>(
                state,
                DEPARTMENT,
                concat!(
                    "SELECT ",
                    contact_columns!(),
                    " FROM legal.customers c WHERE c.customer_id = $1"
                ),
                customer_id,
            )
            .await
            {
                Ok(card) => Some(card),
                Err(ApiError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    Ok(ContractWithCustomer { contract, customer })
}

/// The query string of the queue of requested contracts.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedParams {
    /// Rows per page (50 unless given).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[schemars(length(max = 512))]
    pub cursor: Option<String>,
}

/// A contract requested and not yet signed, with whom it is for.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "LegalRequestedContract")]
pub struct RequestedContract {
    #[sqlx(rename = "contract_id")]
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub offer_id: Option<Uuid>,
    pub product: Option<String>,
    pub monthly_premium_cents: Option<i64>,
    pub requested_on: Option<NaiveDate>,
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub version: i64,
}

/// A page of the queue.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LegalRequestedPage")]
pub struct RequestedPage {
    pub items: Vec<RequestedContract>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Where a page of the queue starts: the previous page's last (requested_on, id).
#[derive(Debug, Serialize, Deserialize)]
struct RequestedAfter(Option<NaiveDate>, Uuid);

async fn requested(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: RequestedParams = params::parse(query.as_deref())?;
    conditional::personal(&headers, &requested_contracts(&state, &p).await?)
}

/// Contracts requested and not yet signed, across customers, oldest request first
/// (undated ones last), a page at a time (index `contracts_requested_queue`).
pub async fn requested_contracts(
    state: &AppState,
    p: &RequestedParams,
) -> Result<RequestedPage, ApiError> {
    let limit = params::limit(p.limit, search::DEFAULT_LIMIT, search::MAX_LIMIT)?;
    let scope = b"legal_requested_contracts";
    let key = &state.queries.cursor_key;
    let after: Option<RequestedAfter> = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) if cursor.len() > 512 => return Err(invalid_cursor()),
        Some(cursor) => Some(key.open(scope, cursor).map_err(|_| invalid_cursor())?),
    };
    const END: &str = "'infinity'::date";
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "SELECT k.contract_id, k.customer_id, k.offer_id, k.product, k.monthly_premium_cents, \
                k.requested_on, c.customer_number, c.last_name, c.first_name, k.version \
           FROM legal.contracts k \
           LEFT JOIN legal.customers c ON c.customer_id = k.customer_id \
          WHERE k.status = 'requested'",
    );
    if let Some(RequestedAfter(on, id)) = &after {
        sql.push(format!(
            " AND (coalesce(k.requested_on, {END}), k.contract_id) > (coalesce("
        ))
        .push_bind(*on)
        .push(format!(", {END}), "))
        .push_bind(*id)
        .push(")");
    }
    sql.push(format!(
        " ORDER BY coalesce(k.requested_on, {END}), k.contract_id LIMIT "
    ))
    .push_bind(i64::from(limit) + 1);
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let mut items: Vec<RequestedContract> = sql.build_query_as().fetch_all(&mut *conn).await?;
    conn.release();
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|k| key.seal(scope, &RequestedAfter(k.requested_on, k.id)))
            .transpose()
            .map_err(ApiError::internal)?
    } else {
        None
    };
    Ok(RequestedPage { items, next_cursor })
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_parameter(
        "invalid_cursor",
        "cursor",
        "Curseur de pagination invalide : reprenez la file depuis la première page.",
    )
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
pub struct HealthDeclaration {
    pub customer_id: Uuid,
    /// `non_smoker`, `smoker` or `unknown`.
    pub tobacco: Option<String>,
    /// `none`, `occasional`, `regular` or `unknown`.
    pub alcohol: Option<String>,
    #[sqlx(try_from = "Option<sqlx::types::Json<Vec<String>>>")]
    pub illnesses: Illnesses,
    pub declared_on: Option<NaiveDate>,
    pub version: i64,
}

/// The illnesses declared, as declared.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Illnesses(pub Vec<String>);

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
    let declaration = health_declaration(&state, &actor, request, id, p.purpose.as_deref()).await?;
    conditional::logged(&declaration)
}

/// The customer's health declaration, read for `purpose` (required, at most 200
/// characters): the read is written to the access log before the declaration is
/// returned. 404 when none is on file (nothing is logged then).
pub async fn health_declaration(
    state: &AppState,
    actor: &Actor,
    request: RequestId,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<HealthDeclaration, ApiError> {
    let purpose = params::purpose(purpose)?;
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
        search::require_customer(state, DEPARTMENT, id).await?;
        return Err(ApiError::NotFound {
            code: "health_declaration_not_found",
            detail: "Aucune déclaration de santé pour ce client.".into(),
        });
    };
    log_access(
        state,
        AccessEntry {
            user: actor.username.clone(),
            role: actor.role.as_str().into(),
            customer_id: id.to_string(),
            what: AccessKind::Health,
            purpose,
            request_id: Some(request.0.to_string()),
        },
    )
    .await?;
    Ok(declaration)
}
