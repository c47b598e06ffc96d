//! The ticket inboxes of legal, sales and billing, each read as the department's own
//! reader role from its own schema: the tickets routed to it and not yet resolved or
//! routed elsewhere, oldest hand-over first, a page at a time (sealed keyset cursor on
//! the index `tickets_inbox`, migration 0012), and one ticket with the actions
//! recorded since it arrived.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use lae_projections::Department;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::params::{self, NoParams};
use super::{conditional, search};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::routes::PathId;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/legal/tickets", get(legal_inbox))
        .route("/legal/tickets/{id}", get(legal_ticket))
        .route("/sales/tickets", get(sales_inbox))
        .route("/sales/tickets/{id}", get(sales_ticket))
        .route("/billing/tickets", get(billing_inbox))
        .route("/billing/tickets/{id}", get(billing_ticket))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    for (inbox, ticket) in [
        ("/api/v1/legal/tickets", "/api/v1/legal/tickets/{id}"),
        ("/api/v1/sales/tickets", "/api/v1/sales/tickets/{id}"),
        ("/api/v1/billing/tickets", "/api/v1/billing/tickets/{id}"),
    ] {
        doc.read::<InboxParams, InboxPage>(inbox, true);
        doc.read::<NoParams, InboxTicketView>(ticket, true);
    }
}

/// The query string of an inbox.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxParams {
    /// Rows per page (50 unless given).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[schemars(length(max = 512))]
    pub cursor: Option<String>,
}

/// A ticket in a department's inbox, with whom it is about.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "InboxTicket")]
pub struct InboxTicket {
    #[sqlx(rename = "ticket_id")]
    pub id: Uuid,
    /// `null` while the caller is not identified.
    pub customer_id: Option<Uuid>,
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    /// `phone`, `email`, `mail` or `counter`; `null` for tickets routed before the
    /// hand-over carried it.
    pub channel: Option<String>,
    /// Why the customer got in touch.
    pub reason: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    /// The department that routed it here (`customer_service`, …).
    pub routed_from: Option<String>,
    pub routed_at: Option<DateTime<Utc>>,
    /// The note left for this department.
    pub routing_note: Option<String>,
    /// Actions recorded since it arrived.
    pub actions: i32,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// A page of an inbox.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "InboxPage")]
pub struct InboxPage {
    pub items: Vec<InboxTicket>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// An action recorded on the ticket since it arrived (oldest first).
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "InboxTicketStep")]
pub struct InboxStep {
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub operator: Option<String>,
    pub text: Option<String>,
}

/// A ticket of the inbox and its actions.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "InboxTicketView")]
pub struct InboxTicketView {
    #[serde(flatten)]
    pub ticket: InboxTicket,
    pub history: Vec<InboxStep>,
}

/// Where a page starts: the previous page's last (routed_at, id).
#[derive(Debug, Serialize, Deserialize)]
struct After(Option<DateTime<Utc>>, Uuid);

fn schema(department: Department) -> Result<&'static str, ApiError> {
    match department {
        Department::Legal => Ok("legal"),
        Department::Sales => Ok("sales"),
        Department::Billing => Ok("billing"),
        other => Err(ApiError::internal(format!("{other} has no ticket inbox"))),
    }
}

fn scope(department: Department) -> &'static [u8] {
    match department {
        Department::Legal => b"legal_inbox",
        Department::Sales => b"sales_inbox",
        _ => b"billing_inbox",
    }
}

const COLUMNS: &str = "t.ticket_id, t.customer_id, c.customer_number, c.last_name, c.first_name, \
    t.channel, t.reason, t.opened_at, t.routed_from, t.routed_at, t.routing_note, t.actions, \
    t.last_activity_at, t.version";

/// A page of `department`'s inbox, oldest hand-over first.
pub async fn inbox_page(
    state: &AppState,
    department: Department,
    p: &InboxParams,
) -> Result<InboxPage, ApiError> {
    let schema = schema(department)?;
    let limit = params::limit(p.limit, search::DEFAULT_LIMIT, search::MAX_LIMIT)?;
    let key = &state.queries.cursor_key;
    let after: Option<After> = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) if cursor.len() > 512 => return Err(invalid_cursor()),
        Some(cursor) => Some(
            key.open(scope(department), cursor)
                .map_err(|_| invalid_cursor())?,
        ),
    };
    const END: &str = "'infinity'::timestamptz";
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
        "SELECT {COLUMNS} FROM {schema}.tickets t \
           LEFT JOIN {schema}.customers c ON c.customer_id = t.customer_id \
          WHERE t.held"
    ));
    if let Some(After(at, id)) = &after {
        sql.push(format!(
            " AND (coalesce(t.routed_at, {END}), t.ticket_id) > (coalesce("
        ))
        .push_bind(*at)
        .push(format!("::timestamptz, {END}), "))
        .push_bind(*id)
        .push(")");
    }
    sql.push(format!(
        " ORDER BY coalesce(t.routed_at, {END}), t.ticket_id LIMIT "
    ))
    .push_bind(i64::from(limit) + 1);
    let mut conn = state.queries.readers.acquire(department).await?;
    let mut items: Vec<InboxTicket> = sql.build_query_as().fetch_all(&mut *conn).await?;
    conn.release();
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|t| key.seal(scope(department), &After(t.routed_at, t.id)))
            .transpose()
            .map_err(ApiError::internal)?
    } else {
        None
    };
    Ok(InboxPage { items, next_cursor })
}

/// A ticket `department` holds, with its actions; 404 when it is not (or no longer)
/// in the inbox.
pub async fn inbox_ticket(
    state: &AppState,
    department: Department,
    id: Uuid,
) -> Result<InboxTicketView, ApiError> {
    let schema = schema(department)?;
    let mut conn = state.queries.readers.acquire(department).await?;
    let ticket: Option<InboxTicket> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {schema}.tickets t \
           LEFT JOIN {schema}.customers c ON c.customer_id = t.customer_id \
          WHERE t.ticket_id = $1 AND t.held"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let history: Vec<InboxStep> = sqlx::query_as(&format!(
        "SELECT sequence, at, operator, text FROM {schema}.ticket_history \
          WHERE ticket_id = $1 ORDER BY sequence"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    conn.release();
    match ticket {
        Some(ticket) => Ok(InboxTicketView { ticket, history }),
        None => Err(not_in_inbox()),
    }
}

/// Whether `department` holds the ticket (what a department may act on).
pub async fn holds(state: &AppState, department: Department, id: Uuid) -> Result<bool, ApiError> {
    let schema = schema(department)?;
    let mut conn = state.queries.readers.acquire(department).await?;
    let held: Option<bool> = sqlx::query_scalar(&format!(
        "SELECT held FROM {schema}.tickets WHERE ticket_id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    conn.release();
    Ok(held.unwrap_or(false))
}

/// The ticket is not in the caller's inbox.
pub fn not_in_inbox() -> ApiError {
    ApiError::NotFound {
        code: "ticket_not_in_inbox",
        detail: "Ce ticket n'est pas (ou plus) dans la corbeille de votre service.".into(),
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_parameter(
        "invalid_cursor",
        "cursor",
        "Curseur de pagination invalide : reprenez la corbeille depuis la première page.",
    )
}

async fn inbox(
    state: &AppState,
    department: Department,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let p: InboxParams = params::parse(query)?;
    conditional::personal(headers, &inbox_page(state, department, &p).await?)
}

async fn ticket(
    state: &AppState,
    department: Department,
    id: Uuid,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let NoParams {} = params::parse(query)?;
    conditional::personal(headers, &inbox_ticket(state, department, id).await?)
}

async fn legal_inbox(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    inbox(&state, Department::Legal, query.as_deref(), &headers).await
}

async fn legal_ticket(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    ticket(&state, Department::Legal, id, query.as_deref(), &headers).await
}

async fn sales_inbox(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    inbox(&state, Department::Sales, query.as_deref(), &headers).await
}

async fn sales_ticket(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    ticket(&state, Department::Sales, id, query.as_deref(), &headers).await
}

async fn billing_inbox(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    inbox(&state, Department::Billing, query.as_deref(), &headers).await
}

async fn billing_ticket(
    State(state): State<AppState>,
    PathId(id): PathId<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    ticket(&state, Department::Billing, id, query.as_deref(), &headers).await
}
