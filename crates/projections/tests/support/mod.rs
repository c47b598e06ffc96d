//! Shared test harness: a database of each test's own (dropped even on panic), a NATS
//! stream of each test's own (deleted), the real relay, and a scenario of events.
#![allow(dead_code)]

pub mod scenario;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use lae_projections::{Department, ProjectionMetrics, ProjectorConfig, run_all};
use lae_relay::{Relay, RelayConfig, RelayMetrics};
use lae_store::crypto::{MasterKey, MasterKeys};
use lae_store::db::{self, DbSettings};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// The tests' master key.
pub fn test_masters() -> Arc<MasterKeys> {
    Arc::new(MasterKeys::new(
        MasterKey::parse(&"42".repeat(32)).expect("test master key"),
    ))
}

/// Runs async cleanup from a `Drop`, which cannot block the test's runtime: on a thread
/// of its own with a runtime of its own.
fn cleanup(what: impl std::future::Future<Output = ()> + Send + 'static) {
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cleanup runtime");
        runtime.block_on(what);
    });
    let _ = thread.join();
}

/// A database of one test's own, dropped when the guard is.
pub struct TestDb {
    pub settings: DbSettings,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("lae_test_proj_{}", Uuid::new_v4().simple());
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let settings = DbSettings::from_url(&url, "lae_app", None, 8).expect("settings");
        let db = Self { settings };
        db::prepare(&db.settings).await.expect("prepare database");
        // sqlx::migrate! embeds the migrations when lae-store compiles and does not see a
        // file added later: say so rather than fail obscurely.
        let mut conn = db.owner().await;
        let migrated: bool = sqlx::query_scalar("SELECT to_regnamespace('management') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .expect("query");
        assert!(
            migrated,
            "migration 0003 was not applied: rebuild lae-store (cargo clean -p lae-store)"
        );
        db
    }

    pub async fn owner(&self) -> PgConnection {
        PgConnection::connect_with(&self.settings.owner)
            .await
            .expect("owner connection")
    }

    pub async fn owner_pool(&self, size: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(size)
            .connect_with(self.settings.owner.clone())
            .await
            .expect("owner pool")
    }

    pub async fn app_pool(&self) -> PgPool {
        db::connect_app(&self.settings).await.expect("app pool")
    }

    pub fn writer_pool(&self, department: Department) -> PgPool {
        lae_projections::db::writer_pool(&self.settings, department, None, 2)
    }

    pub async fn reader_pool(&self, department: Department, size: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(size)
            .connect_with(lae_projections::db::reader_options(
                &self.settings,
                department,
                None,
            ))
            .await
            .expect("reader pool")
    }

    pub async fn connect_as(&self, role: &str) -> PgConnection {
        let options = self.settings.owner.clone().username(role).password("");
        PgConnection::connect_with(&options)
            .await
            .expect("role connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        cleanup(async move {
            if let Err(e) = db::drop_database(&settings).await {
                eprintln!("could not drop test database {}: {e}", settings.database());
            }
        });
    }
}

/// A stream, subject prefix and consumer names of one test's own, deleted when the guard
/// is dropped. The relay creates the stream on its first publish.
pub struct TestNats {
    pub stream: String,
    pub subject_prefix: String,
    pub context: jetstream::Context,
}

impl TestNats {
    pub async fn new() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        let client = async_nats::connect(NATS_URL).await.expect("NATS");
        Self {
            stream: format!("LAE_TEST_PROJ_{}", id.to_uppercase()),
            subject_prefix: format!("test.proj{id}"),
            context: jetstream::new(client),
        }
    }

    pub fn relay_config(&self) -> RelayConfig {
        RelayConfig {
            name: format!("relay-{}", self.stream),
            nats_url: NATS_URL.to_owned(),
            stream: self.stream.clone(),
            subject_prefix: self.subject_prefix.clone(),
            poll_interval: Duration::from_millis(50),
            ..RelayConfig::default()
        }
    }

    /// A projector configuration on this stream, with consumers named `<prefix>_<dept>`
    /// and short timers so that redeliveries happen within a test.
    pub fn projector_config(&self, consumer_prefix: &str) -> ProjectorConfig {
        ProjectorConfig {
            nats_url: NATS_URL.to_owned(),
            stream: self.stream.clone(),
            subject_prefix: self.subject_prefix.clone(),
            consumer_prefix: consumer_prefix.to_owned(),
            batch_size: 50,
            ack_wait: Duration::from_secs(2),
            retry_delay: Duration::from_millis(200),
            lag_poll: Duration::from_millis(200),
            ..ProjectorConfig::default()
        }
    }

    /// Publishes, through the real relay, every event committed so far; returns how many
    /// were published by this call.
    ///
    /// The relay only publishes events of transactions below the cluster's xmin, which
    /// a transaction of another test (any database) may hold back for a moment: drain
    /// until the stream has everything.
    pub async fn relay(&self, db: &TestDb) -> usize {
        let pool = db.app_pool().await;
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .expect("count");
        let relay = Relay::new(
            pool.clone(),
            self.relay_config(),
            Arc::new(RelayMetrics::new()),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut published = 0;
        loop {
            published += relay.drain_once().await.expect("relay drains the store");
            let in_stream = match self.context.get_stream(&self.stream).await {
                Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.messages),
                Err(_) => 0,
            };
            if in_stream >= u64::try_from(stored).unwrap_or(0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the relay did not publish every event"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pool.close().await;
        published
    }

    /// Whether a department's consumer has nothing pending (undelivered or unacked).
    pub async fn caught_up(&self, consumer: &str) -> bool {
        let Ok(stream) = self.context.get_stream(&self.stream).await else {
            return false;
        };
        let Ok(mut consumer) = stream
            .get_consumer::<jetstream::consumer::pull::Config>(consumer)
            .await
        else {
            return false;
        };
        match consumer.info().await {
            Ok(info) => info.num_pending == 0 && info.num_ack_pending == 0,
            Err(_) => false,
        }
    }

    /// Waits until every department's consumer of `prefix` has caught up.
    pub async fn wait_caught_up(&self, prefix: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut all = true;
            for d in Department::ALL {
                if !self.caught_up(&format!("{prefix}_{d}")).await {
                    all = false;
                    break;
                }
            }
            if all {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "projectors of {prefix} did not catch up within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        let stream = self.stream.clone();
        cleanup(async move {
            if let Ok(client) = async_nats::connect(NATS_URL).await {
                let _ = jetstream::new(client).delete_stream(&stream).await;
            }
        });
    }
}

/// Every row of every table of a schema, as text, sorted: two read models are equal when
/// their snapshots are.
pub async fn snapshot(conn: &mut PgConnection, schema: &str) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT t::text FROM {}.{} t ORDER BY 1",
            lae_store::db::quote_ident(schema),
            lae_store::db::quote_ident(&table)
        ))
        .fetch_all(&mut *conn)
        .await
        .expect("rows");
        out.insert(table, rows);
    }
    out
}

/// Snapshots of every department schema.
pub async fn snapshot_all(db: &TestDb) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut conn = db.owner().await;
    let mut out = BTreeMap::new();
    for d in Department::ALL {
        out.insert(d.schema().to_owned(), snapshot(&mut conn, d.schema()).await);
    }
    out
}

/// Asserts two snapshots are equal, table by table, naming the first difference.
pub fn assert_same(
    left: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    right: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
) {
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        right.keys().collect::<Vec<_>>()
    );
    for (schema, tables) in left {
        let other = &right[schema];
        assert_eq!(
            tables.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>(),
            "{schema}"
        );
        for (table, rows) in tables {
            let other_rows = &other[table];
            assert_eq!(
                rows.len(),
                other_rows.len(),
                "{schema}.{table}: row counts differ"
            );
            for (a, b) in rows.iter().zip(other_rows) {
                assert_eq!(a, b, "{schema}.{table}: rows differ");
            }
        }
    }
}

/// Tells projectors to stop.
pub fn shutdown_signal() -> (
    tokio::sync::watch::Sender<bool>,
    impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let make = move || {
        let mut rx = rx.clone();
        Box::pin(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    };
    (tx, make)
}

/// Runs every projector (with `masters`, if any) until they have consumed what the relay
/// published; returns their metrics.
pub async fn project(
    db: &TestDb,
    nats: &TestNats,
    prefix: &str,
    masters: Option<Arc<MasterKeys>>,
) -> Arc<ProjectionMetrics> {
    nats.relay(db).await;
    let (stop, signal) = shutdown_signal();
    let metrics = Arc::new(ProjectionMetrics::new());
    let config = ProjectorConfig {
        master_keys: masters,
        ..nats.projector_config(prefix)
    };
    let settings = db.settings.clone();
    let task = tokio::spawn({
        let metrics = metrics.clone();
        async move { run_all(&settings, config, metrics, signal()).await }
    });
    nats.wait_caught_up(prefix, Duration::from_secs(60)).await;
    let _ = stop.send(true);
    task.await.expect("joins").expect("projectors stop cleanly");
    metrics
}

/// How a planted value is looked for in a cell's text.
#[derive(Debug, Clone, Copy)]
pub enum Match {
    Exact,
    Contains,
}

/// The departments whose reader role can read `value` in its read model: the columns
/// of the tables its role may select from (management's projector keeps ids in working
/// tables its reader cannot read, migration 0016).
pub async fn where_is(
    db: &TestDb,
    value: &str,
    how: Match,
) -> std::collections::BTreeSet<Department> {
    let mut conn = db.owner().await;
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = ANY($1) \
           AND has_table_privilege('lae_' || table_schema || '_reader', \
                                   quote_ident(table_schema) || '.' || quote_ident(table_name), 'SELECT') \
         ORDER BY 1, 2, 3",
    )
    .bind(Department::ALL.map(|d| d.schema()).to_vec())
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    assert!(columns.len() > 50, "only {} columns found", columns.len());
    let mut found = std::collections::BTreeSet::new();
    for (schema, table, column) in columns {
        let condition = match how {
            Match::Exact => format!("{}::text = $1", lae_store::db::quote_ident(&column)),
            Match::Contains => format!(
                "strpos({}::text, $1) > 0",
                lae_store::db::quote_ident(&column)
            ),
        };
        let sql = format!(
            "SELECT count(*) FROM {}.{} WHERE {condition}",
            lae_store::db::quote_ident(&schema),
            lae_store::db::quote_ident(&table)
        );
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(value)
            .fetch_one(&mut conn)
            .await
            .expect("scan");
        if n > 0 {
            found.insert(schema.parse::<Department>().expect("department schema"));
        }
    }
    found
}
