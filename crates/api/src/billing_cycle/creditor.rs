//! The creditor of the SEPA collections: LAE's name, account and SEPA creditor
//! identifier (ICS), from configuration.

use lae_domain::Iban;

/// Who collects: printed in every collection file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SepaCreditor {
    /// `LAE_SEPA_CREDITOR_NAME` (1 to 70 characters).
    pub name: String,
    /// `LAE_SEPA_CREDITOR_IBAN`, electronic form.
    pub iban: String,
    /// `LAE_SEPA_CREDITOR_BIC` (8 or 11 characters).
    pub bic: String,
    /// `LAE_SEPA_CREDITOR_ID`: the SEPA creditor identifier (ICS), e.g. `FR12ZZZ123456`.
    pub identifier: String,
}

/// A creditor setting that cannot be used, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {detail}")]
pub struct CreditorError {
    pub variable: &'static str,
    pub detail: String,
}

impl SepaCreditor {
    /// The four variables, all or none (`Ok(None)`: collections are refused).
    pub fn from_env() -> Result<Option<Self>, CreditorError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), from any source of variables.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, CreditorError> {
        const NAMES: [&str; 4] = [
            "LAE_SEPA_CREDITOR_NAME",
            "LAE_SEPA_CREDITOR_IBAN",
            "LAE_SEPA_CREDITOR_BIC",
            "LAE_SEPA_CREDITOR_ID",
        ];
        let values: Vec<Option<String>> = NAMES
            .iter()
            .map(|n| {
                lookup(n)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
            .collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut found = Vec::with_capacity(4);
        for (variable, value) in NAMES.iter().zip(values) {
            found.push(value.ok_or_else(|| CreditorError {
                variable,
                detail: "missing (the four LAE_SEPA_CREDITOR_* variables go together)".into(),
            })?);
        }
        let [name, iban, bic, identifier]: [String; 4] =
            found.try_into().map_err(|_| CreditorError {
                variable: NAMES[0],
                detail: "missing".into(),
            })?;
        Self::new(name, &iban, bic, identifier).map(Some)
    }

    /// Checks each value.
    pub fn new(
        name: String,
        iban: &str,
        bic: String,
        identifier: String,
    ) -> Result<Self, CreditorError> {
        if name.chars().count() > 70 {
            return Err(CreditorError {
                variable: "LAE_SEPA_CREDITOR_NAME",
                detail: "at most 70 characters".into(),
            });
        }
        let iban = Iban::parse(iban).map_err(|e| CreditorError {
            variable: "LAE_SEPA_CREDITOR_IBAN",
            detail: e.to_string(),
        })?;
        let bic = bic.to_ascii_uppercase();
        let bic_ok = matches!(bic.len(), 8 | 11)
            && bic.chars().all(|c| c.is_ascii_alphanumeric())
            && bic[..6].chars().all(|c| c.is_ascii_alphabetic());
        if !bic_ok {
            return Err(CreditorError {
                variable: "LAE_SEPA_CREDITOR_BIC",
                detail: format!("{bic:?} is not a BIC (8 or 11 letters and digits)"),
            });
        }
        let identifier = identifier.to_ascii_uppercase();
        let identifier_ok = (8..=35).contains(&identifier.len())
            && identifier.chars().all(|c| c.is_ascii_alphanumeric());
        if !identifier_ok {
            return Err(CreditorError {
                variable: "LAE_SEPA_CREDITOR_ID",
                detail: format!("{identifier:?} is not a SEPA creditor identifier"),
            });
        }
        Ok(Self {
            name,
            iban: iban.as_str().to_owned(),
            bic,
            identifier,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn none_set_is_no_creditor_and_each_bad_value_is_named() {
        assert_eq!(SepaCreditor::from_lookup(lookup(&[])), Ok(None));
        let good = [
            ("LAE_SEPA_CREDITOR_NAME", "LAE Assurances"),
            (
                "LAE_SEPA_CREDITOR_IBAN",
                "FR76 3000 6000 0112 3456 7890 189",
            ),
            ("LAE_SEPA_CREDITOR_BIC", "AGRIFRPP"),
            ("LAE_SEPA_CREDITOR_ID", "FR12ZZZ123456"),
        ];
        let creditor = SepaCreditor::from_lookup(lookup(&good))
            .expect("test value")
            .expect("test value");
        assert_eq!(creditor.iban, "FR7630006000011234567890189");
        for (i, bad) in ["", "FR00 1234", "AG", "F!"].iter().enumerate() {
            let mut pairs = good;
            pairs[i].1 = bad;
            let err = SepaCreditor::from_lookup(lookup(&pairs)).expect_err("refused");
            assert_eq!(err.variable, good[i].0, "{bad:?}");
        }
    }
}
