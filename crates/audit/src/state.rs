//! An aggregate's state at a past version or time, rebuilt by replaying its events.
//!
//! By time, the events kept are those with `recorded_at <= time`. `recorded_at` is the
//! appending transaction's start, and an aggregate's next event is appended by a
//! transaction that began after the previous one committed, so those events are a
//! prefix of the aggregate's sequence. (An append in flight at that instant, begun
//! before it and committed after, is counted as already there.)

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use futures::TryStreamExt;
use lae_domain::contract::Contract;
use lae_domain::customer::Customer;
use lae_domain::invoice::Invoice;
use lae_domain::offer::Offer;
use lae_domain::ticket::Ticket;
use serde::Serialize;
use sqlx::{PgPool, Row};

use crate::error::{AuditError, Result};

/// Up to where to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Up to and including this sequence.
    Version(usize),
    /// Every event recorded at or before this time.
    Time(DateTime<Utc>),
}

const READ: &str = "
SELECT sequence, payload::text, recorded_at
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
   AND sequence <= $3 AND ($4::timestamptz IS NULL OR recorded_at <= $4)
 ORDER BY sequence";

/// The aggregate's state and version at `at`, or `None` if it had no event by then.
pub async fn state_at<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: At,
) -> Result<Option<(A, usize)>> {
    Ok(replay::<A>(pool, aggregate_id, at)
        .await?
        .map(|(state, version, _)| (state, version)))
}

/// The state of any aggregate type, for the API: the aggregate as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateState {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The sequence of the last event applied.
    pub version: usize,
    /// When that event was recorded.
    pub recorded_at: DateTime<Utc>,
    pub state: serde_json::Value,
}

/// [`state_at`] by aggregate type name (`Customer`, `Offer`, `Contract`, `Invoice`,
/// `Ticket`).
pub async fn state_at_json(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    at: At,
) -> Result<Option<AggregateState>> {
    match aggregate_type {
        t if t == Customer::TYPE => erased::<Customer>(pool, aggregate_id, at).await,
        t if t == Offer::TYPE => erased::<Offer>(pool, aggregate_id, at).await,
        t if t == Contract::TYPE => erased::<Contract>(pool, aggregate_id, at).await,
        t if t == Invoice::TYPE => erased::<Invoice>(pool, aggregate_id, at).await,
        t if t == Ticket::TYPE => erased::<Ticket>(pool, aggregate_id, at).await,
        other => Err(AuditError::UnknownAggregateType(other.to_owned())),
    }
}

async fn erased<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: At,
) -> Result<Option<AggregateState>> {
    let Some((state, version, recorded_at)) = replay::<A>(pool, aggregate_id, at).await? else {
        return Ok(None);
    };
    Ok(Some(AggregateState {
        aggregate_type: A::TYPE.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        version,
        recorded_at,
        state: serde_json::to_value(&state)?,
    }))
}

async fn replay<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: At,
) -> Result<Option<(A, usize, DateTime<Utc>)>> {
    let (max_sequence, max_time) = match at {
        At::Version(version) => (i64::try_from(version).unwrap_or(i64::MAX), None),
        At::Time(time) => (i64::MAX, Some(time)),
    };
    let mut rows = sqlx::query(READ)
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(max_sequence)
        .bind(max_time)
        .fetch(pool);
    let mut state = A::default();
    let mut last: Option<(usize, DateTime<Utc>)> = None;
    while let Some(row) = rows.try_next().await? {
        let sequence: i64 = row.try_get(0)?;
        let payload: &str = row.try_get(1)?;
        let event: A::Event =
            serde_json::from_str(payload).map_err(|source| AuditError::Decode {
                aggregate_type: A::TYPE.to_owned(),
                aggregate_id: aggregate_id.to_owned(),
                sequence,
                source,
            })?;
        state.apply(event);
        last = Some((
            usize::try_from(sequence).unwrap_or_default(),
            row.try_get(2)?,
        ));
    }
    Ok(last.map(|(version, recorded_at)| (state, version, recorded_at)))
}
