//! Given/when/then tests of the offer rules.

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;

use super::*;
use crate::error::{Rejection, RejectionKind};
use crate::testing::{date, v};
use crate::values::{OfferId, Reason};

type Framework = TestFramework<Offer>;

const CUSTOMER: &str = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";

fn propose(premium: i64) -> OfferCommand {
    OfferCommand::ProposeOffer {
        offer_id: v("0190a3c4-6f70-7b8c-9d0e-1f2a3b4c5d6e"),
        customer_id: v(CUSTOMER),
        product: v("Prévoyance Sérénité"),
        monthly_premium: Cents(premium),
        proposed_on: date(2024, 3, 1),
    }
}

fn proposed() -> OfferEvent {
    OfferEvent::OfferProposed {
        customer_id: v(CUSTOMER),
        product: v("Prévoyance Sérénité"),
        monthly_premium: Cents(3150),
        proposed_on: date(2024, 3, 1),
    }
}

fn accepted(on: NaiveDate) -> OfferEvent {
    OfferEvent::OfferAccepted {
        customer_id: v(CUSTOMER),
        product: v("Prévoyance Sérénité"),
        monthly_premium: Cents(3150),
        accepted_on: on,
    }
}

fn declined() -> OfferEvent {
    OfferEvent::OfferDeclined {
        declined_on: date(2024, 3, 8),
        reason: None,
    }
}

fn withdrawn() -> OfferEvent {
    OfferEvent::OfferWithdrawn {
        withdrawn_on: date(2024, 3, 8),
        reason: None,
    }
}

fn reason() -> Option<Reason> {
    Some(v("Tarif trop élevé"))
}

/// The three answers, each paired with the name of its date field.
fn answers(on: NaiveDate) -> Vec<(OfferCommand, &'static str)> {
    vec![
        (OfferCommand::AcceptOffer { accepted_on: on }, "accepted_on"),
        (
            OfferCommand::DeclineOffer {
                declined_on: on,
                reason: reason(),
            },
            "declined_on",
        ),
        (
            OfferCommand::WithdrawOffer {
                withdrawn_on: on,
                reason: reason(),
            },
            "withdrawn_on",
        ),
    ]
}

#[test]
fn proposing_records_the_terms() {
    Framework::with(())
        .given_no_previous_events()
        .when(propose(3150))
        .then_expect_events(vec![proposed()]);
}

#[test]
fn proposing_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![proposed()])
        .when(propose(3150))
        .then_expect_error(OfferError::AlreadyProposed);
}

#[test]
fn the_premium_must_be_positive() {
    for premium in [0, -1] {
        Framework::with(())
            .given_no_previous_events()
            .when(propose(premium))
            .then_expect_error(OfferError::NonPositivePremium);
    }
    Framework::with(())
        .given_no_previous_events()
        .when(propose(1))
        .then_expect_events(vec![OfferEvent::OfferProposed {
            customer_id: v(CUSTOMER),
            product: v("Prévoyance Sérénité"),
            monthly_premium: Cents(1),
            proposed_on: date(2024, 3, 1),
        }]);
}

#[test]
fn answering_needs_a_proposed_offer() {
    for (command, _) in answers(date(2024, 3, 8)) {
        Framework::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(OfferError::NotFound);
    }
}

#[test]
fn accepting_carries_the_terms_for_legal() {
    Framework::with(())
        .given(vec![proposed()])
        .when(OfferCommand::AcceptOffer {
            accepted_on: date(2024, 3, 8),
        })
        .then_expect_events(vec![accepted(date(2024, 3, 8))]);
}

#[test]
fn declining_records_the_reason() {
    Framework::with(())
        .given(vec![proposed()])
        .when(OfferCommand::DeclineOffer {
            declined_on: date(2024, 3, 8),
            reason: reason(),
        })
        .then_expect_events(vec![OfferEvent::OfferDeclined {
            declined_on: date(2024, 3, 8),
            reason: reason(),
        }]);
}

#[test]
fn withdrawing_records_the_reason() {
    Framework::with(())
        .given(vec![proposed()])
        .when(OfferCommand::WithdrawOffer {
            withdrawn_on: date(2024, 3, 8),
            reason: None,
        })
        .then_expect_events(vec![withdrawn()]);
}

#[test]
fn an_accepted_offer_cannot_be_answered_again() {
    for (command, _) in answers(date(2024, 3, 9)) {
        Framework::with(())
            .given(vec![proposed(), accepted(date(2024, 3, 8))])
            .when(command)
            .then_expect_error(OfferError::AlreadyAccepted);
    }
}

#[test]
fn a_declined_offer_cannot_be_answered_again() {
    for (command, _) in answers(date(2024, 3, 9)) {
        Framework::with(())
            .given(vec![proposed(), declined()])
            .when(command)
            .then_expect_error(OfferError::Declined);
    }
}

#[test]
fn a_withdrawn_offer_cannot_be_answered() {
    for (command, _) in answers(date(2024, 3, 9)) {
        Framework::with(())
            .given(vec![proposed(), withdrawn()])
            .when(command)
            .then_expect_error(OfferError::Withdrawn);
    }
}

#[test]
fn answers_cannot_predate_the_proposal() {
    for (command, field) in answers(date(2024, 2, 29)) {
        Framework::with(())
            .given(vec![proposed()])
            .when(command)
            .then_expect_error(OfferError::BeforeProposal {
                field,
                proposed_on: date(2024, 3, 1),
            });
    }
}

#[test]
fn answers_on_the_proposal_day_are_accepted() {
    for (command, _) in answers(date(2024, 3, 1)) {
        let events = Framework::with(())
            .given(vec![proposed()])
            .when(command)
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1);
    }
}

#[test]
fn state_follows_the_events() {
    let mut offer = Offer::default();
    assert_eq!(offer.status(), None);
    offer.apply(proposed());
    assert_eq!(offer.status(), Some(OfferStatus::Proposed));
    assert_eq!(offer.terms().unwrap().monthly_premium, Cents(3150));
    offer.apply(accepted(date(2024, 3, 8)));
    assert_eq!(offer.status(), Some(OfferStatus::Accepted));
    let json = serde_json::to_value(&offer).unwrap();
    assert_eq!(json["status"], "accepted");
    assert_eq!(serde_json::from_value::<Offer>(json).unwrap(), offer);
}

#[test]
fn commands_are_internally_tagged() {
    let json = serde_json::to_value(propose(3150)).unwrap();
    assert_eq!(json["command"], "ProposeOffer");
    assert_eq!(json["monthly_premium"], 3150);
    assert_eq!(
        serde_json::from_value::<OfferCommand>(json).unwrap(),
        propose(3150)
    );
    let _: OfferId = v("0190a3c4-6f70-7b8c-9d0e-1f2a3b4c5d6e");
}

#[test]
fn rejections_map_to_kind_code_and_field() {
    use RejectionKind::{Conflict, Invalid, NotFound};
    let before = OfferError::BeforeProposal {
        field: "accepted_on",
        proposed_on: date(2024, 3, 1),
    };
    let cases: Vec<(OfferError, RejectionKind, &str, Option<&str>, &str)> = vec![
        (
            OfferError::NotFound,
            NotFound,
            "offer_not_found",
            None,
            "cette offre n'existe pas",
        ),
        (
            OfferError::AlreadyProposed,
            Conflict,
            "offer_already_proposed",
            None,
            "cette offre a déjà été proposée",
        ),
        (
            OfferError::NonPositivePremium,
            Invalid,
            "premium_not_positive",
            Some("monthly_premium"),
            "la prime mensuelle doit être strictement positive",
        ),
        (
            OfferError::AlreadyAccepted,
            Conflict,
            "offer_already_accepted",
            None,
            "l'offre a déjà été acceptée",
        ),
        (
            OfferError::Declined,
            Conflict,
            "offer_declined",
            None,
            "l'offre a été refusée par le client",
        ),
        (
            OfferError::Withdrawn,
            Conflict,
            "offer_withdrawn",
            None,
            "l'offre a été retirée",
        ),
        (
            before,
            Invalid,
            "date_before_proposal",
            Some("accepted_on"),
            "la date ne peut pas précéder la proposition de l'offre (01/03/2024)",
        ),
    ];
    for (error, kind, code, field, message) in cases {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.field(), field, "{error:?}");
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}
