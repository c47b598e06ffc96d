//! Events of the `Offer` aggregate, their privacy classification and examples.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::examples::{CUSTOMER, ExampleError, date};
use crate::privacy::{Classified, PersonalField};
use crate::values::{Cents, CustomerId, ProductName, Reason};

/// What happened to a commercial offer. The aggregate id is the offer id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum OfferEvent {
    /// A product was proposed to a customer.
    OfferProposed {
        /// The customer the offer is made to.
        customer_id: CustomerId,
        /// The proposed product.
        product: ProductName,
        /// The monthly premium.
        monthly_premium: Cents,
        /// The date of the proposal.
        proposed_on: NaiveDate,
    },
    /// The customer accepted the offer. The event repeats the offer's terms so
    /// that Legal can request the contract without re-typing anything.
    OfferAccepted {
        /// The customer who accepted.
        customer_id: CustomerId,
        /// The accepted product.
        product: ProductName,
        /// The accepted monthly premium.
        monthly_premium: Cents,
        /// The date of the acceptance.
        accepted_on: NaiveDate,
    },
    /// The customer declined the offer.
    OfferDeclined {
        /// The date the customer declined.
        declined_on: NaiveDate,
        /// Why, if known.
        reason: Option<Reason>,
    },
    /// LAE withdrew the offer.
    OfferWithdrawn {
        /// The date of the withdrawal.
        withdrawn_on: NaiveDate,
        /// Why, if known.
        reason: Option<Reason>,
    },
}

impl DomainEvent for OfferEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OfferProposed { .. } => "OfferProposed",
            Self::OfferAccepted { .. } => "OfferAccepted",
            Self::OfferDeclined { .. } => "OfferDeclined",
            Self::OfferWithdrawn { .. } => "OfferWithdrawn",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

// Offers hold products, premiums and dates. Decline and withdrawal reasons
// are commercial motives ("tarif trop élevé") and stay clear, like contract
// and invoice reasons; the catalog tests list every clear field explicitly.
impl Classified for OfferEvent {
    fn subject_field(event_type: &str) -> Option<&'static str> {
        match event_type {
            "OfferProposed" | "OfferAccepted" => Some("customer_id"),
            _ => None,
        }
    }

    fn personal_fields(_event_type: &str) -> &'static [PersonalField] {
        &[]
    }
}

/// One realistic example of every offer event, for the event catalog.
#[must_use]
pub fn example_events() -> Vec<OfferEvent> {
    build_examples().unwrap_or_default()
}

pub(crate) fn build_examples() -> Result<Vec<OfferEvent>, ExampleError> {
    let customer_id = CustomerId::new(CUSTOMER);
    let product: ProductName = "Prévoyance Sérénité".parse()?;
    Ok(vec![
        OfferEvent::OfferProposed {
            customer_id,
            product: product.clone(),
            monthly_premium: Cents(3150),
            proposed_on: date(2024, 3, 1)?,
        },
        OfferEvent::OfferAccepted {
            customer_id,
            product,
            monthly_premium: Cents(3150),
            accepted_on: date(2024, 3, 8)?,
        },
        OfferEvent::OfferDeclined {
            declined_on: date(2024, 3, 8)?,
            reason: Some("Tarif trop élevé".parse()?),
        },
        OfferEvent::OfferWithdrawn {
            withdrawn_on: date(2024, 4, 1)?,
            reason: Some("Produit retiré de la gamme".parse()?),
        },
    ])
}
