//! `lae bench migrate`: the import's speed end to end, beside a raw `COPY` of as many
//! event-shaped rows into the same `events` table, in the same run and database, so
//! that the ratio survives a noisy machine (protocol: `shared/notes/perf-baselines.md`
//! §5.5). Also reports the process's peak memory (VmHWM).
//!
//! The run creates a database of its own (`lae_bench_mig_<uuid>`) and drops it at the
//! end, whatever happened.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use lae_store::db::{self, DbSettings};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::MigrateError;
use crate::legacy::LegacyFile;
use crate::options::{MigrateOptions, ProgressMode};
use crate::report::Report;
use crate::run::migrate;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The legacy directory (generated there first when its files are missing).
    pub legacy_dir: PathBuf,
    /// Customers of the generated sample (100,000 ≈ 1M legacy rows).
    pub customers: u32,
    /// `make_legacy.py`, used when the sample has to be generated.
    pub generator: Option<PathBuf>,
    /// Where the server is; the database name is replaced with a fresh one.
    pub db: DbSettings,
    /// Events per append statement.
    pub batch_events: usize,
}

/// The figures of one benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub legacy_rows: u64,
    pub events: u64,
    pub import_seconds: f64,
    pub import_rows_per_second: f64,
    pub import_events_per_second: f64,
    pub copy_rows: u64,
    pub copy_seconds: f64,
    pub copy_rows_per_second: f64,
    /// Import events/s ÷ COPY rows/s (target ≥ 0.3).
    pub import_to_copy: f64,
    /// Peak resident memory of the process after the import (VmHWM), in MiB.
    pub peak_rss_mib: Option<f64>,
    pub quarantined_rows: u64,
    pub conflicts: u64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "import: {} legacy rows → {} events in {:.1} s: {:.0} rows/s, {:.0} events/s",
            self.legacy_rows,
            self.events,
            self.import_seconds,
            self.import_rows_per_second,
            self.import_events_per_second
        )?;
        writeln!(
            f,
            "COPY:   {} event rows in {:.1} s: {:.0} rows/s",
            self.copy_rows, self.copy_seconds, self.copy_rows_per_second
        )?;
        writeln!(
            f,
            "ratio:  import events/s ÷ COPY rows/s = {:.2} (target ≥ 0.30)",
            self.import_to_copy
        )?;
        match self.peak_rss_mib {
            Some(mib) => writeln!(f, "memory: peak RSS {mib:.0} MiB (target ≤ 500)")?,
            None => writeln!(f, "memory: VmHWM unavailable")?,
        }
        write!(
            f,
            "set aside: {} rows; conflicts: {}",
            self.quarantined_rows, self.conflicts
        )
    }
}

/// Runs the benchmark once.
pub async fn run(options: BenchOptions) -> Result<BenchReport, MigrateError> {
    ensure_sample(&options)?;
    let settings = options
        .db
        .with_database(&format!("lae_bench_mig_{}", Uuid::new_v4().simple()));
    let result = measure(&options, &settings).await;
    let dropped = db::drop_database(&settings).await;
    let report = result?;
    dropped.map_err(|e| MigrateError::store("dropping the benchmark database", e))?;
    Ok(report)
}

async fn measure(
    options: &BenchOptions,
    settings: &DbSettings,
) -> Result<BenchReport, MigrateError> {
    db::prepare(settings)
        .await
        .map_err(|e| MigrateError::store("creating the benchmark database", e))?;
    let pool = db::connect_app(settings)
        .await
        .map_err(|e| MigrateError::store("connecting to the benchmark database", e))?;

    let mut migrate_options = MigrateOptions::new(&options.legacy_dir);
    migrate_options.progress = ProgressMode::Off;
    migrate_options.batch_events = options.batch_events;
    let started = Instant::now();
    let report: Report = migrate(migrate_options, pool.clone()).await?;
    let import_seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = peak_rss_kib().map(|kib| kib as f64 / 1024.0);

    let legacy_rows: u64 = report.tables.values().map(|c| c.read).sum();
    let events = report.events_appended;
    let (copy_rows, copy_seconds) = copy_baseline(&pool, events).await?;
    let copy_rows_per_second = copy_rows as f64 / copy_seconds.max(1e-9);
    let import_events_per_second = events as f64 / import_seconds.max(1e-9);
    Ok(BenchReport {
        legacy_rows,
        events,
        import_seconds,
        import_rows_per_second: legacy_rows as f64 / import_seconds.max(1e-9),
        import_events_per_second,
        copy_rows,
        copy_seconds,
        copy_rows_per_second,
        import_to_copy: import_events_per_second / copy_rows_per_second.max(1e-9),
        peak_rss_mib,
        quarantined_rows: report.quarantined_rows(),
        conflicts: report.conflicts.len() as u64,
    })
}

fn ensure_sample(options: &BenchOptions) -> Result<(), MigrateError> {
    let complete = LegacyFile::ALL
        .iter()
        .all(|f| options.legacy_dir.join(f.file_name()).is_file());
    if complete {
        return Ok(());
    }
    let Some(generator) = &options.generator else {
        return Err(MigrateError::Options(format!(
            "no legacy sample in {} and no generator to make one",
            options.legacy_dir.display()
        )));
    };
    tracing::info!(customers = options.customers, dir = %options.legacy_dir.display(), "generating the legacy sample");
    let status = Command::new("python3")
        .arg(generator)
        .arg("--out")
        .arg(&options.legacy_dir)
        .arg("--customers")
        .arg(options.customers.to_string())
        .arg("--seed")
        .arg("7")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| MigrateError::Options(format!("cannot run {}: {e}", generator.display())))?;
    if !status.success() {
        return Err(MigrateError::Options(format!(
            "{} failed: {status}",
            generator.display()
        )));
    }
    Ok(())
}

/// COPYs `rows` rows shaped like the imported events (same columns, payload and
/// metadata of the imported events' average size) into `events`, and times it.
async fn copy_baseline(pool: &PgPool, rows: u64) -> Result<(u64, f64), MigrateError> {
    let store = |e| MigrateError::store("COPY baseline", e);
    let (payload, metadata): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT avg(length(payload::text))::float8, avg(length(metadata::text))::float8 FROM events",
    )
    .fetch_one(pool)
    .await
    .map_err(store)?;
    let pad = |avg: Option<f64>, base: usize| {
        "x".repeat((avg.unwrap_or(200.0) as usize).saturating_sub(base))
    };
    let payload_pad = pad(payload, 30);
    let metadata_pad = pad(metadata, 30);
    let mut connection = pool.acquire().await.map_err(store)?;
    let started = Instant::now();
    let mut copy = connection
        .copy_in_raw(
            "COPY events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id) FROM STDIN",
        )
        .await
        .map_err(store)?;
    let mut buffer = String::with_capacity(1 << 20);
    for i in 0..rows {
        let id = Uuid::new_v4();
        buffer.push_str(&format!(
            "BenchCopy\t{id}\t1\tBenchCopied\t1.0\t{{\"type\":\"BenchCopied\",\"pad\":\"{payload_pad}\"}}\t{{\"source\":\"bench\",\"pad\":\"{metadata_pad}\"}}\t{}\n",
            Uuid::new_v4()
        ));
        if buffer.len() >= 1 << 20 || i + 1 == rows {
            copy.send(std::mem::take(&mut buffer).into_bytes())
                .await
                .map_err(store)?;
        }
    }
    copy.finish().await.map_err(store)?;
    Ok((rows, started.elapsed().as_secs_f64()))
}

/// The process's peak resident set size (VmHWM), in KiB, where /proc says it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
