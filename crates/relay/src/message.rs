//! From a stored event to the message the brokers carry: subject, headers, body.
//!
//! The body is a JSON envelope with the event's identity and position, and its
//! `payload` and `metadata` exactly as stored. The payload is copied as text, never
//! parsed: personal fields inside it will be ciphertext, and a relay that re-encoded it
//! could change what consumers decrypt or hash.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::RelayError;

/// An event as read from the store (text columns as stored).
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The `payload` column as text: PostgreSQL's `json` type keeps the text it was given.
    pub payload: String,
    /// The `metadata` column as text.
    pub metadata: String,
    pub global_position: i64,
    pub transaction_id: u64,
    pub recorded_at: DateTime<Utc>,
}

/// Header names set on every message (NATS headers and AMQP headers alike).
pub mod headers {
    /// JetStream's de-duplication key: the event id.
    pub const MSG_ID: &str = "Nats-Msg-Id";
    pub const EVENT_TYPE: &str = "Lae-Event-Type";
    pub const AGGREGATE_TYPE: &str = "Lae-Aggregate-Type";
    pub const AGGREGATE_ID: &str = "Lae-Aggregate-Id";
    pub const SEQUENCE: &str = "Lae-Sequence";
    pub const CORRELATION_ID: &str = "Lae-Correlation-Id";
    pub const CAUSATION_ID: &str = "Lae-Causation-Id";
    pub const SOURCE: &str = "Lae-Source";
}

/// A message ready for any sink.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub event_id: Uuid,
    pub global_position: i64,
    pub transaction_id: u64,
    pub recorded_at: DateTime<Utc>,
    /// `<aggregate_type>.<event_type>`: the NATS subject after the prefix, and the AMQP
    /// routing key.
    pub routing_key: String,
    pub event_type: String,
    /// The `Lae-*` headers (the message id travels separately).
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// The envelope's fields before `payload` and `metadata`, in the documented order.
#[derive(Serialize)]
struct EnvelopeHead<'a> {
    event_id: Uuid,
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    sequence: i64,
    event_type: &'a str,
    event_version: &'a str,
    global_position: i64,
    recorded_at: String,
}

impl Outbound {
    pub(crate) fn from_stored(event: &StoredEvent) -> Result<Self, RelayError> {
        let encode_error = |source| RelayError::Encode {
            event_id: event.event_id,
            source,
        };
        let head = EnvelopeHead {
            event_id: event.event_id,
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            event_version: &event.event_version,
            global_position: event.global_position,
            recorded_at: event
                .recorded_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        };
        let mut body = serde_json::to_vec(&head).map_err(encode_error)?;
        // A serialized struct always ends with its closing brace; reopen it and splice
        // in the stored texts. Both are valid JSON: the `json` column type checked them
        // on insert.
        if body.pop() != Some(b'}') {
            return Err(encode_error(serde::ser::Error::custom(
                "the envelope is not a JSON object",
            )));
        }
        body.reserve(event.payload.len() + event.metadata.len() + 26);
        body.extend_from_slice(b",\"payload\":");
        body.extend_from_slice(event.payload.as_bytes());
        body.extend_from_slice(b",\"metadata\":");
        body.extend_from_slice(event.metadata.as_bytes());
        body.push(b'}');

        Ok(Self {
            event_id: event.event_id,
            global_position: event.global_position,
            transaction_id: event.transaction_id,
            recorded_at: event.recorded_at,
            routing_key: format!(
                "{}.{}",
                subject_token(&event.aggregate_type),
                subject_token(&event.event_type)
            ),
            event_type: event.event_type.clone(),
            headers: lae_headers(event),
            body: Bytes::from(body),
        })
    }

    /// The message id: the event id, which is deterministic (UUIDv5 of
    /// `type:id:sequence`), so every re-publish of an event carries the same one.
    pub(crate) fn message_id(&self) -> String {
        self.event_id.to_string()
    }
}

fn lae_headers(event: &StoredEvent) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(7);
    let mut push = |name: &'static str, value: &str| {
        // A header value cannot span lines; a value that would is left out rather
        // than mangled (the envelope still carries it).
        if !value.is_empty() && !value.chars().any(char::is_control) {
            out.push((name, value.to_owned()));
        }
    };
    push(headers::EVENT_TYPE, &event.event_type);
    push(headers::AGGREGATE_TYPE, &event.aggregate_type);
    push(headers::AGGREGATE_ID, &event.aggregate_id);
    push(headers::SEQUENCE, &event.sequence.to_string());
    // The metadata is the flat string map of `lae_store::EventMetadata`. It is parsed
    // only to copy three routing fields into headers; it is never re-encoded.
    if let Ok(metadata) = serde_json::from_str::<Map<String, Value>>(&event.metadata) {
        for (key, name) in [
            ("correlation_id", headers::CORRELATION_ID),
            ("causation_id", headers::CAUSATION_ID),
            ("source", headers::SOURCE),
        ] {
            if let Some(Value::String(value)) = metadata.get(key) {
                push(name, value);
            }
        }
    }
    out
}

/// A subject token (and AMQP routing-key word) from a type name: characters that NATS
/// gives a meaning to (separators, wildcards, whitespace) become `_`.
pub(crate) fn subject_token(name: &str) -> String {
    if name.is_empty() {
        return "_".to_owned();
    }
    name.chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c == '#' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(payload: &str, metadata: &str) -> StoredEvent {
        StoredEvent {
            event_id: Uuid::from_u128(42),
            aggregate_type: "Customer".into(),
            aggregate_id: "LAE-1000001".into(),
            sequence: 3,
            event_type: "CustomerRegistered".into(),
            event_version: "1.0".into(),
            payload: payload.into(),
            metadata: metadata.into(),
            global_position: 77,
            transaction_id: 900,
            recorded_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap_or_default(),
        }
    }

    #[test]
    fn the_payload_is_copied_byte_for_byte() {
        // Odd spacing, key order and number forms would all be normalised by a parse.
        let payload = r#"{ "z":1.50, "a" :"x\u00e9", "n":1e2 }"#;
        let metadata =
            r#"{"correlation_id":"c-1","causation_id":"k-2","source":"api","user":"alice"}"#;
        let out = Outbound::from_stored(&stored(payload, metadata)).expect("encodes");
        let body = std::str::from_utf8(&out.body).expect("utf-8");
        assert!(
            body.ends_with(&format!(r#","payload":{payload},"metadata":{metadata}}}"#)),
            "{body}"
        );
        let parsed: Value = serde_json::from_str(body).expect("valid JSON");
        assert_eq!(parsed["event_id"], Uuid::from_u128(42).to_string());
        assert_eq!(parsed["aggregate_type"], "Customer");
        assert_eq!(parsed["aggregate_id"], "LAE-1000001");
        assert_eq!(parsed["sequence"], 3);
        assert_eq!(parsed["event_type"], "CustomerRegistered");
        assert_eq!(parsed["event_version"], "1.0");
        assert_eq!(parsed["global_position"], 77);
        assert_eq!(parsed["recorded_at"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(parsed["metadata"]["user"], "alice");
    }

    #[test]
    fn headers_come_from_the_event_and_its_metadata() {
        let metadata = r#"{"correlation_id":"c-1","causation_id":"k-2","source":"api"}"#;
        let out = Outbound::from_stored(&stored("{}", metadata)).expect("encodes");
        let get = |name: &str| {
            out.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get(headers::EVENT_TYPE), Some("CustomerRegistered"));
        assert_eq!(get(headers::AGGREGATE_TYPE), Some("Customer"));
        assert_eq!(get(headers::AGGREGATE_ID), Some("LAE-1000001"));
        assert_eq!(get(headers::SEQUENCE), Some("3"));
        assert_eq!(get(headers::CORRELATION_ID), Some("c-1"));
        assert_eq!(get(headers::CAUSATION_ID), Some("k-2"));
        assert_eq!(get(headers::SOURCE), Some("api"));
        assert_eq!(out.routing_key, "Customer.CustomerRegistered");
        assert_eq!(out.message_id(), Uuid::from_u128(42).to_string());
    }

    #[test]
    fn missing_or_odd_metadata_only_drops_headers() {
        let out =
            Outbound::from_stored(&stored("[1]", r#"{"source":"line\nbreak"}"#)).expect("encodes");
        assert!(out.headers.iter().all(|(n, _)| *n != headers::SOURCE));
        let out = Outbound::from_stored(&stored("null", "[]")).expect("encodes");
        assert_eq!(out.headers.len(), 4);
    }

    #[test]
    fn type_names_become_single_subject_tokens() {
        assert_eq!(subject_token("Customer"), "Customer");
        assert_eq!(subject_token("a.b c*>#"), "a_b_c___");
        assert_eq!(subject_token(""), "_");
    }
}
