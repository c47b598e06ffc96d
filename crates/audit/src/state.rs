//! An aggregate's state at a past version or time, rebuilt by replaying its events.
//!
//! By time, the events kept are those with `recorded_at <= time`. `recorded_at` is the
//! appending transaction's start, and an aggregate's next event is appended by a
//! transaction that began after the previous one committed, so those events are a
//! prefix of the aggregate's sequence. (An append in flight at that instant, begun
//! before it and committed after, is counted as already there.)
//!
//! Sealed personal fields are opened as for the timeline (`crate::personal`): with the
//! caller's master keys, the data keys read in the same snapshot as the events. An
//! event whose fields could not be read (an erased customer's, or any without master
//! keys) is applied when its payload still makes a domain event (free texts reading
//! `"[erased]"`), and otherwise skipped, as the store itself does when it loads an
//! aggregate (`lae_store::EventRepository`). Either way the result says so in its
//! [`Redaction`]: the state is then what can still be known, not what was.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use lae_domain::contract::Contract;
use lae_domain::customer::Customer;
use lae_domain::invoice::Invoice;
use lae_domain::offer::Offer;
use lae_domain::ticket::Ticket;
use lae_store::crypto::MasterKeys;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::error::{AuditError, Result};
use crate::personal::{EventRef, Opener};
use crate::transaction::snapshot;

/// Up to where to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Up to and including this sequence.
    Version(usize),
    /// Every event recorded at or before this time.
    Time(DateTime<Utc>),
}

const READ: &str = "
SELECT sequence, event_type, payload::text, recorded_at
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
   AND sequence <= $3 AND ($4::timestamptz IS NULL OR recorded_at <= $4)
 ORDER BY sequence";

/// What a replay could not read. All `false` and empty: nothing is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Redaction {
    /// Whether the state lacks personal data it had: one of the flags below is set.
    pub redacted: bool,
    /// Some field read `"[erased]"`: its data subject's keys were destroyed.
    pub erased: bool,
    /// Some field read `"[withheld]"`: no master key was given.
    pub withheld: bool,
    /// Some field read `"[unreadable]"`: its ciphertext was altered (see
    /// [`crate::verify()`]).
    pub unreadable: bool,
    /// The sequences of the events left out of the replay because, with fields that
    /// could not be read, their payload no longer makes a domain event.
    pub skipped: Vec<usize>,
}

/// An aggregate at a version or time.
#[derive(Debug, Clone, PartialEq)]
pub struct StateAt<A> {
    pub state: A,
    /// The sequence of the last event read (applied, or skipped: see `redaction`).
    pub version: usize,
    /// When that event was recorded.
    pub recorded_at: DateTime<Utc>,
    pub redaction: Redaction,
}

/// The aggregate's state at `at`, or `None` if it had no event by then. `pool` needs
/// SELECT on `events` and the `keys` schema (`lae_auditor`); `masters` open the sealed
/// personal fields (without them, events that need those fields are skipped).
pub async fn state_at<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: At,
    masters: Option<&Arc<MasterKeys>>,
) -> Result<Option<StateAt<A>>> {
    replay::<A>(pool, aggregate_id, at, masters).await
}

/// The state of any aggregate type, for the API: the aggregate as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateState {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The sequence of the last event read.
    pub version: usize,
    /// When that event was recorded.
    pub recorded_at: DateTime<Utc>,
    pub state: Value,
    /// `redacted`, `erased`, `withheld`, `unreadable`, `skipped`.
    #[serde(flatten)]
    pub redaction: Redaction,
}

/// [`state_at`] by aggregate type name (`Customer`, `Offer`, `Contract`, `Invoice`,
/// `Ticket`).
pub async fn state_at_json(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    at: At,
    masters: Option<&Arc<MasterKeys>>,
) -> Result<Option<AggregateState>> {
    match aggregate_type {
        t if t == Customer::TYPE => as_json::<Customer>(pool, aggregate_id, at, masters).await,
        t if t == Offer::TYPE => as_json::<Offer>(pool, aggregate_id, at, masters).await,
        t if t == Contract::TYPE => as_json::<Contract>(pool, aggregate_id, at, masters).await,
        t if t == Invoice::TYPE => as_json::<Invoice>(pool, aggregate_id, at, masters).await,
        t if t == Ticket::TYPE => as_json::<Ticket>(pool, aggregate_id, at, masters).await,
        other => Err(AuditError::UnknownAggregateType(other.to_owned())),
    }
}

async fn as_json<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: At,
    masters: Option<&Arc<MasterKeys>>,
) -> Result<Option<AggregateState>> {
    let Some(found) = replay::<A>(pool, aggregate_id, at, masters).await? else {
        return Ok(None);
    };
    Ok(Some(AggregateState {
        aggregate_type: A::TYPE.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        version: found.version,
        recorded_at: found.recorded_at,
        state: serde_json::to_value(&found.state)?,
        redaction: found.redaction,
    }))
}

async fn replay<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    at: At,
    masters: Option<&Arc<MasterKeys>>,
) -> Result<Option<StateAt<A>>> {
    let (max_sequence, max_time) = match at {
        At::Version(version) => (i64::try_from(version).unwrap_or(i64::MAX), None),
        At::Time(time) => (i64::MAX, Some(time)),
    };
    let decode_error = |sequence: i64, source| AuditError::Decode {
        aggregate_type: A::TYPE.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        sequence,
        source,
    };
    // Events and keys from one snapshot, the keys in one batch.
    let mut tx = snapshot(pool).await?;
    let rows: Vec<(i64, String, String, DateTime<Utc>)> = sqlx::query_as(READ)
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(max_sequence)
        .bind(max_time)
        .fetch_all(&mut *tx)
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for (sequence, event_type, payload, recorded_at) in rows {
        let payload: Value =
            serde_json::from_str(&payload).map_err(|e| decode_error(sequence, e))?;
        events.push((sequence, event_type, payload, recorded_at));
    }
    let opener = Opener::load(
        masters,
        &mut tx,
        events.iter().map(|(_, event_type, payload, _)| EventRef {
            aggregate_type: A::TYPE,
            aggregate_id,
            event_type,
            payload,
        }),
    )
    .await?;
    tx.commit().await?;

    let mut state = A::default();
    let mut redaction = Redaction::default();
    let mut last: Option<(usize, DateTime<Utc>)> = None;
    for (sequence, event_type, mut payload, recorded_at) in events {
        let version = usize::try_from(sequence).unwrap_or_default();
        last = Some((version, recorded_at));
        let unread = opener.open(A::TYPE, aggregate_id, &event_type, &mut payload)?;
        redaction.erased |= unread.erased;
        redaction.withheld |= unread.withheld;
        redaction.unreadable |= unread.unreadable;
        match serde_json::from_value::<A::Event>(payload) {
            Ok(event) => state.apply(event),
            Err(_) if unread.is_redacted() => redaction.skipped.push(version),
            Err(e) => return Err(decode_error(sequence, e)),
        }
    }
    redaction.redacted = redaction.erased || redaction.withheld || redaction.unreadable;
    Ok(last.map(|(version, recorded_at)| StateAt {
        state,
        version,
        recorded_at,
        redaction,
    }))
}
