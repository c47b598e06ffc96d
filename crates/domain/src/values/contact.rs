//! Contact details: names, e-mail, phone, availability, customer number.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{TextError, parse_bounded_text};

/// Why a person name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    /// Nothing but whitespace was given.
    #[error("le nom ne peut pas être vide")]
    Empty,
    /// The normalised name is longer than [`PersonName::MAX_CHARS`].
    #[error("le nom ne peut pas dépasser {max} caractères", max = PersonName::MAX_CHARS)]
    TooLong,
    /// The name holds a control character.
    #[error("le nom contient un caractère de contrôle")]
    ControlCharacter,
    /// The name holds `<` or `>`: markup, never part of a name.
    #[error("le nom ne peut pas contenir les caractères < ou >")]
    Markup,
}

/// A last or first name, as the person writes it.
///
/// Surrounding whitespace is trimmed and inner runs of whitespace collapse to
/// one space; accents, apostrophes and hyphens are kept untouched because
/// names must be printed exactly as the person spells them (Hélène,
/// D'Artagnan, Le Goff, Saint-Exupéry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// The maximum length, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Normalises and validates a name.
    ///
    /// # Errors
    /// Returns a [`PersonNameError`] if the name is empty, too long or holds a control character.
    pub fn parse(s: &str) -> Result<Self, PersonNameError> {
        let trimmed = s.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(PersonNameError::ControlCharacter);
        }
        if trimmed.contains(['<', '>']) {
            return Err(PersonNameError::Markup);
        }
        let collapsed = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
        match collapsed.chars().count() {
            0 => Err(PersonNameError::Empty),
            n if n > Self::MAX_CHARS => Err(PersonNameError::TooLong),
            _ => Ok(Self(collapsed)),
        }
    }
}

string_value!(
    PersonName,
    PersonNameError,
    json!({ "minLength": 1, "maxLength": PersonName::MAX_CHARS })
);

/// Why an e-mail address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but whitespace was given.
    #[error("l'adresse e-mail ne peut pas être vide")]
    Empty,
    /// The address is longer than [`Email::MAX_CHARS`].
    #[error("l'adresse e-mail ne peut pas dépasser {max} caractères", max = Email::MAX_CHARS)]
    TooLong,
    /// The address holds a space or a control character.
    #[error("l'adresse e-mail ne peut pas contenir d'espace")]
    Whitespace,
    /// The address does not have exactly one `@`.
    #[error("l'adresse e-mail doit contenir exactement un « @ »")]
    At,
    /// Nothing precedes the `@`.
    #[error("l'adresse e-mail doit avoir une partie avant le « @ »")]
    EmptyLocalPart,
    /// The part after the `@` is not a dotted domain name.
    #[error("le domaine de l'adresse e-mail est invalide (exemple attendu : nom@exemple.fr)")]
    Domain,
}

/// An e-mail address, trimmed and lower-cased.
///
/// The check is deliberately shallow (one `@`, a dotted domain): only sending
/// a message proves an address works, and a stricter grammar would reject real
/// addresses found in the legacy data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The maximum length, in characters (RFC 5321 path limit).
    pub const MAX_CHARS: usize = 254;

    /// Normalises and validates an address.
    ///
    /// # Errors
    /// Returns an [`EmailError`] naming the first violated rule.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let normalised = s.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalised.chars().count() > Self::MAX_CHARS {
            return Err(EmailError::TooLong);
        }
        if normalised
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(EmailError::Whitespace);
        }
        let Some((local, domain)) = normalised.split_once('@') else {
            return Err(EmailError::At);
        };
        if domain.contains('@') {
            return Err(EmailError::At);
        }
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
            return Err(EmailError::Domain);
        }
        Ok(Self(normalised))
    }
}

string_value!(
    Email,
    EmailError,
    json!({ "format": "email", "maxLength": Email::MAX_CHARS })
);

/// Why a phone number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    /// Nothing but whitespace was given.
    #[error("le numéro de téléphone ne peut pas être vide")]
    Empty,
    /// Neither an international number nor a French national one.
    #[error("numéro de téléphone invalide : attendu +33612345678, 0612345678 ou 06 12 34 56 78")]
    Invalid,
}

/// A phone number in E.164 form (`+33612345678`).
///
/// Accepted inputs are `+` followed by 8 to 15 digits, or a French national
/// number of ten digits starting with `0` (optionally grouped by two with
/// spaces, dots or dashes), which becomes `+33` followed by the nine
/// significant digits. Storing one canonical form lets the same number typed
/// two ways be recognised as the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Normalises and validates a phone number.
    ///
    /// # Errors
    /// Returns a [`PhoneNumberError`] if the input is empty or in no accepted format.
    pub fn parse(s: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        if let Some(digits) = trimmed.strip_prefix('+') {
            return Self::international(digits);
        }
        Self::french_national(trimmed)
    }

    fn international(digits: &str) -> Result<Self, PhoneNumberError> {
        let all_digits = digits.bytes().all(|b| b.is_ascii_digit());
        // A country code never starts with 0, and a French number is +33
        // followed by exactly nine digits without the national trunk 0.
        let french_ok = match digits.strip_prefix("33") {
            Some(rest) => rest.len() == 9 && !rest.starts_with('0'),
            None => true,
        };
        if all_digits && (8..=15).contains(&digits.len()) && !digits.starts_with('0') && french_ok {
            Ok(Self(format!("+{digits}")))
        } else {
            Err(PhoneNumberError::Invalid)
        }
    }

    fn french_national(s: &str) -> Result<Self, PhoneNumberError> {
        let digits: String = match s.len() {
            10 => s.to_owned(),
            // Five pairs of digits joined by one separator, used consistently.
            14 => {
                let bytes = s.as_bytes();
                let separator = bytes[2];
                if !matches!(separator, b' ' | b'.' | b'-')
                    || (2..14).step_by(3).any(|i| bytes[i] != separator)
                {
                    return Err(PhoneNumberError::Invalid);
                }
                s.split(char::from(separator)).collect()
            }
            _ => return Err(PhoneNumberError::Invalid),
        };
        let bytes = digits.as_bytes();
        if bytes.len() != 10
            || !bytes.iter().all(u8::is_ascii_digit)
            || bytes[0] != b'0'
            || bytes[1] == b'0'
        {
            return Err(PhoneNumberError::Invalid);
        }
        Ok(Self(format!("+33{}", &digits[1..])))
    }
}

string_value!(
    PhoneNumber,
    PhoneNumberError,
    json!({ "pattern": "^\\+[1-9][0-9]{7,14}$" })
);

/// When the customer prefers to be called, as free text ("lundi-vendredi
/// 9h-12h"); it may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Availability(String);

impl Availability {
    /// The maximum length, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Trims the text and checks its length and characters.
    ///
    /// # Errors
    /// Returns a [`TextError`] if the text is too long or holds a control character.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        parse_bounded_text(s, 0, Self::MAX_CHARS).map(Self)
    }

    /// Whether no availability was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

string_value!(
    Availability,
    TextError,
    json!({ "maxLength": Availability::MAX_CHARS })
);

/// Why a customer number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("numéro client invalide : « {0} » (attendu LAE- suivi de 6 à 9 chiffres)")]
pub struct CustomerNumberError(pub String);

/// The customer number printed on letters: `LAE-` then 6 to 9 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerNumber(String);

impl CustomerNumber {
    /// Trims, upper-cases and validates a customer number.
    ///
    /// # Errors
    /// Returns a [`CustomerNumberError`] holding the input if it is not `LAE-` and 6 to 9 digits.
    pub fn parse(s: &str) -> Result<Self, CustomerNumberError> {
        let normalised = s.trim().to_ascii_uppercase();
        let valid = normalised.strip_prefix("LAE-").is_some_and(|digits| {
            (6..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
        if valid {
            Ok(Self(normalised))
        } else {
            Err(CustomerNumberError(s.to_owned()))
        }
    }
}

string_value!(
    CustomerNumber,
    CustomerNumberError,
    json!({ "pattern": "^LAE-[0-9]{6,9}$" })
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_person_names() {
        use PersonNameError as E;
        let long = "a".repeat(101);
        let max = "é".repeat(100);
        let cases: &[(&str, Result<&str, E>, &str)] = &[
            ("Hélène", Ok("Hélène"), "accents are kept"),
            ("D'Artagnan", Ok("D'Artagnan"), "apostrophe is kept"),
            (
                "D’Artagnan",
                Ok("D’Artagnan"),
                "typographic apostrophe is kept",
            ),
            ("Le Goff", Ok("Le Goff"), "inner space is kept"),
            ("Øster", Ok("Øster"), "non-French letters are kept"),
            ("Saint-Exupéry", Ok("Saint-Exupéry"), "hyphen is kept"),
            ("  Le   Goff  ", Ok("Le Goff"), "trimmed and collapsed"),
            (
                "Le\u{a0}Goff",
                Ok("Le Goff"),
                "non-breaking space collapses",
            ),
            (&max, Ok(&max), "100 characters is the limit"),
            ("", Err(E::Empty), "empty"),
            ("   ", Err(E::Empty), "blank"),
            (&long, Err(E::TooLong), "101 characters"),
            ("Le\tGoff", Err(E::ControlCharacter), "inner tabulation"),
            ("Hé\u{0}lène", Err(E::ControlCharacter), "NUL byte"),
            ("<script>alert(1)</script>", Err(E::Markup), "markup"),
            ("Dupont >", Err(E::Markup), "a lone angle bracket"),
        ];
        for (input, expected, why) in cases {
            let got = PersonName::parse(input);
            assert_eq!(
                got.as_ref().map(PersonName::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn parse_emails() {
        use EmailError as E;
        let long = format!("{}@exemple.fr", "a".repeat(250));
        let cases: &[(&str, Result<&str, E>, &str)] = &[
            ("helene@exemple.fr", Ok("helene@exemple.fr"), "plain"),
            (
                " Helene.DArtagnan@Exemple.FR ",
                Ok("helene.dartagnan@exemple.fr"),
                "trimmed and lower-cased",
            ),
            (
                "h+lae@mail.exemple.fr",
                Ok("h+lae@mail.exemple.fr"),
                "plus and sub-domain",
            ),
            ("", Err(E::Empty), "empty"),
            (&long, Err(E::TooLong), "longer than 254"),
            ("helene @exemple.fr", Err(E::Whitespace), "inner space"),
            ("helene.exemple.fr", Err(E::At), "no @"),
            ("a@b@exemple.fr", Err(E::At), "two @"),
            ("@exemple.fr", Err(E::EmptyLocalPart), "nothing before @"),
            ("helene@", Err(E::Domain), "no domain"),
            ("helene@localhost", Err(E::Domain), "domain without dot"),
            ("helene@exemple.", Err(E::Domain), "trailing dot"),
            ("helene@.exemple.fr", Err(E::Domain), "leading dot"),
            ("helene@exemple..fr", Err(E::Domain), "empty label"),
        ];
        for (input, expected, why) in cases {
            let got = Email::parse(input);
            assert_eq!(
                got.as_ref().map(Email::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn parse_phone_numbers() {
        use PhoneNumberError as E;
        let cases: &[(&str, Result<&str, E>, &str)] = &[
            ("+33612345678", Ok("+33612345678"), "E.164 French mobile"),
            (
                "+4915112345678",
                Ok("+4915112345678"),
                "E.164 German mobile",
            ),
            ("+12345678", Ok("+12345678"), "8 digits is the minimum"),
            (
                "+123456789012345",
                Ok("+123456789012345"),
                "15 digits is the maximum",
            ),
            (
                "0612345678",
                Ok("+33612345678"),
                "French national, no separator",
            ),
            (
                "06 12 34 56 78",
                Ok("+33612345678"),
                "French national, spaces",
            ),
            (
                "06.12.34.56.78",
                Ok("+33612345678"),
                "French national, dots",
            ),
            (
                "06-12-34-56-78",
                Ok("+33612345678"),
                "French national, dashes",
            ),
            (" 0145678901 ", Ok("+33145678901"), "landline, trimmed"),
            ("", Err(E::Empty), "empty"),
            ("+1234567", Err(E::Invalid), "7 digits is too short"),
            (
                "+1234567890123456",
                Err(E::Invalid),
                "16 digits is too long",
            ),
            (
                "+33 6 12 34 56 78",
                Err(E::Invalid),
                "international with spaces",
            ),
            (
                "+0612345678",
                Err(E::Invalid),
                "country code starting with 0",
            ),
            (
                "+330612345678",
                Err(E::Invalid),
                "French trunk 0 kept after +33",
            ),
            (
                "+3361234567",
                Err(E::Invalid),
                "French number one digit short",
            ),
            (
                "612345678",
                Err(E::Invalid),
                "nine digits without leading 0",
            ),
            ("0012345678", Err(E::Invalid), "international prefix 00"),
            ("06 12.34 56 78", Err(E::Invalid), "mixed separators"),
            ("06/12/34/56/78", Err(E::Invalid), "slash separators"),
            ("061 234 5678", Err(E::Invalid), "wrong grouping"),
            ("06123456789", Err(E::Invalid), "eleven digits"),
            ("06abcdefgh", Err(E::Invalid), "letters"),
            ("06 12 34 56 7é", Err(E::Invalid), "non-ASCII"),
        ];
        for (input, expected, why) in cases {
            let got = PhoneNumber::parse(input);
            assert_eq!(
                got.as_ref().map(PhoneNumber::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn parse_availabilities() {
        let long = "a".repeat(201);
        let cases: &[(&str, Result<&str, TextError>, &str)] = &[
            (
                "lundi-vendredi 9h-12h",
                Ok("lundi-vendredi 9h-12h"),
                "typical",
            ),
            ("", Ok(""), "empty is allowed"),
            ("   ", Ok(""), "blank becomes empty"),
            (
                &long,
                Err(TextError::TooLong {
                    max: 200,
                    actual: 201,
                }),
                "too long",
            ),
            (
                "matin\nsoir",
                Err(TextError::ControlCharacter),
                "line break",
            ),
        ];
        for (input, expected, why) in cases {
            let got = Availability::parse(input);
            assert_eq!(
                got.as_ref().map(Availability::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
        assert!(Availability::default().is_empty());
    }

    #[test]
    fn parse_customer_numbers() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("LAE-000123", Some("LAE-000123"), "six digits"),
            ("LAE-123456789", Some("LAE-123456789"), "nine digits"),
            (" lae-000123 ", Some("LAE-000123"), "lower case, trimmed"),
            ("LAE-12345", None, "five digits"),
            ("LAE-1234567890", None, "ten digits"),
            ("LAE000123", None, "missing dash"),
            ("ABC-000123", None, "wrong prefix"),
            ("LAE-00012A", None, "letter among digits"),
            ("LAE-٠٠٠١٢٣", None, "non-ASCII digits"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            let got = CustomerNumber::parse(input);
            assert_eq!(
                got.as_ref().ok().map(CustomerNumber::as_str),
                *expected,
                "{why}: {input:?}"
            );
            if let Err(err) = got {
                assert_eq!(err, CustomerNumberError((*input).to_owned()), "{why}");
            }
        }
    }

    #[test]
    fn serde_validates_contact_values() {
        let email: Email = serde_json::from_value(json!(" A@B.FR ")).unwrap();
        assert_eq!(serde_json::to_value(&email).unwrap(), json!("a@b.fr"));
        assert!(serde_json::from_value::<Email>(json!("nope")).is_err());
        assert!(serde_json::from_value::<PersonName>(json!("")).is_err());
        let phone: PhoneNumber = serde_json::from_value(json!("06 12 34 56 78")).unwrap();
        assert_eq!(serde_json::to_value(&phone).unwrap(), json!("+33612345678"));
        assert!(serde_json::from_value::<CustomerNumber>(json!("LAE-1")).is_err());
    }

    #[test]
    fn error_messages_are_french() {
        assert_eq!(
            PersonNameError::TooLong.to_string(),
            "le nom ne peut pas dépasser 100 caractères"
        );
        assert_eq!(
            EmailError::At.to_string(),
            "l'adresse e-mail doit contenir exactement un « @ »"
        );
    }
}
