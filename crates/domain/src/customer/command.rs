//! Commands of the `Customer` aggregate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::values::{
    AgeBand, AlcoholUse, Availability, CustomerId, CustomerNumber, Email, Iban, Illness,
    MandateReference, PersonName, PhoneNumber, Profession, Reason, Sex, TobaccoUse,
};

/// What can be asked of a customer. Each department owns some commands:
/// customer service the contact details, Legal the health declaration, Sales
/// the profile and Billing the direct-debit mandate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command")]
pub enum CustomerCommand {
    /// Creates the customer (customer service).
    RegisterCustomer {
        /// The id of the new customer; the caller uses it as the aggregate id.
        customer_id: CustomerId,
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
    /// Replaces all contact details at once (customer service); a no-op when nothing differs.
    ChangeContactDetails {
        /// Last name.
        last_name: PersonName,
        /// First name.
        first_name: PersonName,
        /// E-mail address; `None` erases it.
        email: Option<Email>,
        /// Phone number; `None` erases it.
        phone: Option<PhoneNumber>,
        /// When the customer prefers to be called.
        availability: Availability,
    },
    /// Records a health declaration (Legal); it supersedes the previous one.
    DeclareHealth {
        /// Tobacco use.
        tobacco: TobaccoUse,
        /// Alcohol use.
        alcohol: AlcoholUse,
        /// Declared illnesses, at most [`MAX_ILLNESSES`](super::MAX_ILLNESSES).
        illnesses: Vec<Illness>,
        /// The date the customer signed the declaration.
        declared_on: NaiveDate,
    },
    /// Replaces the sales profile (Sales); a no-op when nothing differs.
    SetSalesProfile {
        /// Age band, if known.
        age_band: Option<AgeBand>,
        /// Profession, if known.
        profession: Option<Profession>,
        /// Sex.
        sex: Sex,
    },
    /// Records a newly signed SEPA direct-debit mandate (Billing).
    SignMandate {
        /// The account to debit.
        iban: Iban,
        /// The unique mandate reference (RUM).
        mandate_reference: MandateReference,
        /// The signature date.
        signed_on: NaiveDate,
    },
    /// Changes the account or reference of the active mandate (Billing).
    AmendMandate {
        /// The new account to debit.
        iban: Iban,
        /// The new unique mandate reference.
        mandate_reference: MandateReference,
        /// The date the amendment takes effect.
        amended_on: NaiveDate,
    },
    /// Ends the active mandate (Billing).
    RevokeMandate {
        /// The date the revocation takes effect.
        revoked_on: NaiveDate,
        /// Why, if known.
        reason: Option<Reason>,
    },
    /// Erase the customer's personal data (GDPR article 17). The store destroys
    /// the customer's data keys after this event, so every personal field written
    /// before it becomes unreadable; the customer accepts no command afterwards.
    EraseCustomer {
        /// The legal basis and the request's reference, e.g. "RGPD art. 17,
        /// demande n° 2026-114". It is kept in clear: it must not name the person.
        reason: Reason,
    },
}
