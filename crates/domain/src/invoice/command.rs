//! Commands of the `Invoice` aggregate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::values::{
    Cents, ContractId, CustomerId, InvoiceLabel, InvoiceNumber, Reason, RejectionCode,
};

/// What Billing can do with an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command")]
pub enum InvoiceCommand {
    /// Issues an invoice to a customer.
    IssueInvoice {
        /// The invoiced customer.
        customer_id: CustomerId,
        /// The contract invoiced, if the invoice is for one.
        contract_id: Option<ContractId>,
        /// The number printed on the invoice.
        number: InvoiceNumber,
        /// The amount due, strictly positive.
        amount: Cents,
        /// The issue date.
        issued_on: NaiveDate,
        /// The due date, on or after the issue date.
        due_on: NaiveDate,
    },
    /// Records the payment of the whole amount.
    RecordPayment {
        /// The payment date.
        paid_on: NaiveDate,
        /// The amount paid, which must equal the invoice amount.
        amount: Cents,
    },
    /// Records that the bank rejected the payment (e.g. a direct debit returned unpaid).
    RecordPaymentRejection {
        /// The rejection date.
        rejected_on: NaiveDate,
        /// Why, as reported by the bank.
        reason: Reason,
        /// The bank's reason code (`AM04`), when it gave one.
        reason_code: Option<RejectionCode>,
    },
    /// Cancels an unpaid invoice.
    CancelInvoice {
        /// The cancellation date.
        cancelled_on: NaiveDate,
        /// Why.
        reason: Reason,
    },
    /// Sales asks billing for a one-off invoice ("demande de facture"): nothing is
    /// due until billing issues it.
    RequestInvoice {
        /// The customer to invoice.
        customer_id: CustomerId,
        /// The contract the charge is about, if any.
        contract_id: Option<ContractId>,
        /// The amount to bill, strictly positive.
        amount: Cents,
        /// What is billed.
        label: InvoiceLabel,
        /// The request date.
        requested_on: NaiveDate,
    },
    /// Billing issues the invoice sales requested, for the requested amount.
    IssueRequestedInvoice {
        /// The number printed on the invoice.
        number: InvoiceNumber,
        /// The issue date, on or after the request.
        issued_on: NaiveDate,
        /// The due date, on or after the issue date.
        due_on: NaiveDate,
    },
    /// Billing refuses the invoice sales requested.
    RefuseInvoiceRequest {
        /// The refusal date, on or after the request.
        refused_on: NaiveDate,
        /// Why (sales is told).
        reason: Reason,
    },
}
