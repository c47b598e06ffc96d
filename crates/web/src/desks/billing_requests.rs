//! The billing desk's invoice requests ("Demandes de facture"): what sales asked
//! billing to invoice and billing has not decided on, oldest first, each with
//! "Émettre" (the invoice for the requested amount, issued today) and "Refuser" (with
//! the reason sales will read). The same read and use cases as
//! `GET /api/v1/billing/invoice-requests` and its `issue` / `refuse` commands.

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
use lae_api::routes::invoice_requests::{issue_request, refuse_request};
use lae_api::routes::metadata;
use lae_api::routes::queries::billing as reads;
use lae_domain::{InvoiceId, Reason};
use lae_projections::Department;
use uuid::Uuid;

use super::lookup::{self, await_version, full_name, path_id};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

pub const REQUESTS: &str = "/desk/billing/invoice-requests";

/// The request leaves the pending list once billing's read model has its decision.
const REQUEST_VERSION: &str =
    "SELECT version FROM billing.invoice_requests WHERE invoice_id = $1 AND status <> 'pending'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(REQUESTS, get(list))
        .route("/desk/billing/invoice-requests/{id}/issue", post(issue))
        .route("/desk/billing/invoice-requests/{id}/refuse", post(refuse))
}

struct RequestLine {
    id: Uuid,
    customer_id: Uuid,
    customer: String,
    number: String,
    amount: String,
    label: String,
    requested: String,
    version: i64,
    /// The refusal reason as typed, and what is wrong with it (this line only).
    reason: String,
    reason_error: Option<String>,
}

#[derive(Template)]
#[template(path = "billing_requests.html")]
struct RequestsPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    alert: Option<String>,
    requests: Vec<RequestLine>,
}

/// A refusal sent back to its line with the reason kept.
struct Refused {
    id: Uuid,
    reason: String,
    error: String,
}

async fn page(
    state: &AppState,
    user: &PageUser,
    notice: Option<String>,
    alert: Option<String>,
    refused: Option<Refused>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let requests = reads::pending_invoice_requests(state)
        .await?
        .into_iter()
        .map(|r| {
            let mine = refused.as_ref().filter(|f| f.id == r.id);
            RequestLine {
                id: r.id,
                customer_id: r.customer_id,
                customer: full_name(r.last_name.as_deref(), r.first_name.as_deref()),
                number: r.customer_number.unwrap_or_default(),
                amount: format::amount(r.amount_cents),
                label: r.label,
                requested: format::date(r.requested_on),
                version: r.version,
                reason: mine.map(|f| f.reason.clone()).unwrap_or_default(),
                reason_error: mine.map(|f| f.error.clone()),
            }
        })
        .collect();
    render(
        status,
        &RequestsPage {
            layout: Layout::desk("Demandes de facture", user, REQUESTS),
            form_token: user.form_token.clone(),
            notice,
            alert,
            requests,
        },
    )
}

/// `GET /desk/billing/invoice-requests`.
async fn list(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[
            (
                "issued",
                "Facture émise : le département Vente en est informé.",
            ),
            (
                "refused",
                "Demande refusée : le département Vente en est informé avec le motif.",
            ),
        ],
    );
    page(&state, &user, notice, None, None, StatusCode::OK).await
}

/// The version the form was shown at (`If-Match`): a request changed since is refused.
fn shown_version(form: &Fields) -> Option<usize> {
    form.get("version").parse().ok()
}

/// `POST /desk/billing/invoice-requests/{id}/issue`: issued today, due today.
async fn issue(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "invoice_request_not_found", "demande de facture")?;
    user.check_form(&state, &form)?;
    let issued = issue_request(
        &state,
        &metadata(&user.actor, request),
        InvoiceId::new(id),
        Utc::now().date_naive(),
        None,
        shown_version(&form),
    )
    .await;
    match issued {
        Ok(answer) => {
            let shown = await_version(
                &state,
                Department::Billing,
                REQUEST_VERSION,
                id,
                answer.version,
            )
            .await;
            Ok(see_other(&lookup::after(REQUESTS, "issued", shown)))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "request") {
            Some(errors) => {
                let alert = errors.of("request").map(str::to_owned).or_else(|| {
                    Some("La facture n'a pas été émise : rechargez la page.".to_owned())
                });
                page(&state, &user, None, alert, None, StatusCode::CONFLICT).await
            }
            None => Err(e),
        },
    }
}

/// `POST /desk/billing/invoice-requests/{id}/refuse`: a reason is required.
async fn refuse(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "invoice_request_not_found", "demande de facture")?;
    user.check_form(&state, &form)?;
    let typed = form.get("reason").to_owned();
    let mut errors = FieldErrors::default();
    let Some(reason) = errors.check("reason", Reason::parse(&typed)) else {
        let error = errors
            .of("reason")
            .unwrap_or("Indiquez le motif du refus.")
            .to_owned();
        let refused = Refused {
            id,
            reason: typed,
            error,
        };
        return page(
            &state,
            &user,
            None,
            None,
            Some(refused),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let done = refuse_request(
        &state,
        &metadata(&user.actor, request),
        InvoiceId::new(id),
        reason,
        Utc::now().date_naive(),
        shown_version(&form),
    )
    .await;
    match done {
        Ok(answer) => {
            let shown = await_version(
                &state,
                Department::Billing,
                REQUEST_VERSION,
                id,
                answer.version,
            )
            .await;
            Ok(see_other(&lookup::after(REQUESTS, "refused", shown)))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "reason") {
            Some(errors) => {
                let refused = Refused {
                    id,
                    reason: typed,
                    error: errors
                        .of("reason")
                        .or_else(|| errors.of("refused_on"))
                        .unwrap_or("La demande n'a pas été refusée : rechargez la page.")
                        .to_owned(),
                };
                page(
                    &state,
                    &user,
                    None,
                    None,
                    Some(refused),
                    StatusCode::CONFLICT,
                )
                .await
            }
            None => Err(e),
        },
    }
}
