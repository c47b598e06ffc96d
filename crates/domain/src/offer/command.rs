//! Commands of the `Offer` aggregate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::values::{Cents, CustomerId, OfferId, ProductName, Reason};

/// What Sales can do with a commercial offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command")]
pub enum OfferCommand {
    /// Proposes a product to a customer.
    ProposeOffer {
        /// The id of the new offer; the caller uses it as the aggregate id.
        offer_id: OfferId,
        /// The customer the offer is made to.
        customer_id: CustomerId,
        /// The proposed product.
        product: ProductName,
        /// The monthly premium, strictly positive.
        monthly_premium: Cents,
        /// The date of the proposal.
        proposed_on: NaiveDate,
    },
    /// Records that the customer accepted the offer.
    AcceptOffer {
        /// The date of the acceptance.
        accepted_on: NaiveDate,
    },
    /// Records that the customer declined the offer.
    DeclineOffer {
        /// The date the customer declined.
        declined_on: NaiveDate,
        /// Why, if known.
        reason: Option<Reason>,
    },
    /// Withdraws the offer on LAE's initiative.
    WithdrawOffer {
        /// The date of the withdrawal.
        withdrawn_on: NaiveDate,
        /// Why, if known.
        reason: Option<Reason>,
    },
}
