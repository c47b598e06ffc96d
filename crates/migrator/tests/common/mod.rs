//! Shared test harness: a database of each test's own (dropped even when the test
//! panics), legacy samples, and reading the store back.
#![allow(dead_code)]

pub mod legacy;

use std::path::{Path, PathBuf};
use std::process::Command;

use lae_store::db::{self, DbSettings};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of one test's own, dropped when the guard is.
pub struct TestDb {
    pub settings: DbSettings,
}

impl TestDb {
    /// Creates and migrates `lae_test_mig_<uuid>`.
    pub async fn new() -> Self {
        let name = format!("lae_test_mig_{}", Uuid::new_v4().simple());
        let settings = DbSettings::from_url(&format!("{SERVER}/{name}"), "lae_app", None, 8)
            .expect("settings");
        db::prepare(&settings).await.expect("database prepared");
        Self { settings }
    }

    /// A pool connected as the application role (what `lae migrate` runs as).
    pub async fn app_pool(&self) -> PgPool {
        db::connect_app(&self.settings)
            .await
            .expect("app connection")
    }

    /// A pool connected as the owner.
    pub async fn owner_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(self.settings.owner.clone())
            .await
            .expect("owner connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime, which cannot be blocked on: do the
        // async cleanup on a thread and a runtime of its own.
        let settings = self.settings.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async {
                if let Err(e) = db::drop_database(&settings).await {
                    eprintln!("could not drop test database {}: {e}", settings.database());
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The legacy sample generator, kept in the project (`crates/migrator/legacy/`).
pub fn generator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("legacy/make_legacy.py")
}

/// Generates a legacy sample of `customers` customers (seed 7) into `dir`.
pub fn generate(dir: &Path, customers: u32) {
    let status = Command::new("python3")
        .arg(generator())
        .arg("--out")
        .arg(dir)
        .arg("--customers")
        .arg(customers.to_string())
        .arg("--seed")
        .arg("7")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs");
    assert!(status.success(), "make_legacy.py failed");
}

/// Every event of the store, as compared between runs: type, id, sequence, event
/// type and payload (text), in primary key order.
pub async fn events(pool: &PgPool) -> Vec<(String, String, i64, String, String)> {
    sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, payload::text
           FROM events ORDER BY aggregate_type, aggregate_id, sequence",
    )
    .fetch_all(pool)
    .await
    .expect("events")
}

pub async fn count_events(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Options for a quiet import of `dir`.
pub fn options(dir: &Path) -> lae_migrator::MigrateOptions {
    let mut options = lae_migrator::MigrateOptions::new(dir);
    options.progress = lae_migrator::ProgressMode::Off;
    options
}

/// The payloads of one aggregate's events, in order.
pub async fn payloads(pool: &PgPool, aggregate_type: &str, id: &str) -> Vec<serde_json::Value> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT payload::text FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("payloads");
    rows.into_iter()
        .map(|(p,)| serde_json::from_str(&p).expect("json payload"))
        .collect()
}

/// The customer id the import gives a legacy number.
pub fn customer(number: u32) -> String {
    lae_migrator::legacy_ids::customer(number).to_string()
}
