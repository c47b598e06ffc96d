//! `lae bench ...`: benchmarks that measure the platform beside a raw PostgreSQL
//! baseline taken in the same run, so that the ratio survives a noisy machine.
//!
//! Each run creates a database of its own and drops it at the end. Repetitions
//! interleave the baseline and the platform (protocol in `shared/notes/perf-baselines.md`).

mod kpis;
mod lists;
mod queries;
mod workflow;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use lae_api::auth::{Role, users};
use lae_api::{Application, Settings};
use lae_store::db::{self, DbSettings};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum Target {
    /// The command path over HTTP (load, decide, append) against pgbench inserting
    /// one event-shaped row per transaction into the same table.
    Commands(CommandsArgs),
    /// The relay: lag from commit to JetStream ack at a steady load, and backlog drain
    /// rate against a raw JetStream publish loop, same run.
    Relay,
    /// The read models: end-to-end lag at 500 events/s and rebuild speed over 1,000,000
    /// events against a raw batched upsert, same run.
    Projections,
    /// A department query over HTTP (customer service's customer view at random ids,
    /// authentication included) against pgbench running the same SQL lookup, same run.
    Queries(queries::QueriesArgs),
    /// Billing's cross-customer lists (unpaid, rejected, to invoice) at 100,000
    /// customers, first and later pages, API and desk pages, against p99 <= 50 ms.
    Lists(lists::ListsArgs),
    /// The management indicators over a year of 1,000,000 events: projection speed, and
    /// the KPI endpoint (a year by month, by week, a month by day) against p99 <= 50 ms.
    Kpis(kpis::KpisArgs),
    /// The cross-department workflow against a running `lae serve`: latency from an
    /// accepted offer's HTTP answer to the contract request in legal's read model, at a
    /// steady rate (p50, p90, p99, max).
    Workflow(workflow::WorkflowArgs),
    /// Verify and export speed over 1,000,000 events against a raw COPY TO, same run.
    Audit,
    /// The legacy import against a raw COPY of as many event rows, same run.
    Migrate(MigrateBenchArgs),
}

#[derive(Debug, Args)]
pub struct MigrateBenchArgs {
    /// Where the generated legacy sample is kept between runs.
    #[arg(long, default_value = "/tmp/lae_legacy_100k")]
    legacy_dir: std::path::PathBuf,
    /// Customers of the generated sample (100,000 is about a million legacy rows).
    #[arg(long, default_value_t = 100_000)]
    customers: u32,
    /// The sample generator.
    #[arg(long, default_value = "crates/migrator/legacy/make_legacy.py")]
    generator: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct CommandsArgs {
    /// Concurrent clients (HTTP connections and pgbench clients alike).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Interleaved repetitions of baseline and platform.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Customers owned by each client (commands rotate over them, so no two clients
    /// touch one aggregate and the run measures throughput, not conflicts).
    #[arg(long, default_value_t = 100)]
    customers_per_client: usize,
}

pub async fn run(target: Target) -> anyhow::Result<()> {
    match target {
        Target::Commands(args) => commands(args).await,
        Target::Queries(args) => queries::run(args).await,
        Target::Lists(args) => lists::run(args).await,
        Target::Kpis(args) => kpis::run(args).await,
        Target::Workflow(args) => workflow::run(args).await,
        Target::Relay => {
            let report = lae_relay::bench_relay(lae_relay::BenchOptions::from_env()).await?;
            println!("{report}");
            Ok(())
        }
        Target::Projections => {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| lae_api::settings::DEFAULT_DATABASE_URL.into());
            let report = lae_projections::bench::run_benchmarks(
                &url,
                &lae_projections::bench::BenchOptions::default(),
            )
            .await?;
            println!("{report}");
            Ok(())
        }
        Target::Audit => {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| lae_api::settings::DEFAULT_DATABASE_URL.into());
            let report = lae_audit::bench::run(&lae_audit::bench::AuditBenchConfig {
                owner_url: url,
                events: 1_000_000,
                aggregates: 100_000,
                repetitions: 3,
                seal_batch: 5_000,
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Target::Migrate(args) => {
            let settings = Settings::from_env().context("reading configuration")?;
            let report = lae_migrator::bench::run(lae_migrator::bench::BenchOptions {
                legacy_dir: args.legacy_dir,
                customers: args.customers,
                generator: Some(args.generator),
                db: settings.db,
                batch_events: 5_000,
            })
            .await?;
            println!("{report}");
            Ok(())
        }
    }
}

struct Measurement {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

impl Measurement {
    /// Rate and latencies of the requests recorded in `histogram` over `elapsed`.
    fn of(histogram: &Histogram<u64>, elapsed: Duration, errors: u64) -> Self {
        Self {
            per_second: histogram.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: histogram.value_at_quantile(0.50) as f64 / 1000.0,
            p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
            errors,
        }
    }
}

async fn commands(args: CommandsArgs) -> anyhow::Result<()> {
    let base = Settings::from_env().context("reading configuration")?;
    // Two platforms side by side, on databases of their own: personal fields sealed
    // (the production setting) and in clear (the encryption-off reference).
    let mut sealed = bench_settings(&base, &args)?;
    sealed.master_keys = Some(Arc::new(lae_store::crypto::MasterKeys::new(
        lae_store::crypto::MasterKey::parse(&lae_store::crypto::MasterKey::generate_hex())?,
    )));
    sealed.plaintext = false;
    let mut clear = bench_settings(&base, &args)?;
    clear.master_keys = None;
    clear.plaintext = true;
    let result = commands_in(&args, &sealed, &clear).await;
    for settings in [&sealed, &clear] {
        db::drop_database(&settings.db)
            .await
            .context("dropping a benchmark database")?;
    }
    result
}

fn bench_settings(base: &Settings, args: &CommandsArgs) -> anyhow::Result<Settings> {
    let mut settings = base.clone();
    let name = format!("lae_bench_{}", Uuid::new_v4().simple());
    settings.db = settings.db.with_database(&name);
    settings.db.max_connections = u32::try_from(args.clients * 2).unwrap_or(32);
    settings.http_addr = "127.0.0.1:0".parse()?;
    // The command path alone: the relay and the projectors have benchmarks of their own.
    settings.relay = None;
    settings.projectors = None;
    settings.sealer = false;
    Ok(settings)
}

/// An application serving on its own port for a run, until [`Served::stop`].
struct Served {
    /// `http://<address>`.
    base: String,
    /// Its connection pool (to create the run's users).
    pool: sqlx::PgPool,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    fn start(app: Application) -> anyhow::Result<Self> {
        let base = format!("http://{}", app.local_addr()?);
        let pool = app.state().pool.clone();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stop_rx.await;
        }));
        Ok(Self {
            base,
            pool,
            stop,
            server,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}

/// A platform under measurement: its address, a token, the customers of each client.
struct Platform {
    base: String,
    token: String,
    owned: Arc<Vec<Vec<String>>>,
    served: Served,
}

async fn start(
    args: &CommandsArgs,
    settings: &Settings,
    client: &reqwest::Client,
) -> anyhow::Result<Platform> {
    let served = Served::start(Application::build(settings).await?)?;
    let base = served.base.clone();
    let token = bench_token_as(client, &base, served.pool.clone(), Role::CustomerService).await?;
    eprintln!(
        "seeding {} customers ...",
        args.clients * args.customers_per_client
    );
    let mut owned = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let mut ids = Vec::with_capacity(args.customers_per_client);
        for _ in 0..args.customers_per_client {
            ids.push(register(client, &base, &token).await?);
        }
        owned.push(ids);
    }
    Ok(Platform {
        base,
        token,
        owned: Arc::new(owned),
        served,
    })
}

async fn commands_in(
    args: &CommandsArgs,
    sealed_settings: &Settings,
    clear_settings: &Settings,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let sealed = start(args, sealed_settings, &client).await?;
    let clear = start(args, clear_settings, &client).await?;

    print_context(args);
    let mut baseline = Vec::new();
    let mut platform = Vec::new();
    let mut plaintext = Vec::new();
    for rep in 1..=args.reps {
        let b = pgbench_insert(&sealed_settings.db, args.clients, args.seconds).await?;
        println!(
            "rep {rep}: pgbench 1-row INSERT/tx  {:>8.0} tx/s   avg {:.2} ms",
            b.per_second, b.p50_ms
        );
        // Alternate which platform goes first, so that neither always runs on the
        // machine the other just heated (or the checkpoint it just triggered).
        let (p, c) = if rep % 2 == 1 {
            let p = http_commands(
                &client,
                &sealed.base,
                &sealed.token,
                &sealed.owned,
                args.seconds,
            )
            .await?;
            let c = http_commands(
                &client,
                &clear.base,
                &clear.token,
                &clear.owned,
                args.seconds,
            )
            .await?;
            (p, c)
        } else {
            let c = http_commands(
                &client,
                &clear.base,
                &clear.token,
                &clear.owned,
                args.seconds,
            )
            .await?;
            let p = http_commands(
                &client,
                &sealed.base,
                &sealed.token,
                &sealed.owned,
                args.seconds,
            )
            .await?;
            (p, c)
        };
        println!(
            "rep {rep}: HTTP command path        {:>8.0} cmd/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
            p.per_second, p.p50_ms, p.p99_ms, p.errors
        );
        println!(
            "rep {rep}: same, encryption off     {:>8.0} cmd/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
            c.per_second, c.p50_ms, c.p99_ms, c.errors
        );
        baseline.push(b);
        platform.push(p);
        plaintext.push(c);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let b = median(&mut baseline.iter().map(|m| m.per_second).collect());
    let p = median(&mut platform.iter().map(|m| m.per_second).collect());
    let c = median(&mut plaintext.iter().map(|m| m.per_second).collect());
    let p50 = median(&mut platform.iter().map(|m| m.p50_ms).collect());
    let p99 = median(&mut platform.iter().map(|m| m.p99_ms).collect());
    let errors: u64 = platform.iter().chain(&plaintext).map(|m| m.errors).sum();
    println!(
        "median of {} reps at {} clients: command path {p:.0} cmd/s (p50 {p50:.2} ms, p99 {p99:.2} ms), \
         raw insert {b:.0} tx/s, ratio {:.2} (target >= 0.50), errors {errors}",
        args.reps,
        args.clients,
        p / b
    );
    println!(
        "encryption: on {p:.0} cmd/s, off {c:.0} cmd/s, ratio on/off {:.2} (target >= 0.80)",
        p / c
    );
    for platform in [sealed, clear] {
        platform.served.stop().await?;
    }
    Ok(())
}

fn print_context(args: &CommandsArgs) {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "bench commands: {} clients, {} s x {} reps, {} cores, loadavg {}",
        args.clients,
        args.seconds,
        args.reps,
        cores,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// A user of `role` for the run, logged in over HTTP like any client (the measured
/// path includes authentication). Its name is new each time: a run may need several
/// roles, and `bench workflow` runs against a platform's own database.
async fn bench_token_as(
    client: &reqwest::Client,
    base: &str,
    pool: sqlx::PgPool,
    role: Role,
) -> anyhow::Result<String> {
    let username = format!("bench{}", &Uuid::new_v4().simple().to_string()[..10]);
    let password = format!("bench-{}", Uuid::new_v4());
    users::create(&pool, "bench", &username, "Benchmark", role, &password)
        .await
        .context("creating a benchmark user")?;
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await?;
    if response.status() != 200 {
        bail!("login failed: {}", response.status());
    }
    let body: serde_json::Value = response.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("login answered no token")
}

async fn register(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"last_name": "Martin", "first_name": "Hélène",
                      "email": "bench@exemple.fr", "phone": "0612345678"}))
        .send()
        .await?;
    if response.status() != 201 {
        bail!("registration failed: {}", response.status());
    }
    let body: serde_json::Value = response.json().await?;
    body["id"]
        .as_str()
        .map(str::to_owned)
        .context("registration answered no id")
}

async fn http_commands(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    owned: &Arc<Vec<Vec<String>>>,
    seconds: u64,
) -> anyhow::Result<Measurement> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_index in 0..owned.len() {
        let client = client.clone();
        let base = base.to_owned();
        let authorization = format!("Bearer {token}");
        let owned = Arc::clone(owned);
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            // Parse URLs and render bodies before the clock starts: the load
            // generator shares the machine's two cores with the server and PostgreSQL.
            let urls: Vec<reqwest::Url> = owned[client_index]
                .iter()
                .map(|id| format!("{base}/api/v1/customers/{id}/contact-details").parse())
                .collect::<Result<_, _>>()?;
            let bodies: Vec<bytes::Bytes> = (0..2)
                .map(|k| {
                    bytes::Bytes::from(
                        json!({"last_name": "Martin", "first_name": format!("Hélène{k}"),
                               "email": "bench@exemple.fr", "phone": "0612345678"})
                        .to_string(),
                    )
                })
                .collect();
            let mut n = 0usize;
            while Instant::now() < deadline {
                // Alternate the first name per customer so that every command appends.
                let url = urls[n % urls.len()].clone();
                let body = bodies[(n / urls.len()) % 2].clone();
                n += 1;
                let sent = Instant::now();
                let response = client
                    .put(url)
                    .header("authorization", &authorization)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let ok = matches!(&response, Ok(r) if r.status() == 202);
                if let Ok(r) = response {
                    let _ = r.bytes().await;
                }
                if ok {
                    histogram
                        .record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(histogram)
        }));
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        total.add(task.await??)?;
    }
    Ok(Measurement::of(
        &total,
        started.elapsed(),
        errors.load(Ordering::Relaxed),
    ))
}

/// pgbench inserting one event-shaped row per transaction into the same `events`
/// table: the physical ceiling of an append (fsync and group commit).
async fn pgbench_insert(
    db: &DbSettings,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Measurement> {
    let script = std::env::temp_dir().join(format!("lae-bench-{}.sql", Uuid::new_v4().simple()));
    std::fs::write(
        &script,
        r#"INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id) VALUES ('PgBench', gen_random_uuid()::text, 1, 'ContactDetailsChanged', '1.0', '{"type":"ContactDetailsChanged","last_name":"Martin","first_name":"Hélène1","email":"bench@exemple.fr","phone":"+33612345678","availability":""}', '{"user":"bench","department":"customer_service","occurred_at":"2026-01-01T00:00:00.000000Z","correlation_id":"00000000-0000-0000-0000-000000000000","causation_id":"00000000-0000-0000-0000-000000000000","source":"api"}', gen_random_uuid());
"#,
    )?;
    let output = tokio::process::Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&script)
        .args([
            "-h",
            db.owner.get_host(),
            "-p",
            &db.owner.get_port().to_string(),
        ])
        .args(["-U", db.owner.get_username(), db.database()])
        .stdin(Stdio::null())
        .output()
        .await
        .context("running pgbench (install postgresql-contrib)")?;
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let tps = field("tps = ").context("pgbench printed no tps")?;
    let latency = field("latency average = ").unwrap_or(f64::NAN);
    Ok(Measurement {
        per_second: tps,
        p50_ms: latency,
        p99_ms: f64::NAN,
        errors: 0,
    })
}
