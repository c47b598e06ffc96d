//! Customer service's queries, as `lae_customer_service_reader`: customers, a
//! customer's contact card with the count of open tickets, their tickets and what
//! happened on them.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
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

const DEPARTMENT: Department = Department::CustomerService;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customer-service/customers", get(customers))
        .route("/customer-service/customers/{id}", get(customer))
        .route("/customer-service/customers/{id}/tickets", get(tickets))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/customer-service/customers", true);
    doc.read::<NoParams, CustomerView>("/api/v1/customer-service/customers/{id}", true);
    doc.read::<NoParams, List<Ticket>>("/api/v1/customer-service/customers/{id}/tickets", true);
}

async fn customers(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    search::list(&state, DEPARTMENT, query.as_deref(), &headers).await
}

/// A customer as customer service sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "CustomerServiceCustomer")]
struct CustomerView {
    customer: ContactCard,
    /// Tickets not resolved yet.
    open_tickets: i64,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    #[sqlx(flatten)]
    card: ContactCard,
    open_tickets: i64,
}

/// The lookup `lae bench queries` measures (and runs through pgbench as well).
pub const CUSTOMER_SQL: &str = concat!(
    "SELECT ",
    contact_columns!(),
    ", (SELECT count(*) FROM customer_service.tickets t \
       WHERE t.customer_id = c.customer_id AND t.status = 'open') AS open_tickets \
     FROM customer_service.customers c WHERE c.customer_id = $1"
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
        open_tickets: row.open_tickets,
    };
    conditional::personal(&headers, &view)
}

/// A ticket with what happened on it (a customer's tickets come newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "CustomerServiceTicket")]
struct Ticket {
    #[sqlx(rename = "ticket_id")]
    id: Uuid,
    /// How the customer reached us (`phone`, `mail`, ...).
    channel: Option<String>,
    reason: Option<String>,
    operator: Option<String>,
    opened_at: Option<DateTime<Utc>>,
    /// The department the ticket is routed to, if any.
    department: Option<String>,
    /// `open` or `resolved`.
    status: Option<String>,
    /// Operator actions recorded.
    actions: i32,
    resolution: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    last_activity_at: Option<DateTime<Utc>>,
    version: i64,
    #[sqlx(skip)]
    history: Vec<TicketStep>,
}

/// One thing that happened on a ticket.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
struct TicketStep {
    #[serde(skip)]
    ticket_id: Uuid,
    sequence: i64,
    /// `opened`, `action`, `routed` or `resolved`.
    kind: String,
    at: DateTime<Utc>,
    operator: Option<String>,
    text: Option<String>,
    previous_department: Option<String>,
    department: Option<String>,
}

async fn tickets(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    search::require_customer(&state, DEPARTMENT, id).await?;
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let mut items: Vec<Ticket> = sqlx::query_as(
        "SELECT ticket_id, channel, reason, operator, opened_at, department, status, \
                actions, resolution, resolved_at, last_activity_at, version \
           FROM customer_service.tickets WHERE customer_id = $1 \
          ORDER BY opened_at DESC NULLS LAST, ticket_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = items.iter().map(|t| t.id).collect();
    let steps: Vec<TicketStep> = sqlx::query_as(
        "SELECT ticket_id, sequence, kind, at, operator, text, previous_department, \
                department \
           FROM customer_service.ticket_history WHERE ticket_id = ANY($1) \
          ORDER BY ticket_id, sequence",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    conn.release();
    for step in steps {
        if let Some(ticket) = items.iter_mut().find(|t| t.id == step.ticket_id) {
            ticket.history.push(step);
        }
    }
    conditional::personal(&headers, &List { items })
}
