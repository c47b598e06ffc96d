//! Given/when/then tests of the customer rules.

use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;

use super::*;
use crate::error::{Rejection, RejectionKind};
use crate::testing::{date, v};
use crate::values::CustomerId;

type Framework = TestFramework<Customer>;

const IBAN: &str = "FR7630006000011234567890189";
const OTHER_IBAN: &str = "FR1420041010050500013M02606";

fn registered() -> CustomerEvent {
    CustomerEvent::CustomerRegistered {
        customer_number: v("LAE-000123"),
        last_name: v("D'Artagnan"),
        first_name: v("Hélène"),
        email: Some(v("helene.dartagnan@exemple.fr")),
        phone: Some(v("+33612345678")),
        availability: v("lundi-vendredi 9h-12h"),
    }
}

fn register() -> CustomerCommand {
    CustomerCommand::RegisterCustomer {
        customer_id: v("0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
        customer_number: v("LAE-000123"),
        last_name: v("D'Artagnan"),
        first_name: v("Hélène"),
        email: Some(v("helene.dartagnan@exemple.fr")),
        phone: Some(v("06 12 34 56 78")),
        availability: v("lundi-vendredi 9h-12h"),
    }
}

fn change_contact(email: &str) -> CustomerCommand {
    CustomerCommand::ChangeContactDetails {
        last_name: v("D'Artagnan"),
        first_name: v("Hélène"),
        email: Some(v(email)),
        phone: Some(v("+33612345678")),
        availability: v("lundi-vendredi 9h-12h"),
    }
}

fn mandate_signed() -> CustomerEvent {
    CustomerEvent::MandateSigned {
        iban: v(IBAN),
        mandate_reference: v("RUM-1"),
        signed_on: date(2024, 3, 11),
    }
}

fn amend(iban: &str, reference: &str, amended_on: chrono::NaiveDate) -> CustomerCommand {
    CustomerCommand::AmendMandate {
        iban: v(iban),
        mandate_reference: v(reference),
        amended_on,
    }
}

fn profile(sex: Sex) -> CustomerCommand {
    CustomerCommand::SetSalesProfile {
        age_band: Some(AgeBand::From36To45),
        profession: Some(v("Infirmière")),
        sex,
    }
}

fn profile_set(sex: Sex) -> CustomerEvent {
    CustomerEvent::SalesProfileSet {
        age_band: Some(AgeBand::From36To45),
        profession: Some(v("Infirmière")),
        sex,
    }
}

#[test]
fn registering_records_the_contact_details() {
    Framework::with(())
        .given_no_previous_events()
        .when(register())
        .then_expect_events(vec![registered()]);
}

#[test]
fn registering_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![registered()])
        .when(register())
        .then_expect_error(CustomerError::AlreadyRegistered);
}

#[test]
fn every_other_command_needs_a_registered_customer() {
    let commands = vec![
        change_contact("a@b.fr"),
        CustomerCommand::DeclareHealth {
            tobacco: TobaccoUse::Smoker,
            alcohol: AlcoholUse::None,
            illnesses: vec![],
            declared_on: date(2024, 1, 1),
        },
        profile(Sex::Female),
        CustomerCommand::SignMandate {
            iban: v(IBAN),
            mandate_reference: v("RUM-1"),
            signed_on: date(2024, 1, 1),
        },
        amend(IBAN, "RUM-2", date(2024, 1, 1)),
        CustomerCommand::RevokeMandate {
            revoked_on: date(2024, 1, 1),
            reason: None,
        },
    ];
    for command in commands {
        Framework::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CustomerError::NotFound);
    }
}

#[test]
fn changing_contact_details_records_all_new_values() {
    Framework::with(())
        .given(vec![registered()])
        .when(change_contact("h.dartagnan@exemple.fr"))
        .then_expect_events(vec![CustomerEvent::ContactDetailsChanged {
            last_name: v("D'Artagnan"),
            first_name: v("Hélène"),
            email: Some(v("h.dartagnan@exemple.fr")),
            phone: Some(v("+33612345678")),
            availability: v("lundi-vendredi 9h-12h"),
        }]);
}

#[test]
fn unchanged_contact_details_produce_no_event() {
    Framework::with(())
        .given(vec![registered()])
        .when(change_contact("helene.dartagnan@exemple.fr"))
        .then_expect_events(vec![]);
}

#[test]
fn contact_details_are_compared_with_the_latest_change() {
    let changed = CustomerEvent::ContactDetailsChanged {
        last_name: v("D'Artagnan"),
        first_name: v("Hélène"),
        email: Some(v("h.dartagnan@exemple.fr")),
        phone: Some(v("+33612345678")),
        availability: v("lundi-vendredi 9h-12h"),
    };
    Framework::with(())
        .given(vec![registered(), changed])
        .when(change_contact("H.DArtagnan@exemple.fr"))
        .then_expect_events(vec![]);
}

#[test]
fn declaring_health_records_the_declaration() {
    Framework::with(())
        .given(vec![registered()])
        .when(CustomerCommand::DeclareHealth {
            tobacco: TobaccoUse::NonSmoker,
            alcohol: AlcoholUse::Occasional,
            illnesses: vec![v("Asthme")],
            declared_on: date(2024, 3, 4),
        })
        .then_expect_events(vec![CustomerEvent::HealthDeclared {
            tobacco: TobaccoUse::NonSmoker,
            alcohol: AlcoholUse::Occasional,
            illnesses: vec![v("Asthme")],
            declared_on: date(2024, 3, 4),
        }]);
}

#[test]
fn a_repeated_health_declaration_is_still_recorded() {
    let declared = CustomerEvent::HealthDeclared {
        tobacco: TobaccoUse::Unknown,
        alcohol: AlcoholUse::Unknown,
        illnesses: vec![],
        declared_on: date(2024, 3, 4),
    };
    Framework::with(())
        .given(vec![registered(), declared.clone()])
        .when(CustomerCommand::DeclareHealth {
            tobacco: TobaccoUse::Unknown,
            alcohol: AlcoholUse::Unknown,
            illnesses: vec![],
            declared_on: date(2024, 3, 4),
        })
        .then_expect_events(vec![declared]);
}

#[test]
fn a_health_declaration_lists_at_most_fifty_illnesses() {
    let illnesses =
        |n: usize| -> Vec<Illness> { (0..n).map(|i| v(&format!("Maladie {i}"))).collect() };
    Framework::with(())
        .given(vec![registered()])
        .when(CustomerCommand::DeclareHealth {
            tobacco: TobaccoUse::Unknown,
            alcohol: AlcoholUse::Unknown,
            illnesses: illnesses(51),
            declared_on: date(2024, 3, 4),
        })
        .then_expect_error(CustomerError::TooManyIllnesses {
            max: 50,
            actual: 51,
        });
    Framework::with(())
        .given(vec![registered()])
        .when(CustomerCommand::DeclareHealth {
            tobacco: TobaccoUse::Unknown,
            alcohol: AlcoholUse::Unknown,
            illnesses: illnesses(50),
            declared_on: date(2024, 3, 4),
        })
        .then_expect_events(vec![CustomerEvent::HealthDeclared {
            tobacco: TobaccoUse::Unknown,
            alcohol: AlcoholUse::Unknown,
            illnesses: illnesses(50),
            declared_on: date(2024, 3, 4),
        }]);
}

#[test]
fn setting_the_sales_profile_records_it() {
    Framework::with(())
        .given(vec![registered()])
        .when(profile(Sex::Female))
        .then_expect_events(vec![profile_set(Sex::Female)]);
}

#[test]
fn an_unchanged_sales_profile_produces_no_event() {
    Framework::with(())
        .given(vec![registered(), profile_set(Sex::Female)])
        .when(profile(Sex::Female))
        .then_expect_events(vec![]);
}

#[test]
fn a_changed_sales_profile_is_recorded() {
    Framework::with(())
        .given(vec![registered(), profile_set(Sex::Female)])
        .when(profile(Sex::Unspecified))
        .then_expect_events(vec![profile_set(Sex::Unspecified)]);
}

#[test]
fn signing_a_mandate_records_it() {
    Framework::with(())
        .given(vec![registered()])
        .when(CustomerCommand::SignMandate {
            iban: v("fr76 3000 6000 0112 3456 7890 189"),
            mandate_reference: v("RUM-1"),
            signed_on: date(2024, 3, 11),
        })
        .then_expect_events(vec![mandate_signed()]);
}

#[test]
fn signing_while_a_mandate_is_active_is_a_conflict() {
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(CustomerCommand::SignMandate {
            iban: v(OTHER_IBAN),
            mandate_reference: v("RUM-2"),
            signed_on: date(2024, 4, 1),
        })
        .then_expect_error(CustomerError::MandateAlreadyActive);
}

#[test]
fn a_new_mandate_can_be_signed_after_a_revocation() {
    let revoked = CustomerEvent::MandateRevoked {
        revoked_on: date(2024, 5, 1),
        reason: None,
    };
    Framework::with(())
        .given(vec![registered(), mandate_signed(), revoked])
        .when(CustomerCommand::SignMandate {
            iban: v(OTHER_IBAN),
            mandate_reference: v("RUM-2"),
            signed_on: date(2024, 6, 1),
        })
        .then_expect_events(vec![CustomerEvent::MandateSigned {
            iban: v(OTHER_IBAN),
            mandate_reference: v("RUM-2"),
            signed_on: date(2024, 6, 1),
        }]);
}

#[test]
fn an_amendment_carries_the_previous_values() {
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(amend(OTHER_IBAN, "RUM-2", date(2024, 9, 2)))
        .then_expect_events(vec![CustomerEvent::MandateAmended {
            previous_iban: v(IBAN),
            previous_mandate_reference: v("RUM-1"),
            iban: v(OTHER_IBAN),
            mandate_reference: v("RUM-2"),
            amended_on: date(2024, 9, 2),
        }]);
}

#[test]
fn a_second_amendment_starts_from_the_first_one() {
    let first = CustomerEvent::MandateAmended {
        previous_iban: v(IBAN),
        previous_mandate_reference: v("RUM-1"),
        iban: v(OTHER_IBAN),
        mandate_reference: v("RUM-1"),
        amended_on: date(2024, 9, 2),
    };
    Framework::with(())
        .given(vec![registered(), mandate_signed(), first])
        .when(amend(OTHER_IBAN, "RUM-2", date(2024, 9, 3)))
        .then_expect_events(vec![CustomerEvent::MandateAmended {
            previous_iban: v(OTHER_IBAN),
            previous_mandate_reference: v("RUM-1"),
            iban: v(OTHER_IBAN),
            mandate_reference: v("RUM-2"),
            amended_on: date(2024, 9, 3),
        }]);
}

#[test]
fn amending_needs_an_active_mandate() {
    Framework::with(())
        .given(vec![registered()])
        .when(amend(OTHER_IBAN, "RUM-2", date(2024, 9, 2)))
        .then_expect_error(CustomerError::NoActiveMandate);
    let revoked = CustomerEvent::MandateRevoked {
        revoked_on: date(2024, 5, 1),
        reason: None,
    };
    Framework::with(())
        .given(vec![registered(), mandate_signed(), revoked])
        .when(amend(OTHER_IBAN, "RUM-2", date(2024, 9, 2)))
        .then_expect_error(CustomerError::NoActiveMandate);
}

#[test]
fn an_amendment_must_change_something() {
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(amend(IBAN, "RUM-1", date(2024, 9, 2)))
        .then_expect_error(CustomerError::MandateUnchanged);
}

#[test]
fn an_amendment_cannot_predate_the_signature() {
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(amend(OTHER_IBAN, "RUM-1", date(2024, 3, 10)))
        .then_expect_error(CustomerError::AmendedBeforeSignature {
            signed_on: date(2024, 3, 11),
        });
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(amend(OTHER_IBAN, "RUM-1", date(2024, 3, 11)))
        .then_expect_events(vec![CustomerEvent::MandateAmended {
            previous_iban: v(IBAN),
            previous_mandate_reference: v("RUM-1"),
            iban: v(OTHER_IBAN),
            mandate_reference: v("RUM-1"),
            amended_on: date(2024, 3, 11),
        }]);
}

#[test]
fn revoking_records_the_revocation() {
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(CustomerCommand::RevokeMandate {
            revoked_on: date(2025, 1, 15),
            reason: Some(v("Compte clôturé")),
        })
        .then_expect_events(vec![CustomerEvent::MandateRevoked {
            revoked_on: date(2025, 1, 15),
            reason: Some(v("Compte clôturé")),
        }]);
}

#[test]
fn revoking_needs_an_active_mandate() {
    Framework::with(())
        .given(vec![registered()])
        .when(CustomerCommand::RevokeMandate {
            revoked_on: date(2025, 1, 15),
            reason: None,
        })
        .then_expect_error(CustomerError::NoActiveMandate);
}

#[test]
fn a_revocation_cannot_predate_the_signature() {
    Framework::with(())
        .given(vec![registered(), mandate_signed()])
        .when(CustomerCommand::RevokeMandate {
            revoked_on: date(2024, 3, 1),
            reason: None,
        })
        .then_expect_error(CustomerError::RevokedBeforeSignature {
            signed_on: date(2024, 3, 11),
        });
}

#[test]
fn state_follows_the_events() {
    let mut customer = Customer::default();
    assert!(!customer.is_registered());
    // Every example but the last, the erasure, which forgets everything.
    let mut examples = build_examples().unwrap();
    assert!(matches!(
        examples.pop(),
        Some(CustomerEvent::CustomerErased { .. })
    ));
    for event in examples {
        customer.apply(event);
    }
    assert!(customer.is_registered());
    assert_eq!(
        customer.customer_number().map(|n| n.as_str()),
        Some("LAE-000123")
    );
    let contact = customer.contact().unwrap();
    assert_eq!(
        contact.email.as_ref().map(|e| e.as_str()),
        Some("h.dartagnan@exemple.fr")
    );
    assert_eq!(contact.phone, None);
    assert_eq!(customer.health().unwrap().illnesses.len(), 1);
    assert_eq!(customer.sales_profile().unwrap().sex, Sex::Female);
    assert_eq!(
        customer.active_mandate(),
        None,
        "the examples end with a revocation"
    );

    let mut customer = Customer::default();
    customer.apply(registered());
    customer.apply(mandate_signed());
    customer.apply(CustomerEvent::MandateAmended {
        previous_iban: v(IBAN),
        previous_mandate_reference: v("RUM-1"),
        iban: v(OTHER_IBAN),
        mandate_reference: v("RUM-2"),
        amended_on: date(2024, 9, 2),
    });
    let mandate = customer.active_mandate().unwrap();
    assert_eq!(mandate.iban.as_str(), OTHER_IBAN);
    assert_eq!(mandate.signed_on, date(2024, 3, 11));
    assert_eq!(mandate.amended_on, Some(date(2024, 9, 2)));
}

#[test]
fn state_round_trips_through_json_without_leaking_the_iban_in_debug() {
    let mut customer = Customer::default();
    customer.apply(registered());
    customer.apply(mandate_signed());
    let json = serde_json::to_value(&customer).unwrap();
    assert_eq!(serde_json::from_value::<Customer>(json).unwrap(), customer);
    let debug = format!("{customer:?}");
    assert!(!debug.contains(IBAN), "{debug}");
    assert!(
        debug.contains("FR76 **** **** **** **** ***0 189"),
        "{debug}"
    );
}

#[test]
fn commands_are_internally_tagged() {
    let json = serde_json::to_value(register()).unwrap();
    assert_eq!(json["command"], "RegisterCustomer");
    assert_eq!(json["phone"], "+33612345678");
    assert_eq!(
        serde_json::from_value::<CustomerCommand>(json).unwrap(),
        register()
    );
    let _: CustomerId =
        serde_json::from_value(serde_json::json!("0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d")).unwrap();
}

#[test]
fn rejections_map_to_kind_code_and_field() {
    use RejectionKind::{Conflict, Invalid, NotFound};
    let signed_on = date(2024, 3, 11);
    let cases: Vec<(CustomerError, RejectionKind, &str, Option<&str>, &str)> = vec![
        (
            CustomerError::NotFound,
            NotFound,
            "customer_not_found",
            None,
            "ce client n'existe pas",
        ),
        (
            CustomerError::AlreadyRegistered,
            Conflict,
            "customer_already_registered",
            None,
            "ce client est déjà enregistré",
        ),
        (
            CustomerError::MandateAlreadyActive,
            Conflict,
            "mandate_already_active",
            None,
            "un mandat de prélèvement est déjà actif pour ce client : modifiez-le au lieu d'en signer un nouveau",
        ),
        (
            CustomerError::NoActiveMandate,
            Conflict,
            "no_active_mandate",
            None,
            "aucun mandat de prélèvement n'est actif pour ce client",
        ),
        (
            CustomerError::MandateUnchanged,
            Invalid,
            "mandate_unchanged",
            None,
            "la modification ne change ni l'IBAN ni la référence unique de mandat",
        ),
        (
            CustomerError::AmendedBeforeSignature { signed_on },
            Invalid,
            "mandate_amended_before_signature",
            Some("amended_on"),
            "la date de modification ne peut pas précéder la signature du mandat (11/03/2024)",
        ),
        (
            CustomerError::RevokedBeforeSignature { signed_on },
            Invalid,
            "mandate_revoked_before_signature",
            Some("revoked_on"),
            "la date de révocation ne peut pas précéder la signature du mandat (11/03/2024)",
        ),
        (
            CustomerError::TooManyIllnesses {
                max: 50,
                actual: 51,
            },
            Invalid,
            "too_many_illnesses",
            Some("illnesses"),
            "une déclaration de santé ne peut pas lister plus de 50 maladies (51 reçues)",
        ),
    ];
    for (error, kind, code, field, message) in cases {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.field(), field, "{error:?}");
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}

mod erasure {
    use super::*;

    fn erase() -> CustomerCommand {
        CustomerCommand::EraseCustomer {
            reason: v("RGPD art. 17, demande n° 2026-114"),
        }
    }

    fn erased() -> CustomerEvent {
        CustomerEvent::CustomerErased {
            reason: v("RGPD art. 17, demande n° 2026-114"),
        }
    }

    #[test]
    fn a_registered_customer_can_be_erased() {
        Framework::with(())
            .given(vec![registered(), mandate_signed()])
            .when(erase())
            .then_expect_events(vec![erased()]);
    }

    #[test]
    fn an_unknown_customer_cannot_be_erased() {
        Framework::with(())
            .given_no_previous_events()
            .when(erase())
            .then_expect_error(CustomerError::NotFound);
    }

    #[test]
    fn an_erased_customer_accepts_no_command_not_even_a_second_erasure() {
        for command in [erase(), change_contact("autre@exemple.fr"), register()] {
            Framework::with(())
                .given(vec![registered(), erased()])
                .when(command)
                .then_expect_error(CustomerError::Erased);
        }
    }

    #[test]
    fn an_erasure_alone_is_enough_to_refuse_commands() {
        // After the keys are destroyed the store drops the unreadable events when
        // it loads the aggregate: the erasure must stand on its own.
        Framework::with(())
            .given(vec![erased()])
            .when(change_contact("autre@exemple.fr"))
            .then_expect_error(CustomerError::Erased);
    }

    #[test]
    fn erasure_forgets_the_loaded_state() {
        let mut customer = Customer::default();
        customer.apply(registered());
        customer.apply(mandate_signed());
        customer.apply(erased());
        assert!(customer.is_erased());
        assert!(customer.contact().is_none());
        assert_eq!(
            CustomerError::Erased.kind(),
            RejectionKind::Gone,
            "an erased customer is 410, not 404"
        );
    }
}
