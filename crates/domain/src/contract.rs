//! The `Contract` aggregate: an insurance contract requested (usually from an
//! accepted offer), signed, then possibly terminated. Owned by Legal.
//!
//! The aggregate id is the [`ContractId`](crate::values::ContractId); for a
//! contract coming from an offer it is [`ContractId::for_offer`](crate::values::ContractId::for_offer).
//! The legacy migration replays `RequestContract`, `SignContract` and
//! `TerminateContract` with the historical dates, so no special path is needed.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::ContractCommand;
pub use error::ContractError;
#[cfg(test)]
pub(crate) use event::build_examples;
pub use event::{ContractEvent, example_events};

use crate::values::{
    Cents, ContractReference, CustomerId, DocumentName, OfferId, ProductName, Sha256Digest,
};

/// A signed document as stored by the document store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignedDocument {
    /// The SHA-256 digest of the file, which identifies it in the store.
    pub sha256: Sha256Digest,
    /// The file name.
    pub name: DocumentName,
    /// The file size in bytes, never zero.
    pub size_bytes: u64,
}

/// Where a contract stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// Requested, awaiting signature.
    Requested,
    /// Signed and in force.
    Signed,
    /// Terminated.
    Terminated,
}

/// The terms of a requested contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractTerms {
    /// The insured customer.
    pub customer_id: CustomerId,
    /// The insured product.
    pub product: ProductName,
    /// The monthly premium.
    pub monthly_premium: Cents,
    /// The accepted offer the contract comes from, if any.
    pub offer_id: Option<OfferId>,
    /// The date of the request.
    pub requested_on: NaiveDate,
}

/// The signature of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The legal reference of the contract.
    pub reference: ContractReference,
    /// The signature date.
    pub signed_on: NaiveDate,
    /// The signed document.
    pub document: SignedDocument,
}

/// The state of one contract, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    status: Option<ContractStatus>,
    terms: Option<ContractTerms>,
    signature: Option<Signature>,
    terminated_on: Option<NaiveDate>,
}

impl Contract {
    /// Where the contract stands; `None` until it is requested.
    #[must_use]
    pub fn status(&self) -> Option<ContractStatus> {
        self.status
    }

    /// The contract's terms, once requested.
    #[must_use]
    pub fn terms(&self) -> Option<&ContractTerms> {
        self.terms.as_ref()
    }

    /// The signature, once signed.
    #[must_use]
    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// The termination date, once terminated.
    #[must_use]
    pub fn terminated_on(&self) -> Option<NaiveDate> {
        self.terminated_on
    }

    /// Decides which events a command produces, without changing the state.
    fn decide(&self, command: ContractCommand) -> Result<Vec<ContractEvent>, ContractError> {
        match command {
            ContractCommand::RequestContract {
                customer_id,
                product,
                monthly_premium,
                offer_id,
                requested_on,
            } => {
                if self.status.is_some() {
                    return Err(ContractError::AlreadyRequested);
                }
                // Zero is a real premium: a paid-up ("mis en réduction")
                // contract stays in force without premiums.
                if monthly_premium.value() < 0 {
                    return Err(ContractError::NegativePremium);
                }
                Ok(vec![ContractEvent::ContractRequested {
                    customer_id,
                    product,
                    monthly_premium,
                    offer_id,
                    requested_on,
                }])
            }
            ContractCommand::SignContract {
                reference,
                signed_on,
                document,
            } => {
                let terms = match (self.status, &self.terms) {
                    (Some(ContractStatus::Requested), Some(terms)) => terms,
                    (Some(ContractStatus::Signed), _) => return Err(ContractError::AlreadySigned),
                    (Some(ContractStatus::Terminated), _) => {
                        return Err(ContractError::Terminated);
                    }
                    _ => return Err(ContractError::NotFound),
                };
                if signed_on < terms.requested_on {
                    return Err(ContractError::SignedBeforeRequest {
                        requested_on: terms.requested_on,
                    });
                }
                if document.size_bytes == 0 {
                    return Err(ContractError::EmptyDocument);
                }
                Ok(vec![ContractEvent::ContractSigned {
                    reference,
                    signed_on,
                    document,
                }])
            }
            ContractCommand::TerminateContract {
                terminated_on,
                reason,
            } => {
                let signature = match (self.status, &self.signature) {
                    (Some(ContractStatus::Signed), Some(signature)) => signature,
                    (Some(ContractStatus::Requested), _) => return Err(ContractError::NotSigned),
                    (Some(ContractStatus::Terminated), _) => {
                        return Err(ContractError::AlreadyTerminated);
                    }
                    _ => return Err(ContractError::NotFound),
                };
                if terminated_on < signature.signed_on {
                    return Err(ContractError::TerminatedBeforeSignature {
                        signed_on: signature.signed_on,
                    });
                }
                Ok(vec![ContractEvent::ContractTerminated {
                    terminated_on,
                    reason,
                }])
            }
        }
    }
}

impl Aggregate for Contract {
    const TYPE: &'static str = "Contract";
    type Command = ContractCommand;
    type Event = ContractEvent;
    type Error = ContractError;
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
            ContractEvent::ContractRequested {
                customer_id,
                product,
                monthly_premium,
                offer_id,
                requested_on,
            } => {
                self.status = Some(ContractStatus::Requested);
                self.terms = Some(ContractTerms {
                    customer_id,
                    product,
                    monthly_premium,
                    offer_id,
                    requested_on,
                });
            }
            ContractEvent::ContractSigned {
                reference,
                signed_on,
                document,
            } => {
                self.status = Some(ContractStatus::Signed);
                self.signature = Some(Signature {
                    reference,
                    signed_on,
                    document,
                });
            }
            ContractEvent::ContractTerminated { terminated_on, .. } => {
                self.status = Some(ContractStatus::Terminated);
                self.terminated_on = Some(terminated_on);
            }
        }
    }
}
