//! Bank details for SEPA direct debit: IBAN and mandate reference.

use std::fmt;

use iban::IbanLike;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Why an IBAN was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    /// The text does not have the shape of an IBAN.
    #[error("IBAN invalide : format incorrect")]
    Format,
    /// The check digits do not match: most often a typing mistake.
    #[error("IBAN invalide : la clé de contrôle ne correspond pas (faute de frappe ?)")]
    Checksum,
    /// The account part does not follow the country's format.
    #[error("IBAN invalide : la partie compte ne respecte pas le format du pays")]
    Bban,
    /// The country code is not an IBAN country.
    #[error("IBAN invalide : pays inconnu")]
    UnknownCountry,
}

/// A validated IBAN, kept in electronic form (`FR7630006000011234567890189`).
///
/// `Debug` prints the masked form so that a full IBAN never reaches a log;
/// there is deliberately no `Display`: callers choose between [`Iban::masked`]
/// and [`Iban::as_str`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(iban::Iban);

impl Iban {
    /// Parses an IBAN in any case, with or without spaces.
    ///
    /// # Errors
    /// Returns an [`IbanError`] if the format, check digits, account part or country is wrong.
    pub fn parse(s: &str) -> Result<Self, IbanError> {
        // The library accepts either the electronic form or strict groups of
        // four; removing every space first also accepts irregular groupings.
        let electronic: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        electronic
            .parse::<iban::Iban>()
            .map(Self)
            .map_err(|err| match err {
                iban::ParseIbanError::InvalidBaseIban {
                    source: iban::ParseBaseIbanError::InvalidChecksum,
                } => IbanError::Checksum,
                iban::ParseIbanError::InvalidBaseIban { .. } => IbanError::Format,
                iban::ParseIbanError::InvalidBban(_) => IbanError::Bban,
                iban::ParseIbanError::UnknownCountry(_) => IbanError::UnknownCountry,
            })
    }

    /// The electronic form, without spaces.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.electronic_str()
    }

    /// The two-letter country code.
    #[must_use]
    pub fn country_code(&self) -> &str {
        self.0.country_code()
    }

    /// The IBAN in groups of four with only the country code, check digits and
    /// last four characters visible: `FR76 **** **** **** **** ***0 189`.
    #[must_use]
    pub fn masked(&self) -> String {
        let electronic = self.as_str();
        let len = electronic.chars().count();
        let mut masked = String::with_capacity(len + len / 4);
        for (i, c) in electronic.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                masked.push(' ');
            }
            masked.push(if i < 4 || i + 4 >= len { c } else { '*' });
        }
        masked
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Iban").field(&self.masked()).finish()
    }
}

impl std::str::FromStr for Iban {
    type Err = IbanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Iban {
    type Error = IbanError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl TryFrom<&str> for Iban {
    type Error = IbanError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<Iban> for String {
    fn from(iban: Iban) -> Self {
        iban.as_str().to_owned()
    }
}

impl schemars::JsonSchema for Iban {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Iban".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        super::string_schema(json!({
            "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
            "maxLength": 34,
        }))
    }
}

/// Why a SEPA mandate reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MandateReferenceError {
    /// Nothing but whitespace was given.
    #[error("la référence unique de mandat ne peut pas être vide")]
    Empty,
    /// Longer than the 35 characters SEPA allows.
    #[error("la référence unique de mandat ne peut pas dépasser 35 caractères")]
    TooLong,
    /// A character outside the SEPA character set.
    #[error("la référence unique de mandat contient un caractère non autorisé : « {0} »")]
    Character(char),
}

/// A SEPA unique mandate reference (RUM): 1 to 35 characters from the SEPA
/// Latin character set, trimmed, case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MandateReference(String);

impl MandateReference {
    /// The maximum length, in characters, set by the SEPA rulebook.
    pub const MAX_CHARS: usize = 35;

    /// Trims and validates a mandate reference.
    ///
    /// # Errors
    /// Returns a [`MandateReferenceError`] if the reference is empty, too long or holds a character outside the SEPA set.
    pub fn parse(s: &str) -> Result<Self, MandateReferenceError> {
        let trimmed = s.trim();
        if let Some(c) = trimmed.chars().find(|c| !is_sepa_char(*c)) {
            return Err(MandateReferenceError::Character(c));
        }
        match trimmed.len() {
            0 => Err(MandateReferenceError::Empty),
            n if n > Self::MAX_CHARS => Err(MandateReferenceError::TooLong),
            _ => Ok(Self(trimmed.to_owned())),
        }
    }
}

/// The SEPA Latin character set, which banks are required to accept.
fn is_sepa_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " +?/-:().,'".contains(c)
}

string_value!(
    MandateReference,
    MandateReferenceError,
    json!({
        "minLength": 1,
        "maxLength": MandateReference::MAX_CHARS,
        "pattern": "^[A-Za-z0-9+?/\\-:().,' ]{1,35}$",
    })
);

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "FR7630006000011234567890189";

    #[test]
    fn parse_ibans() {
        use IbanError as E;
        let cases: &[(&str, Result<&str, E>, &str)] = &[
            (VALID, Ok(VALID), "electronic form"),
            ("FR76 3000 6000 0112 3456 7890 189", Ok(VALID), "paper form"),
            ("fr76 3000 6000 0112 3456 7890 189", Ok(VALID), "lower case"),
            (
                "  FR763000 60000112 34567890189 ",
                Ok(VALID),
                "irregular spacing",
            ),
            (
                "DE44500105175407324931",
                Ok("DE44500105175407324931"),
                "German IBAN",
            ),
            ("", Err(E::Format), "empty"),
            (
                "FR76-3000-6000-0112-3456-7890-189",
                Err(E::Format),
                "dashes",
            ),
            (
                "FR7630006000011234567890188",
                Err(E::Checksum),
                "wrong check digits",
            ),
            (
                "FR763000600001123456789018",
                Err(E::Checksum),
                "one character missing",
            ),
            (
                "XX7630006000011234567890189",
                Err(E::Checksum),
                "unknown country",
            ),
            ("ÉR7630006000011234567890189", Err(E::Format), "non-ASCII"),
        ];
        for (input, expected, why) in cases {
            let got = Iban::parse(input);
            assert_eq!(
                got.as_ref().map(Iban::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn iban_is_masked_in_debug() {
        let iban = Iban::parse(VALID).unwrap();
        assert_eq!(iban.masked(), "FR76 **** **** **** **** ***0 189");
        let debug = format!("{iban:?}");
        assert_eq!(debug, "Iban(\"FR76 **** **** **** **** ***0 189\")");
        assert!(!debug.contains("30006"));
        let german = Iban::parse("DE44500105175407324931").unwrap();
        assert_eq!(german.masked(), "DE44 **** **** **** **49 31");
        assert_eq!(german.country_code(), "DE");
    }

    #[test]
    fn iban_serializes_electronic_form() {
        let iban: Iban =
            serde_json::from_value(json!("fr76 3000 6000 0112 3456 7890 189")).unwrap();
        assert_eq!(serde_json::to_value(iban).unwrap(), json!(VALID));
        assert!(serde_json::from_value::<Iban>(json!("FR00")).is_err());
    }

    #[test]
    fn parse_mandate_references() {
        use MandateReferenceError as E;
        let max = "A".repeat(35);
        let long = "A".repeat(36);
        let cases: &[(&str, Result<&str, E>, &str)] = &[
            ("LAE-2024-000123", Ok("LAE-2024-000123"), "typical"),
            (
                " rum/01 (a),b.c:d?e+f' ",
                Ok("rum/01 (a),b.c:d?e+f'"),
                "every punctuation, trimmed",
            ),
            (&max, Ok(&max), "35 characters"),
            ("", Err(E::Empty), "empty"),
            ("  ", Err(E::Empty), "blank"),
            (&long, Err(E::TooLong), "36 characters"),
            ("RUM_01", Err(E::Character('_')), "underscore"),
            ("RUMé", Err(E::Character('é')), "accent"),
            ("RUM\t1", Err(E::Character('\t')), "tabulation"),
        ];
        for (input, expected, why) in cases {
            let got = MandateReference::parse(input);
            assert_eq!(
                got.as_ref().map(MandateReference::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }
}
