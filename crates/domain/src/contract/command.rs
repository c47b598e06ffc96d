//! Commands of the `Contract` aggregate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::SignedDocument;
use crate::values::{Cents, ContractReference, CustomerId, OfferId, ProductName, Reason};

/// What Legal can do with a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command")]
pub enum ContractCommand {
    /// Opens a contract to be signed, usually from an accepted offer (see
    /// [`contract_request_for`](crate::offer::contract_request_for)); the
    /// legacy migration uses it with `offer_id: None`.
    RequestContract {
        /// The insured customer.
        customer_id: CustomerId,
        /// The insured product.
        product: ProductName,
        /// The monthly premium; zero is allowed for paid-up contracts.
        monthly_premium: Cents,
        /// The accepted offer the contract comes from, if any.
        offer_id: Option<OfferId>,
        /// The date of the request.
        requested_on: NaiveDate,
    },
    /// Records the signature of the contract and the signed document.
    SignContract {
        /// The legal reference of the contract.
        reference: ContractReference,
        /// The signature date.
        signed_on: NaiveDate,
        /// The signed document, as stored.
        document: SignedDocument,
    },
    /// Ends a signed contract.
    TerminateContract {
        /// The date the termination takes effect.
        terminated_on: NaiveDate,
        /// Why.
        reason: Reason,
    },
}
