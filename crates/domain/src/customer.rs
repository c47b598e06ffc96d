//! The `Customer` aggregate: identity, contact details, health declaration,
//! sales profile and SEPA direct-debit mandate of one customer.
//!
//! The aggregate id is the [`CustomerId`](crate::values::CustomerId).

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::CustomerCommand;
pub use error::CustomerError;
#[cfg(test)]
pub(crate) use event::build_examples;
pub use event::{CustomerEvent, example_events};

use crate::values::{
    AgeBand, AlcoholUse, Availability, CustomerNumber, Email, Iban, Illness, MandateReference,
    PersonName, PhoneNumber, Profession, Sex, TobaccoUse,
};

/// The maximum number of illnesses in one health declaration.
pub const MAX_ILLNESSES: usize = 50;

/// The customer's current contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactDetails {
    /// Last name.
    pub last_name: PersonName,
    /// First name.
    pub first_name: PersonName,
    /// E-mail address, if known.
    pub email: Option<Email>,
    /// Phone number, if known.
    pub phone: Option<PhoneNumber>,
    /// When the customer prefers to be called.
    pub availability: Availability,
}

/// The customer's latest health declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthDeclaration {
    /// Tobacco use.
    pub tobacco: TobaccoUse,
    /// Alcohol use.
    pub alcohol: AlcoholUse,
    /// Declared illnesses.
    pub illnesses: Vec<Illness>,
    /// The date of the declaration.
    pub declared_on: NaiveDate,
}

/// The customer's sales profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesProfile {
    /// Age band, if known.
    pub age_band: Option<AgeBand>,
    /// Profession, if known.
    pub profession: Option<Profession>,
    /// Sex.
    pub sex: Sex,
}

/// The active SEPA direct-debit mandate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// The account to debit.
    pub iban: Iban,
    /// The unique mandate reference (RUM).
    pub mandate_reference: MandateReference,
    /// The signature date.
    pub signed_on: NaiveDate,
    /// The date of the latest amendment, if any.
    pub amended_on: Option<NaiveDate>,
}

/// The state of one customer, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    customer_number: Option<CustomerNumber>,
    contact: Option<ContactDetails>,
    health: Option<HealthDeclaration>,
    sales_profile: Option<SalesProfile>,
    mandate: Option<Mandate>,
    #[serde(default)]
    erased: bool,
}

impl Customer {
    /// Whether the customer's personal data was erased (no command is accepted).
    #[must_use]
    pub fn is_erased(&self) -> bool {
        self.erased
    }

    /// Whether the customer was registered.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.contact.is_some()
    }

    /// The customer number, once registered.
    #[must_use]
    pub fn customer_number(&self) -> Option<&CustomerNumber> {
        self.customer_number.as_ref()
    }

    /// The current contact details, once registered.
    #[must_use]
    pub fn contact(&self) -> Option<&ContactDetails> {
        self.contact.as_ref()
    }

    /// The latest health declaration, if any.
    #[must_use]
    pub fn health(&self) -> Option<&HealthDeclaration> {
        self.health.as_ref()
    }

    /// The sales profile, if ever set.
    #[must_use]
    pub fn sales_profile(&self) -> Option<&SalesProfile> {
        self.sales_profile.as_ref()
    }

    /// The active direct-debit mandate, if any.
    #[must_use]
    pub fn active_mandate(&self) -> Option<&Mandate> {
        self.mandate.as_ref()
    }

    /// Decides which events a command produces, without changing the state.
    fn decide(&self, command: CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
        // An erased customer's history no longer reads (its keys are gone): nothing
        // may be decided on it, not even a second erasure.
        if self.erased {
            return Err(CustomerError::Erased);
        }
        match command {
            CustomerCommand::RegisterCustomer {
                customer_id: _,
                customer_number,
                last_name,
                first_name,
                email,
                phone,
                availability,
            } => {
                if self.is_registered() {
                    return Err(CustomerError::AlreadyRegistered);
                }
                Ok(vec![CustomerEvent::CustomerRegistered {
                    customer_number,
                    last_name,
                    first_name,
                    email,
                    phone,
                    availability,
                }])
            }
            // Every other command needs an existing customer.
            _ if !self.is_registered() => Err(CustomerError::NotFound),
            CustomerCommand::ChangeContactDetails {
                last_name,
                first_name,
                email,
                phone,
                availability,
            } => {
                let new = ContactDetails {
                    last_name,
                    first_name,
                    email,
                    phone,
                    availability,
                };
                // Forms resend every field: an unchanged submission must not
                // add an event that every projection would have to process.
                if self.contact.as_ref() == Some(&new) {
                    return Ok(vec![]);
                }
                Ok(vec![CustomerEvent::ContactDetailsChanged {
                    last_name: new.last_name,
                    first_name: new.first_name,
                    email: new.email,
                    phone: new.phone,
                    availability: new.availability,
                }])
            }
            CustomerCommand::DeclareHealth {
                tobacco,
                alcohol,
                illnesses,
                declared_on,
            } => {
                if illnesses.len() > MAX_ILLNESSES {
                    return Err(CustomerError::TooManyIllnesses {
                        max: MAX_ILLNESSES,
                        actual: illnesses.len(),
                    });
                }
                // Not deduplicated: each declaration is a dated, signed
                // statement that Legal must be able to produce, even if it
                // repeats the previous one.
                Ok(vec![CustomerEvent::HealthDeclared {
                    tobacco,
                    alcohol,
                    illnesses,
                    declared_on,
                }])
            }
            CustomerCommand::SetSalesProfile {
                age_band,
                profession,
                sex,
            } => {
                let new = SalesProfile {
                    age_band,
                    profession,
                    sex,
                };
                if self.sales_profile.as_ref() == Some(&new) {
                    return Ok(vec![]);
                }
                Ok(vec![CustomerEvent::SalesProfileSet {
                    age_band: new.age_band,
                    profession: new.profession,
                    sex: new.sex,
                }])
            }
            CustomerCommand::SignMandate {
                iban,
                mandate_reference,
                signed_on,
            } => {
                if self.mandate.is_some() {
                    return Err(CustomerError::MandateAlreadyActive);
                }
                Ok(vec![CustomerEvent::MandateSigned {
                    iban,
                    mandate_reference,
                    signed_on,
                }])
            }
            CustomerCommand::AmendMandate {
                iban,
                mandate_reference,
                amended_on,
            } => {
                let Some(mandate) = &self.mandate else {
                    return Err(CustomerError::NoActiveMandate);
                };
                if mandate.iban == iban && mandate.mandate_reference == mandate_reference {
                    return Err(CustomerError::MandateUnchanged);
                }
                if amended_on < mandate.signed_on {
                    return Err(CustomerError::AmendedBeforeSignature {
                        signed_on: mandate.signed_on,
                    });
                }
                Ok(vec![CustomerEvent::MandateAmended {
                    previous_iban: mandate.iban,
                    previous_mandate_reference: mandate.mandate_reference.clone(),
                    iban,
                    mandate_reference,
                    amended_on,
                }])
            }
            CustomerCommand::RevokeMandate { revoked_on, reason } => {
                let Some(mandate) = &self.mandate else {
                    return Err(CustomerError::NoActiveMandate);
                };
                if revoked_on < mandate.signed_on {
                    return Err(CustomerError::RevokedBeforeSignature {
                        signed_on: mandate.signed_on,
                    });
                }
                Ok(vec![CustomerEvent::MandateRevoked { revoked_on, reason }])
            }
            CustomerCommand::EraseCustomer { reason } => {
                Ok(vec![CustomerEvent::CustomerErased { reason }])
            }
        }
    }
}

impl Aggregate for Customer {
    const TYPE: &'static str = "Customer";
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;
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
            CustomerEvent::CustomerRegistered {
                customer_number,
                last_name,
                first_name,
                email,
                phone,
                availability,
            } => {
                self.customer_number = Some(customer_number);
                self.contact = Some(ContactDetails {
                    last_name,
                    first_name,
                    email,
                    phone,
                    availability,
                });
            }
            CustomerEvent::ContactDetailsChanged {
                last_name,
                first_name,
                email,
                phone,
                availability,
            } => {
                self.contact = Some(ContactDetails {
                    last_name,
                    first_name,
                    email,
                    phone,
                    availability,
                });
            }
            CustomerEvent::HealthDeclared {
                tobacco,
                alcohol,
                illnesses,
                declared_on,
            } => {
                self.health = Some(HealthDeclaration {
                    tobacco,
                    alcohol,
                    illnesses,
                    declared_on,
                });
            }
            CustomerEvent::SalesProfileSet {
                age_band,
                profession,
                sex,
            } => {
                self.sales_profile = Some(SalesProfile {
                    age_band,
                    profession,
                    sex,
                });
            }
            CustomerEvent::MandateSigned {
                iban,
                mandate_reference,
                signed_on,
            } => {
                self.mandate = Some(Mandate {
                    iban,
                    mandate_reference,
                    signed_on,
                    amended_on: None,
                });
            }
            CustomerEvent::MandateAmended {
                iban,
                mandate_reference,
                amended_on,
                ..
            } => {
                // Applying never fails: an amendment without a mandate cannot
                // have been decided, so there is nothing sensible to update.
                if let Some(mandate) = &mut self.mandate {
                    mandate.iban = iban;
                    mandate.mandate_reference = mandate_reference;
                    mandate.amended_on = Some(amended_on);
                }
            }
            CustomerEvent::MandateRevoked { .. } => self.mandate = None,
            CustomerEvent::CustomerErased { .. } => {
                // Whatever was loaded of the history is dropped: only the fact of
                // the erasure remains.
                *self = Self {
                    erased: true,
                    ..Self::default()
                };
            }
        }
    }
}
