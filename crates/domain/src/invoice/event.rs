//! Events of the `Invoice` aggregate, their privacy classification and examples.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::examples::{CUSTOMER, ExampleError, OFFER, date};
use crate::privacy::{Classified, PersonalField};
use crate::values::{
    Cents, ContractId, CustomerId, InvoiceLabel, InvoiceNumber, OfferId, Reason, RejectionCode,
};

/// What happened to an invoice. The aggregate id is the invoice id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum InvoiceEvent {
    /// An invoice was issued.
    InvoiceIssued {
        /// The invoiced customer.
        customer_id: CustomerId,
        /// The contract invoiced, if any.
        contract_id: Option<ContractId>,
        /// The number printed on the invoice.
        number: InvoiceNumber,
        /// The amount due.
        amount: Cents,
        /// The issue date.
        issued_on: NaiveDate,
        /// The due date.
        due_on: NaiveDate,
    },
    /// The invoice was paid in full.
    InvoicePaid {
        /// The payment date.
        paid_on: NaiveDate,
        /// The amount paid.
        amount: Cents,
    },
    /// The bank rejected the payment; the invoice is due again.
    PaymentRejected {
        /// The rejection date.
        rejected_on: NaiveDate,
        /// Why, as reported by the bank.
        reason: Reason,
        /// The bank's reason code (`AM04`), when it gave one. Absent from rejections
        /// recorded before version 1.1 of this event (read as `None`; their code, if
        /// any, is the first word of `reason`).
        #[serde(default)]
        reason_code: Option<RejectionCode>,
    },
    /// The invoice was cancelled.
    InvoiceCancelled {
        /// The cancellation date.
        cancelled_on: NaiveDate,
        /// Why.
        reason: Reason,
    },
    /// Sales requested a one-off invoice from billing; billing issues it
    /// (`InvoiceIssued`, same aggregate) or refuses it.
    InvoiceRequested {
        /// The customer to invoice.
        customer_id: CustomerId,
        /// The contract the charge is about, if any.
        contract_id: Option<ContractId>,
        /// The amount to bill.
        amount: Cents,
        /// What is billed.
        label: InvoiceLabel,
        /// The request date.
        requested_on: NaiveDate,
    },
    /// Billing refused the requested invoice.
    InvoiceRequestRefused {
        /// The refusal date.
        refused_on: NaiveDate,
        /// Why.
        reason: Reason,
    },
}

impl DomainEvent for InvoiceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::InvoiceIssued { .. } => "InvoiceIssued",
            Self::InvoicePaid { .. } => "InvoicePaid",
            Self::PaymentRejected { .. } => "PaymentRejected",
            Self::InvoiceCancelled { .. } => "InvoiceCancelled",
            Self::InvoiceRequested { .. } => "InvoiceRequested",
            Self::InvoiceRequestRefused { .. } => "InvoiceRequestRefused",
        }
        .to_owned()
    }

    /// `PaymentRejected` is at 1.1: the bank's reason code has a field of its own. A
    /// 1.0 payload reads as 1.1 with `reason_code` absent.
    fn event_version(&self) -> String {
        match self {
            Self::PaymentRejected { .. } => "1.1",
            _ => "1.0",
        }
        .to_owned()
    }
}

// Invoices hold numbers, amounts, dates, labels and bank or billing reasons,
// which stay clear.
impl Classified for InvoiceEvent {
    fn subject_field(event_type: &str) -> Option<&'static str> {
        match event_type {
            "InvoiceIssued" | "InvoiceRequested" => Some("customer_id"),
            _ => None,
        }
    }

    fn personal_fields(_event_type: &str) -> &'static [PersonalField] {
        &[]
    }
}

/// One realistic example of every invoice event, for the event catalog.
#[must_use]
pub fn example_events() -> Vec<InvoiceEvent> {
    build_examples().unwrap_or_default()
}

pub(crate) fn build_examples() -> Result<Vec<InvoiceEvent>, ExampleError> {
    Ok(vec![
        InvoiceEvent::InvoiceIssued {
            customer_id: CustomerId::new(CUSTOMER),
            contract_id: Some(ContractId::for_offer(OfferId::new(OFFER))),
            number: "F-2024-04-000123".parse()?,
            amount: Cents(3150),
            issued_on: date(2024, 4, 1)?,
            due_on: date(2024, 4, 10)?,
        },
        InvoiceEvent::InvoicePaid {
            paid_on: date(2024, 4, 10)?,
            amount: Cents(3150),
        },
        InvoiceEvent::PaymentRejected {
            rejected_on: date(2024, 4, 12)?,
            reason: "AM04 : provision insuffisante".parse()?,
            reason_code: Some("AM04".parse()?),
        },
        InvoiceEvent::InvoiceCancelled {
            cancelled_on: date(2024, 4, 15)?,
            reason: "Facture émise en double".parse()?,
        },
        InvoiceEvent::InvoiceRequested {
            customer_id: CustomerId::new(CUSTOMER),
            contract_id: Some(ContractId::for_offer(OfferId::new(OFFER))),
            amount: Cents(2500),
            label: "Frais de duplicata du certificat d'adhésion".parse()?,
            requested_on: date(2024, 4, 16)?,
        },
        InvoiceEvent::InvoiceRequestRefused {
            refused_on: date(2024, 4, 17)?,
            reason: "Frais offerts au titre du geste commercial de mars".parse()?,
        },
    ])
}
