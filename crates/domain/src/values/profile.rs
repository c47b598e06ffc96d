//! Sales profile values.

string_enum!(
    /// The customer's age band, as recorded by sales.
    ///
    /// The bands come from the legacy sales tool, where 56-65 and 65+ both
    /// include 65; they are kept as they are so that migrated data keeps its meaning.
    AgeBand, "tranche d'âge" {
        /// 18 to 25 years old.
        From18To25 => "18-25",
        /// 26 to 35 years old.
        From26To35 => "26-35",
        /// 36 to 45 years old.
        From36To45 => "36-45",
        /// 46 to 55 years old.
        From46To55 => "46-55",
        /// 56 to 65 years old.
        From56To65 => "56-65",
        /// Over 65 years old.
        Over65 => "65+",
    }
);

string_enum!(
    /// The customer's sex, as declared; unspecified unless stated.
    #[derive(Default)]
    Sex, "sexe" {
        /// Female.
        Female => "female",
        /// Male.
        Male => "male",
        /// Not declared.
        #[default]
        Unspecified => "unspecified",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::ParseEnumError;

    #[test]
    fn parse_age_bands() {
        let cases: &[(&str, Option<AgeBand>, &str)] = &[
            ("18-25", Some(AgeBand::From18To25), "first band"),
            ("26-35", Some(AgeBand::From26To35), "second band"),
            ("36-45", Some(AgeBand::From36To45), "third band"),
            ("46-55", Some(AgeBand::From46To55), "fourth band"),
            (" 56-65 ", Some(AgeBand::From56To65), "trimmed"),
            ("65+", Some(AgeBand::Over65), "open band"),
            ("", None, "empty"),
            ("65", None, "missing plus"),
            ("18_25", None, "wrong separator"),
            ("From18To25", None, "Rust name is not the JSON spelling"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(input.parse::<AgeBand>().ok(), *expected, "{why}: {input:?}");
        }
        assert_eq!(
            "65".parse::<AgeBand>(),
            Err(ParseEnumError {
                kind: "tranche d'âge",
                value: "65".into()
            })
        );
        assert_eq!(
            serde_json::to_value(AgeBand::Over65).unwrap(),
            serde_json::json!("65+")
        );
    }

    #[test]
    fn parse_sexes() {
        let cases: &[(&str, Option<Sex>, &str)] = &[
            ("female", Some(Sex::Female), "female"),
            ("male", Some(Sex::Male), "male"),
            ("unspecified", Some(Sex::Unspecified), "unspecified"),
            ("Female", None, "case matters"),
            ("f", None, "abbreviation"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(input.parse::<Sex>().ok(), *expected, "{why}: {input:?}");
        }
        assert_eq!(Sex::default(), Sex::Unspecified);
        for sex in Sex::ALL {
            let json = serde_json::to_value(sex).unwrap();
            assert_eq!(json, serde_json::json!(sex.as_str()));
        }
    }
}
