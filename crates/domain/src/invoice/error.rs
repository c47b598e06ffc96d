//! Rejections of invoice commands.

use chrono::NaiveDate;

use crate::error::{Rejection, RejectionKind, french_date};
use crate::values::Cents;

/// Why an invoice command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// The invoice was never issued.
    #[error("cette facture n'existe pas")]
    NotFound,
    /// `IssueInvoice` on an existing invoice.
    #[error("cette facture a déjà été émise")]
    AlreadyIssued,
    /// An amount of zero or less.
    #[error("le montant de la facture doit être strictement positif")]
    NonPositiveAmount,
    /// A due date before the issue date.
    #[error("la date d'échéance ne peut pas précéder la date d'émission")]
    DueBeforeIssue,
    /// The invoice was already paid.
    #[error("la facture a déjà été payée")]
    AlreadyPaid,
    /// The invoice was cancelled.
    #[error("la facture a été annulée")]
    Cancelled,
    /// `CancelInvoice` on a cancelled invoice.
    #[error("la facture a déjà été annulée")]
    AlreadyCancelled,
    /// `RecordPaymentRejection` when the last payment was already rejected.
    #[error("le rejet du paiement a déjà été enregistré")]
    PaymentAlreadyRejected,
    /// A payment of another amount than the invoice's.
    #[error("le montant payé ({received}) ne correspond pas au montant de la facture ({expected})")]
    AmountMismatch {
        /// The invoice amount.
        expected: Cents,
        /// The amount in the command.
        received: Cents,
    },
    /// No invoice was requested with this id.
    #[error("cette demande de facture n'existe pas")]
    RequestNotFound,
    /// `RequestInvoice` on an invoice already requested or issued, or
    /// `IssueInvoice` on a requested one.
    #[error("cette facture a déjà été demandée")]
    AlreadyRequested,
    /// The request was refused: it can be neither issued nor refused again.
    #[error("cette demande de facture a déjà été refusée")]
    RequestRefused,
    /// A date earlier than the request.
    #[error("la date ne peut pas précéder la demande de facture ({})", french_date(.requested_on))]
    BeforeRequest {
        /// The JSON name of the date field at fault.
        field: &'static str,
        /// The request date.
        requested_on: NaiveDate,
    },
    /// A date earlier than the issue date.
    #[error("la date ne peut pas précéder l'émission de la facture ({})", french_date(.issued_on))]
    BeforeIssue {
        /// The JSON name of the date field at fault.
        field: &'static str,
        /// The issue date.
        issued_on: NaiveDate,
    },
}

impl Rejection for InvoiceError {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound | Self::RequestNotFound => RejectionKind::NotFound,
            Self::AlreadyRequested | Self::RequestRefused => RejectionKind::Conflict,
            Self::BeforeRequest { .. } => RejectionKind::Invalid,
            Self::AlreadyIssued
            | Self::AlreadyPaid
            | Self::Cancelled
            | Self::AlreadyCancelled
            | Self::PaymentAlreadyRejected => RejectionKind::Conflict,
            Self::NonPositiveAmount
            | Self::DueBeforeIssue
            | Self::AmountMismatch { .. }
            | Self::BeforeIssue { .. } => RejectionKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "invoice_not_found",
            Self::AlreadyIssued => "invoice_already_issued",
            Self::NonPositiveAmount => "amount_not_positive",
            Self::DueBeforeIssue => "due_before_issue",
            Self::AlreadyPaid => "invoice_already_paid",
            Self::Cancelled => "invoice_cancelled",
            Self::AlreadyCancelled => "invoice_already_cancelled",
            Self::PaymentAlreadyRejected => "payment_already_rejected",
            Self::AmountMismatch { .. } => "payment_amount_mismatch",
            Self::BeforeIssue { .. } => "date_before_issue",
            Self::RequestNotFound => "invoice_request_not_found",
            Self::AlreadyRequested => "invoice_already_requested",
            Self::RequestRefused => "invoice_request_refused",
            Self::BeforeRequest { .. } => "date_before_request",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::NonPositiveAmount | Self::AmountMismatch { .. } => Some("amount"),
            Self::DueBeforeIssue => Some("due_on"),
            Self::BeforeIssue { field, .. } | Self::BeforeRequest { field, .. } => Some(field),
            Self::NotFound
            | Self::AlreadyIssued
            | Self::AlreadyPaid
            | Self::Cancelled
            | Self::AlreadyCancelled
            | Self::PaymentAlreadyRejected
            | Self::RequestNotFound
            | Self::AlreadyRequested
            | Self::RequestRefused => None,
        }
    }
}
