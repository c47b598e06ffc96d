//! Billing: contact details, the direct-debit mandate (IBAN in full: masking is the
//! API's job) and its history, invoices and their history, and the contracts it
//! invoices (product, premium, status and dates: nothing of legal's documents).

use chrono::{DateTime, NaiveDate, Utc};
use lae_domain::contract::ContractEvent;
use lae_domain::customer::CustomerEvent;
use lae_domain::invoice::InvoiceEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use super::contact::{self, CustomerRow};
use super::inbox;
use crate::decode::{Decoded, Event};
use crate::table::{Touched, history, table};

table! {
    /// A row of `billing.mandates`.
    MandateRow in "mandates" key customer_id {
        customer_id: Uuid => "uuid",
        status: Option<String> => "text",
        iban: Option<String> => "text",
        mandate_reference: Option<String> => "text",
        signed_on: Option<NaiveDate> => "date",
        amended_on: Option<NaiveDate> => "date",
        revoked_on: Option<NaiveDate> => "date",
        revocation_reason: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

history! {
    /// A row of `billing.mandate_history`.
    MandateHistoryRow in "mandate_history" key (customer_id, sequence) {
        customer_id: Uuid => "uuid",
        sequence: i64 => "bigint",
        kind: String => "text",
        iban: Option<String> => "text",
        mandate_reference: Option<String> => "text",
        previous_iban: Option<String> => "text",
        previous_mandate_reference: Option<String> => "text",
        effective_on: NaiveDate => "date",
        reason: Option<String> => "text",
        recorded_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `billing.invoices`.
    InvoiceRow in "invoices" key invoice_id {
        invoice_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        contract_id: Option<Uuid> => "uuid",
        number: Option<String> => "text",
        amount_cents: Option<i64> => "bigint",
        issued_on: Option<NaiveDate> => "date",
        due_on: Option<NaiveDate> => "date",
        status: Option<String> => "text",
        paid_on: Option<NaiveDate> => "date",
        paid_amount_cents: Option<i64> => "bigint",
        rejected_on: Option<NaiveDate> => "date",
        rejection_reason: Option<String> => "text",
        cancelled_on: Option<NaiveDate> => "date",
        cancellation_reason: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

history! {
    /// A row of `billing.invoice_history`.
    InvoiceHistoryRow in "invoice_history" key (invoice_id, sequence) {
        invoice_id: Uuid => "uuid",
        sequence: i64 => "bigint",
        kind: String => "text",
        on_date: NaiveDate => "date",
        amount_cents: Option<i64> => "bigint",
        reason: Option<String> => "text",
        recorded_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `billing.contracts`.
    ContractRow in "contracts" key contract_id {
        contract_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        product: Option<String> => "text",
        monthly_premium_cents: Option<i64> => "bigint",
        status: Option<String> => "text",
        requested_on: Option<NaiveDate> => "date",
        signed_on: Option<NaiveDate> => "date",
        terminated_on: Option<NaiveDate> => "date",
        first_invoiced_on: Option<NaiveDate> => "date",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `billing.invoice_requests`: sales' request, then billing's decision.
    InvoiceRequestRow in "invoice_requests" key invoice_id {
        invoice_id: Uuid => "uuid",
        customer_id: Uuid => "uuid",
        contract_id: Option<Uuid> => "uuid",
        amount_cents: i64 => "bigint",
        label: String => "text",
        requested_on: NaiveDate => "date",
        requested_at: DateTime<Utc> => "timestamptz",
        status: String => "text",
        decided_on: Option<NaiveDate> => "date",
        refusal_reason: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

/// Whether the event is about sales' request rather than an invoice billed: it
/// leaves `billing.invoices` alone (a request bills nothing).
fn is_request_event(event: &InvoiceEvent) -> bool {
    matches!(
        event,
        InvoiceEvent::InvoiceRequested { .. } | InvoiceEvent::InvoiceRequestRefused { .. }
    )
}

/// Whether billing needs this event's payload.
pub(crate) fn uses(aggregate_type: &str, event_type: &str) -> bool {
    contact::uses(aggregate_type, event_type)
        || (aggregate_type == "Customer"
            && matches!(
                event_type,
                "MandateSigned" | "MandateAmended" | "MandateRevoked"
            ))
        || aggregate_type == "Invoice"
        || aggregate_type == "Contract"
        || inbox::uses(aggregate_type, event_type)
}

fn is_mandate_event(event: &Event) -> bool {
    matches!(
        event,
        Event::Customer(
            CustomerEvent::MandateSigned { .. }
                | CustomerEvent::MandateAmended { .. }
                | CustomerEvent::MandateRevoked { .. }
        )
    )
}

/// Writes a batch of decoded events (in order) to the schema.
pub(crate) async fn write(
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    let mut customers = Touched::<CustomerRow>::load(conn, schema, contact::keys(events)).await?;
    let mandate_keys = events
        .iter()
        .filter(|d| is_mandate_event(&d.event))
        .map(|d| d.id);
    let mut mandates = Touched::<MandateRow>::load(conn, schema, mandate_keys).await?;
    let invoice_keys = events
        .iter()
        .filter(|d| matches!(&d.event, Event::Invoice(e) if !is_request_event(e)))
        .map(|d| d.id);
    let mut invoices = Touched::<InvoiceRow>::load(conn, schema, invoice_keys).await?;
    // Requests, and the issues that may decide one.
    let request_keys = events
        .iter()
        .filter(|d| {
            matches!(
                &d.event,
                Event::Invoice(e) if is_request_event(e)
                    || matches!(e, InvoiceEvent::InvoiceIssued { .. })
            )
        })
        .map(|d| d.id);
    let mut requests = Touched::<InvoiceRequestRow>::load(conn, schema, request_keys).await?;
    // A contract's own events, and the invoices issued for it (its "invoiced" mark).
    let contract_keys = events.iter().filter_map(|d| match &d.event {
        Event::Contract(_) => Some(d.id),
        Event::Invoice(event) => invoiced_contract(event).map(|(contract, _)| contract),
        _ => None,
    });
    let mut contracts = Touched::<ContractRow>::load(conn, schema, contract_keys).await?;
    let mut mandate_history = Vec::new();
    let mut invoice_history = Vec::new();
    for d in events {
        contact::apply(&mut customers, d);
        match &d.event {
            Event::Customer(event) if is_mandate_event(&d.event) => {
                mandates.update(d.id, |row| apply_mandate(row, d, event));
                if let Some(row) = mandate_history_row(d, event) {
                    mandate_history.push(row);
                }
            }
            Event::Invoice(event) if is_request_event(event) => {
                requests.update(d.id, |row| apply_request(row, d, event));
            }
            Event::Invoice(event) => {
                if let InvoiceEvent::InvoiceIssued { issued_on, .. } = event {
                    requests.update_existing(d.id, |row| InvoiceRequestRow {
                        status: "issued".to_owned(),
                        decided_on: Some(*issued_on),
                        version: d.envelope.sequence,
                        updated_at: d.envelope.recorded_at,
                        ..row
                    });
                }
                invoices.update(d.id, |row| apply_invoice(row, d, event));
                invoice_history.push(invoice_history_row(d, event));
                if let Some((contract, issued_on)) = invoiced_contract(event) {
                    contracts.update(contract, |row| mark_invoiced(row, contract, d, issued_on));
                }
            }
            Event::Contract(event) => contracts.update(d.id, |row| apply_contract(row, d, event)),
            _ => {}
        }
    }
    customers.store(conn, schema).await?;
    mandates.store(conn, schema).await?;
    invoices.store(conn, schema).await?;
    requests.store(conn, schema).await?;
    contracts.store(conn, schema).await?;
    MandateHistoryRow::insert(conn, schema, &mandate_history).await?;
    InvoiceHistoryRow::insert(conn, schema, &invoice_history).await?;
    inbox::write(conn, schema, lae_domain::Department::Billing, events).await
}

/// Purges an erased customer: the contact card, the mandate and its history (IBANs,
/// mandate references, revocation reasons) go; invoices and their history stay
/// (numbers, amounts, dates, statuses), as accounting law requires, and so do the
/// contracts (product, premium, dates: nothing that names the person).
pub(crate) async fn erase(
    conn: &mut PgConnection,
    schema: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    contact::delete_customer_rows(conn, schema, "mandate_history", customer).await?;
    contact::delete_customer_rows(conn, schema, "mandates", customer).await?;
    inbox::erase(conn, schema, customer).await?;
    contact::erase(conn, schema, customer).await
}

fn apply_mandate(row: Option<MandateRow>, d: &Decoded<'_>, event: &CustomerEvent) -> MandateRow {
    let empty = MandateRow {
        customer_id: d.id,
        status: None,
        iban: None,
        mandate_reference: None,
        signed_on: None,
        amended_on: None,
        revoked_on: None,
        revocation_reason: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    };
    let mut row = match event {
        // A new signature starts a new mandate: nothing of a revoked one carries over.
        CustomerEvent::MandateSigned {
            iban,
            mandate_reference,
            signed_on,
        } => MandateRow {
            status: Some("active".to_owned()),
            iban: Some(iban.as_str().to_owned()),
            mandate_reference: Some(mandate_reference.as_str().to_owned()),
            signed_on: Some(*signed_on),
            ..empty
        },
        CustomerEvent::MandateAmended {
            iban,
            mandate_reference,
            amended_on,
            ..
        } => MandateRow {
            iban: Some(iban.as_str().to_owned()),
            mandate_reference: Some(mandate_reference.as_str().to_owned()),
            amended_on: Some(*amended_on),
            ..row.unwrap_or(empty)
        },
        CustomerEvent::MandateRevoked { revoked_on, reason } => MandateRow {
            status: Some("revoked".to_owned()),
            revoked_on: Some(*revoked_on),
            revocation_reason: reason.as_ref().map(|r| r.as_str().to_owned()),
            ..row.unwrap_or(empty)
        },
        _ => row.unwrap_or(empty),
    };
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}

fn empty_contract(contract_id: Uuid, recorded_at: DateTime<Utc>) -> ContractRow {
    ContractRow {
        contract_id,
        customer_id: None,
        product: None,
        monthly_premium_cents: None,
        status: None,
        requested_on: None,
        signed_on: None,
        terminated_on: None,
        first_invoiced_on: None,
        version: 0,
        updated_at: recorded_at,
    }
}

/// The contract an issued invoice is for, and its issue date.
fn invoiced_contract(event: &InvoiceEvent) -> Option<(Uuid, NaiveDate)> {
    match event {
        InvoiceEvent::InvoiceIssued {
            contract_id: Some(contract),
            issued_on,
            ..
        } => Some((*contract.as_uuid(), *issued_on)),
        _ => None,
    }
}

/// Marks the contract invoiced: the earliest issue date wins, whatever the order the
/// invoices arrive in, so a rebuild gives the same row. The contract's version (its
/// own sequence) is left alone.
fn mark_invoiced(
    row: Option<ContractRow>,
    contract: Uuid,
    d: &Decoded<'_>,
    issued_on: NaiveDate,
) -> ContractRow {
    let mut row = row.unwrap_or_else(|| empty_contract(contract, d.envelope.recorded_at));
    row.first_invoiced_on = Some(
        row.first_invoiced_on
            .map_or(issued_on, |on| on.min(issued_on)),
    );
    row.updated_at = row.updated_at.max(d.envelope.recorded_at);
    row
}

fn apply_contract(row: Option<ContractRow>, d: &Decoded<'_>, event: &ContractEvent) -> ContractRow {
    let mut row = row.unwrap_or_else(|| empty_contract(d.id, d.envelope.recorded_at));
    match event {
        ContractEvent::ContractRequested {
            customer_id,
            product,
            monthly_premium,
            requested_on,
            ..
        } => {
            row.customer_id = Some(*customer_id.as_uuid());
            row.product = Some(product.as_str().to_owned());
            row.monthly_premium_cents = Some(monthly_premium.value());
            row.status = Some("requested".to_owned());
            row.requested_on = Some(*requested_on);
        }
        ContractEvent::ContractSigned { signed_on, .. } => {
            row.status = Some("signed".to_owned());
            row.signed_on = Some(*signed_on);
        }
        ContractEvent::ContractTerminated { terminated_on, .. } => {
            row.status = Some("terminated".to_owned());
            row.terminated_on = Some(*terminated_on);
        }
    }
    row.version = d.envelope.sequence;
    // The latest of its own events and the invoices that marked it, in any order.
    row.updated_at = row.updated_at.max(d.envelope.recorded_at);
    row
}

fn mandate_history_row(d: &Decoded<'_>, event: &CustomerEvent) -> Option<MandateHistoryRow> {
    let base = |kind: &str, effective_on: NaiveDate| MandateHistoryRow {
        customer_id: d.id,
        sequence: d.envelope.sequence,
        kind: kind.to_owned(),
        iban: None,
        mandate_reference: None,
        previous_iban: None,
        previous_mandate_reference: None,
        effective_on,
        reason: None,
        recorded_at: d.envelope.recorded_at,
    };
    Some(match event {
        CustomerEvent::MandateSigned {
            iban,
            mandate_reference,
            signed_on,
        } => MandateHistoryRow {
            iban: Some(iban.as_str().to_owned()),
            mandate_reference: Some(mandate_reference.as_str().to_owned()),
            ..base("signed", *signed_on)
        },
        CustomerEvent::MandateAmended {
            previous_iban,
            previous_mandate_reference,
            iban,
            mandate_reference,
            amended_on,
        } => MandateHistoryRow {
            iban: Some(iban.as_str().to_owned()),
            mandate_reference: Some(mandate_reference.as_str().to_owned()),
            previous_iban: Some(previous_iban.as_str().to_owned()),
            previous_mandate_reference: Some(previous_mandate_reference.as_str().to_owned()),
            ..base("amended", *amended_on)
        },
        CustomerEvent::MandateRevoked { revoked_on, reason } => MandateHistoryRow {
            reason: reason.as_ref().map(|r| r.as_str().to_owned()),
            ..base("revoked", *revoked_on)
        },
        _ => return None,
    })
}

fn apply_invoice(row: Option<InvoiceRow>, d: &Decoded<'_>, event: &InvoiceEvent) -> InvoiceRow {
    let mut row = row.unwrap_or(InvoiceRow {
        invoice_id: d.id,
        customer_id: None,
        contract_id: None,
        number: None,
        amount_cents: None,
        issued_on: None,
        due_on: None,
        status: None,
        paid_on: None,
        paid_amount_cents: None,
        rejected_on: None,
        rejection_reason: None,
        cancelled_on: None,
        cancellation_reason: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    });
    match event {
        InvoiceEvent::InvoiceIssued {
            customer_id,
            contract_id,
            number,
            amount,
            issued_on,
            due_on,
        } => {
            row.customer_id = Some(*customer_id.as_uuid());
            row.contract_id = contract_id.map(|c| *c.as_uuid());
            row.number = Some(number.as_str().to_owned());
            row.amount_cents = Some(amount.value());
            row.issued_on = Some(*issued_on);
            row.due_on = Some(*due_on);
            row.status = Some("issued".to_owned());
        }
        InvoiceEvent::InvoicePaid { paid_on, amount } => {
            row.status = Some("paid".to_owned());
            row.paid_on = Some(*paid_on);
            row.paid_amount_cents = Some(amount.value());
        }
        InvoiceEvent::PaymentRejected {
            rejected_on,
            reason,
            ..
        } => {
            row.status = Some("payment_rejected".to_owned());
            row.rejected_on = Some(*rejected_on);
            row.rejection_reason = Some(reason.as_str().to_owned());
        }
        InvoiceEvent::InvoiceCancelled {
            cancelled_on,
            reason,
        } => {
            row.status = Some("cancelled".to_owned());
            row.cancelled_on = Some(*cancelled_on);
            row.cancellation_reason = Some(reason.as_str().to_owned());
        }
        // Kept out by the caller: they go to `invoice_requests`.
        InvoiceEvent::InvoiceRequested { .. } | InvoiceEvent::InvoiceRequestRefused { .. } => {}
    }
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}

/// A request as it arrives, or its refusal (an issue is applied where the invoice is).
fn apply_request(
    row: Option<InvoiceRequestRow>,
    d: &Decoded<'_>,
    event: &InvoiceEvent,
) -> InvoiceRequestRow {
    let at = d.envelope.recorded_at;
    let mut row = match (event, row) {
        (
            InvoiceEvent::InvoiceRequested {
                customer_id,
                contract_id,
                amount,
                label,
                requested_on,
            },
            _,
        ) => InvoiceRequestRow {
            invoice_id: d.id,
            customer_id: *customer_id.as_uuid(),
            contract_id: contract_id.map(|c| *c.as_uuid()),
            amount_cents: amount.value(),
            label: label.as_str().to_owned(),
            requested_on: *requested_on,
            requested_at: at,
            status: "pending".to_owned(),
            decided_on: None,
            refusal_reason: None,
            version: 0,
            updated_at: at,
        },
        (InvoiceEvent::InvoiceRequestRefused { refused_on, reason }, row) => InvoiceRequestRow {
            status: "refused".to_owned(),
            decided_on: Some(*refused_on),
            refusal_reason: Some(reason.as_str().to_owned()),
            ..row.unwrap_or_else(|| placeholder(d))
        },
        (_, row) => row.unwrap_or_else(|| placeholder(d)),
    };
    row.version = d.envelope.sequence;
    row.updated_at = at;
    row
}

/// The row of a decision whose request is not there: never the case in practice (the
/// projector holds back an event whose predecessor is missing); no list shows it.
fn placeholder(d: &Decoded<'_>) -> InvoiceRequestRow {
    InvoiceRequestRow {
        invoice_id: d.id,
        customer_id: Uuid::nil(),
        contract_id: None,
        amount_cents: 0,
        label: String::new(),
        requested_on: d.envelope.recorded_at.date_naive(),
        requested_at: d.envelope.recorded_at,
        status: "refused".to_owned(),
        decided_on: None,
        refusal_reason: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    }
}

fn invoice_history_row(d: &Decoded<'_>, event: &InvoiceEvent) -> InvoiceHistoryRow {
    let (kind, on_date, amount_cents, reason) = match event {
        InvoiceEvent::InvoiceIssued {
            amount, issued_on, ..
        } => ("issued", *issued_on, Some(amount.value()), None),
        InvoiceEvent::InvoicePaid { paid_on, amount } => {
            ("paid", *paid_on, Some(amount.value()), None)
        }
        InvoiceEvent::PaymentRejected {
            rejected_on,
            reason,
            ..
        } => (
            "payment_rejected",
            *rejected_on,
            None,
            Some(reason.as_str().to_owned()),
        ),
        InvoiceEvent::InvoiceCancelled {
            cancelled_on,
            reason,
        } => (
            "cancelled",
            *cancelled_on,
            None,
            Some(reason.as_str().to_owned()),
        ),
        // Kept out by the caller: a request is not part of an invoice's history.
        InvoiceEvent::InvoiceRequested {
            amount,
            requested_on,
            ..
        } => ("requested", *requested_on, Some(amount.value()), None),
        InvoiceEvent::InvoiceRequestRefused { refused_on, reason } => (
            "request_refused",
            *refused_on,
            None,
            Some(reason.as_str().to_owned()),
        ),
    };
    InvoiceHistoryRow {
        invoice_id: d.id,
        sequence: d.envelope.sequence,
        kind: kind.to_owned(),
        on_date,
        amount_cents,
        reason,
        recorded_at: d.envelope.recorded_at,
    }
}
