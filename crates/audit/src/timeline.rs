//! A customer's timeline: every event about them, across aggregates, newest first.
//!
//! The aggregates are the customer itself and every offer, contract, invoice and ticket
//! whose events name the customer in their subject field
//! (`lae_domain::Classified::subject_field`). The sealer records those links in
//! `audit.subject_aggregates` as it seals; events it has not reached yet are found by
//! reading the (short) part of the store ahead of it. All of this is read in one
//! snapshot.
//!
//! Each entry says who (user, department), when (recorded and occurred), from where
//! (source), why (correlation and causation ids), and which fields changed (see
//! [`crate::diff`] for the rule). A customer's history is small (tens to thousands of
//! events), so it is read whole, every aggregate replayed from its first event, and
//! the page cut from the result: keyset pagination on `(recorded_at, global_position)`
//! keeps pages stable while new events arrive.
//!
//! Auditors see personal values here: they are the auditors. The store keeps personal
//! fields sealed; they are opened with the master keys the caller passes and the data
//! keys read in the same snapshot as the events, in one batch per page (see
//! `crate::personal`). Without master keys they read `"[withheld]"`; the fields of an
//! erased customer (keys destroyed) read `"[erased]"`, and the entry says it is
//! `redacted`. Health values only with `include_health`; otherwise they read
//! `"[masqué]"`. The page says which kinds of sensitive data it revealed (a field
//! reading `"[erased]"` reveals nothing), so that the caller records the read in the
//! access log.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use futures::TryStreamExt;
use lae_domain::DataCategory;
use lae_domain::customer::Customer;
use lae_store::crypto::MasterKeys;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::access_log::AccessKind;
use crate::classification::subject_of;
use crate::diff::{FieldChange, KnownValues};
use crate::error::Result;
use crate::personal::{EventRef, Opener};
use crate::position::CommitPosition;
use crate::transaction::snapshot;

/// Entries per page unless asked otherwise, and the most a page may hold.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// What to show.
#[derive(Debug, Clone)]
pub struct TimelineQuery {
    pub customer_id: String,
    /// Only entries strictly older than this (the `next` of the previous page).
    pub before: Option<TimelineCursor>,
    pub limit: usize,
    /// Whether the caller may see health values.
    pub include_health: bool,
}

impl TimelineQuery {
    /// The first page for a customer, health masked.
    pub fn first_page(customer_id: impl Into<String>) -> Self {
        Self {
            customer_id: customer_id.into(),
            before: None,
            limit: DEFAULT_LIMIT,
            include_health: false,
        }
    }
}

/// A place in the timeline; as text (`<recorded_at µs>.<global_position>`) it goes in
/// URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimelineCursor {
    pub recorded_at: DateTime<Utc>,
    pub global_position: i64,
}

impl fmt::Display for TimelineCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            self.recorded_at.timestamp_micros(),
            self.global_position
        )
    }
}

impl FromStr for TimelineCursor {
    type Err = crate::AuditError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || crate::AuditError::BackupFormat(format!("invalid timeline cursor {text:?}"));
        let (micros, position) = text.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            recorded_at: DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?)
                .ok_or_else(bad)?,
            global_position: position.parse().map_err(|_| bad())?,
        })
    }
}

/// Who issued the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub user: Option<String>,
    pub department: Option<String>,
}

/// One event of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub global_position: i64,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// When the command was accepted at the edge (from the metadata).
    pub occurred_at: Option<String>,
    pub actor: Actor,
    pub source: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub changes: Vec<FieldChange>,
    /// Some personal field of the event could not be read: it shows `"[erased]"`
    /// (the customer's data was erased), `"[withheld]"` (no master key) or
    /// `"[unreadable]"` (altered ciphertext: see [`crate::verify()`]).
    pub redacted: bool,
}

impl TimelineEntry {
    fn cursor(&self) -> TimelineCursor {
        TimelineCursor {
            recorded_at: self.recorded_at,
            global_position: self.global_position,
        }
    }
}

/// A page of the timeline, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePage {
    pub customer_id: String,
    pub entries: Vec<TimelineEntry>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next: Option<TimelineCursor>,
    /// The sensitive kinds of data this page shows unmasked: the caller records each
    /// in the access log ([`crate::log_access`]).
    pub revealed: Vec<AccessKind>,
}

const SUBJECT_AGGREGATES: &str =
    "SELECT aggregate_type, aggregate_id FROM audit.subject_aggregates WHERE customer_id = $1";

const UNSEALED: &str = "
SELECT aggregate_type, aggregate_id, event_type, payload::text
  FROM events
 WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
   AND aggregate_type <> $3";

const EVENTS: &str = "
SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version, e.event_id,
       e.global_position, e.recorded_at, e.payload::text, e.metadata::text
  FROM events e
  JOIN unnest($1::text[], $2::text[]) AS a(t, i) ON e.aggregate_type = a.t AND e.aggregate_id = a.i
 ORDER BY e.aggregate_type, e.aggregate_id, e.sequence";

/// A page of a customer's timeline. `pool` needs SELECT on `events`, the `audit`
/// schema and the `keys` schema (`lae_auditor`). `masters` open the sealed personal
/// fields; without them those fields read `"[withheld]"`.
pub async fn timeline(
    pool: &PgPool,
    query: &TimelineQuery,
    masters: Option<&Arc<MasterKeys>>,
) -> Result<TimelinePage> {
    let mut tx = snapshot(pool).await?;
    let aggregates = aggregates_of(&mut tx, &query.customer_id).await?;
    let mut entries = entries_of(&mut tx, &aggregates, masters).await?;
    tx.commit().await?;

    entries.sort_by_key(|e| std::cmp::Reverse(e.cursor()));
    let limit = query.limit.clamp(1, MAX_LIMIT);
    let mut page: Vec<TimelineEntry> = entries
        .into_iter()
        .filter(|e| query.before.is_none_or(|before| e.cursor() < before))
        .take(limit + 1)
        .collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(TimelineEntry::cursor)
    } else {
        None
    };

    let mut revealed = HashSet::new();
    for change in page.iter_mut().flat_map(|e| e.changes.iter_mut()) {
        match change.category {
            Some(DataCategory::Health) if !query.include_health => change.mask_health(),
            Some(DataCategory::Health) if change.shows_a_value() => {
                revealed.insert(AccessKind::Health);
            }
            Some(DataCategory::Bank) if change.field.contains("iban") && change.shows_a_value() => {
                revealed.insert(AccessKind::Iban);
            }
            _ => {}
        }
    }
    let mut revealed: Vec<AccessKind> = revealed.into_iter().collect();
    revealed.sort_by_key(|k| k.as_str());
    Ok(TimelinePage {
        customer_id: query.customer_id.clone(),
        entries: page,
        next,
        revealed,
    })
}

/// The customer and every aggregate that names them.
async fn aggregates_of(
    conn: &mut PgConnection,
    customer_id: &str,
) -> Result<Vec<(String, String)>> {
    let mut found: HashSet<(String, String)> = HashSet::new();
    found.insert((Customer::TYPE.to_owned(), customer_id.to_owned()));
    let indexed: Vec<(String, String)> = sqlx::query_as(SUBJECT_AGGREGATES)
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
    found.extend(indexed);

    let horizon = crate::sealer::load_tail(conn)
        .await?
        .map_or(CommitPosition::ORIGIN, |t| t.position);
    let mut rows = sqlx::query(UNSEALED)
        .bind(horizon.xid_text())
        .bind(horizon.global_position)
        .bind(Customer::TYPE)
        .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        let (aggregate_type, aggregate_id, event_type, payload): (&str, &str, &str, &str) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        if subject_of(aggregate_type, event_type, payload).as_deref() == Some(customer_id) {
            found.insert((aggregate_type.to_owned(), aggregate_id.to_owned()));
        }
    }
    Ok(found.into_iter().collect())
}

/// One stored event, its payload parsed (and, once opened, clear).
struct Stored {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    event_id: Uuid,
    global_position: i64,
    recorded_at: DateTime<Utc>,
    payload: Value,
    metadata: String,
}

/// Every event of `aggregates` as a timeline entry, with its changes. The keys of the
/// whole history are loaded in one batch: the changes of an event depend on every
/// value before it.
async fn entries_of(
    conn: &mut PgConnection,
    aggregates: &[(String, String)],
    masters: Option<&Arc<MasterKeys>>,
) -> Result<Vec<TimelineEntry>> {
    let (types, ids): (Vec<&str>, Vec<&str>) = aggregates
        .iter()
        .map(|(t, i)| (t.as_str(), i.as_str()))
        .unzip();
    let mut stored = Vec::new();
    let mut rows = sqlx::query(EVENTS)
        .bind(&types)
        .bind(&ids)
        .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        stored.push(Stored {
            aggregate_type: row.try_get(0)?,
            aggregate_id: row.try_get(1)?,
            sequence: row.try_get(2)?,
            event_type: row.try_get(3)?,
            event_version: row.try_get(4)?,
            event_id: row.try_get(5)?,
            global_position: row.try_get(6)?,
            recorded_at: row.try_get(7)?,
            payload: serde_json::from_str(row.try_get(8)?)?,
            metadata: row.try_get(9)?,
        });
    }
    drop(rows);
    let opener = Opener::load(
        masters,
        conn,
        stored.iter().map(|e| EventRef {
            aggregate_type: &e.aggregate_type,
            aggregate_id: &e.aggregate_id,
            event_type: &e.event_type,
            payload: &e.payload,
        }),
    )
    .await?;

    let mut known: HashMap<(String, String), KnownValues> = HashMap::new();
    let mut entries = Vec::with_capacity(stored.len());
    for mut e in stored {
        let unread = opener.open(
            &e.aggregate_type,
            &e.aggregate_id,
            &e.event_type,
            &mut e.payload,
        )?;
        let metadata: HashMap<String, Value> =
            serde_json::from_str(&e.metadata).unwrap_or_default();
        let text = |key: &str| metadata.get(key).and_then(Value::as_str).map(str::to_owned);
        let changes = known
            .entry((e.aggregate_type.clone(), e.aggregate_id.clone()))
            .or_default()
            .apply(&e.aggregate_type, &e.event_type, e.payload);
        entries.push(TimelineEntry {
            event_id: e.event_id,
            sequence: e.sequence,
            event_version: e.event_version,
            global_position: e.global_position,
            recorded_at: e.recorded_at,
            occurred_at: text("occurred_at"),
            actor: Actor {
                user: text("user"),
                department: text("department"),
            },
            source: text("source"),
            correlation_id: text("correlation_id"),
            causation_id: text("causation_id"),
            changes,
            redacted: unread.is_redacted(),
            aggregate_type: e.aggregate_type,
            aggregate_id: e.aggregate_id,
            event_type: e.event_type,
        });
    }
    Ok(entries)
}
