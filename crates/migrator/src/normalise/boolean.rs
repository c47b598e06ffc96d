//! Legacy yes/no values: `oui`/`non`, `O`/`N`, `1`/`0`, `true`/`false` and kin.

use super::text::{excerpt, fold};

/// Parses a legacy boolean; `Ok(None)` when the value is blank (not filled in).
pub fn parse_bool(raw: &str) -> Result<Option<bool>, String> {
    match fold(raw).as_str() {
        "" => Ok(None),
        "oui" | "o" | "1" | "true" | "vrai" | "v" | "yes" | "y" | "x" => Ok(Some(true)),
        "non" | "n" | "0" | "false" | "faux" | "f" | "no" => Ok(Some(false)),
        _ => Err(format!("not a yes/no value: {}", excerpt(raw))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legacy_spelling() {
        for yes in ["oui", "OUI", "O", "o", "1", "true", "TRUE", "vrai", " Oui "] {
            assert_eq!(parse_bool(yes), Ok(Some(true)), "{yes:?}");
        }
        for no in ["non", "Non", "N", "0", "false", "faux"] {
            assert_eq!(parse_bool(no), Ok(Some(false)), "{no:?}");
        }
        assert_eq!(parse_bool(" "), Ok(None));
        assert!(parse_bool("peut-être").is_err());
        assert!(parse_bool("2").is_err());
    }
}
