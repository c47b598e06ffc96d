//! Management: counts of events per type, overall and per day. No payload is read, no
//! id is stored: rates are ratios of counts (accepted / proposed offers, ...).

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, NaiveDate};
use lae_store::db::quote_ident;
use serde::Serialize;
use sqlx::PgConnection;

use super::indicators::{Fact, quantile_bucket, seconds_bucket_bound};
use crate::envelope::Envelope;

/// Marks the positions of a batch as counted and returns those that were not counted
/// yet. This is management's idempotency: see `management.applied_positions` in
/// migration 0003. It is also the batch's first statement, which the rebuild's pause
/// relies on (its lock on the table makes the next batch wait).
pub(crate) async fn claim_positions(
    conn: &mut PgConnection,
    schema: &str,
    positions: &[i64],
) -> Result<HashSet<i64>, sqlx::Error> {
    let sql = format!(
        "INSERT INTO {}.applied_positions (global_position) SELECT unnest($1::bigint[]) \
         ON CONFLICT DO NOTHING RETURNING global_position",
        quote_ident(schema)
    );
    let claimed: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(positions)
        .fetch_all(conn)
        .await?;
    Ok(claimed.into_iter().collect())
}

/// Records the positions of a replay batch, all new (a rebuild reads each event of the
/// store once, into a fresh copy), without the conflict check of [`claim_positions`].
pub(crate) async fn record_positions(
    conn: &mut PgConnection,
    schema: &str,
    positions: &[i64],
) -> Result<HashSet<i64>, sqlx::Error> {
    let sql = format!(
        "INSERT INTO {}.applied_positions (global_position) SELECT unnest($1::bigint[])",
        quote_ident(schema)
    );
    sqlx::query(&sql).bind(positions).execute(conn).await?;
    Ok(positions.iter().copied().collect())
}

/// The last sequence counted of each aggregate of `keys` (`management.work_applied`).
pub(crate) async fn last_sequences(
    conn: &mut PgConnection,
    schema: &str,
    keys: &[(&str, &str)],
) -> Result<std::collections::HashMap<(String, String), i64>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let (types, ids): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT w.aggregate_type, w.aggregate_id, w.last_sequence \
           FROM {}.work_applied w \
           JOIN unnest($1::text[], $2::text[]) AS k(t, i) \
             ON w.aggregate_type = k.t AND w.aggregate_id = k.i",
        quote_ident(schema)
    ))
    .bind(&types)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(t, i, s)| ((t, i), s)).collect())
}

/// Records the last sequence counted of each aggregate of `counted` (in order).
pub(crate) async fn save_sequences(
    conn: &mut PgConnection,
    schema: &str,
    counted: &[&Envelope],
) -> Result<(), sqlx::Error> {
    let mut last: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for e in counted {
        last.insert((&e.aggregate_type, &e.aggregate_id), e.sequence);
    }
    if last.is_empty() {
        return Ok(());
    }
    let mut types = Vec::with_capacity(last.len());
    let mut ids = Vec::with_capacity(last.len());
    let mut sequences = Vec::with_capacity(last.len());
    for ((t, i), s) in last {
        types.push(t);
        ids.push(i);
        sequences.push(s);
    }
    sqlx::query(&format!(
        "INSERT INTO {}.work_applied (aggregate_type, aggregate_id, last_sequence) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) \
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence",
        quote_ident(schema)
    ))
    .bind(&types)
    .bind(&ids)
    .bind(&sequences)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the claim of positions held back (a gap): their events are counted when
/// delivered again.
pub(crate) async fn release_positions(
    conn: &mut PgConnection,
    schema: &str,
    positions: &[i64],
) -> Result<(), sqlx::Error> {
    if positions.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "DELETE FROM {}.applied_positions WHERE global_position = ANY($1)",
        quote_ident(schema)
    ))
    .bind(positions)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds one to the counters of each event (already claimed, so counted once), on the
/// day it happened ([`Fact::day`](super::indicators::Fact)).
pub(crate) async fn count(
    conn: &mut PgConnection,
    schema: &str,
    events: &[Fact<'_>],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let mut totals: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut daily: BTreeMap<(NaiveDate, &str, &str), i64> = BTreeMap::new();
    for f in events {
        let e = f.envelope;
        let key = (e.aggregate_type.as_str(), e.event_type.as_str());
        *totals.entry(key).or_default() += 1;
        *daily.entry((f.day, key.0, key.1)).or_default() += 1;
    }
    let schema = quote_ident(schema);
    let (types, (event_types, counts)): (Vec<&str>, (Vec<&str>, Vec<i64>)) =
        totals.iter().map(|((a, e), n)| (*a, (*e, *n))).unzip();
    sqlx::query(&format!(
        "INSERT INTO {schema}.counters AS c (aggregate_type, event_type, count) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) \
         ON CONFLICT (aggregate_type, event_type) DO UPDATE SET count = c.count + EXCLUDED.count"
    ))
    .bind(&types)
    .bind(&event_types)
    .bind(&counts)
    .execute(&mut *conn)
    .await?;
    let monthly: BTreeMap<(NaiveDate, &str, &str), i64> =
        daily
            .iter()
            .fold(BTreeMap::new(), |mut monthly, ((day, a, e), n)| {
                *monthly.entry((month_of(*day), *a, *e)).or_default() += n;
                monthly
            });
    add_counters(conn, &schema, "daily_counters", "day", &daily).await?;
    add_counters(conn, &schema, "monthly_counters", "month", &monthly).await
}

/// The first day of `day`'s month: the key of the monthly roll-ups (migration 0019).
pub(crate) fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Adds `rows` ((day or month, aggregate type, event type) → count) to `table`, keyed
/// by its date column `key`.
async fn add_counters(
    conn: &mut PgConnection,
    schema: &str,
    table: &str,
    key: &str,
    rows: &BTreeMap<(NaiveDate, &str, &str), i64>,
) -> Result<(), sqlx::Error> {
    let mut days = Vec::with_capacity(rows.len());
    let mut types = Vec::with_capacity(rows.len());
    let mut event_types = Vec::with_capacity(rows.len());
    let mut counts = Vec::with_capacity(rows.len());
    for ((day, a, e), n) in rows {
        days.push(*day);
        types.push(*a);
        event_types.push(*e);
        counts.push(*n);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.{table} AS c ({key}, aggregate_type, event_type, count) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[]) \
         ON CONFLICT ({key}, aggregate_type, event_type) DO UPDATE SET count = c.count + EXCLUDED.count"
    ))
    .bind(&days)
    .bind(&types)
    .bind(&event_types)
    .bind(&counts)
    .execute(conn)
    .await?;
    Ok(())
}

/// The management indicators: counts, and the rates derived from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    /// Customers registered.
    pub customers: i64,
    /// Offers proposed, accepted, declined and withdrawn.
    pub offers_proposed: i64,
    /// Offers accepted.
    pub offers_accepted: i64,
    /// Accepted ÷ decided (accepted, declined or withdrawn) offers, if any was decided.
    pub offer_acceptance_rate: Option<f64>,
    /// Contracts signed and not terminated.
    pub contracts_in_force: i64,
    /// Invoices issued.
    pub invoices_issued: i64,
    /// Invoices neither paid nor cancelled.
    pub invoices_unpaid: i64,
    /// Rejected payments ÷ invoices issued, if any was issued.
    pub payment_rejection_rate: Option<f64>,
    /// Tickets opened and not resolved.
    pub tickets_open: i64,
}

/// Reads the indicators from `management.counters` (for the status page or the API).
pub async fn kpis(conn: &mut PgConnection) -> Result<Kpis, sqlx::Error> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT aggregate_type, event_type, count FROM management.counters")
            .fetch_all(conn)
            .await?;
    let get = |a: &str, e: &str| {
        rows.iter()
            .find(|(ra, re, _)| ra == a && re == e)
            .map_or(0, |(_, _, n)| *n)
    };
    Ok(kpis_from(get))
}

/// How the daily buckets are grouped into periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
}

impl Granularity {
    /// The first day of the period `day` falls in.
    #[must_use]
    pub fn start_of(self, day: chrono::NaiveDate) -> chrono::NaiveDate {
        use chrono::Datelike;
        match self {
            Self::Day => day,
            Self::Week => {
                day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            Self::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the period after the one starting on `start`.
    #[must_use]
    pub fn next(self, start: chrono::NaiveDate) -> chrono::NaiveDate {
        match self {
            Self::Day => start + chrono::Duration::days(1),
            Self::Week => start + chrono::Duration::days(7),
            Self::Month => start
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(start + chrono::Duration::days(31)),
        }
    }
}

/// One period of the indicators, from the daily buckets of `management.daily_counters`
/// (a day is the UTC date the event was recorded).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KpiPeriod {
    /// First day of the period.
    pub start: Option<chrono::NaiveDate>,
    /// Last day of the period (within the asked range).
    pub end: Option<chrono::NaiveDate>,
    pub customers_registered: i64,
    pub offers_proposed: i64,
    pub offers_declined: i64,
    /// Offers declined ÷ offers proposed in the period.
    pub offer_decline_rate: Option<f64>,
    pub contracts_signed: i64,
    pub contracts_terminated: i64,
    /// Contracts signed and not terminated before the period's first day.
    pub contracts_in_force_at_start: i64,
    /// Churn: contracts terminated in the period ÷ contracts in force at its start.
    pub churn_rate: Option<f64>,
    pub invoices_issued: i64,
    pub payment_rejections: i64,
    /// Incidents: payment rejections ÷ invoices issued in the period.
    pub payment_rejection_rate: Option<f64>,
    pub tickets_opened: i64,
    pub tickets_resolved: i64,
    /// Satisfaction: ratings given in the period, satisfied and not.
    pub satisfaction_good: i64,
    pub satisfaction_bad: i64,
    /// CSAT: satisfied ÷ all ratings of the period.
    pub csat: Option<f64>,
    /// The same per channel the customer got in touch by (`phone`, `mail`).
    pub satisfaction_by_channel: Vec<ChannelSatisfaction>,
    /// Tickets opened with the reason code `complaint`.
    pub complaints: i64,
    /// Customers registered and not erased at the period's end.
    pub customers_at_end: i64,
    /// Complaints × 1,000 ÷ customers at the period's end.
    pub complaints_per_1000_customers: Option<f64>,
    /// Customers whose last contract in force was terminated in the period.
    pub customers_left: i64,
    /// Customer contacts (tickets not opened by the platform) resolved.
    pub contacts_resolved: i64,
    /// Of those, resolved without ever being routed to another department.
    pub first_contact_resolutions: i64,
    /// First-contact resolutions ÷ customer contacts resolved.
    pub first_contact_resolution_rate: Option<f64>,
    /// Median and 90th percentile of the time from a ticket's opening to its
    /// resolution, all departments (upper bound of a bucket at most 9 % wide).
    pub resolution_median_seconds: Option<f64>,
    pub resolution_p90_seconds: Option<f64>,
    /// Median and 90th percentile, in days, from an offer's acceptance to the
    /// signature of its contract (contracts signed in the period).
    pub acceptance_to_signature_median_days: Option<i64>,
    pub acceptance_to_signature_p90_days: Option<i64>,
    /// Median and 90th percentile, in days, from a contract's signature to its first
    /// invoice (first invoices issued in the period).
    pub signature_to_first_invoice_median_days: Option<i64>,
    pub signature_to_first_invoice_p90_days: Option<i64>,
    /// Productivity per department (customer service, legal, sales, billing).
    pub departments: Vec<DepartmentProductivity>,
}

/// Satisfaction ratings of one channel in one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelSatisfaction {
    pub channel: String,
    pub good: i64,
    pub bad: i64,
    /// good ÷ (good + bad).
    pub csat: Option<f64>,
}

/// One department's productivity in one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DepartmentProductivity {
    pub department: String,
    /// Tickets resolved while the department held them.
    pub tickets_resolved: i64,
    /// Distinct (user, day) pairs of the department's users with an event.
    pub operator_days: i64,
    /// Tickets resolved ÷ operator-days.
    pub tickets_per_operator_day: Option<f64>,
    /// Median and 90th percentile of the time to resolution of its tickets.
    pub resolution_median_seconds: Option<f64>,
    pub resolution_p90_seconds: Option<f64>,
}

/// The departments productivity is reported for, in this order.
const DEPARTMENTS: &[&str] = &["customer_service", "legal", "sales", "billing"];

/// The channels satisfaction is reported for (the platform's notices are not rated).
const CHANNELS: &[&str] = &["phone", "mail"];

/// A day's (or period's) sums of `management.daily_measures` and histograms of
/// `management.daily_durations`, keyed by period start.
#[derive(Debug, Default)]
struct PeriodSums {
    /// Per period start: (measure, dimension, value).
    measures: std::collections::HashMap<NaiveDate, Vec<(String, String, i64)>>,
    /// Per period start: (measure, dimension, bucket, count).
    durations: std::collections::HashMap<NaiveDate, Vec<(String, String, i32, i64)>>,
}

impl PeriodSums {
    fn value(&self, start: NaiveDate, measure: &str, dimension: Option<&str>) -> i64 {
        self.measures.get(&start).map_or(0, |rows| {
            rows.iter()
                .filter(|(m, d, _)| m == measure && dimension.is_none_or(|want| want == d))
                .map(|(_, _, v)| *v)
                .sum()
        })
    }

    fn histogram(
        &self,
        start: NaiveDate,
        measure: &str,
        dimension: Option<&str>,
    ) -> Vec<(i32, i64)> {
        self.durations.get(&start).map_or_else(Vec::new, |rows| {
            rows.iter()
                .filter(|(m, d, _, _)| m == measure && dimension.is_none_or(|want| want == d))
                .map(|(_, _, b, n)| (*b, *n))
                .collect()
        })
    }
}

/// Median and 90th percentile of a histogram of seconds (bucket upper bounds).
fn seconds_quantiles(h: &[(i32, i64)]) -> (Option<f64>, Option<f64>) {
    let at = |q| {
        quantile_bucket(h, q)
            .map(seconds_bucket_bound)
            .map(|s| s.round())
    };
    (at(0.5), at(0.9))
}

/// Median and 90th percentile of a histogram of whole days.
fn days_quantiles(h: &[(i32, i64)]) -> (Option<i64>, Option<i64>) {
    let at = |q| quantile_bucket(h, q).map(i64::from);
    (at(0.5), at(0.9))
}

/// The indicators per period from `from` to `to` (both included), in order. Reads the
/// daily buckets up to `to` once: the contracts in force at each period's start are
/// the running sum of signatures less terminations before it.
pub async fn kpi_series(
    conn: &mut PgConnection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    granularity: Granularity,
) -> Result<Vec<KpiPeriod>, sqlx::Error> {
    let trunc = match granularity {
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    };
    // Whole months come from the monthly roll-ups, the days outside them (the edges of
    // a range by month, every day of a range by week or by day) from the daily rows.
    let (first, end) = whole_months(from, to, granularity);
    let within: Vec<(NaiveDate, String, String, i64)> = sqlx::query_as(
        "SELECT date_trunc($3, day)::date, aggregate_type, event_type, sum(count)::bigint \
           FROM management.daily_counters \
          WHERE (day >= $1 AND day < $4) OR (day >= $5 AND day <= $2) GROUP BY 1, 2, 3 \
         UNION ALL \
         SELECT month, aggregate_type, event_type, count \
           FROM management.monthly_counters WHERE month >= $4 AND month < $5",
    )
    .bind(from)
    .bind(to)
    .bind(trunc)
    .bind(first)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let before: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT aggregate_type, event_type, sum(count)::bigint FROM ( \
             SELECT aggregate_type, event_type, count \
               FROM management.monthly_counters WHERE month < $2 \
             UNION ALL \
             SELECT aggregate_type, event_type, count \
               FROM management.daily_counters WHERE day >= $2 AND day < $1) AS c \
          GROUP BY 1, 2",
    )
    .bind(from)
    .bind(month_of(from))
    .fetch_all(&mut *conn)
    .await?;
    let mut counters = CounterSums::default();
    for (d, a, e, n) in within {
        *counters
            .within
            .entry((granularity.start_of(d).max(from), a, e))
            .or_default() += n;
    }
    for (a, e, n) in before {
        counters.before.insert((a, e), n);
    }
    // Summed per period by PostgreSQL: a year by month is a few hundred rows whatever
    // the number of events.
    let measures: Vec<(NaiveDate, String, String, i64)> = sqlx::query_as(
        "SELECT date_trunc($3, day)::date, measure, dimension, sum(value)::bigint \
           FROM management.daily_measures \
          WHERE (day >= $1 AND day < $4) OR (day >= $5 AND day <= $2) GROUP BY 1, 2, 3 \
         UNION ALL \
         SELECT month, measure, dimension, value \
           FROM management.monthly_measures WHERE month >= $4 AND month < $5",
    )
    .bind(from)
    .bind(to)
    .bind(trunc)
    .bind(first)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let durations: Vec<(NaiveDate, String, String, i32, i64)> = sqlx::query_as(
        "SELECT date_trunc($3, day)::date, measure, dimension, bucket, sum(count)::bigint \
           FROM management.daily_durations \
          WHERE (day >= $1 AND day < $4) OR (day >= $5 AND day <= $2) GROUP BY 1, 2, 3, 4 \
         UNION ALL \
         SELECT month, measure, dimension, bucket, count \
           FROM management.monthly_durations WHERE month >= $4 AND month < $5",
    )
    .bind(from)
    .bind(to)
    .bind(trunc)
    .bind(first)
    .bind(end)
    .fetch_all(conn)
    .await?;
    let mut sums = PeriodSums::default();
    // A period's key is its start within the range: the first one may start at `from`.
    let key = |d: NaiveDate| granularity.start_of(d).max(from);
    for (d, m, dim, v) in measures {
        sums.measures.entry(key(d)).or_default().push((m, dim, v));
    }
    for (d, m, dim, b, n) in durations {
        sums.durations
            .entry(key(d))
            .or_default()
            .push((m, dim, b, n));
    }
    let mut periods = series_from_sums(&counters, from, to, granularity);
    for p in &mut periods {
        if let Some(start) = p.start {
            add_indicators(p, &sums, start);
        }
    }
    Ok(periods)
}

/// The whole calendar months of `from..=to` a series by month reads from the monthly
/// roll-ups, as `[first, end)` (first days of months); `(from, from)`, which selects no
/// month, for a series by week or by day or a range holding no whole month.
fn whole_months(
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> (NaiveDate, NaiveDate) {
    if granularity != Granularity::Month {
        return (from, from);
    }
    let first = if from.day() == 1 {
        from
    } else {
        Granularity::Month.next(month_of(from))
    };
    // The month after the last whole one: the month of the day after `to`.
    let end = month_of(to.succ_opt().unwrap_or(to));
    if first < end {
        (first, end)
    } else {
        (from, from)
    }
}

/// Fills the indicators of the daily measures and durations into `p`.
fn add_indicators(p: &mut KpiPeriod, sums: &PeriodSums, start: NaiveDate) {
    use super::indicators::measure as m;
    p.satisfaction_good = sums.value(start, m::SATISFACTION_GOOD, None);
    p.satisfaction_bad = sums.value(start, m::SATISFACTION_BAD, None);
    p.csat = ratio(
        p.satisfaction_good,
        p.satisfaction_good + p.satisfaction_bad,
    );
    p.satisfaction_by_channel = CHANNELS
        .iter()
        .map(|c| {
            let good = sums.value(start, m::SATISFACTION_GOOD, Some(c));
            let bad = sums.value(start, m::SATISFACTION_BAD, Some(c));
            ChannelSatisfaction {
                channel: (*c).to_owned(),
                good,
                bad,
                csat: ratio(good, good + bad),
            }
        })
        .collect();
    p.complaints = sums.value(start, m::COMPLAINTS, None);
    p.complaints_per_1000_customers = ratio(p.complaints * 1000, p.customers_at_end);
    p.customers_left = sums.value(start, m::CUSTOMERS_LEFT, None);
    p.contacts_resolved = sums.value(start, m::CONTACTS_RESOLVED, None);
    p.first_contact_resolutions = sums.value(start, m::FIRST_CONTACT_RESOLUTIONS, None);
    p.first_contact_resolution_rate = ratio(p.first_contact_resolutions, p.contacts_resolved);
    (p.resolution_median_seconds, p.resolution_p90_seconds) =
        seconds_quantiles(&sums.histogram(start, m::RESOLUTION_TIME, None));
    (
        p.acceptance_to_signature_median_days,
        p.acceptance_to_signature_p90_days,
    ) = days_quantiles(&sums.histogram(start, m::ACCEPTANCE_TO_SIGNATURE, None));
    (
        p.signature_to_first_invoice_median_days,
        p.signature_to_first_invoice_p90_days,
    ) = days_quantiles(&sums.histogram(start, m::SIGNATURE_TO_INVOICE, None));
    p.departments = DEPARTMENTS
        .iter()
        .map(|d| {
            let tickets_resolved = sums.value(start, m::TICKETS_RESOLVED, Some(d));
            let operator_days = sums.value(start, m::OPERATOR_DAYS, Some(d));
            let (median, p90) =
                seconds_quantiles(&sums.histogram(start, m::RESOLUTION_TIME, Some(d)));
            DepartmentProductivity {
                department: (*d).to_owned(),
                tickets_resolved,
                operator_days,
                tickets_per_operator_day: ratio(tickets_resolved, operator_days),
                resolution_median_seconds: median,
                resolution_p90_seconds: p90,
            }
        })
        .collect();
}

/// Counts per (period start, aggregate type, event type) within the range, and per
/// (aggregate type, event type) before it.
#[derive(Debug, Default)]
struct CounterSums {
    within: std::collections::HashMap<(NaiveDate, String, String), i64>,
    before: std::collections::HashMap<(String, String), i64>,
}

impl CounterSums {
    fn within(&self, start: NaiveDate, a: &str, e: &str) -> i64 {
        self.within
            .get(&(start, a.to_owned(), e.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    fn before(&self, a: &str, e: &str) -> i64 {
        self.before
            .get(&(a.to_owned(), e.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// The series of raw daily rows (the unit tests' input): grouped as
/// [`kpi_series`] has PostgreSQL group them.
#[cfg(test)]
fn series_from(
    rows: &[(chrono::NaiveDate, String, String, i64)],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    granularity: Granularity,
) -> Vec<KpiPeriod> {
    let mut sums = CounterSums::default();
    for (d, a, e, n) in rows {
        if *d < from {
            *sums.before.entry((a.clone(), e.clone())).or_default() += n;
        } else if *d <= to {
            let key = granularity.start_of(*d).max(from);
            *sums.within.entry((key, a.clone(), e.clone())).or_default() += n;
        }
    }
    series_from_sums(&sums, from, to, granularity)
}

fn series_from_sums(
    sums: &CounterSums,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    granularity: Granularity,
) -> Vec<KpiPeriod> {
    const RUNNING: [(&str, &str); 4] = [
        ("Contract", "ContractSigned"),
        ("Contract", "ContractTerminated"),
        ("Customer", "CustomerRegistered"),
        ("Customer", "CustomerErased"),
    ];
    // What happened before each period's start: before the range, plus the range's
    // earlier periods.
    let mut before: [i64; 4] = RUNNING.map(|(a, e)| sums.before(a, e));
    let mut periods = Vec::new();
    let mut start = granularity.start_of(from).max(from);
    while start <= to {
        let next = granularity.next(granularity.start_of(start));
        let end = (next - chrono::Duration::days(1)).min(to);
        let within = |a: &str, e: &str| sums.within(start, a, e);
        let now: [i64; 4] = RUNNING.map(|(a, e)| within(a, e));
        let in_force = before[0] - before[1];
        let customers_at_end = before[2] + now[2] - before[3] - now[3];
        let proposed = within("Offer", "OfferProposed");
        let declined = within("Offer", "OfferDeclined");
        let terminated = now[1];
        let issued = within("Invoice", "InvoiceIssued");
        let rejections = within("Invoice", "PaymentRejected");
        periods.push(KpiPeriod {
            start: Some(start),
            end: Some(end),
            customers_registered: now[2],
            offers_proposed: proposed,
            offers_declined: declined,
            offer_decline_rate: ratio(declined, proposed),
            contracts_signed: now[0],
            contracts_terminated: terminated,
            contracts_in_force_at_start: in_force,
            churn_rate: ratio(terminated, in_force),
            invoices_issued: issued,
            payment_rejections: rejections,
            payment_rejection_rate: ratio(rejections, issued),
            tickets_opened: within("Ticket", "TicketOpened"),
            tickets_resolved: within("Ticket", "TicketResolved"),
            customers_at_end,
            ..KpiPeriod::default()
        });
        for (b, n) in before.iter_mut().zip(now) {
            *b += n;
        }
        start = next;
    }
    periods
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    // Counts stay far below 2^52, where the conversion to f64 is exact.
    #[allow(clippy::cast_precision_loss)]
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn kpis_from(get: impl Fn(&str, &str) -> i64) -> Kpis {
    let accepted = get("Offer", "OfferAccepted");
    let decided = accepted + get("Offer", "OfferDeclined") + get("Offer", "OfferWithdrawn");
    let issued = get("Invoice", "InvoiceIssued");
    Kpis {
        customers: get("Customer", "CustomerRegistered"),
        offers_proposed: get("Offer", "OfferProposed"),
        offers_accepted: accepted,
        offer_acceptance_rate: ratio(accepted, decided),
        contracts_in_force: get("Contract", "ContractSigned")
            - get("Contract", "ContractTerminated"),
        invoices_issued: issued,
        invoices_unpaid: issued
            - get("Invoice", "InvoicePaid")
            - get("Invoice", "InvoiceCancelled"),
        payment_rejection_rate: ratio(get("Invoice", "PaymentRejected"), issued),
        tickets_open: get("Ticket", "TicketOpened") - get("Ticket", "TicketResolved"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_cut_the_daily_buckets_and_churn_counts_what_was_in_force_before() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().expect("a date");
        let row = |day: &str, a: &str, e: &str, n: i64| (d(day), a.to_owned(), e.to_owned(), n);
        let rows = [
            row("2026-10-03", "Contract", "ContractSigned", 10),
            row("2026-11-02", "Contract", "ContractSigned", 4),
            row("2026-11-20", "Contract", "ContractTerminated", 2),
            row("2026-11-05", "Offer", "OfferProposed", 8),
            row("2026-11-06", "Offer", "OfferDeclined", 2),
            row("2026-12-01", "Invoice", "InvoiceIssued", 20),
            row("2026-12-02", "Invoice", "PaymentRejected", 1),
        ];
        let months = series_from(&rows, d("2026-11-15"), d("2026-12-10"), Granularity::Month);
        assert_eq!(months.len(), 2);
        // November from the 15th: what was in force on the 15th (10 + 4), 2 terminated.
        assert_eq!(months[0].start, Some(d("2026-11-15")));
        assert_eq!(months[0].end, Some(d("2026-11-30")));
        assert_eq!(months[0].contracts_in_force_at_start, 14);
        assert_eq!(months[0].churn_rate, Some(2.0 / 14.0));
        assert_eq!(months[0].offers_proposed, 0, "the 5th is before the range");
        // December, to the 10th.
        assert_eq!(months[1].start, Some(d("2026-12-01")));
        assert_eq!(months[1].end, Some(d("2026-12-10")));
        assert_eq!(months[1].contracts_in_force_at_start, 12);
        assert_eq!(months[1].churn_rate, Some(0.0));
        assert_eq!(months[1].payment_rejection_rate, Some(0.05));
        let weeks = series_from(&rows, d("2026-11-02"), d("2026-11-08"), Granularity::Week);
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].offer_decline_rate, Some(0.25));
        assert_eq!(Granularity::Week.start_of(d("2026-12-06")), d("2026-11-30"));
        let days = series_from(&rows, d("2026-12-01"), d("2026-12-03"), Granularity::Day);
        assert_eq!(days.len(), 3);
        assert_eq!(days[2].invoices_issued, 0);
    }

    #[test]
    fn a_series_by_month_reads_its_whole_months_from_the_roll_ups() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let m = Granularity::Month;
        // A calendar year: its twelve months.
        assert_eq!(
            whole_months(d("2026-01-01"), d("2026-12-31"), m),
            (d("2026-01-01"), d("2027-01-01"))
        );
        // From the 15th to the 10th: February only; the edges are read by day.
        assert_eq!(
            whole_months(d("2026-01-15"), d("2026-03-10"), m),
            (d("2026-02-01"), d("2026-03-01"))
        );
        // Within one month, or by week or by day: no month.
        assert_eq!(
            whole_months(d("2026-01-02"), d("2026-01-31"), m),
            (d("2026-01-02"), d("2026-01-02"))
        );
        assert_eq!(
            whole_months(d("2026-01-01"), d("2026-12-31"), Granularity::Week),
            (d("2026-01-01"), d("2026-01-01"))
        );
        // February of a leap year, whole.
        assert_eq!(
            whole_months(d("2028-02-01"), d("2028-02-29"), m),
            (d("2028-02-01"), d("2028-03-01"))
        );
    }

    #[test]
    fn rates_are_ratios_of_counts() {
        let kpis = kpis_from(|a, e| match (a, e) {
            ("Offer", "OfferAccepted") => 3,
            ("Offer", "OfferDeclined") => 1,
            ("Invoice", "InvoiceIssued") => 10,
            ("Invoice", "InvoicePaid") => 6,
            ("Invoice", "PaymentRejected") => 2,
            ("Invoice", "InvoiceCancelled") => 1,
            _ => 0,
        });
        assert_eq!(kpis.offer_acceptance_rate, Some(0.75));
        assert_eq!(kpis.invoices_unpaid, 3);
        assert_eq!(kpis.payment_rejection_rate, Some(0.2));
        assert_eq!(kpis.tickets_open, 0);
        assert_eq!(kpis_from(|_, _| 0).offer_acceptance_rate, None);
    }
}
