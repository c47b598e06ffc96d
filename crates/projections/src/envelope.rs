//! The message the relay publishes for each event, as the projectors read it.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

/// One event with its identity and position, and its payload as stored.
///
/// The payload is kept as text: its personal fields are sealed (issue 8), and it is
/// turned into a domain event in one place only ([`crate::Decoder::decode`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Deterministic event id (UUIDv5 of `type:id:sequence`), the `Nats-Msg-Id`.
    pub event_id: Uuid,
    /// `Customer`, `Offer`, `Contract`, `Invoice` or `Ticket`.
    pub aggregate_type: String,
    /// The aggregate's id (a UUID in text form).
    pub aggregate_id: String,
    /// The event's position within its aggregate, from 1.
    pub sequence: i64,
    /// The event type (the serde tag of the domain enum).
    pub event_type: String,
    /// The event version (`1.0`).
    pub event_version: String,
    /// The store's global position (insert order, not commit order).
    pub global_position: i64,
    /// When the store recorded the event (its transaction's start).
    pub recorded_at: DateTime<Utc>,
    /// The payload JSON exactly as stored.
    pub payload: String,
    /// Who caused the event, from its metadata: for management's operator-days.
    pub actor: Option<EnvelopeActor>,
}

/// The user and role a department user's event was recorded under (metadata `user`,
/// `department` and `source` = `api`); `None` for the platform's own events (reactors,
/// import, Zendesk, command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeActor {
    /// The user's login.
    pub user: String,
    /// The user's role (`customer_service`, `legal`, `sales`, `billing`, ...).
    pub role: String,
}

impl EnvelopeActor {
    /// The actor of the metadata JSON `metadata`, if a department user's.
    #[must_use]
    pub fn from_metadata(metadata: &str) -> Option<Self> {
        let meta: WireMetadata<'_> = serde_json::from_str(metadata).ok()?;
        Self::from_wire(meta)
    }

    fn from_wire(meta: WireMetadata<'_>) -> Option<Self> {
        (meta.source.as_deref() == Some("api")).then_some(())?;
        Some(Self {
            user: meta.user?.into_owned(),
            role: meta.department?.into_owned(),
        })
    }
}

/// The metadata fields the actor is read from (the others are ignored).
#[derive(Deserialize, Default)]
struct WireMetadata<'a> {
    #[serde(borrow)]
    user: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    department: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<std::borrow::Cow<'a, str>>,
}

impl std::fmt::Debug for Envelope {
    // The payload holds personal data: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("event_id", &self.event_id)
            .field("aggregate_type", &self.aggregate_type)
            .field("sequence", &self.sequence)
            .field("event_type", &self.event_type)
            .field("event_version", &self.event_version)
            .field("global_position", &self.global_position)
            .field("recorded_at", &self.recorded_at)
            .finish_non_exhaustive()
    }
}

/// The wire form: the payload is borrowed raw so that it is copied, not re-encoded.
#[derive(Deserialize)]
struct Wire<'a> {
    event_id: Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    global_position: i64,
    recorded_at: DateTime<Utc>,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow, default)]
    metadata: Option<WireMetadata<'a>>,
}

/// Why a message body is not an envelope. The serde error is reduced to its position:
/// its text can quote the offending value, which may be personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message is not an event envelope (JSON error at line {line}, column {column})")]
pub struct MalformedEnvelope {
    /// The line of the error in the body.
    pub line: usize,
    /// The column of the error in the body.
    pub column: usize,
}

impl Envelope {
    /// Parses the relay's JSON envelope (`metadata` and unknown fields are ignored).
    pub fn from_json(body: &[u8]) -> Result<Self, MalformedEnvelope> {
        let wire: Wire<'_> = serde_json::from_slice(body).map_err(|e| MalformedEnvelope {
            line: e.line(),
            column: e.column(),
        })?;
        Ok(Self {
            event_id: wire.event_id,
            aggregate_type: wire.aggregate_type,
            aggregate_id: wire.aggregate_id,
            sequence: wire.sequence,
            event_type: wire.event_type,
            event_version: wire.event_version,
            global_position: wire.global_position,
            recorded_at: wire.recorded_at,
            payload: wire.payload.get().to_owned(),
            actor: wire.metadata.and_then(EnvelopeActor::from_wire),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"event_id":"00000000-0000-0000-0000-00000000002a","aggregate_type":"Customer","aggregate_id":"0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d","sequence":3,"event_type":"ContactDetailsChanged","event_version":"1.0","global_position":77,"recorded_at":"2023-11-14T22:13:20.123456Z","payload":{ "type":"ContactDetailsChanged", "email" :"a@b.fr"},"metadata":{"user":"alice"}}"#;

    #[test]
    fn parses_the_relay_envelope_and_keeps_the_payload_text() {
        let envelope = Envelope::from_json(BODY.as_bytes()).expect("parses");
        assert_eq!(envelope.event_id, Uuid::from_u128(42));
        assert_eq!(envelope.sequence, 3);
        assert_eq!(envelope.global_position, 77);
        assert_eq!(
            envelope.payload,
            r#"{ "type":"ContactDetailsChanged", "email" :"a@b.fr"}"#
        );
        assert_eq!(
            envelope.recorded_at.to_rfc3339(),
            "2023-11-14T22:13:20.123456+00:00"
        );
    }

    #[test]
    fn the_actor_is_a_department_user_s_and_never_the_platform_s() {
        let envelope = Envelope::from_json(BODY.as_bytes()).expect("parses");
        assert_eq!(envelope.actor, None, "no source: not a department user's");
        let body = BODY.replace(
            r#""metadata":{"user":"alice"}"#,
            r#""metadata":{"user":"alice","department":"sales","source":"api"}"#,
        );
        let envelope = Envelope::from_json(body.as_bytes()).expect("parses");
        assert_eq!(
            envelope.actor,
            Some(EnvelopeActor {
                user: "alice".into(),
                role: "sales".into()
            })
        );
        let reactor = r#"{"user":"lae","department":"platform","source":"policy"}"#;
        assert_eq!(EnvelopeActor::from_metadata(reactor), None);
    }

    #[test]
    fn debug_never_shows_the_payload_or_the_aggregate_id() {
        let envelope = Envelope::from_json(BODY.as_bytes()).expect("parses");
        let shown = format!("{envelope:?}");
        assert!(!shown.contains("a@b.fr"), "{shown}");
        assert!(!shown.contains("0190a3c4"), "{shown}");
    }

    #[test]
    fn a_malformed_body_is_reported_without_its_content() {
        let err = Envelope::from_json(br#"{"event_id":"secret@mail.fr"}"#).expect_err("refused");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
