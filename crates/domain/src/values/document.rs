//! Stored documents: content digest and file name.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// Why a SHA-256 digest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("empreinte SHA-256 invalide : 64 caractères hexadécimaux attendus")]
pub struct Sha256DigestError;

/// A SHA-256 digest as 64 lower-case hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest(String);

impl Sha256Digest {
    /// Trims, lower-cases and validates a hexadecimal digest.
    ///
    /// # Errors
    /// Returns [`Sha256DigestError`] unless the input is exactly 64 hexadecimal characters.
    pub fn parse(s: &str) -> Result<Self, Sha256DigestError> {
        let trimmed = s.trim();
        if trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(trimmed.to_ascii_lowercase()))
        } else {
            Err(Sha256DigestError)
        }
    }
}

string_value!(
    Sha256Digest,
    Sha256DigestError,
    json!({ "pattern": "^[0-9a-f]{64}$", "minLength": 64, "maxLength": 64 })
);

/// Why a document name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentNameError {
    /// Nothing but whitespace was given.
    #[error("le nom du document ne peut pas être vide")]
    Empty,
    /// Longer than [`DocumentName::MAX_CHARS`].
    #[error("le nom du document ne peut pas dépasser {max} caractères", max = DocumentName::MAX_CHARS)]
    TooLong,
    /// A path separator, a control character, or a name made only of dots.
    #[error("le nom du document contient un caractère interdit (/, \\ ou caractère de contrôle)")]
    Forbidden,
}

/// A document's file name, without any directory part.
///
/// Separators and the names `.` and `..` are refused so that the name can be
/// used safely as the last component of a storage path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentName(String);

impl DocumentName {
    /// The maximum length, in characters.
    pub const MAX_CHARS: usize = 255;

    /// Trims and validates a file name.
    ///
    /// # Errors
    /// Returns a [`DocumentNameError`] if the name is empty, too long or holds a forbidden character.
    pub fn parse(s: &str) -> Result<Self, DocumentNameError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(DocumentNameError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(DocumentNameError::TooLong);
        }
        if trimmed
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
            || trimmed == "."
            || trimmed == ".."
        {
            return Err(DocumentNameError::Forbidden);
        }
        Ok(Self(trimmed.to_owned()))
    }
}

string_value!(
    DocumentName,
    DocumentNameError,
    json!({ "minLength": 1, "maxLength": DocumentName::MAX_CHARS, "pattern": "^[^/\\\\]+$" })
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sha256_digests() {
        let lower = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let upper = lower.to_ascii_uppercase();
        let padded = format!("  {lower}\n");
        let short = &lower[..63];
        let long = format!("{lower}0");
        let non_hex = format!("{}g", &lower[..63]);
        let cases: &[(&str, Option<&str>, &str)] = &[
            (lower, Some(lower), "lower case"),
            (&upper, Some(lower), "upper case is normalised"),
            (&padded, Some(lower), "trimmed"),
            ("", None, "empty"),
            (short, None, "63 characters"),
            (&long, None, "65 characters"),
            (&non_hex, None, "non-hexadecimal character"),
        ];
        for (input, expected, why) in cases {
            let got = Sha256Digest::parse(input);
            assert_eq!(
                got.as_ref().ok().map(Sha256Digest::as_str),
                *expected,
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn parse_document_names() {
        use DocumentNameError as E;
        let max = "é".repeat(255);
        let long = "a".repeat(256);
        let cases: &[(&str, Result<&str, E>, &str)] = &[
            ("contrat-signé.pdf", Ok("contrat-signé.pdf"), "accents"),
            (
                " Contrat D'Artagnan 2024.pdf ",
                Ok("Contrat D'Artagnan 2024.pdf"),
                "spaces, trimmed",
            ),
            ("..pdf", Ok("..pdf"), "leading dots within a real name"),
            (&max, Ok(&max), "255 characters"),
            ("", Err(E::Empty), "empty"),
            (&long, Err(E::TooLong), "256 characters"),
            ("../etc/passwd", Err(E::Forbidden), "slash"),
            ("C:\\contrat.pdf", Err(E::Forbidden), "backslash"),
            ("contrat\n.pdf", Err(E::Forbidden), "line break"),
            ("..", Err(E::Forbidden), "parent directory"),
            (".", Err(E::Forbidden), "current directory"),
        ];
        for (input, expected, why) in cases {
            let got = DocumentName::parse(input);
            assert_eq!(
                got.as_ref().map(DocumentName::as_str),
                expected.as_ref().map(|s| *s),
                "{why}: {input:?}"
            );
        }
    }
}
