//! Events of the `Contract` aggregate, their privacy classification and examples.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::SignedDocument;
use crate::examples::{CUSTOMER, DOCUMENT_SHA256, ExampleError, OFFER, date};
use crate::privacy::{Classified, PersonalField};
use crate::values::{Cents, ContractReference, CustomerId, OfferId, ProductName, Reason};

/// What happened to a contract. The aggregate id is the contract id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum ContractEvent {
    /// A contract was requested and awaits signature.
    ContractRequested {
        /// The insured customer.
        customer_id: CustomerId,
        /// The insured product.
        product: ProductName,
        /// The monthly premium.
        monthly_premium: Cents,
        /// The accepted offer the contract comes from, if any.
        offer_id: Option<OfferId>,
        /// The date of the request.
        requested_on: NaiveDate,
    },
    /// The contract was signed.
    ContractSigned {
        /// The legal reference of the contract.
        reference: ContractReference,
        /// The signature date.
        signed_on: NaiveDate,
        /// The signed document.
        document: SignedDocument,
    },
    /// The contract was terminated.
    ContractTerminated {
        /// The date the termination takes effect.
        terminated_on: NaiveDate,
        /// Why.
        reason: Reason,
    },
}

impl DomainEvent for ContractEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ContractRequested { .. } => "ContractRequested",
            Self::ContractSigned { .. } => "ContractSigned",
            Self::ContractTerminated { .. } => "ContractTerminated",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

// Contracts hold products, premiums, references, dates and document digests,
// which all stay clear.
impl Classified for ContractEvent {
    fn subject_field(event_type: &str) -> Option<&'static str> {
        match event_type {
            "ContractRequested" => Some("customer_id"),
            _ => None,
        }
    }

    fn personal_fields(_event_type: &str) -> &'static [PersonalField] {
        &[]
    }
}

/// One realistic example of every contract event, for the event catalog.
#[must_use]
pub fn example_events() -> Vec<ContractEvent> {
    build_examples().unwrap_or_default()
}

pub(crate) fn build_examples() -> Result<Vec<ContractEvent>, ExampleError> {
    Ok(vec![
        ContractEvent::ContractRequested {
            customer_id: CustomerId::new(CUSTOMER),
            product: "Prévoyance Sérénité".parse()?,
            monthly_premium: Cents(3150),
            offer_id: Some(OfferId::new(OFFER)),
            requested_on: date(2024, 3, 8)?,
        },
        ContractEvent::ContractSigned {
            reference: "PS-2024-000123".parse()?,
            signed_on: date(2024, 3, 15)?,
            document: SignedDocument {
                sha256: DOCUMENT_SHA256.parse()?,
                name: "contrat-PS-2024-000123-signé.pdf".parse()?,
                size_bytes: 284_913,
            },
        },
        ContractEvent::ContractTerminated {
            terminated_on: date(2025, 3, 15)?,
            reason: "Résiliation à l'échéance annuelle à la demande de l'assurée".parse()?,
        },
    ])
}
