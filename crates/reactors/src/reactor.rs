//! One reactor's JetStream loop: its durable consumer, the handling of each message and
//! how it is settled.

mod outbound;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, AckKind, Message};
use async_nats::{Client, HeaderMap};
use chrono::{NaiveDate, Utc};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use lae_domain::contract::{ContractError, ContractEvent};
use lae_domain::invoice::InvoiceError;
use lae_domain::offer::{OfferEvent, contract_request_for};
use lae_domain::ticket::TicketError;
use lae_domain::{ContractId, Department as TicketDepartment, OfferId};
use lae_projections::nats::{backoff_delay, connect_to, supports_filter_subjects};
use lae_projections::{Decoder, Department, Envelope, Event};
use lae_store::repository::erased_subject;
use lae_store::{CommandError, EventMetadata, Source};
use uuid::Uuid;

use crate::metrics::Outcome;
use crate::policy::{self, SalesNotice};
use crate::zendesk::ZendeskClient;
use crate::{Commands, Reactor, ReactorConfig, ReactorError, ReactorMetrics};

/// The relay's headers this reads (see `lae_relay::message::headers`).
const SOURCE_HEADER: &str = "Lae-Source";
const CORRELATION_HEADER: &str = "Lae-Correlation-Id";

/// A client that connects, and reconnects, in the background.
pub(crate) async fn connect(config: &ReactorConfig) -> Result<Client, ReactorError> {
    connect_to(&config.nats_url, "lae-reactors", config.max_backoff)
        .await
        .map_err(|e| ReactorError::Nats(e.to_string()))
}

/// The consumer's subjects: one per trigger where the server allows several, else the
/// whole prefix (the reactor then skips what it does not follow).
fn filters(reactor: Reactor, prefix: &str, server_version: &str) -> Vec<String> {
    let subjects: Vec<String> = reactor
        .triggers()
        .iter()
        .map(|(aggregate, event)| format!("{prefix}.{aggregate}.{event}"))
        .collect();
    if subjects.len() == 1 || supports_filter_subjects(server_version) {
        subjects
    } else {
        vec![format!("{prefix}.>")]
    }
}

async fn consumer(
    client: &Client,
    config: &ReactorConfig,
    reactor: Reactor,
) -> Result<PullConsumer, String> {
    let context = jetstream::new(client.clone());
    let stream = context
        .get_stream(&config.stream)
        .await
        .map_err(|e| format!("stream {}: {e}", config.stream))?;
    let name = format!("{}_{}", config.consumer_prefix, reactor.name());
    let mut filter = filters(
        reactor,
        &config.subject_prefix,
        &client.server_info().version,
    );
    let mut consumer_config = PullConfig {
        durable_name: Some(name.clone()),
        description: Some(format!("reactor {reactor}")),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: -1,
        // Zendesk sees a ticket's events in order: one in flight, and a retried one
        // (nak'd with a delay) still counts as in flight until it is acked.
        max_ack_pending: if reactor == Reactor::Zendesk {
            1
        } else {
            i64::try_from(config.concurrency.saturating_mul(8)).unwrap_or(i64::MAX)
        },
        ..Default::default()
    };
    if filter.len() == 1 {
        consumer_config.filter_subject = filter.remove(0);
    } else {
        consumer_config.filter_subjects = filter;
    }
    stream
        .get_or_create_consumer(&name, consumer_config)
        .await
        .map_err(|e| format!("consumer {name}: {e}"))
}

/// Runs one reactor until `shutdown`, getting its consumer again after any failure.
pub(crate) async fn run_one(
    reactor: Reactor,
    client: Client,
    config: ReactorConfig,
    commands: Arc<Commands>,
    metrics: Arc<ReactorMetrics>,
    zendesk: Option<ZendeskClient>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut config = config;
    if reactor == Reactor::Zendesk {
        config.concurrency = 1;
    }
    let handler = Handler {
        reactor,
        decoder: Decoder::new(Department::Management),
        commands,
        metrics,
        retry: config.retry_delay,
        zendesk,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let mut failures = 0usize;
    loop {
        let error = match consumer(&client, &config, reactor).await {
            Ok(consumer) => {
                failures = 0;
                match handler.consume(consumer, &config, shutdown.as_mut()).await {
                    None => return,
                    Some(error) => error,
                }
            }
            Err(error) => error,
        };
        failures += 1;
        let delay = backoff_delay(failures, config.max_backoff);
        tracing::warn!(%reactor, %error, ?delay, "reactor consumer unavailable; retrying");
        tokio::select! {
            () = shutdown.as_mut() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

struct Handler {
    reactor: Reactor,
    decoder: Decoder,
    commands: Arc<Commands>,
    metrics: Arc<ReactorMetrics>,
    retry: Duration,
    /// Zendesk's API, for the Zendesk reactor.
    zendesk: Option<ZendeskClient>,
}

impl Handler {
    /// Handles messages until shutdown (`None`) or a failure of the consumer.
    async fn consume(
        &self,
        consumer: PullConsumer,
        config: &ReactorConfig,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Option<String> {
        let messages = consumer
            .stream()
            .max_messages_per_batch(config.concurrency)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await;
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => return Some(e.to_string()),
        };
        let mut inflight = FuturesUnordered::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.as_mut() => {
                    // Finish what was started: a half-handled message would only be
                    // redelivered, but there is no need to.
                    while inflight.next().await.is_some() {}
                    return None;
                }
                Some(()) = inflight.next(), if !inflight.is_empty() => {}
                next = messages.next(), if inflight.len() < config.concurrency => match next {
                    Some(Ok(message)) => inflight.push(self.process(message)),
                    Some(Err(e)) if matches!(e.kind(), MessagesErrorKind::MissingHeartbeat) => {}
                    Some(Err(e)) => {
                        while inflight.next().await.is_some() {}
                        return Some(e.to_string());
                    }
                    None => {
                        while inflight.next().await.is_some() {}
                        return Some("the message stream ended".into());
                    }
                },
            }
        }
    }

    /// Handles one message, then acks it, asks for it again later, or drops it.
    async fn process(&self, message: Message) {
        let (outcome, delay) = match &self.zendesk {
            Some(zendesk) if self.reactor == Reactor::Zendesk => {
                self.deliver(zendesk, &message).await
            }
            _ => (self.handle(&message).await, None),
        };
        self.metrics.record(self.reactor, outcome);
        let kind = match outcome {
            Outcome::Acted | Outcome::AlreadyDone | Outcome::Skipped => AckKind::Ack,
            Outcome::Retried => AckKind::Nak(Some(delay.unwrap_or(self.retry))),
            Outcome::Failed => AckKind::Term,
        };
        if let Err(error) = message.ack_with(kind).await {
            // A lost ack only means a redelivery, which changes nothing.
            tracing::debug!(reactor = %self.reactor, %error, "could not settle a message");
        }
    }

    async fn handle(&self, message: &Message) -> Outcome {
        let envelope = match Envelope::from_json(&message.payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!(reactor = %self.reactor, subject = %message.subject, %error, "a message that is not an event envelope");
                return Outcome::Failed;
            }
        };
        if !self
            .reactor
            .follows(&envelope.aggregate_type, &envelope.event_type)
        {
            return Outcome::Skipped;
        }
        let headers = message.headers.as_ref();
        if header(headers, SOURCE_HEADER) == Some(Source::LegacyMigration.as_str()) {
            return Outcome::Skipped;
        }
        let decoded = match self.decoder.decode(&envelope) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::error!(reactor = %self.reactor, event_id = %envelope.event_id, %error, "an event this reactor cannot read");
                return Outcome::Failed;
            }
        };
        let correlation = header(headers, CORRELATION_HEADER)
            .and_then(|v| Uuid::parse_str(v).ok())
            .unwrap_or(envelope.event_id);
        let meta = EventMetadata::new(
            format!("reactor:{}", self.reactor.name()),
            "platform",
            Utc::now(),
            correlation,
            Source::Policy,
        )
        .caused_by(envelope.event_id, Source::Policy);
        let id = decoded.id.to_string();
        let outcome = match (self.reactor, &decoded.event) {
            (Reactor::ContractRequests, Event::Offer(event)) => {
                self.request_contract(OfferId::new(decoded.id), event, &meta)
                    .await
            }
            (Reactor::InformSales, Event::Contract(event)) => {
                match self.commands.contracts.load(&id).await {
                    Ok((contract, _)) => match policy::contract_notice(event, &contract) {
                        Some(notice) => self.inform_sales(&envelope, &notice, &meta).await,
                        None => Outcome::Skipped,
                    },
                    Err(error) => self.failure("loading the contract", &error),
                }
            }
            (
                Reactor::CloseSchedule,
                Event::Contract(ContractEvent::ContractTerminated { terminated_on, .. }),
            ) => {
                self.close_schedule(
                    ContractId::new(decoded.id),
                    *terminated_on,
                    envelope.recorded_at.date_naive(),
                    &meta,
                )
                .await
            }
            (Reactor::InformSales, Event::Invoice(event)) => {
                match self.commands.invoices.load(&id).await {
                    Ok((invoice, _)) => match policy::invoice_notice(event, &invoice) {
                        Some(notice) => self.inform_sales(&envelope, &notice, &meta).await,
                        None => Outcome::Skipped,
                    },
                    Err(error) => self.failure("loading the invoice", &error),
                }
            }
            _ => Outcome::Skipped,
        };
        tracing::debug!(reactor = %self.reactor, event_id = %envelope.event_id, ?outcome, "handled");
        outcome
    }

    async fn request_contract(
        &self,
        offer_id: OfferId,
        event: &OfferEvent,
        meta: &EventMetadata,
    ) -> Outcome {
        let Some((contract_id, command)) = contract_request_for(offer_id, event) else {
            return Outcome::Skipped;
        };
        match self
            .commands
            .contracts
            .execute(&contract_id.to_string(), command, meta)
            .await
        {
            Ok(_) => Outcome::Acted,
            Err(CommandError::Rejected(ContractError::AlreadyRequested)) => Outcome::AlreadyDone,
            Err(error) => self.failure("requesting the contract", &error),
        }
    }

    /// Cancels the contract's unpaid invoices of the months after its termination.
    /// Redelivered, it finds them cancelled (or meets `already cancelled` when two
    /// instances race): done. An invoice paid in between is left alone.
    async fn close_schedule(
        &self,
        contract: ContractId,
        terminated_on: NaiveDate,
        recorded_on: NaiveDate,
        meta: &EventMetadata,
    ) -> Outcome {
        let mut outcome = Outcome::Skipped;
        for invoice_id in policy::periods_after(contract, terminated_on) {
            let id = invoice_id.to_string();
            let invoice = match self.commands.invoices.load(&id).await {
                Ok((invoice, _)) => invoice,
                Err(error) => return self.failure("loading an invoice", &error),
            };
            if invoice.details().is_some() && outcome == Outcome::Skipped {
                outcome = Outcome::AlreadyDone;
            }
            let Some(cancel) =
                policy::cancellation_for(&invoice, contract, terminated_on, recorded_on)
            else {
                continue;
            };
            match self.commands.invoices.execute(&id, cancel, meta).await {
                Ok(_) => outcome = Outcome::Acted,
                Err(CommandError::Rejected(
                    InvoiceError::AlreadyCancelled | InvoiceError::AlreadyPaid,
                )) => {}
                Err(error) => return self.failure("cancelling an invoice", &error),
            }
        }
        outcome
    }

    /// Opens the notice's ticket and routes it to sales; either step already done
    /// (a redelivery after a crash between them) is skipped.
    async fn inform_sales(
        &self,
        envelope: &Envelope,
        notice: &SalesNotice,
        meta: &EventMetadata,
    ) -> Outcome {
        let ticket = policy::ticket_for(envelope.event_id, "inform-sales").to_string();
        let [open, route] = notice.commands(envelope.recorded_at);
        let opened = match self.commands.tickets.execute(&ticket, open, meta).await {
            Ok(_) => true,
            Err(CommandError::Rejected(TicketError::AlreadyOpened)) => false,
            Err(error) => return self.failure("opening the notice", &error),
        };
        match self.commands.tickets.execute(&ticket, route, meta).await {
            Ok(_) => Outcome::Acted,
            Err(CommandError::Rejected(
                TicketError::AlreadyRoutedThere {
                    department: TicketDepartment::Sales,
                }
                | TicketError::Resolved,
            )) if !opened => Outcome::AlreadyDone,
            Err(error) => self.failure("routing the notice to sales", &error),
        }
    }

    /// What a failed command means for its message.
    fn failure<E: std::error::Error>(&self, doing: &str, error: &CommandError<E>) -> Outcome {
        match error {
            CommandError::Conflict | CommandError::VersionMismatch { .. } => Outcome::Retried,
            CommandError::Store(e) if erased_subject(e.as_ref()).is_some() => {
                tracing::info!(reactor = %self.reactor, "{doing}: the customer was erased; nothing to do");
                Outcome::Skipped
            }
            CommandError::Store(e) => {
                tracing::warn!(reactor = %self.reactor, error = %e, "{doing} failed; will retry");
                Outcome::Retried
            }
            CommandError::Rejected(e) => {
                tracing::error!(reactor = %self.reactor, error = %e, "{doing} was refused");
                Outcome::Failed
            }
        }
    }
}

fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(async_nats::HeaderValue::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_filters_only_where_the_server_takes_them() {
        assert_eq!(
            filters(Reactor::ContractRequests, "lae.events", "2.9.10"),
            ["lae.events.Offer.OfferAccepted"]
        );
        assert_eq!(
            filters(Reactor::InformSales, "lae.events", "2.9.10"),
            ["lae.events.>"]
        );
        assert_eq!(
            filters(Reactor::InformSales, "p", "2.10.1"),
            [
                "p.Contract.ContractSigned",
                "p.Contract.ContractTerminated",
                "p.Invoice.PaymentRejected",
                "p.Invoice.InvoiceIssued",
                "p.Invoice.InvoiceRequestRefused"
            ]
        );
        assert_eq!(
            filters(Reactor::CloseSchedule, "p", "2.10.1"),
            ["p.Contract.ContractTerminated"]
        );
    }
}
