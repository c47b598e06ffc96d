//! Verification: walk the seals in chain order beside the events in commit order, and
//! report every event edited, deleted, reordered or inserted since it was sealed.
//!
//! Two streams, read at once on two connections that share one read-only snapshot
//! (`pg_export_snapshot`), so the sealer and the platform may keep writing: the seals
//! by `chain_index`, the events by `(transaction_id, global_position)`. The sealer
//! sealed in commit order, so in an untouched store the two streams pair up one to one,
//! and the client merges them like a merge join, by commit position. Each stream is an
//! index scan in the order of its table, the same work as a raw `COPY … ORDER BY`, and
//! the two run on two server processes (a server-side join measured 2 to 3 times the
//! cost of the raw read). Whatever does not pair up in place (the traces of tampering)
//! is kept aside by global position and paired or reported at the end.
//!
//! The checks themselves are in `verify_walk`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use crate::anchor::Anchor;
use crate::canonical::hash32;
use crate::error::{AuditError, Result};
use crate::key::AuditKey;
use crate::position::CommitPosition;
use crate::report::{Problem, ProblemKind, Problems, VerifyReport};
use crate::transaction::snapshot;
use crate::verify_walk::{OwnedEvent, SealCheck, Walk, event_view, seal_position};

/// How verification judges unsealed events.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// An event ahead of the sealer and older than this is reported
    /// ([`ProblemKind::EventUnsealedTooLong`]); younger ones are only counted as pending.
    pub pending_grace: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            pending_grace: Duration::from_secs(600),
        }
    }
}

const SEALS: &str = "
SELECT chain_index, transaction_id::text AS txid, global_position, aggregate_type, aggregate_id,
       sequence, event_id, aggregate_hash, chain_hash
  FROM audit.event_seals
 ORDER BY chain_index";

const EVENTS: &str = "
SELECT transaction_id::text AS txid, global_position, aggregate_type, aggregate_id, sequence,
       event_id, event_type, event_version, recorded_at, payload::text, metadata::text
  FROM events
 ORDER BY transaction_id, global_position";

/// Verifies the whole store with the default options.
pub async fn verify(pool: &PgPool, key: &AuditKey) -> Result<VerifyReport> {
    verify_with(pool, key, &VerifyOptions::default()).await
}

/// Verifies the whole store. `pool` needs SELECT on `events` and the `audit` schema
/// (`lae_auditor`, `lae_sealer` or the owner), and two connections.
pub async fn verify_with(
    pool: &PgPool,
    key: &AuditKey,
    options: &VerifyOptions,
) -> Result<VerifyReport> {
    verify_against(pool, key, options, None).await
}

/// [`verify_with`], and the chain compared with `anchor`, the latest checkpoint
/// published outside the database (see [`crate::anchor`]): a chain that no longer
/// reaches it was truncated ([`ProblemKind::ChainTruncated`]), one that holds another
/// hash there was rewritten ([`ProblemKind::AnchorMismatch`]).
pub async fn verify_against(
    pool: &PgPool,
    key: &AuditKey,
    options: &VerifyOptions,
    anchor: Option<&Anchor>,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let mut seals_tx = snapshot(pool).await?;
    let mut events_tx = same_snapshot(pool, &mut seals_tx).await?;

    let mut notes = Vec::new();
    let mut problems = Problems::default();
    if !key.is_keyed() {
        notes.push(
            "the chain is unkeyed (plain SHA-256): it shows accidental and clumsy edits, but \
             anyone who can write the database can recompute it; set LAE_AUDIT_KEY"
                .to_owned(),
        );
    }
    let check_hashes = check_key(&mut seals_tx, key, &mut notes, &mut problems).await?;
    let checkpoints = load_checkpoints(&mut seals_tx).await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *seals_tx)
        .await?;
    let grace = chrono::Duration::from_std(options.pending_grace).unwrap_or(chrono::Duration::MAX);

    let anchored = anchor.map(|a| a.events_count);
    let checkpoint_at_anchor = anchored.and_then(|count| checkpoints.get(&count).copied());
    let mut walk = Walk::new(key, check_hashes, checkpoints, now, grace);
    walk.watch = anchored;
    merge(&mut seals_tx, &mut events_tx, &mut walk, &mut problems).await?;
    walk.finish(&mut problems);
    if let Some(anchor) = anchor {
        check_anchor(anchor, &walk, checkpoint_at_anchor, &mut problems);
    }
    events_tx.commit().await?;
    seals_tx.commit().await?;

    let (problems, problems_not_listed) = problems.into_sorted();
    let report = VerifyReport {
        keyed: key.is_keyed(),
        key_id: key.key_id().to_owned(),
        notes,
        events: walk.events,
        seals: walk.seals,
        pending: walk.pending,
        checkpoints: walk.checkpoints_checked,
        horizon_chain_index: walk.last_index,
        horizon_global_position: walk.horizon.map(|h| h.global_position),
        anchor: anchor.cloned(),
        problems,
        problems_not_listed,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    tracing::info!(
        events = report.events,
        seals = report.seals,
        pending = report.pending,
        problems = report.problems.len() as u64 + report.problems_not_listed,
        elapsed_ms = report.elapsed_ms,
        "audit verification done"
    );
    Ok(report)
}

/// A second read-only transaction that sees exactly what `first` sees.
async fn same_snapshot(
    pool: &PgPool,
    first: &mut Transaction<'static, Postgres>,
) -> Result<Transaction<'static, Postgres>> {
    let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut **first)
        .await?;
    // SET takes no parameters; a snapshot id is hex digits and dashes, checked here so
    // that nothing else can reach the statement.
    if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(AuditError::Task(format!("unexpected snapshot id {id:?}")));
    }
    let mut second = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *second)
        .await?;
    sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{id}'"))
        .execute(&mut *second)
        .await?;
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut *second)
        .await?;
    Ok(second)
}

/// Merges the two streams by commit position (see the module docs).
async fn merge(
    seals_conn: &mut PgConnection,
    events_conn: &mut PgConnection,
    walk: &mut Walk<'_>,
    problems: &mut Problems,
) -> Result<()> {
    let mut seals = sqlx::query(SEALS).fetch(seals_conn);
    let mut events = sqlx::query(EVENTS).fetch(events_conn);
    let mut seal_head: Option<PgRow> = seals.try_next().await?;
    let mut event_head: Option<PgRow> = events.try_next().await?;
    // Seals and events that did not pair up in place, by global position.
    let mut lone_seals: HashMap<i64, SealCheck<'static>> = HashMap::new();
    let mut lone_events: HashMap<i64, OwnedEvent> = HashMap::new();
    loop {
        let take_seal = match (&seal_head, &event_head) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(seal), Some(event)) => {
                let (s, e) = (seal_position(seal)?, event_position(event)?);
                if s == e {
                    let check = walk.seal(seal, problems)?;
                    walk.pair(&check, &event_view(event)?, problems);
                    seal_head = seals.try_next().await?;
                    event_head = events.try_next().await?;
                    continue;
                }
                s < e
            }
        };
        if take_seal {
            if let Some(seal) = seal_head.take() {
                let check = walk.seal(&seal, problems)?;
                match lone_events.remove(&check.global_position) {
                    Some(event) => walk.pair(&check, &event.view(), problems),
                    None => {
                        lone_seals.insert(check.global_position, check.into_owned());
                    }
                }
            }
            seal_head = seals.try_next().await?;
        } else {
            if let Some(event) = event_head.take() {
                let view = event_view(&event)?;
                if let Some(check) = lone_seals.remove(&view.position.global_position) {
                    walk.pair(&check, &view, problems);
                } else if seal_head.is_some() {
                    // Seals are still coming: one of them may name this event.
                    lone_events.insert(view.position.global_position, view.to_owned());
                } else {
                    walk.unsealed(&view, true, problems);
                }
            }
            event_head = events.try_next().await?;
        }
    }
    for check in lone_seals.values() {
        walk.deleted(check, problems);
    }
    for event in lone_events.values() {
        walk.unsealed(&event.view(), false, problems);
    }
    Ok(())
}

fn event_position(row: &PgRow) -> Result<CommitPosition> {
    CommitPosition::parse(row.try_get(0)?, row.try_get(1)?)
}

/// Whether hashes can be checked with `key`: not when the chain was begun with another.
async fn check_key(
    conn: &mut PgConnection,
    key: &AuditKey,
    notes: &mut Vec<String>,
    problems: &mut Problems,
) -> Result<bool> {
    let keys: Vec<(String, i64)> = sqlx::query_as(
        "SELECT key_id, from_chain_index FROM audit.seal_keys ORDER BY from_chain_index",
    )
    .fetch_all(conn)
    .await?;
    let foreign: Vec<&(String, i64)> = keys.iter().filter(|(id, _)| id != key.key_id()).collect();
    if foreign.is_empty() {
        return Ok(true);
    }
    for (id, from) in foreign {
        problems.push(
            Problem::new(
                ProblemKind::WrongKey,
                format!(
                    "seals from chain index {from} were made with key {id}, not with the given key {}; hashes were not checked",
                    key.key_id()
                ),
            )
            .chain(*from),
        );
    }
    notes.push("hashes were not checked: the chain was sealed with another key".to_owned());
    Ok(false)
}

/// Checkpoints by the number of seals they cover.
async fn load_checkpoints(conn: &mut PgConnection) -> Result<HashMap<i64, (i64, [u8; 32])>> {
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT events_count, upto_global_position, chain_hash FROM audit.seal_checkpoints",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(count, position, hash)| (count, (position, hash32(&hash))))
        .collect())
}

/// Compares the chain, as walked, with the latest anchor.
fn check_anchor(
    anchor: &Anchor,
    walk: &Walk<'_>,
    checkpoint: Option<(i64, [u8; 32])>,
    problems: &mut Problems,
) {
    let count = anchor.events_count;
    let position = anchor.upto_global_position;
    let located = |kind, detail: String| Problem::new(kind, detail).position(position).chain(count);
    let last = walk.last_index.unwrap_or(0);
    let Some((sealed_position, sealed_hash)) = walk.watched else {
        if last < count {
            problems.push(located(
                ProblemKind::ChainTruncated,
                format!(
                    "the chain ends at seal {last}, but the latest anchor (published outside the database \
                     at {}) names checkpoint {count} up to global position {position}: at least {} sealed \
                     events were removed from the end, with their seals and checkpoints (seals {} to {count} \
                     are missing)",
                    anchor.checkpointed_at,
                    count - last,
                    last + 1
                ),
            ));
        } else {
            problems.push(located(
                ProblemKind::AnchorMismatch,
                format!("the seal {count} the latest anchor names is missing from the chain"),
            ));
        }
        return;
    };
    let hash_matches = hex::decode(&anchor.chain_hash)
        .ok()
        .is_some_and(|h| h.as_slice() == sealed_hash.as_slice());
    if sealed_position != position || !hash_matches {
        problems.push(located(
            ProblemKind::AnchorMismatch,
            format!(
                "seal {count} (global position {sealed_position}) does not match the latest anchor \
                 (global position {position}, chain hash {}): the chain was rewritten there or before",
                anchor.chain_hash
            ),
        ));
    } else if checkpoint.is_none() {
        problems.push(located(
            ProblemKind::CheckpointMismatch,
            format!("checkpoint {count}, anchored outside the database, was removed from audit.seal_checkpoints"),
        ));
    }
}
