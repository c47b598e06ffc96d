//! Ticket commands: calls and mails logged (customer service), acted on, routed to a
//! department, resolved: by customer service on any ticket, and by legal, sales or
//! billing on the tickets in their own inbox (see [`require_holder`]).

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use lae_domain::ticket::TicketCommand;
use lae_domain::{
    ActionText, Channel, CustomerId, Department, Note, OperatorName, Reason, ReasonCode,
    Satisfaction, TicketId,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, CommandAccepted, PathId, created, execute, metadata, require_customer};
use crate::auth::{Actor, Role};
use crate::extract::{RequestId, ValidJson};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", post(open))
        .route("/tickets/{id}/actions", post(record_action))
        .route("/tickets/{id}/routing", post(route))
        .route("/tickets/{id}/resolution", post(resolve))
        .route("/tickets/{id}/identification", post(identify))
        .route("/tickets/{id}/satisfaction", post(rate))
}

/// Legal, sales and billing act only on the tickets their inbox holds (read from
/// their own read model, as their own role); customer service keeps the whole queue.
/// A ticket routed a moment ago may not be in the inbox yet: the caller retries.
pub async fn require_holder(
    state: &AppState,
    actor: &Actor,
    ticket: TicketId,
) -> Result<(), ApiError> {
    let department = match actor.role {
        Role::Legal => lae_projections::Department::Legal,
        Role::Sales => lae_projections::Department::Sales,
        Role::Billing => lae_projections::Department::Billing,
        _ => return Ok(()),
    };
    if super::queries::inbox::holds(state, department, *ticket.as_uuid()).await? {
        Ok(())
    } else {
        Err(super::queries::inbox::not_in_inbox())
    }
}

/// The operator is the calling user unless the body names another (a supervisor
/// logging a colleague's call).
pub fn operator(named: Option<OperatorName>, actor: &Actor) -> Result<OperatorName, ApiError> {
    match named {
        Some(operator) => Ok(operator),
        None => actor.username.parse().map_err(|_| {
            ApiError::invalid("invalid_operator", "operator", "Nom d'opérateur invalide.")
        }),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Open {
    id: Option<TicketId>,
    channel: Channel,
    reason: Reason,
    customer_id: Option<CustomerId>,
    opened_at: Option<DateTime<Utc>>,
    operator: Option<OperatorName>,
    /// The code of the reason, from the list of `public.ticket_reasons`
    /// (`complaint` for a complaint); management counts tickets by it.
    category: Option<ReasonCode>,
}

async fn open(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    ValidJson(body): ValidJson<Open>,
) -> Result<Response, ApiError> {
    let ticket_id = body.id.unwrap_or_else(|| TicketId::new(Uuid::new_v4()));
    let command = TicketCommand::OpenTicket {
        channel: body.channel,
        reason: body.reason,
        opened_at: body.opened_at.unwrap_or_else(Utc::now),
        operator: operator(body.operator, &actor)?,
        customer_id: body.customer_id,
        category: body.category,
    };
    let committed = open_ticket(&state, ticket_id, command, &metadata(&actor, request)).await?;
    Ok(created("tickets", CommandAccepted::from(&committed)))
}

/// Opens a ticket (`command` is an `OpenTicket`) after checking that the customer it
/// names exists (422 on `customer_id` otherwise): the JSON API and the desk alike.
pub async fn open_ticket(
    state: &AppState,
    ticket_id: TicketId,
    command: TicketCommand,
    metadata: &lae_store::EventMetadata,
) -> Result<lae_store::Committed<lae_domain::ticket::Ticket>, ApiError> {
    if let TicketCommand::OpenTicket {
        customer_id,
        category,
        ..
    } = &command
    {
        if let Some(customer_id) = customer_id {
            require_customer(state, customer_id, "customer_id").await?;
        }
        if let Some(category) = category {
            require_reason(state, category).await?;
        }
    }
    Ok(state
        .tickets
        .execute(&ticket_id.to_string(), command, metadata)
        .await?)
}

/// 422 on `category` unless it is the code of a reason of the list.
async fn require_reason(state: &AppState, code: &ReasonCode) -> Result<(), ApiError> {
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.ticket_reasons WHERE code = $1)")
            .bind(code.as_str())
            .fetch_one(&state.pool)
            .await?;
    if known {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "unknown_reason_code",
            "category",
            format!("Motif inconnu : « {code} » n'est pas dans la liste des motifs."),
        ))
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Action {
    action: ActionText,
    at: Option<DateTime<Utc>>,
    operator: Option<OperatorName>,
}

async fn record_action(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TicketId>,
    ValidJson(body): ValidJson<Action>,
) -> Result<Response, ApiError> {
    require_holder(&state, &caller.actor, id).await?;
    let command = TicketCommand::RecordAction {
        action: body.action,
        at: body.at.unwrap_or_else(Utc::now),
        operator: operator(body.operator, &caller.actor)?,
    };
    execute(&state.tickets, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Route {
    department: Department,
    note: Option<Note>,
}

async fn route(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TicketId>,
    ValidJson(body): ValidJson<Route>,
) -> Result<Response, ApiError> {
    require_holder(&state, &caller.actor, id).await?;
    let command = TicketCommand::RouteTicket {
        department: body.department,
        at: Utc::now(),
        note: body.note,
    };
    execute(&state.tickets, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Resolve {
    resolution: Note,
}

async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TicketId>,
    ValidJson(body): ValidJson<Resolve>,
) -> Result<Response, ApiError> {
    require_holder(&state, &caller.actor, id).await?;
    let command = TicketCommand::ResolveTicket {
        resolution: body.resolution,
        at: Utc::now(),
    };
    execute(&state.tickets, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Identify {
    /// The customer the caller turned out to be.
    customer_id: CustomerId,
}

/// Links a ticket opened for an unidentified caller to a customer.
async fn identify(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TicketId>,
    ValidJson(body): ValidJson<Identify>,
) -> Result<Response, ApiError> {
    require_customer(&state, &body.customer_id, "customer_id").await?;
    let command = TicketCommand::IdentifyCaller {
        customer_id: body.customer_id,
        at: Utc::now(),
    };
    execute(&state.tickets, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Rate {
    /// `good` (satisfied) or `bad`, Zendesk's two-point scale.
    score: Satisfaction,
    /// When the customer gave the rating; now by default.
    at: Option<DateTime<Utc>>,
}

/// Records the customer's satisfaction with a resolved ticket (once).
async fn rate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TicketId>,
    ValidJson(body): ValidJson<Rate>,
) -> Result<Response, ApiError> {
    let command = TicketCommand::RateSatisfaction {
        score: body.score,
        at: body.at.unwrap_or_else(Utc::now),
    };
    execute(&state.tickets, id, command, caller).await
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Open, CommandAccepted>(Method::POST, "/api/v1/tickets", 201);
    doc.op::<Action, CommandAccepted>(Method::POST, "/api/v1/tickets/{id}/actions", 202);
    doc.op::<Route, CommandAccepted>(Method::POST, "/api/v1/tickets/{id}/routing", 202);
    doc.op::<Resolve, CommandAccepted>(Method::POST, "/api/v1/tickets/{id}/resolution", 202);
    doc.op::<Identify, CommandAccepted>(Method::POST, "/api/v1/tickets/{id}/identification", 202);
    doc.op::<Rate, CommandAccepted>(Method::POST, "/api/v1/tickets/{id}/satisfaction", 202);
}
