//! The relay benchmark (`lae bench relay`): lag under load, backlog throughput, and a
//! raw JetStream baseline measured in the same run.
//!
//! Everything happens in a database and streams of its own, removed at the end:
//! 1. **Lag under load.** Writers append one-event commands with
//!    `EventRepository::append` at a fixed open-loop rate while the relay runs (started
//!    and warmed up by one event first: this measures the steady state), woken by the
//!    store's append signal as in production. For each
//!    event the writer notes the instant its INSERT returned (the commit, as the client
//!    sees it) and the relay's observer notes the instant the JetStream ack for it
//!    arrived. Lag = ack − commit, per event, reported as p50/p99/max. It covers the
//!    notification, the read, the publish and the ack, but not the checkpoint write
//!    that follows the batch. The relay reads below the cluster-wide xmin, so a long
//!    write transaction in any database of the server (another benchmark, say) shows
//!    up here as lag.
//! 2. **Backlog throughput.** With the relay stopped, a backlog is appended; the relay
//!    is started and timed until it has published (acked and checkpointed) all of it.
//!    The time includes the relay's start (connections, lock, stream lookup), which is
//!    also reported on its own (start to first ack).
//! 3. **Raw baseline.** A bare JetStream loop publishes as many messages of the same
//!    size and headers (message id and publish chain included), in batches of the same
//!    size, all acks awaited per batch: what the relay would do without PostgreSQL.
//!    The ratio relay ÷ raw says what reading and checkpointing cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::ContextBuilder;
use async_nats::jetstream::message::PublishMessage;
use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use lae_store::db::{APP_ROLE, DbError, DbSettings};
use lae_store::notify::AppendSignal;
use lae_store::{EventMetadata, EventRepository, Source};
use serde::Serialize;
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::message::{Outbound, StoredEvent};
use crate::metrics::RelayMetrics;
use crate::observer::{AckedEvent, RelayObserver};
use crate::publisher::{header_map, stream_config};
use crate::relay::Relay;

/// What to run; [`BenchOptions::from_env`] gives a run of about a minute.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Owner URL of any database on the server (`DATABASE_URL`); the benchmark creates
    /// and drops a database of its own beside it.
    pub database_url: String,
    /// NATS server (`NATS_URL`).
    pub nats_url: String,
    /// Duration of the load in part 1.
    pub load_seconds: u64,
    /// Events per second appended in part 1 (one event per append).
    pub load_rate: u32,
    /// Concurrent writers in part 1 (one commit each at a time).
    pub writers: usize,
    /// Events in the backlog of part 2, and messages of part 3.
    pub backlog_events: usize,
    /// The relay's batch size, also used by the raw loop.
    pub batch_size: usize,
    /// Bound on the waiting of each part.
    pub part_timeout: Duration,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            nats_url: crate::config::DEFAULT_NATS_URL.to_owned(),
            load_seconds: 10,
            load_rate: 1_000,
            writers: 8,
            backlog_events: 50_000,
            batch_size: 500,
            part_timeout: Duration::from_secs(120),
        }
    }
}

impl BenchOptions {
    /// The defaults, with `DATABASE_URL` and `NATS_URL` when set.
    pub fn from_env() -> Self {
        let defaults = Self::default();
        Self {
            database_url: std::env::var("DATABASE_URL").unwrap_or(defaults.database_url),
            nats_url: std::env::var("NATS_URL").unwrap_or(defaults.nats_url),
            ..defaults
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Part 1: events appended, and the rate achieved.
    pub load_events: u64,
    pub load_rate_achieved: f64,
    /// Part 1: events whose lag was measured (all of them unless the relay fell behind
    /// beyond the part's timeout).
    pub lag_samples: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// Part 2: backlog size and relay throughput, from the relay's start (included) to
    /// its last checkpoint.
    pub backlog_events: u64,
    pub relay_events_per_sec: f64,
    /// Part 2: from the relay's start to its first ack.
    pub relay_startup_ms: f64,
    /// Part 3: the raw JetStream loop.
    pub raw_events_per_sec: f64,
    /// Part 2 ÷ part 3.
    pub relay_to_raw_ratio: f64,
    /// Size of one message body, in bytes.
    pub message_bytes: usize,
    pub batch_size: usize,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "lag under load: {} events at {:.0}/s, commit -> JetStream ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            self.load_events,
            self.load_rate_achieved,
            self.lag_p50_ms,
            self.lag_p99_ms,
            self.lag_max_ms,
            self.lag_samples
        )?;
        writeln!(
            f,
            "backlog: {} events drained at {:.0} events/s, start-up included ({:.0} ms to the first ack; batch {}, {} B bodies)",
            self.backlog_events,
            self.relay_events_per_sec,
            self.relay_startup_ms,
            self.batch_size,
            self.message_bytes
        )?;
        write!(
            f,
            "raw JetStream baseline: {:.0} events/s; relay / raw = {:.2}",
            self.raw_events_per_sec, self.relay_to_raw_ratio
        )
    }
}

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("database setup failed: {0}")]
    Db(#[from] DbError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("append failed: {0}")]
    Append(#[from] PersistenceError),
    #[error("relay failed: {0}")]
    Relay(#[from] RelayError),
    #[error("NATS failed: {0}")]
    Nats(String),
    #[error("{0} did not finish within {1:?}")]
    Timeout(&'static str, Duration),
    #[error("a benchmark task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn nats_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Nats(e.to_string())
}

/// Runs the three parts (see the module docs) and cleans up after itself.
pub async fn bench_relay(options: BenchOptions) -> Result<BenchReport, BenchError> {
    let suffix = Uuid::new_v4().simple().to_string();
    let pool_size = u32::try_from(options.writers + 2).unwrap_or(16);
    let settings = DbSettings::from_url(&options.database_url, APP_ROLE, None, pool_size)?
        .with_database(&format!("lae_bench_relay_{suffix}"));
    let config = RelayConfig {
        name: "bench".to_owned(),
        nats_url: options.nats_url.clone(),
        stream: format!("LAE_BENCH_{}", suffix.to_uppercase()),
        subject_prefix: format!("lae.bench.{suffix}"),
        batch_size: options.batch_size,
        ..RelayConfig::default()
    };
    let raw = RelayConfig {
        stream: format!("LAE_BENCH_RAW_{}", suffix.to_uppercase()),
        subject_prefix: format!("lae.benchraw.{suffix}"),
        ..config.clone()
    };
    config.validate()?;

    lae_store::db::prepare(&settings).await?;
    let result = run_parts(&options, &settings, &config, &raw).await;

    // Clean up whatever happened.
    if let Ok(client) = async_nats::connect(options.nats_url.as_str()).await {
        let js = async_nats::jetstream::new(client);
        for stream in [&config.stream, &raw.stream] {
            if let Err(e) = js.delete_stream(stream).await {
                tracing::warn!(%stream, error = %e, "cannot delete the benchmark stream");
            }
        }
    }
    if let Err(e) = lae_store::db::drop_database(&settings).await {
        tracing::warn!(error = %e, "cannot drop the benchmark database");
    }
    result
}

async fn run_parts(
    options: &BenchOptions,
    settings: &DbSettings,
    config: &RelayConfig,
    raw: &RelayConfig,
) -> Result<BenchReport, BenchError> {
    let pool = lae_store::db::connect_app(settings).await?;
    // As in production: each append pokes the store's notifier, which wakes the relay.
    let repository =
        EventRepository::new(pool.clone()).with_signal(AppendSignal::spawn(pool.clone()));

    let load = lag_under_load(options, &pool, &repository, config).await?;
    let drain = backlog_throughput(options, &pool, &repository, config).await?;
    let relay_rate = drain.events_per_sec;
    let message_bytes = sample_message()?.body.len();
    let raw_rate = raw_publish(options, raw).await?;
    pool.close().await;

    Ok(BenchReport {
        load_events: load.events,
        load_rate_achieved: load.rate,
        lag_samples: load.samples,
        lag_p50_ms: load.p50_ms,
        lag_p99_ms: load.p99_ms,
        lag_max_ms: load.max_ms,
        backlog_events: u64::try_from(options.backlog_events).unwrap_or(u64::MAX),
        relay_events_per_sec: relay_rate,
        relay_startup_ms: drain.startup_ms,
        raw_events_per_sec: raw_rate,
        relay_to_raw_ratio: if raw_rate > 0.0 {
            relay_rate / raw_rate
        } else {
            0.0
        },
        message_bytes,
        batch_size: options.batch_size,
    })
}

/// Notes when each event's JetStream ack arrived.
#[derive(Debug, Default)]
struct AckTimes {
    acked: Mutex<HashMap<Uuid, Instant>>,
}

impl AckTimes {
    fn len(&self) -> usize {
        self.acked.lock().map(|m| m.len()).unwrap_or_default()
    }
}

impl RelayObserver for AckTimes {
    fn acked(&self, event: &AckedEvent) {
        let now = Instant::now();
        if let Ok(mut acked) = self.acked.lock() {
            acked.entry(event.event_id).or_insert(now);
        }
    }
}

/// A relay running in the background until stopped.
struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), RelayError>>,
}

impl Running {
    fn start(relay: Relay) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(async move {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    async fn stop(self) -> Result<(), BenchError> {
        let _ = self.stop.send(());
        Ok(self.task.await??)
    }
}

struct LoadFigures {
    events: u64,
    rate: f64,
    samples: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

async fn lag_under_load(
    options: &BenchOptions,
    pool: &sqlx::PgPool,
    repository: &EventRepository,
    config: &RelayConfig,
) -> Result<LoadFigures, BenchError> {
    let acks = Arc::new(AckTimes::default());
    let metrics = Arc::new(RelayMetrics::new());
    let relay = Running::start(
        Relay::new(pool.clone(), config.clone(), metrics.clone()).with_observer(acks.clone()),
    );
    // Measure the steady state: the relay is connected, listening and has its stream
    // once the ack of a warm-up event came back.
    repository.append(&[bench_event("warm-up", 1)]).await?;
    wait_until("relay start", options.part_timeout, || acks.len() >= 1).await?;

    let writers = options.writers.max(1);
    let period = Duration::from_secs_f64(writers as f64 / f64::from(options.load_rate.max(1)));
    let load = Duration::from_secs(options.load_seconds);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let repository = repository.clone();
        tasks.push(tokio::spawn(async move {
            let mut commits = Vec::new();
            let mut ticks = tokio::time::interval(period);
            // Open loop: a slow commit delays the next ones, which then catch up, as
            // arriving requests would.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut n = 0usize;
            while started.elapsed() < load {
                ticks.tick().await;
                let event = bench_event(&format!("load-{writer}-{}", n / 5), n % 5 + 1);
                let id =
                    lae_store::event_id(&event.aggregate_type, &event.aggregate_id, event.sequence);
                repository.append(std::slice::from_ref(&event)).await?;
                commits.push((id, Instant::now()));
                n += 1;
            }
            Ok::<_, BenchError>(commits)
        }));
    }
    let mut commits = Vec::new();
    for task in tasks {
        commits.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let expected = commits.len();
    let drained = wait_until("the relay catching up", options.part_timeout, || {
        acks.len() > expected
    })
    .await;
    relay.stop().await?;
    drained?;

    let mut histogram = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
        .map_err(|e| BenchError::Nats(e.to_string()))?;
    let acked = acks.acked.lock().map(|m| m.clone()).unwrap_or_default();
    for (id, committed) in &commits {
        if let Some(acked) = acked.get(id) {
            // An ack noted before the writer noted its commit counts as no lag.
            let micros = acked.saturating_duration_since(*committed).as_micros();
            histogram.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
        }
    }
    let ms = |micros: u64| micros as f64 / 1_000.0;
    Ok(LoadFigures {
        events: u64::try_from(expected).unwrap_or(u64::MAX),
        rate: expected as f64 / elapsed.max(f64::EPSILON),
        samples: histogram.len(),
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
    })
}

async fn backlog_throughput(
    options: &BenchOptions,
    pool: &sqlx::PgPool,
    repository: &EventRepository,
    config: &RelayConfig,
) -> Result<Drain, BenchError> {
    // The backlog: appends of one batch each, one event per new aggregate.
    let per_append = options.batch_size.max(1);
    let mut appended = 0;
    while appended < options.backlog_events {
        let n = per_append.min(options.backlog_events - appended);
        let events: Vec<_> = (appended..appended + n)
            .map(|i| bench_event(&format!("backlog-{i}"), 1))
            .collect();
        repository.append(&events).await?;
        appended += n;
    }

    let metrics = Arc::new(RelayMetrics::new());
    let acks = Arc::new(AckTimes::default());
    let target = u64::try_from(options.backlog_events).unwrap_or(u64::MAX);
    let started = Instant::now();
    let relay = Running::start(
        Relay::new(pool.clone(), config.clone(), metrics.clone()).with_observer(acks.clone()),
    );
    let drained = wait_until("the backlog drain", options.part_timeout, || {
        metrics.events_published() >= target
    })
    .await;
    let finished = Instant::now();
    relay.stop().await?;
    drained?;
    let first_ack = acks
        .acked
        .lock()
        .ok()
        .and_then(|acked| acked.values().min().copied())
        .unwrap_or(started);
    Ok(Drain {
        events_per_sec: options.backlog_events as f64
            / finished
                .duration_since(started)
                .as_secs_f64()
                .max(f64::EPSILON),
        startup_ms: first_ack.duration_since(started).as_secs_f64() * 1_000.0,
    })
}

struct Drain {
    /// From the relay's start to the last checkpoint.
    events_per_sec: f64,
    /// From the relay's start to its first ack (connections, lock, stream, first read).
    startup_ms: f64,
}

async fn raw_publish(options: &BenchOptions, raw: &RelayConfig) -> Result<f64, BenchError> {
    let client = async_nats::connect(options.nats_url.as_str())
        .await
        .map_err(nats_error)?;
    let js = ContextBuilder::new()
        .timeout(raw.ack_timeout)
        .max_ack_inflight(options.batch_size.saturating_mul(2).max(1024))
        .build(client.clone());
    js.get_or_create_stream(stream_config(raw))
        .await
        .map_err(nats_error)?;
    let sample = sample_message()?;
    let headers = header_map(&sample);
    let subject = format!("{}.{}", raw.subject_prefix, sample.routing_key);

    let run = async {
        let started = Instant::now();
        let mut previous: Option<String> = None;
        let mut sent = 0;
        while sent < options.backlog_events {
            let n = options.batch_size.min(options.backlog_events - sent);
            let mut acks = Vec::with_capacity(n);
            for _ in 0..n {
                let id = Uuid::new_v4().to_string();
                let mut message = PublishMessage::build()
                    .payload(sample.body.clone())
                    .headers(headers.clone())
                    .message_id(&id);
                if let Some(previous) = &previous {
                    message = message.expected_last_message_id(previous);
                }
                acks.push(
                    js.send_publish(subject.clone(), message)
                        .await
                        .map_err(nats_error)?,
                );
                previous = Some(id);
            }
            for ack in acks {
                ack.await.map_err(nats_error)?;
            }
            sent += n;
        }
        Ok::<_, BenchError>(started.elapsed().as_secs_f64())
    };
    let elapsed = tokio::time::timeout(options.part_timeout, run)
        .await
        .map_err(|_| BenchError::Timeout("the raw JetStream loop", options.part_timeout))??;
    Ok(options.backlog_events as f64 / elapsed.max(f64::EPSILON))
}

async fn wait_until(
    what: &'static str,
    within: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout(what, within));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// A customer registration of realistic size (about 200 B of payload).
fn bench_event(aggregate_id: &str, sequence: usize) -> SerializedEvent {
    let metadata = EventMetadata::new("bench", "sales", Utc::now(), Uuid::new_v4(), Source::Cli);
    SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence,
        aggregate_type: "Customer".to_owned(),
        event_type: if sequence == 1 {
            "CustomerRegistered".to_owned()
        } else {
            "CustomerAddressChanged".to_owned()
        },
        event_version: "1.0".to_owned(),
        payload: json!({
            "customer_number": "LAE-1004711",
            "name": "Erika Mustermann",
            "email": "erika.mustermann@example.org",
            "birth_date": "1980-05-17",
            "address": {
                "street": "Hauptstrasse 1",
                "postal_code": "10115",
                "city": "Berlin",
                "country": "DE"
            }
        }),
        metadata: serde_json::to_value(metadata.to_map()).unwrap_or_default(),
    }
}

/// The message the relay makes of a bench event (for the raw loop's size and headers).
fn sample_message() -> Result<Outbound, RelayError> {
    let event = bench_event("sample", 1);
    Outbound::from_stored(&StoredEvent {
        event_id: lae_store::event_id(&event.aggregate_type, &event.aggregate_id, 1),
        aggregate_type: event.aggregate_type,
        aggregate_id: event.aggregate_id,
        sequence: 1,
        event_type: event.event_type,
        event_version: event.event_version,
        payload: event.payload.to_string(),
        metadata: event.metadata.to_string(),
        global_position: 1_000_000,
        transaction_id: 1_000_000,
        recorded_at: Utc::now(),
    })
}
