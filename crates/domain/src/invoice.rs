//! The `Invoice` aggregate: an amount billed to a customer, paid (possibly
//! after rejected direct debits) or cancelled. Owned by Billing.
//!
//! A one-off invoice may start as sales' request ("demande de facture",
//! `InvoiceRequested`): it bills nothing until billing issues it
//! (`IssueRequestedInvoice` → the usual `InvoiceIssued`, for the requested
//! customer, contract and amount) or refuses it (`InvoiceRequestRefused`). The
//! request and the invoice are one aggregate so that the hand-off cannot issue two
//! invoices for one request.
//!
//! The aggregate id is the [`InvoiceId`](crate::values::InvoiceId).

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::InvoiceCommand;
pub use error::InvoiceError;
#[cfg(test)]
pub(crate) use event::build_examples;
pub use event::{InvoiceEvent, example_events};

use crate::values::{Cents, ContractId, CustomerId, InvoiceLabel, InvoiceNumber, Reason};

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Issued and awaiting payment.
    Issued,
    /// Paid in full.
    Paid,
    /// The last payment was rejected; the invoice is due again.
    PaymentRejected,
    /// Cancelled.
    Cancelled,
}

/// What an issued invoice bills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDetails {
    /// The invoiced customer.
    pub customer_id: CustomerId,
    /// The contract invoiced, if any.
    pub contract_id: Option<ContractId>,
    /// The number printed on the invoice.
    pub number: InvoiceNumber,
    /// The amount due.
    pub amount: Cents,
    /// The issue date.
    pub issued_on: NaiveDate,
    /// The due date.
    pub due_on: NaiveDate,
}

/// What sales asked billing to invoice, and billing's refusal if it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRequest {
    /// The customer to invoice.
    pub customer_id: CustomerId,
    /// The contract the charge is about, if any.
    pub contract_id: Option<ContractId>,
    /// The amount to bill.
    pub amount: Cents,
    /// What is billed.
    pub label: InvoiceLabel,
    /// The request date.
    pub requested_on: NaiveDate,
    /// The refusal date and reason, once refused.
    pub refused: Option<(NaiveDate, Reason)>,
}

/// The state of one invoice, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    status: Option<InvoiceStatus>,
    details: Option<InvoiceDetails>,
    paid_on: Option<NaiveDate>,
    request: Option<InvoiceRequest>,
}

impl Invoice {
    /// Where the invoice stands; `None` until it is issued.
    #[must_use]
    pub fn status(&self) -> Option<InvoiceStatus> {
        self.status
    }

    /// What the invoice bills, once issued.
    #[must_use]
    pub fn details(&self) -> Option<&InvoiceDetails> {
        self.details.as_ref()
    }

    /// The payment date, once paid.
    #[must_use]
    pub fn paid_on(&self) -> Option<NaiveDate> {
        self.paid_on
    }

    /// Sales' request, when the invoice started as one.
    #[must_use]
    pub fn request(&self) -> Option<&InvoiceRequest> {
        self.request.as_ref()
    }

    /// A request still waiting for billing's decision, or why there is none.
    fn pending_request(&self) -> Result<&InvoiceRequest, InvoiceError> {
        let request = self.request.as_ref().ok_or(InvoiceError::RequestNotFound)?;
        if self.status.is_some() {
            return Err(InvoiceError::AlreadyIssued);
        }
        if request.refused.is_some() {
            return Err(InvoiceError::RequestRefused);
        }
        Ok(request)
    }

    /// The details of an issued invoice with its status, or `NotFound`.
    fn issued(&self) -> Result<(InvoiceStatus, &InvoiceDetails), InvoiceError> {
        match (self.status, &self.details) {
            (Some(status), Some(details)) => Ok((status, details)),
            _ => Err(InvoiceError::NotFound),
        }
    }

    /// Decides which events a command produces, without changing the state.
    fn decide(&self, command: InvoiceCommand) -> Result<Vec<InvoiceEvent>, InvoiceError> {
        match command {
            InvoiceCommand::IssueInvoice {
                customer_id,
                contract_id,
                number,
                amount,
                issued_on,
                due_on,
            } => {
                if self.status.is_some() {
                    return Err(InvoiceError::AlreadyIssued);
                }
                if self.request.is_some() {
                    return Err(InvoiceError::AlreadyRequested);
                }
                if !amount.is_positive() {
                    return Err(InvoiceError::NonPositiveAmount);
                }
                if due_on < issued_on {
                    return Err(InvoiceError::DueBeforeIssue);
                }
                Ok(vec![InvoiceEvent::InvoiceIssued {
                    customer_id,
                    contract_id,
                    number,
                    amount,
                    issued_on,
                    due_on,
                }])
            }
            InvoiceCommand::RecordPayment { paid_on, amount } => {
                let (status, details) = self.issued()?;
                match status {
                    // A rejected direct debit is presented again, so a
                    // payment after a rejection is the normal path.
                    InvoiceStatus::Issued | InvoiceStatus::PaymentRejected => {}
                    InvoiceStatus::Paid => return Err(InvoiceError::AlreadyPaid),
                    InvoiceStatus::Cancelled => return Err(InvoiceError::Cancelled),
                }
                not_before_issue(details, "paid_on", paid_on)?;
                // Partial payments are not modelled: accepting one here would
                // mark the invoice paid while money is still owed.
                if amount != details.amount {
                    return Err(InvoiceError::AmountMismatch {
                        expected: details.amount,
                        received: amount,
                    });
                }
                Ok(vec![InvoiceEvent::InvoicePaid { paid_on, amount }])
            }
            InvoiceCommand::RecordPaymentRejection {
                rejected_on,
                reason,
                reason_code,
            } => {
                let (status, details) = self.issued()?;
                match status {
                    InvoiceStatus::Issued => {}
                    InvoiceStatus::PaymentRejected => {
                        return Err(InvoiceError::PaymentAlreadyRejected);
                    }
                    InvoiceStatus::Paid => return Err(InvoiceError::AlreadyPaid),
                    InvoiceStatus::Cancelled => return Err(InvoiceError::Cancelled),
                }
                not_before_issue(details, "rejected_on", rejected_on)?;
                Ok(vec![InvoiceEvent::PaymentRejected {
                    rejected_on,
                    reason,
                    reason_code,
                }])
            }
            InvoiceCommand::CancelInvoice {
                cancelled_on,
                reason,
            } => {
                let (status, details) = self.issued()?;
                match status {
                    InvoiceStatus::Issued | InvoiceStatus::PaymentRejected => {}
                    InvoiceStatus::Paid => return Err(InvoiceError::AlreadyPaid),
                    InvoiceStatus::Cancelled => return Err(InvoiceError::AlreadyCancelled),
                }
                not_before_issue(details, "cancelled_on", cancelled_on)?;
                Ok(vec![InvoiceEvent::InvoiceCancelled {
                    cancelled_on,
                    reason,
                }])
            }
            InvoiceCommand::RequestInvoice {
                customer_id,
                contract_id,
                amount,
                label,
                requested_on,
            } => {
                if self.request.is_some() || self.status.is_some() {
                    return Err(InvoiceError::AlreadyRequested);
                }
                if !amount.is_positive() {
                    return Err(InvoiceError::NonPositiveAmount);
                }
                Ok(vec![InvoiceEvent::InvoiceRequested {
                    customer_id,
                    contract_id,
                    amount,
                    label,
                    requested_on,
                }])
            }
            InvoiceCommand::IssueRequestedInvoice {
                number,
                issued_on,
                due_on,
            } => {
                let request = self.pending_request()?;
                not_before_request(request, "issued_on", issued_on)?;
                if due_on < issued_on {
                    return Err(InvoiceError::DueBeforeIssue);
                }
                Ok(vec![InvoiceEvent::InvoiceIssued {
                    customer_id: request.customer_id,
                    contract_id: request.contract_id,
                    number,
                    amount: request.amount,
                    issued_on,
                    due_on,
                }])
            }
            InvoiceCommand::RefuseInvoiceRequest { refused_on, reason } => {
                let request = self.pending_request()?;
                not_before_request(request, "refused_on", refused_on)?;
                Ok(vec![InvoiceEvent::InvoiceRequestRefused {
                    refused_on,
                    reason,
                }])
            }
        }
    }
}

/// Refuses a date earlier than the request, naming the field at fault.
fn not_before_request(
    request: &InvoiceRequest,
    field: &'static str,
    on: NaiveDate,
) -> Result<(), InvoiceError> {
    if on < request.requested_on {
        return Err(InvoiceError::BeforeRequest {
            field,
            requested_on: request.requested_on,
        });
    }
    Ok(())
}

/// Refuses a date earlier than the issue date, naming the field at fault.
fn not_before_issue(
    details: &InvoiceDetails,
    field: &'static str,
    on: NaiveDate,
) -> Result<(), InvoiceError> {
    if on < details.issued_on {
        return Err(InvoiceError::BeforeIssue {
            field,
            issued_on: details.issued_on,
        });
    }
    Ok(())
}

impl Aggregate for Invoice {
    const TYPE: &'static str = "Invoice";
    type Command = InvoiceCommand;
    type Event = InvoiceEvent;
    type Error = InvoiceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            InvoiceEvent::InvoiceIssued {
                customer_id,
                contract_id,
                number,
                amount,
                issued_on,
                due_on,
            } => {
                self.status = Some(InvoiceStatus::Issued);
                self.details = Some(InvoiceDetails {
                    customer_id,
                    contract_id,
                    number,
                    amount,
                    issued_on,
                    due_on,
                });
            }
            InvoiceEvent::InvoicePaid { paid_on, .. } => {
                self.status = Some(InvoiceStatus::Paid);
                self.paid_on = Some(paid_on);
            }
            InvoiceEvent::PaymentRejected { .. } => {
                self.status = Some(InvoiceStatus::PaymentRejected);
            }
            InvoiceEvent::InvoiceCancelled { .. } => self.status = Some(InvoiceStatus::Cancelled),
            InvoiceEvent::InvoiceRequested {
                customer_id,
                contract_id,
                amount,
                label,
                requested_on,
            } => {
                self.request = Some(InvoiceRequest {
                    customer_id,
                    contract_id,
                    amount,
                    label,
                    requested_on,
                    refused: None,
                });
            }
            InvoiceEvent::InvoiceRequestRefused { refused_on, reason } => {
                if let Some(request) = self.request.as_mut() {
                    request.refused = Some((refused_on, reason));
                }
            }
        }
    }
}
