//! `lae bench queries`: a department query over HTTP (authentication, the reader pool,
//! the lookup, JSON, ETag) against pgbench running the same SQL lookup on the same
//! read model as the same role, interleaved over several repetitions.
//!
//! The measured route is customer service's customer view,
//! `GET /api/v1/customer-service/customers/{id}`, at random ids among `--customers`
//! contact cards written straight into the read model (as a projector would), with a
//! bearer token (authentication included). pgbench runs [`CUSTOMER_SQL`], the handler's
//! own statement, with the same random id, as `lae_customer_service_reader`, with
//! prepared statements like the API's connections (the stronger baseline:
//! `--pgbench-protocol simple` re-parses each query).
//!
//! The HTTP load comes from `wrk` when it is installed (a separate C process, as light
//! on the shared cores as pgbench's own client), otherwise from a load generator in this
//! process (reqwest, heavier: it takes CPU from the server it measures);
//! `--load-generator` chooses.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use lae_api::auth::Role;
use lae_api::routes::queries::CUSTOMER_SQL;
use lae_api::{Application, Settings};
use lae_projections::Department;
use lae_store::db::{self, DbSettings};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{Measurement, bench_token_as};

#[derive(Debug, Args)]
pub struct QueriesArgs {
    /// Contact cards written into customer service's read model.
    #[arg(long, default_value_t = 10_000)]
    customers: u32,
    /// Concurrent clients (HTTP connections and pgbench clients alike).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Interleaved repetitions of baseline and platform.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// pgbench's protocol: `prepared` (as the API's connections do) or `simple`.
    #[arg(long, default_value = "prepared")]
    pgbench_protocol: String,
    /// `wrk`, `builtin` (reqwest, in this process), or `auto`: wrk when installed.
    #[arg(long, default_value = "auto")]
    load_generator: String,
}

/// The id of the `n`th seeded customer: what both load generators draw from.
const ID_PREFIX: &str = "00000000-0000-4000-8000-";

fn customer_id(n: u32) -> String {
    format!("{ID_PREFIX}{n:012}")
}

pub async fn run(args: QueriesArgs) -> anyhow::Result<()> {
    if !["prepared", "simple", "extended"].contains(&args.pgbench_protocol.as_str()) {
        bail!("--pgbench-protocol: prepared, extended or simple");
    }
    if !["auto", "wrk", "builtin"].contains(&args.load_generator.as_str()) {
        bail!("--load-generator: auto, wrk or builtin");
    }
    let mut settings = Settings::from_env().context("reading configuration")?;
    let name = format!("lae_bench_{}", Uuid::new_v4().simple());
    settings.db = settings.db.with_database(&name);
    // The application pool only serves the login and the token standings.
    settings.db.max_connections = 4;
    settings.http_addr = "127.0.0.1:0".parse()?;
    settings.relay = None;
    settings.projectors = None;
    settings.sealer = false;
    // The read models are loaded directly; the command side still needs a master key
    // to start (a throwaway one).
    if settings.master_keys.is_none() {
        settings.master_keys = Some(std::sync::Arc::new(lae_store::crypto::MasterKeys::new(
            lae_store::crypto::MasterKey::parse(&lae_store::crypto::MasterKey::generate_hex())?,
        )));
    }
    let result = run_in(&args, &settings).await;
    db::drop_database(&settings.db)
        .await
        .context("dropping the benchmark database")?;
    result
}

async fn run_in(args: &QueriesArgs, settings: &Settings) -> anyhow::Result<()> {
    let app = Application::build(settings)
        .await?
        .with_router(lae_web::app);
    let served = super::Served::start(app)?;
    let base = served.base.clone();
    let app_pool = served.pool.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let token = bench_token_as(&client, &base, app_pool, Role::CustomerService).await?;
    eprintln!("seeding {} customers ...", args.customers);
    seed(&settings.db, args.customers).await?;
    let wrk = match args.load_generator.as_str() {
        "builtin" => false,
        "wrk" => true,
        _ => wrk_installed().await,
    };

    print_context(args, settings, wrk);
    let mut baseline = Vec::new();
    let mut platform = Vec::new();
    for rep in 1..=args.reps {
        let b = pgbench_lookup(settings, args).await?;
        println!(
            "rep {rep}: pgbench same lookup     {:>8.0} q/s   p50 {:.2} ms  p99 {:.2} ms",
            b.per_second, b.p50_ms, b.p99_ms
        );
        let p = if wrk {
            wrk_lookups(&base, &token, args).await?
        } else {
            http_lookups(&client, &base, &token, args).await?
        };
        println!(
            "rep {rep}: HTTP customer view      {:>8.0} req/s p50 {:.2} ms  p99 {:.2} ms  errors {}",
            p.per_second, p.p50_ms, p.p99_ms, p.errors
        );
        // The customer service desk's card page: the same read, rendered as HTML (with
        // the ticket history and the reasons list), through the same load generator.
        let card = lookups_at(
            &client,
            &base,
            "/desk/customer-service/customers/",
            &token,
            args,
        )
        .await?;
        println!(
            "rep {rep}: desk customer card page {:>8.0} req/s p50 {:.2} ms  p99 {:.2} ms  errors {} (target p99 <= 50 ms)",
            card.per_second, card.p50_ms, card.p99_ms, card.errors
        );
        baseline.push(b);
        platform.push(p);
    }
    let median = |values: Vec<f64>| {
        let mut values = values;
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let of = |ms: &[Measurement], f: fn(&Measurement) -> f64| median(ms.iter().map(f).collect());
    let (b, b50, b99) = (
        of(&baseline, |m| m.per_second),
        of(&baseline, |m| m.p50_ms),
        of(&baseline, |m| m.p99_ms),
    );
    let (p, p50, p99) = (
        of(&platform, |m| m.per_second),
        of(&platform, |m| m.p50_ms),
        of(&platform, |m| m.p99_ms),
    );
    let errors: u64 = platform.iter().map(|m| m.errors).sum();
    println!(
        "median of {} reps at {} clients: HTTP {p:.0} req/s (p50 {p50:.2} ms, p99 {p99:.2} ms), \
         pgbench {b:.0} q/s (p50 {b50:.2} ms, p99 {b99:.2} ms), ratio {:.2} (target >= 0.50), \
         HTTP p99 target <= 20 ms, errors {errors}",
        args.reps,
        args.clients,
        p / b
    );
    served.stop().await?;
    Ok(())
}

fn print_context(args: &QueriesArgs, settings: &Settings, wrk: bool) {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "bench queries: {} customers, {} clients, {} s x {} reps, reader pool {}, HTTP load from {}, pgbench -M {}, {} cores, loadavg {}",
        args.customers,
        args.clients,
        args.seconds,
        args.reps,
        settings.reader_pool_size,
        if wrk { "wrk" } else { "the built-in generator" },
        args.pgbench_protocol,
        cores,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Contact cards (and a ticket for some) as customer service's projector would write
/// them, written as the owner in one statement each.
async fn seed(db: &DbSettings, customers: u32) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(&db.owner).await?;
    sqlx::query(
        "INSERT INTO customer_service.customers (customer_id, customer_number, last_name, \
           first_name, email, phone, availability, registered_at, version, updated_at) \
         SELECT ($1 || lpad(n::text, 12, '0'))::uuid, 'LAE-' || lpad(n::text, 7, '0'), \
                (ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Richard','Petit','Durand'])[1 + n % 8] || n, \
                (ARRAY['Hélène','Louis','Zoé','Jean','Anne'])[1 + n % 5], \
                'client' || n || '@exemple.fr', '+336' || lpad(n::text, 8, '0'), 'matin', \
                now(), 1 + n % 4, now() \
           FROM generate_series(1, $2) AS n",
    )
    .bind(ID_PREFIX)
    .bind(i64::from(customers))
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO customer_service.tickets (ticket_id, customer_id, channel, reason, status, \
           opened_at, version, updated_at) \
         SELECT gen_random_uuid(), ($1 || lpad(n::text, 12, '0'))::uuid, 'phone', 'Question', \
                CASE WHEN n % 2 = 0 THEN 'open' ELSE 'resolved' END, now(), 1, now() \
           FROM generate_series(1, $2, 3) AS n",
    )
    .bind(ID_PREFIX)
    .bind(i64::from(customers))
    .execute(&mut conn)
    .await?;
    sqlx::query("ANALYZE customer_service.customers, customer_service.tickets")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

async fn http_lookups(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    args: &QueriesArgs,
) -> anyhow::Result<Measurement> {
    lookups_at(
        client,
        base,
        "/api/v1/customer-service/customers/",
        token,
        args,
    )
    .await
}

/// The same load on `prefix` + a seeded customer id (the JSON view, or the desk's card).
async fn lookups_at(
    client: &reqwest::Client,
    base: &str,
    prefix: &str,
    token: &str,
    args: &QueriesArgs,
) -> anyhow::Result<Measurement> {
    // URLs are parsed before the clock starts: the load generator shares the machine's
    // cores with the server and PostgreSQL.
    let urls: Arc<Vec<reqwest::Url>> = Arc::new(
        (1..=args.customers)
            .map(|n| format!("{base}{prefix}{}", customer_id(n)).parse())
            .collect::<Result<_, _>>()?,
    );
    load_urls(client, urls, token, args.clients, args.seconds).await
}

/// `clients` concurrent loops of GET at random among `urls` for `seconds`, with the
/// bearer `token`: rate, latencies of the 200s, and the count of anything else.
pub(super) async fn load_urls(
    client: &reqwest::Client,
    urls: Arc<Vec<reqwest::Url>>,
    token: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Measurement> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..clients {
        let client = client.clone();
        let authorization = format!("Bearer {token}");
        let urls = Arc::clone(&urls);
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut random = XorShift::new(task as u64);
            while Instant::now() < deadline {
                let url = urls[random.below(urls.len())].clone();
                let sent = Instant::now();
                let response = client
                    .get(url)
                    .header("authorization", &authorization)
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    Ok(r) => {
                        let _ = r.bytes().await;
                        false
                    }
                    Err(_) => false,
                };
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

/// Whether `wrk` can be run.
async fn wrk_installed() -> bool {
    tokio::process::Command::new("wrk")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok()
}

/// wrk on the same route at random seeded ids, two threads like pgbench's `-j 2`.
async fn wrk_lookups(base: &str, token: &str, args: &QueriesArgs) -> anyhow::Result<Measurement> {
    let script = std::env::temp_dir().join(format!("lae-bench-q-{}.lua", Uuid::new_v4().simple()));
    std::fs::write(
        &script,
        format!(
            "local threads = 0\n\
             function setup(thread) threads = threads + 1; thread:set(\"seed\", threads) end\n\
             function init(args) math.randomseed(seed * 7919) end\n\
             function request()\n\
               return wrk.format(\"GET\", string.format(\"/api/v1/customer-service/customers/{ID_PREFIX}%012d\", math.random(1, {})))\n\
             end\n",
            args.customers
        ),
    )?;
    let output = tokio::process::Command::new("wrk")
        .args(["-t2", &format!("-c{}", args.clients)])
        .args([&format!("-d{}s", args.seconds), "--latency", "-s"])
        .arg(&script)
        .args(["-H", &format!("Authorization: Bearer {token}"), base])
        .stdin(Stdio::null())
        .output()
        .await
        .context("running wrk");
    let _ = std::fs::remove_file(&script);
    let output = output?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let after = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .map(str::trim)
    };
    let per_second = after("Requests/sec:")
        .and_then(|v| v.parse::<f64>().ok())
        .context("wrk printed no rate")?;
    let latency = |quantile: &str| {
        after(quantile)
            .and_then(wrk_millis)
            .with_context(|| format!("wrk printed no {quantile} latency"))
    };
    // Answers other than 2xx/3xx, and socket errors, are failures.
    let non_2xx = after("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let socket_errors: u64 = after("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(Measurement {
        per_second,
        p50_ms: latency("50%")?,
        p99_ms: latency("99%")?,
        errors: non_2xx + socket_errors,
    })
}

/// wrk's latency (`812.00us`, `2.47ms`, `1.02s`) in milliseconds.
fn wrk_millis(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// pgbench running the handler's statement on a random seeded id, as customer
/// service's reader role; latencies from a 10% sample of its transaction log.
async fn pgbench_lookup(settings: &Settings, args: &QueriesArgs) -> anyhow::Result<Measurement> {
    let dir = std::env::temp_dir().join(format!("lae-bench-q-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let result = pgbench_in(&dir, settings, args).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn pgbench_in(
    dir: &std::path::Path,
    settings: &Settings,
    args: &QueriesArgs,
) -> anyhow::Result<Measurement> {
    let script = dir.join("lookup.sql");
    let lookup = CUSTOMER_SQL.replace(
        "$1",
        &format!("('{ID_PREFIX}' || lpad(:n::text, 12, '0'))::uuid"),
    );
    std::fs::write(
        &script,
        format!("\\set n random(1, {})\n{lookup};\n", args.customers),
    )?;
    let db = &settings.db;
    let mut command = tokio::process::Command::new("pgbench");
    command
        .current_dir(dir)
        .args([
            "-n",
            "-M",
            &args.pgbench_protocol,
            "-c",
            &args.clients.to_string(),
        ])
        .args(["-j", "2", "-T", &args.seconds.to_string(), "-f"])
        .arg(&script)
        .args(["-l", "--sampling-rate=0.1", "--log-prefix=tx"])
        .args([
            "-h",
            db.owner.get_host(),
            "-p",
            &db.owner.get_port().to_string(),
        ])
        .args([
            "-U",
            &Department::CustomerService.reader_role(),
            db.database(),
        ])
        .stdin(Stdio::null());
    if let Some(password) = &settings.reader_password {
        command.env("PGPASSWORD", password.expose_str());
    }
    let output = command
        .output()
        .await
        .context("running pgbench (install postgresql-contrib)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    // Each log line: client, transaction, latency (µs), script, epoch s, epoch µs.
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("tx"))
        {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            if let Some(latency) = line
                .split_whitespace()
                .nth(2)
                .and_then(|v| v.parse::<u64>().ok())
            {
                histogram.record(latency.max(1))?;
            }
        }
    }
    Ok(Measurement {
        per_second: tps,
        p50_ms: histogram.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        errors: 0,
    })
}

/// A tiny generator of random indexes, free of locks and allocation.
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> Self {
        Self(0x9E37_79B9_7F4A_7C15 ^ (seed.wrapping_add(1).wrapping_mul(0xBF58_476D_1CE4_E5B9)))
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_latencies_are_read_in_milliseconds() {
        assert_eq!(wrk_millis("812.00us"), Some(0.812));
        assert_eq!(wrk_millis("2.47ms"), Some(2.47));
        assert_eq!(wrk_millis("1.50s"), Some(1500.0));
        assert_eq!(wrk_millis("n/a"), None);
        assert_eq!(customer_id(42), "00000000-0000-4000-8000-000000000042");
    }
}
