//! Reading the event store in commit order, and the relay's checkpoint and leader lock.
//!
//! Every transaction whose id is below `pg_snapshot_xmin(pg_current_snapshot())` has
//! committed or aborted, so the events of those transactions are final: reading only
//! them, ordered and checkpointed by `(transaction_id, global_position)`, no event can
//! ever commit behind the checkpoint. A transaction that is still running holds the
//! reader back (exposed as depth and lag in the metrics) but is never skipped.
//!
//! `xid8` has no binary codec in sqlx, so transaction ids travel as text and are bound
//! back with `$n::text::xid8`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::error::RelayError;
use crate::message::StoredEvent;

/// A position in commit order: the last event published, or the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Checkpoint {
    /// The `xid8` of the transaction that wrote the event.
    pub transaction_id: u64,
    /// The event's global position (its insert order within the transaction).
    pub global_position: i64,
}

impl Checkpoint {
    /// Before every event.
    pub const ORIGIN: Self = Self {
        transaction_id: 0,
        global_position: 0,
    };
}

/// The index `events_commit_order (transaction_id, global_position)` serves both the
/// row comparison and the order (checked with EXPLAIN: an index-only range scan).
/// `transaction_id::text` is aliased so that `ORDER BY transaction_id` means the
/// column, not the text output (which would sort "10" before "9").
const READ_BATCH: &str = "
SELECT event_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
       payload::text AS payload_text, metadata::text AS metadata_text,
       global_position, transaction_id::text AS txid, recorded_at
  FROM events
 WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY transaction_id, global_position
 LIMIT $3";

/// Events committed after the checkpoint, whether readable yet or held back behind a
/// running transaction. The count stops at `$3` so that a large backlog costs a bounded
/// index scan; the oldest is the first in commit order. The `ORDER BY` is there for the
/// plan: it makes the commit-order index the obvious path even for a generic plan of
/// this prepared statement, where a sequential scan would have to read the whole table
/// to find the few recent rows.
const BACKLOG: &str = "
SELECT (SELECT count(*) FROM (
            SELECT 1 FROM events
             WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
             ORDER BY transaction_id, global_position
             LIMIT $3) AS capped) AS depth,
       (SELECT recorded_at FROM events
         WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         ORDER BY transaction_id, global_position
         LIMIT 1) AS oldest";

/// Moves the checkpoint forward only: a relay that lost its lock without noticing
/// cannot move it back.
const SAVE_CHECKPOINT: &str = "
INSERT INTO relay_checkpoints AS c (relay, transaction_id, global_position, updated_at)
VALUES ($1, $2::text::xid8, $3, now())
ON CONFLICT (relay) DO UPDATE
   SET transaction_id = EXCLUDED.transaction_id,
       global_position = EXCLUDED.global_position,
       updated_at = now()
 WHERE (c.transaction_id, c.global_position) < (EXCLUDED.transaction_id, EXCLUDED.global_position)";

const LOAD_CHECKPOINT: &str = "
SELECT transaction_id::text AS txid, global_position FROM relay_checkpoints WHERE relay = $1";

/// What is committed but not yet published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backlog {
    /// Events after the checkpoint, at most the cap given.
    pub depth: u64,
    /// `recorded_at` of the first of them in commit order.
    pub oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn read_batch(
    conn: &mut PgConnection,
    after: Checkpoint,
    limit: usize,
) -> Result<Vec<StoredEvent>, RelayError> {
    let rows = sqlx::query(READ_BATCH)
        .bind(after.transaction_id.to_string())
        .bind(after.global_position)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(stored_event).collect()
}

fn stored_event(row: &PgRow) -> Result<StoredEvent, RelayError> {
    Ok(StoredEvent {
        event_id: row.try_get::<Uuid, _>("event_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload_text")?,
        metadata: row.try_get("metadata_text")?,
        global_position: row.try_get("global_position")?,
        transaction_id: parse_xid(row.try_get("txid")?)?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

fn parse_xid(text: String) -> Result<u64, RelayError> {
    text.parse().map_err(|_| RelayError::BadTransactionId(text))
}

pub(crate) async fn backlog(
    conn: &mut PgConnection,
    after: Checkpoint,
    cap: u64,
) -> Result<Backlog, RelayError> {
    let row = sqlx::query(BACKLOG)
        .bind(after.transaction_id.to_string())
        .bind(after.global_position)
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .fetch_one(&mut *conn)
        .await?;
    let depth: i64 = row.try_get("depth")?;
    Ok(Backlog {
        depth: u64::try_from(depth).unwrap_or_default(),
        oldest: row.try_get("oldest")?,
    })
}

/// The relay's checkpoint, or `None` when it never published.
pub(crate) async fn load_checkpoint<'c, E>(
    executor: E,
    relay: &str,
) -> Result<Option<Checkpoint>, RelayError>
where
    E: sqlx::PgExecutor<'c>,
{
    let row = sqlx::query(LOAD_CHECKPOINT)
        .bind(relay)
        .fetch_optional(executor)
        .await?;
    row.map(|row| {
        Ok(Checkpoint {
            transaction_id: parse_xid(row.try_get("txid")?)?,
            global_position: row.try_get("global_position")?,
        })
    })
    .transpose()
}

pub(crate) async fn save_checkpoint(
    conn: &mut PgConnection,
    relay: &str,
    checkpoint: Checkpoint,
) -> Result<(), RelayError> {
    sqlx::query(SAVE_CHECKPOINT)
        .bind(relay)
        .bind(checkpoint.transaction_id.to_string())
        .bind(checkpoint.global_position)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The advisory-lock key of a relay name: a fixed class (`"LAER"`) and a 32-bit FNV-1a
/// hash of the name. The two-key form keeps clear of any one-key advisory lock the
/// platform may take elsewhere.
pub(crate) fn lock_key(relay: &str) -> (i32, i32) {
    const CLASS: i32 = 0x4C41_4552;
    let mut hash: u32 = 0x811c_9dc5;
    for byte in relay.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (CLASS, i32::from_ne_bytes(hash.to_ne_bytes()))
}

/// Takes the relay's leader lock on this session if nobody holds it. The lock lives as
/// long as the session: when the relay's process or connection dies, PostgreSQL
/// releases it and another relay can take over.
pub(crate) async fn try_lock(conn: &mut PgConnection, relay: &str) -> Result<bool, RelayError> {
    let (class, key) = lock_key(relay);
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(class)
        .bind(key)
        .fetch_one(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_order_by_transaction_then_position() {
        let a = Checkpoint {
            transaction_id: 9,
            global_position: 100,
        };
        let b = Checkpoint {
            transaction_id: 10,
            global_position: 1,
        };
        assert!(a < b);
        assert!(Checkpoint::ORIGIN < a);
    }

    #[test]
    fn lock_keys_are_stable_and_differ_by_name() {
        assert_eq!(lock_key("lae-relay"), lock_key("lae-relay"));
        assert_ne!(lock_key("lae-relay"), lock_key("lae-relay-2"));
        assert_eq!(lock_key("x").0, 0x4C41_4552);
    }
}
