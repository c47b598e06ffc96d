//! Given/when/then tests of the contract rules.

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;

use super::*;
use crate::error::{Rejection, RejectionKind};
use crate::testing::{date, v};

type Framework = TestFramework<Contract>;

const CUSTOMER: &str = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
const OFFER: &str = "0190a3c4-6f70-7b8c-9d0e-1f2a3b4c5d6e";
const SHA: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";

fn request(premium: i64, offer: Option<&str>) -> ContractCommand {
    ContractCommand::RequestContract {
        customer_id: v(CUSTOMER),
        product: v("Prévoyance Sérénité"),
        monthly_premium: Cents(premium),
        offer_id: offer.map(v),
        requested_on: date(2024, 3, 8),
    }
}

fn requested() -> ContractEvent {
    ContractEvent::ContractRequested {
        customer_id: v(CUSTOMER),
        product: v("Prévoyance Sérénité"),
        monthly_premium: Cents(3150),
        offer_id: Some(v(OFFER)),
        requested_on: date(2024, 3, 8),
    }
}

fn document(size_bytes: u64) -> SignedDocument {
    SignedDocument {
        sha256: v(SHA),
        name: v("contrat-signé.pdf"),
        size_bytes,
    }
}

fn sign(on: NaiveDate, size_bytes: u64) -> ContractCommand {
    ContractCommand::SignContract {
        reference: v("PS-2024-000123"),
        signed_on: on,
        document: document(size_bytes),
    }
}

fn signed() -> ContractEvent {
    ContractEvent::ContractSigned {
        reference: v("PS-2024-000123"),
        signed_on: date(2024, 3, 15),
        document: document(284_913),
    }
}

fn terminate(on: NaiveDate) -> ContractCommand {
    ContractCommand::TerminateContract {
        terminated_on: on,
        reason: v("Résiliation à l'échéance"),
    }
}

fn terminated() -> ContractEvent {
    ContractEvent::ContractTerminated {
        terminated_on: date(2025, 3, 15),
        reason: v("Résiliation à l'échéance"),
    }
}

#[test]
fn requesting_records_the_terms() {
    Framework::with(())
        .given_no_previous_events()
        .when(request(3150, Some(OFFER)))
        .then_expect_events(vec![requested()]);
}

#[test]
fn a_migrated_contract_has_no_offer_and_may_be_paid_up() {
    Framework::with(())
        .given_no_previous_events()
        .when(request(0, None))
        .then_expect_events(vec![ContractEvent::ContractRequested {
            customer_id: v(CUSTOMER),
            product: v("Prévoyance Sérénité"),
            monthly_premium: Cents(0),
            offer_id: None,
            requested_on: date(2024, 3, 8),
        }]);
}

#[test]
fn a_negative_premium_is_invalid() {
    Framework::with(())
        .given_no_previous_events()
        .when(request(-1, None))
        .then_expect_error(ContractError::NegativePremium);
}

#[test]
fn requesting_twice_is_a_conflict() {
    for given in [
        vec![requested()],
        vec![requested(), signed()],
        vec![requested(), signed(), terminated()],
    ] {
        Framework::with(())
            .given(given)
            .when(request(3150, Some(OFFER)))
            .then_expect_error(ContractError::AlreadyRequested);
    }
}

#[test]
fn commands_on_an_unknown_contract_are_not_found() {
    for command in [sign(date(2024, 3, 15), 1), terminate(date(2025, 1, 1))] {
        Framework::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(ContractError::NotFound);
    }
}

#[test]
fn signing_records_the_document() {
    Framework::with(())
        .given(vec![requested()])
        .when(sign(date(2024, 3, 15), 284_913))
        .then_expect_events(vec![signed()]);
}

#[test]
fn signing_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![requested(), signed()])
        .when(sign(date(2024, 3, 16), 1))
        .then_expect_error(ContractError::AlreadySigned);
}

#[test]
fn a_terminated_contract_cannot_be_signed() {
    Framework::with(())
        .given(vec![requested(), signed(), terminated()])
        .when(sign(date(2025, 4, 1), 1))
        .then_expect_error(ContractError::Terminated);
}

#[test]
fn a_signature_cannot_predate_the_request() {
    Framework::with(())
        .given(vec![requested()])
        .when(sign(date(2024, 3, 7), 1))
        .then_expect_error(ContractError::SignedBeforeRequest {
            requested_on: date(2024, 3, 8),
        });
    let events = Framework::with(())
        .given(vec![requested()])
        .when(sign(date(2024, 3, 8), 1))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1, "signing on the request day is fine");
}

#[test]
fn the_signed_document_cannot_be_empty() {
    Framework::with(())
        .given(vec![requested()])
        .when(sign(date(2024, 3, 15), 0))
        .then_expect_error(ContractError::EmptyDocument);
}

#[test]
fn terminating_records_the_reason() {
    Framework::with(())
        .given(vec![requested(), signed()])
        .when(terminate(date(2025, 3, 15)))
        .then_expect_events(vec![terminated()]);
}

#[test]
fn only_a_signed_contract_can_be_terminated() {
    Framework::with(())
        .given(vec![requested()])
        .when(terminate(date(2025, 3, 15)))
        .then_expect_error(ContractError::NotSigned);
}

#[test]
fn terminating_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![requested(), signed(), terminated()])
        .when(terminate(date(2025, 3, 16)))
        .then_expect_error(ContractError::AlreadyTerminated);
}

#[test]
fn a_termination_cannot_predate_the_signature() {
    Framework::with(())
        .given(vec![requested(), signed()])
        .when(terminate(date(2024, 3, 14)))
        .then_expect_error(ContractError::TerminatedBeforeSignature {
            signed_on: date(2024, 3, 15),
        });
}

#[test]
fn state_follows_the_events() {
    let mut contract = Contract::default();
    assert_eq!(contract.status(), None);
    contract.apply(requested());
    assert_eq!(contract.status(), Some(ContractStatus::Requested));
    assert_eq!(contract.terms().unwrap().offer_id, Some(v(OFFER)));
    contract.apply(signed());
    assert_eq!(contract.status(), Some(ContractStatus::Signed));
    assert_eq!(contract.signature().unwrap().document.size_bytes, 284_913);
    contract.apply(terminated());
    assert_eq!(contract.status(), Some(ContractStatus::Terminated));
    assert_eq!(contract.terminated_on(), Some(date(2025, 3, 15)));
    let json = serde_json::to_value(&contract).unwrap();
    assert_eq!(json["status"], "terminated");
    assert_eq!(serde_json::from_value::<Contract>(json).unwrap(), contract);
}

#[test]
fn commands_are_internally_tagged() {
    let command = sign(date(2024, 3, 15), 10);
    let json = serde_json::to_value(&command).unwrap();
    assert_eq!(json["command"], "SignContract");
    assert_eq!(json["document"]["size_bytes"], 10);
    assert_eq!(
        serde_json::from_value::<ContractCommand>(json).unwrap(),
        command
    );
}

#[test]
fn rejections_map_to_kind_code_and_field() {
    use RejectionKind::{Conflict, Invalid, NotFound};
    let on = date(2024, 3, 8);
    let cases: Vec<(ContractError, RejectionKind, &str, Option<&str>, &str)> = vec![
        (
            ContractError::NotFound,
            NotFound,
            "contract_not_found",
            None,
            "ce contrat n'existe pas",
        ),
        (
            ContractError::AlreadyRequested,
            Conflict,
            "contract_already_requested",
            None,
            "ce contrat a déjà été demandé",
        ),
        (
            ContractError::NegativePremium,
            Invalid,
            "premium_negative",
            Some("monthly_premium"),
            "la prime mensuelle ne peut pas être négative",
        ),
        (
            ContractError::AlreadySigned,
            Conflict,
            "contract_already_signed",
            None,
            "le contrat a déjà été signé",
        ),
        (
            ContractError::NotSigned,
            Conflict,
            "contract_not_signed",
            None,
            "le contrat n'est pas encore signé",
        ),
        (
            ContractError::AlreadyTerminated,
            Conflict,
            "contract_already_terminated",
            None,
            "le contrat a déjà été résilié",
        ),
        (
            ContractError::Terminated,
            Conflict,
            "contract_terminated",
            None,
            "le contrat est résilié",
        ),
        (
            ContractError::SignedBeforeRequest { requested_on: on },
            Invalid,
            "signed_before_request",
            Some("signed_on"),
            "la date de signature ne peut pas précéder la demande de contrat (08/03/2024)",
        ),
        (
            ContractError::EmptyDocument,
            Invalid,
            "document_empty",
            Some("document.size_bytes"),
            "le document signé est vide",
        ),
        (
            ContractError::TerminatedBeforeSignature { signed_on: on },
            Invalid,
            "terminated_before_signature",
            Some("terminated_on"),
            "la date de résiliation ne peut pas précéder la signature du contrat (08/03/2024)",
        ),
    ];
    for (error, kind, code, field, message) in cases {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.field(), field, "{error:?}");
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}
