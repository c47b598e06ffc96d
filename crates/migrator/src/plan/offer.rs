//! Offer commands, from a `vente.offres` row.
//!
//! An accepted legacy offer is imported as proposed then accepted, and nothing more:
//! the platform's offer-to-contract policy is not run, because the contract that
//! followed (if any) is in the legal file and is imported from there.

use chrono::NaiveDate;
use lae_domain::offer::{Offer, OfferCommand, OfferStatus};
use lae_domain::{Cents, CustomerId, OfferId, ProductName};

use crate::normalise::vocab::OfferStatus as Legacy;

/// What a `vente.offres` row describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyOffer {
    pub customer_id: CustomerId,
    pub product: ProductName,
    pub monthly_premium: Cents,
    pub proposed_on: NaiveDate,
    pub status: Legacy,
}

/// The commands that bring `current` to what the legacy row describes.
pub fn commands(
    current: &Offer,
    id: OfferId,
    offer: &LegacyOffer,
) -> Result<Vec<OfferCommand>, String> {
    // The legacy status carries no date: the decision is dated with the proposal.
    let decide = |status: Legacy| match status {
        Legacy::Proposed => None,
        Legacy::Accepted => Some(OfferCommand::AcceptOffer {
            accepted_on: offer.proposed_on,
        }),
        Legacy::Declined => Some(OfferCommand::DeclineOffer {
            declined_on: offer.proposed_on,
            reason: None,
        }),
    };
    let (Some(status), Some(terms)) = (current.status(), current.terms()) else {
        let mut out = vec![OfferCommand::ProposeOffer {
            offer_id: id,
            customer_id: offer.customer_id,
            product: offer.product.clone(),
            monthly_premium: offer.monthly_premium,
            proposed_on: offer.proposed_on,
        }];
        out.extend(decide(offer.status));
        return Ok(out);
    };
    let mut changed = Vec::new();
    if terms.customer_id != offer.customer_id {
        changed.push("client_id");
    }
    if terms.product != offer.product {
        changed.push("produit");
    }
    if terms.monthly_premium != offer.monthly_premium {
        changed.push("prime_mensuelle");
    }
    if terms.proposed_on != offer.proposed_on {
        changed.push("date_proposition");
    }
    if !changed.is_empty() {
        return Err(format!(
            "changed in the legacy file since it was imported ({}): an offer's terms cannot change",
            changed.join(", ")
        ));
    }
    match (status, offer.status) {
        (OfferStatus::Proposed, Legacy::Proposed)
        | (OfferStatus::Accepted, Legacy::Accepted)
        | (OfferStatus::Declined, Legacy::Declined) => Ok(vec![]),
        (OfferStatus::Proposed, wanted) => Ok(decide(wanted).into_iter().collect()),
        (now, wanted) => Err(format!(
            "the legacy status went from {} to {wanted:?} since the import: the platform cannot undo a decision",
            serde_json::to_value(now)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        )),
    }
}
