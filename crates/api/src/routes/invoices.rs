//! Invoice commands (billing): issue, record a payment or its rejection, cancel.

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use chrono::NaiveDate;
use lae_domain::invoice::InvoiceCommand;
use lae_domain::{Cents, ContractId, CustomerId, InvoiceId, InvoiceNumber, Reason, RejectionCode};
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, CommandAccepted, PathId, created, execute, metadata, require_customer, today};
use crate::auth::Actor;
use crate::extract::{RequestId, ValidJson};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invoices", post(issue))
        .route("/invoices/{id}/payment", post(pay))
        .route("/invoices/{id}/payment-rejection", post(reject_payment))
        .route("/invoices/{id}/cancellation", post(cancel))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Issue {
    id: Option<InvoiceId>,
    customer_id: CustomerId,
    contract_id: Option<ContractId>,
    number: InvoiceNumber,
    /// Amount in euro cents.
    amount: Cents,
    issued_on: Option<NaiveDate>,
    due_on: NaiveDate,
}

async fn issue(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    ValidJson(body): ValidJson<Issue>,
) -> Result<Response, ApiError> {
    require_customer(&state, &body.customer_id, "customer_id").await?;
    if let Some(contract_id) = &body.contract_id {
        let exists = state
            .events
            .exists("Contract", &contract_id.to_string())
            .await?;
        if !exists {
            return Err(ApiError::invalid(
                "unknown_contract",
                "contract_id",
                format!("Aucun contrat n'a l'identifiant {contract_id}."),
            ));
        }
    }
    let invoice_id = body.id.unwrap_or_else(|| InvoiceId::new(Uuid::new_v4()));
    let command = InvoiceCommand::IssueInvoice {
        customer_id: body.customer_id,
        contract_id: body.contract_id,
        number: body.number,
        amount: body.amount,
        issued_on: body.issued_on.unwrap_or_else(today),
        due_on: body.due_on,
    };
    let committed = state
        .invoices
        .execute(&invoice_id.to_string(), command, &metadata(&actor, request))
        .await?;
    Ok(created("invoices", CommandAccepted::from(&committed)))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Pay {
    paid_on: Option<NaiveDate>,
    /// Amount paid in euro cents (must equal the invoice amount).
    amount: Cents,
}

async fn pay(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<InvoiceId>,
    ValidJson(body): ValidJson<Pay>,
) -> Result<Response, ApiError> {
    let command = InvoiceCommand::RecordPayment {
        paid_on: body.paid_on.unwrap_or_else(today),
        amount: body.amount,
    };
    execute(&state.invoices, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Closing {
    on: Option<NaiveDate>,
    reason: Reason,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Rejection {
    on: Option<NaiveDate>,
    reason: Reason,
    /// The bank's reason code (`AM04`), if it gave one.
    reason_code: Option<RejectionCode>,
}

async fn reject_payment(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<InvoiceId>,
    ValidJson(body): ValidJson<Rejection>,
) -> Result<Response, ApiError> {
    let command = InvoiceCommand::RecordPaymentRejection {
        rejected_on: body.on.unwrap_or_else(today),
        reason: body.reason,
        reason_code: body.reason_code,
    };
    execute(&state.invoices, id, command, caller).await
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<InvoiceId>,
    ValidJson(body): ValidJson<Closing>,
) -> Result<Response, ApiError> {
    let command = InvoiceCommand::CancelInvoice {
        cancelled_on: body.on.unwrap_or_else(today),
        reason: body.reason,
    };
    execute(&state.invoices, id, command, caller).await
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Issue, CommandAccepted>(Method::POST, "/api/v1/invoices", 201);
    doc.op::<Pay, CommandAccepted>(Method::POST, "/api/v1/invoices/{id}/payment", 202);
    doc.op::<Rejection, CommandAccepted>(
        Method::POST,
        "/api/v1/invoices/{id}/payment-rejection",
        202,
    );
    doc.op::<Closing, CommandAccepted>(Method::POST, "/api/v1/invoices/{id}/cancellation", 202);
}
