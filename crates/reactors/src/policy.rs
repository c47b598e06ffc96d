//! What each reactor decides, apart from how it consumes and commands: pure functions
//! from an event (and the state of the aggregate it concerns) to the commands to send,
//! with the ids those commands target.
//!
//! Every id here is derived from the causing event, so that a redelivery, a restart or
//! a second reactor instance targets the same aggregate, which refuses the second
//! command (`already requested`, `already opened`, `already routed there`): the
//! reactor counts that as done.

use chrono::{DateTime, NaiveDate, Utc};
use lae_domain::contract::{Contract, ContractEvent};
use lae_domain::invoice::{Invoice, InvoiceEvent};
use lae_domain::ticket::TicketCommand;
use lae_domain::{Channel, CustomerId, Department, Note, OperatorName, Reason, TicketId};
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
/// reported to sales.
#[must_use]
pub fn invoice_notice(event: &InvoiceEvent, invoice: &Invoice) -> Option<SalesNotice> {
    let details = invoice.details()?;
    match event {
        InvoiceEvent::PaymentRejected {
            rejected_on,
            reason,
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
        InvoiceEvent::InvoiceIssued { .. }
        | InvoiceEvent::InvoicePaid { .. }
        | InvoiceEvent::InvoiceCancelled { .. } => None,
    }
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

    #[test]
    fn texts_too_long_are_cut_not_refused() {
        let long = "é".repeat(700);
        let reason = bounded(&long, Reason::parse);
        assert!(reason.as_str().chars().count() <= 500);
        assert!(reason.as_str().ends_with('…'));
        assert_eq!(bounded("  court ", Reason::parse).as_str(), "court");
    }
}
