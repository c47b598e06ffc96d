//! The Zendesk reactor's handling of one ticket event (see [`crate::zendesk`]).
//!
//! Nothing twice: an event delivered is written to `zendesk_deliveries` before its
//! message is acked, so a redelivery finds it and sends nothing; a crash between
//! Zendesk's answer and that row repeats the call with the same `Idempotency-Key`.
//! Nothing lost: a failed call is nak'd with the wait Zendesk asked for (or a
//! back-off) and JetStream redelivers it; a kill -9 leaves it unacked, redelivered
//! after `ack_wait`.

use std::time::Duration;

use async_nats::jetstream::Message;
use cqrs_es::persist::PersistedEventRepository as _;
use lae_domain::ticket::{Ticket, TicketEvent};
use lae_domain::{Channel, CustomerId};
use lae_projections::Envelope;
use lae_store::Source;
use lae_store::repository::erased_subject;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Handler, SOURCE_HEADER, header};
use crate::metrics::Outcome;
use crate::zendesk::{self, Answer, Requester, ZendeskClient};

type Settled = (Outcome, Option<Duration>);

impl Handler {
    /// Delivers one ticket event to Zendesk; the delay is when to try again.
    pub(super) async fn deliver(&self, zendesk: &ZendeskClient, message: &Message) -> Settled {
        let envelope = match Envelope::from_json(&message.payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!(subject = %message.subject, %error, "a message that is not an event envelope");
                return (Outcome::Failed, None);
            }
        };
        if !self
            .reactor
            .follows(&envelope.aggregate_type, &envelope.event_type)
        {
            return (Outcome::Skipped, None);
        }
        let (delivered, behind) = message
            .info()
            .map_or((1, 0), |info| (info.delivered, info.pending));
        self.metrics
            .zendesk_backlog(behind + 1, Some(envelope.recorded_at));
        let source = header(message.headers.as_ref(), SOURCE_HEADER);
        // What came from Zendesk is not echoed back; the import's history stays here.
        let settled = if source == Some(Source::Zendesk.as_str())
            || source == Some(Source::LegacyMigration.as_str())
        {
            (Outcome::Skipped, None)
        } else {
            self.send(zendesk, &envelope, delivered).await
        };
        if settled.0 != Outcome::Retried {
            self.metrics
                .zendesk_backlog(behind, Some(envelope.recorded_at));
        }
        tracing::debug!(event_id = %envelope.event_id, outcome = ?settled.0, "zendesk");
        settled
    }

    async fn send(&self, zendesk: &ZendeskClient, envelope: &Envelope, delivered: i64) -> Settled {
        let pool = self.commands.events.pool();
        let Ok(ticket) = Uuid::parse_str(&envelope.aggregate_id) else {
            return (Outcome::Failed, None);
        };
        match was_delivered(pool, envelope.event_id).await {
            Ok(true) => return (Outcome::AlreadyDone, None),
            Ok(false) => {}
            Err(error) => return self.store_failure(&error),
        }
        let events = match self
            .commands
            .events
            .get_events::<Ticket>(&envelope.aggregate_id)
            .await
        {
            Ok(events) => events,
            Err(error) if erased_subject(&error).is_some() => return (Outcome::Skipped, None),
            Err(error) => {
                tracing::warn!(%error, "zendesk: reading the ticket failed; will retry");
                return (Outcome::Retried, None);
            }
        };
        let Some(stored) = events
            .iter()
            .find(|e| i64::try_from(e.sequence).ok() == Some(envelope.sequence))
        else {
            tracing::error!(event_id = %envelope.event_id, "zendesk: the event is not in the store");
            return (Outcome::Failed, None);
        };
        let event: TicketEvent = match serde_json::from_value(stored.payload.clone()) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(event_id = %envelope.event_id, %error, "zendesk: an unreadable ticket event");
                return (Outcome::Failed, None);
            }
        };
        let linked = match zendesk_ticket(pool, ticket).await {
            Ok(linked) => linked,
            Err(error) => return self.store_failure(&error),
        };
        let key = envelope.event_id.to_string();
        let (answer, zendesk_id) = if let TicketEvent::TicketOpened {
            channel,
            customer_id,
            ..
        } = &event
        {
            let opened_by_policy = stored.metadata.get("source").and_then(Value::as_str)
                == Some(Source::Policy.as_str());
            // The platform's own notices to sales stay on the platform.
            if *channel == Channel::Internal || opened_by_policy {
                return (Outcome::Skipped, None);
            }
            if let Some(id) = linked {
                return self.record(pool, envelope, ticket, id).await;
            }
            let requester = match customer_id {
                Some(customer) => self.requester(*customer).await,
                None => None,
            };
            let Some(body) =
                zendesk::creation(ticket, &event, requester.as_ref(), zendesk.reason_field())
            else {
                return (Outcome::Skipped, None);
            };
            (zendesk.create_ticket(&body, &key).await, None)
        } else {
            let Some(body) = zendesk::update(&event) else {
                return (Outcome::Skipped, None);
            };
            // A ticket Zendesk never had (a notice, one opened before the link).
            let Some(id) = linked else {
                return (Outcome::Skipped, None);
            };
            let Ok(number) = u64::try_from(id) else {
                return (Outcome::Failed, None);
            };
            (zendesk.update_ticket(number, &body, &key).await, Some(id))
        };
        match answer {
            Answer::Done(body) => {
                let Some(id) = zendesk_id.or_else(|| body["ticket"]["id"].as_i64()) else {
                    tracing::error!(event_id = %envelope.event_id, "zendesk: a created ticket without an id");
                    return (Outcome::Failed, None);
                };
                if zendesk_id.is_none()
                    && let Err(error) = link(pool, ticket, id).await
                {
                    return self.store_failure(&error);
                }
                match self.record(pool, envelope, ticket, id).await {
                    (Outcome::AlreadyDone, delay) => (Outcome::Acted, delay),
                    other => other,
                }
            }
            Answer::Retry { after, why } => {
                let wait = after.unwrap_or_else(|| zendesk.backoff(delivered));
                tracing::warn!(event_id = %envelope.event_id, attempt = delivered, ?wait, %why, "zendesk: will retry");
                (Outcome::Retried, Some(wait))
            }
            Answer::Refused { status, why } => {
                tracing::error!(event_id = %envelope.event_id, status, %why, "zendesk refused a delivery; it is dropped");
                (Outcome::Failed, None)
            }
        }
    }

    /// Writes the delivery down (answered as already done).
    async fn record(&self, pool: &PgPool, envelope: &Envelope, ticket: Uuid, id: i64) -> Settled {
        let recorded = sqlx::query(
            "INSERT INTO zendesk_deliveries (event_id, ticket_id, zendesk_id, event_type) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(envelope.event_id)
        .bind(ticket)
        .bind(id)
        .bind(&envelope.event_type)
        .execute(pool)
        .await;
        match recorded {
            Ok(_) => (Outcome::AlreadyDone, None),
            Err(error) => self.store_failure(&error),
        }
    }

    /// The customer as Zendesk's requester, when they have an e-mail address.
    async fn requester(&self, customer: CustomerId) -> Option<Requester> {
        let (found, _) = self
            .commands
            .customers
            .load(&customer.to_string())
            .await
            .ok()?;
        let contact = found.contact()?;
        Some(Requester {
            name: format!(
                "{} {}",
                contact.first_name.as_str(),
                contact.last_name.as_str()
            ),
            email: contact.email.as_ref()?.as_str().to_owned(),
        })
    }

    fn store_failure(&self, error: &sqlx::Error) -> Settled {
        tracing::warn!(%error, "zendesk: the database failed; will retry");
        (Outcome::Retried, Some(self.retry))
    }
}

async fn was_delivered(pool: &PgPool, event: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM zendesk_deliveries WHERE event_id = $1)")
        .bind(event)
        .fetch_one(pool)
        .await
}

/// Zendesk's ticket of a platform ticket, if it has one.
pub async fn zendesk_ticket(pool: &PgPool, ticket: Uuid) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT zendesk_id FROM zendesk_tickets WHERE ticket_id = $1")
        .bind(ticket)
        .fetch_optional(pool)
        .await
}

async fn link(pool: &PgPool, ticket: Uuid, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO zendesk_tickets (ticket_id, zendesk_id, origin) VALUES ($1, $2, 'platform') \
         ON CONFLICT (ticket_id) DO NOTHING",
    )
    .bind(ticket)
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ())
}
