//! Invoice commands, from a `facturation.factures` row.
//!
//! The legacy billing file has no due date and no payment or rejection date: an
//! invoice is due on its issue date, and its payment (`payée`) or rejection
//! (`impayée`) is dated with the issue date too (`assumption.*` in the metadata).

use chrono::NaiveDate;
use lae_domain::invoice::{Invoice, InvoiceCommand, InvoiceStatus};
use lae_domain::{Cents, CustomerId, InvoiceNumber, Reason};

use crate::normalise::vocab::InvoiceStatus as Legacy;

/// Why a legacy unpaid invoice is recorded as a rejected payment.
pub const REJECTION_REASON: &str = "Impayée dans l'ancien outil de facturation (motif non repris)";

/// What a `facturation.factures` row describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyInvoice {
    pub customer_id: CustomerId,
    pub number: InvoiceNumber,
    pub amount: Cents,
    pub issued_on: NaiveDate,
    pub status: Legacy,
}

/// The commands that bring `current` to what the legacy row describes.
pub fn commands(current: &Invoice, invoice: &LegacyInvoice) -> Result<Vec<InvoiceCommand>, String> {
    let pay = || InvoiceCommand::RecordPayment {
        paid_on: invoice.issued_on,
        amount: invoice.amount,
    };
    let reject = || -> Result<InvoiceCommand, String> {
        Ok(InvoiceCommand::RecordPaymentRejection {
            rejected_on: invoice.issued_on,
            reason: Reason::parse(REJECTION_REASON).map_err(|e| e.to_string())?,
            reason_code: None,
        })
    };
    let (Some(status), Some(details)) = (current.status(), current.details()) else {
        let mut out = vec![InvoiceCommand::IssueInvoice {
            customer_id: invoice.customer_id,
            contract_id: None,
            number: invoice.number.clone(),
            amount: invoice.amount,
            issued_on: invoice.issued_on,
            due_on: invoice.issued_on,
        }];
        match invoice.status {
            Legacy::Issued => {}
            Legacy::Paid => out.push(pay()),
            Legacy::Unpaid => out.push(reject()?),
        }
        return Ok(out);
    };
    let mut changed = Vec::new();
    if details.customer_id != invoice.customer_id {
        changed.push("client_id");
    }
    if details.number != invoice.number {
        changed.push("numero");
    }
    if details.amount != invoice.amount {
        changed.push("montant");
    }
    if details.issued_on != invoice.issued_on {
        changed.push("date_emission");
    }
    if !changed.is_empty() {
        return Err(format!(
            "changed in the legacy file since it was imported ({}): an issued invoice cannot change",
            changed.join(", ")
        ));
    }
    match (status, invoice.status) {
        (InvoiceStatus::Issued, Legacy::Issued)
        | (InvoiceStatus::Paid, Legacy::Paid)
        | (InvoiceStatus::PaymentRejected, Legacy::Unpaid) => Ok(vec![]),
        (InvoiceStatus::Issued | InvoiceStatus::PaymentRejected, Legacy::Paid) => Ok(vec![pay()]),
        (InvoiceStatus::Issued, Legacy::Unpaid) => Ok(vec![reject()?]),
        (now, wanted) => Err(format!(
            "the legacy status went back to {wanted:?} while the platform has the invoice {}",
            serde_json::to_value(now)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        )),
    }
}
