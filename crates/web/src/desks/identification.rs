//! Customer service's "to identify" tickets: a call or mail logged before the caller
//! was known (a prospect, an unknown address) waits in the queue, marked "À
//! identifier", until an agent finds the customer and links the ticket to them
//! (`TicketCommand::IdentifyCaller`, as `POST /api/v1/tickets/{id}/identification`).
//! The ticket then appears on the customer's card with its history.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use lae_api::AppState;
use lae_api::extract::RequestId;
use lae_api::problem::ApiError;
use lae_api::routes::metadata;
use lae_api::routes::queries::customer_service as reads;
use lae_domain::ticket::TicketCommand;
use lae_domain::{CustomerId, TicketId};
use lae_projections::Department;
use uuid::Uuid;

use super::lookup::{self, Results, await_version, path_id};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::Fields;
use crate::session::PageUser;

const QUEUE: &str = "/desk/customer-service/tickets";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/desk/customer-service/tickets/{id}/identification",
            get(page).post(identify),
        )
        .route(
            "/desk/customer-service/tickets/{id}/identification/search",
            post(search),
        )
}

#[derive(Template)]
#[template(path = "cs_identify.html")]
struct IdentifyPage {
    layout: Layout,
    form_token: String,
    action: String,
    search_action: String,
    reason: String,
    channel: &'static str,
    opened: String,
    operator: String,
    results: Results,
    alert: Option<String>,
}

async fn render_page(
    state: &AppState,
    user: &PageUser,
    id: Uuid,
    results: Results,
    alert: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let ticket = reads::open_ticket(state, id).await?;
    if let Some(customer) = ticket.customer_id {
        // Already identified (by a colleague, a moment ago): to the card.
        return Ok(see_other(&format!(
            "/desk/customer-service/customers/{customer}#ticket-{id}"
        )));
    }
    render(
        status,
        &IdentifyPage {
            layout: Layout::desk("Identifier l'appelant", user, QUEUE),
            form_token: user.form_token.clone(),
            action: format!("{QUEUE}/{id}/identification"),
            search_action: format!("{QUEUE}/{id}/identification/search"),
            reason: ticket.reason.unwrap_or_default(),
            channel: format::channel(ticket.channel.as_deref().unwrap_or_default()),
            opened: format::maybe_date_time(ticket.opened_at),
            operator: ticket.operator.unwrap_or_default(),
            results,
            alert,
        },
    )
}

/// `GET …/tickets/{id}/identification`.
async fn page(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "ticket_not_found", "ticket")?;
    let results = Results::empty(QUEUE, &user.form_token);
    render_page(&state, &user, id, results, None, StatusCode::OK).await
}

/// `POST …/tickets/{id}/identification/search`: the customer search, in place.
async fn search(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "ticket_not_found", "ticket")?;
    user.check_form(&state, &form)?;
    let results = lookup::search(
        &state,
        Department::CustomerService,
        QUEUE,
        &user.form_token,
        &form,
    )
    .await?;
    let status = if results.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_page(&state, &user, id, results, None, status).await
}

/// `POST …/tickets/{id}/identification`: links the ticket to the chosen customer.
async fn identify(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "ticket_not_found", "ticket")?;
    user.check_form(&state, &form)?;
    let Ok(customer) = form.get("customer").parse::<Uuid>() else {
        let results = Results::empty(QUEUE, &user.form_token);
        return render_page(
            &state,
            &user,
            id,
            results,
            Some("Choisissez le client dans les résultats de la recherche.".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let customer_id = CustomerId::new(customer);
    lae_api::routes::require_customer(&state, &customer_id, "customer").await?;
    let executed = state
        .tickets
        .execute(
            &TicketId::new(id).to_string(),
            TicketCommand::IdentifyCaller {
                customer_id,
                at: Utc::now(),
            },
            &metadata(&user.actor, request),
        )
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            let shown = await_version(
                &state,
                Department::CustomerService,
                "SELECT version FROM customer_service.tickets WHERE ticket_id = $1",
                id,
                committed.version,
            )
            .await;
            let card = lookup::after(
                &format!("/desk/customer-service/customers/{customer}"),
                "identified",
                shown,
            );
            Ok(see_other(&format!("{card}#ticket-{id}")))
        }
        Err(e) => match crate::forms::FieldErrors::from_refusal(&e, "customer") {
            Some(errors) => {
                let message = errors
                    .of("customer")
                    .or(errors.of("customer_id"))
                    .unwrap_or("La demande a été refusée.")
                    .to_owned();
                render_page(
                    &state,
                    &user,
                    id,
                    Results::empty(QUEUE, &user.form_token),
                    Some(format!("Ticket non rattaché : {message}")),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => Err(e),
        },
    }
}
