//! The `Offer` aggregate: a product proposed by Sales to a customer, which
//! the customer accepts or declines, or which Sales withdraws.
//!
//! The aggregate id is the [`OfferId`](crate::values::OfferId). Accepting an
//! offer triggers the [`contract_request_for`] policy.

mod command;
mod error;
mod event;
mod policy;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::OfferCommand;
pub use error::OfferError;
#[cfg(test)]
pub(crate) use event::build_examples;
pub use event::{OfferEvent, example_events};
pub use policy::{CONTRACT_REQUEST_TRIGGERS, contract_request_for};

use crate::values::{Cents, CustomerId, ProductName};

/// Where an offer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    /// Proposed and awaiting the customer's answer.
    Proposed,
    /// Accepted by the customer.
    Accepted,
    /// Declined by the customer.
    Declined,
    /// Withdrawn by LAE.
    Withdrawn,
}

/// The terms of a proposed offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferTerms {
    /// The customer the offer is made to.
    pub customer_id: CustomerId,
    /// The proposed product.
    pub product: ProductName,
    /// The monthly premium.
    pub monthly_premium: Cents,
    /// The date of the proposal.
    pub proposed_on: NaiveDate,
}

/// The state of one offer, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    status: Option<OfferStatus>,
    terms: Option<OfferTerms>,
}

impl Offer {
    /// Where the offer stands; `None` until it is proposed.
    #[must_use]
    pub fn status(&self) -> Option<OfferStatus> {
        self.status
    }

    /// The offer's terms, once proposed.
    #[must_use]
    pub fn terms(&self) -> Option<&OfferTerms> {
        self.terms.as_ref()
    }

    /// The terms of an offer still awaiting an answer, or why there is none.
    fn open_terms(&self) -> Result<&OfferTerms, OfferError> {
        let (Some(status), Some(terms)) = (self.status, &self.terms) else {
            return Err(OfferError::NotFound);
        };
        match status {
            OfferStatus::Proposed => Ok(terms),
            OfferStatus::Accepted => Err(OfferError::AlreadyAccepted),
            OfferStatus::Declined => Err(OfferError::Declined),
            OfferStatus::Withdrawn => Err(OfferError::Withdrawn),
        }
    }

    /// Decides which events a command produces, without changing the state.
    fn decide(&self, command: OfferCommand) -> Result<Vec<OfferEvent>, OfferError> {
        match command {
            OfferCommand::ProposeOffer {
                offer_id: _,
                customer_id,
                product,
                monthly_premium,
                proposed_on,
            } => {
                if self.status.is_some() {
                    return Err(OfferError::AlreadyProposed);
                }
                if !monthly_premium.is_positive() {
                    return Err(OfferError::NonPositivePremium);
                }
                Ok(vec![OfferEvent::OfferProposed {
                    customer_id,
                    product,
                    monthly_premium,
                    proposed_on,
                }])
            }
            OfferCommand::AcceptOffer { accepted_on } => {
                let terms = self.open_terms()?;
                not_before_proposal(terms, "accepted_on", accepted_on)?;
                Ok(vec![OfferEvent::OfferAccepted {
                    customer_id: terms.customer_id,
                    product: terms.product.clone(),
                    monthly_premium: terms.monthly_premium,
                    accepted_on,
                }])
            }
            OfferCommand::DeclineOffer {
                declined_on,
                reason,
            } => {
                let terms = self.open_terms()?;
                not_before_proposal(terms, "declined_on", declined_on)?;
                Ok(vec![OfferEvent::OfferDeclined {
                    declined_on,
                    reason,
                }])
            }
            OfferCommand::WithdrawOffer {
                withdrawn_on,
                reason,
            } => {
                let terms = self.open_terms()?;
                not_before_proposal(terms, "withdrawn_on", withdrawn_on)?;
                Ok(vec![OfferEvent::OfferWithdrawn {
                    withdrawn_on,
                    reason,
                }])
            }
        }
    }
}

/// Refuses a date earlier than the proposal, naming the field at fault.
fn not_before_proposal(
    terms: &OfferTerms,
    field: &'static str,
    on: NaiveDate,
) -> Result<(), OfferError> {
    if on < terms.proposed_on {
        return Err(OfferError::BeforeProposal {
            field,
            proposed_on: terms.proposed_on,
        });
    }
    Ok(())
}

impl Aggregate for Offer {
    const TYPE: &'static str = "Offer";
    type Command = OfferCommand;
    type Event = OfferEvent;
    type Error = OfferError;
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
            OfferEvent::OfferProposed {
                customer_id,
                product,
                monthly_premium,
                proposed_on,
            } => {
                self.status = Some(OfferStatus::Proposed);
                self.terms = Some(OfferTerms {
                    customer_id,
                    product,
                    monthly_premium,
                    proposed_on,
                });
            }
            OfferEvent::OfferAccepted { .. } => self.status = Some(OfferStatus::Accepted),
            OfferEvent::OfferDeclined { .. } => self.status = Some(OfferStatus::Declined),
            OfferEvent::OfferWithdrawn { .. } => self.status = Some(OfferStatus::Withdrawn),
        }
    }
}
