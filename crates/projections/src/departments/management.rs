//! Management: counts of events per type, overall and per day. No payload is read, no
//! id is stored: rates are ratios of counts (accepted / proposed offers, ...).

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use lae_store::db::quote_ident;
use serde::Serialize;
use sqlx::PgConnection;

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

/// Adds one to the counters of each event (already claimed, so counted once).
pub(crate) async fn count(
    conn: &mut PgConnection,
    schema: &str,
    events: &[&Envelope],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let mut totals: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut daily: BTreeMap<(NaiveDate, &str, &str), i64> = BTreeMap::new();
    for e in events {
        let key = (e.aggregate_type.as_str(), e.event_type.as_str());
        *totals.entry(key).or_default() += 1;
        *daily
            .entry((e.recorded_at.date_naive(), key.0, key.1))
            .or_default() += 1;
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
    let mut days = Vec::with_capacity(daily.len());
    let mut types = Vec::with_capacity(daily.len());
    let mut event_types = Vec::with_capacity(daily.len());
    let mut counts = Vec::with_capacity(daily.len());
    for ((day, a, e), n) in &daily {
        days.push(*day);
        types.push(*a);
        event_types.push(*e);
        counts.push(*n);
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.daily_counters AS c (day, aggregate_type, event_type, count) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[]) \
         ON CONFLICT (day, aggregate_type, event_type) DO UPDATE SET count = c.count + EXCLUDED.count"
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
