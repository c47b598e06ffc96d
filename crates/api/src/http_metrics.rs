//! What the platform answered: responses by status, commands refused by problem code,
//! failures; rendered on `/metrics` for Prometheus (the incident indicators of the
//! management dashboard's Grafana counterpart, `docs/grafana/lae.json`).
//!
//! Labels are bounded: a status is one of a few dozen codes, a problem code is one of
//! the `&'static str` codes of [`crate::problem::ApiError`] and the domain's
//! rejections; no path, id or user is ever a label.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The problem code of a refusal, set on the response by `ApiError`.
#[derive(Debug, Clone, Copy)]
pub struct ProblemCode(pub &'static str);

/// Counters of the answers.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    responses: Mutex<BTreeMap<u16, u64>>,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl HttpMetrics {
    /// Counts one answer; a command (any method but GET, HEAD, OPTIONS) refused with a
    /// 4xx is also counted by its problem code.
    pub fn record(&self, method: &Method, status: u16, code: Option<&'static str>) {
        if let Ok(mut responses) = self.responses.lock() {
            *responses.entry(status).or_default() += 1;
        }
        let command = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if command
            && (400..500).contains(&status)
            && let Ok(mut refused) = self.refused.lock()
        {
            *refused.entry(code.unwrap_or("unknown")).or_default() += 1;
        }
    }

    /// Answers of `status` so far.
    #[must_use]
    pub fn responses(&self, status: u16) -> u64 {
        self.responses
            .lock()
            .map(|r| r.get(&status).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Commands refused with `code` so far.
    #[must_use]
    pub fn refused(&self, code: &str) -> u64 {
        self.refused
            .lock()
            .map(|r| r.get(code).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP lae_http_responses_total HTTP answers, by status (4xx: refused, 5xx: failed).\n\
             # TYPE lae_http_responses_total counter\n",
        );
        if let Ok(responses) = self.responses.lock() {
            for (status, n) in responses.iter() {
                let class = format!("{}xx", status / 100);
                let _ = writeln!(
                    out,
                    "lae_http_responses_total{{status=\"{status}\",class=\"{class}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP lae_commands_refused_total Commands refused with a 4xx, by problem code.\n\
             # TYPE lae_commands_refused_total counter\n",
        );
        if let Ok(refused) = self.refused.lock() {
            for (code, n) in refused.iter() {
                let _ = writeln!(out, "lae_commands_refused_total{{code=\"{code}\"}} {n}");
            }
        }
        out
    }
}

/// The middleware that counts every answer (outermost but for the request id).
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let code = response.extensions().get::<ProblemCode>().map(|c| c.0);
    state
        .metrics
        .http
        .record(&method, response.status().as_u16(), code);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_status_and_refused_commands_by_code() {
        let m = HttpMetrics::default();
        m.record(&Method::POST, 409, Some("ticket_resolved"));
        m.record(&Method::POST, 409, Some("ticket_resolved"));
        m.record(&Method::GET, 404, Some("not_found"));
        m.record(&Method::POST, 500, Some("internal"));
        m.record(&Method::GET, 200, None);
        assert_eq!(m.responses(409), 2);
        assert_eq!(m.refused("ticket_resolved"), 2);
        assert_eq!(m.refused("not_found"), 0, "a read is not a command");
        assert_eq!(m.refused("internal"), 0, "a failure is not a refusal");
        let text = m.render();
        assert!(text.contains("lae_http_responses_total{status=\"500\",class=\"5xx\"} 1"));
        assert!(text.contains("lae_commands_refused_total{code=\"ticket_resolved\"} 2"));
    }
}
