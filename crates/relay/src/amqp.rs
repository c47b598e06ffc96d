//! The optional RabbitMQ sink (AMQP 0-9-1): a durable topic exchange, persistent
//! messages, publisher confirms awaited before the checkpoint moves.
//!
//! RabbitMQ has no de-duplication: a batch re-published after a failure delivers again
//! whatever the broker had already confirmed. Consumers de-duplicate by `message_id`
//! (the event id). Within one channel RabbitMQ keeps publish order, and a failed batch
//! is retried from its first unconfirmed event, so each queue sees every aggregate's
//! events in order, possibly with repeats.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    PublisherConfirm,
};

use crate::error::RelayError;
use crate::message::Outbound;
use crate::publisher::SinkOutcome;

/// AMQP delivery mode 2: the broker writes the message to disk (on durable queues).
const PERSISTENT: u8 = 2;

/// A confirming channel on the relay's exchange, (re)connected lazily.
pub(crate) struct AmqpSink {
    url: String,
    exchange: String,
    /// Bound on connecting, and on each publisher confirm.
    timeout: Duration,
    session: Option<(Connection, Channel)>,
}

impl std::fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSink")
            .field("url", &crate::config::redact_url(&self.url))
            .field("exchange", &self.exchange)
            .field("connected", &self.session.is_some())
            .finish()
    }
}

/// Messages sent and whose confirms are outstanding.
pub(crate) struct PendingConfirms {
    confirms: Vec<PublisherConfirm>,
    send_error: Option<RelayError>,
}

impl std::fmt::Debug for PendingConfirms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingConfirms")
            .field("outstanding", &self.confirms.len())
            .field("send_error", &self.send_error)
            .finish()
    }
}

impl AmqpSink {
    /// Does not connect: the first batch does, so that a broker that is down delays
    /// publishing but not the relay's start.
    pub(crate) fn new(url: String, exchange: String, timeout: Duration) -> Self {
        Self {
            url,
            exchange,
            timeout,
            session: None,
        }
    }

    async fn channel(&mut self) -> Result<Channel, RelayError> {
        if let Some((connection, channel)) = &self.session
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        self.session = None;
        let opening = async {
            let connection =
                Connection::connect(&self.url, ConnectionProperties::default()).await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channel
                .exchange_declare(
                    ShortString::from(self.exchange.as_str()),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, RelayError>((connection, channel))
        };
        // An unreachable host would otherwise hold the relay for the system's TCP
        // connect timeout, minutes.
        let (connection, channel) = tokio::time::timeout(self.timeout, opening)
            .await
            .map_err(|_| RelayError::AmqpTimeout("connecting"))??;
        tracing::info!(exchange = %self.exchange, "AMQP sink connected");
        self.session = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Publishes the batch without waiting for confirms.
    pub(crate) async fn send(&mut self, batch: &[Outbound]) -> PendingConfirms {
        let mut confirms = Vec::with_capacity(batch.len());
        let mut send_error = None;
        match self.channel().await {
            Err(e) => send_error = Some(e),
            Ok(channel) => {
                for event in batch {
                    let published = channel
                        .basic_publish(
                            ShortString::from(self.exchange.as_str()),
                            ShortString::from(event.routing_key.as_str()),
                            BasicPublishOptions::default(),
                            &event.body,
                            properties(event),
                        )
                        .await;
                    match published {
                        Ok(confirm) => confirms.push(confirm),
                        Err(e) => {
                            send_error = Some(e.into());
                            break;
                        }
                    }
                }
            }
        }
        if send_error.is_some() {
            self.session = None;
        }
        PendingConfirms {
            confirms,
            send_error,
        }
    }

    /// Awaits the confirms in publish order, stopping at the first failure.
    pub(crate) async fn confirms(
        &mut self,
        pending: PendingConfirms,
        batch: &[Outbound],
    ) -> SinkOutcome<()> {
        let mut confirmed = Vec::with_capacity(pending.confirms.len());
        let mut error = pending.send_error;
        for (confirm, event) in pending.confirms.into_iter().zip(batch) {
            let Ok(confirmation) = tokio::time::timeout(self.timeout, confirm).await else {
                error = Some(RelayError::AmqpTimeout("waiting for a publisher confirm"));
                break;
            };
            match confirmation {
                Ok(Confirmation::Ack(_)) => confirmed.push(()),
                Ok(Confirmation::Nack(_)) => {
                    error = Some(RelayError::AmqpNack(event.event_id));
                    break;
                }
                // The channel is in confirm mode, so this cannot happen; refusing to
                // count it as delivered is the safe reading.
                Ok(Confirmation::NotRequested) => {
                    error = Some(RelayError::AmqpNack(event.event_id));
                    break;
                }
                Err(e) => {
                    error = Some(e.into());
                    break;
                }
            }
        }
        if error.is_some() {
            self.session = None;
        }
        SinkOutcome { confirmed, error }
    }

    /// Closes the connection (on graceful shutdown).
    pub(crate) async fn close(mut self) {
        if let Some((connection, _)) = self.session.take()
            && let Err(e) = connection
                .close(200, ShortString::from("relay stopping"))
                .await
        {
            tracing::debug!(error = %e, "closing the AMQP connection failed");
        }
    }
}

fn properties(event: &Outbound) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in &event.headers {
        headers.insert(
            ShortString::from(*name),
            AMQPValue::LongString(LongString::from(value.as_str())),
        );
    }
    BasicProperties::default()
        .with_message_id(ShortString::from(event.message_id()))
        .with_content_type(ShortString::from("application/json"))
        .with_type(ShortString::from(event.event_type.as_str()))
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(u64::try_from(event.recorded_at.timestamp()).unwrap_or_default())
        .with_headers(headers)
}
