//! Customer-service values: departments and contact channels.

string_enum!(
    /// A department of LAE that a ticket can sit with; a new ticket sits
    /// with customer service.
    #[derive(Default)]
    Department, "service" {
        /// Customer service, where every ticket starts.
        #[default]
        CustomerService => "customer_service",
        /// Legal: contracts and health declarations.
        Legal => "legal",
        /// Sales: offers and sales profiles.
        Sales => "sales",
        /// Billing: invoices and direct-debit mandates.
        Billing => "billing",
    }
);

string_enum!(
    /// How the customer got in touch.
    Channel, "canal" {
        /// A phone call.
        Phone => "phone",
        /// A letter or an e-mail.
        Mail => "mail",
        /// The platform itself, on behalf of another department (a reactor's notice:
        /// "informer le département Vente").
        Internal => "internal",
    }
);

string_enum!(
    /// How satisfied the customer said they were with the handling of a ticket, on
    /// Zendesk's two-point scale.
    Satisfaction, "satisfaction" {
        /// Satisfied.
        Good => "good",
        /// Not satisfied.
        Bad => "bad",
    }
);

/// Why a ticket's reason code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("code de motif invalide : « {0} » (lettres minuscules, chiffres et _, 2 à 40 caractères)")]
pub struct ReasonCodeError(pub String);

/// The code of the reason a ticket was opened for, from the list customer service
/// picks from (`public.ticket_reasons`: `complaint`, `invoice_question`, ...). Unlike
/// the reason's text, which quotes the customer and is sealed, the code is not
/// personal: management counts tickets by it (complaints are `complaint`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ReasonCode(String);

impl ReasonCode {
    /// The code of a complaint ("réclamation").
    pub const COMPLAINT: &'static str = "complaint";

    /// Checks a code: a lower-case ASCII letter, then 1 to 39 lower-case letters,
    /// digits or `_` (the check of `public.ticket_reasons.code`).
    ///
    /// # Errors
    /// Returns a [`ReasonCodeError`] holding the input otherwise.
    pub fn parse(s: &str) -> Result<Self, ReasonCodeError> {
        let bytes = s.as_bytes();
        let valid = (2..=40).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ReasonCodeError(s.to_owned()))
        }
    }

    /// Whether this is the code of a complaint.
    #[must_use]
    pub fn is_complaint(&self) -> bool {
        self.0 == Self::COMPLAINT
    }
}

string_value!(
    ReasonCode,
    ReasonCodeError,
    serde_json::json!({ "pattern": "^[a-z][a-z0-9_]{1,39}$" })
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_departments() {
        let cases: &[(&str, Option<Department>, &str)] = &[
            (
                "customer_service",
                Some(Department::CustomerService),
                "customer service",
            ),
            ("legal", Some(Department::Legal), "legal"),
            ("sales", Some(Department::Sales), "sales"),
            ("billing", Some(Department::Billing), "billing"),
            ("Legal", None, "case matters"),
            ("juridique", None, "French name is not the code"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(
                input.parse::<Department>().ok(),
                *expected,
                "{why}: {input:?}"
            );
        }
        assert_eq!(Department::default(), Department::CustomerService);
    }

    #[test]
    fn parse_reason_codes() {
        for good in ["complaint", "invoice_question", "r2"] {
            assert!(ReasonCode::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "c",
            "Complaint",
            "2fa",
            "réclamation",
            "a-b",
            &"a".repeat(41),
        ] {
            assert!(ReasonCode::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ReasonCode::parse("complaint").is_ok_and(|c| c.is_complaint()));
        assert_eq!("bad".parse::<Satisfaction>().ok(), Some(Satisfaction::Bad));
    }

    #[test]
    fn parse_channels() {
        let cases: &[(&str, Option<Channel>, &str)] = &[
            ("phone", Some(Channel::Phone), "phone"),
            ("mail", Some(Channel::Mail), "mail"),
            ("email", None, "not a channel"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(input.parse::<Channel>().ok(), *expected, "{why}: {input:?}");
        }
    }
}
