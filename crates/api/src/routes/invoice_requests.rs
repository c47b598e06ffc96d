//! Invoice requests ("demandes de facture"): sales asks billing for a one-off invoice,
//! billing issues it or refuses it. One Invoice aggregate carries the hand-off (see
//! `lae_domain::invoice`); the `inform_sales` reactor tells sales the outcome, and
//! billing's pending list is `queries::billing::pending_invoice_requests`.
//!
//! The use cases are shared with the desks: [`request_invoice`], [`issue_request`],
//! [`refuse_request`].

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use chrono::{Datelike, NaiveDate};
use lae_domain::invoice::InvoiceCommand;
use lae_domain::{Cents, ContractId, CustomerId, InvoiceId, InvoiceLabel, InvoiceNumber, Reason};
use lae_store::EventMetadata;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    Caller, CommandAccepted, PathId, accepted, created, metadata, require_customer, today,
};
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sales/invoice-requests", post(request))
        .route("/billing/invoice-requests/{id}/issue", post(issue))
        .route("/billing/invoice-requests/{id}/refuse", post(refuse))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Request, CommandAccepted>(Method::POST, "/api/v1/sales/invoice-requests", 201);
    doc.op::<Issue, CommandAccepted>(
        Method::POST,
        "/api/v1/billing/invoice-requests/{id}/issue",
        202,
    );
    doc.op::<Refuse, CommandAccepted>(
        Method::POST,
        "/api/v1/billing/invoice-requests/{id}/refuse",
        202,
    );
}

/// What sales asks billing to invoice.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Request {
    customer_id: CustomerId,
    /// The customer's contract the charge is about, if any.
    contract_id: Option<ContractId>,
    /// Amount in euro cents, strictly positive.
    amount: Cents,
    /// What is billed (1 to 200 characters).
    label: InvoiceLabel,
    /// The request date (today unless given).
    requested_on: Option<NaiveDate>,
}

/// The request as the use case takes it (from the JSON body or the sales desk's form).
#[derive(Debug, Clone)]
pub struct InvoiceRequestInput {
    pub customer_id: CustomerId,
    pub contract_id: Option<ContractId>,
    pub amount: Cents,
    pub label: InvoiceLabel,
    pub requested_on: NaiveDate,
}

/// Records sales' request on a new invoice id: the customer must exist and the
/// contract, when named, must be this customer's. Answers the new invoice's id and
/// version.
pub async fn request_invoice(
    state: &AppState,
    metadata: &EventMetadata,
    input: InvoiceRequestInput,
) -> Result<CommandAccepted, ApiError> {
    require_customer(state, &input.customer_id, "customer_id").await?;
    if let Some(contract_id) = input.contract_id {
        let (contract, version) = state.contracts.load(&contract_id.to_string()).await?;
        let theirs = contract
            .terms()
            .is_some_and(|t| t.customer_id == input.customer_id);
        if version == 0 || !theirs {
            return Err(ApiError::invalid(
                "unknown_contract",
                "contract_id",
                format!("Le client n'a pas de contrat {contract_id}."),
            ));
        }
    }
    let id = InvoiceId::new(Uuid::new_v4());
    let command = InvoiceCommand::RequestInvoice {
        customer_id: input.customer_id,
        contract_id: input.contract_id,
        amount: input.amount,
        label: input.label,
        requested_on: input.requested_on,
    };
    let committed = state
        .invoices
        .execute(&id.to_string(), command, metadata)
        .await?;
    Ok(CommandAccepted::from(&committed))
}

async fn request(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<Request>,
) -> Result<Response, ApiError> {
    let input = InvoiceRequestInput {
        customer_id: body.customer_id,
        contract_id: body.contract_id,
        amount: body.amount,
        label: body.label,
        requested_on: body.requested_on.unwrap_or_else(today),
    };
    let answer = request_invoice(&state, &metadata(&caller.actor, caller.request), input).await?;
    Ok(created("billing/invoice-requests", answer))
}

/// Billing's issue of a requested invoice.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Issue {
    /// The issue date (today unless given), on or after the request.
    issued_on: Option<NaiveDate>,
    /// The due date (the issue date unless given).
    due_on: Option<NaiveDate>,
}

/// The number printed on a requested invoice: `FD-YYYY-MM-` and the invoice id's 32
/// hexadecimal digits ("facture sur demande"; cycle invoices are `F-…`).
fn requested_number(id: InvoiceId, issued_on: NaiveDate) -> Result<InvoiceNumber, ApiError> {
    format!(
        "FD-{:04}-{:02}-{}",
        issued_on.year(),
        issued_on.month(),
        id.as_uuid().simple()
    )
    .parse()
    .map_err(|e: lae_domain::TextError| ApiError::internal(e.to_string()))
}

/// Issues the requested invoice for the requested amount (due on `due_on`, the issue
/// date unless given).
pub async fn issue_request(
    state: &AppState,
    metadata: &EventMetadata,
    id: InvoiceId,
    issued_on: NaiveDate,
    due_on: Option<NaiveDate>,
    expected: Option<usize>,
) -> Result<CommandAccepted, ApiError> {
    let command = InvoiceCommand::IssueRequestedInvoice {
        number: requested_number(id, issued_on)?,
        issued_on,
        due_on: due_on.unwrap_or(issued_on),
    };
    let committed = state
        .invoices
        .execute_expecting(&id.to_string(), command, metadata, expected)
        .await?;
    Ok(CommandAccepted::from(&committed))
}

async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<InvoiceId>,
    ValidJson(body): ValidJson<Issue>,
) -> Result<Response, ApiError> {
    let answer = issue_request(
        &state,
        &metadata(&caller.actor, caller.request),
        id,
        body.issued_on.unwrap_or_else(today),
        body.due_on,
        caller.if_match.0,
    )
    .await?;
    Ok(accepted(answer))
}

/// Billing's refusal, with the reason sales will read.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Refuse {
    /// Why (sales is told), 1 to 500 characters.
    reason: Reason,
    /// The refusal date (today unless given), on or after the request.
    refused_on: Option<NaiveDate>,
}

/// Refuses the requested invoice with a reason.
pub async fn refuse_request(
    state: &AppState,
    metadata: &EventMetadata,
    id: InvoiceId,
    reason: Reason,
    refused_on: NaiveDate,
    expected: Option<usize>,
) -> Result<CommandAccepted, ApiError> {
    let command = InvoiceCommand::RefuseInvoiceRequest { refused_on, reason };
    let committed = state
        .invoices
        .execute_expecting(&id.to_string(), command, metadata, expected)
        .await?;
    Ok(CommandAccepted::from(&committed))
}

async fn refuse(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<InvoiceId>,
    ValidJson(body): ValidJson<Refuse>,
) -> Result<Response, ApiError> {
    let answer = refuse_request(
        &state,
        &metadata(&caller.actor, caller.request),
        id,
        body.reason,
        body.refused_on.unwrap_or_else(today),
        caller.if_match.0,
    )
    .await?;
    Ok(accepted(answer))
}
