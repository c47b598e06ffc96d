//! Customer service's queries, as `lae_customer_service_reader`: customers, a
//! customer's contact card with the count of open tickets, their tickets and what
//! happened on them.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use lae_projections::Department;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::params::{self, NoParams};
use super::search::{self, ContactCard, CustomerPage, SearchParams, contact_columns};
use super::{List, conditional};
use crate::extract::ValidJson;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::routes::PathId;
use crate::state::AppState;

const DEPARTMENT: Department = Department::CustomerService;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customer-service/customers", get(customers))
        .route("/customer-service/customers/search", post(search_customers))
        .route("/customer-service/customers/{id}", get(customer))
        .route("/customer-service/customers/{id}/tickets", get(tickets))
        .route("/customer-service/tickets", get(queue))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<SearchParams, CustomerPage>("/api/v1/customer-service/customers", true);
    doc.op::<SearchParams, CustomerPage>(
        Method::POST,
        "/api/v1/customer-service/customers/search",
        200,
    );
    doc.read::<NoParams, CustomerView>("/api/v1/customer-service/customers/{id}", true);
    doc.read::<NoParams, List<Ticket>>("/api/v1/customer-service/customers/{id}/tickets", true);
    doc.read::<QueueParams, QueuePage>("/api/v1/customer-service/tickets", true);
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

/// A customer as customer service sees them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "CustomerServiceCustomer")]
pub struct CustomerView {
    pub customer: ContactCard,
    /// Tickets not resolved yet.
    pub open_tickets: i64,
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
    conditional::personal(&headers, &card(&state, id).await?)
}

/// A customer's card at customer service (404 when it does not know them).
pub async fn card(state: &AppState, id: Uuid) -> Result<CustomerView, ApiError> {
    let row: CustomerRow = search::customer_row(state, DEPARTMENT, CUSTOMER_SQL, id).await?;
    Ok(CustomerView {
        customer: row.card,
        open_tickets: row.open_tickets,
    })
}

/// A ticket with what happened on it (a customer's tickets come newest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "CustomerServiceTicket")]
pub struct Ticket {
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    /// How the customer reached us (`phone`, `mail`, ...).
    pub channel: Option<String>,
    pub reason: Option<String>,
    pub operator: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    /// The department the ticket is routed to, if any.
    pub department: Option<String>,
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// Operator actions recorded.
    pub actions: i32,
    pub resolution: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub version: i64,
    #[sqlx(skip)]
    pub history: Vec<TicketStep>,
}

/// One thing that happened on a ticket.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct TicketStep {
    #[serde(skip)]
    pub ticket_id: Uuid,
    pub sequence: i64,
    /// `opened`, `action`, `routed` or `resolved`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub operator: Option<String>,
    pub text: Option<String>,
    pub previous_department: Option<String>,
    pub department: Option<String>,
}

async fn tickets(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query.as_deref())?;
    let items = customer_tickets(&state, id).await?;
    conditional::personal(&headers, &List { items })
}

/// A customer's tickets, newest first, each with its history.
pub async fn customer_tickets(state: &AppState, id: Uuid) -> Result<Vec<Ticket>, ApiError> {
    search::require_customer(state, DEPARTMENT, id).await?;
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
    Ok(items)
}

/// The query string of the queue of open tickets.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueParams {
    /// `phone` or `mail`.
    pub channel: Option<String>,
    /// A reason's label (tickets whose reason is that label, with or without detail).
    #[schemars(length(max = 200))]
    pub reason: Option<String>,
    /// The department the ticket sits with (`customer_service`, `legal`, ...).
    pub department: Option<String>,
    /// `true`: only the tickets whose caller is not identified yet (to link to a
    /// customer).
    pub to_identify: Option<bool>,
    /// Rows per page (50 unless given).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same filters.
    #[schemars(length(max = 512))]
    pub cursor: Option<String>,
}

/// An open ticket in the team's queue, with whom it is about.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct QueueItem {
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    pub channel: Option<String>,
    pub reason: Option<String>,
    pub operator: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    pub department: Option<String>,
    pub actions: i32,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// `null` for a caller not identified yet.
    pub customer_id: Option<Uuid>,
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
}

/// A page of the queue.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    /// Pass as `cursor` (with the same filters) for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// The filters of the queue, checked.
#[derive(Debug, Default, Serialize)]
struct QueueFilter {
    channel: Option<String>,
    reason: Option<String>,
    department: Option<String>,
    to_identify: bool,
}

/// Where a page of the queue starts: the previous page's last (opened_at, id).
#[derive(Debug, Serialize, Deserialize)]
struct QueueAfter(Option<DateTime<Utc>>, Uuid);

async fn queue(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: QueueParams = params::parse(query.as_deref())?;
    conditional::personal(&headers, &open_tickets(&state, &p).await?)
}

/// Open tickets, oldest first (those never dated last), filtered, a page at a time.
pub async fn open_tickets(state: &AppState, p: &QueueParams) -> Result<QueuePage, ApiError> {
    let filter = QueueFilter {
        channel: params::text("channel", p.channel.as_deref())?
            .map(|c| search::parsed("channel", c.parse::<lae_domain::Channel>()))
            .transpose()?,
        reason: params::text("reason", p.reason.as_deref())?,
        department: params::text("department", p.department.as_deref())?
            .map(|d| search::parsed("department", d.parse::<lae_domain::Department>()))
            .transpose()?,
        to_identify: p.to_identify.unwrap_or(false),
    };
    let limit = params::limit(p.limit, search::DEFAULT_LIMIT, search::MAX_LIMIT)?;
    let scope = serde_json::to_vec(&("ticket_queue", &filter)).map_err(ApiError::internal)?;
    let key = &state.queries.cursor_key;
    let after: Option<QueueAfter> = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) if cursor.len() > 512 => return Err(invalid_queue_cursor()),
        Some(cursor) => Some(
            key.open(&scope, cursor)
                .map_err(|_| invalid_queue_cursor())?,
        ),
    };
    // Undated tickets (none are, from the domain) sort after every dated one.
    const END: &str = "'infinity'::timestamptz";
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "SELECT t.ticket_id, t.channel, t.reason, t.operator, t.opened_at, t.department, \
                t.actions, t.last_activity_at, t.customer_id, c.customer_number, \
                c.last_name, c.first_name \
           FROM customer_service.tickets t \
           LEFT JOIN customer_service.customers c ON c.customer_id = t.customer_id \
          WHERE t.status = 'open'",
    );
    if let Some(channel) = &filter.channel {
        sql.push(" AND t.channel = ").push_bind(channel.clone());
    }
    if let Some(reason) = &filter.reason {
        sql.push(" AND (t.reason = ")
            .push_bind(reason.clone())
            .push(" OR starts_with(t.reason, ")
            .push_bind(format!("{reason} : "))
            .push("))");
    }
    if let Some(department) = &filter.department {
        sql.push(" AND coalesce(t.department, 'customer_service') = ")
            .push_bind(department.clone());
    }
    if filter.to_identify {
        sql.push(" AND t.customer_id IS NULL");
    }
    if let Some(QueueAfter(at, id)) = &after {
        sql.push(format!(
            " AND (coalesce(t.opened_at, {END}), t.ticket_id) > (coalesce("
        ))
        .push_bind(*at)
        .push(format!(", {END}), "))
        .push_bind(*id)
        .push(")");
    }
    sql.push(format!(
        " ORDER BY coalesce(t.opened_at, {END}), t.ticket_id LIMIT "
    ))
    .push_bind(i64::from(limit) + 1);
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let mut items: Vec<QueueItem> = sql.build_query_as().fetch_all(&mut *conn).await?;
    conn.release();
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|t| key.seal(&scope, &QueueAfter(t.opened_at, t.id)))
            .transpose()
            .map_err(ApiError::internal)?
    } else {
        None
    };
    Ok(QueuePage { items, next_cursor })
}

/// One open ticket of the queue (404 when there is none, or it is resolved).
pub async fn open_ticket(state: &AppState, id: Uuid) -> Result<QueueItem, ApiError> {
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let item: Option<QueueItem> = sqlx::query_as(
        "SELECT t.ticket_id, t.channel, t.reason, t.operator, t.opened_at, t.department, \
                t.actions, t.last_activity_at, t.customer_id, c.customer_number, \
                c.last_name, c.first_name \
           FROM customer_service.tickets t \
           LEFT JOIN customer_service.customers c ON c.customer_id = t.customer_id \
          WHERE t.ticket_id = $1 AND t.status = 'open'",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    conn.release();
    item.ok_or(ApiError::NotFound {
        code: "ticket_not_found",
        detail: "Aucun ticket ouvert à cette adresse.".into(),
    })
}

fn invalid_queue_cursor() -> ApiError {
    ApiError::bad_parameter(
        "invalid_cursor",
        "cursor",
        "Curseur de pagination invalide : reprenez la file depuis la première page.",
    )
}
