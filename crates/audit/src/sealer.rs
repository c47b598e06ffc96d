//! Sealing: one batch of committed events, in commit order, in one transaction.
//!
//! The sealer reads only events of transactions below
//! `pg_snapshot_xmin(pg_current_snapshot())`, ordered by `(transaction_id,
//! global_position)` and resumed after the last seal's position, like the relay: a
//! transaction that commits late can never fall behind what was already sealed. For
//! each event it appends a seal holding the per-aggregate hash and the global chain
//! hash (see [`crate::canonical`]), every `checkpoint_every` seals a checkpoint, and for
//! events that name a customer a row of the subject index the timeline reads.
//!
//! Batches are serialized by a transaction-level advisory lock, so several processes
//! may run a sealer: one seals while the others wait, and each reads the chain's tail
//! only once it holds the lock.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::anchor::AnchorConfig;
use crate::canonical::{self, CanonicalEvent, GENESIS, hash32};
use crate::classification::subject_of;
use crate::error::{AuditError, Result};
use crate::key::AuditKey;
use crate::position::CommitPosition;

/// Events sealed per transaction unless configured otherwise.
pub const DEFAULT_BATCH: usize = 1_000;
/// A checkpoint every this many seals unless configured otherwise.
pub const DEFAULT_CHECKPOINT_EVERY: i64 = 10_000;

/// The advisory lock serializing sealers: a class (`"LAEA"`) and a key, in the
/// two-key form so as not to collide with one-key locks taken elsewhere.
const LOCK: (i32, i32) = (0x4C41_4541, 1);

/// How the sealer works.
#[derive(Debug, Clone)]
pub struct SealerConfig {
    /// Events sealed per transaction.
    pub batch: usize,
    /// A checkpoint every this many seals.
    pub checkpoint_every: i64,
    /// How often the background sealer polls when no notification wakes it.
    pub poll_interval: Duration,
    /// Where the background sealer publishes each checkpoint once it commits (see
    /// [`crate::anchor`]); `None`: nowhere.
    pub anchors: Option<AnchorConfig>,
}

impl SealerConfig {
    /// The defaults, with `LAE_AUDIT_CHECKPOINT_EVERY` (a checkpoint every this many
    /// seals) and anchors published as [`AnchorConfig::from_env`] says, unless
    /// `LAE_AUDIT_ANCHORS=off`. A value that is not a positive number is an error
    /// naming the variable.
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Ok(every) = std::env::var("LAE_AUDIT_CHECKPOINT_EVERY") {
            config.checkpoint_every = every
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    AuditError::Anchor(format!(
                        "LAE_AUDIT_CHECKPOINT_EVERY must be a positive number, not {every:?}"
                    ))
                })?;
        }
        let off = std::env::var("LAE_AUDIT_ANCHORS").is_ok_and(|v| v.trim() == "off");
        config.anchors = (!off).then(AnchorConfig::from_env);
        Ok(config)
    }
}

impl Default for SealerConfig {
    fn default() -> Self {
        Self {
            batch: DEFAULT_BATCH,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            poll_interval: Duration::from_secs(1),
            anchors: None,
        }
    }
}

/// The last seal of the chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    pub chain_index: i64,
    pub position: CommitPosition,
    pub chain_hash: [u8; 32],
}

/// An event read for sealing.
struct ToSeal {
    global_position: i64,
    transaction_id: u64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    event_id: Uuid,
    recorded_at: DateTime<Utc>,
    payload: String,
    metadata: String,
}

const READ_BATCH: &str = "
SELECT global_position, transaction_id::text AS txid, aggregate_type, aggregate_id, sequence,
       event_type, event_version, event_id, recorded_at, payload::text AS payload_text,
       metadata::text AS metadata_text
  FROM events
 WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY transaction_id, global_position
 LIMIT $3";

pub(crate) const TAIL: &str = "
SELECT chain_index, transaction_id::text AS txid, global_position, chain_hash
  FROM audit.event_seals
 ORDER BY chain_index DESC
 LIMIT 1";

/// The last seal of each aggregate of the batch, found through the unique
/// `(aggregate_type, aggregate_id, sequence)` index, backwards, one row each.
const PREVIOUS: &str = "
SELECT a.t, a.i, s.aggregate_hash
  FROM unnest($1::text[], $2::text[]) AS a(t, i)
  CROSS JOIN LATERAL (
        SELECT aggregate_hash FROM audit.event_seals
         WHERE aggregate_type = a.t AND aggregate_id = a.i
         ORDER BY sequence DESC
         LIMIT 1) AS s";

const INSERT_SEALS: &str = "
INSERT INTO audit.event_seals (global_position, chain_index, transaction_id, aggregate_type,
       aggregate_id, sequence, event_id, aggregate_hash, chain_hash)
SELECT u.gp, u.ci, u.txid::xid8, u.t, u.i, u.s, u.e, u.ah, u.ch
  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[],
              $7::uuid[], $8::bytea[], $9::bytea[])
    AS u(gp, ci, txid, t, i, s, e, ah, ch)";

const INSERT_CHECKPOINTS: &str = "
INSERT INTO audit.seal_checkpoints (upto_global_position, events_count, chain_hash, key_id)
SELECT u.gp, u.n, u.h, $4 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS u(gp, n, h)";

pub(crate) const INSERT_SUBJECTS: &str = "
INSERT INTO audit.subject_aggregates (customer_id, aggregate_type, aggregate_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT DO NOTHING";

/// Seals up to `batch` committed events; returns how many were sealed (0: nothing
/// readable is left). Checkpoints every [`DEFAULT_CHECKPOINT_EVERY`] seals.
pub async fn seal_pending(pool: &PgPool, key: &AuditKey, batch: usize) -> Result<usize> {
    let config = SealerConfig {
        batch,
        ..SealerConfig::default()
    };
    seal_pending_with(pool, key, &config).await
}

/// [`seal_pending`] with every setting given.
pub async fn seal_pending_with(
    pool: &PgPool,
    key: &AuditKey,
    config: &SealerConfig,
) -> Result<usize> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(LOCK.0)
        .bind(LOCK.1)
        .execute(&mut *tx)
        .await?;
    let tail = load_tail(&mut tx).await?;
    let next_index = tail.map_or(1, |t| t.chain_index + 1);
    check_key(&mut tx, key, next_index).await?;

    let after = tail.map_or(CommitPosition::ORIGIN, |t| t.position);
    let rows = sqlx::query(READ_BATCH)
        .bind(after.xid_text())
        .bind(after.global_position)
        .bind(i64::try_from(config.batch.max(1)).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let events = rows.iter().map(to_seal).collect::<Result<Vec<_>>>()?;
    let mut previous = previous_hashes(&mut tx, &events).await?;

    let n = events.len();
    let mut seals = SealColumns::with_capacity(n);
    let mut checkpoints = (Vec::new(), Vec::new(), Vec::new());
    let mut subjects: HashSet<(String, &str, &str)> = HashSet::new();
    let mut chain = tail.map_or(GENESIS, |t| t.chain_hash);
    for (offset, event) in events.iter().enumerate() {
        let chain_index = next_index + i64::try_from(offset).unwrap_or(i64::MAX);
        let slot = previous
            .entry((event.aggregate_type.clone(), event.aggregate_id.clone()))
            .or_insert(GENESIS);
        let aggregate_hash = canonical::aggregate_hash(key, slot, &canonical_of(event));
        *slot = aggregate_hash;
        chain = canonical::chain_hash(key, &chain, &aggregate_hash);
        seals.push(event, chain_index, aggregate_hash, chain);
        if chain_index % config.checkpoint_every.max(1) == 0 {
            checkpoints.0.push(event.global_position);
            checkpoints.1.push(chain_index);
            checkpoints.2.push(chain.to_vec());
        }
        if let Some(customer) = subject_of(&event.aggregate_type, &event.event_type, &event.payload)
        {
            subjects.insert((customer, &event.aggregate_type, &event.aggregate_id));
        }
    }

    seals.insert(&mut tx).await?;
    if !checkpoints.0.is_empty() {
        sqlx::query(INSERT_CHECKPOINTS)
            .bind(&checkpoints.0)
            .bind(&checkpoints.1)
            .bind(&checkpoints.2)
            .bind(key.key_id())
            .execute(&mut *tx)
            .await?;
    }
    insert_subjects(&mut tx, subjects).await?;
    tx.commit().await?;
    tracing::debug!(
        sealed = n,
        upto_chain_index = next_index + i64::try_from(n).unwrap_or(0) - 1,
        "sealed events"
    );
    Ok(n)
}

/// Writes a checkpoint at the chain's tail unless there is one already; returns the
/// number of seals it covers (`None`: nothing is sealed yet). `lae audit seal` calls it
/// after sealing, so that the anchor published next reaches the last seal, not only
/// the last multiple of `checkpoint_every`.
pub async fn checkpoint_tail(pool: &PgPool, key: &AuditKey) -> Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(LOCK.0)
        .bind(LOCK.1)
        .execute(&mut *tx)
        .await?;
    let Some(tail) = load_tail(&mut tx).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    check_key(&mut tx, key, tail.chain_index + 1).await?;
    sqlx::query(
        "INSERT INTO audit.seal_checkpoints (upto_global_position, events_count, chain_hash, key_id)
         SELECT $1, $2, $3, $4
          WHERE NOT EXISTS (SELECT 1 FROM audit.seal_checkpoints WHERE events_count = $2)",
    )
    .bind(tail.position.global_position)
    .bind(tail.chain_index)
    .bind(tail.chain_hash.to_vec())
    .bind(key.key_id())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(tail.chain_index))
}

pub(crate) async fn insert_subjects(
    conn: &mut PgConnection,
    subjects: HashSet<(String, &str, &str)>,
) -> Result<()> {
    if subjects.is_empty() {
        return Ok(());
    }
    let mut customers = Vec::with_capacity(subjects.len());
    let mut types = Vec::with_capacity(subjects.len());
    let mut ids = Vec::with_capacity(subjects.len());
    for (customer, aggregate_type, aggregate_id) in subjects {
        customers.push(customer);
        types.push(aggregate_type);
        ids.push(aggregate_id);
    }
    sqlx::query(INSERT_SUBJECTS)
        .bind(&customers)
        .bind(&types)
        .bind(&ids)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn load_tail(conn: &mut PgConnection) -> Result<Option<Tail>> {
    let row = sqlx::query(TAIL).fetch_optional(conn).await?;
    row.map(|row| {
        let txid: String = row.try_get("txid")?;
        let hash: Vec<u8> = row.try_get("chain_hash")?;
        Ok(Tail {
            chain_index: row.try_get("chain_index")?,
            position: CommitPosition::parse(&txid, row.try_get("global_position")?)?,
            chain_hash: hash32(&hash),
        })
    })
    .transpose()
}

/// Records the key of a new chain, or refuses a key other than the chain's.
async fn check_key(conn: &mut PgConnection, key: &AuditKey, next_index: i64) -> Result<()> {
    let sealed: Option<String> = sqlx::query_scalar(
        "SELECT key_id FROM audit.seal_keys ORDER BY from_chain_index DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    match sealed {
        Some(sealed) if sealed == key.key_id() => Ok(()),
        Some(sealed) => Err(AuditError::KeyMismatch {
            sealed,
            given: key.key_id().to_owned(),
        }),
        None => {
            sqlx::query(
                "INSERT INTO audit.seal_keys (key_id, keyed, from_chain_index) VALUES ($1, $2, $3)",
            )
            .bind(key.key_id())
            .bind(key.is_keyed())
            .bind(next_index)
            .execute(conn)
            .await?;
            if !key.is_keyed() {
                tracing::warn!("starting an unkeyed audit chain (plain SHA-256)");
            }
            Ok(())
        }
    }
}

async fn previous_hashes(
    conn: &mut PgConnection,
    events: &[ToSeal],
) -> Result<HashMap<(String, String), [u8; 32]>> {
    let distinct: HashSet<(&str, &str)> = events
        .iter()
        // An aggregate's first event has no predecessor to look up.
        .filter(|e| e.sequence > 1)
        .map(|e| (e.aggregate_type.as_str(), e.aggregate_id.as_str()))
        .collect();
    let mut out = HashMap::with_capacity(distinct.len());
    if distinct.is_empty() {
        return Ok(out);
    }
    let (types, ids): (Vec<&str>, Vec<&str>) = distinct.into_iter().unzip();
    let rows = sqlx::query(PREVIOUS)
        .bind(&types)
        .bind(&ids)
        .fetch_all(conn)
        .await?;
    for row in rows {
        let hash: Vec<u8> = row.try_get(2)?;
        out.insert((row.try_get(0)?, row.try_get(1)?), hash32(&hash));
    }
    Ok(out)
}

fn to_seal(row: &PgRow) -> Result<ToSeal> {
    let txid: String = row.try_get("txid")?;
    let global_position: i64 = row.try_get("global_position")?;
    Ok(ToSeal {
        global_position,
        transaction_id: CommitPosition::parse(&txid, global_position)?.transaction_id,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        event_id: row.try_get("event_id")?,
        recorded_at: row.try_get("recorded_at")?,
        payload: row.try_get("payload_text")?,
        metadata: row.try_get("metadata_text")?,
    })
}

fn canonical_of(event: &ToSeal) -> CanonicalEvent<'_> {
    CanonicalEvent {
        aggregate_type: &event.aggregate_type,
        aggregate_id: &event.aggregate_id,
        sequence: event.sequence,
        event_type: &event.event_type,
        event_version: &event.event_version,
        event_id: event.event_id,
        recorded_at_micros: event.recorded_at.timestamp_micros(),
        payload: &event.payload,
        metadata: &event.metadata,
    }
}

/// The seals of a batch, as the arrays of one `INSERT ... SELECT FROM unnest`.
struct SealColumns<'a> {
    positions: Vec<i64>,
    indexes: Vec<i64>,
    transactions: Vec<String>,
    types: Vec<&'a str>,
    ids: Vec<&'a str>,
    sequences: Vec<i64>,
    event_ids: Vec<Uuid>,
    aggregate_hashes: Vec<Vec<u8>>,
    chain_hashes: Vec<Vec<u8>>,
}

impl<'a> SealColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            positions: Vec::with_capacity(n),
            indexes: Vec::with_capacity(n),
            transactions: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            sequences: Vec::with_capacity(n),
            event_ids: Vec::with_capacity(n),
            aggregate_hashes: Vec::with_capacity(n),
            chain_hashes: Vec::with_capacity(n),
        }
    }

    fn push(
        &mut self,
        event: &'a ToSeal,
        chain_index: i64,
        aggregate_hash: [u8; 32],
        chain_hash: [u8; 32],
    ) {
        self.positions.push(event.global_position);
        self.indexes.push(chain_index);
        self.transactions.push(event.transaction_id.to_string());
        self.types.push(&event.aggregate_type);
        self.ids.push(&event.aggregate_id);
        self.sequences.push(event.sequence);
        self.event_ids.push(event.event_id);
        self.aggregate_hashes.push(aggregate_hash.to_vec());
        self.chain_hashes.push(chain_hash.to_vec());
    }

    async fn insert(&self, conn: &mut PgConnection) -> Result<()> {
        sqlx::query(INSERT_SEALS)
            .bind(&self.positions)
            .bind(&self.indexes)
            .bind(&self.transactions)
            .bind(&self.types)
            .bind(&self.ids)
            .bind(&self.sequences)
            .bind(&self.event_ids)
            .bind(&self.aggregate_hashes)
            .bind(&self.chain_hashes)
            .execute(conn)
            .await?;
        Ok(())
    }
}
