//! Customer-service values: departments and contact channels.

string_enum!(
    /// A department of LAE that a ticket can sit with; a new ticket sits
    /// with customer service.
    #[derive(Default)]
    Department, "service" {
        /// Customer service, where every ticket starts.
        #[default]
        CustomerService => "customer_service",
        /// Legal: contracts and health declarations.
        Legal => "legal",
        /// Sales: offers and sales profiles.
        Sales => "sales",
        /// Billing: invoices and direct-debit mandates.
        Billing => "billing",
    }
);

string_enum!(
    /// How the customer got in touch.
    Channel, "canal" {
        /// A phone call.
        Phone => "phone",
        /// A letter or an e-mail.
        Mail => "mail",
        /// The platform itself, on behalf of another department (a reactor's notice:
        /// "informer le département Vente").
        Internal => "internal",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_departments() {
        let cases: &[(&str, Option<Department>, &str)] = &[
            (
                "customer_service",
                Some(Department::CustomerService),
                "customer service",
            ),
            ("legal", Some(Department::Legal), "legal"),
            ("sales", Some(Department::Sales), "sales"),
            ("billing", Some(Department::Billing), "billing"),
            ("Legal", None, "case matters"),
            ("juridique", None, "French name is not the code"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(
                input.parse::<Department>().ok(),
                *expected,
                "{why}: {input:?}"
            );
        }
        assert_eq!(Department::default(), Department::CustomerService);
    }

    #[test]
    fn parse_channels() {
        let cases: &[(&str, Option<Channel>, &str)] = &[
            ("phone", Some(Channel::Phone), "phone"),
            ("mail", Some(Channel::Mail), "mail"),
            ("email", None, "not a channel"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(input.parse::<Channel>().ok(), *expected, "{why}: {input:?}");
        }
    }
}
