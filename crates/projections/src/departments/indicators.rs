//! Management's indicators beyond counts: satisfaction, complaints, customers who left,
//! productivity (tickets per operator-day, time to resolution, first-contact resolution,
//! offer → signature → first invoice), each kept as daily buckets.
//!
//! They are read from the clear fields of the payloads only (dates, channel, reason
//! code, score, department, ids), never from a sealed one. Pairing two events of one
//! aggregate (a ticket's opening and its resolution, a contract's signature and its
//! first invoice) needs a little state per ticket, contract and customer: the `work_*`
//! tables of the management schema, which the projector writes and
//! `lae_management_reader` cannot read (migration 0016). What management reads are the
//! sums: `daily_measures` (day, measure, dimension → value) and `daily_durations`
//! (day, measure, dimension, bucket → count).
//!
//! # Days
//! An event is counted on the day it happened, the first date its payload carries
//! ([`Facts::day`]: `at`, `opened_at`, `signed_on`, `terminated_on`, ...), and on the
//! UTC date of its recording when it carries none (customer events). A contract
//! terminated on 15 March counts in March even when the termination was recorded on
//! the 17th, and the imported history lands on its own dates, not the import's.
//!
//! # Order
//! The events of one aggregate arrive in their order (the relay publishes in commit
//! order; a rebuild reads in commit order), and each event is applied once (management's
//! claimed positions). The pairs are completed whichever of their two ends comes first,
//! so a redelivery that reorders two events still measures the pair once.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use lae_domain::{ContractId, OfferId};
use lae_store::db::quote_ident;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::management::month_of;
use crate::envelope::Envelope;

/// The departments whose users' activity counts as operator-days.
const OPERATOR_ROLES: &[&str] = &["customer_service", "legal", "sales", "billing"];

/// Names of the measures, as stored.
pub mod measure {
    /// Satisfied ratings, by channel.
    pub const SATISFACTION_GOOD: &str = "satisfaction_good";
    /// Dissatisfied ratings, by channel.
    pub const SATISFACTION_BAD: &str = "satisfaction_bad";
    /// Tickets opened with the reason code `complaint`, by channel.
    pub const COMPLAINTS: &str = "complaints";
    /// Customers whose last contract in force was terminated.
    pub const CUSTOMERS_LEFT: &str = "customers_left";
    /// Tickets resolved, by the department holding them at the resolution.
    pub const TICKETS_RESOLVED: &str = "tickets_resolved";
    /// Customer contacts (tickets not opened by the platform) resolved, by department.
    pub const CONTACTS_RESOLVED: &str = "contacts_resolved";
    /// Customer contacts resolved without ever being routed, by department.
    pub const FIRST_CONTACT_RESOLUTIONS: &str = "first_contact_resolutions";
    /// Distinct (user, day) pairs with at least one event, by the user's department.
    pub const OPERATOR_DAYS: &str = "operator_days";
    /// Durations: opening → resolution of a ticket, seconds (log buckets), by department.
    pub const RESOLUTION_TIME: &str = "ticket_resolution_seconds";
    /// Durations: offer accepted → contract signed, whole days.
    pub const ACCEPTANCE_TO_SIGNATURE: &str = "acceptance_to_signature_days";
    /// Durations: contract signed → its first invoice issued, whole days.
    pub const SIGNATURE_TO_INVOICE: &str = "signature_to_first_invoice_days";
}

/// Buckets per doubling of a duration in seconds: a bucket's upper bound is at most
/// 2^(1/8) ≈ 9 % above any duration it holds, which is how precise the medians and
/// 90th percentiles of resolution times are.
const BUCKETS_PER_DOUBLING: f64 = 8.0;

/// The bucket of a duration of `seconds` (1 s and less in bucket 0).
#[must_use]
pub fn seconds_bucket(seconds: i64) -> i32 {
    if seconds <= 1 {
        return 0;
    }
    // A duration in seconds stays far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let bucket = ((seconds as f64).log2() * BUCKETS_PER_DOUBLING).ceil() as i32;
    bucket
}

/// The upper bound, in seconds, of a bucket of [`seconds_bucket`].
#[must_use]
pub fn seconds_bucket_bound(bucket: i32) -> f64 {
    (f64::from(bucket) / BUCKETS_PER_DOUBLING).exp2()
}

/// The clear fields management reads of a payload (the others are ignored).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Facts {
    customer_id: Option<Uuid>,
    contract_id: Option<Uuid>,
    channel: Option<String>,
    category: Option<String>,
    score: Option<String>,
    department: Option<String>,
    at: Option<DateTime<Utc>>,
    opened_at: Option<DateTime<Utc>>,
    signed_on: Option<NaiveDate>,
    terminated_on: Option<NaiveDate>,
    requested_on: Option<NaiveDate>,
    proposed_on: Option<NaiveDate>,
    accepted_on: Option<NaiveDate>,
    declined_on: Option<NaiveDate>,
    withdrawn_on: Option<NaiveDate>,
    issued_on: Option<NaiveDate>,
    paid_on: Option<NaiveDate>,
    rejected_on: Option<NaiveDate>,
    cancelled_on: Option<NaiveDate>,
}

impl Facts {
    /// The facts of `envelope`'s payload; none for a customer event (management does
    /// not read those payloads) or a payload that is not an object.
    pub(crate) fn of(envelope: &Envelope) -> Self {
        if envelope.aggregate_type == "Customer" || envelope.payload.is_empty() {
            return Self::default();
        }
        serde_json::from_str(&envelope.payload).unwrap_or_default()
    }

    /// The day the event happened: its payload's first date, else its recording's.
    pub(crate) fn day(&self, recorded_at: DateTime<Utc>) -> NaiveDate {
        self.opened_at
            .or(self.at)
            .map(|t| t.date_naive())
            .or(self.signed_on)
            .or(self.terminated_on)
            .or(self.requested_on)
            .or(self.proposed_on)
            .or(self.accepted_on)
            .or(self.declined_on)
            .or(self.withdrawn_on)
            .or(self.issued_on)
            .or(self.paid_on)
            .or(self.rejected_on)
            .or(self.cancelled_on)
            .unwrap_or_else(|| recorded_at.date_naive())
    }
}

/// One event with its facts, as the indicators read it.
pub(crate) struct Fact<'a> {
    pub(crate) envelope: &'a Envelope,
    pub(crate) facts: Facts,
    pub(crate) day: NaiveDate,
}

impl<'a> Fact<'a> {
    pub(crate) fn of(envelope: &'a Envelope) -> Self {
        let facts = Facts::of(envelope);
        let day = facts.day(envelope.recorded_at);
        Self {
            envelope,
            facts,
            day,
        }
    }

    fn kind(&self) -> (&str, &str) {
        (
            self.envelope.aggregate_type.as_str(),
            self.envelope.event_type.as_str(),
        )
    }

    fn aggregate(&self) -> Option<Uuid> {
        self.envelope.aggregate_id.parse().ok()
    }
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
struct TicketWork {
    ticket_id: Uuid,
    opened_at: Option<DateTime<Utc>>,
    channel: Option<String>,
    department: String,
    routed: bool,
    resolved_at: Option<DateTime<Utc>>,
    measured: bool,
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
struct ContractWork {
    contract_id: Uuid,
    customer_id: Option<Uuid>,
    accepted_on: Option<NaiveDate>,
    signed_on: Option<NaiveDate>,
    first_invoiced_on: Option<NaiveDate>,
    in_force: bool,
    measured_signature: bool,
    measured_invoice: bool,
}

/// What one batch adds to the daily sums.
#[derive(Debug, Default)]
struct Sums {
    measures: BTreeMap<(NaiveDate, &'static str, String), i64>,
    durations: BTreeMap<(NaiveDate, &'static str, String, i32), i64>,
}

impl Sums {
    fn add(&mut self, day: NaiveDate, measure: &'static str, dimension: &str) {
        *self
            .measures
            .entry((day, measure, dimension.to_owned()))
            .or_default() += 1;
    }

    fn duration(&mut self, day: NaiveDate, measure: &'static str, dimension: &str, bucket: i32) {
        *self
            .durations
            .entry((day, measure, dimension.to_owned(), bucket))
            .or_default() += 1;
    }

    /// The same sums keyed by the first day of their month.
    fn by_month(&self) -> Self {
        let mut monthly = Self::default();
        for ((day, m, dim), n) in &self.measures {
            *monthly
                .measures
                .entry((month_of(*day), m, dim.clone()))
                .or_default() += n;
        }
        for ((day, m, dim, b), n) in &self.durations {
            *monthly
                .durations
                .entry((month_of(*day), m, dim.clone(), *b))
                .or_default() += n;
        }
        monthly
    }
}

/// Adds the indicators of `events` (new to management, in order) to the daily sums of
/// `schema`, through its work tables.
pub(crate) async fn measure(
    conn: &mut PgConnection,
    schema: &str,
    facts: &[Fact<'_>],
) -> Result<(), sqlx::Error> {
    if facts.is_empty() {
        return Ok(());
    }
    let q = quote_ident(schema);

    let ticket_ids: Vec<Uuid> = facts
        .iter()
        .filter(|f| f.kind().0 == "Ticket")
        .filter_map(Fact::aggregate)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut tickets: HashMap<Uuid, TicketWork> = sqlx::query_as::<_, TicketWork>(&format!(
        "SELECT ticket_id, opened_at, channel, department, routed, resolved_at, measured \
           FROM {q}.work_tickets WHERE ticket_id = ANY($1)"
    ))
    .bind(&ticket_ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|t| (t.ticket_id, t))
    .collect();

    let contract_ids: Vec<Uuid> = facts
        .iter()
        .filter_map(|f| contract_of(f))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut contracts: HashMap<Uuid, ContractWork> = sqlx::query_as::<_, ContractWork>(&format!(
        "SELECT contract_id, customer_id, accepted_on, signed_on, first_invoiced_on, in_force, \
                measured_signature, measured_invoice \
           FROM {q}.work_contracts WHERE contract_id = ANY($1)"
    ))
    .bind(&contract_ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|c| (c.contract_id, c))
    .collect();

    let customer_ids: Vec<Uuid> = contracts
        .values()
        .filter_map(|c| c.customer_id)
        .chain(facts.iter().filter_map(|f| f.facts.customer_id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut customers: HashMap<Uuid, i32> = sqlx::query_as::<_, (Uuid, i32)>(&format!(
        "SELECT customer_id, contracts_in_force FROM {q}.work_customers \
          WHERE customer_id = ANY($1)"
    ))
    .bind(&customer_ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();

    let mut sums = Sums::default();
    let mut touched_tickets = HashSet::new();
    let mut touched_contracts = HashSet::new();
    let mut touched_customers = HashSet::new();
    let mut operator_days: HashSet<(NaiveDate, String, String)> = HashSet::new();
    for f in facts {
        if let Some(actor) = &f.envelope.actor
            && OPERATOR_ROLES.contains(&actor.role.as_str())
        {
            operator_days.insert((f.day, actor.role.clone(), actor.user.clone()));
        }
        match f.kind() {
            ("Ticket", event) => {
                let Some(id) = f.aggregate() else { continue };
                let t = tickets.entry(id).or_insert_with(|| TicketWork {
                    ticket_id: id,
                    department: "customer_service".to_owned(),
                    ..TicketWork::default()
                });
                if ticket(t, event, f, &mut sums) {
                    touched_tickets.insert(id);
                }
            }
            ("Offer" | "Contract" | "Invoice", event) => {
                let Some(id) = contract_of(f) else { continue };
                let c = contracts.entry(id).or_insert_with(|| ContractWork {
                    contract_id: id,
                    ..ContractWork::default()
                });
                let before = c.in_force;
                if contract(c, event, f, &mut sums) {
                    touched_contracts.insert(id);
                }
                if let Some(customer) = c.customer_id
                    && before != c.in_force
                {
                    let n = customers.entry(customer).or_default();
                    if c.in_force {
                        *n += 1;
                    } else {
                        *n -= 1;
                        if *n == 0 {
                            sums.add(f.day, measure::CUSTOMERS_LEFT, "");
                        }
                    }
                    touched_customers.insert(customer);
                }
            }
            _ => {}
        }
    }

    write_tickets(conn, &q, &tickets, &touched_tickets).await?;
    write_contracts(conn, &q, &contracts, &touched_contracts).await?;
    write_customers(conn, &q, &customers, &touched_customers).await?;
    count_operator_days(conn, &q, operator_days, &mut sums).await?;
    write_sums(conn, &q, &sums).await
}

/// The contract an offer, contract or invoice event concerns: an accepted offer's
/// contract is derived from the offer (as the contract requested for it is), an
/// invoice names its contract.
fn contract_of(f: &Fact<'_>) -> Option<Uuid> {
    match f.kind() {
        ("Offer", "OfferAccepted") => {
            let offer = f.aggregate()?;
            Some(*ContractId::for_offer(OfferId::new(offer)).as_uuid())
        }
        ("Contract", _) => f.aggregate(),
        ("Invoice", "InvoiceIssued") => f.facts.contract_id,
        _ => None,
    }
}

/// Applies a ticket event to its work row; whether the row changed.
fn ticket(t: &mut TicketWork, event: &str, f: &Fact<'_>, sums: &mut Sums) -> bool {
    let channel = f.facts.channel.as_deref().unwrap_or("");
    match event {
        "TicketOpened" => {
            t.opened_at = f.facts.opened_at;
            t.channel = f.facts.channel.clone();
            if f.facts.category.as_deref() == Some(lae_domain::ReasonCode::COMPLAINT) {
                sums.add(f.day, measure::COMPLAINTS, channel);
            }
        }
        "TicketRouted" => {
            t.routed = true;
            if let Some(department) = &f.facts.department {
                t.department.clone_from(department);
            }
        }
        "TicketResolved" => {
            t.resolved_at = f.facts.at;
            let department = t.department.clone();
            sums.add(f.day, measure::TICKETS_RESOLVED, &department);
            if t.channel.as_deref() != Some("internal") {
                sums.add(f.day, measure::CONTACTS_RESOLVED, &department);
                if !t.routed {
                    sums.add(f.day, measure::FIRST_CONTACT_RESOLUTIONS, &department);
                }
            }
        }
        "SatisfactionRated" => {
            let name = match f.facts.score.as_deref() {
                Some("good") => measure::SATISFACTION_GOOD,
                Some("bad") => measure::SATISFACTION_BAD,
                _ => return false,
            };
            sums.add(f.day, name, channel);
            return false;
        }
        _ => return false,
    }
    if let (false, Some(opened), Some(resolved)) = (t.measured, t.opened_at, t.resolved_at) {
        t.measured = true;
        let seconds = (resolved - opened).num_seconds().max(0);
        sums.duration(
            resolved.date_naive(),
            measure::RESOLUTION_TIME,
            &t.department,
            seconds_bucket(seconds),
        );
    }
    true
}

/// Applies an offer, contract or invoice event to its contract's work row; whether the
/// row changed.
fn contract(c: &mut ContractWork, event: &str, f: &Fact<'_>, sums: &mut Sums) -> bool {
    match event {
        "OfferAccepted" => {
            c.accepted_on = f.facts.accepted_on;
            c.customer_id = c.customer_id.or(f.facts.customer_id);
        }
        "ContractRequested" => c.customer_id = c.customer_id.or(f.facts.customer_id),
        "ContractSigned" => {
            c.signed_on = f.facts.signed_on;
            c.in_force = true;
        }
        "ContractTerminated" => c.in_force = false,
        "InvoiceIssued" => {
            let issued = f.facts.issued_on;
            c.first_invoiced_on = match (c.first_invoiced_on, issued) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        _ => return false,
    }
    if let (false, Some(accepted), Some(signed)) =
        (c.measured_signature, c.accepted_on, c.signed_on)
    {
        c.measured_signature = true;
        let days = (signed - accepted).num_days().max(0);
        sums.duration(
            signed,
            measure::ACCEPTANCE_TO_SIGNATURE,
            "",
            days_bucket(days),
        );
    }
    if let (false, Some(signed), Some(invoiced)) =
        (c.measured_invoice, c.signed_on, c.first_invoiced_on)
    {
        c.measured_invoice = true;
        let days = (invoiced - signed).num_days().max(0);
        sums.duration(
            invoiced,
            measure::SIGNATURE_TO_INVOICE,
            "",
            days_bucket(days),
        );
    }
    true
}

/// Whole days are their own bucket (capped at about 27 years).
fn days_bucket(days: i64) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX).min(10_000)
}

async fn write_tickets(
    conn: &mut PgConnection,
    q: &str,
    rows: &HashMap<Uuid, TicketWork>,
    touched: &HashSet<Uuid>,
) -> Result<(), sqlx::Error> {
    if touched.is_empty() {
        return Ok(());
    }
    let rows: Vec<&TicketWork> = touched.iter().filter_map(|id| rows.get(id)).collect();
    sqlx::query(&format!(
        "INSERT INTO {q}.work_tickets AS w \
              (ticket_id, opened_at, channel, department, routed, resolved_at, measured) \
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], \
                              $5::bool[], $6::timestamptz[], $7::bool[]) \
         ON CONFLICT (ticket_id) DO UPDATE SET opened_at = EXCLUDED.opened_at, \
             channel = EXCLUDED.channel, department = EXCLUDED.department, \
             routed = EXCLUDED.routed, resolved_at = EXCLUDED.resolved_at, \
             measured = EXCLUDED.measured"
    ))
    .bind(rows.iter().map(|r| r.ticket_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.opened_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.channel.clone()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.department.clone())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.routed).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.resolved_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.measured).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_contracts(
    conn: &mut PgConnection,
    q: &str,
    rows: &HashMap<Uuid, ContractWork>,
    touched: &HashSet<Uuid>,
) -> Result<(), sqlx::Error> {
    if touched.is_empty() {
        return Ok(());
    }
    let rows: Vec<&ContractWork> = touched.iter().filter_map(|id| rows.get(id)).collect();
    sqlx::query(&format!(
        "INSERT INTO {q}.work_contracts AS w \
              (contract_id, customer_id, accepted_on, signed_on, first_invoiced_on, in_force, \
               measured_signature, measured_invoice) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::date[], $5::date[], \
                              $6::bool[], $7::bool[], $8::bool[]) \
         ON CONFLICT (contract_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, \
             accepted_on = EXCLUDED.accepted_on, signed_on = EXCLUDED.signed_on, \
             first_invoiced_on = EXCLUDED.first_invoiced_on, in_force = EXCLUDED.in_force, \
             measured_signature = EXCLUDED.measured_signature, \
             measured_invoice = EXCLUDED.measured_invoice"
    ))
    .bind(rows.iter().map(|r| r.contract_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.customer_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.accepted_on).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.signed_on).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.first_invoiced_on).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.in_force).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.measured_signature)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.measured_invoice).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_customers(
    conn: &mut PgConnection,
    q: &str,
    rows: &HashMap<Uuid, i32>,
    touched: &HashSet<Uuid>,
) -> Result<(), sqlx::Error> {
    if touched.is_empty() {
        return Ok(());
    }
    let (ids, counts): (Vec<Uuid>, Vec<i32>) = touched
        .iter()
        .filter_map(|id| rows.get(id).map(|n| (*id, *n)))
        .unzip();
    sqlx::query(&format!(
        "INSERT INTO {q}.work_customers (customer_id, contracts_in_force) \
         SELECT * FROM unnest($1::uuid[], $2::int[]) \
         ON CONFLICT (customer_id) DO UPDATE SET contracts_in_force = EXCLUDED.contracts_in_force"
    ))
    .bind(&ids)
    .bind(&counts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the (day, department, user) triples of the batch and counts those that
/// were new as operator-days.
async fn count_operator_days(
    conn: &mut PgConnection,
    q: &str,
    days: HashSet<(NaiveDate, String, String)>,
    sums: &mut Sums,
) -> Result<(), sqlx::Error> {
    if days.is_empty() {
        return Ok(());
    }
    let mut day = Vec::with_capacity(days.len());
    let mut department = Vec::with_capacity(days.len());
    let mut user = Vec::with_capacity(days.len());
    for (d, r, u) in days {
        day.push(d);
        department.push(r);
        user.push(u);
    }
    let new: Vec<(NaiveDate, String)> = sqlx::query_as(&format!(
        "INSERT INTO {q}.work_operator_days (day, department, operator) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::text[]) \
         ON CONFLICT DO NOTHING RETURNING day, department"
    ))
    .bind(&day)
    .bind(&department)
    .bind(&user)
    .fetch_all(conn)
    .await?;
    for (d, r) in new {
        sums.add(d, measure::OPERATOR_DAYS, &r);
    }
    Ok(())
}

/// Adds the batch's sums to the daily tables and to their monthly roll-ups
/// (migration 0019), in the batch's transaction.
async fn write_sums(conn: &mut PgConnection, q: &str, sums: &Sums) -> Result<(), sqlx::Error> {
    let monthly = sums.by_month();
    add_measures(conn, q, "daily_measures", "day", &sums.measures).await?;
    add_measures(conn, q, "monthly_measures", "month", &monthly.measures).await?;
    add_durations(conn, q, "daily_durations", "day", &sums.durations).await?;
    add_durations(conn, q, "monthly_durations", "month", &monthly.durations).await
}

/// Adds `rows` ((day or month, measure, dimension) → value) to `table`, keyed by its
/// date column `key`.
async fn add_measures(
    conn: &mut PgConnection,
    q: &str,
    table: &str,
    key: &str,
    rows: &BTreeMap<(NaiveDate, &'static str, String), i64>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut day = Vec::with_capacity(rows.len());
    let mut name = Vec::with_capacity(rows.len());
    let mut dimension = Vec::with_capacity(rows.len());
    let mut value = Vec::with_capacity(rows.len());
    for ((d, m, dim), n) in rows {
        day.push(*d);
        name.push(*m);
        dimension.push(dim.as_str());
        value.push(*n);
    }
    sqlx::query(&format!(
        "INSERT INTO {q}.{table} AS m ({key}, measure, dimension, value) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[]) \
         ON CONFLICT ({key}, measure, dimension) DO UPDATE SET value = m.value + EXCLUDED.value"
    ))
    .bind(&day)
    .bind(&name)
    .bind(&dimension)
    .bind(&value)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `rows` ((day or month, measure, dimension, bucket) → count) to `table`, keyed
/// by its date column `key`.
async fn add_durations(
    conn: &mut PgConnection,
    q: &str,
    table: &str,
    key: &str,
    rows: &BTreeMap<(NaiveDate, &'static str, String, i32), i64>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut day = Vec::with_capacity(rows.len());
    let mut name = Vec::with_capacity(rows.len());
    let mut dimension = Vec::with_capacity(rows.len());
    let mut bucket = Vec::with_capacity(rows.len());
    let mut count = Vec::with_capacity(rows.len());
    for ((d, m, dim, b), n) in rows {
        day.push(*d);
        name.push(*m);
        dimension.push(dim.as_str());
        bucket.push(*b);
        count.push(*n);
    }
    sqlx::query(&format!(
        "INSERT INTO {q}.{table} AS m ({key}, measure, dimension, bucket, count) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::int[], $5::bigint[]) \
         ON CONFLICT ({key}, measure, dimension, bucket) DO UPDATE SET count = m.count + EXCLUDED.count"
    ))
    .bind(&day)
    .bind(&name)
    .bind(&dimension)
    .bind(&bucket)
    .bind(&count)
    .execute(conn)
    .await?;
    Ok(())
}

/// The value at quantile `q` (0 < q ≤ 1, nearest rank) of a histogram given as
/// (bucket, count) pairs in any order, as a bucket; `None` when it is empty.
#[must_use]
pub fn quantile_bucket(histogram: &[(i32, i64)], q: f64) -> Option<i32> {
    let mut sorted: Vec<(i32, i64)> = histogram.iter().copied().filter(|(_, n)| *n > 0).collect();
    sorted.sort_unstable();
    let total: i64 = sorted.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    // Counts stay far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (bucket, n) in sorted {
        seen += n;
        if seen >= rank {
            return Some(bucket);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_s_bucket_bound_is_at_most_nine_percent_above_it() {
        for seconds in [2, 3, 59, 60, 61, 3_600, 86_400, 1_000_000, 31_536_000] {
            let bound = seconds_bucket_bound(seconds_bucket(seconds));
            #[allow(clippy::cast_precision_loss)]
            let s = seconds as f64;
            assert!(bound >= s - 1e-6, "{seconds}: {bound}");
            assert!(bound <= s * 1.091, "{seconds}: {bound}");
        }
        assert_eq!(seconds_bucket(0), 0);
        assert_eq!(seconds_bucket(1), 0);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        // 1, 2, 3, 4, 10 days: median 3, 90th percentile 10.
        let h = [(10, 1), (1, 1), (3, 1), (2, 1), (4, 1)];
        assert_eq!(quantile_bucket(&h, 0.5), Some(3));
        assert_eq!(quantile_bucket(&h, 0.9), Some(10));
        assert_eq!(quantile_bucket(&[(5, 2), (7, 0)], 0.9), Some(5));
        assert_eq!(quantile_bucket(&[], 0.5), None);
    }

    #[test]
    fn an_event_is_dated_by_its_payload_and_else_by_its_recording() {
        let facts: Facts = serde_json::from_str(
            r#"{"type":"ContractTerminated","terminated_on":"2026-03-15","reason":"x"}"#,
        )
        .expect("facts");
        let recorded = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        assert_eq!(facts.day(recorded).to_string(), "2026-03-15");
        assert_eq!(Facts::default().day(recorded), recorded.date_naive());
        // A sealed field is a JSON object, not a string: it is ignored, never read.
        let sealed: Facts = serde_json::from_str(
            r#"{"type":"TicketOpened","reason":{"$sealed":"…"},"channel":"phone","category":"complaint","opened_at":"2026-03-02T09:00:00Z"}"#,
        )
        .expect("facts");
        assert_eq!(sealed.category.as_deref(), Some("complaint"));
        assert_eq!(sealed.day(recorded).to_string(), "2026-03-02");
    }
}
