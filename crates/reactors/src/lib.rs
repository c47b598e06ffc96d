//! Reactors (process managers): every cross-aggregate consequence of an event, run as
//! a durable JetStream consumer that turns events into commands.
//!
//! A reactor reads the relay's stream with a durable pull consumer of its own
//! (`<prefix>_<reactor>`), decodes each event, decides what to command ([`policy`])
//! and acks only once the commands are committed. Every instance with the same prefix
//! shares the consumer: JetStream hands each message to one of them, and redelivers it
//! (to any) when it is not acked within `ack_wait`, e.g. after a kill -9.
//!
//! Exactly-once *effects* on at-least-once delivery: the commands target ids derived
//! from the causing event (the contract of an offer, the ticket of a notice), so a
//! second delivery meets an aggregate that refuses it as already done, which counts
//! as success. Each command carries the causing event as `causation_id`, its
//! correlation id, and `source: policy`.
//!
//! # The reactors
//! - [`Reactor::ContractRequests`]: offer accepted → contract requested from legal
//!   (the offer → contract policy of the domain, moved off the HTTP edge).
//! - [`Reactor::InformSales`]: contract signed, contract terminated, payment
//!   rejected, an invoice sales requested issued or refused → a ticket in the sales
//!   inbox ("informer le département Vente"), opened by the platform on the internal
//!   channel and routed to sales with a note.
//! - [`Reactor::CloseSchedule`]: contract terminated → its cycle invoices for the
//!   months after the termination, neither paid nor cancelled, are cancelled
//!   ("Contrat résilié le JJ/MM/AAAA").
//! - [`Reactor::Zendesk`]: a ticket opened, worked, routed or resolved on the platform
//!   → the same in Zendesk ([`zendesk`]), when `LAE_ZENDESK_URL` is set. Its consumer
//!   has one message in flight at a time, so that Zendesk sees a ticket's events in
//!   their order, and retries a delivery by asking JetStream to redeliver it later.
//!
//! Events of the legacy import cause nothing: they are history the departments already
//! knew.

pub mod config;
pub mod error;
pub mod metrics;
pub mod policy;
mod reactor;
pub mod zendesk;

use std::future::Future;
use std::sync::Arc;

use lae_domain::contract::Contract;
use lae_domain::customer::Customer;
use lae_domain::invoice::Invoice;
use lae_domain::ticket::Ticket;
use lae_store::{CommandExecutor, EventRepository};

pub use config::ReactorConfig;
pub use error::ReactorError;
pub use metrics::ReactorMetrics;

/// One reactor: what it follows and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reactor {
    /// Offer accepted → contract requested.
    ContractRequests,
    /// Contract signed or terminated, payment rejected, requested invoice issued or
    /// refused → a notice in the sales inbox.
    InformSales,
    /// Contract terminated → its unpaid invoices of later months cancelled.
    CloseSchedule,
    /// A ticket's life on the platform → Zendesk (only when Zendesk is configured).
    Zendesk,
}

impl Reactor {
    /// Every reactor, in the order they start.
    pub const ALL: [Self; 4] = [
        Self::ContractRequests,
        Self::InformSales,
        Self::CloseSchedule,
        Self::Zendesk,
    ];

    /// The name in consumer names, logs and metrics.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ContractRequests => "contract_requests",
            Self::InformSales => "inform_sales",
            Self::CloseSchedule => "close_schedule",
            Self::Zendesk => "zendesk",
        }
    }

    /// The `(aggregate type, event type)` pairs it reacts to.
    #[must_use]
    pub fn triggers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::ContractRequests => &[("Offer", "OfferAccepted")],
            Self::InformSales => &[
                ("Contract", "ContractSigned"),
                ("Contract", "ContractTerminated"),
                ("Invoice", "PaymentRejected"),
                ("Invoice", "InvoiceIssued"),
                ("Invoice", "InvoiceRequestRefused"),
            ],
            Self::CloseSchedule => &[("Contract", "ContractTerminated")],
            Self::Zendesk => &[
                ("Ticket", "TicketOpened"),
                ("Ticket", "ActionRecorded"),
                ("Ticket", "TicketRouted"),
                ("Ticket", "TicketResolved"),
            ],
        }
    }

    /// Whether it reacts to this event.
    #[must_use]
    pub fn follows(self, aggregate_type: &str, event_type: &str) -> bool {
        self.triggers()
            .iter()
            .any(|&(a, e)| a == aggregate_type && e == event_type)
    }
}

impl std::fmt::Display for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The aggregates the reactors command (and load, to know whom an event concerns).
#[derive(Debug)]
pub struct Commands {
    /// The store itself, to read a ticket's events opened (the Zendesk reactor).
    pub events: EventRepository,
    pub customers: CommandExecutor<Customer>,
    pub contracts: CommandExecutor<Contract>,
    pub invoices: CommandExecutor<Invoice>,
    pub tickets: CommandExecutor<Ticket>,
}

impl Commands {
    /// Executors on `events` (which seals personal fields when it has a keyring: the
    /// reason of a notice is one).
    #[must_use]
    pub fn new(events: &EventRepository) -> Self {
        Self {
            events: events.clone(),
            customers: CommandExecutor::new(events.clone(), ()),
            contracts: CommandExecutor::new(events.clone(), ()),
            invoices: CommandExecutor::new(events.clone(), ()),
            tickets: CommandExecutor::new(events.clone(), ()),
        }
    }
}

/// Runs every reactor until `shutdown` resolves. Starting while NATS is down neither
/// fails nor blocks: each reactor retries its consumer with back-off.
pub async fn run(
    config: ReactorConfig,
    commands: Arc<Commands>,
    metrics: Arc<ReactorMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ReactorError> {
    config.validate()?;
    let client = reactor::connect(&config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let zendesk = config
        .zendesk
        .as_ref()
        .map(zendesk::ZendeskClient::new)
        .transpose()?;
    for reactor in Reactor::ALL {
        if reactor == Reactor::Zendesk && zendesk.is_none() {
            continue;
        }
        let mut stopped = stopped.clone();
        let signal = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        tasks.push(tokio::spawn(reactor::run_one(
            reactor,
            client.clone(),
            config.clone(),
            commands.clone(),
            metrics.clone(),
            zendesk.clone(),
            signal,
        )));
    }
    shutdown.await;
    let _ = stop.send(true);
    for task in tasks {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "a reactor task failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reactor_follows_its_triggers_only() {
        assert!(Reactor::ContractRequests.follows("Offer", "OfferAccepted"));
        assert!(!Reactor::ContractRequests.follows("Offer", "OfferDeclined"));
        assert!(!Reactor::ContractRequests.follows("Contract", "OfferAccepted"));
        assert!(Reactor::InformSales.follows("Invoice", "PaymentRejected"));
        assert!(Reactor::InformSales.follows("Contract", "ContractTerminated"));
        assert!(!Reactor::InformSales.follows("Contract", "ContractRequested"));
        assert!(Reactor::InformSales.follows("Invoice", "InvoiceRequestRefused"));
        assert!(Reactor::CloseSchedule.follows("Contract", "ContractTerminated"));
        assert!(!Reactor::CloseSchedule.follows("Contract", "ContractSigned"));
        assert!(Reactor::Zendesk.follows("Ticket", "TicketResolved"));
        assert!(!Reactor::Zendesk.follows("Ticket", "SatisfactionRated"));
    }
}
