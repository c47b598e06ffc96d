//! The HTTP routes: one module per aggregate for the commands, the departments'
//! queries in [`queries`], merged under `/api/v1`.

pub mod admin;
mod audit;
pub mod auth;
mod billing_cycle;
pub mod contracts;
pub mod customers;
pub mod invoice_requests;
mod invoices;
pub mod offers;
pub mod queries;
mod system;
pub mod tickets;
pub mod zendesk;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use cqrs_es::Aggregate;
use lae_domain::Rejection;
use lae_store::{CommandExecutor, Committed, EventMetadata, Source};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::Actor;
use crate::extract::{IfMatch, RequestId};
use crate::problem::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: API routes, system routes, layers.
pub fn app(state: AppState) -> Router {
    compose(state, Router::new(), |router| router)
}

/// The application with more routes (the desks of `crates/web`) under the same rules
/// table, authorization middleware, fallbacks, security headers and request ids.
/// `wrap` adds the pages' own outer layers (the desks turn problems into French
/// pages): inside the security headers, so that what they answer carries them too.
pub fn compose(
    state: AppState,
    pages: Router<AppState>,
    wrap: impl FnOnce(Router) -> Router,
) -> Router {
    let api = Router::new()
        .merge(auth::router())
        .merge(admin::router())
        .merge(audit::router())
        .merge(customers::router())
        .merge(offers::router())
        .merge(contracts::router())
        .merge(invoices::router())
        .merge(billing_cycle::router())
        .merge(invoice_requests::router())
        .merge(tickets::router())
        .merge(zendesk::router())
        .merge(queries::router());
    let routes = Router::new()
        .nest("/api/v1", api)
        .merge(system::router())
        .merge(pages)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::rules::authorize,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    wrap(routes)
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::http_metrics::count,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let request_id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The policy of an answer that set none itself (JSON, text): nothing may load, nothing
/// may frame it. Pages set their own, as strict.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Headers every answer carries, whoever made it (a JSON route, a page, an asset, a
/// refusal, the 404 and 405 fallbacks): no MIME sniffing and no referrer, whatever a
/// handler set (an address of this site, holding an id, never leaves it in a
/// `Referer`); and a Content-Security-Policy unless the handler set its own (pages set
/// theirs, as strict).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    response
}

/// Describes every route for the OpenAPI document.
pub fn describe(doc: &mut crate::openapi::ApiDoc) {
    system::describe(doc);
    auth::describe(doc);
    admin::describe(doc);
    audit::describe(doc);
    customers::describe(doc);
    offers::describe(doc);
    contracts::describe(doc);
    invoices::describe(doc);
    invoice_requests::describe(doc);
    billing_cycle::describe(doc);
    tickets::describe(doc);
    zendesk::describe(doc);
    queries::describe(doc);
}

/// The answer to an address that does not exist here (also a route of a department
/// this instance does not serve, `crate::deployment`).
pub fn not_found_response() -> Response {
    route_not_found().into_response()
}

async fn not_found() -> ApiError {
    route_not_found()
}

fn route_not_found() -> ApiError {
    ApiError::NotFound {
        code: "route_not_found",
        detail: "Aucune ressource à cette adresse.".into(),
    }
}

async fn method_not_allowed() -> Response {
    let mut response = ApiError::Malformed {
        detail: "Méthode non autorisée sur cette ressource.".into(),
        field: None,
    }
    .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// The identifier in the path, parsed; a problem (not axum's plain text) otherwise.
#[derive(Debug)]
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T> FromRequestParts<S> for PathId<T>
where
    T: std::str::FromStr + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Malformed {
                detail: "Identifiant manquant dans l'adresse.".into(),
                field: Some("id".into()),
            })?;
        raw.parse().map(PathId).map_err(|_| ApiError::NotFound {
            code: "invalid_identifier",
            detail: format!("« {raw} » n'est pas un identifiant valide."),
        })
    }
}

/// The metadata of the events a request causes.
pub fn metadata(actor: &Actor, request: RequestId) -> EventMetadata {
    EventMetadata::new(
        actor.username.clone(),
        actor.role.as_str(),
        Utc::now(),
        request.0,
        Source::Api,
    )
    .with("user_id", actor.user_id.to_string())
}

/// Today's date at the edge, for commands whose date the caller leaves out.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The body of every successful command.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CommandAccepted {
    pub id: String,
    pub version: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
}

impl<A: Aggregate> From<&Committed<A>> for CommandAccepted {
    fn from(c: &Committed<A>) -> Self {
        Self {
            id: c.aggregate_id.clone(),
            version: c.version,
            customer_number: None,
            contract_id: None,
        }
    }
}

/// 201 Created with a `Location`, for a command that created an aggregate.
pub fn created(collection: &str, body: CommandAccepted) -> Response {
    let location = format!("/api/v1/{collection}/{}", body.id);
    let etag = format!("\"{}\"", body.version);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location), (header::ETAG, etag)],
        Json(body),
    )
        .into_response()
}

/// 202 Accepted: the events are committed; read models follow.
pub fn accepted(body: CommandAccepted) -> Response {
    let etag = format!("\"{}\"", body.version);
    (StatusCode::ACCEPTED, [(header::ETAG, etag)], Json(body)).into_response()
}

/// Checks that a referenced customer exists, as the field `field` of the body.
pub async fn require_customer(
    state: &AppState,
    customer_id: &lae_domain::CustomerId,
    field: &'static str,
) -> Result<(), ApiError> {
    if state
        .events
        .exists(
            lae_domain::customer::Customer::TYPE,
            &customer_id.to_string(),
        )
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "unknown_customer",
            field,
            format!("Aucun client n'a l'identifiant {customer_id}."),
        ))
    }
}

/// Executes a command on an existing aggregate (at the `If-Match` version when the
/// caller names one) and answers 202 with its new version.
pub async fn execute<A>(
    executor: &CommandExecutor<A>,
    id: impl std::fmt::Display,
    command: A::Command,
    caller: Caller,
) -> Result<Response, ApiError>
where
    A: Aggregate + Clone,
    A::Command: Clone,
    A::Error: Rejection,
{
    let committed = executor
        .execute_expecting(
            &id.to_string(),
            command,
            &metadata(&caller.actor, caller.request),
            caller.if_match.0,
        )
        .await?;
    Ok(accepted(CommandAccepted::from(&committed)))
}

/// Who calls, under which request id, expecting which version: what every command
/// handler passes on to [`execute`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub request: RequestId,
    pub if_match: IfMatch,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            actor: Actor::from_request_parts(parts, state).await?,
            request: RequestId::from_request_parts(parts, state)
                .await
                .unwrap_or_else(|never| match never {}),
            if_match: IfMatch::from_request_parts(parts, state).await?,
        })
    }
}
