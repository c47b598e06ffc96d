//! Reading the event store in commit order, for rebuilds.
//!
//! Only events of finished transactions are read: those whose `transaction_id` is below
//! `pg_snapshot_xmin(pg_current_snapshot())`, in `(transaction_id, global_position)`
//! order, with that pair as the cursor (ARCHITECTURE.md, "Reading the store in order").
//! No transaction can commit behind the cursor any more, so reading on from it never
//! misses an event; and the relay reads by the same rule, so whatever it has published
//! is below the xmin of any later read.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::envelope::Envelope;

/// A position in commit order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommitPosition {
    /// The committing transaction (`xid8`).
    pub transaction_id: u64,
    /// The event's global position.
    pub global_position: i64,
}

// The text form of the transaction id is named `txid`, not `transaction_id`: an output
// column of that name would make ORDER BY sort by the text, in the wrong order ("10" <
// "9") and without the index. `$5`, when not null, lists the `Aggregate:EventType`
// pairs whose payload is wanted; the others are read as an empty text.
const READ: &str = "
SELECT event_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
       CASE WHEN $5::text[] IS NULL OR aggregate_type || ':' || event_type = ANY($5)
            THEN payload::text ELSE '' END AS payload,
       global_position, transaction_id::text AS txid, recorded_at, metadata::text AS metadata
  FROM events
 WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
   AND aggregate_type = ANY($3)
 ORDER BY events.transaction_id, events.global_position
 LIMIT $4";

#[derive(sqlx::FromRow)]
struct StoredRow {
    event_id: Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    global_position: i64,
    txid: String,
    recorded_at: DateTime<Utc>,
    metadata: String,
}

/// Reads up to `limit` events of `aggregate_types` after `after`, in commit order.
/// Returns them with the position of the last one read (`after` when none).
pub async fn read_after(
    pool: &PgPool,
    aggregate_types: &[&str],
    after: CommitPosition,
    limit: usize,
) -> Result<(Vec<Envelope>, CommitPosition), sqlx::Error> {
    read_after_using(pool, aggregate_types, None, after, limit).await
}

/// [`read_after`] that brings back only the payloads of `used` event types (as
/// `Aggregate:EventType`), the others as an empty text: a rebuild records the sequence
/// of an event its department does not read, and management reads none. Payloads are
/// most of what is read, and sealed ones are about twice the size of clear ones.
pub async fn read_after_using(
    pool: &PgPool,
    aggregate_types: &[&str],
    used: Option<&[String]>,
    after: CommitPosition,
    limit: usize,
) -> Result<(Vec<Envelope>, CommitPosition), sqlx::Error> {
    let rows: Vec<StoredRow> = sqlx::query_as(READ)
        .bind(after.transaction_id.to_string())
        .bind(after.global_position)
        .bind(aggregate_types)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(used)
        .fetch_all(pool)
        .await?;
    let mut last = after;
    let mut envelopes = Vec::with_capacity(rows.len());
    for row in rows {
        let transaction_id = row.txid.parse::<u64>().map_err(|e| {
            sqlx::Error::Decode(format!("transaction id {:?}: {e}", row.txid).into())
        })?;
        last = CommitPosition {
            transaction_id,
            global_position: row.global_position,
        };
        envelopes.push(Envelope {
            event_id: row.event_id,
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            global_position: row.global_position,
            recorded_at: row.recorded_at,
            payload: row.payload,
            actor: crate::envelope::EnvelopeActor::from_metadata(&row.metadata),
        });
    }
    Ok((envelopes, last))
}
