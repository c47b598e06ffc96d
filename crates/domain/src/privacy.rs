//! Personal-data classification of event payloads.
//!
//! The store encrypts personal fields with a key per data subject and
//! category, so that erasing a customer (or only, say, their health data)
//! means destroying keys rather than rewriting immutable events. This module
//! only declares which fields are personal; it does no cryptography.

use serde::{Deserialize, Serialize};

/// A category of personal data; each has its own encryption key per subject.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    /// Identity and contact details, and free texts written about the person.
    Contact,
    /// Health declaration (special-category data under GDPR article 9).
    Health,
    /// Bank details: IBAN and direct-debit mandate.
    Bank,
    /// Sales profile: age band, profession, sex.
    Profile,
}

impl DataCategory {
    /// Every category.
    pub const ALL: [Self; 4] = [Self::Contact, Self::Health, Self::Bank, Self::Profile];

    /// The JSON spelling of the category.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Health => "health",
            Self::Bank => "bank",
            Self::Profile => "profile",
        }
    }
}

/// A top-level payload field holding personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersonalField {
    /// The JSON name of the field in the event payload.
    pub field: &'static str,
    /// Its category.
    pub category: DataCategory,
}

/// Shorthand for the classification tables.
pub(crate) const fn personal(field: &'static str, category: DataCategory) -> PersonalField {
    PersonalField { field, category }
}

/// Implemented by every event enum: which fields of which event type are personal.
pub trait Classified {
    /// JSON field of the payload holding the data subject's `CustomerId`.
    ///
    /// `None` means the payload does not name the subject: for `Customer`
    /// events the aggregate id is the customer id; for other aggregates this
    /// only happens on event types without personal fields. A named field may
    /// hold `null` (a ticket from an unidentified caller): the store then has
    /// no customer to attach the data to and must choose its own fallback.
    fn subject_field(event_type: &str) -> Option<&'static str>;

    /// Top-level payload fields that hold personal data, with their category;
    /// empty for unknown event types.
    fn personal_fields(event_type: &str) -> &'static [PersonalField];
}

/// The privacy classification of one event type of one aggregate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// See [`Classified::subject_field`].
    pub subject_field: Option<&'static str>,
    /// See [`Classified::personal_fields`].
    pub personal_fields: &'static [PersonalField],
}

/// The classification of an event type of any aggregate of the domain, by name;
/// nothing personal for an unknown aggregate or event type.
#[must_use]
pub fn classify(aggregate_type: &str, event_type: &str) -> Classification {
    use crate::contract::{Contract, ContractEvent};
    use crate::customer::{Customer, CustomerEvent};
    use crate::invoice::{Invoice, InvoiceEvent};
    use crate::offer::{Offer, OfferEvent};
    use crate::ticket::{Ticket, TicketEvent};
    use cqrs_es::Aggregate;

    fn of<E: Classified>(event_type: &str) -> Classification {
        Classification {
            subject_field: E::subject_field(event_type),
            personal_fields: E::personal_fields(event_type),
        }
    }
    match aggregate_type {
        t if t == Customer::TYPE => of::<CustomerEvent>(event_type),
        t if t == Offer::TYPE => of::<OfferEvent>(event_type),
        t if t == Contract::TYPE => of::<ContractEvent>(event_type),
        t if t == Invoice::TYPE => of::<InvoiceEvent>(event_type),
        t if t == Ticket::TYPE => of::<TicketEvent>(event_type),
        _ => Classification {
            subject_field: None,
            personal_fields: &[],
        },
    }
}

impl Classification {
    /// The category of a payload field, if it is personal.
    #[must_use]
    pub fn category_of(&self, field: &str) -> Option<DataCategory> {
        self.personal_fields
            .iter()
            .find(|f| f.field == field)
            .map(|f| f.category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_serialize_as_their_name() {
        for category in [
            DataCategory::Contact,
            DataCategory::Health,
            DataCategory::Bank,
            DataCategory::Profile,
        ] {
            assert_eq!(
                serde_json::to_value(category).unwrap(),
                serde_json::json!(category.as_str())
            );
        }
    }
}
