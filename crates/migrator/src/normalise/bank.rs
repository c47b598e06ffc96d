//! IBANs and SEPA mandate references. Reasons never quote the value: bank details
//! stay out of the report and the logs.

use lae_domain::{Iban, IbanError, MandateReference, MandateReferenceError};

use super::text::is_blank;

/// An optional IBAN, with or without spaces; a wrong checksum is refused.
pub fn iban(raw: Option<&str>) -> Result<Option<Iban>, &'static str> {
    let Some(raw) = raw.filter(|r| !is_blank(r)) else {
        return Ok(None);
    };
    Iban::parse(raw).map(Some).map_err(|e| match e {
        IbanError::Checksum => "invalid IBAN: the check digits do not match (typing error?)",
        IbanError::Format => "invalid IBAN: malformed",
        IbanError::Bban => "invalid IBAN: the account part does not follow the country's format",
        IbanError::UnknownCountry => "invalid IBAN: unknown country",
    })
}

/// A required mandate reference (RUM).
pub fn mandate_reference(raw: Option<&str>) -> Result<MandateReference, &'static str> {
    MandateReference::parse(raw.unwrap_or_default()).map_err(|e| match e {
        MandateReferenceError::Empty => "missing mandate reference (RUM)",
        MandateReferenceError::TooLong => "mandate reference longer than 35 characters",
        MandateReferenceError::Character(_) => {
            "mandate reference holds a character SEPA does not allow"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_with_spaces_and_bad_checksums() {
        let electronic = "FR7630006000011234567890189";
        assert_eq!(
            iban(Some(electronic)).unwrap().unwrap().as_str(),
            electronic
        );
        assert_eq!(
            iban(Some("FR76 3000 6000 0112 3456 7890 189"))
                .unwrap()
                .unwrap()
                .as_str(),
            electronic
        );
        let bad = iban(Some("FR7630006000011234567890188")).unwrap_err();
        assert!(bad.contains("check digits"));
        assert!(!bad.contains("3000"));
        assert_eq!(iban(Some(" ")), Ok(None));
        assert!(mandate_reference(Some("RUM-LAE-00000001")).is_ok());
        assert!(mandate_reference(Some("RUM_é")).is_err());
        assert!(mandate_reference(None).is_err());
    }
}
