//! Export: the history, or the part recorded in a time range, as NDJSON in commit
//! order, one event per line.
//!
//! Each line is the relay's message body: `event_id, aggregate_type, aggregate_id,
//! sequence, event_type, event_version, global_position, recorded_at` then `payload`
//! and `metadata` spliced in as the stored JSON text, never re-encoded. Pages of
//! [`PAGE`] events are read by keyset on `(transaction_id, global_position)` inside one
//! read-only snapshot, so the export is exactly the store as of its start, however
//! long the writer takes.
//!
//! # The stored, sealed form
//!
//! The export opens nothing: personal fields stay sealed (`{"$enc": "…"}`), exactly as
//! stored. These are the bytes the seals hash, so an auditor can recompute both chains
//! from the export and the audit key alone; an opened payload would hash differently
//! and prove nothing. It also means the export needs no master key, reveals no sealed
//! personal value (only the clear fields of events written before encryption, as
//! stored), and does not change when a
//! customer is erased: an erased customer's fields were ciphertext before and are the
//! same ciphertext after, only without a key. To read the values of a customer, use
//! the timeline ([`crate::timeline()`]), which opens them and logs health reads.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::error::Result;
use crate::position::CommitPosition;
use crate::transaction::snapshot;

/// Events per page.
///
/// The query aliases `transaction_id::text`: left with the column's own name, `ORDER BY
/// transaction_id` would mean that text output ("10" before "9"), in a full sort.
pub const PAGE: i64 = 50_000;
/// Bytes gathered before each write to the output.
const WRITE_CHUNK: usize = 256 * 1024;

const READ_PAGE: &str = "
SELECT event_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
       global_position, recorded_at, payload::text, metadata::text, transaction_id::text AS txid
  FROM events
 WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
   AND ($3::timestamptz IS NULL OR recorded_at >= $3)
   AND ($4::timestamptz IS NULL OR recorded_at < $4)
 ORDER BY transaction_id, global_position
 LIMIT $5";

/// Where a range export starts in commit order: no transaction below the lowest one
/// that recorded an event in the range can hold one, so the scan skips them.
const RANGE_START: &str = "
SELECT (min(transaction_id::text::numeric) - 1)::text
  FROM events
 WHERE recorded_at >= $1 AND ($2::timestamptz IS NULL OR recorded_at < $2)";

/// Which events to export, by `recorded_at`: `[from, to)`, unbounded when `None`.
#[derive(Debug, Clone, Default)]
pub struct ExportRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    pub events: u64,
    pub bytes: u64,
    pub first_global_position: Option<i64>,
    pub last_global_position: Option<i64>,
    pub elapsed_ms: u64,
}

/// Writes the events of `range` to `out` as NDJSON, in commit order, and flushes it.
/// `pool` needs SELECT on `events` (`lae_auditor` is enough).
pub async fn export_ndjson<W>(
    pool: &PgPool,
    range: &ExportRange,
    out: &mut W,
) -> Result<ExportReport>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let started = std::time::Instant::now();
    let mut tx = snapshot(pool).await?;
    let mut after = CommitPosition::ORIGIN;
    if let Some(from) = range.from {
        let start: Option<String> = sqlx::query_scalar(RANGE_START)
            .bind(from)
            .bind(range.to)
            .fetch_one(&mut *tx)
            .await?;
        match start {
            Some(txid) => after = CommitPosition::parse(&txid, i64::MAX)?,
            // Nothing was recorded in the range.
            None => {
                out.flush().await?;
                return Ok(ExportReport::default());
            }
        }
    }
    let mut report = ExportReport::default();
    let mut buffer = Vec::with_capacity(WRITE_CHUNK + 64 * 1024);
    loop {
        let mut in_page = 0i64;
        let mut rows = sqlx::query(READ_PAGE)
            .bind(after.xid_text())
            .bind(after.global_position)
            .bind(range.from)
            .bind(range.to)
            .bind(PAGE)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            in_page += 1;
            let position = write_line(&row, &mut buffer)?;
            let txid: &str = row.try_get(10)?;
            after = CommitPosition::parse(txid, position)?;
            report.first_global_position.get_or_insert(position);
            report.last_global_position = Some(position);
            report.events += 1;
            if buffer.len() >= WRITE_CHUNK {
                out.write_all(&buffer).await?;
                report.bytes += buffer.len() as u64;
                buffer.clear();
            }
        }
        drop(rows);
        if in_page < PAGE {
            break;
        }
    }
    out.write_all(&buffer).await?;
    report.bytes += buffer.len() as u64;
    out.flush().await?;
    tx.commit().await?;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(events = report.events, bytes = report.bytes, "export done");
    Ok(report)
}

/// The envelope's fields before `payload` and `metadata`, in the relay's order.
#[derive(Serialize)]
struct Head<'a> {
    event_id: Uuid,
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    sequence: i64,
    event_type: &'a str,
    event_version: &'a str,
    global_position: i64,
    recorded_at: String,
}

/// Appends one NDJSON line; returns the event's global position.
fn write_line(row: &PgRow, buffer: &mut Vec<u8>) -> Result<i64> {
    let recorded_at: DateTime<Utc> = row.try_get(7)?;
    let head = Head {
        event_id: row.try_get(0)?,
        aggregate_type: row.try_get(1)?,
        aggregate_id: row.try_get(2)?,
        sequence: row.try_get(3)?,
        event_type: row.try_get(4)?,
        event_version: row.try_get(5)?,
        global_position: row.try_get(6)?,
        recorded_at: recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    };
    let payload: &str = row.try_get(8)?;
    let metadata: &str = row.try_get(9)?;
    let start = buffer.len();
    serde_json::to_writer(&mut *buffer, &head)?;
    // A serialized struct ends with its closing brace: reopen it and splice the stored
    // texts, which the `json` column type validated on insert.
    if buffer.last() == Some(&b'}') {
        buffer.pop();
    } else {
        buffer.truncate(start);
        return Err(crate::AuditError::BackupFormat(
            "the envelope is not a JSON object".into(),
        ));
    }
    buffer.extend_from_slice(b",\"payload\":");
    splice(buffer, payload);
    buffer.extend_from_slice(b",\"metadata\":");
    splice(buffer, metadata);
    buffer.extend_from_slice(b"}\n");
    Ok(head.global_position)
}

/// Appends stored JSON text. A line break can only be whitespace between tokens (JSON
/// strings cannot hold a raw one), so it is written as a space: the value is the same,
/// and each event stays on its line.
fn splice(buffer: &mut Vec<u8>, json: &str) {
    let start = buffer.len();
    buffer.extend_from_slice(json.as_bytes());
    if json.contains(['\n', '\r']) {
        for byte in &mut buffer[start..] {
            if *byte == b'\n' || *byte == b'\r' {
                *byte = b' ';
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_breaks_in_stored_json_become_spaces() {
        let mut buffer = Vec::new();
        super::splice(&mut buffer, "{\n  \"a\": 1\r\n}");
        assert_eq!(buffer, b"{   \"a\": 1  }");
    }
}
