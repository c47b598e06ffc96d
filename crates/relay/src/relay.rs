//! The relay loop: take the leader lock, read committed events in commit order,
//! publish them, checkpoint, wait for more.
//!
//! # Leadership
//! Relays of the same name share a checkpoint, so only one may publish: the one
//! holding a session advisory lock on its own connection. Reads and checkpoint writes
//! go through that same connection, so the relay cannot go on after its session (and
//! with it the lock) ended: the next statement fails and the relay starts over as a
//! candidate. Others retry `pg_try_advisory_lock` every `leader_retry` and take over
//! when the leader's session ends. Should two relays ever overlap (a leader whose
//! connection broke while a batch was in flight), JetStream de-duplicates the events
//! both publish and the publish chain keeps their order (see the `publisher` module).
//!
//! # Failures
//! Broker failures keep the lock: the relay backs off exponentially (up to
//! `max_backoff`) and retries from the last acknowledged event, re-reading it from
//! PostgreSQL. Database failures end the leadership and start over.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::amqp::AmqpSink;
use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::message::{Outbound, StoredEvent};
use crate::metrics::{DEPTH_CAP, RelayMetrics};
use crate::observer::{AckedEvent, RelayObserver};
use crate::publisher::{NatsSink, backoff_delay};
use crate::reader::{self, Checkpoint};

/// The channel the relay listens on: the store's append signal
/// (`lae_store::notify::AppendSignal`) notifies it after appends, from a transaction
/// of its own. Notifications only wake the relay early; it polls anyway.
pub const NOTIFY_CHANNEL: &str = lae_store::notify::EVENTS_CHANNEL;

/// A leadership that lasted this long resets the back-off after losing it.
const STABLE_LEADERSHIP: Duration = Duration::from_secs(60);
/// While draining, the depth gauge is refreshed at most this often.
const BACKLOG_REFRESH: Duration = Duration::from_secs(1);
/// After the listening connection failed, wait this long before opening another.
const LISTENER_RETRY: Duration = Duration::from_secs(5);
/// Re-poll delays while events are held back behind a running transaction: from the
/// first to the last, doubling. The transaction holding them back may write no event
/// (an ANALYZE, a migration step, a write in another database of the cluster), so its
/// end brings no notification and only polling notices it; 50 ms bounds the lag this
/// adds, at the cost of at most 20 small index reads a second while held back.
const HELD_BACK_FIRST_POLL: Duration = Duration::from_millis(5);
const HELD_BACK_LAST_POLL: Duration = Duration::from_millis(50);

/// A relay: what to read, where to publish, where to count.
pub struct Relay {
    pool: PgPool,
    config: RelayConfig,
    metrics: Arc<RelayMetrics>,
    observer: Option<Arc<dyn RelayObserver>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.config)
            .field("observer", &self.observer)
            .finish_non_exhaustive()
    }
}

/// The leader's session: the connection holding the lock, and the checkpoint.
struct Leader {
    conn: PgConnection,
    checkpoint: Checkpoint,
}

impl Leader {
    /// Ends the session, which releases the lock at once (rather than when the
    /// server notices a dropped socket).
    async fn release(self) {
        if let Err(e) = self.conn.close().await {
            tracing::debug!(error = %e, "closing the leader connection failed");
        }
    }
}

struct Sinks {
    nats: NatsSink,
    amqp: Option<AmqpSink>,
}

impl Sinks {
    async fn close(self) {
        self.nats.close(Duration::from_secs(2)).await;
        if let Some(amqp) = self.amqp {
            amqp.close().await;
        }
    }
}

impl Relay {
    /// A relay reading through connections like the pool's (same server, database and
    /// role). It opens its own connections — one holding the leader lock, one
    /// listening for notifications — and takes none from the pool.
    pub fn new(pool: PgPool, config: RelayConfig, metrics: Arc<RelayMetrics>) -> Self {
        Self {
            pool,
            config,
            metrics,
            observer: None,
        }
    }

    /// Adds hooks into the publish cycle (benchmarks, fault injection).
    pub fn with_observer(mut self, observer: Arc<dyn RelayObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    pub fn metrics(&self) -> &Arc<RelayMetrics> {
        &self.metrics
    }

    /// Runs until `shutdown` completes. Neither a database nor a broker that is down
    /// makes it fail or return: it logs, backs off and tries again, so it can run
    /// beside the API from the start. On shutdown it finishes the batch in flight
    /// (publish, acks, checkpoint) and releases the lock.
    ///
    /// Returns an error only for an invalid configuration, or when an observer
    /// injected a crash.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RelayError> {
        self.config.validate()?;
        let mut shutdown = Shutdown::new(shutdown);
        let mut sinks: Option<Sinks> = None;
        let mut failures = 0usize;
        tracing::info!(relay = %self.config.name, stream = %self.config.stream, "relay starting");
        let result = loop {
            let Some(mut leader) = self.become_leader(&mut shutdown).await else {
                break Ok(());
            };
            let sinks = match &mut sinks {
                Some(sinks) => sinks,
                None => sinks.insert(self.sinks(false).await?),
            };
            self.metrics.set_leader(true);
            tracing::info!(
                relay = %self.config.name,
                transaction_id = leader.checkpoint.transaction_id,
                global_position = leader.checkpoint.global_position,
                "leader: publishing from the checkpoint"
            );
            let led_since = Instant::now();
            let outcome = self.lead(&mut leader, sinks, &mut shutdown).await;
            self.metrics.set_leader(false);
            // A leadership that lasted was no part of a failure streak.
            if led_since.elapsed() > STABLE_LEADERSHIP {
                failures = 0;
            }
            match outcome {
                Ok(()) => {
                    leader.release().await;
                    break Ok(());
                }
                // A simulated crash: leave without any goodbye, like a dead process.
                Err(RelayError::InjectedCrash) => {
                    drop(leader);
                    return Err(RelayError::InjectedCrash);
                }
                Err(e) => {
                    drop(leader);
                    failures += 1;
                    tracing::warn!(error = %e, "leadership lost; starting over");
                    if shutdown
                        .sleep(backoff_delay(failures, self.config.max_backoff))
                        .await
                    {
                        break Ok(());
                    }
                }
            }
        };
        if let Some(sinks) = sinks {
            sinks.close().await;
        }
        tracing::info!(relay = %self.config.name, "relay stopped");
        result
    }

    /// Publishes what is readable now and returns how many events it published; for
    /// tests and one-shot runs. Fails at once, rather than retrying, when another relay
    /// leads, a broker is down or the database fails. Events held back behind a running
    /// transaction are left for a later call.
    pub async fn drain_once(&self) -> Result<usize, RelayError> {
        self.config.validate()?;
        let mut conn = self.connect().await?;
        if !reader::try_lock(&mut conn, &self.config.name).await? {
            return Err(RelayError::NotLeader(self.config.name.clone()));
        }
        let checkpoint = reader::load_checkpoint(&mut conn, &self.config.name)
            .await?
            .unwrap_or(Checkpoint::ORIGIN);
        let mut leader = Leader { conn, checkpoint };
        let mut sinks = self.sinks(true).await?;
        self.metrics.set_leader(true);
        let result = self.drain(&mut leader, &mut sinks).await;
        self.metrics.set_leader(false);
        sinks.close().await;
        leader.release().await;
        result
    }

    async fn drain(&self, leader: &mut Leader, sinks: &mut Sinks) -> Result<usize, RelayError> {
        let mut published = 0;
        loop {
            let batch =
                reader::read_batch(&mut leader.conn, leader.checkpoint, self.config.batch_size)
                    .await?;
            if !batch.is_empty() {
                if let Some(e) = self.publish(leader, sinks, &batch).await? {
                    return Err(e);
                }
                published += batch.len();
            }
            if batch.len() < self.config.batch_size {
                self.refresh_backlog(leader, true).await?;
                return Ok(published);
            }
        }
    }

    /// Opens a dedicated session as the pool's role, with TCP keepalives short enough
    /// that the server notices a vanished relay host (and frees its lock) within about
    /// half a minute instead of the system's two hours.
    async fn connect(&self) -> Result<PgConnection, RelayError> {
        let options = self.session_options("lock").options([
            ("tcp_keepalives_idle", "10"),
            ("tcp_keepalives_interval", "5"),
            ("tcp_keepalives_count", "3"),
        ]);
        Ok(PgConnection::connect_with(&options).await?)
    }

    fn session_options(&self, purpose: &str) -> PgConnectOptions {
        (*self.pool.connect_options())
            .clone()
            .application_name(&format!("lae-relay {} ({purpose})", self.config.name))
    }

    async fn sinks(&self, wait_for_server: bool) -> Result<Sinks, RelayError> {
        Ok(Sinks {
            nats: NatsSink::connect(&self.config, wait_for_server).await?,
            amqp: self.config.amqp_url.clone().map(|url| {
                AmqpSink::new(
                    url,
                    self.config.amqp_exchange.clone(),
                    self.config.ack_timeout,
                )
            }),
        })
    }

    /// Waits until this relay holds the lock; `None` when shutdown came first.
    async fn become_leader<F: Future<Output = ()>>(
        &self,
        shutdown: &mut Shutdown<F>,
    ) -> Option<Leader> {
        let mut failures = 0usize;
        let mut told_follower = false;
        loop {
            match self.connect().await {
                Ok(mut conn) => loop {
                    match reader::try_lock(&mut conn, &self.config.name).await {
                        Ok(true) => {
                            match reader::load_checkpoint(&mut conn, &self.config.name).await {
                                Ok(checkpoint) => {
                                    return Some(Leader {
                                        conn,
                                        checkpoint: checkpoint.unwrap_or(Checkpoint::ORIGIN),
                                    });
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "cannot read the relay checkpoint");
                                    break;
                                }
                            }
                        }
                        Ok(false) => {
                            if !told_follower {
                                tracing::info!(relay = %self.config.name, "another relay leads; standing by");
                                told_follower = true;
                            }
                            if shutdown.sleep(self.config.leader_retry).await {
                                return None;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot take the relay lock");
                            break;
                        }
                    }
                },
                Err(e) => tracing::warn!(error = %e, "cannot connect to the event store"),
            }
            failures += 1;
            if shutdown
                .sleep(backoff_delay(failures, self.config.max_backoff))
                .await
            {
                return None;
            }
        }
    }

    /// Publishes as the leader until shutdown (`Ok`) or a database failure (`Err`).
    async fn lead<F: Future<Output = ()>>(
        &self,
        leader: &mut Leader,
        sinks: &mut Sinks,
        shutdown: &mut Shutdown<F>,
    ) -> Result<(), RelayError> {
        sinks.nats.restart_chain();
        let mut wakeups = Wakeups::new(self.session_options("listen"));
        // Listen before the first read, so that nothing committed after that read can
        // go unnoticed until the next poll.
        wakeups.ensure_listening().await;
        let mut sink_failures = 0usize;
        let mut held_back_polls = 0usize;
        let mut backlog_at: Option<Instant> = None;
        loop {
            if shutdown.fired() {
                return Ok(());
            }
            let batch =
                reader::read_batch(&mut leader.conn, leader.checkpoint, self.config.batch_size)
                    .await?;
            if !batch.is_empty() {
                if let Some(e) = self.publish(leader, sinks, &batch).await? {
                    self.metrics.publish_failed();
                    let delay = backoff_delay(sink_failures, self.config.max_backoff);
                    sink_failures += 1;
                    tracing::warn!(
                        error = %e,
                        attempt = sink_failures,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "publishing failed; retrying from the last acknowledged event"
                    );
                    if shutdown.sleep(delay).await {
                        return Ok(());
                    }
                    continue;
                }
                sink_failures = 0;
            }
            let drained = batch.len() < self.config.batch_size;
            if !drained {
                if backlog_at.is_none_or(|at| at.elapsed() >= BACKLOG_REFRESH) {
                    self.refresh_backlog(leader, false).await?;
                    backlog_at = Some(Instant::now());
                }
                continue;
            }
            let held_back = self.refresh_backlog(leader, true).await?;
            backlog_at = Some(Instant::now());
            // Held back: committed events wait behind a running transaction, whose end
            // may bring no notification. Re-poll soon, then less and less often.
            let wait = if held_back {
                let doublings = held_back_polls.min(10);
                held_back_polls += 1;
                HELD_BACK_FIRST_POLL
                    .saturating_mul(1 << doublings)
                    .min(HELD_BACK_LAST_POLL)
                    .min(self.config.poll_interval)
            } else {
                held_back_polls = 0;
                self.config.poll_interval
            };
            if wakeups.wait(wait, shutdown).await {
                return Ok(());
            }
        }
    }

    /// Updates the depth and age gauges; returns whether events are held back (only
    /// meaningful right after a read that emptied the readable backlog).
    async fn refresh_backlog(
        &self,
        leader: &mut Leader,
        drained: bool,
    ) -> Result<bool, RelayError> {
        let backlog = reader::backlog(&mut leader.conn, leader.checkpoint, DEPTH_CAP).await?;
        let held_back = drained && backlog.depth > 0;
        self.metrics
            .set_backlog(backlog.depth, backlog.oldest, held_back, Utc::now());
        Ok(held_back)
    }

    /// Publishes one batch to every sink and moves the checkpoint past the longest
    /// prefix that every sink confirmed. Returns the sink error that stopped the batch,
    /// if any; `Err` only for database failures and injected crashes.
    async fn publish(
        &self,
        leader: &mut Leader,
        sinks: &mut Sinks,
        batch: &[StoredEvent],
    ) -> Result<Option<RelayError>, RelayError> {
        let outbound = match batch
            .iter()
            .map(Outbound::from_stored)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(outbound) => outbound,
            // An event that cannot be encoded cannot be skipped either (order): it is
            // retried, and shows up as publish errors and a growing lag.
            Err(e) => return Ok(Some(e)),
        };

        // Send to every sink before waiting on any: the brokers work in parallel.
        let nats_pending = sinks.nats.send(&outbound).await;
        let amqp_pending = match &mut sinks.amqp {
            Some(amqp) => Some(amqp.send(&outbound).await),
            None => None,
        };
        let observer = self.observer.as_deref();
        let nats = sinks
            .nats
            .acks(nats_pending, |index, ack| {
                if let (Some(observer), Some(event)) = (observer, outbound.get(index)) {
                    observer.acked(&AckedEvent {
                        event_id: event.event_id,
                        global_position: event.global_position,
                        stream_sequence: ack.stream_sequence,
                        duplicate: ack.duplicate,
                    });
                }
            })
            .await;
        let mut confirmed = nats.confirmed.len();
        let mut error = nats.error;
        if let (Some(amqp), Some(pending)) = (&mut sinks.amqp, amqp_pending) {
            let amqp = amqp.confirms(pending, &outbound).await;
            confirmed = confirmed.min(amqp.confirmed.len());
            error = error.or(amqp.error);
        }

        if confirmed == outbound.len()
            && let Some(observer) = observer
            && observer.before_checkpoint(confirmed).is_break()
        {
            return Err(RelayError::InjectedCrash);
        }
        if let Some(last) = confirmed.checked_sub(1).and_then(|i| outbound.get(i)) {
            let checkpoint = Checkpoint {
                transaction_id: last.transaction_id,
                global_position: last.global_position,
            };
            reader::save_checkpoint(&mut leader.conn, &self.config.name, checkpoint).await?;
            leader.checkpoint = checkpoint;
            let duplicates = nats.confirmed[..confirmed]
                .iter()
                .filter(|ack| ack.duplicate)
                .count();
            self.metrics.published(
                u64::try_from(confirmed).unwrap_or(u64::MAX),
                u64::try_from(duplicates).unwrap_or(u64::MAX),
                last.global_position,
                last.recorded_at,
                Utc::now(),
            );
        }
        Ok(error)
    }
}

/// Runs a relay until `shutdown` completes; see [`Relay::run`].
pub async fn run(
    pool: PgPool,
    config: RelayConfig,
    metrics: Arc<RelayMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    Relay::new(pool, config, metrics).run(shutdown).await
}

/// The caller's shutdown signal, pollable many times.
struct Shutdown<F> {
    signal: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Shutdown<F> {
    fn new(signal: F) -> Self {
        Self {
            signal: Box::pin(signal),
            fired: false,
        }
    }

    /// Whether shutdown was requested (without waiting).
    fn fired(&mut self) -> bool {
        if !self.fired {
            self.fired = self.signal.as_mut().now_or_never().is_some();
        }
        self.fired
    }

    async fn wait(&mut self) {
        if !self.fired {
            self.signal.as_mut().await;
            self.fired = true;
        }
    }

    /// Sleeps; returns true when shutdown came first.
    async fn sleep(&mut self, duration: Duration) -> bool {
        tokio::select! {
            () = self.wait() => true,
            () = tokio::time::sleep(duration) => false,
        }
    }
}

/// LISTEN on the relay's channel, on a connection of its own. Notifications only wake
/// the relay earlier: if listening fails the relay polls, and tries to listen again
/// after a while.
struct Wakeups {
    pool: PgPool,
    listener: Option<PgListener>,
    retry_at: Option<Instant>,
}

enum Woken {
    Shutdown,
    Notified,
    ListenerFailed(sqlx::Error),
    TimedOut,
}

impl Wakeups {
    fn new(options: PgConnectOptions) -> Self {
        Self {
            // A pool of one, used by PgListener to reconnect; lazy, so a database that
            // is down costs nothing here.
            pool: PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(options),
            listener: None,
            retry_at: None,
        }
    }

    async fn ensure_listening(&mut self) {
        if self.listener.is_some() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let listening = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => {
                self.listener = Some(listener);
                self.retry_at = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for new events; polling only");
                self.retry_at = Some(Instant::now() + LISTENER_RETRY);
            }
        }
    }

    /// Waits for a notification, `timeout` or shutdown; returns true on shutdown.
    async fn wait<F: Future<Output = ()>>(
        &mut self,
        timeout: Duration,
        shutdown: &mut Shutdown<F>,
    ) -> bool {
        self.ensure_listening().await;
        let woken = {
            let notified = async {
                match self.listener.as_mut() {
                    Some(listener) => listener.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.wait() => Woken::Shutdown,
                result = notified => match result {
                    Ok(()) => Woken::Notified,
                    Err(e) => Woken::ListenerFailed(e),
                },
                () = tokio::time::sleep(timeout) => Woken::TimedOut,
            }
        };
        match woken {
            Woken::Shutdown => return true,
            Woken::Notified => {
                // One read serves every notification that arrived meanwhile.
                if let Some(listener) = self.listener.as_mut() {
                    while listener.next_buffered().is_some() {}
                }
            }
            Woken::ListenerFailed(e) => {
                tracing::warn!(error = %e, "the LISTEN connection failed; polling only");
                self.listener = None;
                self.retry_at = Some(Instant::now() + LISTENER_RETRY);
            }
            Woken::TimedOut => {}
        }
        false
    }
}
