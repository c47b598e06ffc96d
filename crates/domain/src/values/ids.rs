//! Aggregate identifiers: UUID newtypes, one type per aggregate so that an
//! offer id can never be passed where a contract id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A string that is not a UUID was given as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identifiant de {kind} invalide : « {value} »")]
pub struct ParseIdError {
    /// The kind of identifier, in French (e.g. "client").
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $label:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            #[must_use]
            pub const fn new(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| ParseIdError {
                    kind: $label,
                    value: s.to_owned(),
                })
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                super::string_schema(serde_json::json!({ "format": "uuid" }))
            }
        }
    };
}

id_type!(
    /// Identifies a customer; it is also the aggregate id of the `Customer` aggregate.
    CustomerId,
    "client"
);
id_type!(
    /// Identifies a commercial offer (`Offer` aggregate).
    OfferId,
    "offre"
);
id_type!(
    /// Identifies a contract (`Contract` aggregate).
    ContractId,
    "contrat"
);
id_type!(
    /// Identifies an invoice (`Invoice` aggregate).
    InvoiceId,
    "facture"
);
id_type!(
    /// Identifies a customer-service ticket (`Ticket` aggregate).
    TicketId,
    "ticket"
);

/// The UUIDv5 namespace of contract ids derived from offers. It is part of the
/// persisted data (it determines contract ids): it must never change.
const CONTRACT_FROM_OFFER_NAMESPACE: Uuid =
    Uuid::from_u128(0x5f0c_2d7e_8a41_4c3b_9d62_7e1a_b04f_c3a8);

impl ContractId {
    /// The contract id deterministically derived from an accepted offer.
    ///
    /// Deriving it (UUIDv5 of `offer:<uuid>`) rather than drawing a random one
    /// makes the offer-to-contract policy idempotent: replaying the acceptance
    /// targets the same contract, which then refuses a second request.
    #[must_use]
    pub fn for_offer(offer_id: OfferId) -> Self {
        let name = format!("offer:{}", offer_id.0.hyphenated());
        Self(Uuid::new_v5(
            &CONTRACT_FROM_OFFER_NAMESPACE,
            name.as_bytes(),
        ))
    }
}

/// The UUIDv5 namespace of the invoices the billing cycle issues, one per contract and
/// month. Part of the persisted data (it determines invoice ids): it must never change.
const INVOICE_FOR_PERIOD_NAMESPACE: Uuid =
    Uuid::from_u128(0x9b3e_61d2_0c57_4a8f_b1e4_5d27_c8a0_f613);

impl InvoiceId {
    /// The id of a contract's invoice for one month (`year`, `month` 1–12).
    ///
    /// Deriving it (UUIDv5 of `contract:<uuid>:period:<yyyy-mm>`) makes the billing
    /// cycle idempotent: a second run for the same month addresses the same invoices,
    /// which refuse a second issue.
    #[must_use]
    pub fn for_contract_period(contract_id: ContractId, year: i32, month: u32) -> Self {
        let name = format!(
            "contract:{}:period:{year:04}-{month:02}",
            contract_id.0.hyphenated()
        );
        Self(Uuid::new_v5(&INVOICE_FOR_PERIOD_NAMESPACE, name.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_id_for_a_period_is_deterministic_and_pinned() {
        let contract = ContractId::new(Uuid::from_u128(0x0192_8f3a_1b2c_7d4e_8f90_a1b2_c3d4_e5f6));
        let november = InvoiceId::for_contract_period(contract, 2026, 11);
        assert_eq!(november, InvoiceId::for_contract_period(contract, 2026, 11));
        assert_eq!(november.as_uuid().get_version_num(), 5);
        assert_ne!(november, InvoiceId::for_contract_period(contract, 2026, 12));
        assert_ne!(november, InvoiceId::for_contract_period(contract, 2025, 11));
        assert_ne!(
            november,
            InvoiceId::for_contract_period(ContractId::new(Uuid::from_u128(2)), 2026, 11)
        );
        // Pinned: a change here would issue a month's invoices a second time.
        assert_eq!(november.to_string(), "401f87af-562a-5dc9-8ba2-26b975cdfa87");
    }

    #[test]
    fn parse_ids() {
        let uuid = Uuid::from_u128(0x0192_8f3a_1b2c_7d4e_8f90_a1b2_c3d4_e5f6);
        let hyphenated = "01928f3a-1b2c-7d4e-8f90-a1b2c3d4e5f6";
        let cases: &[(&str, Option<Uuid>, &str)] = &[
            (hyphenated, Some(uuid), "hyphenated lower case"),
            (
                "01928F3A-1B2C-7D4E-8F90-A1B2C3D4E5F6",
                Some(uuid),
                "upper case",
            ),
            (
                "01928f3a1b2c7d4e8f90a1b2c3d4e5f6",
                Some(uuid),
                "simple form",
            ),
            (
                " 01928f3a-1b2c-7d4e-8f90-a1b2c3d4e5f6 ",
                Some(uuid),
                "surrounding spaces",
            ),
            ("", None, "empty"),
            ("not-a-uuid", None, "garbage"),
            (
                "01928f3a-1b2c-7d4e-8f90-a1b2c3d4e5f",
                None,
                "one digit short",
            ),
        ];
        for (input, expected, why) in cases {
            let got = input.parse::<CustomerId>().ok().map(|id| *id.as_uuid());
            assert_eq!(got, *expected, "{why}: {input:?}");
        }
        assert_eq!(CustomerId::new(uuid).to_string(), hyphenated);
        assert_eq!(
            "x".parse::<TicketId>().unwrap_err().to_string(),
            "identifiant de ticket invalide : « x »"
        );
    }

    #[test]
    fn ids_serialize_as_plain_uuid_strings() {
        let id = OfferId::new(Uuid::from_u128(1));
        let json = serde_json::to_value(id).unwrap();
        assert_eq!(
            json,
            serde_json::json!("00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(serde_json::from_value::<OfferId>(json).unwrap(), id);
        assert!(serde_json::from_value::<OfferId>(serde_json::json!("nope")).is_err());
    }

    #[test]
    fn contract_id_for_offer_is_deterministic_and_pinned() {
        let offer = OfferId::new(Uuid::from_u128(0x0192_8f3a_1b2c_7d4e_8f90_a1b2_c3d4_e5f6));
        let contract = ContractId::for_offer(offer);
        assert_eq!(contract, ContractId::for_offer(offer));
        assert_eq!(contract.as_uuid().get_version_num(), 5);
        assert_ne!(
            contract,
            ContractId::for_offer(OfferId::new(Uuid::from_u128(2)))
        );
        // Pinned: a change here would re-target policies of already accepted offers.
        assert_eq!(contract.to_string(), "f869866f-b222-5b5c-ae0f-7eea583b5ebf");
    }
}
