//! Health declaration values (sensitive personal data, owned by Legal).

string_enum!(
    /// Tobacco use, as declared by the customer.
    TobaccoUse, "consommation de tabac" {
        /// Does not smoke.
        NonSmoker => "non_smoker",
        /// Smokes.
        Smoker => "smoker",
        /// Not declared.
        Unknown => "unknown",
    }
);

string_enum!(
    /// Alcohol use, as declared by the customer.
    AlcoholUse, "consommation d'alcool" {
        /// Does not drink.
        None => "none",
        /// Drinks occasionally.
        Occasional => "occasional",
        /// Drinks regularly.
        Regular => "regular",
        /// Not declared.
        Unknown => "unknown",
    }
);

bounded_text!(
    /// One illness named in a health declaration (1 to 200 characters).
    Illness,
    200
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::TextError;

    #[test]
    fn parse_tobacco_uses() {
        let cases: &[(&str, Option<TobaccoUse>, &str)] = &[
            ("non_smoker", Some(TobaccoUse::NonSmoker), "non smoker"),
            ("smoker", Some(TobaccoUse::Smoker), "smoker"),
            ("unknown", Some(TobaccoUse::Unknown), "unknown"),
            ("non-smoker", None, "dash instead of underscore"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(
                input.parse::<TobaccoUse>().ok(),
                *expected,
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn parse_alcohol_uses() {
        let cases: &[(&str, Option<AlcoholUse>, &str)] = &[
            ("none", Some(AlcoholUse::None), "none"),
            ("occasional", Some(AlcoholUse::Occasional), "occasional"),
            ("regular", Some(AlcoholUse::Regular), "regular"),
            ("unknown", Some(AlcoholUse::Unknown), "unknown"),
            ("daily", None, "not a value"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(
                input.parse::<AlcoholUse>().ok(),
                *expected,
                "{why}: {input:?}"
            );
        }
    }

    #[test]
    fn parse_illnesses() {
        let long = "a".repeat(201);
        let cases: &[(&str, Result<&str, TextError>, &str)] = &[
            ("Diabète de type 2", Ok("Diabète de type 2"), "typical"),
            (" Asthme ", Ok("Asthme"), "trimmed"),
            ("", Err(TextError::Empty), "empty"),
            (
                &long,
                Err(TextError::TooLong {
                    max: 200,
                    actual: 201,
                }),
                "too long",
            ),
            (
                "a\u{1b}b",
                Err(TextError::ControlCharacter),
                "escape character",
            ),
        ];
        for (input, expected, why) in cases {
            let got = Illness::parse(input);
            assert_eq!(
                got.as_ref().map(Illness::as_str),
                expected.as_ref().copied(),
                "{why}"
            );
        }
    }
}
