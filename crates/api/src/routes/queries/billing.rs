//! Billing's queries, as `lae_billing_reader`: customers, a customer's contact card with
//! their mandate, their invoices with what happened on them, their contracts, the
//! mandate with its history, and three cross-customer lists (see [`lists`]).
//!
//! IBANs are masked (`FR76 **** **** **** **** ***0 189`: country, check digits and
//! the last four characters) unless the caller asks `reveal=iban` and states a
//! `purpose`; such a read is written to the access log before it is answered.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use lae_audit::{AccessEntry, AccessKind};
use lae_domain::Iban;
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

pub use lists::{
    ContractPage, InvoicePage, List as BillingList, ListParams, ListedContract, ListedInvoice,
    Order, Page, contract_page, invoice_page, list_page,
};
use lists::{rejected, uninvoiced, unpaid};

mod lists;

const DEPARTMENT: Department = Department::Billing;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/billing/customers", get(customers))
        .route("/billing/customers/search", post(search_customers))
        .route("/billing/customers/{id}", get(customer))
        .route("/billing/customers/{id}/invoices", get(invoices))
        .route("/billing/customers/{id}/mandate", get(mandate))
        .route("/billing/customers/{id}/contracts", get(contracts))
        .route("/billing/invoices/unpaid", get(unpaid))
        .route("/billing/invoices/rejected", get(rejected))
        .route("/billing/contracts/uninvoiced", get(uninvoiced))
        .route("/billing/invoice-requests", get(invoice_requests))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/billing/customers", true);
    doc.op::<SearchParams, CustomerPage>(Method::POST, "/api/v1/billing/customers/search", 200);
    doc.read::<NoParams, CustomerView>("/api/v1/billing/customers/{id}", true);
    doc.read::<NoParams, List<Invoice>>("/api/v1/billing/customers/{id}/invoices", true);
    // Masked answers carry an ETag; revealed ones do not (see `conditional`).
    doc.read::<MandateParams, MandateWithHistory>("/api/v1/billing/customers/{id}/mandate", true);
    doc.read::<NoParams, List<Contract>>("/api/v1/billing/customers/{id}/contracts", true);
    doc.read::<ListParams, InvoicePage>("/api/v1/billing/invoices/unpaid", true);
    doc.read::<ListParams, InvoicePage>("/api/v1/billing/invoices/rejected", true);
    doc.read::<ListParams, ContractPage>("/api/v1/billing/contracts/uninvoiced", true);
    doc.read::<NoParams, List<PendingInvoiceRequest>>("/api/v1/billing/invoice-requests", true);
}

/// An invoice sales requested and billing has not decided on yet.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct PendingInvoiceRequest {
    /// The requested invoice's id (`…/invoice-requests/{id}/issue`, `/refuse`).
    #[sqlx(rename = "invoice_id")]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub contract_id: Option<Uuid>,
    pub amount_cents: i64,
    pub label: String,
    pub requested_on: NaiveDate,
    pub requested_at: DateTime<Utc>,
    /// The request's version, for `If-Match`.
    pub version: i64,
}

/// At most this many pending requests are listed (oldest first): a queue, not an
/// archive.
pub const PENDING_REQUESTS_LIMIT: i64 = 500;

/// The invoice requests awaiting billing's decision, oldest request first.
pub async fn pending_invoice_requests(
    state: &AppState,
) -> Result<Vec<PendingInvoiceRequest>, ApiError> {
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let items = sqlx::query_as(
        "SELECT r.invoice_id, r.customer_id, c.customer_number, c.last_name, c.first_name, \
                r.contract_id, r.amount_cents, r.label, r.requested_on, r.requested_at, r.version \
           FROM billing.invoice_requests r \
           LEFT JOIN billing.customers c ON c.customer_id = r.customer_id \
          WHERE r.status = 'pending' \
          ORDER BY r.requested_at, r.invoice_id LIMIT $1",
    )
    .bind(PENDING_REQUESTS_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    Ok(items)
}

async fn invoice_requests(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items = pending_invoice_requests(&state).await?;
    conditional::personal(&headers, &List { items })
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

/// An IBAN as shown unless revealed: country, check digits and last four characters.
pub fn mask_iban(iban: &str) -> String {
    if let Ok(parsed) = Iban::parse(iban) {
        return parsed.masked();
    }
    // A value the domain would not accept (it never should be stored): masked the same
    // way, never shown as is.
    let electronic: Vec<char> = iban.chars().filter(|c| !c.is_whitespace()).collect();
    let len = electronic.len();
    let mut masked = String::with_capacity(len + len / 4);
    for (i, c) in electronic.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            masked.push(' ');
        }
        masked.push(if i < 4 || i + 4 >= len { *c } else { '*' });
    }
    masked
}

/// The mandate, its IBAN masked or in full.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingMandate")]
pub struct Mandate {
    /// `active` or `revoked`.
    pub status: Option<String>,
    /// Masked unless revealed (`FR76 **** **** **** **** ***0 189`).
    pub iban: Option<String>,
    /// Whether `iban` (and the history's IBANs) are shown in full.
    #[sqlx(default)]
    pub iban_revealed: bool,
    pub mandate_reference: Option<String>,
    pub signed_on: Option<NaiveDate>,
    pub amended_on: Option<NaiveDate>,
    pub revoked_on: Option<NaiveDate>,
    pub revocation_reason: Option<String>,
    pub version: i64,
}

impl Mandate {
    fn mask(mut self) -> Self {
        self.iban = self.iban.as_deref().map(mask_iban);
        self.iban_revealed = false;
        self
    }
}

/// A customer as billing sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BillingCustomer")]
pub struct CustomerView {
    pub customer: ContactCard,
    /// `null` until a mandate is signed; its IBAN masked.
    pub mandate: Option<Mandate>,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    #[sqlx(flatten)]
    card: ContactCard,
    mandate_status: Option<String>,
    iban: Option<String>,
    mandate_reference: Option<String>,
    signed_on: Option<NaiveDate>,
    amended_on: Option<NaiveDate>,
    revoked_on: Option<NaiveDate>,
    revocation_reason: Option<String>,
    mandate_version: Option<i64>,
}

const CUSTOMER_SQL: &str = concat!(
    "SELECT ",
    contact_columns!(),
    ", m.status AS mandate_status, m.iban, m.mandate_reference, m.signed_on, m.amended_on, \
       m.revoked_on, m.revocation_reason, m.version AS mandate_version \
     FROM billing.customers c LEFT JOIN billing.mandates m ON m.customer_id = c.customer_id \
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

/// The customer's contact card and mandate (IBAN masked), as billing sees them.
pub async fn customer_view(state: &AppState, id: Uuid) -> Result<CustomerView, ApiError> {
    let row: CustomerRow = search::customer_row(state, DEPARTMENT, CUSTOMER_SQL, id).await?;
    let mandate = row.mandate_version.map(|version| {
        Mandate {
            status: row.mandate_status,
            iban: row.iban,
            iban_revealed: false,
            mandate_reference: row.mandate_reference,
            signed_on: row.signed_on,
            amended_on: row.amended_on,
            revoked_on: row.revoked_on,
            revocation_reason: row.revocation_reason,
            version,
        }
        .mask()
    });
    Ok(CustomerView {
        customer: row.card,
        mandate,
    })
}

/// An invoice with what happened on it (newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingInvoice")]
pub struct Invoice {
    #[sqlx(rename = "invoice_id")]
    pub id: Uuid,
    pub contract_id: Option<Uuid>,
    pub number: Option<String>,
    pub amount_cents: Option<i64>,
    pub issued_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    /// `issued`, `paid`, `payment_rejected` or `cancelled`.
    pub status: Option<String>,
    pub paid_on: Option<NaiveDate>,
    pub paid_amount_cents: Option<i64>,
    pub rejected_on: Option<NaiveDate>,
    pub rejection_reason: Option<String>,
    pub cancelled_on: Option<NaiveDate>,
    pub cancellation_reason: Option<String>,
    pub version: i64,
    #[sqlx(skip)]
    pub history: Vec<InvoiceStep>,
}

/// One thing that happened on an invoice.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingInvoiceStep")]
pub struct InvoiceStep {
    #[serde(skip)]
    pub invoice_id: Uuid,
    pub sequence: i64,
    /// `issued`, `paid`, `payment_rejected` or `cancelled`.
    pub kind: String,
    pub on_date: NaiveDate,
    pub amount_cents: Option<i64>,
    pub reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

async fn invoices(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items = customer_invoices(&state, id).await?;
    conditional::personal(&headers, &List { items })
}

/// The customer's invoices, newest first, each with its history (oldest step first).
pub async fn customer_invoices(state: &AppState, id: Uuid) -> Result<Vec<Invoice>, ApiError> {
    search::require_customer(state, DEPARTMENT, id).await?;
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let mut items: Vec<Invoice> = sqlx::query_as(
        "SELECT invoice_id, contract_id, number, amount_cents, issued_on, due_on, status, \
                paid_on, paid_amount_cents, rejected_on, rejection_reason, cancelled_on, \
                cancellation_reason, version \
           FROM billing.invoices WHERE customer_id = $1 \
          ORDER BY issued_on DESC NULLS LAST, invoice_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
    let steps: Vec<InvoiceStep> = sqlx::query_as(
        "SELECT invoice_id, sequence, kind, on_date, amount_cents, reason, recorded_at \
           FROM billing.invoice_history WHERE invoice_id = ANY($1) \
          ORDER BY invoice_id, sequence",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    conn.release();
    for step in steps {
        if let Some(invoice) = items.iter_mut().find(|i| i.id == step.invoice_id) {
            invoice.history.push(step);
        }
    }
    Ok(items)
}

/// A contract as billing sees it: what to invoice, and whether it has been.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingContract")]
pub struct Contract {
    #[sqlx(rename = "contract_id")]
    pub id: Uuid,
    pub product: Option<String>,
    pub monthly_premium_cents: Option<i64>,
    /// `requested`, `signed` or `terminated`.
    pub status: Option<String>,
    pub requested_on: Option<NaiveDate>,
    pub signed_on: Option<NaiveDate>,
    pub terminated_on: Option<NaiveDate>,
    /// The first invoice's issue date; `null` while the contract has never been invoiced.
    pub first_invoiced_on: Option<NaiveDate>,
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

/// The customer's contracts, as billing sees them (newest request first).
pub async fn customer_contracts(state: &AppState, id: Uuid) -> Result<Vec<Contract>, ApiError> {
    search::require_customer(state, DEPARTMENT, id).await?;
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let items = sqlx::query_as(
        "SELECT contract_id, product, monthly_premium_cents, status, requested_on, signed_on, \
                terminated_on, first_invoiced_on, version \
           FROM billing.contracts WHERE customer_id = $1 \
          ORDER BY requested_on DESC NULLS LAST, contract_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    conn.release();
    Ok(items)
}

/// What to reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Reveal {
    Iban,
}

/// The query string of the mandate.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MandateParams {
    /// `iban` to see the IBANs in full: the read is written to the access log, with
    /// `purpose` (then required).
    reveal: Option<Reveal>,
    /// Why the IBAN is read in full, as written to the access log.
    #[schemars(length(min = 1, max = 200))]
    purpose: Option<String>,
}

/// The mandate and what happened to it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BillingMandateWithHistory")]
pub struct MandateWithHistory {
    #[serde(flatten)]
    pub mandate: Mandate,
    pub history: Vec<MandateStep>,
}

/// A signature, amendment or revocation of the mandate (oldest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingMandateStep")]
pub struct MandateStep {
    pub sequence: i64,
    /// `signed`, `amended` or `revoked`.
    pub kind: String,
    /// Masked unless revealed.
    pub iban: Option<String>,
    pub mandate_reference: Option<String>,
    /// Masked unless revealed.
    pub previous_iban: Option<String>,
    pub previous_mandate_reference: Option<String>,
    pub effective_on: NaiveDate,
    pub reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

async fn mandate(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: MandateParams = params::parse(query.as_deref())?;
    let reveal = p.reveal == Some(Reveal::Iban);
    if !reveal {
        params::text("purpose", p.purpose.as_deref())?;
    }
    let purpose = p.purpose.as_deref().filter(|_| reveal);
    let Some(view) = mandate_view(&state, &actor, request, id, reveal, purpose).await? else {
        return Err(ApiError::NotFound {
            code: "mandate_not_found",
            detail: "Aucun mandat de prélèvement pour ce client.".into(),
        });
    };
    if view.mandate.iban_revealed {
        conditional::logged(&view)
    } else {
        conditional::personal(&headers, &view)
    }
}

/// The customer's mandate and its history, `None` when none was ever signed (404 when
/// the customer is unknown). IBANs are masked unless `reveal`: then `purpose` is
/// required (at most 200 characters) and the read is written to the access log before
/// anything is returned; a reveal without a purpose reads nothing.
pub async fn mandate_view(
    state: &AppState,
    actor: &Actor,
    request: RequestId,
    id: Uuid,
    reveal: bool,
    purpose: Option<&str>,
) -> Result<Option<MandateWithHistory>, ApiError> {
    // Checked before anything is read.
    let purpose = if reveal {
        Some(params::purpose(purpose)?)
    } else {
        None
    };
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let found: Option<Mandate> = sqlx::query_as(
        "SELECT status, iban, mandate_reference, signed_on, amended_on, revoked_on, \
                revocation_reason, version \
           FROM billing.mandates WHERE customer_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let mut history: Vec<MandateStep> = sqlx::query_as(
        "SELECT sequence, kind, iban, mandate_reference, previous_iban, \
                previous_mandate_reference, effective_on, reason, recorded_at \
           FROM billing.mandate_history WHERE customer_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    conn.release();
    let Some(mandate) = found else {
        search::require_customer(state, DEPARTMENT, id).await?;
        return Ok(None);
    };
    match purpose {
        Some(purpose) => {
            log_access(
                state,
                AccessEntry {
                    user: actor.username.clone(),
                    role: actor.role.as_str().into(),
                    customer_id: id.to_string(),
                    what: AccessKind::Iban,
                    purpose,
                    request_id: Some(request.0.to_string()),
                },
            )
            .await?;
            let mandate = Mandate {
                iban_revealed: true,
                ..mandate
            };
            Ok(Some(MandateWithHistory { mandate, history }))
        }
        None => {
            for step in &mut history {
                step.iban = step.iban.as_deref().map(mask_iban);
                step.previous_iban = step.previous_iban.as_deref().map(mask_iban);
            }
            let mandate = mandate.mask();
            Ok(Some(MandateWithHistory { mandate, history }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_keep_country_check_digits_and_last_four() {
        assert_eq!(
            mask_iban("FR7630006000011234567890189"),
            "FR76 **** **** **** **** ***0 189"
        );
        assert_eq!(
            mask_iban("FR76 3000 6000 0112 3456 7890 189"),
            "FR76 **** **** **** **** ***0 189"
        );
        // Not a valid IBAN: masked all the same.
        assert_eq!(mask_iban("XX00123456789"), "XX00 **** *678 9");
    }
}
