//! The JetStream sink: publishes a batch pipelined, then collects the acks in order.
//!
//! # Order across failures
//! Pipelining means that a message can fail while the ones after it succeed: the
//! stream may refuse one message (too large, or during a cluster leader change), and a
//! connection that breaks in the middle of a batch loses whatever was in its write
//! buffer while the messages still queued in the client are sent after the reconnect.
//! Without care, event 101 could be stored before events 51..100, which the retry then
//! stores after it. To rule that out, every message but the first of an attempt carries
//! `Nats-Expected-Last-Msg-Id`
//! = the id of the event before it, so the stream stores it only right behind its
//! predecessor. A message that lost its predecessor is refused ("wrong last msg ID")
//! instead of being stored out of order, the batch fails, and the retry resumes from
//! the last acknowledged event. The first message of an attempt carries no expectation
//! (the stream's last message may be another relay's, or gone after a stream reset);
//! it is safe because everything before it is already acknowledged, and everything an
//! earlier attempt still has queued in this client is sent ahead of it.
//!
//! The server checks `Nats-Msg-Id` before the expectation (verified on nats-server
//! 2.9.10), so a re-published event that the stream already holds is acknowledged as a
//! duplicate whatever its expectation says.

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::jetstream::{self, ContextBuilder};
use async_nats::{Client, ConnectOptions, HeaderMap};

use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::message::Outbound;

/// How long a batch waits for a (re)connecting client before failing.
const CONNECT_GRACE: Duration = Duration::from_millis(500);

/// One acknowledged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The message's sequence in the stream.
    pub stream_sequence: u64,
    /// The stream already held this message id (a re-publish).
    pub duplicate: bool,
}

/// The outcome of a batch on one sink: how many messages, from the first, the sink
/// confirmed, and what stopped it if not all.
#[derive(Debug)]
pub(crate) struct SinkOutcome<T> {
    pub confirmed: Vec<T>,
    pub error: Option<RelayError>,
}

/// Messages sent and whose acks are outstanding.
pub(crate) struct PendingAcks {
    futures: Vec<PublishAckFuture>,
    send_error: Option<RelayError>,
}

impl std::fmt::Debug for PendingAcks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAcks")
            .field("outstanding", &self.futures.len())
            .field("send_error", &self.send_error)
            .finish()
    }
}

/// A JetStream publisher bound to the relay's stream and subject prefix.
#[derive(Debug)]
pub(crate) struct NatsSink {
    client: Client,
    context: jetstream::Context,
    stream: StreamConfig,
    subject_prefix: String,
    stream_ready: bool,
    /// The id of the last message sent in the current attempt (see the module docs).
    last_sent: Option<String>,
}

impl NatsSink {
    /// A client for the configured servers. With `wait_for_server` false the call does
    /// not wait for the server: the client connects, and reconnects, in the background,
    /// so that a relay started while NATS is down neither fails nor blocks its caller.
    pub(crate) async fn connect(
        config: &RelayConfig,
        wait_for_server: bool,
    ) -> Result<Self, RelayError> {
        let servers: Vec<&str> = config
            .nats_url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let mut options = ConnectOptions::new()
            .name(format!("lae-relay {}", config.name))
            .request_timeout(Some(config.ack_timeout))
            // The first attempt (after start, or after a disconnect) goes at once;
            // later ones back off up to the relay's own ceiling, so that a server that
            // is back is found about as fast as the relay retries.
            .reconnect_delay_callback({
                let cap = config.max_backoff;
                move |attempts| match attempts.checked_sub(2) {
                    None => Duration::ZERO,
                    Some(failed) => backoff_delay(failed, cap),
                }
            });
        if !wait_for_server {
            options = options.retry_on_initial_connect();
        }
        let client = options.connect(servers).await?;
        let context = ContextBuilder::new()
            .timeout(config.ack_timeout)
            // After a failure, the acks the relay stopped waiting for are handed to the
            // client's background acker, which holds an in-flight permit for each until
            // its reply comes or this timeout passes. Replies to messages lost with a
            // dead server never come: with the default 30 s, two failed batches could
            // use up the permits and stall the retry for half a minute.
            .ack_timeout(config.ack_timeout)
            // The relay awaits every ack of a batch before sending the next one; the
            // margin is for acks abandoned by failed attempts (see above).
            .max_ack_inflight(config.batch_size.saturating_mul(4).max(4096))
            .build(client.clone());
        Ok(Self {
            client,
            context,
            stream: stream_config(config),
            subject_prefix: config.subject_prefix.clone(),
            stream_ready: false,
            last_sent: None,
        })
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Gives a client that is (re)connecting a moment, so that the first batch after
    /// start or after a server restart does not fail for nothing.
    async fn wait_connected(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Creates the stream when it is missing (once per connection, and again after a
    /// failure, since the server may have come back with an empty store).
    pub(crate) async fn ensure_stream(&mut self) -> Result<(), RelayError> {
        if !self.stream_ready {
            self.context
                .get_or_create_stream(self.stream.clone())
                .await?;
            self.stream_ready = true;
        }
        Ok(())
    }

    /// Sends the batch without waiting for acks. A send that fails stops the batch; the
    /// messages sent before it are still pending and can be acknowledged.
    pub(crate) async fn send(&mut self, batch: &[Outbound]) -> PendingAcks {
        let mut futures = Vec::with_capacity(batch.len());
        let mut send_error = None;
        if !self.wait_connected(CONNECT_GRACE).await {
            // Sending now would only queue messages in the client: fail and let the
            // relay back off instead.
            send_error = Some(RelayError::NatsNotConnected);
        } else if let Err(e) = self.ensure_stream().await {
            send_error = Some(e);
        } else {
            for event in batch {
                let id = event.message_id();
                let mut message = PublishMessage::build()
                    .payload(event.body.clone())
                    .headers(header_map(event))
                    .message_id(&id);
                if let Some(previous) = &self.last_sent {
                    message = message.expected_last_message_id(previous);
                }
                let subject = format!("{}.{}", self.subject_prefix, event.routing_key);
                match self.context.send_publish(subject, message).await {
                    Ok(ack) => {
                        futures.push(ack);
                        self.last_sent = Some(id);
                    }
                    Err(e) => {
                        send_error = Some(e.into());
                        break;
                    }
                }
            }
        }
        if send_error.is_some() {
            self.failed();
        }
        PendingAcks {
            futures,
            send_error,
        }
    }

    /// Awaits the acks in publish order, stopping at the first failure; `on_ack` sees
    /// each ack (with the message's index in the batch) as soon as it arrives.
    pub(crate) async fn acks(
        &mut self,
        pending: PendingAcks,
        mut on_ack: impl FnMut(usize, Ack),
    ) -> SinkOutcome<Ack> {
        let mut confirmed = Vec::with_capacity(pending.futures.len());
        let mut error = pending.send_error;
        for (index, future) in pending.futures.into_iter().enumerate() {
            match future.await {
                Ok(ack) => {
                    let ack = Ack {
                        stream_sequence: ack.sequence,
                        duplicate: ack.duplicate,
                    };
                    on_ack(index, ack);
                    confirmed.push(ack);
                }
                Err(e) => {
                    if e.kind() == PublishErrorKind::StreamNotFound {
                        tracing::warn!(stream = %self.stream.name, "the JetStream stream is gone; it will be created again");
                    }
                    // The remaining futures are dropped: the client's acker task
                    // collects their replies.
                    error = Some(e.into());
                    break;
                }
            }
        }
        if error.is_some() {
            self.failed();
        }
        SinkOutcome { confirmed, error }
    }

    /// Starts a new publish chain: the next message carries no expectation. Called at
    /// the start of each leadership, since another relay may have published meanwhile.
    pub(crate) fn restart_chain(&mut self) {
        self.last_sent = None;
    }

    /// After a failure the next attempt starts a new chain and checks the stream again.
    fn failed(&mut self) {
        self.last_sent = None;
        self.stream_ready = false;
    }

    /// Flushes what the client still buffers (on graceful shutdown).
    pub(crate) async fn close(self, within: Duration) {
        if tokio::time::timeout(within, self.client.flush())
            .await
            .is_err()
        {
            tracing::debug!("NATS flush on shutdown timed out");
        }
    }
}

pub(crate) fn header_map(event: &Outbound) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in &event.headers {
        map.insert(*name, value.as_str());
    }
    map
}

/// The stream the relay publishes to: file storage (events are the platform's
/// history), and a de-duplication window long enough to cover a relay restart or a
/// NATS outage of a few minutes.
pub(crate) fn stream_config(config: &RelayConfig) -> StreamConfig {
    StreamConfig {
        name: config.stream.clone(),
        subjects: vec![config.stream_subjects()],
        storage: StorageType::File,
        duplicate_window: config.duplicate_window,
        num_replicas: config.stream_replicas,
        description: Some("LAE domain events, relayed from the PostgreSQL event store".into()),
        ..Default::default()
    }
}

/// Exponential back-off: 100 ms, 200 ms, 400 ms, ... capped.
pub(crate) fn backoff_delay(attempt: usize, cap: Duration) -> Duration {
    let exponent = u32::try_from(attempt.min(16)).unwrap_or(16);
    Duration::from_millis(100)
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(5);
        assert_eq!(backoff_delay(0, cap), Duration::from_millis(100));
        assert_eq!(backoff_delay(1, cap), Duration::from_millis(200));
        assert_eq!(backoff_delay(5, cap), Duration::from_millis(3200));
        assert_eq!(backoff_delay(6, cap), cap);
        assert_eq!(backoff_delay(usize::MAX, cap), cap);
    }

    #[test]
    fn the_stream_captures_the_prefix() {
        let config = RelayConfig {
            stream: "S1".into(),
            subject_prefix: "t.x".into(),
            ..RelayConfig::default()
        };
        let stream = stream_config(&config);
        assert_eq!(stream.name, "S1");
        assert_eq!(stream.subjects, vec!["t.x.>".to_owned()]);
        assert_eq!(stream.duplicate_window, Duration::from_secs(600));
        assert_eq!(stream.storage, StorageType::File);
    }
}
