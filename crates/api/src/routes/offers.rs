//! Offer commands (sales). Accepting an offer leads to the contract's request from
//! legal, made by the contract-requests reactor (`lae_reactors`), not here.

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use chrono::NaiveDate;
use lae_domain::offer::{Offer, OfferCommand, contract_request_for};
use lae_domain::{Cents, ContractId, CustomerId, OfferId, ProductName, Reason};
use lae_store::{Committed, EventMetadata};
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

/// Accepts the offer (at `expected` version, if given): the JSON route and the sales
/// desk share it. Returns the offer's commit and the contract the acceptance will
/// request: the contract-requests reactor (`lae_reactors`) requests it from legal once
/// the acceptance is on the stream, under the id derived from the offer's.
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
    let contract = committed
        .events
        .iter()
        .find_map(|envelope| contract_request_for(id, &envelope.payload))
        .map(|(contract_id, _)| contract_id);
    Ok((committed, contract))
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
