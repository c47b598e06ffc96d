//! `lae bench workflow`: the cross-department workflow's end-to-end latency against a
//! running platform (`lae serve`): from an accepted offer's HTTP answer to the contract
//! request in legal's read model (`legal.contracts`, what legal's queue reads), at a
//! steady rate of accepted offers.
//!
//! The path measured: acceptance committed → relay → JetStream → `contract_requests`
//! reactor → `RequestContract` committed → relay → JetStream → legal's projector. The
//! load is open-loop (one offer started every `1/rate` s whatever the answers), so a
//! slow platform shows as latency, not as a lower rate. One poller reads the read
//! model every `poll_ms` for the contracts still awaited, as the owner: the figures
//! include up to one polling interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use lae_api::auth::Role;
use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Debug, Args)]
pub struct WorkflowArgs {
    /// The platform's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Accepted offers per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Interval of the read-model poller, in milliseconds.
    #[arg(long, default_value_t = 2)]
    poll_ms: u64,
    /// Customers the offers rotate over.
    #[arg(long, default_value_t = 50)]
    customers: usize,
}

/// Offers accepted and not yet seen by legal: contract id → when the acceptance was
/// answered.
type Awaited = Arc<Mutex<HashMap<Uuid, Instant>>>;

pub async fn run(args: WorkflowArgs) -> anyhow::Result<()> {
    if args.rate == 0 || args.seconds == 0 {
        bail!("--rate and --seconds must be positive");
    }
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| lae_api::settings::DEFAULT_DATABASE_URL.into());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .with_context(|| "connecting to the platform's database (DATABASE_URL)")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = args.url.trim_end_matches('/').to_owned();
    let agent = super::bench_token_as(&client, &base, pool.clone(), Role::CustomerService).await?;
    let sales = super::bench_token_as(&client, &base, pool.clone(), Role::Sales).await?;
    eprintln!("registering {} customers ...", args.customers);
    let mut customers = Vec::with_capacity(args.customers);
    for _ in 0..args.customers.max(1) {
        customers.push(super::register(&client, &base, &agent).await?);
    }
    let customers = Arc::new(customers);

    let awaited: Awaited = Arc::default();
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(poll(
        pool.clone(),
        awaited.clone(),
        latencies.clone(),
        Duration::from_millis(args.poll_ms.max(1)),
        stopped,
    ));

    eprintln!(
        "accepting {} offers/s for {} s against {base} ...",
        args.rate, args.seconds
    );
    let total = u64::from(args.rate) * args.seconds;
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut flows = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let accept_latency = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    for i in 0..total {
        ticker.tick().await;
        let client = client.clone();
        let base = base.clone();
        let sales = sales.clone();
        let customer = customers[usize::try_from(i).unwrap_or(0) % customers.len()].clone();
        let awaited = awaited.clone();
        let accept_latency = accept_latency.clone();
        flows.push(tokio::spawn(async move {
            let begun = Instant::now();
            let contract = accept_offer(&client, &base, &sales, &customer).await?;
            let answered = Instant::now();
            awaited.lock().await.insert(contract, answered);
            let micros = u64::try_from((answered - begun).as_micros()).unwrap_or(u64::MAX);
            let _ = accept_latency.lock().await.record(micros);
            anyhow::Ok(())
        }));
    }
    let mut errors = 0u64;
    for flow in flows {
        match flow.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                errors += 1;
                if errors <= 3 {
                    eprintln!("an offer failed: {error:#}");
                }
            }
            Err(error) => bail!("an offer task failed: {error}"),
        }
    }
    let offered = started.elapsed();
    // Wait for the stragglers (30 s at most), then stop the poller.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !awaited.lock().await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    poller.await.context("the poller")??;
    let missing = awaited.lock().await.len();
    let latencies = latencies.lock().await;
    let accepts = accept_latency.lock().await;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("workflow: accepted offer (HTTP answer) → contract request in legal's read model");
    println!(
        "load: {total} offers in {:.1} s ({:.1} accepted offers/s offered, target {}), errors {errors}",
        offered.as_secs_f64(),
        (total - errors) as f64 / offered.as_secs_f64(),
        args.rate
    );
    println!(
        "propose + accept over HTTP:       p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(&accepts, 0.50),
        ms(&accepts, 0.90),
        ms(&accepts, 0.99),
        accepts.max() as f64 / 1000.0
    );
    println!(
        "acceptance → visible to legal:    p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} seen, {missing} never seen within 30 s; poll every {} ms)",
        ms(&latencies, 0.50),
        ms(&latencies, 0.90),
        ms(&latencies, 0.99),
        latencies.max() as f64 / 1000.0,
        latencies.len(),
        args.poll_ms.max(1)
    );
    Ok(())
}

/// Proposes an offer and accepts it: the id of the contract the acceptance requests.
async fn accept_offer(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    customer: &str,
) -> anyhow::Result<Uuid> {
    let response = client
        .post(format!("{base}/api/v1/offers"))
        .bearer_auth(token)
        .json(&json!({"customer_id": customer, "product": "Vie Sérénité",
                      "monthly_premium": 3150, "proposed_on": "2026-10-01"}))
        .send()
        .await?;
    if response.status() != 201 {
        bail!("proposal answered {}", response.status());
    }
    let offer: serde_json::Value = response.json().await?;
    let offer = offer["id"].as_str().context("no offer id")?;
    let response = client
        .post(format!("{base}/api/v1/offers/{offer}/acceptance"))
        .bearer_auth(token)
        .json(&json!({"accepted_on": "2026-10-05"}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("acceptance answered {}", response.status());
    }
    let accepted: serde_json::Value = response.json().await?;
    accepted["contract_id"]
        .as_str()
        .context("no contract id")?
        .parse()
        .context("contract id")
}

/// Reads legal's read model for the awaited contracts until stopped.
async fn poll(
    pool: sqlx::PgPool,
    awaited: Awaited,
    latencies: Arc<Mutex<Histogram<u64>>>,
    every: Duration,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let ids: Vec<Uuid> = awaited.lock().await.keys().copied().collect();
        if !ids.is_empty() {
            let seen: Vec<Uuid> = sqlx::query_scalar(
                "SELECT contract_id FROM legal.contracts WHERE contract_id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(&pool)
            .await?;
            let now = Instant::now();
            let mut awaited = awaited.lock().await;
            let mut latencies = latencies.lock().await;
            for id in seen {
                if let Some(answered) = awaited.remove(&id) {
                    let micros = u64::try_from((now - answered).as_micros()).unwrap_or(u64::MAX);
                    let _ = latencies.record(micros);
                }
            }
        }
        if *stopped.borrow() {
            return Ok(());
        }
        tokio::time::sleep(every).await;
    }
}
