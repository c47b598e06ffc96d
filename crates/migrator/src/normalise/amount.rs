//! Legacy amounts: `31,50`, `31.50`, `31,50 €`, stored as text, integer or real.

use lae_domain::{Cents, CentsError};

use super::text::excerpt;

/// The largest amount the import believes for a monthly premium or an invoice. A
/// larger one is a typing error (a reference pasted into the amount column, cents
/// typed as euros twice), not a fact to record.
pub const MAX_PLAUSIBLE: Cents = Cents::new(100_000_000);

/// Parses a strictly positive, plausible euro amount.
pub fn parse_positive_amount(raw: &str) -> Result<Cents, String> {
    let cents = Cents::parse_eur(raw).map_err(|e| match e {
        CentsError::Empty => "empty".to_owned(),
        CentsError::Overflow => format!("too large to be an amount: {}", excerpt(raw)),
        other => format!("{other} ({})", excerpt(raw)),
    })?;
    if !cents.is_positive() {
        return Err(format!("must be positive: {}", excerpt(raw)));
    }
    if cents > MAX_PLAUSIBLE {
        return Err(format!(
            "implausible amount (above {MAX_PLAUSIBLE}): {}",
            excerpt(raw)
        ));
    }
    Ok(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_point_and_limits() {
        assert_eq!(parse_positive_amount("31,50"), Ok(Cents(3150)));
        assert_eq!(parse_positive_amount("31.50"), Ok(Cents(3150)));
        assert_eq!(parse_positive_amount("31.5"), Ok(Cents(3150)));
        assert_eq!(parse_positive_amount(" 31,50 € "), Ok(Cents(3150)));
        assert!(parse_positive_amount("-12,00").is_err());
        assert!(parse_positive_amount("0").is_err());
        assert!(parse_positive_amount("99999999999999999999").is_err());
        assert!(parse_positive_amount("2000000,00").is_err());
        assert!(parse_positive_amount("31,505").is_err());
        assert!(parse_positive_amount("").is_err());
        assert!(parse_positive_amount("1; DROP TABLE factures").is_err());
    }
}
