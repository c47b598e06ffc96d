//! Rejections of offer commands.

use chrono::NaiveDate;

use crate::error::{Rejection, RejectionKind, french_date};

/// Why an offer command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// The offer was never proposed.
    #[error("cette offre n'existe pas")]
    NotFound,
    /// `ProposeOffer` on an existing offer.
    #[error("cette offre a déjà été proposée")]
    AlreadyProposed,
    /// A premium of zero or less.
    #[error("la prime mensuelle doit être strictement positive")]
    NonPositivePremium,
    /// The offer was already accepted.
    #[error("l'offre a déjà été acceptée")]
    AlreadyAccepted,
    /// The offer was declined by the customer.
    #[error("l'offre a été refusée par le client")]
    Declined,
    /// The offer was withdrawn.
    #[error("l'offre a été retirée")]
    Withdrawn,
    /// A date earlier than the proposal.
    #[error(
        "la date ne peut pas précéder la proposition de l'offre ({})",
        french_date(.proposed_on)
    )]
    BeforeProposal {
        /// The JSON name of the date field at fault.
        field: &'static str,
        /// The proposal date.
        proposed_on: NaiveDate,
    },
}

impl Rejection for OfferError {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::AlreadyProposed | Self::AlreadyAccepted | Self::Declined | Self::Withdrawn => {
                RejectionKind::Conflict
            }
            Self::NonPositivePremium | Self::BeforeProposal { .. } => RejectionKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "offer_not_found",
            Self::AlreadyProposed => "offer_already_proposed",
            Self::NonPositivePremium => "premium_not_positive",
            Self::AlreadyAccepted => "offer_already_accepted",
            Self::Declined => "offer_declined",
            Self::Withdrawn => "offer_withdrawn",
            Self::BeforeProposal { .. } => "date_before_proposal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::NonPositivePremium => Some("monthly_premium"),
            Self::BeforeProposal { field, .. } => Some(field),
            Self::NotFound
            | Self::AlreadyProposed
            | Self::AlreadyAccepted
            | Self::Declined
            | Self::Withdrawn => None,
        }
    }
}
