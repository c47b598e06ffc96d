//! Which customer an event concerns, and which of its fields are personal, from the
//! domain's privacy classification (`lae_domain::Classified`).

use lae_domain::{DataCategory, classify};

/// The payload field naming the customer, for event types that name one.
pub(crate) fn subject_field(aggregate_type: &str, event_type: &str) -> Option<&'static str> {
    classify(aggregate_type, event_type).subject_field
}

/// The category of a payload field, if it is personal.
pub(crate) fn category_of(
    aggregate_type: &str,
    event_type: &str,
    field: &str,
) -> Option<DataCategory> {
    classify(aggregate_type, event_type).category_of(field)
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
