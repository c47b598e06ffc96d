//! Rejections of contract commands.

use chrono::NaiveDate;

use crate::error::{Rejection, RejectionKind, french_date};

/// Why a contract command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// The contract was never requested.
    #[error("ce contrat n'existe pas")]
    NotFound,
    /// `RequestContract` on an existing contract.
    #[error("ce contrat a déjà été demandé")]
    AlreadyRequested,
    /// A negative premium.
    #[error("la prime mensuelle ne peut pas être négative")]
    NegativePremium,
    /// `SignContract` on a signed contract.
    #[error("le contrat a déjà été signé")]
    AlreadySigned,
    /// A command that needs a signed contract on one awaiting signature.
    #[error("le contrat n'est pas encore signé")]
    NotSigned,
    /// `TerminateContract` on a terminated contract.
    #[error("le contrat a déjà été résilié")]
    AlreadyTerminated,
    /// `SignContract` on a terminated contract.
    #[error("le contrat est résilié")]
    Terminated,
    /// A signature dated before the request.
    #[error(
        "la date de signature ne peut pas précéder la demande de contrat ({})",
        french_date(.requested_on)
    )]
    SignedBeforeRequest {
        /// The request date.
        requested_on: NaiveDate,
    },
    /// A signed document of zero bytes.
    #[error("le document signé est vide")]
    EmptyDocument,
    /// A termination dated before the signature.
    #[error(
        "la date de résiliation ne peut pas précéder la signature du contrat ({})",
        french_date(.signed_on)
    )]
    TerminatedBeforeSignature {
        /// The signature date.
        signed_on: NaiveDate,
    },
}

impl Rejection for ContractError {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::AlreadyRequested
            | Self::AlreadySigned
            | Self::NotSigned
            | Self::AlreadyTerminated
            | Self::Terminated => RejectionKind::Conflict,
            Self::NegativePremium
            | Self::SignedBeforeRequest { .. }
            | Self::EmptyDocument
            | Self::TerminatedBeforeSignature { .. } => RejectionKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "contract_not_found",
            Self::AlreadyRequested => "contract_already_requested",
            Self::NegativePremium => "premium_negative",
            Self::AlreadySigned => "contract_already_signed",
            Self::NotSigned => "contract_not_signed",
            Self::AlreadyTerminated => "contract_already_terminated",
            Self::Terminated => "contract_terminated",
            Self::SignedBeforeRequest { .. } => "signed_before_request",
            Self::EmptyDocument => "document_empty",
            Self::TerminatedBeforeSignature { .. } => "terminated_before_signature",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::NegativePremium => Some("monthly_premium"),
            Self::SignedBeforeRequest { .. } => Some("signed_on"),
            Self::EmptyDocument => Some("document.size_bytes"),
            Self::TerminatedBeforeSignature { .. } => Some("terminated_on"),
            Self::NotFound
            | Self::AlreadyRequested
            | Self::AlreadySigned
            | Self::NotSigned
            | Self::AlreadyTerminated
            | Self::Terminated => None,
        }
    }
}
