//! The ticket inbox of the legal, sales and billing desks: the tickets routed to the
//! department (oldest hand-over first), a ticket's page with what customer service
//! handed over (reason, channel, date, note) and the actions recorded since, and the
//! three things a department does with it: record an action, resolve it, route it on
//! (back to customer service or to another department).
//!
//! Reads go through the department's own read model and reader role
//! (`lae_api::routes::queries::inbox`); commands through the ticket executor, after
//! the same holder check as `POST /api/v1/tickets/{id}/…` (a department acts only on
//! the tickets of its inbox).

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use lae_api::AppState;
use lae_api::extract::RequestId;
use lae_api::problem::ApiError;
use lae_api::routes::metadata;
use lae_api::routes::queries::inbox::{self as reads, InboxParams};
use lae_api::routes::tickets::{operator, require_holder};
use lae_domain::ticket::TicketCommand;
use lae_domain::{ActionText, Note, TicketId};
use lae_projections::Department;
use uuid::Uuid;

use super::lookup::{self, await_version, path_id};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

/// Tickets per page of the inbox.
const PAGE: u32 = 25;

/// A desk that has an inbox.
#[derive(Debug, Clone, Copy)]
struct Desk {
    department: Department,
    /// `/desk/legal`.
    base: &'static str,
    /// `legal`, as tickets name departments.
    code: &'static str,
    /// The read-your-write probe on the department's inbox table.
    version_sql: &'static str,
}

impl Desk {
    fn of(department: Department) -> Self {
        match department {
            Department::Legal => Self {
                department,
                base: "/desk/legal",
                code: "legal",
                version_sql: "SELECT version FROM legal.tickets WHERE ticket_id = $1",
            },
            Department::Sales => Self {
                department,
                base: "/desk/sales",
                code: "sales",
                version_sql: "SELECT version FROM sales.tickets WHERE ticket_id = $1",
            },
            _ => Self {
                department: Department::Billing,
                base: "/desk/billing",
                code: "billing",
                version_sql: "SELECT version FROM billing.tickets WHERE ticket_id = $1",
            },
        }
    }

    fn inbox(self) -> String {
        format!("{}/tickets", self.base)
    }

    fn ticket(self, id: Uuid) -> String {
        format!("{}/tickets/{id}", self.base)
    }
}

/// The inbox's address of `department`'s desk, for its navigation.
pub const fn path(department: Department) -> &'static str {
    match department {
        Department::Legal => "/desk/legal/tickets",
        Department::Sales => "/desk/sales/tickets",
        _ => "/desk/billing/tickets",
    }
}

/// The inbox routes of `department`'s desk.
pub fn router(department: Department) -> Router<AppState> {
    let desk = Desk::of(department);
    Router::new()
        .route(
            path(department),
            get(
                move |State(state): State<AppState>, user: PageUser, RawQuery(q): RawQuery| async move {
                    list(&state, &user, desk, q.as_deref()).await
                },
            ),
        )
        .route(
            &format!("{}/{{id}}", path(department)),
            get(
                move |State(state): State<AppState>,
                      user: PageUser,
                      Path(id): Path<String>,
                      RawQuery(q): RawQuery| async move {
                    let id = path_id(&id, "ticket_not_found", "ticket")?;
                    let notice = lookup::notice(
                        q.as_deref().unwrap_or_default(),
                        &[("action", "Action enregistrée.")],
                    );
                    ticket_page(&state, &user, desk, id, TicketState { notice, ..TicketState::default() }, StatusCode::OK).await
                },
            ),
        )
        .route(
            &format!("{}/{{id}}/actions", path(department)),
            post(
                move |State(state): State<AppState>,
                      user: PageUser,
                      request: RequestId,
                      Path(id): Path<String>,
                      form: Fields| async move {
                    act(&state, &user, request, desk, &id, &form, Act::Action).await
                },
            ),
        )
        .route(
            &format!("{}/{{id}}/resolution", path(department)),
            post(
                move |State(state): State<AppState>,
                      user: PageUser,
                      request: RequestId,
                      Path(id): Path<String>,
                      form: Fields| async move {
                    act(&state, &user, request, desk, &id, &form, Act::Resolve).await
                },
            ),
        )
        .route(
            &format!("{}/{{id}}/routing", path(department)),
            post(
                move |State(state): State<AppState>,
                      user: PageUser,
                      request: RequestId,
                      Path(id): Path<String>,
                      form: Fields| async move {
                    act(&state, &user, request, desk, &id, &form, Act::Route).await
                },
            ),
        )
}

// ---------------------------------------------------------------------------------
// The inbox

#[derive(Debug)]
struct InboxLine {
    id: Uuid,
    received: String,
    waiting: String,
    customer: String,
    customer_href: Option<String>,
    channel: &'static str,
    reason: String,
    from: &'static str,
    note: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    inbox: String,
    notice: Option<String>,
    lines: Vec<InboxLine>,
    error: Option<String>,
    first_page: Option<String>,
    next_page: Option<String>,
}

async fn list(
    state: &AppState,
    user: &PageUser,
    desk: Desk,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let query = query.unwrap_or_default();
    let cursor = query
        .split('&')
        .find_map(|p| p.strip_prefix("cursor="))
        .map(str::to_owned);
    let notice = lookup::notice(
        query,
        &[
            ("resolved", "Ticket résolu : il quitte la corbeille."),
            ("routed", "Ticket transmis : il quitte la corbeille."),
        ],
    );
    let later = cursor.is_some();
    let params = InboxParams {
        limit: Some(PAGE),
        cursor,
    };
    let (items, next, error) = match reads::inbox_page(state, desk.department, &params).await {
        Ok(page) => (page.items, page.next_cursor, None),
        Err(ApiError::BadParameter { detail, .. }) => (Vec::new(), None, Some(detail)),
        Err(other) => return Err(other),
    };
    let now = Utc::now();
    let lines = items
        .into_iter()
        .map(|t| InboxLine {
            id: t.id,
            received: format::maybe_date_time(t.routed_at),
            waiting: format::age(t.routed_at, now),
            customer: customer_label(
                t.customer_number.as_deref(),
                t.last_name.as_deref(),
                t.first_name.as_deref(),
                t.customer_id.is_some(),
            ),
            customer_href: t
                .customer_id
                .map(|c| format!("{}/customers/{c}", desk.base)),
            channel: t.channel.as_deref().map_or("—", format::channel),
            reason: t
                .reason
                .unwrap_or_else(|| "(motif non transmis)".to_owned()),
            from: sender(t.channel.as_deref(), t.routed_from.as_deref()),
            note: t.routing_note.unwrap_or_default(),
        })
        .collect();
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &InboxPage {
            layout: Layout::desk("Tickets reçus", user, path(desk.department)),
            inbox: desk.inbox(),
            notice,
            lines,
            error,
            first_page: later.then(|| desk.inbox()),
            next_page: next.map(|c| format!("{}?cursor={c}", desk.inbox())),
        },
    )
}

fn customer_label(
    number: Option<&str>,
    last: Option<&str>,
    first: Option<&str>,
    identified: bool,
) -> String {
    if identified {
        lookup::customer_label(number, last, first)
    } else {
        "Appelant non identifié".to_owned()
    }
}

// ---------------------------------------------------------------------------------
// A ticket

#[derive(Debug)]
struct Step {
    at: String,
    operator: String,
    text: String,
}

#[derive(Template)]
#[template(path = "inbox_ticket.html")]
struct TicketPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    alert: Option<String>,
    inbox: String,
    action_url: String,
    resolution_url: String,
    routing_url: String,
    customer: String,
    customer_href: Option<String>,
    channel: &'static str,
    reason: String,
    opened: String,
    from: &'static str,
    received: String,
    note: String,
    steps: Vec<Step>,
    typed: TicketForms,
    errors: FieldErrors,
    destinations: Vec<(&'static str, &'static str)>,
}

/// What the forms of the page hold (kept when one is refused).
#[derive(Debug, Default)]
struct TicketForms {
    action: String,
    resolution: String,
    department: String,
    note: String,
}

#[derive(Default)]
struct TicketState {
    notice: Option<String>,
    alert: Option<String>,
    typed: TicketForms,
    errors: FieldErrors,
}

async fn ticket_page(
    state: &AppState,
    user: &PageUser,
    desk: Desk,
    id: Uuid,
    page: TicketState,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = reads::inbox_ticket(state, desk.department, id).await?;
    let t = view.ticket;
    let destinations = [
        ("customer_service", "Service client"),
        ("legal", "Juridique"),
        ("sales", "Commercial"),
        ("billing", "Facturation"),
    ]
    .into_iter()
    .filter(|(code, _)| *code != desk.code)
    .collect();
    let customer = customer_label(
        t.customer_number.as_deref(),
        t.last_name.as_deref(),
        t.first_name.as_deref(),
        t.customer_id.is_some(),
    );
    render(
        status,
        &TicketPage {
            layout: Layout::desk("Ticket reçu", user, path(desk.department)),
            form_token: user.form_token.clone(),
            notice: page.notice,
            alert: page.alert,
            inbox: desk.inbox(),
            action_url: format!("{}/actions", desk.ticket(id)),
            resolution_url: format!("{}/resolution", desk.ticket(id)),
            routing_url: format!("{}/routing", desk.ticket(id)),
            customer,
            customer_href: t
                .customer_id
                .map(|c| format!("{}/customers/{c}", desk.base)),
            channel: t.channel.as_deref().map_or("—", format::channel),
            reason: t
                .reason
                .unwrap_or_else(|| "(motif non transmis)".to_owned()),
            opened: format::maybe_date_time(t.opened_at),
            from: sender(t.channel.as_deref(), t.routed_from.as_deref()),
            received: format::maybe_date_time(t.routed_at),
            note: t.routing_note.unwrap_or_default(),
            steps: view
                .history
                .into_iter()
                .map(|s| Step {
                    at: format::date_time(s.at),
                    operator: s.operator.unwrap_or_default(),
                    text: s.text.unwrap_or_default(),
                })
                .collect(),
            typed: page.typed,
            errors: page.errors,
            destinations,
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Action,
    Resolve,
    Route,
}

/// Records an action, resolves or routes the ticket; refused input comes back on the
/// ticket's page beside its field, as typed.
async fn act(
    state: &AppState,
    user: &PageUser,
    request: RequestId,
    desk: Desk,
    raw: &str,
    form: &Fields,
    act: Act,
) -> Result<Response, ApiError> {
    let id = path_id(raw, "ticket_not_found", "ticket")?;
    user.check_form(state, form)?;
    let ticket = TicketId::new(id);
    require_holder(state, &user.actor, ticket).await?;
    let typed = TicketForms {
        action: form.get("action").to_owned(),
        resolution: form.get("resolution").to_owned(),
        department: form.get("department").to_owned(),
        note: form.get("note").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let command = match act {
        Act::Action => errors
            .check("action", ActionText::parse(form.get("action")))
            .map(|action| {
                operator(None, &user.actor).map(|operator| TicketCommand::RecordAction {
                    action,
                    at: Utc::now(),
                    operator,
                })
            })
            .transpose()?,
        Act::Resolve => errors
            .check("resolution", Note::parse(form.get("resolution")))
            .map(|resolution| TicketCommand::ResolveTicket {
                resolution,
                at: Utc::now(),
            }),
        Act::Route => {
            let department = match form.get("department").parse::<lae_domain::Department>() {
                Ok(d) if form.get("department") != desk.code => Some(d),
                _ => {
                    errors.add("department", "Choisissez le service qui reprend le ticket.");
                    None
                }
            };
            let note = errors.check_optional("note", form.optional("note"), Note::parse);
            match (department, note) {
                (Some(department), Some(note)) => Some(TicketCommand::RouteTicket {
                    department,
                    at: Utc::now(),
                    note,
                }),
                _ => None,
            }
        }
    };
    let refused = |errors: FieldErrors, typed: TicketForms| {
        ticket_page(
            state,
            user,
            desk,
            id,
            TicketState {
                typed,
                errors,
                ..TicketState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let Some(command) = command else {
        return refused(errors, typed).await;
    };
    let executed = state
        .tickets
        .execute(
            &ticket.to_string(),
            command,
            &metadata(&user.actor, request),
        )
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            let shown = await_version(
                state,
                desk.department,
                desk.version_sql,
                id,
                committed.version,
            )
            .await;
            Ok(see_other(&match act {
                Act::Action => lookup::after(&desk.ticket(id), "action", shown),
                Act::Resolve => lookup::after(&desk.inbox(), "resolved", shown),
                Act::Route => lookup::after(&desk.inbox(), "routed", shown),
            }))
        }
        Err(e) => {
            let field = match act {
                Act::Action => "action",
                Act::Resolve => "resolution",
                Act::Route => "department",
            };
            match FieldErrors::from_refusal(&e, field) {
                Some(errors) => refused(errors, typed).await,
                None => Err(e),
            }
        }
    }
}

/// Who handed the ticket over, in French: the platform for its own notices (channel
/// `internal`: a reactor opened and routed them), else the department it came from.
fn sender(channel: Option<&str>, routed_from: Option<&str>) -> &'static str {
    if channel == Some("internal") {
        "Plateforme (automatique)"
    } else {
        format::department(routed_from.unwrap_or_default())
    }
}
