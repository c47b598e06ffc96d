//! Zendesk, outbound: the API client, its configuration and what the platform's ticket
//! events become there.
//!
//! The [`crate::Reactor::Zendesk`] reactor reads the ticket events from the stream with
//! its own durable consumer and, for each one the platform produced (not those that
//! came from Zendesk, nor the legacy import's, nor the platform's own notices to
//! sales):
//! - `TicketOpened` → `POST /api/v2/tickets` with `external_id` = the platform's ticket
//!   id and `Idempotency-Key` = the event id; the requester is the customer when they
//!   have an e-mail address;
//! - `ActionRecorded`, `TicketRouted` → an internal comment (`PUT /api/v2/tickets/{id}`);
//! - `TicketResolved` → status `solved`, with the resolution as an internal comment.
//!
//! Authentication is Zendesk's API token: basic `{email}/token:{api_token}`. A 429, a
//! 5xx, a refused token (401/403, which an administrator fixes without losing what
//! waits) or a network failure is retried after `Retry-After` when Zendesk gives one,
//! else after a back-off; any other 4xx is a permanent refusal, logged and counted.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use lae_domain::ticket::TicketEvent;
use lae_domain::{Channel, Department};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ReactorError;

/// The longest wait a `Retry-After` may impose before a delivery is tried again.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Where Zendesk is and how to authenticate to it.
#[derive(Clone)]
pub struct ZendeskConfig {
    /// The account's address (`https://lae.zendesk.com`), without a trailing slash.
    pub url: String,
    /// The agent the API token belongs to.
    pub email: String,
    api_token: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// The longest back-off between two attempts of a delivery (`Retry-After` aside).
    pub max_backoff: Duration,
    /// The id of the ticket field holding LAE's reason code, when one is mapped: read
    /// from the tickets Zendesk creates, written on those the platform creates.
    pub reason_field: Option<u64>,
}

impl fmt::Debug for ZendeskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZendeskConfig")
            .field("url", &self.url)
            .field("email", &self.email)
            .field("api_token", &"***")
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field("reason_field", &self.reason_field)
            .finish()
    }
}

impl ZendeskConfig {
    /// A configuration, checked: an `https://` address (or `http://` on the loopback
    /// only, for a local test server: the token must not cross a network in clear), an
    /// e-mail and a token.
    pub fn new(url: &str, email: &str, api_token: &str) -> Result<Self, ReactorError> {
        let url = url.trim().trim_end_matches('/').to_owned();
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .map(|rest| rest.split(['/', ':']).next().unwrap_or_default())
            .unwrap_or_default();
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
        if host.is_empty() || (url.starts_with("http://") && !loopback) {
            return Err(ReactorError::Config(format!(
                "LAE_ZENDESK_URL {url:?}: an https:// address (http:// only on 127.0.0.1 or localhost)"
            )));
        }
        if !email.contains('@') {
            return Err(ReactorError::Config(
                "LAE_ZENDESK_EMAIL: the e-mail address of the agent the API token belongs to"
                    .into(),
            ));
        }
        if api_token.trim().is_empty() {
            return Err(ReactorError::Config(
                "LAE_ZENDESK_API_TOKEN (or LAE_ZENDESK_API_TOKEN_FILE) is empty".into(),
            ));
        }
        Ok(Self {
            url,
            email: email.trim().to_owned(),
            api_token: api_token.trim().to_owned(),
            timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            reason_field: None,
        })
    }

    /// From `LAE_ZENDESK_URL`, `LAE_ZENDESK_EMAIL`, `LAE_ZENDESK_API_TOKEN` (or
    /// `LAE_ZENDESK_API_TOKEN_FILE`), `LAE_ZENDESK_REASON_FIELD` and
    /// `LAE_ZENDESK_MAX_BACKOFF_MS`: `None` without `LAE_ZENDESK_URL` (nothing is sent
    /// to Zendesk), an error naming the variable when one is missing or wrong.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ReactorError> {
        let var = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let Some(url) = var("LAE_ZENDESK_URL") else {
            return Ok(None);
        };
        let email = var("LAE_ZENDESK_EMAIL").ok_or_else(|| {
            ReactorError::Config("LAE_ZENDESK_URL is set but LAE_ZENDESK_EMAIL is not".into())
        })?;
        let token = match (
            var("LAE_ZENDESK_API_TOKEN"),
            var("LAE_ZENDESK_API_TOKEN_FILE"),
        ) {
            (Some(token), _) => token,
            (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
                ReactorError::Config(format!("LAE_ZENDESK_API_TOKEN_FILE {path:?}: {e}"))
            })?,
            (None, None) => {
                return Err(ReactorError::Config(
                    "LAE_ZENDESK_URL is set but neither LAE_ZENDESK_API_TOKEN nor LAE_ZENDESK_API_TOKEN_FILE".into(),
                ));
            }
        };
        let mut config = Self::new(&url, &email, &token)?;
        if let Some(field) = var("LAE_ZENDESK_REASON_FIELD") {
            config.reason_field = Some(field.trim().parse().map_err(|_| {
                ReactorError::Config(format!(
                    "LAE_ZENDESK_REASON_FIELD {field:?} is not a ticket field id (digits)"
                ))
            })?);
        }
        if let Some(ms) = var("LAE_ZENDESK_MAX_BACKOFF_MS") {
            let ms: u64 = ms.trim().parse().map_err(|_| {
                ReactorError::Config(format!("LAE_ZENDESK_MAX_BACKOFF_MS {ms:?} is not a number"))
            })?;
            config.max_backoff = Duration::from_millis(ms.max(100));
        }
        Ok(Some(config))
    }
}

/// What Zendesk answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 2xx, with its JSON body (`Null` when empty).
    Done(Value),
    /// Worth trying again: 429, 5xx, 409 (the same idempotency key in flight), a
    /// refused token, a network failure. `after` is Zendesk's `Retry-After`.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Refused for good (400, 404, 422, ...).
    Refused { status: u16, why: String },
}

/// A client of Zendesk's Support API.
#[derive(Clone)]
pub struct ZendeskClient {
    http: reqwest::Client,
    base: String,
    authorization: String,
    reason_field: Option<u64>,
    max_backoff: Duration,
}

impl fmt::Debug for ZendeskClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZendeskClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ZendeskClient {
    pub fn new(config: &ZendeskConfig) -> Result<Self, ReactorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("lae-platform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ReactorError::Config(format!("the Zendesk HTTP client: {e}")))?;
        let credentials = format!("{}/token:{}", config.email, config.api_token);
        Ok(Self {
            http,
            base: config.url.clone(),
            authorization: format!("Basic {}", STANDARD.encode(credentials)),
            reason_field: config.reason_field,
            max_backoff: config.max_backoff,
        })
    }

    /// The ticket field holding LAE's reason code, when one is mapped.
    #[must_use]
    pub fn reason_field(&self) -> Option<u64> {
        self.reason_field
    }

    /// How long to wait before attempt `delivered + 1` of a delivery Zendesk gave no
    /// `Retry-After` for: 1 s, 2 s, 4 s, ... up to the configured ceiling.
    #[must_use]
    pub fn backoff(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.clamp(1, 20) - 1).unwrap_or(0);
        Duration::from_secs(1u64 << exponent).min(self.max_backoff)
    }

    /// `POST /api/v2/tickets.json`.
    pub async fn create_ticket(&self, ticket: &Value, idempotency_key: &str) -> Answer {
        self.send(
            reqwest::Method::POST,
            "/api/v2/tickets.json",
            Some(ticket),
            Some(idempotency_key),
        )
        .await
    }

    /// `PUT /api/v2/tickets/{id}.json`.
    pub async fn update_ticket(&self, id: u64, ticket: &Value, idempotency_key: &str) -> Answer {
        self.send(
            reqwest::Method::PUT,
            &format!("/api/v2/tickets/{id}.json"),
            Some(ticket),
            Some(idempotency_key),
        )
        .await
    }

    /// `GET /api/v2/tickets/{id}.json?include=users`: the ticket with its custom
    /// fields, and its requester among the side-loaded users.
    pub async fn ticket_with_users(&self, id: u64) -> Answer {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v2/tickets/{id}.json?include=users"),
            None,
            None,
        )
        .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, &self.authorization)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Answer::Retry {
                    after: None,
                    why: format!("Zendesk unreachable: {e}"),
                };
            }
        };
        let status = response.status();
        let after = retry_after(response.headers(), Utc::now());
        let text = response.text().await.unwrap_or_default();
        classify(status, after, &text)
    }
}

/// What an HTTP answer means for a delivery.
fn classify(status: StatusCode, after: Option<Duration>, body: &str) -> Answer {
    let why = || {
        let excerpt: String = body.chars().take(300).collect();
        format!("Zendesk answered {status}: {excerpt}")
    };
    if status.is_success() {
        return Answer::Done(serde_json::from_str(body).unwrap_or(Value::Null));
    }
    let transient = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::CONFLICT
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error();
    if transient {
        Answer::Retry { after, why: why() }
    } else {
        Answer::Refused {
            status: status.as_u16(),
            why: why(),
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date, capped at ten minutes.
#[must_use]
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value)
                .ok()?
                .with_timezone(&Utc);
            (at - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(LONGEST_RETRY_AFTER))
}

/// The requester of a ticket the platform creates: the customer, when they have an
/// e-mail address (Zendesk identifies end users by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub name: String,
    pub email: String,
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => "téléphone",
        Channel::Mail => "courrier ou e-mail",
        Channel::Internal => "message interne",
    }
}

fn department_label(department: Department) -> &'static str {
    match department {
        Department::CustomerService => "Service client",
        Department::Legal => "Juridique",
        Department::Sales => "Commercial",
        Department::Billing => "Facturation",
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%d/%m/%Y à %H:%M UTC").to_string()
}

/// The body of `POST /api/v2/tickets` for a ticket opened on the platform; `None` for
/// an event that is not an opening.
#[must_use]
pub fn creation(
    ticket: Uuid,
    event: &TicketEvent,
    requester: Option<&Requester>,
    reason_field: Option<u64>,
) -> Option<Value> {
    let TicketEvent::TicketOpened {
        channel,
        reason,
        opened_at,
        operator,
        category,
        ..
    } = event
    else {
        return None;
    };
    let mut tags = vec![json!("lae")];
    if let Some(category) = category {
        tags.push(json!(category.as_str()));
    }
    let mut body = json!({
        "subject": reason.as_str(),
        "comment": {
            "body": format!(
                "Contact par {} le {}, enregistré sur la plateforme LAE par {}.\n\nMotif : {}",
                channel_label(*channel),
                when(*opened_at),
                operator.as_str(),
                reason.as_str()
            ),
            "public": false
        },
        "external_id": ticket.to_string(),
        "tags": tags,
    });
    if let Some(requester) = requester {
        body["requester"] = json!({"name": requester.name, "email": requester.email});
    }
    if let (Some(field), Some(category)) = (reason_field, category) {
        body["custom_fields"] = json!([{"id": field, "value": category.as_str()}]);
    }
    Some(json!({ "ticket": body }))
}

/// The body of `PUT /api/v2/tickets/{id}` for what was done on the platform after the
/// opening; `None` for an event Zendesk is not told about.
#[must_use]
pub fn update(event: &TicketEvent) -> Option<Value> {
    let internal = |text: String| json!({"body": text, "public": false});
    let ticket = match event {
        TicketEvent::ActionRecorded {
            action,
            at,
            operator,
            ..
        } => json!({"comment": internal(format!(
            "{} ({}) : {}",
            operator.as_str(),
            when(*at),
            action.as_str()
        ))}),
        TicketEvent::TicketRouted {
            previous_department,
            department,
            at,
            note,
            ..
        } => {
            let mut text = format!(
                "Transmis par {} à {} le {}.",
                department_label(*previous_department),
                department_label(*department),
                when(*at)
            );
            if let Some(note) = note {
                text.push_str(&format!("\n\nNote : {}", note.as_str()));
            }
            json!({ "comment": internal(text) })
        }
        TicketEvent::TicketResolved { resolution, at, .. } => json!({
            "status": "solved",
            "comment": internal(format!(
                "Résolu sur la plateforme LAE le {} : {}",
                when(*at),
                resolution.as_str()
            )),
        }),
        _ => return None,
    };
    Some(json!({ "ticket": ticket }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lae_domain::{ActionText, Note, OperatorName, Reason, ReasonCode};
    use reqwest::header::HeaderValue;

    fn config(url: &str) -> Result<ZendeskConfig, ReactorError> {
        ZendeskConfig::new(url, "agent@lae.fr", "t0k3n")
    }

    #[test]
    fn the_token_travels_over_https_only_except_on_the_loopback() {
        assert!(config("https://lae.zendesk.com/").is_ok());
        assert!(config("http://127.0.0.1:8080").is_ok());
        assert!(config("http://localhost:8080").is_ok());
        let refused = config("http://lae.zendesk.com").expect_err("clear text");
        assert!(refused.to_string().contains("LAE_ZENDESK_URL"));
        assert!(config("ftp://x").is_err());
        assert_eq!(
            config("https://lae.zendesk.com/").expect("ok").url,
            "https://lae.zendesk.com"
        );
        assert!(!format!("{:?}", config("https://a.b").expect("ok")).contains("t0k3n"));
    }

    #[test]
    fn the_variables_name_what_is_missing() {
        let none = ZendeskConfig::from_lookup(|_| None).expect("fine");
        assert!(none.is_none());
        let missing = ZendeskConfig::from_lookup(|k| {
            (k == "LAE_ZENDESK_URL").then(|| "https://lae.zendesk.com".into())
        })
        .expect_err("no e-mail");
        assert!(missing.to_string().contains("LAE_ZENDESK_EMAIL"));
        let bad_field = ZendeskConfig::from_lookup(|k| match k {
            "LAE_ZENDESK_URL" => Some("https://lae.zendesk.com".into()),
            "LAE_ZENDESK_EMAIL" => Some("a@b.fr".into()),
            "LAE_ZENDESK_API_TOKEN" => Some("t".into()),
            "LAE_ZENDESK_REASON_FIELD" => Some("motif".into()),
            _ => None,
        })
        .expect_err("not an id");
        assert!(bad_field.to_string().contains("LAE_ZENDESK_REASON_FIELD"));
        let good = ZendeskConfig::from_lookup(|k| match k {
            "LAE_ZENDESK_URL" => Some("https://lae.zendesk.com".into()),
            "LAE_ZENDESK_EMAIL" => Some("a@b.fr".into()),
            "LAE_ZENDESK_API_TOKEN" => Some("t".into()),
            "LAE_ZENDESK_REASON_FIELD" => Some("360001".into()),
            _ => None,
        })
        .expect("valid")
        .expect("configured");
        assert_eq!(good.reason_field, Some(360_001));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Mon, 07 Dec 2026 10:00:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&headers, now), Some(LONGEST_RETRY_AFTER));
    }

    #[test]
    fn throttling_and_outages_are_retried_refusals_are_not() {
        let retried = |s: u16| {
            matches!(
                classify(StatusCode::from_u16(s).expect("status"), None, ""),
                Answer::Retry { .. }
            )
        };
        for status in [429, 500, 502, 503, 504, 401, 403, 409] {
            assert!(retried(status), "{status}");
        }
        for status in [400, 404, 422] {
            assert!(!retried(status), "{status}");
        }
        assert_eq!(
            classify(StatusCode::CREATED, None, r#"{"ticket":{"id":7}}"#),
            Answer::Done(json!({"ticket": {"id": 7}}))
        );
    }

    #[test]
    fn the_back_off_doubles_up_to_its_ceiling() {
        let client = ZendeskClient::new(&config("https://a.b").expect("ok")).expect("client");
        assert_eq!(client.backoff(1), Duration::from_secs(1));
        assert_eq!(client.backoff(3), Duration::from_secs(4));
        assert_eq!(client.backoff(40), Duration::from_secs(60));
    }

    #[test]
    fn an_opening_becomes_a_ticket_and_the_rest_internal_comments() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T09:30:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let ticket = Uuid::from_u128(7);
        let opened = TicketEvent::TicketOpened {
            customer_id: None,
            channel: Channel::Phone,
            reason: Reason::parse("Changement d'adresse").expect("reason"),
            opened_at: at,
            operator: OperatorName::parse("Camille Martin").expect("operator"),
            category: ReasonCode::parse(ReasonCode::COMPLAINT).ok(),
        };
        let requester = Requester {
            name: "Océane Fontaine".into(),
            email: "oceane@exemple.fr".into(),
        };
        let body = creation(ticket, &opened, Some(&requester), Some(42)).expect("an opening");
        assert_eq!(body["ticket"]["external_id"], ticket.to_string());
        assert_eq!(body["ticket"]["subject"], "Changement d'adresse");
        assert_eq!(body["ticket"]["comment"]["public"], false);
        assert_eq!(body["ticket"]["requester"]["email"], "oceane@exemple.fr");
        assert_eq!(body["ticket"]["custom_fields"][0]["id"], 42);
        assert!(update(&opened).is_none());

        let action = TicketEvent::ActionRecorded {
            customer_id: None,
            action: ActionText::parse("Rappelé la cliente").expect("action"),
            at,
            operator: OperatorName::parse("Camille Martin").expect("operator"),
        };
        let body = update(&action).expect("a comment");
        assert_eq!(body["ticket"]["comment"]["public"], false);
        assert!(
            body["ticket"]["comment"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("Rappelé la cliente"))
        );
        assert!(body["ticket"].get("status").is_none());
        let resolved = TicketEvent::TicketResolved {
            customer_id: None,
            resolution: Note::parse("Adresse mise à jour").expect("note"),
            at,
        };
        assert_eq!(
            update(&resolved).expect("solved")["ticket"]["status"],
            "solved"
        );
        assert!(creation(ticket, &resolved, None, None).is_none());
    }
}
