//! From an envelope's payload to a domain event: the one place per projector where
//! that happens, and where personal fields are opened.
//!
//! Personal fields are stored sealed, with a key per customer and data category
//! (issue 8, `lae_store::crypto`). Each projector holds its own [`Decoder`], built for
//! its department: [`Decoder::with_keys`] gives it a keyring for the categories that
//! department may see ([`Department::categories`]) and no others, and PostgreSQL's
//! grants on `keys.*` decide what its writer role may actually read. Nothing else in
//! this crate reads a payload.
//!
//! Decoding is split so that key loading stays out of it: [`Payload::read`] parses a
//! sealed payload once and names the keys it needs ([`Payload::needs`]); the caller
//! loads the keys of a whole batch in one query per category ([`crate::apply`]) on its
//! own connection; [`Decoder::decode_read`] then opens the fields from the cache and
//! deserializes the event from the parsed value. A clear payload (no sealed field:
//! events without personal data, events written before encryption) is deserialized
//! straight from its text, as before.
//!
//! A field whose key was destroyed (the customer was erased) reads `[erased]`, one the
//! department may not read `[withheld]`. When the event still deserializes (free texts
//! such as a ticket's reason accept those words) it is applied; otherwise it is
//! *redacted* ([`DecodeError::Redacted`]): skipped without holding anything back.

use std::sync::Arc;

use cqrs_es::DomainEvent;
use lae_domain::DataCategory;
use lae_domain::contract::ContractEvent;
use lae_domain::customer::CustomerEvent;
use lae_domain::invoice::InvoiceEvent;
use lae_domain::offer::OfferEvent;
use lae_domain::ticket::TicketEvent;
use lae_store::crypto::keyring::{DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL};
use lae_store::crypto::payload::{self as sealed_payload, Access, OnTampered, SealedText};
use lae_store::crypto::{KeyError, Keyring, MasterKeys, Opened};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::department::Department;
use crate::envelope::Envelope;

/// A decoded domain event of any aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An event of the `Customer` aggregate.
    Customer(CustomerEvent),
    /// An event of the `Offer` aggregate.
    Offer(OfferEvent),
    /// An event of the `Contract` aggregate.
    Contract(ContractEvent),
    /// An event of the `Invoice` aggregate.
    Invoice(InvoiceEvent),
    /// An event of the `Ticket` aggregate.
    Ticket(TicketEvent),
}

/// An envelope together with its decoded event and its aggregate id as a UUID.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    /// The envelope (identity, position, record time).
    pub envelope: &'a Envelope,
    /// The aggregate id.
    pub id: Uuid,
    /// The domain event.
    pub event: Event,
}

/// A decoded event apart from its envelope (see [`crate::apply::DecodedBatch`]).
#[derive(Debug, Clone)]
pub struct Detached {
    id: Uuid,
    event: Event,
}

impl Detached {
    /// Back beside its envelope.
    #[must_use]
    pub fn attach(self, envelope: &Envelope) -> Decoded<'_> {
        Decoded {
            envelope,
            id: self.id,
            event: self.event,
        }
    }
}

impl Decoded<'_> {
    /// The event apart from its envelope.
    #[must_use]
    pub fn detach(self) -> Detached {
        Detached {
            id: self.id,
            event: self.event,
        }
    }

    /// The customer whose personal data this event erases, if it is an erasure.
    #[must_use]
    pub fn erased_customer(&self) -> Option<Uuid> {
        matches!(
            self.event,
            Event::Customer(CustomerEvent::CustomerErased { .. })
        )
        .then_some(self.id)
    }
}

/// Why a payload could not be turned into a domain event. Messages never quote the
/// payload: it holds personal data.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// No domain aggregate has this type.
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregate(String),
    /// The aggregate id is not a UUID.
    #[error("the aggregate id of a {0} event is not a UUID")]
    AggregateId(String),
    /// This code only knows version 1.0 of every event.
    #[error("unsupported version {version:?} of {event_type}")]
    UnsupportedVersion {
        /// The event type.
        event_type: String,
        /// Its version.
        version: String,
    },
    /// The payload does not match the event's schema.
    #[error("the payload of {event_type} does not match its schema (line {line}, column {column})")]
    Payload {
        /// The event type.
        event_type: String,
        /// Where serde stopped (0 when decoded from an opened value).
        line: usize,
        /// Where serde stopped (0 when decoded from an opened value).
        column: usize,
    },
    /// The payload's own type tag disagrees with the envelope.
    #[error("the envelope says {envelope} but the payload is a {payload}")]
    TypeMismatch {
        /// The envelope's event type.
        envelope: String,
        /// The payload's tag.
        payload: String,
    },
    /// A sealed field does not open: altered or misplaced ciphertext, a payload that
    /// names no data subject, or keys that were not loaded first.
    #[error("the personal fields of a {event_type} event do not open: {source}")]
    Sealed {
        /// The event type.
        event_type: String,
        /// Why (never quotes a value).
        #[source]
        source: KeyError,
    },
    /// Some personal fields read `[erased]` or `[withheld]` and the rest does not make
    /// a valid event: there is nothing this department can apply. Not a failure: the
    /// event is skipped and its sequence recorded.
    #[error(
        "a {event_type} event is redacted here (erased fields: {erased}, withheld fields: {withheld})"
    )]
    Redacted {
        /// The event type.
        event_type: String,
        /// Some field's key was destroyed (its customer was erased).
        erased: bool,
        /// Some field's category may not be read by this department.
        withheld: bool,
    },
}

/// A payload read ahead of its decoding (see the module docs). It never shows its
/// content, not even in `Debug`.
pub struct Payload<'a>(Read<'a>);

enum Read<'a> {
    /// No sealed field: deserialized straight from its text.
    Clear,
    /// Sealed envelopes, read as text (the current format).
    Text(SealedText<'a>),
    /// Fields sealed in format 1, or a payload the text reader does not take: parsed
    /// as a tree, opened in it.
    Tree(Value),
}

impl std::fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("sealed", &self.is_sealed())
            .finish_non_exhaustive()
    }
}

impl<'a> Payload<'a> {
    /// Reads an envelope's payload: its sealed envelopes found if it has some, left as
    /// text otherwise. A payload that does not parse is left as text too, for
    /// [`Decoder::decode_read`] to report where it fails.
    ///
    /// The store, the relay and the store reader copy payload text byte for byte, so a
    /// payload text without [`sealed_payload::MARKS`] has no sealed field.
    #[must_use]
    pub fn read(envelope: &'a Envelope) -> Self {
        let text = envelope.payload.as_str();
        if !sealed_payload::MARKS.iter().any(|m| text.contains(m)) {
            return Self(Read::Clear);
        }
        if let Some(sealed) = SealedText::parse(text) {
            return Self(Read::Text(sealed));
        }
        match serde_json::from_str(text) {
            Ok(value) => Self(Read::Tree(value)),
            Err(_) => Self(Read::Clear),
        }
    }

    /// Whether the payload holds sealed fields to open.
    #[must_use]
    pub fn is_sealed(&self) -> bool {
        !matches!(self.0, Read::Clear)
    }

    /// The (subject, category) keys opening this payload needs. Empty for a clear
    /// payload; also empty when the payload names no subject, which opening reports.
    #[must_use]
    pub fn needs(&self, envelope: &Envelope) -> Vec<(Uuid, DataCategory)> {
        let (t, id, e) = (
            &envelope.aggregate_type,
            &envelope.aggregate_id,
            &envelope.event_type,
        );
        match &self.0 {
            Read::Clear => Ok(Vec::new()),
            Read::Text(sealed) => Keyring::needs_text(t, id, e, sealed),
            Read::Tree(value) => Keyring::needs(t, id, e, value),
        }
        .unwrap_or_default()
    }
}

/// Turns payloads into domain events for one department (see the module docs).
#[derive(Debug, Clone)]
pub struct Decoder {
    department: Department,
    /// The department's keys; `None` reads every sealed field as withheld.
    keyring: Option<Keyring>,
}

/// The event version this code reads, for every event type but those of [`LATER`].
const VERSION: &str = "1.0";

/// Event types at a later version, which this code reads along with their 1.0 (a
/// 1.0 payload lacks only optional fields, which decode as absent).
const LATER: &[(&str, &str)] = &[
    ("TicketRouted", "1.1"),
    ("TicketOpened", "1.1"),
    ("PaymentRejected", "1.1"),
];

/// Whether this code reads `event_type` at `version`.
fn readable(event_type: &str, version: &str) -> bool {
    version == VERSION || LATER.contains(&(event_type, version))
}

impl Decoder {
    /// A decoder without keys: sealed fields read as `[withheld]`.
    #[must_use]
    pub fn new(department: Department) -> Self {
        Self {
            department,
            keyring: None,
        }
    }

    /// A decoder with the keys of the categories `department` may see
    /// ([`Department::categories`]), unwrapped with `masters`. Which of them its
    /// connection may actually read is asked of PostgreSQL when keys are first loaded.
    #[must_use]
    pub fn with_keys(department: Department, masters: Arc<MasterKeys>) -> Self {
        Self {
            department,
            keyring: Some(Keyring::new(masters, department.categories())),
        }
    }

    /// [`Decoder::with_keys`] with room for `capacity` keys in its cache (at least the
    /// default): a rebuild's batches need more than a live projector's.
    #[must_use]
    pub fn with_key_capacity(
        department: Department,
        masters: Arc<MasterKeys>,
        capacity: usize,
    ) -> Self {
        Self {
            department,
            keyring: Some(Keyring::with_cache(
                masters,
                department.categories(),
                capacity.max(DEFAULT_CACHE_CAPACITY),
                DEFAULT_CACHE_TTL,
            )),
        }
    }

    /// The department the decoder works for.
    #[must_use]
    pub fn department(&self) -> Department {
        self.department
    }

    /// The keyring, for the caller to load a batch's keys into before decoding it.
    #[must_use]
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Drops an erased customer's keys from the cache.
    pub fn forget(&self, subject: Uuid) {
        if let Some(keyring) = &self.keyring {
            keyring.forget(subject);
        }
    }

    /// Decodes an envelope's payload (see [`Decoder::decode_read`]). The keys of its
    /// sealed fields must have been loaded.
    pub fn decode<'a>(&self, envelope: &'a Envelope) -> Result<Decoded<'a>, DecodeError> {
        self.decode_read(envelope, Payload::read(envelope))
    }

    /// Decodes an envelope whose payload was read ahead ([`Payload::read`]): opens its
    /// sealed fields with the cached keys, then deserializes the domain event.
    pub fn decode_read<'a>(
        &self,
        envelope: &'a Envelope,
        payload: Payload<'a>,
    ) -> Result<Decoded<'a>, DecodeError> {
        let id = Uuid::parse_str(&envelope.aggregate_id)
            .map_err(|_| DecodeError::AggregateId(envelope.aggregate_type.clone()))?;
        if !readable(&envelope.event_type, &envelope.event_version) {
            return Err(DecodeError::UnsupportedVersion {
                event_type: envelope.event_type.clone(),
                version: envelope.event_version.clone(),
            });
        }
        let event = match envelope.aggregate_type.as_str() {
            "Customer" => Event::Customer(self.parse(envelope, payload)?),
            "Offer" => Event::Offer(self.parse(envelope, payload)?),
            "Contract" => Event::Contract(self.parse(envelope, payload)?),
            "Invoice" => Event::Invoice(self.parse(envelope, payload)?),
            "Ticket" => Event::Ticket(self.parse(envelope, payload)?),
            other => return Err(DecodeError::UnknownAggregate(other.to_owned())),
        };
        Ok(Decoded {
            envelope,
            id,
            event,
        })
    }

    fn parse<E: DeserializeOwned + DomainEvent>(
        &self,
        envelope: &Envelope,
        payload: Payload<'_>,
    ) -> Result<E, DecodeError> {
        let schema_error = |e: serde_json::Error| DecodeError::Payload {
            event_type: envelope.event_type.clone(),
            line: e.line(),
            column: e.column(),
        };
        let redacted = |opened: Opened| DecodeError::Redacted {
            event_type: envelope.event_type.clone(),
            erased: opened.erased,
            withheld: opened.withheld,
        };
        let event: E = match payload.0 {
            Read::Clear => serde_json::from_str(&envelope.payload).map_err(schema_error)?,
            Read::Text(sealed) => {
                let (text, opened) = self.open_text(envelope, &sealed)?;
                match serde_json::from_str(&text) {
                    Ok(event) => event,
                    Err(_) if opened.is_redacted() => return Err(redacted(opened)),
                    Err(e) => return Err(schema_error(e)),
                }
            }
            Read::Tree(mut value) => {
                let opened = self.open(envelope, &mut value)?;
                match serde_json::from_value(value) {
                    Ok(event) => event,
                    Err(_) if opened.is_redacted() => return Err(redacted(opened)),
                    Err(e) => return Err(schema_error(e)),
                }
            }
        };
        let tag = event.event_type();
        if tag != envelope.event_type {
            return Err(DecodeError::TypeMismatch {
                envelope: envelope.event_type.clone(),
                payload: tag,
            });
        }
        Ok(event)
    }

    /// The clear text of a payload read as text, fields that cannot be opened reading
    /// `[erased]` / `[withheld]`.
    fn open_text(
        &self,
        envelope: &Envelope,
        sealed: &SealedText<'_>,
    ) -> Result<(Zeroizing<String>, Opened), DecodeError> {
        let sealed_error = |source| DecodeError::Sealed {
            event_type: envelope.event_type.clone(),
            source,
        };
        match &self.keyring {
            // No key to open with: the subject is not needed.
            None => sealed.open(Uuid::nil(), &envelope.event_type, OnTampered::Mark, |_| {
                Ok(Access::Withheld)
            }),
            Some(keyring) => keyring.open_text(
                &envelope.aggregate_type,
                &envelope.aggregate_id,
                &envelope.event_type,
                sealed,
            ),
        }
        .map_err(sealed_error)
    }

    /// Replaces the sealed fields of `value` with their clear values, or with
    /// `[erased]` / `[withheld]`.
    fn open(&self, envelope: &Envelope, value: &mut Value) -> Result<Opened, DecodeError> {
        let Some(keyring) = &self.keyring else {
            return Ok(sealed_payload::withhold(
                value,
                &lae_domain::classify(&envelope.aggregate_type, &envelope.event_type),
                &envelope.event_type,
            ));
        };
        keyring
            .open(
                &envelope.aggregate_type,
                &envelope.aggregate_id,
                &envelope.event_type,
                value,
            )
            .map_err(|source| DecodeError::Sealed {
                event_type: envelope.event_type.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_routings_and_openings_are_read_at_1_0_and_1_1_and_nothing_else_later() {
        assert!(readable("TicketRouted", "1.0"));
        assert!(readable("TicketRouted", "1.1"));
        assert!(!readable("TicketRouted", "1.2"));
        assert!(readable("TicketOpened", "1.1"));
        assert!(!readable("TicketResolved", "1.1"));
        // A 1.0 routing, without the hand-over, decodes with it absent.
        let event: lae_domain::ticket::TicketEvent = serde_json::from_value(serde_json::json!({
            "type": "TicketRouted", "customer_id": null,
            "previous_department": "customer_service", "department": "billing",
            "at": "2024-09-02T09:25:00Z", "note": null
        }))
        .expect("a 1.0 payload");
        assert!(matches!(
            event,
            lae_domain::ticket::TicketEvent::TicketRouted {
                reason: None,
                channel: None,
                opened_at: None,
                ..
            }
        ));
    }
    use chrono::DateTime;

    fn envelope(aggregate_type: &str, event_type: &str, payload: &str) -> Envelope {
        Envelope {
            event_id: Uuid::from_u128(1),
            aggregate_type: aggregate_type.into(),
            aggregate_id: Uuid::from_u128(2).to_string(),
            sequence: 1,
            event_type: event_type.into(),
            event_version: "1.0".into(),
            global_position: 1,
            recorded_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            payload: payload.into(),
            actor: None,
        }
    }

    #[test]
    fn every_catalog_example_decodes() {
        let decoder = Decoder::new(Department::Management);
        for entry in lae_domain::catalog::entries() {
            let env = envelope(
                entry.aggregate_type,
                &entry.event_type,
                &entry.example.to_string(),
            );
            let decoded = decoder.decode(&env);
            assert!(decoded.is_ok(), "{}: {decoded:?}", entry.event_type);
        }
    }

    #[test]
    fn a_bad_payload_is_reported_without_its_content() {
        let decoder = Decoder::new(Department::Legal);
        let env = envelope(
            "Customer",
            "ContactDetailsChanged",
            r#"{"type":"ContactDetailsChanged","last_name":"Zz","first_name":"A","email":"secret-at-mail","phone":null,"availability":""}"#,
        );
        let err = decoder.decode(&env).expect_err("invalid email");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn the_envelope_and_payload_types_must_agree() {
        let decoder = Decoder::new(Department::Sales);
        let example = lae_domain::catalog::entries()
            .into_iter()
            .find(|e| e.event_type == "OfferDeclined")
            .expect("example");
        let env = envelope("Offer", "OfferWithdrawn", &example.example.to_string());
        assert!(matches!(
            decoder.decode(&env),
            Err(DecodeError::TypeMismatch { .. })
        ));
        let mut env = envelope("Offer", "OfferDeclined", &example.example.to_string());
        env.event_version = "2.0".into();
        assert!(matches!(
            decoder.decode(&env),
            Err(DecodeError::UnsupportedVersion { .. })
        ));
    }

    /// A catalog example with its personal fields sealed, as the store writes them.
    fn sealed_example(event_type: &str) -> (Envelope, Uuid) {
        let entry = lae_domain::catalog::entries()
            .into_iter()
            .find(|e| e.event_type == event_type)
            .expect("example");
        let mut payload = entry.example.clone();
        let classification = lae_domain::classify(entry.aggregate_type, event_type);
        let subject = classification
            .subject_field
            .and_then(|f| payload.get(f))
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or(Uuid::from_u128(2));
        let key = Arc::new(lae_store::crypto::DataKey::generate());
        sealed_payload::seal(&mut payload, &classification, subject, event_type, |_| {
            Ok(key.clone())
        })
        .expect("sealed");
        (
            envelope(entry.aggregate_type, event_type, &payload.to_string()),
            subject,
        )
    }

    #[test]
    fn sealed_payloads_are_told_from_clear_ones() {
        let (sealed, _) = sealed_example("HealthDeclared");
        assert!(Payload::read(&sealed).is_sealed());
        let clear = lae_domain::catalog::entries()
            .into_iter()
            .find(|e| e.event_type == "HealthDeclared")
            .expect("example");
        let clear = envelope("Customer", "HealthDeclared", &clear.example.to_string());
        assert!(!Payload::read(&clear).is_sealed());
        assert!(Payload::read(&clear).needs(&clear).is_empty());
    }

    #[test]
    fn without_keys_sealed_fields_are_withheld_and_events_that_need_them_redacted() {
        let decoder = Decoder::new(Department::Legal);
        let (health, subject) = sealed_example("HealthDeclared");
        let payload = Payload::read(&health);
        assert_eq!(
            payload.needs(&health),
            [(subject, DataCategory::Health)],
            "one key per subject and category"
        );
        assert!(!format!("{payload:?}").contains("enc"));
        match decoder.decode_read(&health, payload) {
            Err(DecodeError::Redacted {
                erased: false,
                withheld: true,
                ..
            }) => {}
            other => panic!("expected a redacted event, got {other:?}"),
        }
        // A free text accepts the placeholder: the event is applied without it.
        let (ticket, _) = sealed_example("TicketOpened");
        let decoded = decoder.decode(&ticket).expect("a ticket still decodes");
        let Event::Ticket(TicketEvent::TicketOpened { reason, .. }) = decoded.event else {
            panic!("not a ticket opening");
        };
        assert_eq!(reason.as_str(), lae_store::crypto::WITHHELD);
    }
}
