//! The live projector of one department: pull from JetStream, apply in batches, ack.
//!
//! One loop per department, with one durable pull consumer. Messages are taken as
//! they come: the first one is awaited, then whatever else the client already holds is
//! added, up to the batch size. A quiet stream thus costs one transaction per event
//! (lowest latency), a backlog is drained in large batches (highest throughput). A
//! batch is applied in one transaction; only after the commit are its messages acked
//! (or, for held-back ones, NAKed with a delay), so a crash anywhere before leaves them
//! to be redelivered, and [`crate::apply`] makes a redelivery change nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::message::Message;
use futures::{FutureExt, StreamExt};
use lae_store::db::DbSettings;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::apply::{ApplyError, Verdict, apply};
use crate::config::ProjectorConfig;
use crate::db::writer_pool;
use crate::decode::Decoder;
use crate::department::Department;
use crate::envelope::Envelope;
use crate::error::ProjectionError;
use crate::metrics::{DepartmentMetrics, ProjectionMetrics};
use crate::nats;

/// Runs a department's projector until `shutdown` completes.
///
/// `pool` must log in as the department's writer role ([`crate::db::writer_pool`]).
/// Broker and database failures are retried with back-off (the projector starts even
/// when NATS or PostgreSQL is down); only an invalid configuration is returned. On
/// shutdown the batch in hand is finished (committed and acked) before returning.
pub async fn run_projector(
    department: Department,
    pool: PgPool,
    config: ProjectorConfig,
    metrics: Arc<ProjectionMetrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ProjectionError> {
    config.validate()?;
    let m = metrics.department(department);
    let mut shutdown = std::pin::pin!(shutdown);
    let client = nats::connect(&config, &format!("lae-projection {department}")).await?;
    let context = nats::context(client.clone());
    let decoder = match &config.master_keys {
        Some(masters) => Decoder::with_keys(department, masters.clone()),
        None => Decoder::new(department),
    };
    let projector = Projector {
        decoder,
        pool,
        config: &config,
        metrics: m,
    };
    let mut failures = 0usize;
    loop {
        let consumer = tokio::select! {
            () = &mut shutdown => break,
            c = nats::consumer(&client, &context, &config, department) => c,
        };
        let outcome = match consumer {
            Ok(consumer) => {
                failures = 0;
                m.set_connected(true);
                let outcome = projector.consume(consumer, shutdown.as_mut()).await;
                m.set_connected(false);
                outcome
            }
            Err(e) => Consumed::Failed(e.to_string()),
        };
        match outcome {
            Consumed::Shutdown => break,
            Consumed::Failed(error) => {
                failures += 1;
                let delay = nats::backoff_delay(failures, config.max_backoff);
                tracing::warn!(department = %department, %error, retry_in = ?delay, "projector cannot consume; retrying");
                if sleep_or_shutdown(delay, shutdown.as_mut()).await {
                    break;
                }
            }
        }
    }
    m.set_connected(false);
    tracing::info!(department = %department, "projector stopped");
    Ok(())
}

/// Runs the projectors of `config.departments` (all five by default), each with a pool
/// of its own writer role, until `shutdown`.
pub async fn run_all(
    settings: &DbSettings,
    config: ProjectorConfig,
    metrics: Arc<ProjectionMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProjectionError> {
    config.validate()?;
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for department in config.departments.clone() {
        let pool = writer_pool(
            settings,
            department,
            config.db_password.as_deref(),
            config.db_pool_size,
        );
        let mut stopped = stopped.clone();
        let signal = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        tasks.push(tokio::spawn(run_projector(
            department,
            pool,
            config.clone(),
            metrics.clone(),
            signal,
        )));
    }
    shutdown.await;
    let _ = stop.send(true);
    let mut result = Ok(());
    for task in tasks {
        match task.await {
            Ok(Err(e)) if result.is_ok() => result = Err(e),
            Err(e) if result.is_ok() => {
                result = Err(ProjectionError::Config(format!(
                    "a projector task failed: {e}"
                )));
            }
            _ => {}
        }
    }
    result
}

/// How a consumer's loop ended.
enum Consumed {
    Shutdown,
    /// The consumer or its message stream failed: get it again after a back-off.
    Failed(String),
}

struct Projector<'a> {
    decoder: Decoder,
    pool: PgPool,
    config: &'a ProjectorConfig,
    metrics: &'a DepartmentMetrics,
}

impl Projector<'_> {
    async fn consume(
        &self,
        mut consumer: PullConsumer,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Consumed {
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.config.batch_size)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await;
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => return Consumed::Failed(e.to_string()),
        };
        let mut lag_poll = tokio::time::interval(self.config.lag_poll);
        let mut failures = 0usize;
        loop {
            let next = tokio::select! {
                biased;
                () = &mut shutdown => return Consumed::Shutdown,
                _ = lag_poll.tick() => {
                    if let Ok(info) = consumer.info().await {
                        self.metrics.set_events_behind(
                            info.num_pending + info.num_ack_pending as u64,
                        );
                    }
                    continue;
                }
                next = messages.next() => next,
            };
            let first = match next {
                Some(Ok(message)) => message,
                Some(Err(e)) => match e.kind() {
                    // The client re-issues its pull after a missed heartbeat.
                    MessagesErrorKind::MissingHeartbeat => continue,
                    _ => return Consumed::Failed(e.to_string()),
                },
                None => return Consumed::Failed("the message stream ended".into()),
            };
            let mut batch = vec![first];
            while batch.len() < self.config.batch_size {
                match messages.next().now_or_never() {
                    Some(Some(Ok(message))) => batch.push(message),
                    _ => break,
                }
            }
            if !self.config.batch_linger.is_zero() {
                let until = tokio::time::Instant::now() + self.config.batch_linger;
                while batch.len() < self.config.batch_size {
                    match tokio::time::timeout_at(until, messages.next()).await {
                        Ok(Some(Ok(message))) => batch.push(message),
                        _ => break,
                    }
                }
            }
            if self.process(batch).await {
                failures = 0;
            } else {
                failures += 1;
                let delay = nats::backoff_delay(failures, self.config.max_backoff);
                if sleep_or_shutdown(delay, shutdown.as_mut()).await {
                    return Consumed::Shutdown;
                }
            }
        }
    }

    /// Applies one batch and settles its messages; false when the batch was rolled back.
    async fn process(&self, batch: Vec<Message>) -> bool {
        let mut envelopes = Vec::with_capacity(batch.len());
        let mut slots = Vec::with_capacity(batch.len());
        for message in &batch {
            match Envelope::from_json(&message.payload) {
                Ok(envelope) => {
                    slots.push(Some(envelopes.len()));
                    envelopes.push(envelope);
                }
                Err(error) => {
                    tracing::warn!(department = %self.decoder.department(), subject = %message.subject, %error, "held back a message that is not an envelope");
                    slots.push(None);
                }
            }
        }
        let malformed = slots.iter().filter(|s| s.is_none()).count() as u64;
        if malformed > 0 {
            self.metrics.record_malformed(malformed);
        }
        let verdicts = match self.apply_in_transaction(&envelopes).await {
            Ok(v) => v,
            Err(error) => {
                self.metrics.record_failure();
                tracing::warn!(department = %self.decoder.department(), %error, messages = batch.len(), "batch rolled back; its messages will be redelivered");
                // Redeliver at once, in order, ahead of newer messages; the back-off
                // before the next pull keeps a failing database from being hammered.
                for message in &batch {
                    settle(message, AckKind::Nak(None)).await;
                }
                return false;
            }
        };
        let retry = AckKind::Nak(Some(self.config.retry_delay));
        for (message, slot) in batch.iter().zip(&slots) {
            let verdict = slot.and_then(|i| verdicts.get(i).copied());
            match verdict {
                Some(v) if v.is_final() => settle(message, AckKind::Ack).await,
                _ => settle(message, retry).await,
            }
        }
        let last_applied = envelopes
            .iter()
            .zip(&verdicts)
            .rev()
            .find(|(_, v)| matches!(v, Verdict::Applied | Verdict::Redacted))
            .map(|(e, _)| (e.global_position, e.recorded_at));
        self.metrics.record_batch(&verdicts, last_applied);
        let now = chrono::Utc::now();
        for (e, v) in envelopes.iter().zip(&verdicts) {
            if *v == Verdict::Applied {
                self.metrics
                    .observe_lag((now - e.recorded_at).as_seconds_f64());
            }
        }
        if let Some(Ok(info)) = batch.last().map(Message::info) {
            self.metrics.set_events_behind(info.pending);
        }
        true
    }

    async fn apply_in_transaction(
        &self,
        envelopes: &[Envelope],
    ) -> Result<Vec<Verdict>, ApplyError> {
        let mut tx = self.pool.begin().await?;
        let verdicts = apply(
            &mut tx,
            &self.decoder,
            self.decoder.department().schema(),
            envelopes,
        )
        .await?;
        tx.commit().await?;
        Ok(verdicts)
    }
}

/// Acks or NAKs a message. A lost ack only means a redelivery, which changes nothing.
async fn settle(message: &Message, kind: AckKind) {
    if let Err(error) = message.ack_with(kind).await {
        tracing::debug!(%error, "could not settle a message; it will be redelivered");
    }
}

/// Sleeps, or returns true early when shutdown completes first.
async fn sleep_or_shutdown(
    delay: Duration,
    shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
) -> bool {
    tokio::select! {
        () = shutdown => true,
        () = tokio::time::sleep(delay) => false,
    }
}
