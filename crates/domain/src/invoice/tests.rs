//! Given/when/then tests of the invoice rules.

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;

use super::*;
use crate::error::{Rejection, RejectionKind};
use crate::testing::{date, v};

type Framework = TestFramework<Invoice>;

const CUSTOMER: &str = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
const CONTRACT: &str = "f869866f-b222-5b5c-ae0f-7eea583b5ebf";

fn issue(amount: i64, issued_on: NaiveDate, due_on: NaiveDate) -> InvoiceCommand {
    InvoiceCommand::IssueInvoice {
        customer_id: v(CUSTOMER),
        contract_id: Some(v(CONTRACT)),
        number: v("F-2024-04-000123"),
        amount: Cents(amount),
        issued_on,
        due_on,
    }
}

fn issued() -> InvoiceEvent {
    InvoiceEvent::InvoiceIssued {
        customer_id: v(CUSTOMER),
        contract_id: Some(v(CONTRACT)),
        number: v("F-2024-04-000123"),
        amount: Cents(3150),
        issued_on: date(2024, 4, 1),
        due_on: date(2024, 4, 10),
    }
}

fn pay(on: NaiveDate, amount: i64) -> InvoiceCommand {
    InvoiceCommand::RecordPayment {
        paid_on: on,
        amount: Cents(amount),
    }
}

fn paid() -> InvoiceEvent {
    InvoiceEvent::InvoicePaid {
        paid_on: date(2024, 4, 10),
        amount: Cents(3150),
    }
}

fn reject(on: NaiveDate) -> InvoiceCommand {
    InvoiceCommand::RecordPaymentRejection {
        rejected_on: on,
        reason: v("AM04 : provision insuffisante"),
        reason_code: Some(v("AM04")),
    }
}

fn rejected() -> InvoiceEvent {
    InvoiceEvent::PaymentRejected {
        rejected_on: date(2024, 4, 12),
        reason: v("AM04 : provision insuffisante"),
        reason_code: Some(v("AM04")),
    }
}

fn cancel(on: NaiveDate) -> InvoiceCommand {
    InvoiceCommand::CancelInvoice {
        cancelled_on: on,
        reason: v("Facture émise en double"),
    }
}

fn cancelled() -> InvoiceEvent {
    InvoiceEvent::InvoiceCancelled {
        cancelled_on: date(2024, 4, 15),
        reason: v("Facture émise en double"),
    }
}

#[test]
fn issuing_records_the_invoice() {
    Framework::with(())
        .given_no_previous_events()
        .when(issue(3150, date(2024, 4, 1), date(2024, 4, 10)))
        .then_expect_events(vec![issued()]);
}

#[test]
fn issuing_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![issued()])
        .when(issue(3150, date(2024, 4, 1), date(2024, 4, 10)))
        .then_expect_error(InvoiceError::AlreadyIssued);
}

#[test]
fn the_amount_must_be_positive() {
    for amount in [0, -3150] {
        Framework::with(())
            .given_no_previous_events()
            .when(issue(amount, date(2024, 4, 1), date(2024, 4, 10)))
            .then_expect_error(InvoiceError::NonPositiveAmount);
    }
}

#[test]
fn the_due_date_cannot_precede_the_issue_date() {
    Framework::with(())
        .given_no_previous_events()
        .when(issue(3150, date(2024, 4, 1), date(2024, 3, 31)))
        .then_expect_error(InvoiceError::DueBeforeIssue);
    let events = Framework::with(())
        .given_no_previous_events()
        .when(issue(3150, date(2024, 4, 1), date(2024, 4, 1)))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 1, "due on the issue day is fine");
}

#[test]
fn commands_on_an_unknown_invoice_are_not_found() {
    let on = date(2024, 4, 10);
    for command in [pay(on, 3150), reject(on), cancel(on)] {
        Framework::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(InvoiceError::NotFound);
    }
}

#[test]
fn paying_the_exact_amount_records_the_payment() {
    Framework::with(())
        .given(vec![issued()])
        .when(pay(date(2024, 4, 10), 3150))
        .then_expect_events(vec![paid()]);
}

#[test]
fn a_payment_must_match_the_invoice_amount() {
    for amount in [3149, 3151] {
        Framework::with(())
            .given(vec![issued()])
            .when(pay(date(2024, 4, 10), amount))
            .then_expect_error(InvoiceError::AmountMismatch {
                expected: Cents(3150),
                received: Cents(amount),
            });
    }
}

#[test]
fn a_rejected_payment_can_be_paid_again() {
    Framework::with(())
        .given(vec![issued(), rejected()])
        .when(pay(date(2024, 4, 20), 3150))
        .then_expect_events(vec![InvoiceEvent::InvoicePaid {
            paid_on: date(2024, 4, 20),
            amount: Cents(3150),
        }]);
}

#[test]
fn paying_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![issued(), paid()])
        .when(pay(date(2024, 4, 11), 3150))
        .then_expect_error(InvoiceError::AlreadyPaid);
}

#[test]
fn a_cancelled_invoice_cannot_be_paid() {
    Framework::with(())
        .given(vec![issued(), cancelled()])
        .when(pay(date(2024, 4, 20), 3150))
        .then_expect_error(InvoiceError::Cancelled);
}

#[test]
fn dates_cannot_precede_the_issue_date() {
    let before = date(2024, 3, 31);
    let cases = [
        (pay(before, 3150), "paid_on"),
        (reject(before), "rejected_on"),
        (cancel(before), "cancelled_on"),
    ];
    for (command, field) in cases {
        Framework::with(())
            .given(vec![issued()])
            .when(command)
            .then_expect_error(InvoiceError::BeforeIssue {
                field,
                issued_on: date(2024, 4, 1),
            });
    }
}

#[test]
fn rejecting_a_payment_records_the_reason() {
    Framework::with(())
        .given(vec![issued()])
        .when(reject(date(2024, 4, 12)))
        .then_expect_events(vec![rejected()]);
}

#[test]
fn only_an_issued_invoice_can_have_its_payment_rejected() {
    let cases = [
        (
            vec![issued(), rejected()],
            InvoiceError::PaymentAlreadyRejected,
        ),
        (vec![issued(), paid()], InvoiceError::AlreadyPaid),
        (vec![issued(), cancelled()], InvoiceError::Cancelled),
    ];
    for (given, error) in cases {
        Framework::with(())
            .given(given)
            .when(reject(date(2024, 4, 20)))
            .then_expect_error(error);
    }
}

#[test]
fn cancelling_records_the_reason() {
    Framework::with(())
        .given(vec![issued()])
        .when(cancel(date(2024, 4, 15)))
        .then_expect_events(vec![cancelled()]);
    Framework::with(())
        .given(vec![issued(), rejected()])
        .when(cancel(date(2024, 4, 15)))
        .then_expect_events(vec![cancelled()]);
}

#[test]
fn a_paid_invoice_cannot_be_cancelled() {
    Framework::with(())
        .given(vec![issued(), paid()])
        .when(cancel(date(2024, 4, 15)))
        .then_expect_error(InvoiceError::AlreadyPaid);
}

#[test]
fn cancelling_twice_is_a_conflict() {
    Framework::with(())
        .given(vec![issued(), cancelled()])
        .when(cancel(date(2024, 4, 16)))
        .then_expect_error(InvoiceError::AlreadyCancelled);
}

#[test]
fn state_follows_the_events() {
    let mut invoice = Invoice::default();
    assert_eq!(invoice.status(), None);
    invoice.apply(issued());
    assert_eq!(invoice.status(), Some(InvoiceStatus::Issued));
    assert_eq!(invoice.details().unwrap().amount, Cents(3150));
    invoice.apply(rejected());
    assert_eq!(invoice.status(), Some(InvoiceStatus::PaymentRejected));
    invoice.apply(paid());
    assert_eq!(invoice.status(), Some(InvoiceStatus::Paid));
    assert_eq!(invoice.paid_on(), Some(date(2024, 4, 10)));
    let json = serde_json::to_value(&invoice).unwrap();
    assert_eq!(json["status"], "paid");
    assert_eq!(serde_json::from_value::<Invoice>(json).unwrap(), invoice);
}

#[test]
fn commands_are_internally_tagged() {
    let command = pay(date(2024, 4, 10), 3150);
    let json = serde_json::to_value(&command).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"command": "RecordPayment", "paid_on": "2024-04-10", "amount": 3150})
    );
    assert_eq!(
        serde_json::from_value::<InvoiceCommand>(json).unwrap(),
        command
    );
}

#[test]
fn rejections_map_to_kind_code_and_field() {
    use RejectionKind::{Conflict, Invalid, NotFound};
    let mismatch = InvoiceError::AmountMismatch {
        expected: Cents(3150),
        received: Cents(3000),
    };
    let before = InvoiceError::BeforeIssue {
        field: "paid_on",
        issued_on: date(2024, 4, 1),
    };
    let cases: Vec<(InvoiceError, RejectionKind, &str, Option<&str>, &str)> = vec![
        (
            InvoiceError::NotFound,
            NotFound,
            "invoice_not_found",
            None,
            "cette facture n'existe pas",
        ),
        (
            InvoiceError::AlreadyIssued,
            Conflict,
            "invoice_already_issued",
            None,
            "cette facture a déjà été émise",
        ),
        (
            InvoiceError::NonPositiveAmount,
            Invalid,
            "amount_not_positive",
            Some("amount"),
            "le montant de la facture doit être strictement positif",
        ),
        (
            InvoiceError::DueBeforeIssue,
            Invalid,
            "due_before_issue",
            Some("due_on"),
            "la date d'échéance ne peut pas précéder la date d'émission",
        ),
        (
            InvoiceError::AlreadyPaid,
            Conflict,
            "invoice_already_paid",
            None,
            "la facture a déjà été payée",
        ),
        (
            InvoiceError::Cancelled,
            Conflict,
            "invoice_cancelled",
            None,
            "la facture a été annulée",
        ),
        (
            InvoiceError::AlreadyCancelled,
            Conflict,
            "invoice_already_cancelled",
            None,
            "la facture a déjà été annulée",
        ),
        (
            InvoiceError::PaymentAlreadyRejected,
            Conflict,
            "payment_already_rejected",
            None,
            "le rejet du paiement a déjà été enregistré",
        ),
        (
            mismatch,
            Invalid,
            "payment_amount_mismatch",
            Some("amount"),
            "le montant payé (30,00 €) ne correspond pas au montant de la facture (31,50 €)",
        ),
        (
            before,
            Invalid,
            "date_before_issue",
            Some("paid_on"),
            "la date ne peut pas précéder l'émission de la facture (01/04/2024)",
        ),
    ];
    for (error, kind, code, field, message) in cases {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.field(), field, "{error:?}");
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}

fn request(amount: i64) -> InvoiceCommand {
    InvoiceCommand::RequestInvoice {
        customer_id: v(CUSTOMER),
        contract_id: Some(v(CONTRACT)),
        amount: Cents(amount),
        label: v("Frais de duplicata"),
        requested_on: date(2024, 4, 16),
    }
}

fn requested() -> InvoiceEvent {
    InvoiceEvent::InvoiceRequested {
        customer_id: v(CUSTOMER),
        contract_id: Some(v(CONTRACT)),
        amount: Cents(2500),
        label: v("Frais de duplicata"),
        requested_on: date(2024, 4, 16),
    }
}

fn issue_requested(issued_on: NaiveDate) -> InvoiceCommand {
    InvoiceCommand::IssueRequestedInvoice {
        number: v("F-2024-04-D1"),
        issued_on,
        due_on: issued_on,
    }
}

fn refuse(on: NaiveDate) -> InvoiceCommand {
    InvoiceCommand::RefuseInvoiceRequest {
        refused_on: on,
        reason: v("Frais offerts"),
    }
}

fn refused() -> InvoiceEvent {
    InvoiceEvent::InvoiceRequestRefused {
        refused_on: date(2024, 4, 17),
        reason: v("Frais offerts"),
    }
}

#[test]
fn a_request_bills_nothing_until_billing_issues_it_for_the_requested_amount() {
    Framework::with(())
        .given_no_previous_events()
        .when(request(2500))
        .then_expect_events(vec![requested()]);
    // Nothing is due on a request: no payment, no rejection, no cancellation.
    for command in [pay(date(2024, 4, 17), 2500), cancel(date(2024, 4, 17))] {
        Framework::with(())
            .given(vec![requested()])
            .when(command)
            .then_expect_error(InvoiceError::NotFound);
    }
    Framework::with(())
        .given(vec![requested()])
        .when(issue_requested(date(2024, 4, 17)))
        .then_expect_events(vec![InvoiceEvent::InvoiceIssued {
            customer_id: v(CUSTOMER),
            contract_id: Some(v(CONTRACT)),
            number: v("F-2024-04-D1"),
            amount: Cents(2500),
            issued_on: date(2024, 4, 17),
            due_on: date(2024, 4, 17),
        }]);
}

#[test]
fn a_request_is_decided_once() {
    let issued_from_request = InvoiceEvent::InvoiceIssued {
        customer_id: v(CUSTOMER),
        contract_id: Some(v(CONTRACT)),
        number: v("F-2024-04-D1"),
        amount: Cents(2500),
        issued_on: date(2024, 4, 17),
        due_on: date(2024, 4, 17),
    };
    let cases = [
        (
            vec![requested()],
            request(2500),
            InvoiceError::AlreadyRequested,
        ),
        (
            vec![issued()],
            request(2500),
            InvoiceError::AlreadyRequested,
        ),
        (
            vec![requested()],
            issue(2500, date(2024, 4, 17), date(2024, 4, 17)),
            InvoiceError::AlreadyRequested,
        ),
        (
            vec![requested(), issued_from_request.clone()],
            issue_requested(date(2024, 4, 18)),
            InvoiceError::AlreadyIssued,
        ),
        (
            vec![requested(), issued_from_request],
            refuse(date(2024, 4, 18)),
            InvoiceError::AlreadyIssued,
        ),
        (
            vec![requested(), refused()],
            issue_requested(date(2024, 4, 18)),
            InvoiceError::RequestRefused,
        ),
        (
            vec![requested(), refused()],
            refuse(date(2024, 4, 18)),
            InvoiceError::RequestRefused,
        ),
        (
            vec![],
            issue_requested(date(2024, 4, 18)),
            InvoiceError::RequestNotFound,
        ),
        (
            vec![],
            refuse(date(2024, 4, 18)),
            InvoiceError::RequestNotFound,
        ),
        (
            vec![issued()],
            refuse(date(2024, 4, 18)),
            InvoiceError::RequestNotFound,
        ),
    ];
    for (given, command, error) in cases {
        Framework::with(())
            .given(given)
            .when(command)
            .then_expect_error(error);
    }
}

#[test]
fn a_request_is_refused_with_a_reason_and_dates_follow_it() {
    Framework::with(())
        .given(vec![requested()])
        .when(refuse(date(2024, 4, 17)))
        .then_expect_events(vec![refused()]);
    Framework::with(())
        .given_no_previous_events()
        .when(request(0))
        .then_expect_error(InvoiceError::NonPositiveAmount);
    Framework::with(())
        .given(vec![requested()])
        .when(refuse(date(2024, 4, 15)))
        .then_expect_error(InvoiceError::BeforeRequest {
            field: "refused_on",
            requested_on: date(2024, 4, 16),
        });
    Framework::with(())
        .given(vec![requested()])
        .when(issue_requested(date(2024, 4, 15)))
        .then_expect_error(InvoiceError::BeforeRequest {
            field: "issued_on",
            requested_on: date(2024, 4, 16),
        });
    let mut invoice = Invoice::default();
    invoice.apply(requested());
    invoice.apply(refused());
    let request = invoice.request().expect("the request");
    assert_eq!(request.amount, Cents(2500));
    assert_eq!(
        request.refused.as_ref().map(|(on, r)| (*on, r.as_str())),
        Some((date(2024, 4, 17), "Frais offerts"))
    );
    assert_eq!(
        invoice.status(),
        None,
        "a refused request never became an invoice"
    );
}

#[test]
fn a_rejection_recorded_at_version_1_0_reads_without_its_code() {
    let v10 = serde_json::json!({"type": "PaymentRejected", "rejected_on": "2024-04-12",
                                 "reason": "AM04 : provision insuffisante"});
    let event: InvoiceEvent = serde_json::from_value(v10).expect("a 1.0 payload");
    assert_eq!(
        event,
        InvoiceEvent::PaymentRejected {
            rejected_on: date(2024, 4, 12),
            reason: v("AM04 : provision insuffisante"),
            reason_code: None,
        }
    );
    assert_eq!(cqrs_es::DomainEvent::event_version(&rejected()), "1.1");
    assert_eq!(cqrs_es::DomainEvent::event_version(&issued()), "1.0");
}
