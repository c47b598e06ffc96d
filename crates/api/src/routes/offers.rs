//! Offer commands (sales). Accepting an offer requests the contract from legal.

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use chrono::NaiveDate;
use lae_domain::contract::ContractError;
use lae_domain::offer::{Offer, OfferCommand, contract_request_for};
use lae_domain::{Cents, ContractId, CustomerId, OfferId, ProductName, Reason};
use lae_store::{CommandError, Committed, EventMetadata, Source, event_id};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    Caller, CommandAccepted, PathId, accepted, created, execute, metadata, require_customer, today,
};
use crate::auth::Actor;
use crate::extract::{RequestId, ValidJson};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/offers", post(propose))
        .route("/offers/{id}/acceptance", post(accept))
        .route("/offers/{id}/decline", post(decline))
        .route("/offers/{id}/withdrawal", post(withdraw))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Propose {
    id: Option<OfferId>,
    customer_id: CustomerId,
    product: ProductName,
    /// Monthly premium in euro cents.
    monthly_premium: Cents,
    proposed_on: Option<NaiveDate>,
}

async fn propose(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    ValidJson(body): ValidJson<Propose>,
) -> Result<Response, ApiError> {
    require_customer(&state, &body.customer_id, "customer_id").await?;
    let offer_id = body.id.unwrap_or_else(|| OfferId::new(Uuid::new_v4()));
    let command = OfferCommand::ProposeOffer {
        offer_id,
        customer_id: body.customer_id,
        product: body.product,
        monthly_premium: body.monthly_premium,
        proposed_on: body.proposed_on.unwrap_or_else(today),
    };
    let committed = state
        .offers
        .execute(&offer_id.to_string(), command, &metadata(&actor, request))
        .await?;
    Ok(created("offers", CommandAccepted::from(&committed)))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Accept {
    accepted_on: Option<NaiveDate>,
}

async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<OfferId>,
    ValidJson(body): ValidJson<Accept>,
) -> Result<Response, ApiError> {
    let meta = metadata(&caller.actor, caller.request);
    let accepted_on = body.accepted_on.unwrap_or_else(today);
    let (committed, contract_id) =
        accept_offer(&state, id, accepted_on, &meta, caller.if_match.0).await?;
    let mut response = CommandAccepted::from(&committed);
    response.contract_id = contract_id.map(|c| c.to_string());
    Ok(accepted(response))
}

/// Accepts the offer (at `expected` version, if given) and, by the offer → contract
/// policy, requests the contract from legal: the JSON route and the sales desk share
/// it. Returns the offer's commit and the contract requested.
pub async fn accept_offer(
    state: &AppState,
    id: OfferId,
    accepted_on: NaiveDate,
    meta: &EventMetadata,
    expected: Option<usize>,
) -> Result<(Committed<Offer>, Option<ContractId>), ApiError> {
    let command = OfferCommand::AcceptOffer { accepted_on };
    let committed = state
        .offers
        .execute_expecting(&id.to_string(), command, meta, expected)
        .await?;
    let mut contract = None;
    for envelope in &committed.events {
        if let Some(contract_id) = request_contract(state, id, envelope, meta).await? {
            contract = Some(contract_id);
        }
    }
    Ok((committed, contract))
}

/// Applies the offer → contract policy to one committed offer event.
///
/// The contract id is derived from the offer id, so running the policy twice
/// requests one contract: the second request is refused as already requested.
async fn request_contract(
    state: &AppState,
    offer_id: OfferId,
    envelope: &cqrs_es::EventEnvelope<Offer>,
    meta: &EventMetadata,
) -> Result<Option<ContractId>, ApiError> {
    let Some((contract_id, command)) = contract_request_for(offer_id, &envelope.payload) else {
        return Ok(None);
    };
    let cause = event_id(
        <Offer as cqrs_es::Aggregate>::TYPE,
        &envelope.aggregate_id,
        envelope.sequence,
    );
    let meta = meta.caused_by(cause, Source::Policy);
    match state
        .contracts
        .execute(&contract_id.to_string(), command, &meta)
        .await
    {
        Ok(_) | Err(CommandError::Rejected(ContractError::AlreadyRequested)) => {
            Ok(Some(contract_id))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Close {
    on: Option<NaiveDate>,
    reason: Option<Reason>,
}

async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<OfferId>,
    ValidJson(body): ValidJson<Close>,
) -> Result<Response, ApiError> {
    let command = OfferCommand::DeclineOffer {
        declined_on: body.on.unwrap_or_else(today),
        reason: body.reason,
    };
    execute(&state.offers, id, command, caller).await
}

async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<OfferId>,
    ValidJson(body): ValidJson<Close>,
) -> Result<Response, ApiError> {
    let command = OfferCommand::WithdrawOffer {
        withdrawn_on: body.on.unwrap_or_else(today),
        reason: body.reason,
    };
    execute(&state.offers, id, command, caller).await
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Propose, CommandAccepted>(Method::POST, "/api/v1/offers", 201);
    doc.op::<Accept, CommandAccepted>(Method::POST, "/api/v1/offers/{id}/acceptance", 202);
    doc.op::<Close, CommandAccepted>(Method::POST, "/api/v1/offers/{id}/decline", 202);
    doc.op::<Close, CommandAccepted>(Method::POST, "/api/v1/offers/{id}/withdrawal", 202);
}
