//! What each reactor decides, apart from how it consumes and commands: pure functions
//! from an event (and the state of the aggregate it concerns) to the commands to send,
//! with the ids those commands target.
//!
//! Every id here is derived from the causing event, so that a redelivery, a restart or
//! a second reactor instance targets the same aggregate, which refuses the second
//! command (`already requested`, `already opened`, `already routed there`): the
//! reactor counts that as done.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use lae_domain::contract::{Contract, ContractEvent};
use lae_domain::invoice::{Invoice, InvoiceCommand, InvoiceEvent, InvoiceStatus};
use lae_domain::ticket::TicketCommand;
use lae_domain::{
    Channel, ContractId, CustomerId, Department, InvoiceId, Note, OperatorName, Reason, TicketId,
};
use uuid::Uuid;

/// Namespace of the ids of the tickets the reactors open (UUIDv5 of the causing event).
/// Pinned: changing it would make redelivered events open second tickets.
const TICKET_FROM_EVENT_NAMESPACE: Uuid =
    Uuid::from_u128(0x6c61_6500_7265_6163_746f_725f_7469_636b);

/// The operator named on the tickets the platform opens itself.
pub const PLATFORM_OPERATOR: &str = "Plateforme LAE (automatique)";

/// The ticket a reactor opens for `cause` (an event id): the same for every delivery.
#[must_use]
pub fn ticket_for(cause: Uuid, purpose: &str) -> TicketId {
    let name = format!("{purpose}:{}", cause.hyphenated());
    TicketId::new(Uuid::new_v5(&TICKET_FROM_EVENT_NAMESPACE, name.as_bytes()))
}

/// What sales must be told, and about whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesNotice {
    /// The customer concerned.
    pub customer_id: CustomerId,
    /// The ticket's reason: what happened, in one line (French).
    pub reason: String,
    /// The routing note: what sales is asked to do (French).
    pub note: String,
}

impl SalesNotice {
    /// The two commands that put the notice in the sales inbox: open the ticket
    /// (channel "internal", by the platform, at the causing event's time) and route it
    /// to sales with the note.
    #[must_use]
    pub fn commands(&self, at: DateTime<Utc>) -> [TicketCommand; 2] {
        [
            TicketCommand::OpenTicket {
                channel: Channel::Internal,
                reason: bounded(&self.reason, Reason::parse),
                opened_at: at,
                operator: bounded(PLATFORM_OPERATOR, OperatorName::parse),
                customer_id: Some(self.customer_id),
                category: None,
            },
            TicketCommand::RouteTicket {
                department: Department::Sales,
                at,
                note: Some(bounded(&self.note, Note::parse)),
            },
        ]
    }
}

/// A bounded text from one built here: cut to the type's limit where a long product
/// name or reason makes it too long (the texts are never empty).
fn bounded<T, E>(text: &str, parse: fn(&str) -> Result<T, E>) -> T {
    let mut text = text.trim().to_owned();
    loop {
        match parse(&text) {
            Ok(value) => return value,
            Err(_) if text.chars().count() > 1 => {
                let keep = text.chars().count() * 9 / 10;
                text = text.chars().take(keep.max(1)).collect::<String>();
                text.push('…');
                if text.chars().count() <= 2 {
                    text = "Information".to_owned();
                }
            }
            Err(_) => text = "Information".to_owned(),
        }
    }
}

/// `dd/mm/yyyy`.
fn french(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// The notice for a contract event, given the contract's state after it: signed and
/// terminated contracts are reported to sales, a request is not (sales made it).
#[must_use]
pub fn contract_notice(event: &ContractEvent, contract: &Contract) -> Option<SalesNotice> {
    let terms = contract.terms()?;
    let reference = contract.signature().map_or_else(
        || terms.product.as_str().to_owned(),
        |s| s.reference.as_str().to_owned(),
    );
    match event {
        ContractEvent::ContractRequested { .. } => None,
        ContractEvent::ContractSigned { signed_on, .. } => Some(SalesNotice {
            customer_id: terms.customer_id,
            reason: format!("Contrat {reference} signé le {}", french(*signed_on)),
            note: format!(
                "Informer le département Vente : le contrat {reference} ({}, {} par mois) a été signé le {} ; la facturation commence.",
                terms.product.as_str(),
                terms.monthly_premium,
                french(*signed_on)
            ),
        }),
        ContractEvent::ContractTerminated {
            terminated_on,
            reason,
        } => Some(SalesNotice {
            customer_id: terms.customer_id,
            reason: format!("Contrat {reference} résilié au {}", french(*terminated_on)),
            note: format!(
                "Informer le département Vente : le contrat {reference} ({}) est résilié au {}. Motif : {}",
                terms.product.as_str(),
                french(*terminated_on),
                reason.as_str()
            ),
        }),
    }
}

/// The notice for an invoice event, given the invoice's state: a rejected payment is
/// reported to sales, and so is billing's decision on an invoice sales requested
/// (issued, or refused with the reason).
#[must_use]
pub fn invoice_notice(event: &InvoiceEvent, invoice: &Invoice) -> Option<SalesNotice> {
    if let InvoiceEvent::InvoiceRequestRefused { refused_on, reason } = event {
        let request = invoice.request()?;
        return Some(SalesNotice {
            customer_id: request.customer_id,
            reason: format!(
                "Demande de facture refusée : {} ({})",
                request.label.as_str(),
                request.amount
            ),
            note: format!(
                "Informer le département Vente : la facturation a refusé le {} la demande de facture « {} » ({}) du {}. Motif : {}",
                french(*refused_on),
                request.label.as_str(),
                request.amount,
                french(request.requested_on),
                reason.as_str()
            ),
        });
    }
    let details = invoice.details()?;
    match event {
        InvoiceEvent::InvoiceIssued { .. } => {
            let request = invoice.request()?;
            Some(SalesNotice {
                customer_id: details.customer_id,
                reason: format!(
                    "Demande de facture émise : facture {} du {}",
                    details.number.as_str(),
                    french(details.issued_on)
                ),
                note: format!(
                    "Informer le département Vente : la facturation a émis la facture {} ({}) le {}, à échéance du {}, pour la demande « {} » du {}.",
                    details.number.as_str(),
                    details.amount,
                    french(details.issued_on),
                    french(details.due_on),
                    request.label.as_str(),
                    french(request.requested_on)
                ),
            })
        }
        InvoiceEvent::PaymentRejected {
            rejected_on,
            reason,
            ..
        } => Some(SalesNotice {
            customer_id: details.customer_id,
            reason: format!(
                "Prélèvement rejeté : facture {} du {}",
                details.number.as_str(),
                french(details.issued_on)
            ),
            note: format!(
                "Informer le département Vente : le paiement de la facture {} ({}) a été rejeté le {}. Motif : {}",
                details.number.as_str(),
                details.amount,
                french(*rejected_on),
                reason.as_str()
            ),
        }),
        InvoiceEvent::InvoicePaid { .. }
        | InvoiceEvent::InvoiceCancelled { .. }
        | InvoiceEvent::InvoiceRequested { .. }
        | InvoiceEvent::InvoiceRequestRefused { .. } => None,
    }
}

/// How many months after the termination the schedule is closed: the cycle issues a
/// month's invoices on a date of that month, so an invoice further ahead than this
/// would have been collected two years early.
pub const SCHEDULE_HORIZON_MONTHS: u32 = 24;

/// The cycle invoices a termination may leave behind: the contract's periods
/// (months) that start after `terminated_on`, for [`SCHEDULE_HORIZON_MONTHS`]. The
/// month of the termination started on or before it and stays due.
#[must_use]
pub fn periods_after(contract: ContractId, terminated_on: NaiveDate) -> Vec<InvoiceId> {
    let Some(first) = terminated_on.with_day(1) else {
        return Vec::new();
    };
    (1..=SCHEDULE_HORIZON_MONTHS)
        .filter_map(|n| first.checked_add_months(Months::new(n)))
        .map(|start| InvoiceId::for_contract_period(contract, start.year(), start.month()))
        .collect()
}

/// The cancellation of one of those invoices, if it is still to be paid: issued for
/// this contract, neither paid nor cancelled (a rejected payment is still due). Dated
/// the day the termination was recorded, or the invoice's issue if later (an invoice
/// issued ahead of its month cannot be cancelled before it exists).
#[must_use]
pub fn cancellation_for(
    invoice: &Invoice,
    contract: ContractId,
    terminated_on: NaiveDate,
    recorded_on: NaiveDate,
) -> Option<InvoiceCommand> {
    let details = invoice.details()?;
    if details.contract_id != Some(contract) {
        return None;
    }
    match invoice.status()? {
        InvoiceStatus::Issued | InvoiceStatus::PaymentRejected => {}
        InvoiceStatus::Paid | InvoiceStatus::Cancelled => return None,
    }
    Some(InvoiceCommand::CancelInvoice {
        cancelled_on: recorded_on.max(details.issued_on),
        reason: bounded(
            &format!("Contrat résilié le {}", french(terminated_on)),
            Reason::parse,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_derived_from_the_cause_and_pinned() {
        let cause = Uuid::from_u128(1);
        assert_eq!(
            ticket_for(cause, "inform-sales"),
            ticket_for(cause, "inform-sales")
        );
        assert_ne!(
            ticket_for(cause, "inform-sales"),
            ticket_for(Uuid::from_u128(2), "inform-sales")
        );
        assert_ne!(
            ticket_for(cause, "inform-sales"),
            ticket_for(cause, "other")
        );
        // Pinned: a change here would open a second ticket for redelivered events.
        assert_eq!(
            ticket_for(cause, "inform-sales").to_string(),
            "ca357da8-bb25-523c-9ba4-fe91c7d00365"
        );
    }

    fn cycle_invoice(
        contract: ContractId,
        year: i32,
        month: u32,
        events: &[InvoiceEvent],
    ) -> Invoice {
        use cqrs_es::Aggregate as _;
        let issued_on = NaiveDate::from_ymd_opt(year, month, 1).expect("date");
        let mut invoice = Invoice::default();
        invoice.apply(InvoiceEvent::InvoiceIssued {
            customer_id: CustomerId::new(Uuid::from_u128(7)),
            contract_id: Some(contract),
            number: "F-1".parse().expect("number"),
            amount: lae_domain::Cents(3150),
            issued_on,
            due_on: issued_on,
        });
        for event in events {
            invoice.apply(event.clone());
        }
        invoice
    }

    #[test]
    fn a_termination_closes_the_periods_that_start_after_it_and_only_unpaid_invoices() {
        let contract = ContractId::new(Uuid::from_u128(3));
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let periods = periods_after(contract, on(2026, 12, 15));
        assert_eq!(periods.len(), SCHEDULE_HORIZON_MONTHS as usize);
        assert_eq!(
            periods[0],
            InvoiceId::for_contract_period(contract, 2027, 1)
        );
        assert_eq!(
            periods[23],
            InvoiceId::for_contract_period(contract, 2028, 12)
        );
        assert!(
            !periods.contains(&InvoiceId::for_contract_period(contract, 2026, 12)),
            "the month of the termination stays due"
        );
        // On the last day of a month, the next month is the first closed.
        assert_eq!(
            periods_after(contract, on(2026, 12, 31))[0],
            InvoiceId::for_contract_period(contract, 2027, 1)
        );

        let unpaid = cycle_invoice(contract, 2027, 2, &[]);
        let Some(InvoiceCommand::CancelInvoice {
            cancelled_on,
            reason,
        }) = cancellation_for(&unpaid, contract, on(2026, 12, 15), on(2026, 12, 16))
        else {
            panic!("an unpaid invoice is cancelled");
        };
        assert_eq!(cancelled_on, on(2027, 2, 1), "not before its issue");
        assert_eq!(reason.as_str(), "Contrat résilié le 15/12/2026");
        let rejected = cycle_invoice(
            contract,
            2027,
            1,
            &[InvoiceEvent::PaymentRejected {
                rejected_on: on(2027, 1, 5),
                reason: "AM04".parse().expect("reason"),
                reason_code: None,
            }],
        );
        assert!(cancellation_for(&rejected, contract, on(2026, 12, 15), on(2027, 1, 20)).is_some());
        let paid = cycle_invoice(
            contract,
            2027,
            1,
            &[InvoiceEvent::InvoicePaid {
                paid_on: on(2027, 1, 1),
                amount: lae_domain::Cents(3150),
            }],
        );
        assert_eq!(
            cancellation_for(&paid, contract, on(2026, 12, 15), on(2026, 12, 16)),
            None
        );
        let cancelled = cycle_invoice(
            contract,
            2027,
            1,
            &[InvoiceEvent::InvoiceCancelled {
                cancelled_on: on(2027, 1, 1),
                reason: "x".parse().expect("reason"),
            }],
        );
        assert_eq!(
            cancellation_for(&cancelled, contract, on(2026, 12, 15), on(2026, 12, 16)),
            None
        );
        assert_eq!(
            cancellation_for(
                &Invoice::default(),
                contract,
                on(2026, 12, 15),
                on(2026, 12, 16)
            ),
            None,
            "a period never invoiced"
        );
        let other = ContractId::new(Uuid::from_u128(4));
        assert_eq!(
            cancellation_for(&unpaid, other, on(2026, 12, 15), on(2026, 12, 16)),
            None
        );
    }

    #[test]
    fn texts_too_long_are_cut_not_refused() {
        let long = "é".repeat(700);
        let reason = bounded(&long, Reason::parse);
        assert!(reason.as_str().chars().count() <= 500);
        assert!(reason.as_str().ends_with('…'));
        assert_eq!(bounded("  court ", Reason::parse).as_str(), "court");
    }
}
