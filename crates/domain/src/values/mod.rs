//! Value types: validated newtypes ("parse, don't validate").
//!
//! Each type can only be built through a validating constructor, and serde
//! deserialises through the same constructor, so an event or command that
//! holds one of these types is known to hold valid data. Error messages are in
//! French because they end up in front of department users.

#[macro_use]
mod macros;

mod bank;
mod contact;
mod document;
mod health;
mod ids;
mod money;
mod profile;
mod service;
mod text;

pub use bank::{Iban, IbanError, MandateReference, MandateReferenceError};
pub use contact::{
    Availability, CustomerNumber, CustomerNumberError, Email, EmailError, PersonName,
    PersonNameError, PhoneNumber, PhoneNumberError,
};
pub use document::{DocumentName, DocumentNameError, Sha256Digest, Sha256DigestError};
pub use health::{AlcoholUse, Illness, TobaccoUse};
pub use ids::{ContractId, CustomerId, InvoiceId, OfferId, ParseIdError, TicketId};
pub use money::{Cents, CentsError};
pub use profile::{AgeBand, Sex};
pub use service::{Channel, Department, ReasonCode, ReasonCodeError, Satisfaction};
pub use text::{
    ActionText, ContractReference, InvoiceLabel, InvoiceNumber, Note, OperatorName, ProductName,
    Profession, Reason, RejectionCode,
};

/// Why a free text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace was given where a text is required.
    #[error("le texte ne peut pas être vide")]
    Empty,
    /// The trimmed text is longer than allowed.
    #[error("le texte ne peut pas dépasser {max} caractères (il en compte {actual})")]
    TooLong {
        /// The maximum number of characters.
        max: usize,
        /// The number of characters received, after trimming.
        actual: usize,
    },
    /// The text holds a control character (tabulation, line break, ...).
    #[error("le texte contient un caractère de contrôle (tabulation, retour à la ligne…)")]
    ControlCharacter,
}

/// A string did not name any value of a closed list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("valeur inconnue pour {kind} : « {value} »")]
pub struct ParseEnumError {
    /// What was being parsed, in French (e.g. "tranche d'âge").
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

/// Trims `s` and checks its length (in characters) lies in `min..=max` and that
/// it holds no control character.
pub(crate) fn parse_bounded_text(s: &str, min: usize, max: usize) -> Result<String, TextError> {
    let trimmed = s.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    let actual = trimmed.chars().count();
    if actual < min {
        return Err(TextError::Empty);
    }
    if actual > max {
        return Err(TextError::TooLong { max, actual });
    }
    Ok(trimmed.to_owned())
}

/// Builds a string schema: `{"type": "string"}` plus the members of `extra`.
pub(crate) fn string_schema(extra: serde_json::Value) -> schemars::Schema {
    let mut map = serde_json::Map::new();
    map.insert("type".to_owned(), serde_json::Value::from("string"));
    if let serde_json::Value::Object(extra) = extra {
        map.extend(extra);
    }
    schemars::Schema::from(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_rules() {
        let cases: &[(&str, usize, Result<&str, TextError>, &str)] = &[
            ("abc", 3, Ok("abc"), "exactly at the limit"),
            (
                "  abc \u{a0}",
                3,
                Ok("abc"),
                "unicode whitespace is trimmed",
            ),
            ("é", 1, Ok("é"), "length counts characters, not bytes"),
            ("", 3, Err(TextError::Empty), "empty"),
            ("   ", 3, Err(TextError::Empty), "blank"),
            (
                "abcd",
                3,
                Err(TextError::TooLong { max: 3, actual: 4 }),
                "too long",
            ),
            (
                "a\nb",
                3,
                Err(TextError::ControlCharacter),
                "inner line break",
            ),
            ("a\u{7}", 3, Err(TextError::ControlCharacter), "bell"),
        ];
        for (input, max, expected, why) in cases {
            let got = parse_bounded_text(input, 1, *max);
            assert_eq!(
                got.as_deref(),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn string_schema_merges_extra_members() {
        let schema = string_schema(serde_json::json!({ "maxLength": 3 }));
        assert_eq!(
            schema.as_value(),
            &serde_json::json!({ "type": "string", "maxLength": 3 })
        );
    }
}
