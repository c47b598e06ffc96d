//! The customer service desk: the call screen (one search box), the customer card
//! (contact details edited in place, a call or mail logged in three actions, the
//! ticket history), registration of a new customer, and the team's queue.
//!
//! Reads go through customer service's read model with its reader role, by the same
//! functions as `GET /api/v1/customer-service/…`; commands through the same executors
//! and use cases as the JSON commands. After a command the page waits (briefly) for
//! the read model to hold the new version, so the agent sees what they just did.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use lae_api::AppState;
use lae_api::extract::RequestId;
use lae_api::problem::ApiError;
use lae_api::routes::customers::{Registration, register_customer};
use lae_api::routes::metadata;
use lae_api::routes::queries::customer_service::{self as reads, QueueParams};
use lae_api::routes::queries::search::{self, SearchParams};
use lae_api::routes::tickets::{open_ticket, operator};
use lae_domain::customer::CustomerCommand;
use lae_domain::ticket::TicketCommand;
use lae_domain::{
    ActionText, Availability, Channel, CustomerId, Department, Email, Note, PersonName,
    PhoneNumber, Reason, ReasonCode, Satisfaction, TicketId,
};
use lae_projections::Department as ReadModel;
use serde::Deserialize;
use uuid::Uuid;

use super::lookup::full_name;
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

const HOME: &str = "/desk/customer-service";
const QUEUE: &str = "/desk/customer-service/tickets";
const NEW: &str = "/desk/customer-service/customers/new";
/// Results per page of the search.
const PAGE_SIZE: u32 = 20;
/// How long a page waits for the read model to show a command it just sent.
const READ_YOUR_WRITE: Duration = Duration::from_secs(3);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(search_page))
        .route("/desk/customer-service/search", post(search))
        .route(NEW, get(new_customer))
        .route("/desk/customer-service/customers", post(register))
        .route("/desk/customer-service/customers/{id}", get(card))
        .route(
            "/desk/customer-service/customers/{id}/contact-details",
            post(change_contact_details),
        )
        .route(
            "/desk/customer-service/customers/{id}/tickets",
            post(log_ticket),
        )
        .route(QUEUE, get(queue))
        .route(
            "/desk/customer-service/tickets/{id}/actions",
            post(record_action),
        )
        .route(
            "/desk/customer-service/tickets/{id}/routing",
            post(route_ticket),
        )
        .route(
            "/desk/customer-service/tickets/{id}/resolution",
            post(resolve_ticket),
        )
        .route(
            "/desk/customer-service/tickets/{id}/satisfaction",
            post(rate_ticket),
        )
}

// ---------------------------------------------------------------------------------
// Search

/// One line of the search results.
#[derive(Debug)]
struct ResultLine {
    id: Uuid,
    name: String,
    number: String,
    phone: String,
    email: String,
}

/// The results region (the whole page without htmx, the region alone with it).
#[derive(Debug, Default)]
struct Results {
    q: String,
    searched: bool,
    error: Option<String>,
    items: Vec<ResultLine>,
    next_cursor: Option<String>,
    form_token: String,
}

#[derive(Template)]
#[template(path = "cs_search.html")]
struct SearchPage {
    layout: Layout,
    form_token: String,
    results: Results,
}

#[derive(Template)]
#[template(path = "cs_results.html")]
struct ResultsPartial {
    results: Results,
}

/// `GET /desk/customer-service`: the call screen.
async fn search_page(user: PageUser) -> Result<Response, ApiError> {
    let results = Results {
        form_token: user.form_token.clone(),
        ..Results::default()
    };
    render(
        StatusCode::OK,
        &SearchPage {
            layout: Layout::desk("Recherche client", &user, HOME),
            form_token: user.form_token.clone(),
            results,
        },
    )
}

/// `POST /desk/customer-service/search`: what the caller gave (a name without
/// accents, a phone in any format, an e-mail, a customer number). Posted, so that
/// nothing personal ends up in an address or an access log.
async fn search(
    State(state): State<AppState>,
    user: PageUser,
    headers: HeaderMap,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let q = form.get("q").trim().to_owned();
    let mut results = Results {
        q: q.clone(),
        form_token: user.form_token.clone(),
        ..Results::default()
    };
    if !q.is_empty() {
        results.searched = true;
        let params =
            SearchParams::free_text(&q, PAGE_SIZE, form.optional("cursor").map(str::to_owned));
        match search::page(&state, ReadModel::CustomerService, &params).await {
            Ok(page) => {
                results.items = page
                    .items
                    .into_iter()
                    .map(|c| ResultLine {
                        id: c.id,
                        name: full_name(c.last_name.as_deref(), c.first_name.as_deref()),
                        number: c.customer_number.unwrap_or_default(),
                        phone: c.phone.as_deref().map(format::phone).unwrap_or_default(),
                        email: c.email.unwrap_or_default(),
                    })
                    .collect();
                results.next_cursor = page.next_cursor;
            }
            Err(ApiError::BadParameter { detail, .. }) => {
                results.searched = false;
                results.error = Some(search_message(&detail));
            }
            Err(other) => return Err(other),
        }
    }
    if headers.contains_key("hx-request") {
        return render(StatusCode::OK, &ResultsPartial { results });
    }
    let status = if results.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &SearchPage {
            layout: Layout::desk("Recherche client", &user, HOME),
            form_token: user.form_token.clone(),
            results,
        },
    )
}

/// The API's parameter message, for someone who typed in a box.
fn search_message(detail: &str) -> String {
    match detail.split_once(" : ") {
        Some((_, why)) => {
            let why = why.trim_end_matches('.');
            let mut s = String::from("Recherche impossible : ");
            s.push_str(why);
            s.push('.');
            s
        }
        None => detail.to_owned(),
    }
}

// ---------------------------------------------------------------------------------
// Registration

/// The registration form's values, as typed.
#[derive(Debug, Default)]
struct NewCustomerForm {
    id: String,
    last_name: String,
    first_name: String,
    email: String,
    phone: String,
    availability: String,
}

#[derive(Template)]
#[template(path = "cs_new.html")]
struct NewCustomerPage {
    layout: Layout,
    form_token: String,
    form: NewCustomerForm,
    errors: FieldErrors,
}

/// `GET /desk/customer-service/customers/new`.
async fn new_customer(user: PageUser) -> Result<Response, ApiError> {
    render(
        StatusCode::OK,
        &NewCustomerPage {
            layout: Layout::desk("Nouveau client", &user, NEW),
            form_token: user.form_token.clone(),
            // Sent back with the form: a double submission is one customer.
            form: NewCustomerForm {
                id: Uuid::new_v4().to_string(),
                ..NewCustomerForm::default()
            },
            errors: FieldErrors::default(),
        },
    )
}

/// `POST /desk/customer-service/customers`: registers the customer (the same use case
/// as `POST /api/v1/customers`) and opens their card.
async fn register(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let typed = NewCustomerForm {
        id: form.get("id").to_owned(),
        last_name: form.get("last_name").to_owned(),
        first_name: form.get("first_name").to_owned(),
        email: form.get("email").to_owned(),
        phone: form.get("phone").to_owned(),
        availability: form.get("availability").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let contact = check_contact(&form, &mut errors);
    let customer_id = match form.optional("id").map(str::parse::<Uuid>) {
        Some(Ok(id)) => CustomerId::new(id),
        _ => CustomerId::new(Uuid::new_v4()),
    };
    let refused = |errors: FieldErrors, typed: NewCustomerForm| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewCustomerPage {
                layout: Layout::desk("Nouveau client", &user, NEW),
                form_token: user.form_token.clone(),
                form: typed,
                errors,
            },
        )
    };
    let Some(contact) = contact.filter(|_| errors.is_empty()) else {
        return refused(errors, typed);
    };
    let registration = Registration {
        customer_id,
        last_name: contact.last_name,
        first_name: contact.first_name,
        email: contact.email,
        phone: contact.phone,
        availability: contact.availability,
    };
    match register_customer(&state, registration, &metadata(&user.actor, request)).await {
        Ok((committed, _)) => {
            let shown = await_customer(&state, *customer_id.as_uuid(), committed.version).await;
            Ok(see_other(&card_url(
                *customer_id.as_uuid(),
                "registered",
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "last_name") {
            Some(errors) => refused(errors, typed),
            None => Err(e),
        },
    }
}

/// Contact details, checked by the domain's value types.
struct Contact {
    last_name: PersonName,
    first_name: PersonName,
    email: Option<Email>,
    phone: Option<PhoneNumber>,
    availability: Availability,
}

fn check_contact(form: &Fields, errors: &mut FieldErrors) -> Option<Contact> {
    let last_name = errors.check("last_name", PersonName::parse(form.get("last_name")));
    let first_name = errors.check("first_name", PersonName::parse(form.get("first_name")));
    let email = errors.check_optional("email", form.optional("email"), Email::parse);
    let phone = errors.check_optional("phone", form.optional("phone"), PhoneNumber::parse);
    let availability = errors.check(
        "availability",
        Availability::parse(form.get("availability")),
    );
    Some(Contact {
        last_name: last_name?,
        first_name: first_name?,
        email: email?,
        phone: phone?,
        availability: availability?,
    })
}

// ---------------------------------------------------------------------------------
// The customer card

/// The card as shown.
#[derive(Debug)]
struct CardView {
    id: Uuid,
    name: String,
    number: String,
    phone: String,
    email: String,
    availability: String,
    registered: String,
    open_tickets: i64,
}

/// The contact form's values: the card's, or what the agent typed.
#[derive(Debug, Default)]
struct ContactForm {
    last_name: String,
    first_name: String,
    email: String,
    phone: String,
    availability: String,
    version: String,
}

/// The call form's values.
#[derive(Debug, Default)]
struct TicketForm {
    channel: String,
    reason: String,
    detail: String,
    action: String,
}

#[derive(Debug)]
struct ReasonOption {
    code: String,
    label: String,
}

#[derive(Debug)]
struct StepView {
    at: String,
    kind: &'static str,
    text: String,
    operator: String,
}

#[derive(Debug)]
struct TicketView {
    id: Uuid,
    opened: String,
    channel: &'static str,
    reason: String,
    department: &'static str,
    status: &'static str,
    status_code: String,
    open: bool,
    /// Resolved, a customer's contact, and not rated yet: satisfaction can be recorded.
    rateable: bool,
    steps: Vec<StepView>,
}

#[derive(Template)]
#[template(path = "cs_customer.html")]
struct CardPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    alert: Option<String>,
    card: CardView,
    contact: ContactForm,
    contact_errors: FieldErrors,
    ticket: TicketForm,
    ticket_errors: FieldErrors,
    reasons: Vec<ReasonOption>,
    tickets: Vec<TicketView>,
}

/// What a card page shows besides the card: the notice after a redirect, or the
/// forms as typed and refused.
#[derive(Default)]
struct CardState {
    notice: Option<String>,
    alert: Option<String>,
    contact: Option<ContactForm>,
    contact_errors: FieldErrors,
    ticket: Option<TicketForm>,
    ticket_errors: FieldErrors,
}

/// `GET /desk/customer-service/customers/{id}`.
async fn card(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = customer_path(&id)?;
    let query = query.unwrap_or_default();
    let pending = query.contains("pending=1");
    let notice = [
        ("ok=registered", "Client enregistré."),
        (
            "ok=contact",
            "Coordonnées enregistrées : tous les services les voient.",
        ),
        ("ok=ticket", "Appel enregistré."),
        ("ok=resolved", "Ticket clos."),
        ("ok=rated", "Satisfaction du client enregistrée."),
        ("ok=routed", "Ticket transmis."),
        ("ok=action", "Action enregistrée."),
        (
            "ok=identified",
            "Ticket rattaché à ce client : il figure dans son historique.",
        ),
    ]
    .iter()
    .find(|(key, _)| query.split('&').any(|p| p == *key))
    .map(|(_, text)| {
        if pending {
            format!("{text} L'affichage sera à jour dans quelques instants.")
        } else {
            (*text).to_owned()
        }
    });
    let page_state = CardState {
        notice,
        ..CardState::default()
    };
    card_page(&state, &user, id, page_state, StatusCode::OK).await
}

async fn card_page(
    state: &AppState,
    user: &PageUser,
    id: Uuid,
    page: CardState,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = reads::card(state, id).await?;
    let tickets = reads::customer_tickets(state, id).await?;
    let reasons = reasons(state).await?;
    let c = view.customer;
    let contact = page.contact.unwrap_or_else(|| ContactForm {
        last_name: c.last_name.clone().unwrap_or_default(),
        first_name: c.first_name.clone().unwrap_or_default(),
        email: c.email.clone().unwrap_or_default(),
        phone: c.phone.as_deref().map(format::phone).unwrap_or_default(),
        availability: c.availability.clone().unwrap_or_default(),
        version: c.version.to_string(),
    });
    let card = CardView {
        id: c.id,
        name: full_name(c.last_name.as_deref(), c.first_name.as_deref()),
        number: c.customer_number.unwrap_or_default(),
        phone: c
            .phone
            .as_deref()
            .map_or_else(|| "—".to_owned(), format::phone),
        email: c.email.unwrap_or_else(|| "—".to_owned()),
        availability: c
            .availability
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "—".to_owned()),
        registered: c.registered_at.map_or_else(|| "—".to_owned(), format::day),
        open_tickets: view.open_tickets,
    };
    let tickets = tickets
        .into_iter()
        .map(|t| {
            let status_code = t.status.clone().unwrap_or_default();
            let rateable = status_code == "resolved"
                && t.channel.as_deref() != Some("internal")
                && !t.history.iter().any(|s| s.kind == "rated");
            TicketView {
                rateable,
                id: t.id,
                opened: format::maybe_date_time(t.opened_at),
                channel: format::channel(t.channel.as_deref().unwrap_or_default()),
                reason: t.reason.unwrap_or_default(),
                department: format::department(
                    t.department.as_deref().unwrap_or("customer_service"),
                ),
                status: format::ticket_status(&status_code),
                open: status_code == "open",
                status_code,
                steps: t
                    .history
                    .into_iter()
                    .map(|s| StepView {
                        at: format::date_time(s.at),
                        kind: format::ticket_step(&s.kind),
                        text: match (s.kind.as_str(), s.department.as_deref()) {
                            ("routed", Some(d)) => format!(
                                "vers {}{}",
                                format::department(d),
                                s.text.map(|t| format!(" — {t}")).unwrap_or_default()
                            ),
                            ("rated", _) => {
                                format::satisfaction(s.text.as_deref().unwrap_or_default())
                                    .to_owned()
                            }
                            _ => s.text.unwrap_or_default(),
                        },
                        operator: s.operator.unwrap_or_default(),
                    })
                    .collect(),
            }
        })
        .collect();
    render(
        status,
        &CardPage {
            layout: Layout::desk(card.name.clone(), user, ""),
            form_token: user.form_token.clone(),
            notice: page.notice,
            alert: page.alert,
            card,
            contact,
            contact_errors: page.contact_errors,
            ticket: page.ticket.unwrap_or_else(|| TicketForm {
                channel: "phone".to_owned(),
                ..TicketForm::default()
            }),
            ticket_errors: page.ticket_errors,
            reasons,
            tickets,
        },
    )
}

/// The reasons customer service picks from (`public.ticket_reasons`), in their order.
async fn reasons(state: &AppState) -> Result<Vec<ReasonOption>, ApiError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT code, label FROM public.ticket_reasons WHERE active ORDER BY position, label",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(code, label)| ReasonOption { code, label })
        .collect())
}

/// A customer id from the path, or the 404 page.
fn customer_path(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound {
        code: "customer_not_found",
        detail: "Aucun client à cette adresse.".into(),
    })
}

/// The card's address after a command, saying whether the read model already shows it.
fn card_url(id: Uuid, ok: &str, shown: bool) -> String {
    let pending = if shown { "" } else { "&pending=1" };
    format!("/desk/customer-service/customers/{id}?ok={ok}{pending}")
}

/// `POST …/customers/{id}/contact-details`: the same command as `PUT
/// /api/v1/customers/{id}/contact-details`, at the version the agent saw.
async fn change_contact_details(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = customer_path(&id)?;
    user.check_form(&state, &form)?;
    let typed = ContactForm {
        last_name: form.get("last_name").to_owned(),
        first_name: form.get("first_name").to_owned(),
        email: form.get("email").to_owned(),
        phone: form.get("phone").to_owned(),
        availability: form.get("availability").to_owned(),
        version: form.get("version").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let contact = check_contact(&form, &mut errors);
    let version = errors.check(
        "version",
        form.get("version").parse::<usize>().map_err(
            |_| "la version de la fiche est illisible : rechargez la page avant de modifier",
        ),
    );
    let refused = |errors: FieldErrors, typed: ContactForm| async {
        card_page(
            &state,
            &user,
            id,
            CardState {
                contact: Some(typed),
                contact_errors: errors,
                ..CardState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    };
    let (Some(contact), Some(version)) = (contact, version) else {
        return refused(errors, typed).await;
    };
    let command = CustomerCommand::ChangeContactDetails {
        last_name: contact.last_name,
        first_name: contact.first_name,
        email: contact.email,
        phone: contact.phone,
        availability: contact.availability,
    };
    let result = state
        .customers
        .execute_expecting(
            &id.to_string(),
            command,
            &metadata(&user.actor, request),
            Some(version),
        )
        .await
        .map_err(ApiError::from);
    match result {
        Ok(committed) => {
            let shown = await_customer(&state, id, committed.version).await;
            Ok(see_other(&card_url(id, "contact", shown)))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "version") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

// ---------------------------------------------------------------------------------
// Tickets

/// What follows the call: closed, routed to a department, or left open.
enum Outcome {
    Resolve,
    Route(Department),
    Open,
}

fn outcome(raw: &str) -> Result<Outcome, &'static str> {
    match raw {
        "resolve" => Ok(Outcome::Resolve),
        "open" => Ok(Outcome::Open),
        "route:legal" => Ok(Outcome::Route(Department::Legal)),
        "route:sales" => Ok(Outcome::Route(Department::Sales)),
        "route:billing" => Ok(Outcome::Route(Department::Billing)),
        _ => Err("choisissez la suite à donner : clore, transmettre ou laisser ouvert"),
    }
}

/// `POST …/customers/{id}/tickets`: a call or mail in one form: channel (phone by
/// default), reason, actions taken, and what follows (one button). Every field is
/// checked before the first command, so a refused form writes nothing.
async fn log_ticket(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let customer = customer_path(&id)?;
    user.check_form(&state, &form)?;
    let typed = TicketForm {
        channel: form.get("channel").to_owned(),
        reason: form.get("reason").to_owned(),
        detail: form.get("detail").to_owned(),
        action: form.get("action").to_owned(),
    };
    let reasons = reasons(&state).await?;
    let mut errors = FieldErrors::default();
    let channel = errors.check("channel", form.get("channel").parse::<Channel>());
    let label = match reasons.iter().find(|r| r.code == form.get("reason")) {
        Some(r) => Some(r.label.clone()),
        None => {
            errors.add("reason", "Choisissez le motif de l'appel dans la liste.");
            None
        }
    };
    let reason = label.and_then(|label| {
        let text = match form.optional("detail") {
            Some(detail) => format!("{label} : {detail}"),
            None => label,
        };
        errors.check("detail", Reason::parse(&text))
    });
    let action = errors.check_optional("action", form.optional("action"), ActionText::parse);
    let outcome = errors.check("outcome", outcome(form.get("outcome")));
    let operator = operator(None, &user.actor)?;
    let refused = |errors: FieldErrors, typed: TicketForm| async {
        card_page(
            &state,
            &user,
            customer,
            CardState {
                ticket: Some(typed),
                ticket_errors: errors,
                ..CardState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    };
    let (Some(channel), Some(reason), Some(action), Some(outcome)) =
        (channel, reason, action, outcome)
    else {
        return refused(errors, typed).await;
    };
    let ticket_id = TicketId::new(Uuid::new_v4());
    let meta = metadata(&user.actor, request);
    let now = Utc::now();
    let open = TicketCommand::OpenTicket {
        channel,
        reason,
        opened_at: now,
        operator: operator.clone(),
        customer_id: Some(CustomerId::new(customer)),
        // The code was checked against the list above.
        category: ReasonCode::parse(form.get("reason")).ok(),
    };
    let mut version = match open_ticket(&state, ticket_id, open, &meta).await {
        Ok(committed) => committed.version,
        Err(e) => {
            return match FieldErrors::from_refusal(&e, "reason") {
                Some(errors) => refused(errors, typed).await,
                None => Err(e),
            };
        }
    };
    let mut follow_up = Vec::new();
    if let Some(action) = action {
        follow_up.push(TicketCommand::RecordAction {
            action,
            at: now,
            operator,
        });
    }
    match outcome {
        Outcome::Resolve => follow_up.push(TicketCommand::ResolveTicket {
            resolution: Note::parse("Traité au premier contact").map_err(ApiError::internal)?,
            at: now,
        }),
        Outcome::Route(department) => follow_up.push(TicketCommand::RouteTicket {
            department,
            at: now,
            note: None,
        }),
        Outcome::Open => {}
    }
    for command in follow_up {
        // The ticket exists now: a failure here is the platform's, not the form's.
        version = state
            .tickets
            .execute(&ticket_id.to_string(), command, &meta)
            .await?
            .version;
    }
    let shown = await_ticket(&state, *ticket_id.as_uuid(), version).await;
    Ok(see_other(&format!(
        "{}#ticket-{}",
        card_url(customer, "ticket", shown),
        *ticket_id.as_uuid()
    )))
}

/// After a command on a ticket: back to the customer's card (or the queue).
async fn after_ticket_command(
    state: &AppState,
    form: &Fields,
    ticket: Uuid,
    version: usize,
    ok: &str,
) -> Response {
    let shown = await_ticket(state, ticket, version).await;
    match form
        .optional("customer")
        .and_then(|c| c.parse::<Uuid>().ok())
    {
        Some(customer) => see_other(&format!(
            "{}#ticket-{ticket}",
            card_url(customer, ok, shown)
        )),
        None => see_other(QUEUE),
    }
}

/// A ticket command refused: back on the card with the reason, or as a page.
async fn ticket_refused(
    state: &AppState,
    user: &PageUser,
    form: &Fields,
    error: ApiError,
) -> Result<Response, ApiError> {
    let Some(errors) = FieldErrors::from_refusal(&error, "ticket") else {
        return Err(error);
    };
    let message = errors
        .of("resolution")
        .or(errors.of("action"))
        .or(errors.of("department"))
        .or(errors.of("ticket"))
        .unwrap_or("La demande a été refusée.")
        .to_owned();
    match form
        .optional("customer")
        .and_then(|c| c.parse::<Uuid>().ok())
    {
        Some(customer) => {
            card_page(
                state,
                user,
                customer,
                CardState {
                    alert: Some(format!("Ticket non modifié : {message}")),
                    ..CardState::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        None => Err(error),
    }
}

fn ticket_path(raw: &str) -> Result<TicketId, ApiError> {
    raw.parse::<Uuid>()
        .map(TicketId::new)
        .map_err(|_| ApiError::NotFound {
            code: "ticket_not_found",
            detail: "Aucun ticket à cette adresse.".into(),
        })
}

/// `POST …/tickets/{id}/actions`.
async fn record_action(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let ticket = ticket_path(&id)?;
    user.check_form(&state, &form)?;
    let command = ActionText::parse(form.get("action"))
        .map_err(|e| ApiError::invalid("invalid_action", "action", e.to_string()))
        .and_then(|action| {
            Ok(TicketCommand::RecordAction {
                action,
                at: Utc::now(),
                operator: operator(None, &user.actor)?,
            })
        });
    run_ticket_command(&state, &user, request, ticket, &form, command, "action").await
}

/// `POST …/tickets/{id}/routing`.
async fn route_ticket(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let ticket = ticket_path(&id)?;
    user.check_form(&state, &form)?;
    let command = form
        .get("department")
        .parse::<Department>()
        .map_err(|e| ApiError::invalid("invalid_department", "department", e.to_string()))
        .and_then(|department| {
            let note = form
                .optional("note")
                .map(Note::parse)
                .transpose()
                .map_err(|e| ApiError::invalid("invalid_note", "note", e.to_string()))?;
            Ok(TicketCommand::RouteTicket {
                department,
                at: Utc::now(),
                note,
            })
        });
    run_ticket_command(&state, &user, request, ticket, &form, command, "routed").await
}

/// `POST …/tickets/{id}/resolution`.
async fn resolve_ticket(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let ticket = ticket_path(&id)?;
    user.check_form(&state, &form)?;
    let command = Note::parse(form.get("resolution"))
        .map_err(|e| ApiError::invalid("invalid_resolution", "resolution", e.to_string()))
        .map(|resolution| TicketCommand::ResolveTicket {
            resolution,
            at: Utc::now(),
        });
    run_ticket_command(&state, &user, request, ticket, &form, command, "resolved").await
}

/// `POST …/tickets/{id}/satisfaction`: the customer's answer to "êtes-vous satisfait ?"
/// after the resolution, one button each.
async fn rate_ticket(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let ticket = ticket_path(&id)?;
    user.check_form(&state, &form)?;
    let command = form
        .get("score")
        .parse::<Satisfaction>()
        .map_err(|_| {
            ApiError::invalid(
                "invalid_score",
                "score",
                "Choisissez « Satisfait » ou « Insatisfait ».",
            )
        })
        .map(|score| TicketCommand::RateSatisfaction {
            score,
            at: Utc::now(),
        });
    run_ticket_command(&state, &user, request, ticket, &form, command, "rated").await
}

async fn run_ticket_command(
    state: &AppState,
    user: &PageUser,
    request: RequestId,
    ticket: TicketId,
    form: &Fields,
    command: Result<TicketCommand, ApiError>,
    ok: &str,
) -> Result<Response, ApiError> {
    let command = match command {
        Ok(command) => command,
        Err(e) => return ticket_refused(state, user, form, e).await,
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
            Ok(after_ticket_command(state, form, *ticket.as_uuid(), committed.version, ok).await)
        }
        Err(e) => ticket_refused(state, user, form, e).await,
    }
}

// ---------------------------------------------------------------------------------
// The queue

#[derive(Debug, Default, Deserialize)]
struct QueueQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    to_identify: String,
    #[serde(default)]
    cursor: String,
}

#[derive(Debug)]
struct QueueLine {
    id: Uuid,
    opened: String,
    age: String,
    customer: String,
    customer_href: Option<String>,
    channel: &'static str,
    reason: String,
    department: &'static str,
    actions: i32,
}

#[derive(Template)]
#[template(path = "cs_queue.html")]
struct QueuePage {
    layout: Layout,
    filter: QueueQuery,
    filtered: bool,
    reasons: Vec<ReasonOption>,
    departments: Vec<(&'static str, &'static str)>,
    items: Vec<QueueLine>,
    next_cursor: Option<String>,
    error: Option<String>,
}

/// `GET /desk/customer-service/tickets`: open tickets, oldest first, filtered by
/// channel, reason and department (codes only in the address: nothing personal).
async fn queue(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter: QueueQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let reasons = reasons(&state).await?;
    let reason_label = reasons
        .iter()
        .find(|r| r.code == filter.reason)
        .map(|r| r.label.clone());
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let params = QueueParams {
        channel: some(&filter.channel),
        reason: reason_label,
        department: some(&filter.department),
        to_identify: Some(filter.to_identify == "true"),
        limit: Some(50),
        cursor: some(&filter.cursor),
    };
    let (items, next_cursor, error) = match reads::open_tickets(&state, &params).await {
        Ok(page) => (page.items, page.next_cursor, None),
        Err(ApiError::BadParameter { detail, .. }) => (Vec::new(), None, Some(detail)),
        Err(other) => return Err(other),
    };
    let now = Utc::now();
    let items = items
        .into_iter()
        .map(|t| QueueLine {
            id: t.id,
            opened: format::maybe_date_time(t.opened_at),
            age: format::age(t.opened_at, now),
            customer: match (&t.customer_number, &t.last_name) {
                (Some(n), _) => format!(
                    "{} · {n}",
                    full_name(t.last_name.as_deref(), t.first_name.as_deref())
                ),
                _ => full_name(t.last_name.as_deref(), t.first_name.as_deref()),
            },
            customer_href: t
                .customer_id
                .map(|c| format!("/desk/customer-service/customers/{c}")),
            channel: format::channel(t.channel.as_deref().unwrap_or_default()),
            reason: t.reason.unwrap_or_default(),
            department: format::department(t.department.as_deref().unwrap_or("customer_service")),
            actions: t.actions,
        })
        .collect();
    let filtered = !(filter.channel.is_empty()
        && filter.reason.is_empty()
        && filter.department.is_empty()
        && filter.to_identify.is_empty());
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &QueuePage {
            layout: Layout::desk("Tickets ouverts", &user, QUEUE),
            filter,
            filtered,
            reasons,
            departments: vec![
                ("customer_service", "Service client"),
                ("legal", "Juridique"),
                ("sales", "Commercial"),
                ("billing", "Facturation"),
            ],
            items,
            next_cursor,
            error,
        },
    )
}

// ---------------------------------------------------------------------------------
// Reading one's own writes

/// Waits until customer service's read model holds version `version` of the customer
/// (or [`READ_YOUR_WRITE`] passed); whether it does.
async fn await_customer(state: &AppState, id: Uuid, version: usize) -> bool {
    await_version(
        state,
        "SELECT version FROM customer_service.customers WHERE customer_id = $1",
        id,
        version,
    )
    .await
}

/// The same for a ticket.
async fn await_ticket(state: &AppState, id: Uuid, version: usize) -> bool {
    await_version(
        state,
        "SELECT version FROM customer_service.tickets WHERE ticket_id = $1",
        id,
        version,
    )
    .await
}

async fn await_version(state: &AppState, sql: &'static str, id: Uuid, version: usize) -> bool {
    let wanted = i64::try_from(version).unwrap_or(i64::MAX);
    let deadline = tokio::time::Instant::now() + READ_YOUR_WRITE;
    loop {
        let seen = match state
            .queries
            .readers
            .acquire(ReadModel::CustomerService)
            .await
        {
            Ok(mut conn) => {
                let seen: Option<i64> = sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .ok()
                    .flatten();
                conn.release();
                seen
            }
            Err(_) => None,
        };
        if seen.is_some_and(|v| v >= wanted) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}
