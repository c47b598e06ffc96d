//! Given/when/then tests of the ticket rules.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;

use super::*;
use crate::error::{Rejection, RejectionKind};
use crate::testing::{at, v};

type Framework = TestFramework<Ticket>;

const CUSTOMER: &str = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";

fn customer() -> Option<CustomerId> {
    Some(v(CUSTOMER))
}

fn opened_at() -> DateTime<Utc> {
    at(2024, 9, 2, 9, 14)
}

fn open(customer_id: Option<CustomerId>) -> TicketCommand {
    TicketCommand::OpenTicket {
        channel: Channel::Phone,
        reason: v("Demande de changement de RIB"),
        opened_at: opened_at(),
        operator: v("Karim Benali"),
        customer_id,
        category: Some(v("payment_issue")),
    }
}

fn opened(customer_id: Option<CustomerId>) -> TicketEvent {
    TicketEvent::TicketOpened {
        customer_id,
        channel: Channel::Phone,
        reason: v("Demande de changement de RIB"),
        opened_at: opened_at(),
        operator: v("Karim Benali"),
        category: Some(v("payment_issue")),
    }
}

fn record(when: DateTime<Utc>) -> TicketCommand {
    TicketCommand::RecordAction {
        action: v("Formulaire envoyé"),
        at: when,
        operator: v("Karim Benali"),
    }
}

fn route(department: Department, when: DateTime<Utc>) -> TicketCommand {
    TicketCommand::RouteTicket {
        department,
        at: when,
        note: Some(v("À traiter")),
    }
}

fn routed(previous: Department, department: Department) -> TicketEvent {
    TicketEvent::TicketRouted {
        customer_id: customer(),
        previous_department: previous,
        department,
        at: at(2024, 9, 2, 9, 25),
        note: Some(v("À traiter")),
        // The hand-over: what the receiving department needs of the opening.
        reason: Some(v("Demande de changement de RIB")),
        channel: Some(Channel::Phone),
        opened_at: Some(opened_at()),
    }
}

fn resolve(when: DateTime<Utc>) -> TicketCommand {
    TicketCommand::ResolveTicket {
        resolution: v("RIB modifié"),
        at: when,
    }
}

fn resolved() -> TicketEvent {
    TicketEvent::TicketResolved {
        customer_id: customer(),
        resolution: v("RIB modifié"),
        at: at(2024, 9, 3, 14, 5),
    }
}

/// One command of each kind after the opening, all at `when`.
fn follow_ups(when: DateTime<Utc>) -> Vec<TicketCommand> {
    vec![
        record(when),
        route(Department::Billing, when),
        resolve(when),
    ]
}

#[test]
fn opening_logs_the_contact() {
    Framework::with(())
        .given_no_previous_events()
        .when(open(customer()))
        .then_expect_events(vec![opened(customer())]);
}

#[test]
fn an_unidentified_caller_can_open_a_ticket() {
    Framework::with(())
        .given_no_previous_events()
        .when(open(None))
        .then_expect_events(vec![opened(None)]);
}

#[test]
fn opening_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![opened(customer())])
        .when(open(customer()))
        .then_expect_error(TicketError::AlreadyOpened);
}

#[test]
fn commands_on_an_unknown_ticket_are_not_found() {
    for command in follow_ups(at(2024, 9, 2, 10, 0)) {
        Framework::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(TicketError::NotFound);
    }
}

#[test]
fn recording_an_action_repeats_the_customer() {
    Framework::with(())
        .given(vec![opened(customer())])
        .when(record(at(2024, 9, 2, 9, 20)))
        .then_expect_events(vec![TicketEvent::ActionRecorded {
            customer_id: customer(),
            action: v("Formulaire envoyé"),
            at: at(2024, 9, 2, 9, 20),
            operator: v("Karim Benali"),
        }]);
    Framework::with(())
        .given(vec![opened(None)])
        .when(record(at(2024, 9, 2, 9, 20)))
        .then_expect_events(vec![TicketEvent::ActionRecorded {
            customer_id: None,
            action: v("Formulaire envoyé"),
            at: at(2024, 9, 2, 9, 20),
            operator: v("Karim Benali"),
        }]);
}

#[test]
fn routing_records_both_departments() {
    Framework::with(())
        .given(vec![opened(customer())])
        .when(route(Department::Billing, at(2024, 9, 2, 9, 25)))
        .then_expect_events(vec![routed(
            Department::CustomerService,
            Department::Billing,
        )]);
    Framework::with(())
        .given(vec![
            opened(customer()),
            routed(Department::CustomerService, Department::Billing),
        ])
        .when(route(Department::Legal, at(2024, 9, 2, 9, 25)))
        .then_expect_events(vec![routed(Department::Billing, Department::Legal)]);
}

#[test]
fn a_new_ticket_already_sits_with_customer_service() {
    Framework::with(())
        .given(vec![opened(customer())])
        .when(route(Department::CustomerService, at(2024, 9, 2, 9, 25)))
        .then_expect_error(TicketError::AlreadyRoutedThere {
            department: Department::CustomerService,
        });
}

#[test]
fn routing_to_the_current_department_is_a_conflict() {
    Framework::with(())
        .given(vec![
            opened(customer()),
            routed(Department::CustomerService, Department::Billing),
        ])
        .when(route(Department::Billing, at(2024, 9, 2, 10, 0)))
        .then_expect_error(TicketError::AlreadyRoutedThere {
            department: Department::Billing,
        });
}

#[test]
fn a_ticket_can_go_back_to_customer_service() {
    Framework::with(())
        .given(vec![
            opened(customer()),
            routed(Department::CustomerService, Department::Billing),
        ])
        .when(route(Department::CustomerService, at(2024, 9, 2, 9, 25)))
        .then_expect_events(vec![routed(
            Department::Billing,
            Department::CustomerService,
        )]);
}

#[test]
fn resolving_closes_the_ticket() {
    Framework::with(())
        .given(vec![opened(customer())])
        .when(resolve(at(2024, 9, 3, 14, 5)))
        .then_expect_events(vec![resolved()]);
}

fn rate(score: Satisfaction, when: DateTime<Utc>) -> TicketCommand {
    TicketCommand::RateSatisfaction { score, at: when }
}

#[test]
fn satisfaction_is_rated_once_after_the_resolution_with_the_channel() {
    Framework::with(())
        .given(vec![opened(customer()), resolved()])
        .when(rate(Satisfaction::Bad, at(2024, 9, 5, 8, 0)))
        .then_expect_events(vec![TicketEvent::SatisfactionRated {
            customer_id: customer(),
            score: Satisfaction::Bad,
            channel: Channel::Phone,
            at: at(2024, 9, 5, 8, 0),
        }]);
    let rated = TicketEvent::SatisfactionRated {
        customer_id: customer(),
        score: Satisfaction::Good,
        channel: Channel::Phone,
        at: at(2024, 9, 5, 8, 0),
    };
    Framework::with(())
        .given(vec![opened(customer()), resolved(), rated])
        .when(rate(Satisfaction::Bad, at(2024, 9, 6, 8, 0)))
        .then_expect_error(TicketError::AlreadyRated);
    Framework::with(())
        .given(vec![opened(customer())])
        .when(rate(Satisfaction::Good, at(2024, 9, 5, 8, 0)))
        .then_expect_error(TicketError::NotResolved);
    Framework::with(())
        .given_no_previous_events()
        .when(rate(Satisfaction::Good, at(2024, 9, 5, 8, 0)))
        .then_expect_error(TicketError::NotFound);
}

#[test]
fn a_rating_is_never_dated_before_the_resolution() {
    Framework::with(())
        .given(vec![opened(customer()), resolved()])
        .when(rate(Satisfaction::Good, at(2024, 9, 3, 14, 0)))
        .then_expect_events(vec![TicketEvent::SatisfactionRated {
            customer_id: customer(),
            score: Satisfaction::Good,
            channel: Channel::Phone,
            at: at(2024, 9, 3, 14, 5),
        }]);
}

#[test]
fn the_platform_s_own_notices_are_not_rated() {
    let notice = TicketEvent::TicketOpened {
        customer_id: customer(),
        channel: Channel::Internal,
        reason: v("Contrat signé"),
        opened_at: opened_at(),
        operator: v("Plateforme LAE (automatique)"),
        category: None,
    };
    Framework::with(())
        .given(vec![notice, resolved()])
        .when(rate(Satisfaction::Good, at(2024, 9, 5, 8, 0)))
        .then_expect_error(TicketError::NotACustomerContact);
}

#[test]
fn nothing_can_happen_on_a_resolved_ticket() {
    for command in follow_ups(at(2024, 9, 4, 10, 0)) {
        Framework::with(())
            .given(vec![opened(customer()), resolved()])
            .when(command)
            .then_expect_error(TicketError::Resolved);
    }
}

#[test]
fn times_cannot_precede_the_opening() {
    for command in follow_ups(at(2024, 9, 2, 9, 13)) {
        Framework::with(())
            .given(vec![opened(customer())])
            .when(command)
            .then_expect_error(TicketError::BeforeOpening {
                opened_at: opened_at(),
            });
    }
    for command in follow_ups(opened_at()) {
        let events = Framework::with(())
            .given(vec![opened(customer())])
            .when(command)
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1, "the opening time itself is fine");
    }
}

#[test]
fn state_follows_the_events() {
    let mut ticket = Ticket::default();
    assert_eq!(ticket.status(), None);
    for event in build_examples().unwrap() {
        let resolves = matches!(event, TicketEvent::TicketResolved { .. });
        if resolves {
            assert_eq!(ticket.status(), Some(TicketStatus::Open));
        }
        ticket.apply(event);
    }
    assert_eq!(ticket.status(), Some(TicketStatus::Resolved));
    assert_eq!(ticket.department(), Department::Billing);
    assert_eq!(ticket.action_count(), 1);
    assert_eq!(ticket.opening().unwrap().customer_id, customer());
    assert_eq!(ticket.resolved_at(), Some(at(2024, 9, 3, 14, 5)));
    let json = serde_json::to_value(&ticket).unwrap();
    assert_eq!(serde_json::from_value::<Ticket>(json).unwrap(), ticket);
}

#[test]
fn commands_are_internally_tagged() {
    let command = route(Department::Legal, at(2024, 9, 2, 9, 25));
    let json = serde_json::to_value(&command).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "command": "RouteTicket",
            "department": "legal",
            "at": "2024-09-02T09:25:00Z",
            "note": "À traiter",
        })
    );
    assert_eq!(
        serde_json::from_value::<TicketCommand>(json).unwrap(),
        command
    );
}

#[test]
fn rejections_map_to_kind_code_and_field() {
    use RejectionKind::{Conflict, Invalid, NotFound};
    let cases: Vec<(TicketError, RejectionKind, &str, Option<&str>, &str)> = vec![
        (
            TicketError::NotFound,
            NotFound,
            "ticket_not_found",
            None,
            "ce ticket n'existe pas",
        ),
        (
            TicketError::AlreadyOpened,
            Conflict,
            "ticket_already_opened",
            None,
            "ce ticket a déjà été ouvert",
        ),
        (
            TicketError::Resolved,
            Conflict,
            "ticket_resolved",
            None,
            "le ticket est résolu : ouvrez un nouveau ticket",
        ),
        (
            TicketError::AlreadyRoutedThere {
                department: Department::Legal,
            },
            Conflict,
            "already_routed_there",
            None,
            "le ticket est déjà au service juridique",
        ),
        (
            TicketError::BeforeOpening {
                opened_at: opened_at(),
            },
            Invalid,
            "time_before_opening",
            Some("at"),
            "l'horodatage ne peut pas précéder l'ouverture du ticket (02/09/2024 à 09:14 UTC)",
        ),
    ];
    for (error, kind, code, field, message) in cases {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.field(), field, "{error:?}");
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}

fn identify(when: DateTime<Utc>) -> TicketCommand {
    TicketCommand::IdentifyCaller {
        customer_id: v(CUSTOMER),
        at: when,
    }
}

#[test]
fn an_unidentified_caller_is_linked_to_the_customer_and_later_events_carry_them() {
    let identified = TicketEvent::CallerIdentified {
        customer_id: customer(),
        at: at(2024, 9, 2, 9, 30),
    };
    Framework::with(())
        .given(vec![opened(None)])
        .when(identify(at(2024, 9, 2, 9, 30)))
        .then_expect_events(vec![identified.clone()]);
    // The next action names the customer, so its text is sealed with their key.
    Framework::with(())
        .given(vec![opened(None), identified])
        .when(record(at(2024, 9, 2, 9, 40)))
        .then_expect_events(vec![TicketEvent::ActionRecorded {
            customer_id: customer(),
            action: v("Formulaire envoyé"),
            at: at(2024, 9, 2, 9, 40),
            operator: v("Karim Benali"),
        }]);
}

#[test]
fn a_known_caller_or_a_closed_ticket_cannot_be_identified() {
    Framework::with(())
        .given(vec![opened(customer())])
        .when(identify(at(2024, 9, 2, 9, 30)))
        .then_expect_error(TicketError::AlreadyIdentified);
    Framework::with(())
        .given(vec![opened(None), resolved()])
        .when(identify(at(2024, 9, 4, 9, 30)))
        .then_expect_error(TicketError::Resolved);
    Framework::with(())
        .given(vec![opened(None)])
        .when(identify(at(2024, 9, 1, 9, 30)))
        .then_expect_error(TicketError::BeforeOpening {
            opened_at: opened_at(),
        });
}
