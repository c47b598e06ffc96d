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
        .route("/docs", get(docs))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.query::<Value>(Method::GET, "/health", 200);
    doc.query::<Value>(Method::GET, "/ready", 200);
    doc.query::<Value>(Method::GET, "/openapi.json", 200);
    doc.bare(Method::GET, "/docs", 200);
}

/// The OpenAPI 3.1 document of this API.
async fn openapi() -> Json<&'static Value> {
    Json(crate::openapi::document())
}

/// An interactive viewer of the document.
async fn docs() -> Html<&'static str> {
    Html(crate::openapi::VIEWER)
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
