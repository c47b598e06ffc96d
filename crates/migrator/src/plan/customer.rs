//! Customer commands: registration and contact details (customer service), health
//! declaration (legal), sales profile (sales), direct-debit mandate (billing).

use chrono::NaiveDate;
use lae_domain::customer::{
    ContactDetails, Customer, CustomerCommand, HealthDeclaration, SalesProfile,
};
use lae_domain::{AgeBand, CustomerId, CustomerNumber, Iban, MandateReference, Profession, Sex};

/// A profile field: set to the legacy value, or kept as the store has it (the legacy
/// value could not be trusted, and was reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep<T> {
    Keep,
    Set(T),
}

impl<T: Clone> Keep<T> {
    fn or(&self, current: T) -> T {
        match self {
            Keep::Keep => current,
            Keep::Set(v) => v.clone(),
        }
    }
}

/// The sales profile a `vente.clients` row describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileDesire {
    pub age_band: Keep<Option<AgeBand>>,
    pub profession: Keep<Option<Profession>>,
    pub sex: Keep<Sex>,
}

/// The active mandate a `facturation.clients` row describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateDesire {
    pub iban: Iban,
    pub reference: MandateReference,
    pub signed_on: NaiveDate,
}

/// What one row wants of a customer.
#[derive(Debug, Clone)]
pub enum CustomerChange {
    /// Customer service's row: the customer exists with these contact details.
    Contact {
        number: CustomerNumber,
        contact: ContactDetails,
    },
    /// Legal's row: the latest health declaration.
    Health(HealthDeclaration),
    /// Sales' row: the profile.
    Profile(ProfileDesire),
    /// Billing's row: an active mandate, or none (no direct-debit authorisation).
    Mandate(Option<MandateDesire>),
}

impl CustomerChange {
    /// The columns a refusal is reported on. `None` for the contact details: a customer
    /// service row that cannot be applied is set aside as a whole, while a department
    /// row keeps its other uses (matching, conflicts, its dependent rows).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Contact { .. } => None,
            Self::Health(_) => Some("tabac,alcool,maladies"),
            Self::Profile(_) => Some("categorie_age,profession,sexe"),
            Self::Mandate(_) => Some("iban,autorisation_prelevement,date_mandat,rum"),
        }
    }
}

/// The commands that bring `current` to what `change` describes.
pub fn commands(
    current: &Customer,
    id: CustomerId,
    change: &CustomerChange,
) -> Result<Vec<CustomerCommand>, String> {
    if let CustomerChange::Contact { number, contact } = change {
        return Ok(match current.contact() {
            None => vec![CustomerCommand::RegisterCustomer {
                customer_id: id,
                customer_number: number.clone(),
                last_name: contact.last_name.clone(),
                first_name: contact.first_name.clone(),
                email: contact.email.clone(),
                phone: contact.phone.clone(),
                availability: contact.availability.clone(),
            }],
            Some(existing) if existing == contact => vec![],
            Some(_) => vec![CustomerCommand::ChangeContactDetails {
                last_name: contact.last_name.clone(),
                first_name: contact.first_name.clone(),
                email: contact.email.clone(),
                phone: contact.phone.clone(),
                availability: contact.availability.clone(),
            }],
        });
    }
    if !current.is_registered() {
        return Err(
            "the customer is not registered (their customer service row was set aside)".into(),
        );
    }
    match change {
        CustomerChange::Contact { .. } => Ok(vec![]),
        CustomerChange::Health(wanted) => Ok(match current.health() {
            // The domain records every declaration, even a repeated one: the import
            // declares only what differs from the latest one, whatever its date.
            Some(h)
                if h.tobacco == wanted.tobacco
                    && h.alcohol == wanted.alcohol
                    && h.illnesses == wanted.illnesses =>
            {
                vec![]
            }
            _ => vec![CustomerCommand::DeclareHealth {
                tobacco: wanted.tobacco,
                alcohol: wanted.alcohol,
                illnesses: wanted.illnesses.clone(),
                declared_on: wanted.declared_on,
            }],
        }),
        CustomerChange::Profile(wanted) => {
            let now = current.sales_profile().cloned().unwrap_or(SalesProfile {
                age_band: None,
                profession: None,
                sex: Sex::Unspecified,
            });
            let next = SalesProfile {
                age_band: wanted.age_band.or(now.age_band),
                profession: wanted.profession.or(now.profession.clone()),
                sex: wanted.sex.or(now.sex),
            };
            let empty = next.age_band.is_none()
                && next.profession.is_none()
                && next.sex == Sex::Unspecified;
            if current.sales_profile().is_none() && empty {
                // Nothing known: no profile to record.
                return Ok(vec![]);
            }
            // The domain itself ignores a profile equal to the current one.
            Ok(vec![CustomerCommand::SetSalesProfile {
                age_band: next.age_band,
                profession: next.profession,
                sex: next.sex,
            }])
        }
        CustomerChange::Mandate(wanted) => mandate(current, wanted.as_ref()),
    }
}

fn mandate(
    current: &Customer,
    wanted: Option<&MandateDesire>,
) -> Result<Vec<CustomerCommand>, String> {
    match (current.active_mandate(), wanted) {
        (None, None) => Ok(vec![]),
        (None, Some(m)) => Ok(vec![CustomerCommand::SignMandate {
            iban: m.iban,
            mandate_reference: m.reference.clone(),
            signed_on: m.signed_on,
        }]),
        (Some(active), Some(m))
            if active.iban == m.iban && active.mandate_reference == m.reference =>
        {
            Ok(vec![])
        }
        (Some(active), Some(m)) => {
            let since = active.amended_on.unwrap_or(active.signed_on);
            if m.signed_on > since {
                Ok(vec![CustomerCommand::AmendMandate {
                    iban: m.iban,
                    mandate_reference: m.reference.clone(),
                    amended_on: m.signed_on,
                }])
            } else {
                Err("the IBAN or mandate reference changed in the legacy file without a later mandate \
                     date: the amendment has no date; amend the mandate by hand"
                    .into())
            }
        }
        (Some(_), None) => Err(
            "the legacy file no longer authorises direct debit, but gives no revocation \
                               date: revoke the mandate by hand"
                .into(),
        ),
    }
}
