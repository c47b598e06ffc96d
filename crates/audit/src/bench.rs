//! The figures of `lae bench audit`: sealer rate, and verification and export speed
//! beside a raw `COPY (SELECT … ORDER BY transaction_id, global_position) TO STDOUT` of
//! the events table, measured in the same run (target: each at least 40 % of the raw
//! rate).
//!
//! A fresh database gets `events` synthetic events as the owner, by bulk `INSERT …
//! SELECT generate_series` (contact-detail changes of realistic size, interleaved
//! across aggregates as real traffic is), then is sealed as `lae_sealer`, then read
//! `repetitions` times, the three readers interleaved so that noise from other work on
//! the machine falls on all of them alike. The database is dropped at the end.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lae_store::db::{APP_ROLE, DbSettings};
use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::connect::{AUDITOR_ROLE, SEALER_ROLE, connect_as};
use crate::error::{AuditError, Result};
use crate::export::{ExportRange, export_ndjson};
use crate::key::AuditKey;
use crate::sealer::{SealerConfig, seal_pending_with};

/// What to measure.
#[derive(Debug, Clone)]
pub struct AuditBenchConfig {
    /// The owner's URL of any database on the server; the benchmark creates its own.
    pub owner_url: String,
    pub events: u64,
    /// Events are spread over this many aggregates.
    pub aggregates: u64,
    pub repetitions: usize,
    pub seal_batch: usize,
}

impl Default for AuditBenchConfig {
    fn default() -> Self {
        Self {
            owner_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            events: 1_000_000,
            aggregates: 200_000,
            repetitions: 3,
            seal_batch: 5_000,
        }
    }
}

/// Median, minimum and maximum of a rate, in events per second.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Rate {
    fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Self {
            median: samples.get(samples.len() / 2).copied().unwrap_or_default(),
            min: samples.first().copied().unwrap_or_default(),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct AuditBenchReport {
    pub events: u64,
    pub aggregates: u64,
    /// Average bytes of payload and metadata text per event.
    pub average_event_bytes: f64,
    pub generate_seconds: f64,
    /// Events sealed per second (one pass over the whole store).
    pub seal_rate: f64,
    /// Raw `COPY … TO STDOUT` of the events in commit order, read by this client.
    pub copy: Rate,
    pub verify: Rate,
    pub export: Rate,
    /// Per repetition, verify rate ÷ COPY rate of the same repetition.
    pub verify_ratios: Vec<f64>,
    pub export_ratios: Vec<f64>,
    pub export_bytes: u64,
    pub cores: usize,
    pub load_average: String,
}

impl AuditBenchReport {
    /// The median of the per-repetition ratios.
    pub fn verify_ratio(&self) -> f64 {
        Rate::of(self.verify_ratios.clone()).median
    }

    pub fn export_ratio(&self) -> f64 {
        Rate::of(self.export_ratios.clone()).median
    }
}

/// A key of the benchmark's own: sealing is measured keyed, as in production.
const BENCH_KEY: &[u8] = b"lae audit benchmark key, not a secret, 32+ bytes";

/// Runs the benchmark; the database it creates is dropped even when a step fails.
pub async fn run(config: &AuditBenchConfig) -> Result<AuditBenchReport> {
    let base = DbSettings::from_url(&config.owner_url, APP_ROLE, None, 4)?;
    let settings = base.with_database(&format!(
        "lae_bench_audit_{}",
        uuid::Uuid::new_v4().simple()
    ));
    lae_store::db::prepare(&settings).await?;
    let outcome = measure(config, &settings).await;
    if let Err(e) = lae_store::db::drop_database(&settings).await {
        tracing::warn!(error = %e, database = settings.database(), "cannot drop the benchmark database");
    }
    outcome
}

async fn measure(config: &AuditBenchConfig, settings: &DbSettings) -> Result<AuditBenchReport> {
    let owner = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(settings.owner.clone())
        .await?;
    let key = AuditKey::hmac(BENCH_KEY)?;

    let started = Instant::now();
    generate(&owner, config.events, config.aggregates.max(1)).await?;
    let generate_seconds = started.elapsed().as_secs_f64();
    let average_event_bytes: f64 = sqlx::query_scalar(
        "SELECT avg(length(payload::text) + length(metadata::text))::float8 FROM events",
    )
    .fetch_one(&owner)
    .await?;

    let sealer = connect_as(settings, SEALER_ROLE, None, 2).await?;
    let started = Instant::now();
    let sealed = seal_all(&sealer, &key, config.seal_batch, config.events).await?;
    let seal_rate = sealed as f64 / started.elapsed().as_secs_f64();
    sealer.close().await;
    sqlx::query("VACUUM ANALYZE audit.event_seals")
        .execute(&owner)
        .await?;

    let auditor = connect_as(settings, AUDITOR_ROLE, None, 2).await?;
    let (mut copy, mut verify, mut export) = (Vec::new(), Vec::new(), Vec::new());
    let (mut verify_ratios, mut export_ratios) = (Vec::new(), Vec::new());
    let mut export_bytes = 0;
    for _ in 0..config.repetitions.max(1) {
        let copy_rate = rate(config.events, raw_copy(&owner).await?);

        let started = Instant::now();
        let report = crate::verify(&auditor, &key).await?;
        let verify_rate = rate(config.events, started.elapsed());
        if !report.ok() {
            return Err(AuditError::Task(format!(
                "the benchmark store does not verify: {:?}",
                report.problems.first()
            )));
        }

        let started = Instant::now();
        let exported =
            export_ndjson(&auditor, &ExportRange::default(), &mut tokio::io::sink()).await?;
        let export_rate = rate(exported.events, started.elapsed());
        export_bytes = exported.bytes;

        tracing::info!(
            copy_rate,
            verify_rate,
            export_rate,
            "audit bench repetition"
        );
        copy.push(copy_rate);
        verify.push(verify_rate);
        export.push(export_rate);
        verify_ratios.push(verify_rate / copy_rate);
        export_ratios.push(export_rate / copy_rate);
    }
    auditor.close().await;
    owner.close().await;

    Ok(AuditBenchReport {
        events: config.events,
        aggregates: config.aggregates,
        average_event_bytes,
        generate_seconds,
        seal_rate,
        copy: Rate::of(copy),
        verify: Rate::of(verify),
        export: Rate::of(export),
        verify_ratios,
        export_ratios,
        export_bytes,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        load_average: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    })
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Contact-detail changes of realistic size (about 300 bytes of payload and 250 of
/// metadata), event `g` being sequence `g / aggregates + 1` of aggregate
/// `g % aggregates`: aggregates interleave in commit order as real traffic does, and
/// each aggregate's sequence rises with its global position.
const GENERATE: &str = "
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT 'Customer', md5('bench-' || (g % $3))::uuid::text, g / $3 + 1, 'ContactDetailsChanged', '1.0',
       json_build_object('type', 'ContactDetailsChanged', 'last_name', 'Nom-' || g, 'first_name', 'Hélène',
                         'email', 'client.' || g || '@exemple.fr',
                         'phone', '+336' || lpad((g % 100000000)::text, 8, '0'),
                         'availability', 'du lundi au vendredi de 9h à 12h, sinon rappeler après 18h',
                         'postal_address', g || ' avenue de la République, 75011 Paris')::jsonb::text::json,
       json_build_object('user', 'agent' || (g % 50), 'department', 'customer_service',
                         'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                         'correlation_id', gen_random_uuid(), 'causation_id', gen_random_uuid(),
                         'source', 'api')::jsonb::text::json
  FROM generate_series($1::bigint, $2::bigint) AS g";

async fn generate(owner: &PgPool, events: u64, aggregates: u64) -> Result<()> {
    const CHUNK: u64 = 200_000;
    let mut from = 0;
    while from < events {
        let to = (from + CHUNK).min(events) - 1;
        sqlx::query(GENERATE)
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(i64::try_from(to).unwrap_or(i64::MAX))
            .bind(i64::try_from(aggregates).unwrap_or(i64::MAX))
            .execute(owner)
            .await?;
        from = to + 1;
    }
    // Autovacuum would get there eventually; do it now so that every reader starts
    // from the same, settled table.
    sqlx::query("VACUUM ANALYZE events").execute(owner).await?;
    Ok(())
}

/// Seals until `expected` events are sealed. Another database's long transaction can
/// hold the horizon back for a while (transaction ids are cluster-wide), so an empty
/// batch means waiting, not being done.
async fn seal_all(pool: &PgPool, key: &AuditKey, batch: usize, expected: u64) -> Result<u64> {
    let config = SealerConfig {
        batch,
        ..SealerConfig::default()
    };
    let mut sealed = 0u64;
    let deadline = Instant::now() + Duration::from_secs(1800);
    while sealed < expected {
        let n = seal_pending_with(pool, key, &config).await?;
        sealed += n as u64;
        if n == 0 {
            if Instant::now() > deadline {
                return Err(AuditError::Task(format!(
                    "sealing stalled at {sealed} of {expected} events"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(sealed)
}

/// The baseline: the server's fastest way to hand the same rows, in the same order, to
/// this client.
async fn raw_copy(owner: &PgPool) -> Result<Duration> {
    let started = Instant::now();
    let mut conn = owner.acquire().await?;
    let mut stream = conn
        .copy_out_raw(
            "COPY (SELECT event_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
                          global_position, recorded_at, payload, metadata
                     FROM events ORDER BY transaction_id, global_position) TO STDOUT",
        )
        .await?;
    let mut bytes = 0usize;
    while let Some(chunk) = stream.try_next().await? {
        bytes += chunk.len();
    }
    tracing::debug!(bytes, "raw copy done");
    Ok(started.elapsed())
}
