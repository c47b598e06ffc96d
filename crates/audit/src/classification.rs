//! Which customer an event concerns, and which of its fields are personal, from the
//! domain's privacy classification (`lae_domain::Classified`).

use cqrs_es::Aggregate;
use lae_domain::contract::{Contract, ContractEvent};
use lae_domain::customer::{Customer, CustomerEvent};
use lae_domain::invoice::{Invoice, InvoiceEvent};
use lae_domain::offer::{Offer, OfferEvent};
use lae_domain::ticket::{Ticket, TicketEvent};
use lae_domain::{Classified, DataCategory, PersonalField};

/// The payload field naming the customer, for event types that name one.
pub(crate) fn subject_field(aggregate_type: &str, event_type: &str) -> Option<&'static str> {
    match aggregate_type {
        t if t == Customer::TYPE => CustomerEvent::subject_field(event_type),
        t if t == Offer::TYPE => OfferEvent::subject_field(event_type),
        t if t == Contract::TYPE => ContractEvent::subject_field(event_type),
        t if t == Invoice::TYPE => InvoiceEvent::subject_field(event_type),
        t if t == Ticket::TYPE => TicketEvent::subject_field(event_type),
        _ => None,
    }
}

/// The personal fields of an event type.
pub(crate) fn personal_fields(aggregate_type: &str, event_type: &str) -> &'static [PersonalField] {
    match aggregate_type {
        t if t == Customer::TYPE => CustomerEvent::personal_fields(event_type),
        t if t == Offer::TYPE => OfferEvent::personal_fields(event_type),
        t if t == Contract::TYPE => ContractEvent::personal_fields(event_type),
        t if t == Invoice::TYPE => InvoiceEvent::personal_fields(event_type),
        t if t == Ticket::TYPE => TicketEvent::personal_fields(event_type),
        _ => &[],
    }
}

/// The category of a payload field, if it is personal.
pub(crate) fn category_of(
    aggregate_type: &str,
    event_type: &str,
    field: &str,
) -> Option<DataCategory> {
    personal_fields(aggregate_type, event_type)
        .iter()
        .find(|f| f.field == field)
        .map(|f| f.category)
}

/// The customer an event of another aggregate names, read from its payload text.
/// `None` for `Customer` events (their aggregate id is the customer), for event types
/// that name nobody, and for a subject field holding `null` (an unidentified caller).
pub(crate) fn subject_of(aggregate_type: &str, event_type: &str, payload: &str) -> Option<String> {
    let field = subject_field(aggregate_type, event_type)?;
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    value.get(field)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_name_their_customer_and_customers_do_not() {
        assert_eq!(
            subject_of(
                "Offer",
                "OfferProposed",
                r#"{"type":"OfferProposed","customer_id":"c1"}"#
            ),
            Some("c1".to_owned())
        );
        assert_eq!(subject_of("Customer", "CustomerRegistered", "{}"), None);
        assert_eq!(
            subject_of("Ticket", "TicketOpened", r#"{"customer_id":null}"#),
            None
        );
    }

    #[test]
    fn health_fields_are_classified_as_health() {
        assert_eq!(
            category_of("Customer", "HealthDeclared", "illnesses"),
            Some(DataCategory::Health)
        );
        assert_eq!(
            category_of("Customer", "HealthDeclared", "declared_on"),
            None
        );
    }
}
