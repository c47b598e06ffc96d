//! Events of the `Customer` aggregate, their privacy classification and examples.

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::examples::{ExampleError, date};
use crate::privacy::{Classified, DataCategory, PersonalField, personal};
use crate::values::{
    AgeBand, AlcoholUse, Availability, CustomerNumber, Email, Iban, Illness, MandateReference,
    PersonName, PhoneNumber, Profession, Reason, Sex, TobaccoUse,
};

/// What happened to a customer. The aggregate id is the customer id, so no
/// event repeats it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum CustomerEvent {
    /// The customer was registered with their contact details.
    CustomerRegistered {
        /// The customer number printed on letters.
        customer_number: CustomerNumber,
        /// Last name.
        last_name: PersonName,
        /// First name.
        first_name: PersonName,
        /// E-mail address, if known.
        email: Option<Email>,
        /// Phone number, if known.
        phone: Option<PhoneNumber>,
        /// When the customer prefers to be called.
        availability: Availability,
    },
    /// The contact details were replaced (all fields hold the new values).
    ContactDetailsChanged {
        /// Last name.
        last_name: PersonName,
        /// First name.
        first_name: PersonName,
        /// E-mail address, if known.
        email: Option<Email>,
        /// Phone number, if known.
        phone: Option<PhoneNumber>,
        /// When the customer prefers to be called.
        availability: Availability,
    },
    /// The customer signed a health declaration, superseding any previous one.
    HealthDeclared {
        /// Tobacco use.
        tobacco: TobaccoUse,
        /// Alcohol use.
        alcohol: AlcoholUse,
        /// Declared illnesses.
        illnesses: Vec<Illness>,
        /// The date of the declaration.
        declared_on: NaiveDate,
    },
    /// The sales profile was set (all fields hold the new values).
    SalesProfileSet {
        /// Age band, if known.
        age_band: Option<AgeBand>,
        /// Profession, if known.
        profession: Option<Profession>,
        /// Sex.
        sex: Sex,
    },
    /// A SEPA direct-debit mandate was signed.
    MandateSigned {
        /// The account to debit.
        iban: Iban,
        /// The unique mandate reference (RUM).
        mandate_reference: MandateReference,
        /// The signature date.
        signed_on: NaiveDate,
    },
    /// The active mandate was amended; SEPA requires the amendment to carry
    /// the previous values, which the bank receives with the next debit.
    MandateAmended {
        /// The account debited until now.
        previous_iban: Iban,
        /// The reference used until now.
        previous_mandate_reference: MandateReference,
        /// The account to debit from now on.
        iban: Iban,
        /// The reference to use from now on.
        mandate_reference: MandateReference,
        /// The date the amendment takes effect.
        amended_on: NaiveDate,
    },
    /// The active mandate was revoked.
    MandateRevoked {
        /// The date the revocation takes effect.
        revoked_on: NaiveDate,
        /// Why, if known.
        reason: Option<Reason>,
    },
    /// The customer's personal data was erased (GDPR article 17): their data keys
    /// are destroyed right after this event, so every personal field of their
    /// history reads as erased. Contracts and invoices keep their facts.
    CustomerErased {
        /// The legal basis and the request's reference (never the person's data).
        reason: Reason,
    },
}

impl DomainEvent for CustomerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CustomerRegistered { .. } => "CustomerRegistered",
            Self::ContactDetailsChanged { .. } => "ContactDetailsChanged",
            Self::HealthDeclared { .. } => "HealthDeclared",
            Self::SalesProfileSet { .. } => "SalesProfileSet",
            Self::MandateSigned { .. } => "MandateSigned",
            Self::MandateAmended { .. } => "MandateAmended",
            Self::MandateRevoked { .. } => "MandateRevoked",
            Self::CustomerErased { .. } => "CustomerErased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

const CONTACT: &[PersonalField] = &[
    personal("last_name", DataCategory::Contact),
    personal("first_name", DataCategory::Contact),
    personal("email", DataCategory::Contact),
    personal("phone", DataCategory::Contact),
    personal("availability", DataCategory::Contact),
];
const HEALTH: &[PersonalField] = &[
    personal("tobacco", DataCategory::Health),
    personal("alcohol", DataCategory::Health),
    personal("illnesses", DataCategory::Health),
];
const PROFILE: &[PersonalField] = &[
    personal("age_band", DataCategory::Profile),
    personal("profession", DataCategory::Profile),
    personal("sex", DataCategory::Profile),
];
const MANDATE: &[PersonalField] = &[
    personal("iban", DataCategory::Bank),
    personal("mandate_reference", DataCategory::Bank),
];
const AMENDMENT: &[PersonalField] = &[
    personal("previous_iban", DataCategory::Bank),
    personal("previous_mandate_reference", DataCategory::Bank),
    personal("iban", DataCategory::Bank),
    personal("mandate_reference", DataCategory::Bank),
];
// A revocation reason is free text about the customer's banking situation
// ("compte clôturé", "litige"): it follows the bank key so that shredding the
// bank data also shreds it.
const REVOCATION: &[PersonalField] = &[personal("reason", DataCategory::Bank)];

impl Classified for CustomerEvent {
    fn subject_field(_event_type: &str) -> Option<&'static str> {
        None
    }

    fn personal_fields(event_type: &str) -> &'static [PersonalField] {
        match event_type {
            "CustomerRegistered" | "ContactDetailsChanged" => CONTACT,
            "HealthDeclared" => HEALTH,
            "SalesProfileSet" => PROFILE,
            "MandateSigned" => MANDATE,
            "MandateAmended" => AMENDMENT,
            "MandateRevoked" => REVOCATION,
            _ => &[],
        }
    }
}

/// One realistic example of every customer event, for the event catalog.
#[must_use]
pub fn example_events() -> Vec<CustomerEvent> {
    build_examples().unwrap_or_default()
}

pub(crate) fn build_examples() -> Result<Vec<CustomerEvent>, ExampleError> {
    let iban: Iban = "FR76 3000 6000 0112 3456 7890 189".parse()?;
    let new_iban: Iban = "FR14 2004 1010 0505 0001 3M02 606".parse()?;
    let rum: MandateReference = "LAE-RUM-000123-01".parse()?;
    let new_rum: MandateReference = "LAE-RUM-000123-02".parse()?;
    Ok(vec![
        CustomerEvent::CustomerRegistered {
            customer_number: "LAE-000123".parse()?,
            last_name: "D'Artagnan".parse()?,
            first_name: "Hélène".parse()?,
            email: Some("helene.dartagnan@exemple.fr".parse()?),
            phone: Some("+33612345678".parse()?),
            availability: "lundi-vendredi 9h-12h".parse()?,
        },
        CustomerEvent::ContactDetailsChanged {
            last_name: "D'Artagnan".parse()?,
            first_name: "Hélène".parse()?,
            email: Some("h.dartagnan@exemple.fr".parse()?),
            phone: None,
            availability: "le soir après 18h".parse()?,
        },
        CustomerEvent::HealthDeclared {
            tobacco: TobaccoUse::NonSmoker,
            alcohol: AlcoholUse::Occasional,
            illnesses: vec!["Asthme".parse()?],
            declared_on: date(2024, 3, 4)?,
        },
        CustomerEvent::SalesProfileSet {
            age_band: Some(AgeBand::From36To45),
            profession: Some("Infirmière".parse()?),
            sex: Sex::Female,
        },
        CustomerEvent::MandateSigned {
            iban,
            mandate_reference: rum.clone(),
            signed_on: date(2024, 3, 11)?,
        },
        CustomerEvent::MandateAmended {
            previous_iban: iban,
            previous_mandate_reference: rum,
            iban: new_iban,
            mandate_reference: new_rum,
            amended_on: date(2024, 9, 2)?,
        },
        CustomerEvent::MandateRevoked {
            revoked_on: date(2025, 1, 15)?,
            reason: Some("Compte clôturé".parse()?),
        },
        CustomerEvent::CustomerErased {
            reason: "RGPD art. 17, demande n° 2026-114".parse()?,
        },
    ])
}
