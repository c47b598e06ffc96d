//! `lae bench kpis`: the management indicators over a year of `--events` events
//! (1,000,000 by default), through the real management projection, then
//! `GET /api/v1/management/kpis` for the year by month (and by week, and a month by
//! day) over HTTP, authentication included, against the target p99 <= 50 ms.
//!
//! The history is generated as the relay would deliver it: tickets (opened, sometimes
//! routed, resolved after minutes to days, half of them rated), offers accepted into
//! contracts signed days later and invoiced monthly, some payments rejected, some
//! contracts terminated, spread over the 365 days of 2026 and 40 operators. Each
//! envelope goes through `lae_projections::apply` (claims, sequences, counters, daily
//! measures and histograms) in batches, as management's projector applies them.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Args;
use lae_api::auth::Role;
use lae_api::{Application, Settings};
use lae_domain::{ContractId, OfferId};
use lae_projections::{Decoder, Department, Envelope, EnvelopeActor};
use lae_store::db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::queries::load_urls;
use super::{Measurement, bench_token_as};

#[derive(Debug, Args)]
pub struct KpisArgs {
    /// Events of the generated year.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Repetitions.
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

pub async fn run(args: KpisArgs) -> anyhow::Result<()> {
    let mut settings = Settings::from_env().context("reading configuration")?;
    let name = format!("lae_bench_{}", Uuid::new_v4().simple());
    settings.db = settings.db.with_database(&name);
    settings.db.max_connections = 4;
    settings.http_addr = "127.0.0.1:0".parse()?;
    settings.relay = None;
    settings.projectors = None;
    settings.reactors = None;
    settings.sealer = false;
    let result = run_in(&args, &settings).await;
    db::drop_database(&settings.db)
        .await
        .context("dropping the benchmark database")?;
    result
}

async fn run_in(args: &KpisArgs, settings: &Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let served = super::Served::start(app)?;
    let base = served.base.clone();
    let app_pool = served.pool.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let token = bench_token_as(&client, &base, app_pool, Role::Management).await?;

    eprintln!("projecting {} events into management ...", args.events);
    let started = Instant::now();
    let (events, rows) = project(settings, args.events).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "bench kpis: {events} events projected in {elapsed:.1} s ({:.0} events/s); \
         management holds {} daily counter rows, {} daily measure rows, {} duration rows",
        events as f64 / elapsed,
        rows[0],
        rows[1],
        rows[2]
    );

    let queries = [
        (
            "a year by month",
            "from=2026-01-01&to=2026-12-31&granularity=month",
        ),
        (
            "a year by week",
            "from=2026-01-01&to=2026-12-31&granularity=week",
        ),
        (
            "a month by day",
            "from=2026-03-01&to=2026-03-31&granularity=day",
        ),
    ];
    let mut year_by_month = Vec::new();
    for (label, query) in queries {
        let urls = Arc::new(vec![
            format!("{base}/api/v1/management/kpis?{query}").parse()?,
        ]);
        for rep in 1..=args.reps {
            let m: Measurement = load_urls(
                &client,
                Arc::clone(&urls),
                &token,
                args.clients,
                args.seconds,
            )
            .await?;
            println!(
                "rep {rep}: {label:<16} {:>7.0} req/s p50 {:.2} ms  p99 {:.2} ms  errors {}",
                m.per_second, m.p50_ms, m.p99_ms, m.errors
            );
            if label == "a year by month" {
                year_by_month.push(m.p99_ms);
            }
        }
    }
    year_by_month.sort_by(f64::total_cmp);
    println!(
        "median of {} reps at {} clients: a year by month p99 {:.2} ms (target p99 <= 50 ms)",
        args.reps,
        args.clients,
        year_by_month[year_by_month.len() / 2]
    );
    served.stop().await?;
    Ok(())
}

/// The generator's state: positions, per-aggregate sequences.
struct History {
    rng: StdRng,
    position: i64,
    out: Vec<Envelope>,
}

impl History {
    fn push(
        &mut self,
        aggregate_type: &str,
        id: Uuid,
        sequence: i64,
        payload: String,
        at: DateTime<Utc>,
        user: Option<(&str, String)>,
    ) {
        self.position += 1;
        let event_type = payload.split('"').nth(3).unwrap_or_default().to_owned();
        self.out.push(Envelope {
            event_id: Uuid::new_v4(),
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: id.to_string(),
            sequence,
            event_type,
            event_version: "1.0".to_owned(),
            global_position: self.position,
            recorded_at: at,
            payload,
            actor: user.map(|(role, user)| EnvelopeActor {
                role: role.to_owned(),
                user,
            }),
        });
    }

    fn operator(&mut self, role: &'static str) -> Option<(&'static str, String)> {
        let n = self.rng.random_range(0..10);
        Some((role, format!("{role}-{n}")))
    }

    /// A ticket: opened, sometimes routed, resolved, often rated (3 or 4 events).
    fn ticket(&mut self, day: NaiveDate) {
        let id = Uuid::new_v4();
        let opened = at(day, self.rng.random_range(8 * 3600..18 * 3600));
        let channel = if self.rng.random_bool(0.6) {
            "phone"
        } else {
            "mail"
        };
        let category = if self.rng.random_bool(0.1) {
            "\"complaint\""
        } else {
            "\"contract_question\""
        };
        let cs = self.operator("customer_service");
        self.push(
            "Ticket",
            id,
            1,
            format!(
                r#"{{"type":"TicketOpened","customer_id":null,"channel":"{channel}","reason":{{"$sealed":"x"}},"opened_at":"{}","operator":"X","category":{category}}}"#,
                opened.to_rfc3339()
            ),
            opened,
            cs.clone(),
        );
        let mut sequence = 1;
        let mut holder = cs;
        if self.rng.random_bool(0.25) {
            sequence += 1;
            let routed = opened + Duration::minutes(5);
            let department = ["legal", "sales", "billing"][self.rng.random_range(0..3)];
            self.push(
                "Ticket",
                id,
                sequence,
                format!(
                    r#"{{"type":"TicketRouted","customer_id":null,"previous_department":"customer_service","department":"{department}","at":"{}"}}"#,
                    routed.to_rfc3339()
                ),
                routed,
                holder.clone(),
            );
            holder = Some((
                department,
                format!("{department}-{}", self.rng.random_range(0..10)),
            ));
        }
        sequence += 1;
        let resolved = opened + Duration::seconds(self.rng.random_range(600..3 * 86_400));
        self.push(
            "Ticket",
            id,
            sequence,
            format!(
                r#"{{"type":"TicketResolved","customer_id":null,"resolution":{{"$sealed":"x"}},"at":"{}"}}"#,
                resolved.to_rfc3339()
            ),
            resolved,
            holder,
        );
        if self.rng.random_bool(0.5) {
            let score = if self.rng.random_bool(0.8) {
                "good"
            } else {
                "bad"
            };
            let rated = resolved + Duration::hours(2);
            let cs = self.operator("customer_service");
            self.push(
                "Ticket",
                id,
                sequence + 1,
                format!(
                    r#"{{"type":"SatisfactionRated","customer_id":null,"score":"{score}","channel":"{channel}","at":"{}"}}"#,
                    rated.to_rfc3339()
                ),
                rated,
                cs,
            );
        }
    }

    /// A sale: offer proposed and accepted, contract requested and signed, invoiced
    /// monthly to the year's end, sometimes rejected or terminated.
    fn sale(&mut self, day: NaiveDate) {
        let customer = Uuid::new_v4();
        let offer = Uuid::new_v4();
        let contract = *ContractId::for_offer(OfferId::new(offer)).as_uuid();
        let sales = self.operator("sales");
        let t = at(day, 10 * 3600);
        self.push(
            "Offer",
            offer,
            1,
            format!(
                r#"{{"type":"OfferProposed","customer_id":"{customer}","product":"Vie","monthly_premium":4990,"proposed_on":"{day}"}}"#
            ),
            t,
            sales.clone(),
        );
        let accepted_on = day + Duration::days(self.rng.random_range(0..10));
        self.push(
            "Offer",
            offer,
            2,
            format!(
                r#"{{"type":"OfferAccepted","customer_id":"{customer}","product":"Vie","monthly_premium":4990,"accepted_on":"{accepted_on}"}}"#
            ),
            at(accepted_on, 11 * 3600),
            sales,
        );
        self.push(
            "Contract",
            contract,
            1,
            format!(
                r#"{{"type":"ContractRequested","customer_id":"{customer}","product":"Vie","monthly_premium":4990,"offer_id":"{offer}","requested_on":"{accepted_on}"}}"#
            ),
            at(accepted_on, 11 * 3600 + 1),
            None,
        );
        let signed_on = accepted_on + Duration::days(self.rng.random_range(1..30));
        let legal = self.operator("legal");
        self.push(
            "Contract",
            contract,
            2,
            format!(
                r#"{{"type":"ContractSigned","reference":"CT","signed_on":"{signed_on}","document":{{}}}}"#
            ),
            at(signed_on, 14 * 3600),
            legal.clone(),
        );
        let end = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or(signed_on);
        let mut issued_on = signed_on + Duration::days(self.rng.random_range(1..20));
        while issued_on <= end && self.out.len() < self.out.capacity() {
            let invoice = Uuid::new_v4();
            let billing = self.operator("billing");
            self.push(
                "Invoice",
                invoice,
                1,
                format!(
                    r#"{{"type":"InvoiceIssued","customer_id":"{customer}","contract_id":"{contract}","number":"F","amount":4990,"issued_on":"{issued_on}","due_on":"{issued_on}"}}"#
                ),
                at(issued_on, 6 * 3600),
                billing.clone(),
            );
            let outcome = if self.rng.random_bool(0.03) {
                format!(
                    r#"{{"type":"PaymentRejected","rejected_on":"{issued_on}","reason":{{"$sealed":"x"}}}}"#
                )
            } else {
                format!(r#"{{"type":"InvoicePaid","paid_on":"{issued_on}","amount":4990}}"#)
            };
            self.push(
                "Invoice",
                invoice,
                2,
                outcome,
                at(issued_on, 7 * 3600),
                billing,
            );
            issued_on += Duration::days(30);
        }
        if self.rng.random_bool(0.08) {
            let terminated_on = signed_on + Duration::days(self.rng.random_range(30..200));
            if terminated_on <= end {
                self.push(
                    "Contract",
                    contract,
                    3,
                    format!(
                        r#"{{"type":"ContractTerminated","terminated_on":"{terminated_on}","reason":{{"$sealed":"x"}}}}"#
                    ),
                    at(terminated_on, 15 * 3600),
                    legal,
                );
            }
        }
    }
}

fn at(day: NaiveDate, seconds: i64) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |t| t.and_utc() + Duration::seconds(seconds))
}

/// Generates `events` events over 2026 and applies them to management as its projector
/// would; returns the count and the sizes of the three daily tables.
async fn project(settings: &Settings, events: usize) -> anyhow::Result<(usize, [i64; 3])> {
    let mut history = History {
        rng: StdRng::seed_from_u64(2026),
        position: 0,
        out: Vec::with_capacity(events + 64),
    };
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).context("date")?;
    while history.out.len() < events {
        let day = start + Duration::days(history.rng.random_range(0..335));
        if history.rng.random_bool(0.7) {
            history.ticket(day);
        } else {
            history.sale(day);
        }
    }
    history.out.truncate(events);
    // Delivered in position order, per aggregate in sequence.
    let mut conn = PgConnection::connect_with(&settings.db.owner).await?;
    let decoder = Decoder::new(Department::Management);
    for batch in history.out.chunks(1_000) {
        let mut tx = conn.begin().await?;
        lae_projections::apply(&mut tx, &decoder, "management", batch).await?;
        tx.commit().await?;
    }
    let mut rows = [0_i64; 3];
    for (i, table) in ["daily_counters", "daily_measures", "daily_durations"]
        .iter()
        .enumerate()
    {
        rows[i] = sqlx::query_scalar(&format!("SELECT count(*) FROM management.{table}"))
            .fetch_one(&mut conn)
            .await?;
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok((history.out.len(), rows))
}
