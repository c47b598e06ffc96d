//! Rejections of customer commands.

use chrono::NaiveDate;

use crate::error::{Rejection, RejectionKind, french_date};

/// Why a customer command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    /// The customer was never registered.
    #[error("ce client n'existe pas")]
    NotFound,
    /// The customer's personal data was erased: nothing more can be recorded.
    #[error("les données personnelles de ce client ont été effacées")]
    Erased,
    /// `RegisterCustomer` on an existing customer.
    #[error("ce client est déjà enregistré")]
    AlreadyRegistered,
    /// `SignMandate` while a mandate is active.
    #[error(
        "un mandat de prélèvement est déjà actif pour ce client : modifiez-le au lieu d'en signer un nouveau"
    )]
    MandateAlreadyActive,
    /// Amending or revoking without an active mandate.
    #[error("aucun mandat de prélèvement n'est actif pour ce client")]
    NoActiveMandate,
    /// An amendment that changes neither the IBAN nor the reference.
    #[error("la modification ne change ni l'IBAN ni la référence unique de mandat")]
    MandateUnchanged,
    /// An amendment dated before the mandate's signature.
    #[error(
        "la date de modification ne peut pas précéder la signature du mandat ({})",
        french_date(.signed_on)
    )]
    AmendedBeforeSignature {
        /// The signature date of the active mandate.
        signed_on: NaiveDate,
    },
    /// A revocation dated before the mandate's signature.
    #[error(
        "la date de révocation ne peut pas précéder la signature du mandat ({})",
        french_date(.signed_on)
    )]
    RevokedBeforeSignature {
        /// The signature date of the active mandate.
        signed_on: NaiveDate,
    },
    /// A health declaration listing too many illnesses.
    #[error("une déclaration de santé ne peut pas lister plus de {max} maladies ({actual} reçues)")]
    TooManyIllnesses {
        /// The maximum.
        max: usize,
        /// The number received.
        actual: usize,
    },
}

impl Rejection for CustomerError {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::Erased => RejectionKind::Gone,
            Self::AlreadyRegistered | Self::MandateAlreadyActive | Self::NoActiveMandate => {
                RejectionKind::Conflict
            }
            Self::MandateUnchanged
            | Self::AmendedBeforeSignature { .. }
            | Self::RevokedBeforeSignature { .. }
            | Self::TooManyIllnesses { .. } => RejectionKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "customer_not_found",
            Self::Erased => "customer_erased",
            Self::AlreadyRegistered => "customer_already_registered",
            Self::MandateAlreadyActive => "mandate_already_active",
            Self::NoActiveMandate => "no_active_mandate",
            Self::MandateUnchanged => "mandate_unchanged",
            Self::AmendedBeforeSignature { .. } => "mandate_amended_before_signature",
            Self::RevokedBeforeSignature { .. } => "mandate_revoked_before_signature",
            Self::TooManyIllnesses { .. } => "too_many_illnesses",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::AmendedBeforeSignature { .. } => Some("amended_on"),
            Self::RevokedBeforeSignature { .. } => Some("revoked_on"),
            Self::TooManyIllnesses { .. } => Some("illnesses"),
            Self::NotFound
            | Self::Erased
            | Self::AlreadyRegistered
            | Self::MandateAlreadyActive
            | Self::NoActiveMandate
            | Self::MandateUnchanged => None,
        }
    }
}
