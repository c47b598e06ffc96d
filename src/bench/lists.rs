//! `lae bench lists`: billing's three cross-customer lists (unpaid invoices, rejected
//! payments, signed contracts not yet invoiced) at `--customers` customers, over HTTP
//! (authentication, the reader pool, the keyset query, JSON) and as the desk's HTML
//! pages, against the target p99 <= 50 ms.
//!
//! The read model is written straight in, as billing's projector would: per customer
//! a contact card, a signed contract (one in ten never invoiced), and two invoices
//! (statuses mixed: about a third unpaid, one in twenty rejected). Every list is asked
//! under each of its two keys in both directions, at its first page and at pages
//! reached by following the cursors (up to `--depth` pages deep), at random.

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use lae_api::auth::Role;
use lae_api::{Application, Settings};
use lae_store::db::{self, DbSettings};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::queries::load_urls;
use super::{Measurement, bench_token_as};

#[derive(Debug, Args)]
pub struct ListsArgs {
    /// Customers written into billing's read model.
    #[arg(long, default_value_t = 100_000)]
    customers: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Repetitions.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Pages followed by cursor in each list, order and key.
    #[arg(long, default_value_t = 40)]
    depth: usize,
}

const LISTS: &[(&str, &[&str])] = &[
    ("/api/v1/billing/invoices/unpaid", &["due_on", "amount"]),
    (
        "/api/v1/billing/invoices/rejected",
        &["rejected_on", "amount"],
    ),
    (
        "/api/v1/billing/contracts/uninvoiced",
        &["signed_on", "premium"],
    ),
];

pub async fn run(args: ListsArgs) -> anyhow::Result<()> {
    let mut settings = Settings::from_env().context("reading configuration")?;
    let name = format!("lae_bench_{}", Uuid::new_v4().simple());
    settings.db = settings.db.with_database(&name);
    settings.db.max_connections = 4;
    settings.http_addr = "127.0.0.1:0".parse()?;
    settings.relay = None;
    settings.projectors = None;
    settings.sealer = false;
    if settings.master_keys.is_none() {
        settings.master_keys = Some(Arc::new(lae_store::crypto::MasterKeys::new(
            lae_store::crypto::MasterKey::parse(&lae_store::crypto::MasterKey::generate_hex())?,
        )));
    }
    let result = run_in(&args, &settings).await;
    db::drop_database(&settings.db)
        .await
        .context("dropping the benchmark database")?;
    result
}

async fn run_in(args: &ListsArgs, settings: &Settings) -> anyhow::Result<()> {
    let app = Application::build(settings)
        .await?
        .with_router(lae_web::app);
    let served = super::Served::start(app)?;
    let base = served.base.clone();
    let app_pool = served.pool.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let token = bench_token_as(&client, &base, app_pool, Role::Billing).await?;
    eprintln!("seeding {} customers ...", args.customers);
    let counts = seed(&settings.db, args.customers).await?;
    println!(
        "bench lists: {} customers, {} unpaid invoices, {} rejected, {} contracts to invoice; \
         {} clients, {} s x {} reps, reader pool {}, pages up to {} deep",
        args.customers,
        counts[0],
        counts[1],
        counts[2],
        args.clients,
        args.seconds,
        args.reps,
        settings.reader_pool_size,
        args.depth
    );

    // The addresses: each list, key and direction, first page and the pages after it.
    let mut api = Vec::new();
    for (path, keys) in LISTS {
        for key in *keys {
            for order in ["asc", "desc"] {
                let first = format!("{base}{path}?sort={key}&order={order}");
                api.push(first.parse()?);
                let mut url = first.clone();
                for _ in 0..args.depth {
                    let response = client.get(&url).bearer_auth(&token).send().await?;
                    if response.status() != 200 {
                        bail!("{url}: {}", response.status());
                    }
                    let page: serde_json::Value = response.json().await?;
                    let Some(cursor) = page["next_cursor"].as_str() else {
                        break;
                    };
                    url = format!("{first}&cursor={cursor}");
                    api.push(url.parse()?);
                }
            }
        }
    }
    // The desk's pages: the same lists as HTML (first pages, both keys and directions).
    let mut desk = Vec::new();
    for (page, keys) in [
        ("/desk/billing/unpaid", ["due_on", "amount"]),
        ("/desk/billing/rejected", ["rejected_on", "amount"]),
        ("/desk/billing/uninvoiced", ["signed_on", "premium"]),
    ] {
        for key in keys {
            for order in ["asc", "desc"] {
                desk.push(format!("{base}{page}?sort={key}&order={order}").parse()?);
            }
        }
    }
    println!(
        "{} API addresses (first and later pages), {} desk pages",
        api.len(),
        desk.len()
    );
    let api = Arc::new(api);
    let desk = Arc::new(desk);
    let mut api_runs: Vec<Measurement> = Vec::new();
    let mut desk_runs: Vec<Measurement> = Vec::new();
    for rep in 1..=args.reps {
        let m = load_urls(
            &client,
            Arc::clone(&api),
            &token,
            args.clients,
            args.seconds,
        )
        .await?;
        println!(
            "rep {rep}: API lists      {:>8.0} req/s p50 {:.2} ms  p99 {:.2} ms  errors {}",
            m.per_second, m.p50_ms, m.p99_ms, m.errors
        );
        api_runs.push(m);
        let m = load_urls(
            &client,
            Arc::clone(&desk),
            &token,
            args.clients,
            args.seconds,
        )
        .await?;
        println!(
            "rep {rep}: desk list pages {:>7.0} req/s p50 {:.2} ms  p99 {:.2} ms  errors {}",
            m.per_second, m.p50_ms, m.p99_ms, m.errors
        );
        desk_runs.push(m);
    }
    let median = |runs: &[Measurement], f: fn(&Measurement) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "median of {} reps at {} clients: API p99 {:.2} ms, desk pages p99 {:.2} ms (target p99 <= 50 ms), errors {}",
        args.reps,
        args.clients,
        median(&api_runs, |m| m.p99_ms),
        median(&desk_runs, |m| m.p99_ms),
        api_runs
            .iter()
            .chain(&desk_runs)
            .map(|m| m.errors)
            .sum::<u64>()
    );
    served.stop().await?;
    Ok(())
}

/// Billing's read model as its projector would write it; the sizes of the three lists.
async fn seed(db: &DbSettings, customers: u32) -> anyhow::Result<[i64; 3]> {
    let mut conn = PgConnection::connect_with(&db.owner).await?;
    let n = i64::from(customers);
    sqlx::query(
        "INSERT INTO billing.customers (customer_id, customer_number, last_name, first_name, \
           email, phone, availability, registered_at, version, updated_at) \
         SELECT md5('c' || n)::uuid, 'LAE-' || lpad(n::text, 7, '0'), \
                (ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Richard','Petit','Durand'])[1 + n % 8] || n, \
                (ARRAY['Hélène','Louis','Zoé','Jean','Anne'])[1 + n % 5], \
                'client' || n || '@exemple.fr', '+336' || lpad(n::text, 8, '0'), 'matin', \
                now(), 1, now() \
           FROM generate_series(1, $1) AS n",
    )
    .bind(n)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO billing.contracts (contract_id, customer_id, product, \
           monthly_premium_cents, status, requested_on, signed_on, first_invoiced_on, \
           version, updated_at) \
         SELECT md5('k' || n)::uuid, md5('c' || n)::uuid, 'Assurance vie Horizon', \
                1000 + (n * 7919) % 9000, 'signed', date '2025-01-01' + (n % 600)::int, \
                date '2025-01-10' + (n % 600)::int, \
                CASE WHEN n % 10 = 0 THEN NULL ELSE date '2025-02-01' + (n % 600)::int END, \
                2, now() \
           FROM generate_series(1, $1) AS n",
    )
    .bind(n)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO billing.invoices (invoice_id, customer_id, contract_id, number, \
           amount_cents, issued_on, due_on, status, rejected_on, rejection_reason, version, \
           updated_at) \
         SELECT md5('i' || n || '-' || k)::uuid, md5('c' || n)::uuid, md5('k' || n)::uuid, \
                'F-' || n || '-' || k, 1000 + ((n + k) * 7919) % 9000, \
                date '2025-02-01' + ((n + k * 30) % 600)::int, \
                date '2025-03-01' + ((n + k * 30) % 600)::int, \
                CASE WHEN (n + k) % 20 = 0 THEN 'payment_rejected' \
                     WHEN (n + k) % 3 = 0 THEN 'issued' ELSE 'paid' END, \
                CASE WHEN (n + k) % 20 = 0 THEN date '2025-03-05' + ((n + k * 30) % 600)::int END, \
                CASE WHEN (n + k) % 20 = 0 THEN 'AM04' END, 1, now() \
           FROM generate_series(1, $1) AS n, generate_series(1, 2) AS k \
          WHERE n % 10 <> 0",
    )
    .bind(n)
    .execute(&mut conn)
    .await?;
    sqlx::query("ANALYZE billing.customers, billing.contracts, billing.invoices, billing.mandates")
        .execute(&mut conn)
        .await?;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM billing.invoices WHERE status = 'issued'), \
                (SELECT count(*) FROM billing.invoices WHERE status = 'payment_rejected'), \
                (SELECT count(*) FROM billing.contracts \
                  WHERE status = 'signed' AND first_invoiced_on IS NULL)",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok([counts.0, counts.1, counts.2])
}
