//! The billing cycle over HTTP (billing): run a month's collection, download its SEPA
//! file, upload the bank's status report. The use cases are `crate::billing_cycle`'s,
//! the same as `lae billing collect` and `lae billing import-status`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;

use super::metadata;
use crate::auth::Actor;
use crate::billing_cycle::{self, CollectionSummary, Requester, StatusImport};
use crate::extract::{RequestId, ValidJson};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/billing/collections", post(collect))
        .route("/billing/collections/{date}/file", get(file))
        .route("/billing/payment-status", post(payment_status))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Collect {
    /// The collection date: the month containing it is invoiced.
    date: NaiveDate,
}

fn requester(actor: &Actor, request: RequestId) -> Requester {
    Requester {
        user: actor.username.clone(),
        role: actor.role.as_str().into(),
        request_id: Some(request.0.to_string()),
    }
}

/// Issues the month's invoices and answers the collection's summary, with the
/// path of its file (`file`, null when there is nothing to debit).
async fn collect(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    ValidJson(body): ValidJson<Collect>,
) -> Result<Response, ApiError> {
    let collection = billing_cycle::collect(
        &state,
        &metadata(&actor, request),
        &requester(&actor, request),
        body.date,
    )
    .await?;
    Ok(axum::Json(collection.summary).into_response())
}

/// The `pain.008.001.02` file of a date, as `application/xml` (derived: the same
/// bytes as the collection that issued it answered). Reads only.
async fn file(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    Path(date): Path<String>,
) -> Result<Response, ApiError> {
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_parameter(
            "invalid_date",
            "date",
            format!("« {date} » n'est pas une date (AAAA-MM-JJ)."),
        )
    })?;
    let collection = billing_cycle::render(&state, &requester(&actor, request), date).await?;
    let Some(xml) = collection.xml else {
        return Err(ApiError::NotFound {
            code: "no_collection",
            detail: format!("Aucun prélèvement à présenter pour le {date}."),
        });
    };
    let mut response = xml.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"sdd-{date}.xml\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Records the rejections of a `pain.002.001.03` report sent as the body
/// (`application/xml`). 422 naming the transactions when one names no invoice
/// (nothing is recorded then) or when an invoice refused its rejection.
async fn payment_status(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let xml_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == mime::XML || m.suffix() == Some(mime::XML));
    if !xml_type {
        return Err(ApiError::UnsupportedMediaType);
    }
    let xml = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("not_utf8", "file", "Le fichier n'est pas en UTF-8."))?;
    let outcome: StatusImport =
        billing_cycle::import_status(&state, &metadata(&actor, request), xml).await?;
    if let Some(first) = outcome.unknown.first() {
        return Err(ApiError::invalid(
            "unknown_transaction",
            "file",
            format!(
                "Transaction n° {} : « {} » ne désigne aucune facture ; rien n'a été enregistré.",
                first.position, first.end_to_end_id
            ),
        ));
    }
    if let Some(first) = outcome.refused.first() {
        return Err(ApiError::invalid(
            "rejection_refused",
            "file",
            format!(
                "{} rejet(s) enregistré(s) ; la facture {} a refusé le sien : {}",
                outcome.recorded.len(),
                first.invoice_id,
                first.detail
            ),
        ));
    }
    Ok(axum::Json(outcome).into_response())
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Collect, CollectionSummary>(Method::POST, "/api/v1/billing/collections", 200);
    doc.bare(Method::GET, "/api/v1/billing/collections/{date}/file", 200);
    doc.bare(Method::POST, "/api/v1/billing/payment-status", 200);
}
