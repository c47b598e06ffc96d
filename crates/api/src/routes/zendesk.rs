//! Zendesk, inbound: `POST /api/v1/integrations/zendesk/webhook` receives Zendesk's
//! event webhooks and turns them into ticket commands.
//!
//! The route is not authenticated by a user token but by Zendesk's signature:
//! `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret,
//! `X-Zendesk-Webhook-Signature-Timestamp` + raw body)), the secret from
//! `LAE_ZENDESK_WEBHOOK_SECRET` (or `_FILE`), compared in constant time. A bad or
//! missing signature is 401, a timestamp more than five minutes away 401, a webhook id
//! already processed 200 with nothing appended. Without a configured secret the route
//! answers 404, as if it did not exist.
//!
//! - `zen:event-type:ticket.created` opens the platform's ticket, whose id is derived
//!   from Zendesk's ticket id (UUIDv5), so a redelivery opens nothing twice. The channel
//!   comes from `detail.via.channel` (`voice`/`phone` → phone, anything else → mail),
//!   the reason from the subject. With Zendesk's API configured (`LAE_ZENDESK_URL`,
//!   ...), the ticket is read back (`GET /api/v2/tickets/{id}?include=users`): its
//!   requester's e-mail, else phone, links it to the one customer who has it, and the
//!   field `LAE_ZENDESK_REASON_FIELD` gives its reason code. Otherwise (or no single
//!   match) the ticket waits in customer service's "to identify" queue. The link
//!   between the two tickets is written to `zendesk_tickets` first, so that what the
//!   platform does on the ticket later reaches Zendesk's ticket.
//! - `ticket.comment_added` records the comment as an action (operator "Zendesk").
//! - `ticket.status_changed` to `solved` (or `closed`) resolves the ticket.
//! - `lae:ticket.satisfaction_rated`, sent by a Zendesk trigger on "Satisfaction is
//!   Good/Bad" with the body documented in `docs/zendesk.md`, records the customer's
//!   rating (`detail.satisfaction_rating.score`, `good` or `bad`) of the resolved ticket.
//! - Anything else is acknowledged and recorded, and changes nothing.
//!
//! Every event appended this way has `source: zendesk` in its metadata, so that the
//! outbound side (the `zendesk` reactor) never echoes it back.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use lae_domain::ticket::{TicketCommand, TicketError};
use lae_domain::{
    ActionText, Channel, CustomerId, Email, Note, OperatorName, PhoneNumber, Reason, ReasonCode,
    Satisfaction, TicketId,
};
use lae_projections::Department;
use lae_reactors::zendesk::Answer;
use lae_store::{CommandError, EventMetadata, Source};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

/// The webhook's path, as the rules and the OpenAPI document name it.
pub const WEBHOOK: &str = "/api/v1/integrations/zendesk/webhook";
/// How far a signature's timestamp may be from now.
const TOLERANCE: Duration = Duration::minutes(5);
/// The namespace of the platform ids of Zendesk tickets (UUIDv5 of `zendesk:ticket:N`).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c61_655f_7a65_6e64_6573_6b5f_7469_636b);

pub fn router() -> Router<AppState> {
    Router::new().route("/integrations/zendesk/webhook", post(webhook))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<Value, WebhookAnswer>(Method::POST, WEBHOOK, 200);
}

/// What the platform did with a webhook.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WebhookAnswer {
    /// `applied`, `ignored` (an event type or status the platform does not follow) or
    /// `duplicate` (this webhook id was processed before: nothing appended).
    pub status: &'static str,
    /// The platform's ticket, when the webhook concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
}

/// The platform id of Zendesk's ticket `n`.
#[must_use]
pub fn ticket_id(zendesk_ticket: &str) -> TicketId {
    TicketId::new(Uuid::new_v5(
        &NAMESPACE,
        format!("zendesk:ticket:{zendesk_ticket}").as_bytes(),
    ))
}

/// Whether `signature` (base64) is Zendesk's signature of `timestamp` + `body`.
#[must_use]
pub fn signature_matches(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The signature Zendesk would send (for tests and local tools); empty only if HMAC
/// refused the key, which it never does (it takes keys of any length).
#[must_use]
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    Hmac::<Sha256>::new_from_slice(secret)
        .map(|mut mac| {
            mac.update(timestamp.as_bytes());
            mac.update(body);
            STANDARD.encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default()
}

fn unauthorized(detail: &'static str) -> ApiError {
    ApiError::Unauthenticated { detail }
}

#[derive(Debug, Deserialize)]
struct Webhook {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    detail: Value,
    #[serde(default)]
    event: Value,
}

async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(secret) = state.zendesk_webhook_secret() else {
        return Err(ApiError::NotFound {
            code: "not_found",
            detail: "Cette adresse n'existe pas.".into(),
        });
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("x-zendesk-webhook-signature"),
        header("x-zendesk-webhook-signature-timestamp"),
    ) else {
        state.metrics.zendesk_refused();
        return Err(unauthorized(
            "Signature Zendesk absente (X-Zendesk-Webhook-Signature et -Timestamp).",
        ));
    };
    if !signature_matches(secret.expose(), timestamp, &body, signature) {
        state.metrics.zendesk_refused();
        return Err(unauthorized("Signature Zendesk invalide."));
    }
    let fresh = DateTime::parse_from_rfc3339(timestamp)
        .is_ok_and(|t| (Utc::now() - t.with_timezone(&Utc)).abs() <= TOLERANCE);
    if !fresh {
        state.metrics.zendesk_refused();
        return Err(unauthorized(
            "Horodatage de la signature Zendesk trop éloigné (plus de 5 minutes).",
        ));
    }
    let hook: Webhook = serde_json::from_slice(&body).map_err(|e| ApiError::Malformed {
        detail: format!("Webhook Zendesk illisible : {e}"),
        field: None,
    })?;
    if hook.id.trim().is_empty() || hook.id.len() > 200 {
        return Err(ApiError::invalid(
            "invalid_webhook_id",
            "id",
            "Identifiant de webhook absent ou trop long.",
        ));
    }
    state.metrics.zendesk_received();
    let seen: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM zendesk_webhooks WHERE webhook_id = $1")
            .bind(&hook.id)
            .fetch_optional(&state.pool)
            .await
            .map_err(ApiError::internal)?;
    if seen.is_some() {
        return Ok(answer("duplicate", None));
    }
    let (status, ticket) = apply(&state, &hook).await?;
    // Recorded once applied: a crash before this line makes Zendesk's retry apply it
    // again, which opening (a derived id) absorbs and an action would repeat.
    sqlx::query(
        "INSERT INTO zendesk_webhooks (webhook_id, event_type, ticket_id) VALUES ($1, $2, $3) \
         ON CONFLICT (webhook_id) DO NOTHING",
    )
    .bind(&hook.id)
    .bind(&hook.kind)
    .bind(ticket.map(|t| *t.as_uuid()))
    .execute(&state.pool)
    .await
    .map_err(ApiError::internal)?;
    Ok(answer(status, ticket))
}

fn answer(status: &'static str, ticket: Option<TicketId>) -> Response {
    (
        StatusCode::OK,
        axum::Json(WebhookAnswer {
            status,
            ticket_id: ticket.map(|t| t.to_string()),
        }),
    )
        .into_response()
}

/// The Zendesk ticket number a webhook concerns (`detail.id`, or `subject`
/// `zen:ticket:N`).
fn zendesk_ticket(hook: &Webhook) -> Option<String> {
    match &hook.detail["id"] {
        Value::String(s) if !s.is_empty() => return Some(s.clone()),
        Value::Number(n) => return Some(n.to_string()),
        _ => {}
    }
    None
}

/// A Zendesk ticket tagged `reclamation` or `complaint` is a complaint (Zendesk has no
/// complaint type: LAE's agents tag them); any other ticket has no reason code.
fn complaint_tag(tags: &Value) -> Option<ReasonCode> {
    let tagged = tags.as_array().is_some_and(|tags| {
        tags.iter()
            .any(|t| matches!(t.as_str(), Some("reclamation" | "complaint")))
    });
    if tagged {
        ReasonCode::parse(ReasonCode::COMPLAINT).ok()
    } else {
        None
    }
}

fn metadata(hook: &Webhook) -> EventMetadata {
    EventMetadata::new(
        "zendesk",
        "customer_service",
        Utc::now(),
        Uuid::new_v4(),
        Source::Zendesk,
    )
    .with("zendesk_webhook_id", hook.id.clone())
}

/// Cuts `text` to `max` characters.
fn bounded(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

async fn apply(
    state: &AppState,
    hook: &Webhook,
) -> Result<(&'static str, Option<TicketId>), ApiError> {
    let Some(number) = zendesk_ticket(hook) else {
        return Ok(("ignored", None));
    };
    let id = ticket_id(&number);
    let at = hook.time.unwrap_or_else(Utc::now);
    let operator: OperatorName = "Zendesk"
        .parse()
        .map_err(|_| ApiError::internal("operator name"))?;
    let command = match hook.kind.as_str() {
        "zen:event-type:ticket.created" => {
            let channel = match hook.detail["via"]["channel"].as_str() {
                Some("voice" | "phone") => Channel::Phone,
                _ => Channel::Mail,
            };
            let subject = hook.detail["subject"].as_str().unwrap_or_default();
            let reason = Reason::parse(&bounded(subject, 200))
                .or_else(|_| Reason::parse(&format!("Ticket Zendesk n° {number}")))
                .map_err(|e| {
                    ApiError::invalid("invalid_subject", "detail.subject", e.to_string())
                })?;
            let opened_at = hook.detail["created_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map_or(at, |t| t.with_timezone(&Utc));
            let (customer_id, field_reason) = read_back(state, &number).await;
            link(state, id, &number).await?;
            TicketCommand::OpenTicket {
                channel,
                reason,
                opened_at,
                operator,
                customer_id,
                category: field_reason.or_else(|| complaint_tag(&hook.detail["tags"])),
            }
        }
        "zen:event-type:ticket.comment_added" => {
            let body = hook.event["comment"]["body"].as_str().unwrap_or_default();
            let Ok(action) = ActionText::parse(&bounded(body, 2000)) else {
                return Ok(("ignored", Some(id)));
            };
            TicketCommand::RecordAction {
                action,
                at,
                operator,
            }
        }
        "zen:event-type:ticket.status_changed" => {
            let current = hook.event["current"]
                .as_str()
                .or_else(|| hook.detail["status"].as_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !matches!(current.as_str(), "solved" | "closed") {
                return Ok(("ignored", Some(id)));
            }
            let resolution = Note::parse("Résolu dans Zendesk")
                .map_err(|_| ApiError::internal("resolution note"))?;
            TicketCommand::ResolveTicket { resolution, at }
        }
        "lae:ticket.satisfaction_rated" => {
            let score = hook.detail["satisfaction_rating"]["score"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let score = match score.as_str() {
                "good" => Satisfaction::Good,
                "bad" => Satisfaction::Bad,
                // `offered`, `unoffered`: no rating given yet.
                _ => return Ok(("ignored", Some(id))),
            };
            TicketCommand::RateSatisfaction { score, at }
        }
        _ => return Ok(("ignored", Some(id))),
    };
    match state
        .tickets
        .execute(&id.to_string(), command, &metadata(hook))
        .await
    {
        Ok(_) => Ok(("applied", Some(id))),
        // Redelivered creation, or a status change on a ticket already closed here.
        Err(CommandError::Rejected(
            TicketError::AlreadyOpened | TicketError::Resolved | TicketError::AlreadyRated,
        )) => Ok(("duplicate", Some(id))),
        // A rating before the resolution reached the platform, or on a notice.
        Err(CommandError::Rejected(
            TicketError::NotResolved | TicketError::NotACustomerContact,
        )) => Ok(("ignored", Some(id))),
        // A comment or status on a ticket the platform never saw created.
        Err(CommandError::Rejected(TicketError::NotFound)) => Ok(("ignored", Some(id))),
        Err(e) => Err(ApiError::from(e)),
    }
}

/// Records that the platform's ticket `id` is Zendesk's ticket `number`, before the
/// ticket is opened: the outbound side then sends what is done here to that ticket.
async fn link(state: &AppState, id: TicketId, number: &str) -> Result<(), ApiError> {
    let Ok(number) = number.parse::<i64>() else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO zendesk_tickets (ticket_id, zendesk_id, origin) VALUES ($1, $2, 'zendesk') \
         ON CONFLICT DO NOTHING",
    )
    .bind(id.as_uuid())
    .bind(number)
    .execute(&state.pool)
    .await
    .map_err(ApiError::internal)?;
    Ok(())
}

/// What Zendesk's API says of its new ticket `number`: the customer its requester is
/// (by e-mail, else phone, when exactly one customer has it) and the reason code of
/// the mapped field (when it is one of `public.ticket_reasons`). Without the API, or
/// when it fails, neither: the ticket waits to be identified, and an agent does it.
async fn read_back(state: &AppState, number: &str) -> (Option<CustomerId>, Option<ReasonCode>) {
    let (Some(client), Ok(n)) = (&state.zendesk, number.parse::<u64>()) else {
        return (None, None);
    };
    let body = match client.ticket_with_users(n).await {
        Answer::Done(body) => body,
        other => {
            tracing::warn!(zendesk_ticket = n, answer = ?other, "could not read the Zendesk ticket back; its caller is left to identify");
            return (None, None);
        }
    };
    let requester = &body["ticket"]["requester_id"];
    let user = body["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["id"] == *requester));
    let email = user
        .and_then(|u| u["email"].as_str())
        .and_then(|e| Email::parse(e).ok());
    let phone = user
        .and_then(|u| u["phone"].as_str())
        .and_then(|p| PhoneNumber::parse(p).ok());
    let customer = match find_customer(state, email.as_ref(), phone.as_ref()).await {
        Ok(customer) => customer,
        Err(error) => {
            tracing::warn!(%error, "looking the Zendesk requester up failed; left to identify");
            None
        }
    };
    let field = client.reason_field().and_then(|field| {
        body["ticket"]["custom_fields"]
            .as_array()?
            .iter()
            .find(|f| f["id"].as_u64() == Some(field))?["value"]
            .as_str()
            .and_then(|v| ReasonCode::parse(v).ok())
    });
    let reason = match field {
        Some(code) => {
            let known: Result<bool, _> = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM public.ticket_reasons WHERE code = $1)",
            )
            .bind(code.as_str())
            .fetch_one(&state.pool)
            .await;
            known.unwrap_or(false).then_some(code)
        }
        None => None,
    };
    (customer, reason)
}

/// The one customer with this e-mail address (in any case), else this phone number.
async fn find_customer(
    state: &AppState,
    email: Option<&Email>,
    phone: Option<&PhoneNumber>,
) -> Result<Option<CustomerId>, sqlx::Error> {
    let mut reader = state
        .queries
        .readers
        .acquire(Department::CustomerService)
        .await?;
    let criteria = [
        (
            "SELECT customer_id FROM customer_service.customers WHERE lower(email) = lower($1) LIMIT 2",
            email.map(Email::as_str),
        ),
        (
            "SELECT customer_id FROM customer_service.customers WHERE phone = $1 LIMIT 2",
            phone.map(PhoneNumber::as_str),
        ),
    ];
    let mut found = None;
    for (sql, value) in criteria {
        let Some(value) = value else { continue };
        let ids: Vec<Uuid> = sqlx::query_scalar(sql)
            .bind(value)
            .fetch_all(&mut *reader)
            .await?;
        if let [one] = ids.as_slice() {
            found = Some(CustomerId::new(*one));
            break;
        }
    }
    reader.release();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_over_the_timestamp_then_the_body() {
        let secret = b"dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
        let timestamp = "2024-04-17T17:18:10Z";
        let body = br#"{"type":"zen:event-type:ticket.created","id":"1"}"#;
        let signature = sign(secret, timestamp, body);
        assert!(signature_matches(secret, timestamp, body, &signature));
        // The other order, which one page of Zendesk's documentation shows, differs.
        let mut other = Hmac::<Sha256>::new_from_slice(secret).expect("key");
        other.update(body);
        other.update(timestamp.as_bytes());
        let reversed = STANDARD.encode(other.finalize().into_bytes());
        assert_ne!(signature, reversed);
        assert!(!signature_matches(secret, timestamp, body, &reversed));
        // One flipped byte of the body, of the timestamp, or of the signature.
        let mut flipped = body.to_vec();
        flipped[10] ^= 1;
        assert!(!signature_matches(secret, timestamp, &flipped, &signature));
        assert!(!signature_matches(
            secret,
            "2024-04-17T17:18:11Z",
            body,
            &signature
        ));
        assert!(!signature_matches(secret, timestamp, body, "bm90IGl0"));
        assert!(!signature_matches(secret, timestamp, body, "%%%"));
    }

    #[test]
    fn zendesk_tickets_have_stable_platform_ids() {
        assert_eq!(ticket_id("42"), ticket_id("42"));
        assert_ne!(ticket_id("42"), ticket_id("43"));
    }
}
