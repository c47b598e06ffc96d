//! The auditors' API (auditor role, read-only, through the `lae_auditor` database
//! role): timelines, point-in-time state, verification, export, the access log.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use lae_audit::{AccessEntry, AccessFilter, AccessPageRequest, At, ExportRange, TimelineQuery};
use serde::Deserialize;
use serde_json::Value;

use super::PathId;
use crate::auth::Actor;
use crate::extract::RequestId;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit/customers/{id}/timeline", get(timeline))
        .route("/audit/aggregates/{type}/{id}", get(state_at))
        .route("/audit/verify", get(verify))
        .route("/audit/export", get(export))
        .route("/audit/access-log", get(access_log))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.query::<Value>(Method::GET, "/api/v1/audit/customers/{id}/timeline", 200);
    doc.query::<Value>(Method::GET, "/api/v1/audit/aggregates/{type}/{id}", 200);
    doc.query::<Value>(Method::GET, "/api/v1/audit/verify", 200);
    doc.bare(Method::GET, "/api/v1/audit/export", 200);
    doc.query::<Value>(Method::GET, "/api/v1/audit/access-log", 200);
}

fn auditor(state: &AppState) -> Result<&sqlx::PgPool, ApiError> {
    state
        .audit
        .as_ref()
        .map(|a| &a.pool)
        .ok_or_else(|| ApiError::internal("the auditor database role is not connected"))
}

/// The master keys the auditors' reads open sealed fields with.
fn master_keys(state: &AppState) -> Option<&std::sync::Arc<lae_store::crypto::MasterKeys>> {
    state.audit.as_ref().and_then(|a| a.master_keys.as_ref())
}

/// Query strings parsed into `T`; a problem naming the parameter otherwise.
fn query<T: serde::de::DeserializeOwned>(raw: Option<String>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or_default();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ApiError::invalid(
            "invalid_parameter",
            field.clone(),
            format!("Paramètre « {field} » invalide : {}", e.inner()),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineParams {
    limit: Option<usize>,
    before: Option<String>,
    #[serde(default)]
    include_health: bool,
    purpose: Option<String>,
}

async fn timeline(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    PathId(customer): PathId<uuid::Uuid>,
    RawQuery(params): RawQuery,
) -> Result<Response, ApiError> {
    let params: TimelineParams = query(params)?;
    let before = match params.before {
        Some(cursor) => Some(cursor.parse().map_err(|_| {
            ApiError::invalid(
                "invalid_cursor",
                "before",
                "Curseur de pagination invalide.",
            )
        })?),
        None => None,
    };
    let page = lae_audit::timeline(
        auditor(&state)?,
        &TimelineQuery {
            customer_id: customer.to_string(),
            before,
            limit: params.limit.unwrap_or(50).clamp(1, 500),
            include_health: params.include_health,
        },
        master_keys(&state),
    )
    .await
    .map_err(ApiError::internal)?;
    // Every reveal of health data is written to the access log before it is shown.
    for what in &page.revealed {
        lae_audit::log_access(
            &state.pool,
            &AccessEntry {
                user: actor.username.clone(),
                role: actor.role.as_str().into(),
                customer_id: customer.to_string(),
                what: *what,
                purpose: params
                    .purpose
                    .clone()
                    .unwrap_or_else(|| "audit timeline".into()),
                request_id: Some(request.0.to_string()),
            },
        )
        .await
        .map_err(ApiError::internal)?;
    }
    Ok(Json(page).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateParams {
    version: Option<usize>,
    at: Option<DateTime<Utc>>,
}

async fn state_at(
    State(state): State<AppState>,
    axum::extract::Path((aggregate_type, id)): axum::extract::Path<(String, String)>,
    RawQuery(params): RawQuery,
) -> Result<Response, ApiError> {
    let params: StateParams = query(params)?;
    if !["Customer", "Offer", "Contract", "Invoice", "Ticket"].contains(&aggregate_type.as_str()) {
        return Err(ApiError::NotFound {
            code: "unknown_aggregate_type",
            detail: format!("Type d'agrégat inconnu : « {aggregate_type} »."),
        });
    }
    let at = match (params.version, params.at) {
        (Some(v), _) => At::Version(v),
        (None, Some(t)) => At::Time(t),
        (None, None) => At::Time(Utc::now()),
    };
    match lae_audit::state_at_json(
        auditor(&state)?,
        &aggregate_type,
        &id,
        at,
        master_keys(&state),
    )
    .await
    .map_err(ApiError::internal)?
    {
        Some(found) => Ok(Json(found).into_response()),
        None => Err(ApiError::NotFound {
            code: "aggregate_not_found",
            detail: "Aucun événement pour cet agrégat à ce point de l'historique.".into(),
        }),
    }
}

async fn verify(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = lae_audit::verify(auditor(&state)?, &state.audit_key())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// Streams the history as NDJSON while it is read: memory stays flat whatever the size.
async fn export(
    State(state): State<AppState>,
    RawQuery(params): RawQuery,
) -> Result<Response, ApiError> {
    let params: ExportParams = query(params)?;
    let pool = auditor(&state)?.clone();
    let (mut writer, reader) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        let range = ExportRange {
            from: params.from,
            to: params.to,
        };
        if let Err(e) = lae_audit::export_ndjson(&pool, &range, &mut writer).await {
            tracing::error!(error = %e, "export failed mid-stream");
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(tokio_util::io::ReaderStream::new(reader)),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessParams {
    customer_id: Option<uuid::Uuid>,
    user: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    before: Option<i64>,
    limit: Option<usize>,
}

async fn access_log(
    State(state): State<AppState>,
    RawQuery(params): RawQuery,
) -> Result<Response, ApiError> {
    let params: AccessParams = query(params)?;
    let page = lae_audit::access_log(
        auditor(&state)?,
        &AccessFilter {
            customer_id: params.customer_id.map(|c| c.to_string()),
            user: params.user,
            what: None,
            from: params.from,
            to: params.to,
        },
        AccessPageRequest {
            before: params.before,
            limit: params.limit,
        },
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(page).into_response())
}
