//! Bounded free texts. Each kind is its own type so that a note cannot be
//! passed where a product name is expected, and so that each JSON Schema
//! states its own length limit.

bounded_text!(
    /// Why a ticket was opened, or why something was declined, withdrawn,
    /// rejected, cancelled, revoked or terminated (1 to 500 characters).
    Reason,
    500
);
bounded_text!(
    /// A free-form note, such as a routing note or a ticket resolution (1 to 2000 characters).
    Note,
    2000
);
bounded_text!(
    /// What an operator did on a ticket (1 to 2000 characters).
    ActionText,
    2000
);
bounded_text!(
    /// The commercial name of an insurance product (1 to 100 characters).
    ProductName,
    100
);
bounded_text!(
    /// The legal reference of a signed contract (1 to 50 characters).
    ContractReference,
    50
);
bounded_text!(
    /// The number printed on an invoice (1 to 50 characters).
    InvoiceNumber,
    50
);
bounded_text!(
    /// What a one-off invoice requested by sales bills (1 to 200 characters).
    InvoiceLabel,
    200
);
bounded_text!(
    /// A bank's reason code for a rejected payment, as reported (ISO 20022
    /// `StsRsnInf/Rsn/Cd` such as `AM04`, or a proprietary code: 1 to 35 characters).
    RejectionCode,
    35
);
bounded_text!(
    /// A customer's profession, for the sales profile (1 to 100 characters).
    Profession,
    100
);
bounded_text!(
    /// The name of the operator who handled a ticket (1 to 100 characters).
    OperatorName,
    100
);

// The concrete types only differ by their limit; the rules themselves are
// tested once on `parse_bounded_text` and here per type at the boundary.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::TextError;

    fn check<T>(parse: fn(&str) -> Result<T, TextError>, as_str: fn(&T) -> &str, max: usize) {
        let at_max = "x".repeat(max);
        let over = "x".repeat(max + 1);
        let cases: Vec<(&str, Result<&str, TextError>, &str)> = vec![
            (
                "  Résiliation à l'échéance ",
                Ok("Résiliation à l'échéance"),
                "trimmed",
            ),
            (&at_max, Ok(&at_max), "exactly the maximum"),
            ("", Err(TextError::Empty), "empty"),
            (" \u{a0} ", Err(TextError::Empty), "blank"),
            (
                &over,
                Err(TextError::TooLong {
                    max,
                    actual: max + 1,
                }),
                "one too many",
            ),
            (
                "ligne 1\nligne 2",
                Err(TextError::ControlCharacter),
                "line break",
            ),
        ];
        for (input, expected, why) in cases {
            let got = parse(input);
            assert_eq!(
                got.as_ref().map(as_str),
                expected.as_ref().copied(),
                "{why} (max {max})"
            );
        }
    }

    #[test]
    fn parse_bounded_texts() {
        check(Reason::parse, Reason::as_str, 500);
        check(Note::parse, Note::as_str, 2000);
        check(ActionText::parse, ActionText::as_str, 2000);
        check(ProductName::parse, ProductName::as_str, 100);
        check(ContractReference::parse, ContractReference::as_str, 50);
        check(InvoiceNumber::parse, InvoiceNumber::as_str, 50);
        check(Profession::parse, Profession::as_str, 100);
        check(InvoiceLabel::parse, InvoiceLabel::as_str, 200);
        check(RejectionCode::parse, RejectionCode::as_str, 35);
        check(OperatorName::parse, OperatorName::as_str, 100);
    }

    #[test]
    fn serde_validates_texts() {
        let reason: Reason = serde_json::from_value(serde_json::json!(" Déménagement ")).unwrap();
        assert_eq!(reason.as_str(), "Déménagement");
        assert!(serde_json::from_value::<Reason>(serde_json::json!("")).is_err());
        assert_eq!(
            TextError::TooLong {
                max: 500,
                actual: 501
            }
            .to_string(),
            "le texte ne peut pas dépasser 500 caractères (il en compte 501)"
        );
    }
}
