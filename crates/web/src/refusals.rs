//! French pages instead of JSON problems for whoever browses: a refusal of the rules
//! middleware (401, 403), an unknown page (404), a refused form that is not a field's
//! fault, an internal error (500, with its reference and never its cause).
//!
//! The rules middleware and the extractors are shared with the JSON API and answer
//! `application/problem+json`; this layer, outermost, turns those answers into pages
//! for every path that is not the API's. The problem's French `detail` is shown
//! (escaped), never anything the user sent.

use askama::Template;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::desks::{Layout, render};

/// Paths that answer JSON (or text) whoever asks.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
        || matches!(
            path,
            "/openapi.json" | "/metrics" | "/health" | "/ready" | "/docs"
        )
}

#[derive(Deserialize, Default)]
struct Problem {
    #[serde(default)]
    detail: String,
}

#[derive(Template)]
#[template(path = "refusal.html")]
struct RefusalPage {
    layout: Layout,
    heading: &'static str,
    message: String,
    reference: Option<String>,
    login: bool,
}

/// The outermost layer of the desks' routes in [`crate::app`] (inside the security
/// headers and request ids of [`lae_api::routes::compose`]).
pub async fn as_pages(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_api(&path) {
        return next.run(req).await;
    }
    let had_session = lae_api::auth::session::cookie_token(req.headers()).is_some();
    let htmx = req.headers().contains_key("hx-request");
    // Set on the request by the outermost layer (the answer gets it only after this one).
    let reference = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(req).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !is_problem {
        return response;
    }
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let problem: Problem = serde_json::from_slice(&body).unwrap_or_default();
    let page = if status == StatusCode::UNAUTHORIZED && htmx {
        // htmx follows this header: the whole page goes to the login.
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut()
            .insert("hx-redirect", HeaderValue::from_static("/login?expired=1"));
        Ok(r)
    } else if status == StatusCode::UNAUTHORIZED {
        crate::desks::login_required(&path, had_session)
    } else {
        refusal(status, problem.detail, reference)
    };
    let mut page = page.unwrap_or_else(|_| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            Body::from("Une erreur est survenue."),
        )
            .into_response()
    });
    crate::page_headers(page.headers_mut());
    page
}

fn refusal(
    status: StatusCode,
    detail: String,
    reference: Option<String>,
) -> Result<Response, lae_api::problem::ApiError> {
    let (heading, message, reference) = match status.as_u16() {
        403 => (
            "Accès refusé",
            "Cette page est réservée à un autre service : votre rôle ne vous y donne pas accès. \
             Si vous pensez en avoir besoin, adressez-vous à votre responsable."
                .to_owned(),
            None,
        ),
        404 => (
            "Page introuvable",
            if detail.is_empty() {
                "Aucune page à cette adresse.".to_owned()
            } else {
                detail
            },
            None,
        ),
        s if s >= 500 => (
            "Une erreur est survenue",
            "La plateforme n'a pas pu traiter la demande ; rien n'a été perdu de ce qui était \
             déjà enregistré. Réessayez dans un instant."
                .to_owned(),
            reference,
        ),
        _ => (
            "Demande refusée",
            if detail.is_empty() {
                "La demande n'a pas pu être traitée.".to_owned()
            } else {
                detail
            },
            None,
        ),
    };
    render(
        status,
        &RefusalPage {
            layout: Layout::bare(heading),
            heading,
            message,
            reference,
            login: false,
        },
    )
}
