//! From an envelope's payload to a domain event: the one place per projector where
//! that happens.
//!
//! Personal fields will be encrypted per customer and data category (issue 8). The
//! decryptor goes into [`Decoder::decode`], between the stored text and serde: each
//! projector holds its own [`Decoder`], built for its department, so that it can be
//! given the keys of the categories that department may see and no others. Nothing
//! else in this crate reads a payload.

use cqrs_es::DomainEvent;
use lae_domain::contract::ContractEvent;
use lae_domain::customer::CustomerEvent;
use lae_domain::invoice::InvoiceEvent;
use lae_domain::offer::OfferEvent;
use lae_domain::ticket::TicketEvent;
use serde::de::DeserializeOwned;
use uuid::Uuid;

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
        /// Where serde stopped.
        line: usize,
        /// Where serde stopped.
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
}

/// Turns payloads into domain events for one department (see the module docs).
#[derive(Debug, Clone)]
pub struct Decoder {
    department: Department,
}

/// The only event version this code reads.
const VERSION: &str = "1.0";

impl Decoder {
    /// A decoder for one department's projector.
    #[must_use]
    pub fn new(department: Department) -> Self {
        Self { department }
    }

    /// The department the decoder works for.
    #[must_use]
    pub fn department(&self) -> Department {
        self.department
    }

    /// Decodes an envelope's payload. This is where a decryptor will be inserted:
    /// the payload text goes in, a plain domain event comes out.
    pub fn decode<'a>(&self, envelope: &'a Envelope) -> Result<Decoded<'a>, DecodeError> {
        let id = Uuid::parse_str(&envelope.aggregate_id)
            .map_err(|_| DecodeError::AggregateId(envelope.aggregate_type.clone()))?;
        if envelope.event_version != VERSION {
            return Err(DecodeError::UnsupportedVersion {
                event_type: envelope.event_type.clone(),
                version: envelope.event_version.clone(),
            });
        }
        let payload = envelope.payload.as_str();
        let event = match envelope.aggregate_type.as_str() {
            "Customer" => Event::Customer(parse::<CustomerEvent>(envelope, payload)?),
            "Offer" => Event::Offer(parse::<OfferEvent>(envelope, payload)?),
            "Contract" => Event::Contract(parse::<ContractEvent>(envelope, payload)?),
            "Invoice" => Event::Invoice(parse::<InvoiceEvent>(envelope, payload)?),
            "Ticket" => Event::Ticket(parse::<TicketEvent>(envelope, payload)?),
            other => return Err(DecodeError::UnknownAggregate(other.to_owned())),
        };
        Ok(Decoded {
            envelope,
            id,
            event,
        })
    }
}

fn parse<E: DeserializeOwned + DomainEvent>(
    envelope: &Envelope,
    payload: &str,
) -> Result<E, DecodeError> {
    let event: E = serde_json::from_str(payload).map_err(|e| DecodeError::Payload {
        event_type: envelope.event_type.clone(),
        line: e.line(),
        column: e.column(),
    })?;
    let tag = event.event_type();
    if tag != envelope.event_type {
        return Err(DecodeError::TypeMismatch {
            envelope: envelope.event_type.clone(),
            payload: tag,
        });
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
