//! Shared fixtures: a database per test, a stream per test, a relay in the background,
//! reading the stream back, and the exactly-once / in-order check.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use cqrs_es::persist::SerializedEvent;
use lae_relay::{Relay, RelayConfig, RelayError, RelayMetrics};
use lae_store::EventRepository;
use lae_store::db::{APP_ROLE, DbSettings};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

pub const NATS_URL: &str = "nats://127.0.0.1:4222";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Runs `work` on a runtime of its own on another thread: usable from `Drop`, even
/// while the test's runtime is unwinding from a panic.
fn on_own_runtime<F: Future<Output = ()> + Send + 'static>(work: F) {
    let thread = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(work),
            Err(e) => eprintln!("cleanup runtime: {e}"),
        }
    });
    let _ = thread.join();
}

/// A fresh, migrated database, dropped (with its sessions) when the test ends.
pub struct TestDb {
    pub settings: DbSettings,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> Self {
        init_tracing();
        let name = format!("lae_test_relay_{}", Uuid::new_v4().simple());
        let settings = DbSettings::from_url(
            &format!("postgres://postgres@127.0.0.1:5432/{name}"),
            APP_ROLE,
            None,
            8,
        )
        .expect("valid database URL");
        lae_store::db::prepare(&settings)
            .await
            .expect("create and migrate the test database");
        let pool = lae_store::db::connect_app(&settings)
            .await
            .expect("connect as the application role");
        Self { settings, pool }
    }

    /// The store's repository, waking the relay after each append as in production.
    pub fn repository(&self) -> EventRepository {
        EventRepository::new(self.pool.clone())
            .with_signal(lae_store::notify::AppendSignal::spawn(self.pool.clone()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        on_own_runtime(async move {
            if let Err(e) = lae_store::db::drop_database(&settings).await {
                eprintln!("cannot drop {}: {e}", settings.database());
            }
        });
    }
}

/// A stream name and subject prefix of the test's own, deleted when the test ends.
pub struct TestStream {
    pub nats_url: String,
    pub name: String,
    pub prefix: String,
}

impl TestStream {
    pub fn new() -> Self {
        Self::on(NATS_URL)
    }

    pub fn on(nats_url: &str) -> Self {
        let id = Uuid::new_v4().simple().to_string();
        Self {
            nats_url: nats_url.to_owned(),
            name: format!("LAE_TEST_{}", id.to_uppercase()),
            prefix: format!("lae.test.{id}"),
        }
    }

    /// A relay configuration publishing here, with short timers for tests.
    pub fn config(&self) -> RelayConfig {
        RelayConfig {
            name: "test-relay".into(),
            nats_url: self.nats_url.clone(),
            stream: self.name.clone(),
            subject_prefix: self.prefix.clone(),
            batch_size: 50,
            poll_interval: Duration::from_millis(100),
            leader_retry: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            ack_timeout: Duration::from_secs(2),
            ..RelayConfig::default()
        }
    }

    pub async fn context(&self) -> jetstream::Context {
        let client = async_nats::connect(self.nats_url.as_str())
            .await
            .expect("connect to NATS");
        jetstream::new(client)
    }

    /// Messages in the stream (0 when it does not exist yet).
    pub async fn count(&self) -> u64 {
        let js = self.context().await;
        match js.get_stream(&self.name).await {
            Ok(mut stream) => match stream.info().await {
                Ok(info) => info.state.messages,
                Err(_) => 0,
            },
            Err(_) => 0,
        }
    }

    /// Every message of the stream, in stream order.
    pub async fn read_all(&self) -> Vec<Streamed> {
        let js = self.context().await;
        let mut stream = js.get_stream(&self.name).await.expect("the stream exists");
        let state = stream.info().await.expect("stream info").state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            let message = stream
                .get_raw_message(sequence)
                .await
                .expect("read a stream message");
            let body: Value = serde_json::from_slice(&message.payload).expect("JSON body");
            let header = |name: &str| {
                message
                    .headers
                    .get(name)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default()
            };
            out.push(Streamed {
                stream_sequence: sequence,
                subject: message.subject.to_string(),
                msg_id: header("Nats-Msg-Id"),
                event_type_header: header("Lae-Event-Type"),
                correlation_header: header("Lae-Correlation-Id"),
                event_id: body["event_id"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .unwrap_or_default(),
                aggregate_type: body["aggregate_type"].as_str().unwrap_or_default().into(),
                aggregate_id: body["aggregate_id"].as_str().unwrap_or_default().into(),
                sequence: body["sequence"].as_i64().unwrap_or_default(),
                global_position: body["global_position"].as_i64().unwrap_or_default(),
                body,
            });
        }
        out
    }

    pub async fn wait_for_count(&self, n: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let count = self.count().await;
            if count >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the stream holds {count} messages, expected {n} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let url = self.nats_url.clone();
        let name = self.name.clone();
        on_own_runtime(async move {
            let connect = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(2))
                .connect(url.as_str());
            if let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(3), connect).await {
                let _ = jetstream::new(client).delete_stream(&name).await;
            }
        });
    }
}

/// One message read back from the stream.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub stream_sequence: u64,
    pub subject: String,
    pub msg_id: String,
    pub event_type_header: String,
    pub correlation_header: String,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub global_position: i64,
    pub body: Value,
}

/// Every expected event is in the stream exactly once, nothing else is, and each
/// aggregate's events appear in sequence order without gaps.
pub fn assert_exactly_once_in_order(streamed: &[Streamed], expected: &HashSet<Uuid>) {
    let mut seen = HashSet::new();
    for message in streamed {
        assert!(
            seen.insert(message.event_id),
            "event {} is in the stream twice (stream sequence {})",
            message.event_id,
            message.stream_sequence
        );
        assert_eq!(
            message.msg_id,
            message.event_id.to_string(),
            "Nats-Msg-Id is the event id"
        );
    }
    let missing: Vec<_> = expected.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "events missing from the stream: {missing:?}"
    );
    let unexpected: Vec<_> = seen.difference(expected).collect();
    assert!(
        unexpected.is_empty(),
        "unexpected events in the stream: {unexpected:?}"
    );

    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for message in streamed {
        let key = (message.aggregate_type.clone(), message.aggregate_id.clone());
        let previous = last.insert(key.clone(), message.sequence).unwrap_or(0);
        assert_eq!(
            message.sequence,
            previous + 1,
            "aggregate {key:?}: sequence {} follows {previous} in the stream",
            message.sequence
        );
    }
}

/// A one-event command's event, with metadata like the platform's.
pub fn event(aggregate_type: &str, aggregate_id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: aggregate_id.into(),
        sequence,
        aggregate_type: aggregate_type.into(),
        event_type: format!("{aggregate_type}Changed"),
        event_version: "1.0".into(),
        payload: json!({"aggregate": aggregate_id, "n": sequence, "note": "  kept as stored "}),
        metadata: json!({
            "user": "tester",
            "department": "qa",
            "correlation_id": "11111111-1111-1111-1111-111111111111",
            "causation_id": "22222222-2222-2222-2222-222222222222",
            "source": "cli",
        }),
    }
}

pub fn id_of(event: &SerializedEvent) -> Uuid {
    lae_store::event_id(&event.aggregate_type, &event.aggregate_id, event.sequence)
}

/// Appends `per_aggregate` events to each of `aggregates` aggregates, interleaved, one
/// command (autocommit statement) per event; returns their ids.
pub async fn append_interleaved(
    repository: &EventRepository,
    prefix: &str,
    aggregates: usize,
    first_sequence: usize,
    per_aggregate: usize,
) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for sequence in first_sequence..first_sequence + per_aggregate {
        for a in 0..aggregates {
            let e = event("Customer", &format!("{prefix}-{a}"), sequence);
            repository
                .append(std::slice::from_ref(&e))
                .await
                .expect("append");
            ids.push(id_of(&e));
        }
    }
    ids
}

/// Inserts an event inside an explicit transaction (as the application role).
pub async fn insert_in(tx: &mut sqlx::PgConnection, event: &SerializedEvent) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id)
         VALUES ($1, $2, $3, $4, $5, $6::text::json, $7::text::json, $8)",
    )
    .bind(&event.aggregate_type)
    .bind(&event.aggregate_id)
    .bind(i64::try_from(event.sequence).expect("small sequence"))
    .bind(&event.event_type)
    .bind(&event.event_version)
    .bind(event.payload.to_string())
    .bind(event.metadata.to_string())
    .bind(id_of(event))
    .execute(tx)
    .await
    .expect("insert an event");
}

/// A relay running in the background.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<(), RelayError>>,
    pub metrics: Arc<RelayMetrics>,
}

impl Running {
    pub fn start(relay: Relay) -> Self {
        let metrics = relay.metrics().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(async move {
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            task,
            metrics,
        }
    }

    pub fn start_with(db: &TestDb, config: RelayConfig) -> Self {
        Self::start(Relay::new(
            db.pool.clone(),
            config,
            Arc::new(RelayMetrics::new()),
        ))
    }

    /// Graceful stop; the relay must return within a few seconds.
    pub async fn stop(mut self) -> Result<(), RelayError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the relay stops within 10 s")
            .expect("the relay task did not panic")
    }
}

/// Polls `condition` until it holds, or fails the test.
pub async fn eventually(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
