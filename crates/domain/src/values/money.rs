//! Money, as integer euro cents: no floating point ever touches an amount.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an amount was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CentsError {
    /// Nothing but whitespace was given.
    #[error("le montant ne peut pas être vide")]
    Empty,
    /// The text is not a decimal amount in euros.
    #[error("montant invalide : « {0} » (exemple attendu : 31,50)")]
    Format(String),
    /// More than two decimals: rounding money silently is not an option.
    #[error("le montant ne peut pas avoir plus de deux décimales : « {0} »")]
    TooPrecise(String),
    /// The amount does not fit in 64 bits of cents.
    #[error("le montant est trop grand")]
    Overflow,
    /// A negative amount where only zero or more makes sense.
    #[error("le montant ne peut pas être négatif")]
    Negative,
}

/// An amount of money in euro cents (`3150` is 31,50 €).
///
/// Every `i64` is a meaningful amount (a negative one is a credit), so the
/// field is public; rules such as "a premium is positive" belong to the
/// aggregates. Serialised as a plain JSON integer.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct Cents(pub i64);

impl Cents {
    /// Zero euro.
    pub const ZERO: Cents = Cents(0);

    /// Wraps an amount in cents.
    #[must_use]
    pub const fn new(cents: i64) -> Self {
        Self(cents)
    }

    /// Wraps an amount in cents that must not be negative.
    ///
    /// # Errors
    /// Returns [`CentsError::Negative`] for a negative amount.
    pub const fn non_negative(cents: i64) -> Result<Self, CentsError> {
        if cents < 0 {
            Err(CentsError::Negative)
        } else {
            Ok(Self(cents))
        }
    }

    /// The amount in cents.
    #[must_use]
    pub const fn value(self) -> i64 {
        self.0
    }

    /// Whether the amount is strictly greater than zero.
    #[must_use]
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Parses an amount written in euros: `31,50`, `31.50`, `31,5`, `31`,
    /// `-12,00`, `1 234,56` (spaces as thousands separators) or `31,50 €`.
    ///
    /// This is pure string parsing for the legacy data migration; it refuses
    /// more than two decimals instead of rounding.
    ///
    /// # Errors
    /// Returns a [`CentsError`] if the text is empty, malformed, too precise or too large.
    pub fn parse_eur(s: &str) -> Result<Self, CentsError> {
        let trimmed = s.trim();
        let without_symbol = trimmed.strip_suffix('€').unwrap_or(trimmed).trim_end();
        if without_symbol.is_empty() {
            return Err(CentsError::Empty);
        }
        let (negative, unsigned) = match without_symbol.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, without_symbol),
        };
        // Regular, non-breaking and narrow non-breaking spaces all appear as
        // thousands separators in French exports.
        let compact: String = unsigned
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
            .collect();
        let (units, decimals) = match compact.split_once([',', '.']) {
            Some((units, decimals)) => (units, decimals),
            None => (compact.as_str(), ""),
        };
        let is_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if units.is_empty()
            || !is_digits(units)
            || !is_digits(decimals)
            || (compact.len() > units.len() && decimals.is_empty())
        {
            return Err(CentsError::Format(s.to_owned()));
        }
        if decimals.len() > 2 {
            return Err(CentsError::TooPrecise(s.to_owned()));
        }
        let units: i64 = units.parse().map_err(|_| CentsError::Overflow)?;
        let decimals: i64 = match decimals.len() {
            0 => 0,
            1 => i64::from(decimals.as_bytes()[0] - b'0') * 10,
            _ => decimals
                .parse()
                .map_err(|_| CentsError::Format(s.to_owned()))?,
        };
        let magnitude = units
            .checked_mul(100)
            .and_then(|cents| cents.checked_add(decimals))
            .ok_or(CentsError::Overflow)?;
        Ok(Self(if negative { -magnitude } else { magnitude }))
    }
}

impl fmt::Display for Cents {
    /// French notation: `1234,56 €`, `-0,05 €`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{},{:02} €", magnitude / 100, magnitude % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_euro_amounts() {
        use CentsError as E;
        let cases: &[(&str, Result<i64, E>, &str)] = &[
            ("31,50", Ok(3150), "comma decimals"),
            ("31.50", Ok(3150), "dot decimals"),
            ("31", Ok(3100), "whole euros"),
            ("31,5", Ok(3150), "one decimal means tens of cents"),
            ("0,05", Ok(5), "cents only"),
            (" 31,50 € ", Ok(3150), "euro sign and spaces"),
            ("31,50€", Ok(3150), "euro sign glued"),
            ("1 234,56", Ok(123_456), "space thousands separator"),
            (
                "1\u{a0}234,56",
                Ok(123_456),
                "non-breaking space thousands separator",
            ),
            ("-12,00", Ok(-1200), "negative"),
            ("0", Ok(0), "zero"),
            ("", Err(E::Empty), "empty"),
            (" € ", Err(E::Empty), "only the euro sign"),
            ("abc", Err(E::Format("abc".into())), "letters"),
            (
                "31,",
                Err(E::Format("31,".into())),
                "separator without decimals",
            ),
            (",50", Err(E::Format(",50".into())), "no units"),
            (
                "31,50,00",
                Err(E::Format("31,50,00".into())),
                "two separators",
            ),
            ("+31", Err(E::Format("+31".into())), "explicit plus sign"),
            ("--3", Err(E::Format("--3".into())), "double minus"),
            (
                "31,505",
                Err(E::TooPrecise("31,505".into())),
                "three decimals",
            ),
            ("99999999999999999999", Err(E::Overflow), "too large"),
            (
                "92233720368547758,08",
                Err(E::Overflow),
                "just above i64::MAX cents",
            ),
        ];
        for (input, expected, why) in cases {
            let got = Cents::parse_eur(input).map(Cents::value);
            assert_eq!(&got, expected, "{why}: {input:?}");
        }
    }

    #[test]
    fn non_negative_constructor() {
        assert_eq!(Cents::non_negative(0), Ok(Cents(0)));
        assert_eq!(Cents::non_negative(1), Ok(Cents(1)));
        assert_eq!(Cents::non_negative(-1), Err(CentsError::Negative));
        assert!(Cents(1).is_positive());
        assert!(!Cents::ZERO.is_positive());
    }

    #[test]
    fn display_in_french_notation() {
        assert_eq!(Cents(3150).to_string(), "31,50 €");
        assert_eq!(Cents(5).to_string(), "0,05 €");
        assert_eq!(Cents(-5).to_string(), "-0,05 €");
        assert_eq!(Cents(i64::MIN).to_string(), "-92233720368547758,08 €");
    }

    #[test]
    fn serializes_as_plain_integer() {
        assert_eq!(
            serde_json::to_value(Cents(3150)).unwrap(),
            serde_json::json!(3150)
        );
        assert_eq!(
            serde_json::from_value::<Cents>(serde_json::json!(-3)).unwrap(),
            Cents(-3)
        );
    }
}
