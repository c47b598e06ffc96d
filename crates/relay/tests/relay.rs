//! The relay against the real PostgreSQL, NATS JetStream and RabbitMQ of the machine.
//! Each test has a database, a stream and a subject prefix of its own, removed at the
//! end, so the tests run in parallel.

mod common;

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use lae_relay::{Relay, RelayError, RelayMetrics, RelayObserver};
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------
// 1. NATS unreachable
// ---------------------------------------------------------------------------------

/// A nats-server of the test's own, which the test can kill and restart on the same
/// port and store directory.
struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Option<tokio::process::Child>,
}

impl NatsServer {
    fn new() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Self {
            port,
            store: std::env::temp_dir().join(format!("lae-relay-nats-{}", Uuid::new_v4())),
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) {
        let child = tokio::process::Command::new("/usr/sbin/nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(|c| c.id())
            .expect("a running nats-server")
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill nats-server");
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_appended_while_nats_is_down_arrive_once_and_in_order() {
    let db = TestDb::new().await;
    let mut server = NatsServer::new();
    let stream = TestStream::on(&server.url());
    let repository = db.repository();

    // The relay starts while no server listens: it must neither fail nor block.
    let relay = Running::start_with(&db, stream.config());
    eventually("leadership without NATS", WITHIN, || {
        relay.metrics.is_leader()
    })
    .await;
    let mut expected: HashSet<Uuid> = append_interleaved(&repository, "early", 2, 1, 2)
        .await
        .into_iter()
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!relay.task.is_finished(), "the relay gave up without NATS");
    assert_eq!(relay.metrics.events_published(), 0);

    server.start().await;
    stream.wait_for_count(4, WITHIN).await;

    // Outage: events keep being committed while the server is dead.
    server.kill().await;
    expected.extend(append_interleaved(&repository, "early", 2, 3, 5).await);
    expected.extend(append_interleaved(&repository, "outage", 6, 1, 5).await);
    let errors_before = relay.metrics.publish_errors();
    eventually("failed publish attempts", WITHIN, || {
        relay.metrics.publish_errors() > errors_before
    })
    .await;

    // Same port, same store: the stream is still there, with the first four events.
    server.start().await;
    let total = u64::try_from(expected.len()).expect("small");
    stream.wait_for_count(total, WITHIN).await;
    eventually("the checkpoint to catch up", WITHIN, || {
        relay.metrics.outbox_depth() == 0 && relay.metrics.last_published_position() > 0
    })
    .await;
    relay.stop().await.expect("graceful stop");

    let streamed = stream.read_all().await;
    assert_eq!(streamed.len(), expected.len());
    assert_exactly_once_in_order(&streamed, &expected);
    drop(stream);
    server.kill().await;
}

/// Freezes the NATS server (SIGSTOP) from inside the relay's ack loop when the relay
/// has seen a given number of acks, then signals the test: the rest of the batch, and
/// the next one, are sent into a server that no longer reads.
#[derive(Debug)]
struct FreezeAt {
    acks: AtomicUsize,
    at: Vec<usize>,
    server_pid: std::sync::atomic::AtomicU32,
    reached: tokio::sync::Notify,
}

impl FreezeAt {
    fn new(at: Vec<usize>) -> Self {
        Self {
            acks: AtomicUsize::new(0),
            at,
            server_pid: std::sync::atomic::AtomicU32::new(0),
            reached: tokio::sync::Notify::new(),
        }
    }
}

impl RelayObserver for FreezeAt {
    fn acked(&self, _event: &lae_relay::AckedEvent) {
        let n = self.acks.fetch_add(1, Ordering::SeqCst) + 1;
        if self.at.contains(&n) {
            let pid = self.server_pid.load(Ordering::SeqCst).to_string();
            let frozen = std::process::Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .expect("run kill");
            assert!(frozen.success(), "cannot freeze nats-server {pid}");
            self.reached.notify_one();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_crash_in_the_middle_of_a_drain_keeps_every_aggregate_in_order() {
    let db = TestDb::new().await;
    let mut server = NatsServer::new();
    server.start().await;
    let stream = TestStream::on(&server.url());
    let repository = db.repository();

    // A backlog of 6,000 events: 300 aggregates of 20, appended 100 per statement.
    let mut expected = HashSet::new();
    for round in 0..60 {
        let batch: Vec<_> = (0..100)
            .map(|i| {
                let n = round * 100 + i;
                event("Contract", &format!("x-{}", n % 300), n / 300 + 1)
            })
            .collect();
        repository.append(&batch).await.expect("append");
        expected.extend(batch.iter().map(id_of));
    }

    let mut config = stream.config();
    config.batch_size = 400;
    let freeze = Arc::new(FreezeAt::new(vec![950, 3150]));
    freeze.server_pid.store(server.pid(), Ordering::SeqCst);
    let relay = Running::start(
        Relay::new(db.pool.clone(), config, Arc::new(RelayMetrics::new()))
            .with_observer(freeze.clone()),
    );
    // Acks 950 and 3150 fall inside the third and eighth batches. The frozen server
    // holds whatever reached its socket; killing it loses that, while what is still
    // queued in the client goes to the restarted server.
    for _ in 0..2 {
        tokio::time::timeout(WITHIN, freeze.reached.notified())
            .await
            .expect("the relay reaches the freeze point");
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.kill().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.start().await;
        freeze.server_pid.store(server.pid(), Ordering::SeqCst);
    }
    stream.wait_for_count(6000, WITHIN).await;
    eventually("the checkpoint to catch up", WITHIN, || {
        relay.metrics.outbox_depth() == 0
    })
    .await;
    relay.stop().await.expect("graceful stop");

    let streamed = stream.read_all().await;
    assert_eq!(streamed.len(), 6000);
    assert_exactly_once_in_order(&streamed, &expected);
    drop(stream);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_stream_refuses_is_never_skipped() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    // A stream that refuses large messages, made before the relay looks for it.
    stream
        .context()
        .await
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream.name.clone(),
            subjects: vec![format!("{}.>", stream.prefix)],
            max_message_size: 2_000,
            ..Default::default()
        })
        .await
        .expect("create the stream");
    let repository = db.repository();
    let small = event("Customer", "s", 1);
    let mut big = event("Customer", "s", 2);
    big.payload = serde_json::json!({ "blob": "x".repeat(3_000) });
    let after = event("Customer", "t", 1);
    for e in [&small, &big, &after] {
        repository
            .append(std::slice::from_ref(e))
            .await
            .expect("append");
    }

    let relay = Running::start_with(&db, stream.config());
    eventually("a refused publish", WITHIN, || {
        relay.metrics.publish_errors() >= 2
    })
    .await;
    let metrics = relay.metrics.clone();
    relay.stop().await.expect("graceful stop");

    // The events after the refused one were sent too (pipelined), but the publish
    // chain made the stream refuse them rather than store them past the gap.
    let streamed = stream.read_all().await;
    let ids: Vec<Uuid> = streamed.iter().map(|m| m.event_id).collect();
    assert_eq!(ids, vec![id_of(&small)]);
    assert_eq!(metrics.events_published(), 1);
    let checkpoint = lae_relay::load_checkpoint(&db.pool, "test-relay")
        .await
        .expect("checkpoint")
        .expect("the first event was checkpointed");
    assert_eq!(checkpoint.global_position, streamed[0].global_position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_without_nats_still_stops_promptly() {
    let db = TestDb::new().await;
    // A port nobody listens on.
    let server = NatsServer::new();
    let mut config = TestStream::on(&server.url()).config();
    config.max_backoff = Duration::from_secs(5);
    let relay = Running::start_with(&db, config);
    append_interleaved(&db.repository(), "c", 1, 1, 3).await;
    eventually("a failed attempt", WITHIN, || {
        relay.metrics.publish_errors() > 0
    })
    .await;
    let stopping = std::time::Instant::now();
    relay.stop().await.expect("graceful stop");
    assert!(stopping.elapsed() < Duration::from_secs(3));
}

// ---------------------------------------------------------------------------------
// 2. Crash between publish and checkpoint
// ---------------------------------------------------------------------------------

/// Simulates the relay's death right before the checkpoint of its n-th batch.
#[derive(Debug)]
struct CrashBeforeCheckpoint {
    batch: usize,
    seen: AtomicUsize,
}

impl RelayObserver for CrashBeforeCheckpoint {
    fn before_checkpoint(&self, _events: usize) -> ControlFlow<()> {
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.batch {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_publish_and_checkpoint_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    let expected: HashSet<Uuid> = append_interleaved(&db.repository(), "k", 5, 1, 7)
        .await
        .into_iter()
        .collect();
    let mut config = stream.config();
    config.batch_size = 10;

    let crashing = Relay::new(
        db.pool.clone(),
        config.clone(),
        Arc::new(RelayMetrics::new()),
    )
    .with_observer(Arc::new(CrashBeforeCheckpoint {
        batch: 2,
        seen: AtomicUsize::new(0),
    }));
    let result = tokio::time::timeout(WITHIN, crashing.run(std::future::pending()))
        .await
        .expect("the relay crashes in time");
    assert!(
        matches!(result, Err(RelayError::InjectedCrash)),
        "{result:?}"
    );
    // Two batches reached the stream, only the first was checkpointed.
    assert_eq!(stream.count().await, 20);
    let checkpoint = lae_relay::load_checkpoint(&db.pool, &config.name)
        .await
        .expect("read the checkpoint")
        .expect("the first batch was checkpointed");
    let streamed = stream.read_all().await;
    assert_eq!(checkpoint.global_position, streamed[9].global_position);

    // Restarted, the relay re-publishes the second batch: JetStream drops the copies.
    let relay = Running::start_with(&db, config);
    eventually("the re-publish", WITHIN, || {
        relay.metrics.events_published() >= 25
    })
    .await;
    stream.wait_for_count(35, WITHIN).await;
    let metrics = relay.metrics.clone();
    relay.stop().await.expect("graceful stop");
    assert_eq!(metrics.events_published(), 25);
    assert_eq!(
        metrics.duplicates(),
        10,
        "the second batch came back as duplicates"
    );

    let streamed = stream.read_all().await;
    assert_eq!(streamed.len(), 35, "no duplicate stored");
    assert_exactly_once_in_order(&streamed, &expected);
}

// ---------------------------------------------------------------------------------
// 3. Out-of-order commits
// ---------------------------------------------------------------------------------

async fn current_xid(conn: &mut sqlx::PgConnection) -> u64 {
    let xid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(conn)
        .await
        .expect("xid");
    xid.parse().expect("numeric xid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_waits_for_a_transaction_that_inserted_first_and_commits_last() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    let relay = Running::start_with(&db, stream.config());
    eventually("leadership", WITHIN, || relay.metrics.is_leader()).await;

    // A inserts first (lower position, lower transaction id) and stays open.
    let mut a = db.pool.begin().await.expect("begin A");
    let a1 = event("Order", "a", 1);
    insert_in(&mut a, &a1).await;
    // B inserts after and commits first.
    let b1 = event("Order", "b", 1);
    db.repository()
        .append(std::slice::from_ref(&b1))
        .await
        .expect("append B");

    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        stream.count().await,
        0,
        "B was published past A's open transaction"
    );
    assert!(
        lae_relay::load_checkpoint(&db.pool, "test-relay")
            .await
            .expect("checkpoint")
            .is_none(),
        "the checkpoint moved past A"
    );
    assert!(relay.metrics.is_held_back());
    assert_eq!(
        relay.metrics.outbox_depth(),
        1,
        "B is committed and waiting"
    );

    a.commit().await.expect("commit A");
    stream.wait_for_count(2, WITHIN).await;
    relay.stop().await.expect("graceful stop");
    let streamed = stream.read_all().await;
    let order: Vec<Uuid> = streamed.iter().map(|m| m.event_id).collect();
    assert_eq!(order, vec![id_of(&a1), id_of(&b1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_transaction_id_with_a_late_position_is_published_first() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    let relay = Running::start_with(&db, stream.config());
    eventually("leadership", WITHIN, || relay.metrics.is_leader()).await;

    // A takes its transaction id first, but inserts after B committed: A's event has
    // the higher position and the lower transaction id.
    let mut a = db.pool.begin().await.expect("begin A");
    let xid_a = current_xid(&mut a).await;
    let b1 = event("Order", "b", 1);
    db.repository()
        .append(std::slice::from_ref(&b1))
        .await
        .expect("append B");
    let a1 = event("Order", "a", 1);
    insert_in(&mut a, &a1).await;

    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        stream.count().await,
        0,
        "B was published while A (older) was open"
    );
    a.commit().await.expect("commit A");
    stream.wait_for_count(2, WITHIN).await;
    relay.stop().await.expect("graceful stop");

    let streamed = stream.read_all().await;
    assert_eq!(streamed[0].event_id, id_of(&a1));
    assert_eq!(streamed[1].event_id, id_of(&b1));
    assert!(
        streamed[0].global_position > streamed[1].global_position,
        "the scenario needs A's position after B's"
    );
    let checkpoint = lae_relay::load_checkpoint(&db.pool, "test-relay")
        .await
        .expect("checkpoint")
        .expect("published");
    assert!(
        checkpoint.transaction_id > xid_a,
        "the checkpoint ends at B's transaction"
    );
    assert_eq!(checkpoint.global_position, streamed[1].global_position);
}

/// A small deterministic generator (no dependency needed for test randomness).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_with_random_commit_order_are_relayed_exactly_once() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    let mut config = stream.config();
    config.batch_size = 7;
    let relay = Running::start_with(&db, config);

    let mut writers = Vec::new();
    for writer in 0..4u64 {
        let pool = db.pool.clone();
        writers.push(tokio::spawn(async move {
            let seed =
                u64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"));
            let mut random = XorShift(seed | 1);
            let mut sequences = [0usize; 3];
            let mut committed = Vec::new();
            for _ in 0..15 {
                let mut tx = pool.begin().await.expect("begin");
                tokio::time::sleep(Duration::from_millis(random.next(15))).await;
                let mut written = Vec::new();
                let mut next = sequences;
                for _ in 0..=random.next(3) {
                    let aggregate = usize::try_from(random.next(3)).expect("small");
                    next[aggregate] += 1;
                    let e = event("Policy", &format!("w{writer}-{aggregate}"), next[aggregate]);
                    insert_in(&mut tx, &e).await;
                    written.push(id_of(&e));
                    tokio::time::sleep(Duration::from_millis(random.next(10))).await;
                }
                if random.next(100) < 15 {
                    tx.rollback().await.expect("rollback");
                } else {
                    tx.commit().await.expect("commit");
                    sequences = next;
                    committed.extend(written);
                }
            }
            committed
        }));
    }
    let mut expected = HashSet::new();
    for writer in writers {
        expected.extend(writer.await.expect("writer"));
    }

    stream
        .wait_for_count(u64::try_from(expected.len()).expect("small"), WITHIN)
        .await;
    relay.stop().await.expect("graceful stop");
    let streamed = stream.read_all().await;
    assert_eq!(streamed.len(), expected.len());
    assert_exactly_once_in_order(&streamed, &expected);
}

// ---------------------------------------------------------------------------------
// 4. Two relays
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_relays_one_publishes_and_the_other_takes_over() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    let repository = db.repository();
    let first = Running::start_with(&db, stream.config());
    eventually("a leader", WITHIN, || first.metrics.is_leader()).await;
    let second = Running::start_with(&db, stream.config());

    // Watch that the two never lead at the same time.
    let both_led = Arc::new(AtomicBool::new(false));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (a, b) = (first.metrics.clone(), second.metrics.clone());
        let (both_led, watching) = (both_led.clone(), watching.clone());
        tokio::spawn(async move {
            while watching.load(Ordering::SeqCst) {
                if a.is_leader() && b.is_leader() {
                    both_led.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut expected: HashSet<Uuid> = append_interleaved(&repository, "p", 3, 1, 10)
        .await
        .into_iter()
        .collect();
    stream.wait_for_count(30, WITHIN).await;
    // The counter moves with the checkpoint, just after the acks.
    eventually("the leader's checkpoint", WITHIN, || {
        first.metrics.events_published() == 30
    })
    .await;
    assert_eq!(
        second.metrics.events_published(),
        0,
        "the follower published"
    );
    assert!(!second.metrics.is_leader());

    // A third one, one-shot, is refused while a leader runs.
    let third = Relay::new(
        db.pool.clone(),
        stream.config(),
        Arc::new(RelayMetrics::new()),
    );
    assert!(matches!(
        third.drain_once().await,
        Err(RelayError::NotLeader(_))
    ));

    // Kill the leader (no graceful stop: its task and connections just vanish).
    watching.store(false, Ordering::SeqCst);
    watcher.await.expect("watcher");
    assert!(!both_led.load(Ordering::SeqCst), "two relays led at once");
    first.task.abort();
    eventually("the follower to take over", WITHIN, || {
        second.metrics.is_leader()
    })
    .await;

    expected.extend(append_interleaved(&repository, "p", 3, 11, 10).await);
    stream.wait_for_count(60, WITHIN).await;
    let metrics = second.metrics.clone();
    second.stop().await.expect("graceful stop");
    assert!(metrics.events_published() >= 30);

    let streamed = stream.read_all().await;
    assert_eq!(streamed.len(), 60);
    assert_exactly_once_in_order(&streamed, &expected);
}

// ---------------------------------------------------------------------------------
// 5. RabbitMQ
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_also_reach_a_rabbitmq_queue_bound_to_the_exchange() {
    use lapin::options::{
        BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::FieldTable;
    use lapin::{Connection, ConnectionProperties, ExchangeKind};

    let db = TestDb::new().await;
    let stream = TestStream::new();
    let exchange = format!("lae.test.{}", Uuid::new_v4().simple());

    let connection = Connection::connect(AMQP_URL, ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare the exchange");
    let queue = channel
        .queue_declare(
            format!("{exchange}.q").as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("declare a queue");
    channel
        .queue_bind(
            queue.name().clone(),
            exchange.as_str().into(),
            "Customer.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind the queue");

    let mut config = stream.config();
    config.amqp_url = Some(AMQP_URL.into());
    config.amqp_exchange = exchange.clone();
    let relay = Running::start_with(&db, config);
    let ids = append_interleaved(&db.repository(), "r", 2, 1, 5).await;
    stream.wait_for_count(10, WITHIN).await;
    relay.stop().await.expect("graceful stop");

    let mut received = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        let delivery = message.delivery;
        assert_eq!(delivery.routing_key.as_str(), "Customer.CustomerChanged");
        assert_eq!(*delivery.properties.delivery_mode(), Some(2), "persistent");
        let body: serde_json::Value = serde_json::from_slice(&delivery.data).expect("JSON");
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        assert_eq!(body["event_id"].as_str(), Some(message_id.as_str()));
        received.push(message_id.parse::<Uuid>().expect("uuid message id"));
    }

    let _ = channel
        .queue_delete(queue.name().clone(), QueueDeleteOptions::default())
        .await;
    let _ = channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    // Commit order: the order the events were appended in.
    assert_eq!(received, ids);
}

// ---------------------------------------------------------------------------------
// 6. Metrics
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_reflect_what_was_published_and_what_waits() {
    let db = TestDb::new().await;
    let stream = TestStream::new();
    let repository = db.repository();
    let metrics = Arc::new(RelayMetrics::new());
    let relay = Relay::new(db.pool.clone(), stream.config(), metrics.clone());

    append_interleaved(&repository, "m", 3, 1, 4).await;
    assert_eq!(relay.drain_once().await.expect("drain"), 12);
    let last: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("max position");
    assert_eq!(metrics.events_published(), 12);
    assert_eq!(metrics.outbox_depth(), 0);
    assert_eq!(metrics.last_published_position(), last);
    assert!(!metrics.is_leader(), "a one-shot drain releases the lock");
    let text = metrics.render_prometheus();
    for line in [
        "lae_relay_events_published_total 12",
        "lae_relay_outbox_depth 0",
        &format!("lae_relay_last_published_global_position {last}"),
        "lae_relay_leader 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    // Three committed events wait behind an open transaction: depth 3, held back.
    let mut open = db.pool.begin().await.expect("begin");
    insert_in(&mut open, &event("Customer", "m-open", 1)).await;
    append_interleaved(&repository, "m", 3, 5, 1).await;
    let running = Running::start(Relay::new(
        db.pool.clone(),
        stream.config(),
        metrics.clone(),
    ));
    eventually("the held-back backlog", WITHIN, || {
        metrics.is_held_back() && metrics.outbox_depth() == 3
    })
    .await;
    assert_eq!(metrics.events_published(), 12);
    assert!(metrics.oldest_unpublished_age_seconds() >= 0.0);

    open.commit().await.expect("commit");
    eventually("the drain", WITHIN, || metrics.events_published() == 16).await;
    eventually("depth back to zero", WITHIN, || metrics.outbox_depth() == 0).await;
    running.stop().await.expect("graceful stop");
    assert!(
        metrics
            .render_prometheus()
            .contains("lae_relay_events_published_total 16\n")
    );
    assert_eq!(stream.count().await, 16);
}

// ---------------------------------------------------------------------------------
// Benchmark (run by hand: cargo test -p lae-relay --release -- --ignored bench --nocapture)
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark of about a minute; run it explicitly"]
async fn bench_relay_against_local_services() {
    init_tracing();
    let mut options = lae_relay::BenchOptions::from_env();
    let number = |name: &str| {
        std::env::var(name).ok().map(|v| {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{name} is a number"))
        })
    };
    if let Some(seconds) = number("LAE_BENCH_SECONDS") {
        options.load_seconds = seconds;
    }
    if let Some(rate) = number("LAE_BENCH_RATE") {
        options.load_rate = u32::try_from(rate).expect("a rate that fits");
    }
    if let Some(writers) = number("LAE_BENCH_WRITERS") {
        options.writers = usize::try_from(writers).expect("a count that fits");
    }
    if let Some(backlog) = number("LAE_BENCH_BACKLOG") {
        options.backlog_events = usize::try_from(backlog).expect("a count that fits");
    }
    let report = lae_relay::bench_relay(options).await.expect("benchmark");
    println!("{report}");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report as JSON")
    );
    assert!(report.lag_samples > 0);
}
