//! Liveness and readiness.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::openapi::ApiDoc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/docs", get(docs))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.query::<Value>(Method::GET, "/health", 200);
    doc.query::<Value>(Method::GET, "/ready", 200);
    doc.query::<Value>(Method::GET, "/openapi.json", 200);
    doc.bare(Method::GET, "/metrics", 200);
    doc.query::<Value>(Method::GET, "/api/v1/status", 200);
    doc.bare(Method::GET, "/docs", 200);
}

/// The OpenAPI 3.1 document of this API.
async fn openapi() -> Json<&'static Value> {
    Json(crate::openapi::document())
}

/// The document as a page, rendered here (nothing loaded from elsewhere).
async fn docs() -> Html<&'static str> {
    Html(crate::openapi::viewer())
}

/// Prometheus metrics of the relay and the projectors (no personal data).
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let mut text = state.metrics.relay.render_prometheus();
    text.push_str(&state.metrics.render_integrations());
    text.push_str(&state.metrics.projections.render_prometheus());
    text.push_str(&state.metrics.reactors.render());
    text.push_str(&state.metrics.http.render());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// How far the relay and each department's read model are behind.
async fn status(State(state): State<AppState>) -> Json<Value> {
    let relay = &state.metrics.relay;
    Json(json!({
        "departments": state.deployment.names(),
        "relay": {
            "leader": relay.is_leader(),
            "events_published": relay.events_published(),
            "outbox_depth": relay.outbox_depth(),
            "publish_lag_seconds": relay.publish_lag_seconds(),
            "oldest_unpublished_age_seconds": relay.oldest_unpublished_age_seconds(),
            "held_back_by_a_running_transaction": relay.is_held_back(),
        },
        "projections": state.metrics.projections.status(),
    }))
}

/// The process is up.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve commands: the event store answers.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
    {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": "ok" })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}
