//! Benchmarks of the read models, each beside a raw PostgreSQL baseline measured in the
//! same run (`lae bench projections`).
//!
//! - [`bench_lag`]: end-to-end lag at a steady rate, from the moment an append has
//!   committed (the command is accepted) to the moment a reader sees the row in a
//!   department's read model, through the real relay and the real projectors. The
//!   reader polls every [`LagOptions::poll_interval`], which bounds the measurement error.
//!   The commit latency of the appends themselves is reported beside it.
//! - [`bench_rebuild`]: rebuild speed over a generated store of Customer events
//!   (registrations, contact changes, health, profile, mandate), per department, beside a
//!   raw batched upsert of as many rows into a table of the contact card's shape.
//! - [`bench_rebuild_compared`]: the same, and the same rebuilds over the same events
//!   written with their personal fields sealed, as the platform writes them
//!   (`EventRepository` with a keyring), replayed by decoders with keys: encryption on
//!   beside encryption off.
//!
//! They need a prepared database each (migrations applied); [`run_benchmarks`] makes
//! scratch ones and removes them, with the stream, whatever happens.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::persist::SerializedEvent;
use hdrhistogram::Histogram;
use lae_domain::customer::CustomerEvent;
use lae_store::EventRepository;
use lae_store::crypto::{Keyring, MasterKey, MasterKeys};
use lae_store::db::{self, DbSettings};
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::config::ProjectorConfig;
use crate::db::{reader_options, writer_pool};
use crate::department::Department;
use crate::error::ProjectionError;
use crate::metrics::ProjectionMetrics;
use crate::projector::run_all;
use crate::rebuild::{RebuildOptions, RebuildReport, rebuild};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The lag benchmark's settings; `None` skips it.
    pub lag: Option<LagOptions>,
    /// Events generated for the rebuild benchmark (five per customer); 0 skips it.
    pub rebuild_events: u64,
    /// Events per rebuild transaction (and rows per raw upsert statement).
    pub rebuild_batch: usize,
    /// Also rebuild from a store of the same events with sealed personal fields
    /// (encryption on), in a second scratch database.
    pub rebuild_sealed: bool,
    /// Rebuilds per department and store; the fastest is reported.
    pub rebuild_reps: u32,
    /// NATS server.
    pub nats_url: String,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            lag: Some(LagOptions::default()),
            rebuild_events: 1_000_000,
            rebuild_batch: 10_000,
            rebuild_sealed: true,
            rebuild_reps: 1,
            nats_url: crate::config::DEFAULT_NATS_URL.to_owned(),
        }
    }
}

/// Settings of [`bench_lag`].
#[derive(Debug, Clone)]
pub struct LagOptions {
    /// Appends per second, open loop (a slow append does not delay the next one).
    pub rate: u32,
    /// Measured period.
    pub duration: Duration,
    /// Unmeasured period before it (connections, consumers, caches).
    pub warmup: Duration,
    /// How often the reader looks for the rows.
    pub poll_interval: Duration,
    /// The projectors' [`ProjectorConfig::batch_linger`].
    pub batch_linger: Duration,
}

impl Default for LagOptions {
    fn default() -> Self {
        Self {
            rate: 500,
            duration: Duration::from_secs(20),
            warmup: Duration::from_secs(3),
            poll_interval: Duration::from_millis(2),
            batch_linger: ProjectorConfig::default().batch_linger,
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            p50_ms: ms(h.value_at_quantile(0.5)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// What [`bench_lag`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagReport {
    /// Events measured (after the warm-up).
    pub events: u64,
    /// Achieved append rate over the measured period.
    pub rate_per_second: f64,
    /// Commit → row visible to `lae_customer_service_reader`.
    pub lag: Percentiles,
    /// Append (one `INSERT` in autocommit) latency: the baseline the lag builds on.
    pub commit: Percentiles,
    /// The reader's poll interval (an upper bound of the measurement error).
    pub poll_interval_ms: f64,
}

/// What [`bench_rebuild`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebuildBenchReport {
    /// Events in the store.
    pub events: u64,
    /// Seconds the generation (bulk `INSERT` into `events`) took.
    pub generate_seconds: f64,
    /// One rebuild per department.
    pub rebuilds: Vec<RebuildReport>,
    /// Raw batched upsert of as many contact-card rows, rows per second.
    pub raw_upsert_rows_per_second: f64,
    /// Rebuilds per department and store (the fastest is reported).
    pub repetitions: u32,
    /// The same rebuilds with encryption on, unless skipped.
    pub sealed: Option<SealedRebuildReport>,
}

/// The encryption-on half of [`bench_rebuild_compared`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SealedRebuildReport {
    /// Events in the store (the same as the clear store's).
    pub events: u64,
    /// Seconds the generation took (the same `INSERT`s into a staging table, then
    /// appended through the sealing repository).
    pub generate_seconds: f64,
    /// One rebuild per department, with keys.
    pub rebuilds: Vec<RebuildReport>,
}

impl RebuildBenchReport {
    /// Rebuild speed ÷ raw upsert speed, per department.
    pub fn ratios(&self) -> Vec<(Department, f64)> {
        self.rebuilds
            .iter()
            .map(|r| {
                (
                    r.department,
                    r.events_per_second / self.raw_upsert_rows_per_second.max(1.0),
                )
            })
            .collect()
    }

    /// Encryption-on ÷ encryption-off rebuild speed, per department (empty when the
    /// sealed store was not measured).
    pub fn encryption_ratios(&self) -> Vec<(Department, f64)> {
        let Some(sealed) = &self.sealed else {
            return Vec::new();
        };
        self.rebuilds
            .iter()
            .filter_map(|clear| {
                let on = sealed
                    .rebuilds
                    .iter()
                    .find(|r| r.department == clear.department)?;
                Some((
                    clear.department,
                    on.events_per_second / clear.events_per_second.max(1e-9),
                ))
            })
            .collect()
    }
}

/// Both benchmarks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// End-to-end lag, unless skipped.
    pub lag: Option<LagReport>,
    /// Rebuild speed, unless skipped.
    pub rebuild: Option<RebuildBenchReport>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.lag {
            l.fmt(f)?;
        }
        if let Some(r) = &self.rebuild {
            r.fmt(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for LagReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self;
        writeln!(
            f,
            "end-to-end lag (commit → row visible in customer_service, real relay), {} events at {:.0}/s:",
            l.events, l.rate_per_second
        )?;
        writeln!(
            f,
            "  lag     p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms   (poll every {:.1} ms)",
            l.lag.p50_ms, l.lag.p99_ms, l.lag.max_ms, l.poll_interval_ms
        )?;
        writeln!(
            f,
            "  commit  p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms   (baseline: the append alone)",
            l.commit.p50_ms, l.commit.p99_ms, l.commit.max_ms
        )
    }
}

impl fmt::Display for RebuildBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self;
        writeln!(
            f,
            "rebuild from the store, {} Customer events (generated in {:.1} s), best of {}:",
            r.events, r.generate_seconds, r.repetitions
        )?;
        writeln!(
            f,
            "  raw batched upsert of as many contact rows: {:>10.0} rows/s",
            r.raw_upsert_rows_per_second
        )?;
        for (report, (_, ratio)) in r.rebuilds.iter().zip(r.ratios()) {
            writeln!(
                f,
                "  {:<17} {:>10.0} events/s   ratio to raw {:.2}   (replay {:.1} s, pause {:.3} s)",
                report.department.as_str(),
                report.events_per_second,
                ratio,
                report.replay_seconds,
                report.pause_seconds
            )?;
        }
        if let Some(sealed) = &r.sealed {
            writeln!(
                f,
                "  encryption on: the same events with sealed personal fields (written in {:.1} s), decoders with keys:",
                sealed.generate_seconds
            )?;
            for (report, (_, ratio)) in sealed.rebuilds.iter().zip(r.encryption_ratios()) {
                writeln!(
                    f,
                    "  {:<17} {:>10.0} events/s   on/off {:.2}   (replay {:.1} s, redacted {})",
                    report.department.as_str(),
                    report.events_per_second,
                    ratio,
                    report.replay_seconds,
                    report.events_redacted
                )?;
            }
        }
        Ok(())
    }
}

/// Creates a scratch database next to `owner_url`'s, runs both benchmarks, and removes
/// the database and the benchmark's stream whatever happens.
pub async fn run_benchmarks(
    owner_url: &str,
    options: &BenchOptions,
) -> Result<BenchReport, ProjectionError> {
    let name = format!("lae_bench_proj_{}", Uuid::new_v4().simple());
    let settings = DbSettings::from_url(owner_url, "lae_app", None, 16)?.with_database(&name);
    db::prepare(&settings).await?;
    let sealed_settings = settings.with_database(&format!("{name}_sealed"));
    let stream = format!("LAE_BENCH_PROJ_{}", Uuid::new_v4().simple()).to_uppercase();
    let result = async {
        let lag = match &options.lag {
            Some(lag) => Some(bench_lag(&settings, &options.nats_url, &stream, lag).await?),
            None => None,
        };
        let rebuild = match options.rebuild_events {
            0 => None,
            n if options.rebuild_sealed => {
                db::prepare(&sealed_settings).await?;
                Some(
                    bench_rebuild_compared(
                        &settings,
                        &sealed_settings,
                        n,
                        options.rebuild_batch,
                        options.rebuild_reps,
                    )
                    .await?,
                )
            }
            n => Some(
                compare_rebuilds(
                    &settings,
                    None,
                    n,
                    options.rebuild_batch,
                    options.rebuild_reps,
                )
                .await?,
            ),
        };
        Ok(BenchReport { lag, rebuild })
    }
    .await;
    if let Ok(client) = async_nats::connect(&options.nats_url).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(&stream)
            .await;
    }
    for scratch in [&settings, &sealed_settings] {
        if let Err(error) = db::drop_database(scratch).await {
            tracing::warn!(%error, database = %scratch.database(), "could not drop a benchmark database");
        }
    }
    result
}

fn histogram() -> Result<Histogram<u64>, ProjectionError> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| ProjectionError::Bench(e.to_string()))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Measures commit → row visible, at `options.rate` appends per second, through the real
/// relay (on `stream`) and the five projectors. `settings` must point at a prepared
/// database whose `events` the benchmark may append to.
pub async fn bench_lag(
    settings: &DbSettings,
    nats_url: &str,
    stream: &str,
    options: &LagOptions,
) -> Result<LagReport, ProjectionError> {
    let prefix = format!("bench.{}", stream.to_lowercase());
    let app = db::connect_app(settings).await?;
    let (stop, stopped) = watch::channel(false);
    let signal = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let relay_config = lae_relay::RelayConfig {
        name: format!("bench-{stream}"),
        nats_url: nats_url.to_owned(),
        stream: stream.to_owned(),
        subject_prefix: prefix.clone(),
        poll_interval: Duration::from_millis(100),
        ..lae_relay::RelayConfig::default()
    };
    let relay = tokio::spawn(lae_relay::run(
        app.clone(),
        relay_config,
        Arc::new(lae_relay::RelayMetrics::new()),
        signal(stopped.clone()),
    ));
    let config = ProjectorConfig {
        nats_url: nats_url.to_owned(),
        stream: stream.to_owned(),
        subject_prefix: prefix,
        consumer_prefix: "bench".to_owned(),
        batch_linger: options.batch_linger,
        ..ProjectorConfig::default()
    };
    let projectors = tokio::spawn({
        let (settings, signal) = (settings.clone(), signal(stopped.clone()));
        async move {
            run_all(
                &settings,
                config,
                Arc::new(ProjectionMetrics::new()),
                signal,
            )
            .await
        }
    });
    let reader = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(reader_options(settings, Department::CustomerService, None))
        .await?;

    let result = measure_lag(&app, &reader, options).await;
    let _ = stop.send(true);
    let _ = relay.await;
    let _ = projectors.await;
    result
}

async fn measure_lag(
    app: &PgPool,
    reader: &PgPool,
    options: &LagOptions,
) -> Result<LagReport, ProjectionError> {
    let repo = EventRepository::new(app.clone());
    let (committed_tx, mut committed_rx) = mpsc::unbounded_channel::<(Uuid, Instant, bool)>();
    let commit_hist = Arc::new(std::sync::Mutex::new(histogram()?));
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let period = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));

    let writer = tokio::spawn({
        let commit_hist = commit_hist.clone();
        async move {
            let mut ticker = tokio::time::interval(period);
            let mut n: u64 = 0;
            let mut appends = Vec::new();
            while Instant::now() < end {
                ticker.tick().await;
                n += 1;
                let (repo, tx, hist) = (repo.clone(), committed_tx.clone(), commit_hist.clone());
                let Some(event) = registration(n) else {
                    continue;
                };
                appends.push(tokio::spawn(async move {
                    let id = Uuid::new_v4();
                    let sent = Instant::now();
                    if repo.append(&[event_for(id, &event)]).await.is_ok() {
                        let at = Instant::now();
                        let measured = sent >= measure_from;
                        if measured && let Ok(mut h) = hist.lock() {
                            let _ = h.record(micros(at - sent));
                        }
                        let _ = tx.send((id, at, measured));
                    }
                }));
            }
            for append in appends {
                let _ = append.await;
            }
        }
    });

    let mut lag = histogram()?;
    let mut outstanding: HashMap<Uuid, (Instant, bool)> = HashMap::new();
    let mut measured = 0u64;
    let mut writer_done = false;
    let deadline_after_end = Duration::from_secs(30);
    loop {
        while let Ok((id, at, m)) = committed_rx.try_recv() {
            outstanding.insert(id, (at, m));
        }
        if !writer_done && writer.is_finished() {
            writer_done = true;
            while let Ok((id, at, m)) = committed_rx.try_recv() {
                outstanding.insert(id, (at, m));
            }
        }
        if writer_done && outstanding.is_empty() {
            break;
        }
        if Instant::now() > end + deadline_after_end {
            return Err(ProjectionError::Bench(format!(
                "{} rows never became visible",
                outstanding.len()
            )));
        }
        if !outstanding.is_empty() {
            let ids: Vec<Uuid> = outstanding.keys().copied().collect();
            let seen: Vec<Uuid> = sqlx::query_scalar(
                "SELECT customer_id FROM customer_service.customers WHERE customer_id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(reader)
            .await?;
            let now = Instant::now();
            for id in seen {
                if let Some((at, m)) = outstanding.remove(&id)
                    && m
                {
                    let _ = lag.record(micros(now - at));
                    measured += 1;
                }
            }
        }
        tokio::time::sleep(options.poll_interval).await;
    }
    let commit = commit_hist
        .lock()
        .map(|h| Percentiles::of(&h))
        .map_err(|_| ProjectionError::Bench("commit histogram poisoned".into()))?;
    Ok(LagReport {
        events: measured,
        rate_per_second: measured as f64 / options.duration.as_secs_f64(),
        lag: Percentiles::of(&lag),
        commit,
        poll_interval_ms: options.poll_interval.as_secs_f64() * 1000.0,
    })
}

fn registration(n: u64) -> Option<CustomerEvent> {
    let number = format!("LAE-{:09}", 100_000_000 + n % 800_000_000);
    Some(CustomerEvent::CustomerRegistered {
        customer_number: number.parse().ok()?,
        last_name: format!("Bench{n}").parse().ok()?,
        first_name: "Lina".parse().ok()?,
        email: format!("bench{n}@exemple.fr").parse().ok(),
        phone: None,
        availability: "lundi".parse().ok()?,
    })
}

fn event_for(id: Uuid, event: &CustomerEvent) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: id.to_string(),
        sequence: 1,
        aggregate_type: "Customer".to_owned(),
        event_type: "CustomerRegistered".to_owned(),
        event_version: "1.0".to_owned(),
        payload: serde_json::to_value(event).unwrap_or_default(),
        metadata: serde_json::json!({ "user": "bench", "department": "customer_service", "source": "cli" }),
    }
}

/// Generates `events` Customer events (five per customer: registration, contact change,
/// health declaration, sales profile, mandate) with bulk `INSERT`s as the owner, then
/// rebuilds every department from them and runs the raw baseline (encryption off).
pub async fn bench_rebuild(
    settings: &DbSettings,
    events: u64,
    batch: usize,
) -> Result<RebuildBenchReport, ProjectionError> {
    compare_rebuilds(settings, None, events, batch, 1).await
}

/// [`bench_rebuild`] with encryption off and on: the same events generated in `clear`
/// as is, and in `sealed` by the same statements into a staging table, then appended
/// through the sealing repository (keys provisioned, personal fields sealed: what the
/// platform writes). Each department is then rebuilt from one store and then the other,
/// `reps` times, keeping the fastest of each (the two alternate, so that a load from
/// elsewhere weighs on both alike). `sealed` must be a prepared database of its own:
/// a rebuild reads the whole store.
pub async fn bench_rebuild_compared(
    clear: &DbSettings,
    sealed: &DbSettings,
    events: u64,
    batch: usize,
    reps: u32,
) -> Result<RebuildBenchReport, ProjectionError> {
    compare_rebuilds(clear, Some(sealed), events, batch, reps).await
}

async fn compare_rebuilds(
    clear: &DbSettings,
    sealed: Option<&DbSettings>,
    events: u64,
    batch: usize,
    reps: u32,
) -> Result<RebuildBenchReport, ProjectionError> {
    let owner = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(clear.owner.clone())
        .await?;
    let customers = events / 5;
    let started = Instant::now();
    generate(&owner, customers).await?;
    let generate_seconds = started.elapsed().as_secs_f64();
    let events = customers * 5;
    let raw_upsert_rows_per_second = raw_upsert(&owner, customers, batch).await?;
    let off = RebuildOptions {
        batch_size: batch,
        ..RebuildOptions::default()
    };

    let sealed = match sealed {
        None => None,
        Some(settings) => {
            let masters = Arc::new(MasterKeys::new(
                MasterKey::parse(&MasterKey::generate_hex())
                    .map_err(|e| ProjectionError::Bench(e.to_string()))?,
            ));
            let owner = PgPoolOptions::new()
                .max_connections(4)
                .connect_with(settings.owner.clone())
                .await?;
            let started = Instant::now();
            generate_sealed(&owner, customers, &masters).await?;
            let generate_seconds = started.elapsed().as_secs_f64();
            let on = RebuildOptions {
                master_keys: Some(masters),
                ..off.clone()
            };
            Some((settings, owner, on, generate_seconds))
        }
    };

    let mut rebuilds = Vec::new();
    let mut sealed_rebuilds = Vec::new();
    for department in Department::ALL {
        let mut best_off: Option<RebuildReport> = None;
        let mut best_on: Option<RebuildReport> = None;
        for _ in 0..reps.max(1) {
            let report = rebuild_one(clear, &owner, department, &off).await?;
            best_off = Some(faster(best_off, report));
            if let Some((settings, owner, on, _)) = &sealed {
                let report = rebuild_one(settings, owner, department, on).await?;
                best_on = Some(faster(best_on, report));
            }
        }
        rebuilds.extend(best_off);
        sealed_rebuilds.extend(best_on);
    }
    owner.close().await;
    let sealed = match sealed {
        Some((_, owner, _, generate_seconds)) => {
            owner.close().await;
            Some(SealedRebuildReport {
                events,
                generate_seconds,
                rebuilds: sealed_rebuilds,
            })
        }
        None => None,
    };
    Ok(RebuildBenchReport {
        events,
        generate_seconds,
        rebuilds,
        raw_upsert_rows_per_second,
        repetitions: reps.max(1),
        sealed,
    })
}

/// The faster of two rebuilds.
fn faster(best: Option<RebuildReport>, report: RebuildReport) -> RebuildReport {
    match best {
        Some(best) if best.events_per_second >= report.events_per_second => best,
        _ => report,
    }
}

/// Rebuilds one department with its own writer role.
async fn rebuild_one(
    settings: &DbSettings,
    owner: &PgPool,
    department: Department,
    options: &RebuildOptions,
) -> Result<RebuildReport, ProjectionError> {
    let writer = writer_pool(settings, department, None, 2);
    let report = rebuild(department, owner, &writer, options, None).await;
    writer.close().await;
    let report = report?;
    tracing::info!(department = %department, events_per_second = report.events_per_second, sealed = options.master_keys.is_some(), "rebuild measured");
    Ok(report)
}

/// Customers per generating statement: each statement holds their five events ordered by
/// event kind, so that a customer's events are far apart in commit order, as in life.
const GENERATE_CHUNK: u64 = 10_000;

const GENERATE: &str = r#"
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT 'Customer', md5('bench-customer-' || g.n)::uuid::text, s.seq,
       (ARRAY['CustomerRegistered', 'ContactDetailsChanged', 'HealthDeclared', 'SalesProfileSet', 'MandateSigned'])[s.seq],
       '1.0',
       CASE s.seq
         WHEN 1 THEN json_build_object('type', 'CustomerRegistered',
              'customer_number', 'LAE-' || lpad((10000000 + g.n)::text, 8, '0'),
              'last_name', 'Nom-' || g.n, 'first_name', 'Prénom', 'email', 'client' || g.n || '@exemple.fr',
              'phone', '+336' || lpad((g.n % 100000000)::text, 8, '0'), 'availability', 'lundi-vendredi 9h-12h')
         WHEN 2 THEN json_build_object('type', 'ContactDetailsChanged',
              'last_name', 'Nom-' || g.n, 'first_name', 'Prénom', 'email', 'c.' || g.n || '@exemple.fr',
              'phone', CASE WHEN g.n % 2 = 0 THEN NULL ELSE '+337' || lpad((g.n % 100000000)::text, 8, '0') END,
              'availability', 'le soir')
         WHEN 3 THEN json_build_object('type', 'HealthDeclared', 'tobacco', 'non_smoker', 'alcohol', 'occasional',
              'illnesses', CASE WHEN g.n % 3 = 0 THEN json_build_array('Asthme') ELSE json_build_array() END,
              'declared_on', '2024-03-04')
         WHEN 4 THEN json_build_object('type', 'SalesProfileSet', 'age_band', '36-45', 'profession', 'Infirmière', 'sex', 'female')
         ELSE json_build_object('type', 'MandateSigned',
              'iban', CASE WHEN g.n % 2 = 0 THEN 'FR7630006000011234567890189' ELSE 'FR1420041010050500013M02606' END,
              'mandate_reference', 'LAE-RUM-' || g.n, 'signed_on', '2024-03-11')
       END,
       '{"user":"bench","department":"customer_service","source":"legacy-migration"}'::json
  FROM generate_series($1::bigint, $2::bigint) AS g(n)
 CROSS JOIN generate_series(1, 5) AS s(seq)
 ORDER BY s.seq, g.n"#;

async fn generate(owner: &PgPool, customers: u64) -> Result<(), ProjectionError> {
    let mut from = 1u64;
    while from <= customers {
        let to = (from + GENERATE_CHUNK - 1).min(customers);
        sqlx::query(GENERATE)
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(i64::try_from(to).unwrap_or(i64::MAX))
            .execute(owner)
            .await?;
        from = to + 1;
    }
    owner.execute("ANALYZE events").await?;
    Ok(())
}

/// The staging table of [`generate_sealed`]: the columns [`GENERATE`] writes, in the
/// order it writes them.
const STAGE: &str = "CREATE UNLOGGED TABLE bench_stage (
    ord bigserial PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint NOT NULL, event_type text NOT NULL, event_version text NOT NULL,
    payload json NOT NULL, metadata json NOT NULL)";

/// [`generate`], sealed: each chunk is generated by the same statement into a staging
/// table, read back in order, and appended through the sealing repository in one
/// append (one statement, as [`GENERATE`] is), so that the two stores hold the same
/// events in the same commit order.
async fn generate_sealed(
    owner: &PgPool,
    customers: u64,
    masters: &Arc<MasterKeys>,
) -> Result<(), ProjectionError> {
    owner
        .execute(format!("DROP TABLE IF EXISTS bench_stage; {STAGE}").as_str())
        .await?;
    let stage = GENERATE.replacen("INSERT INTO events", "INSERT INTO bench_stage", 1);
    let repo = EventRepository::new(owner.clone()).with_keyring(Keyring::all(masters.clone()));
    let mut from = 1u64;
    while from <= customers {
        let to = (from + GENERATE_CHUNK - 1).min(customers);
        sqlx::query(&stage)
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(i64::try_from(to).unwrap_or(i64::MAX))
            .execute(owner)
            .await?;
        let rows: Vec<StagedRow> = sqlx::query_as(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata \
               FROM bench_stage ORDER BY ord",
        )
        .fetch_all(owner)
        .await?;
        let events = rows
            .into_iter()
            .map(|r| {
                Ok(SerializedEvent {
                    aggregate_id: r.aggregate_id,
                    sequence: usize::try_from(r.sequence)
                        .map_err(|e| ProjectionError::Bench(e.to_string()))?,
                    aggregate_type: r.aggregate_type,
                    event_type: r.event_type,
                    event_version: r.event_version,
                    payload: r.payload.0,
                    metadata: r.metadata.0,
                })
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        repo.append(&events)
            .await
            .map_err(|e| ProjectionError::Bench(format!("sealed append: {e}")))?;
        owner.execute("TRUNCATE bench_stage").await?;
        from = to + 1;
    }
    owner
        .execute("DROP TABLE bench_stage; ANALYZE events")
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StagedRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: sqlx::types::Json<serde_json::Value>,
    metadata: sqlx::types::Json<serde_json::Value>,
}

/// The baseline: as many rows as events, of the contact card's shape, upserted in
/// batches of `batch` with the same statement shape the projectors use, keyed like the
/// generated store (each customer written five times, five chunks apart). The rows are
/// built before the clock starts: this is PostgreSQL's side alone.
async fn raw_upsert(owner: &PgPool, customers: u64, batch: usize) -> Result<f64, ProjectionError> {
    owner
        .execute("DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw; CREATE TABLE bench_raw.customers (LIKE customer_service.customers INCLUDING ALL)")
        .await?;
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    let mut from = 1u64;
    while from <= customers {
        let to = (from + GENERATE_CHUNK - 1).min(customers);
        for seq in 1..=5i64 {
            for n in from..=to {
                rows.push((Uuid::new_v5(&Uuid::NAMESPACE_OID, &n.to_le_bytes()), n, seq));
            }
        }
        from = to + 1;
    }
    let sql = "INSERT INTO bench_raw.customers (customer_id, customer_number, last_name, first_name, email, phone, availability, registered_at, version, updated_at) \
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::bigint[], $10::timestamptz[]) \
               ON CONFLICT (customer_id) DO UPDATE SET customer_number = EXCLUDED.customer_number, last_name = EXCLUDED.last_name, first_name = EXCLUDED.first_name, \
               email = EXCLUDED.email, phone = EXCLUDED.phone, availability = EXCLUDED.availability, registered_at = EXCLUDED.registered_at, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at";
    let started = Instant::now();
    for chunk in rows.chunks(batch.max(1)) {
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.0).collect();
        let numbers: Vec<String> = chunk
            .iter()
            .map(|r| format!("LAE-{:08}", 10_000_000 + r.1))
            .collect();
        let last: Vec<String> = chunk.iter().map(|r| format!("Nom-{}", r.1)).collect();
        let first: Vec<&str> = chunk.iter().map(|_| "Prénom").collect();
        let email: Vec<String> = chunk
            .iter()
            .map(|r| format!("c.{}@exemple.fr", r.1))
            .collect();
        let phone: Vec<Option<String>> = chunk
            .iter()
            .map(|r| (r.1 % 2 == 1).then(|| format!("+337{:08}", r.1 % 100_000_000)))
            .collect();
        let availability: Vec<&str> = chunk.iter().map(|_| "le soir").collect();
        let at: Vec<chrono::DateTime<chrono::Utc>> = chunk.iter().map(|_| now).collect();
        let version: Vec<i64> = chunk.iter().map(|r| r.2).collect();
        let mut tx = owner.begin().await?;
        sqlx::query(sql)
            .bind(&ids)
            .bind(&numbers)
            .bind(&last)
            .bind(&first)
            .bind(&email)
            .bind(&phone)
            .bind(&availability)
            .bind(&at)
            .bind(&version)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    owner.execute("DROP SCHEMA bench_raw CASCADE").await?;
    Ok(rows.len() as f64 / seconds.max(1e-9))
}
