//! Contact details: customer number, names, mail, phone, availability.

use lae_domain::{Availability, CustomerNumber, Email, PersonName, PhoneNumber};

use super::text::{excerpt, is_blank};

/// The first customer number the platform hands out itself: legacy numbers are below
/// it, so a legacy row claiming a number at or above it would collide with a customer
/// registered on the platform.
pub const FIRST_PLATFORM_NUMBER: u32 = 1_000_000;

/// What a legacy `num_client` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberParse {
    /// Blank or NULL: the row must be matched on other data.
    Missing,
    /// A legacy customer number (`LAE-000123` is 123).
    Valid(u32),
    /// Present but unusable, with the reason.
    Invalid(String),
}

/// Reads a legacy customer number: `LAE-000123`, `lae-000123`, `LAE 000123`,
/// `LAE000123`. Leading zeros beyond six digits are allowed; fewer than six digits
/// are refused (`LAE-123` may be a typing error as much as `LAE-000123`).
pub fn customer_number(raw: Option<&str>) -> NumberParse {
    let Some(raw) = raw.filter(|r| !is_blank(r)) else {
        return NumberParse::Missing;
    };
    let upper = raw.trim().to_ascii_uppercase();
    let digits = upper
        .strip_prefix("LAE")
        .map(|rest| rest.trim_start_matches(['-', ' ', '_']));
    let Some(digits) =
        digits.filter(|d| (6..=9).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
    else {
        return NumberParse::Invalid(format!(
            "not a customer number (LAE- and 6 to 9 digits): {}",
            excerpt(raw)
        ));
    };
    match digits.parse::<u32>() {
        Ok(0) => NumberParse::Invalid(format!("customer number zero: {}", excerpt(raw))),
        Ok(n) if n < FIRST_PLATFORM_NUMBER => NumberParse::Valid(n),
        _ => NumberParse::Invalid(format!(
            "customer number outside the legacy range (the platform numbers its own \
             customers from LAE-1000000): {}",
            excerpt(raw)
        )),
    }
}

/// The canonical text of a legacy customer number.
pub fn number_text(n: u32) -> String {
    format!("LAE-{n:06}")
}

/// The domain value of a legacy customer number.
pub fn number_value(n: u32) -> Result<CustomerNumber, String> {
    CustomerNumber::parse(&number_text(n)).map_err(|e| e.to_string())
}

/// A required name.
pub fn person_name(raw: Option<&str>) -> Result<PersonName, String> {
    let raw = raw.unwrap_or_default();
    PersonName::parse(raw).map_err(|e| format!("{e} ({})", excerpt(raw)))
}

/// An optional mail: blank is `None`, anything else must be a valid address.
pub fn email(raw: Option<&str>) -> Result<Option<Email>, String> {
    match raw.filter(|r| !is_blank(r)) {
        None => Ok(None),
        Some(raw) => Email::parse(raw)
            .map(Some)
            .map_err(|e| format!("{e} ({})", excerpt(raw))),
    }
}

/// An optional phone, in any of the French ways of writing one: `0612345678`,
/// `06 12 34 56 78`, `06.12.34.56.78`, `+33612345678`, `+33 6 12 34 56 78`,
/// `0033 6 12 34 56 78`, `+33 (0)6 12 34 56 78`. Nine digits without the leading 0
/// (what a spreadsheet makes of a phone) are refused: restoring the 0 is a guess.
pub fn phone(raw: Option<&str>) -> Result<Option<PhoneNumber>, String> {
    let Some(raw) = raw.filter(|r| !is_blank(r)) else {
        return Ok(None);
    };
    let invalid = || format!("not a phone number: {}", excerpt(raw));
    let mut compact: String = raw
        .trim()
        .replace("(0)", "")
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '/' | '\u{a0}' | '\u{202f}'))
        .collect();
    if let Some(rest) = compact.strip_prefix("00") {
        compact = format!("+{rest}");
    }
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if !compact.starts_with('+') && compact.len() != 10 {
        return Err(invalid());
    }
    PhoneNumber::parse(&compact)
        .map(Some)
        .map_err(|_| invalid())
}

/// When the customer prefers to be called; blank is allowed.
pub fn availability(raw: Option<&str>) -> Result<Availability, String> {
    let raw = raw.unwrap_or_default();
    Availability::parse(raw).map_err(|e| format!("{e} ({})", excerpt(raw)))
}

/// The key two names are compared on: case, apostrophe style and spacing do not make
/// two copies of a name disagree.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(['’', '‘', '`', 'ʼ'], "'")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_numbers() {
        assert_eq!(customer_number(Some("LAE-000123")), NumberParse::Valid(123));
        assert_eq!(
            customer_number(Some(" lae-000123 ")),
            NumberParse::Valid(123)
        );
        assert_eq!(customer_number(Some("LAE 000123")), NumberParse::Valid(123));
        assert_eq!(customer_number(Some("LAE000123")), NumberParse::Valid(123));
        assert_eq!(
            customer_number(Some("LAE-0000123")),
            NumberParse::Valid(123)
        );
        assert_eq!(customer_number(None), NumberParse::Missing);
        assert_eq!(customer_number(Some("  ")), NumberParse::Missing);
        assert!(matches!(
            customer_number(Some("LAE-123")),
            NumberParse::Invalid(_)
        ));
        assert!(matches!(
            customer_number(Some("LAE-1000000")),
            NumberParse::Invalid(_)
        ));
        assert!(matches!(
            customer_number(Some("LAE-000000")),
            NumberParse::Invalid(_)
        ));
        assert!(matches!(
            customer_number(Some("'; DROP TABLE clients; --")),
            NumberParse::Invalid(_)
        ));
        assert_eq!(number_text(123), "LAE-000123");
    }

    #[test]
    fn phones_in_every_french_style() {
        for raw in [
            "0612345678",
            "06 12 34 56 78",
            "06.12.34.56.78",
            "06-12-34-56-78",
            "+33612345678",
            "+33 6 12 34 56 78",
            "0033 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            " 06 12.34 56 78 ",
        ] {
            assert_eq!(
                phone(Some(raw)).unwrap().unwrap().as_str(),
                "+33612345678",
                "{raw:?}"
            );
        }
        assert_eq!(phone(Some("")), Ok(None));
        assert_eq!(phone(None), Ok(None));
        for bad in [
            "612345678",
            "06123456789",
            "06 12 34 56 7é",
            "abc",
            "+",
            "06\n12345678",
        ] {
            assert!(phone(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mails_and_names() {
        assert_eq!(
            email(Some(" HELENE.DARTAGNAN@EXEMPLE.FR "))
                .unwrap()
                .unwrap()
                .as_str(),
            "helene.dartagnan@exemple.fr"
        );
        assert_eq!(email(Some("   ")), Ok(None));
        assert!(email(Some("helene @exemple.fr")).is_err());
        assert_eq!(
            person_name(Some("D'Artagnan")).unwrap().as_str(),
            "D'Artagnan"
        );
        assert_eq!(person_name(Some(" Le  Goff ")).unwrap().as_str(), "Le Goff");
        assert_eq!(person_name(Some("Øster")).unwrap().as_str(), "Øster");
        assert!(person_name(Some("Le\tGoff")).is_err());
        assert!(person_name(None).is_err());
        assert_eq!(name_key("D’ARTAGNAN"), name_key("d'Artagnan"));
    }
}
