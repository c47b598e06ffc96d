//! Writing a backup's rows into the store, in batches, as the owner.
//!
//! Events go in the file's order, which is the source's commit order, one statement
//! (and so one transaction) per batch; a batch ends early where the global position
//! goes down, so that the restored `(transaction_id, global_position)` order is the
//! source's (see [`crate::restore`]). Data keys go back into the table of their
//! category as they were, still wrapped by the master key, and the erased subjects
//! into `keys.erased`.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use chrono::{DateTime, Utc};
use lae_domain::DataCategory;
use sqlx::{PgPool, Row};

use crate::backup_format::{
    AccessLine, CheckpointLine, Counts, DataKeyLine, ErasedLine, EventLine, Header, SealKeyLine,
    SealLine,
};
use crate::classification::subject_of;
use crate::error::Result;
use crate::restore_file::{Parsed, format_error};

/// Rows per insert statement (and so per transaction, for events).
const BATCH: usize = 5_000;

fn at(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| format_error(format!("time out of range: {micros}")))
}

fn unhex(text: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|e| format_error(format!("hash {text:?}: {e}")))
}

const INSERT_EVENTS: &str = "
INSERT INTO events (global_position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                    event_id, recorded_at, payload, metadata)
OVERRIDING SYSTEM VALUE
SELECT u.gp, u.t, u.i, u.s, u.et, u.ev, u.e, u.r, u.p::json, u.m::json
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::uuid[],
              $8::timestamptz[], $9::text[], $10::text[]) AS u(gp, t, i, s, et, ev, e, r, p, m)";

/// Seals take the (new) transaction id of their event; a seal whose event is not in
/// the file (the source store was tampered with) takes the restore's own.
const INSERT_SEALS: &str = "
INSERT INTO audit.event_seals (global_position, chain_index, transaction_id, aggregate_type, aggregate_id,
                               sequence, event_id, aggregate_hash, chain_hash, sealed_at)
SELECT u.gp, u.ci, coalesce(e.transaction_id, pg_current_xact_id()), u.t, u.i, u.s, u.e, u.ah, u.ch, u.sa
  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::uuid[], $7::bytea[],
              $8::bytea[], $9::timestamptz[]) AS u(gp, ci, t, i, s, e, ah, ch, sa)
  LEFT JOIN events e ON e.global_position = u.gp";

const INSERT_CHECKPOINTS: &str = "
INSERT INTO audit.seal_checkpoints (upto_global_position, events_count, chain_hash, key_id, created_at)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::timestamptz[])";

const INSERT_SEAL_KEYS: &str = "
INSERT INTO audit.seal_keys (key_id, keyed, from_chain_index, created_at)
SELECT * FROM unnest($1::text[], $2::boolean[], $3::bigint[], $4::timestamptz[])";

const INSERT_ACCESS: &str = "
INSERT INTO audit.access_log (id, at, user_name, role, customer_id, what, purpose, request_id)
OVERRIDING SYSTEM VALUE
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[])";

const INSERT_ERASED: &str = "
INSERT INTO keys.erased (subject_id, erased_at, reason, erased_by)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[])";

/// The statement restoring the data keys of one category.
fn insert_data_keys(category: DataCategory) -> String {
    format!(
        "INSERT INTO keys.{} (subject_id, master_key_id, wrapped, created_at)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::timestamptz[])",
        category.as_str()
    )
}

const INSERT_DOCUMENT: &str = "
INSERT INTO contract_documents (sha256, media_type, stored_at, content) VALUES ($1, $2, $3, $4)";

/// Gathers rows and inserts them in batches.
pub(crate) struct Loader<'p> {
    pool: &'p PgPool,
    events: Vec<EventLine>,
    seals: Vec<SealLine>,
    checkpoints: Vec<CheckpointLine>,
    seal_keys: Vec<SealKeyLine>,
    access: Vec<AccessLine>,
    data_keys: Vec<DataKeyLine>,
    erased: Vec<ErasedLine>,
    pub restored: Counts,
}

impl<'p> Loader<'p> {
    pub fn new(pool: &'p PgPool) -> Self {
        Self {
            pool,
            events: Vec::with_capacity(BATCH),
            seals: Vec::with_capacity(BATCH),
            checkpoints: Vec::new(),
            seal_keys: Vec::new(),
            access: Vec::new(),
            data_keys: Vec::new(),
            erased: Vec::new(),
            restored: Counts::default(),
        }
    }

    pub async fn add(&mut self, row: Parsed) -> Result<()> {
        match row {
            Parsed::Event(event) => {
                // A position lower than the last one of the batch means a transaction
                // that committed after a later-inserted one: start a new transaction so
                // that commit order survives (see the module docs).
                let goes_back = self
                    .events
                    .last()
                    .is_some_and(|last| event.global_position < last.global_position);
                if goes_back || self.events.len() >= BATCH {
                    self.flush_events().await?;
                }
                self.events.push(event);
            }
            Parsed::Seal(seal) => {
                self.flush_events().await?;
                self.seals.push(seal);
                if self.seals.len() >= BATCH {
                    self.flush_seals().await?;
                }
            }
            Parsed::Checkpoint(line) => self.checkpoints.push(line),
            Parsed::SealKey(line) => self.seal_keys.push(line),
            Parsed::Access(line) => {
                self.access.push(line);
                if self.access.len() >= BATCH {
                    self.flush_access().await?;
                }
            }
            Parsed::Document(line) => {
                let content = base64::engine::general_purpose::STANDARD
                    .decode(&line.content)
                    .map_err(|e| format_error(format!("document {}: {e}", line.sha256)))?;
                sqlx::query(INSERT_DOCUMENT)
                    .bind(&line.sha256)
                    .bind(&line.media_type)
                    .bind(at(line.stored_at_us)?)
                    .bind(content)
                    .execute(self.pool)
                    .await?;
                self.restored.documents += 1;
            }
            Parsed::DataKey(line) => {
                self.data_keys.push(line);
                if self.data_keys.len() >= BATCH {
                    self.flush_data_keys().await?;
                }
            }
            Parsed::Erased(line) => {
                self.erased.push(line);
                if self.erased.len() >= BATCH {
                    self.flush_erased().await?;
                }
            }
        }
        Ok(())
    }

    pub async fn finish(&mut self) -> Result<()> {
        self.flush_events().await?;
        self.flush_seals().await?;
        self.flush_checkpoints().await?;
        self.flush_access().await?;
        self.flush_data_keys().await?;
        self.flush_erased().await?;
        Ok(())
    }

    /// One statement, so one transaction, per batch.
    async fn flush_events(&mut self) -> Result<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.events);
        let n = events.len();
        let mut positions = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        let mut sequences = Vec::with_capacity(n);
        let mut event_types = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut event_ids = Vec::with_capacity(n);
        let mut recorded = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadata = Vec::with_capacity(n);
        let mut subjects = HashSet::new();
        for e in &events {
            if let Some(customer) = subject_of(&e.aggregate_type, &e.event_type, &e.payload) {
                subjects.insert((customer, e.aggregate_type.as_str(), e.aggregate_id.as_str()));
            }
            positions.push(e.global_position);
            types.push(e.aggregate_type.as_str());
            ids.push(e.aggregate_id.as_str());
            sequences.push(e.sequence);
            event_types.push(e.event_type.as_str());
            versions.push(e.event_version.as_str());
            event_ids.push(e.event_id);
            recorded.push(at(e.recorded_at_us)?);
            payloads.push(e.payload.as_str());
            metadata.push(e.metadata.as_str());
        }
        sqlx::query(INSERT_EVENTS)
            .bind(&positions)
            .bind(&types)
            .bind(&ids)
            .bind(&sequences)
            .bind(&event_types)
            .bind(&versions)
            .bind(&event_ids)
            .bind(&recorded)
            .bind(&payloads)
            .bind(&metadata)
            .execute(self.pool)
            .await?;
        let mut conn = self.pool.acquire().await?;
        crate::sealer::insert_subjects(&mut conn, subjects).await?;
        self.restored.events += n as u64;
        self.events = Vec::with_capacity(BATCH);
        Ok(())
    }

    async fn flush_seals(&mut self) -> Result<()> {
        if self.seals.is_empty() {
            return Ok(());
        }
        let seals = std::mem::take(&mut self.seals);
        let n = seals.len();
        let mut positions = Vec::with_capacity(n);
        let mut indexes = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        let mut sequences = Vec::with_capacity(n);
        let mut event_ids = Vec::with_capacity(n);
        let mut aggregate_hashes = Vec::with_capacity(n);
        let mut chain_hashes = Vec::with_capacity(n);
        let mut sealed_at = Vec::with_capacity(n);
        for s in &seals {
            positions.push(s.global_position);
            indexes.push(s.chain_index);
            types.push(s.aggregate_type.as_str());
            ids.push(s.aggregate_id.as_str());
            sequences.push(s.sequence);
            event_ids.push(s.event_id);
            aggregate_hashes.push(unhex(&s.aggregate_hash)?);
            chain_hashes.push(unhex(&s.chain_hash)?);
            sealed_at.push(at(s.sealed_at_us)?);
        }
        sqlx::query(INSERT_SEALS)
            .bind(&positions)
            .bind(&indexes)
            .bind(&types)
            .bind(&ids)
            .bind(&sequences)
            .bind(&event_ids)
            .bind(&aggregate_hashes)
            .bind(&chain_hashes)
            .bind(&sealed_at)
            .execute(self.pool)
            .await?;
        self.restored.seals += n as u64;
        self.seals = Vec::with_capacity(BATCH);
        Ok(())
    }

    async fn flush_checkpoints(&mut self) -> Result<()> {
        let checkpoints = std::mem::take(&mut self.checkpoints);
        if !checkpoints.is_empty() {
            let mut hashes = Vec::with_capacity(checkpoints.len());
            let mut created = Vec::with_capacity(checkpoints.len());
            for c in &checkpoints {
                hashes.push(unhex(&c.chain_hash)?);
                created.push(at(c.created_at_us)?);
            }
            sqlx::query(INSERT_CHECKPOINTS)
                .bind(
                    checkpoints
                        .iter()
                        .map(|c| c.upto_global_position)
                        .collect::<Vec<_>>(),
                )
                .bind(
                    checkpoints
                        .iter()
                        .map(|c| c.events_count)
                        .collect::<Vec<_>>(),
                )
                .bind(&hashes)
                .bind(
                    checkpoints
                        .iter()
                        .map(|c| c.key_id.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(&created)
                .execute(self.pool)
                .await?;
            self.restored.checkpoints += checkpoints.len() as u64;
        }
        let keys = std::mem::take(&mut self.seal_keys);
        if !keys.is_empty() {
            let created = keys
                .iter()
                .map(|k| at(k.created_at_us))
                .collect::<Result<Vec<_>>>()?;
            sqlx::query(INSERT_SEAL_KEYS)
                .bind(keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>())
                .bind(keys.iter().map(|k| k.keyed).collect::<Vec<_>>())
                .bind(keys.iter().map(|k| k.from_chain_index).collect::<Vec<_>>())
                .bind(&created)
                .execute(self.pool)
                .await?;
            self.restored.seal_keys += keys.len() as u64;
        }
        Ok(())
    }

    async fn flush_access(&mut self) -> Result<()> {
        let lines = std::mem::take(&mut self.access);
        if lines.is_empty() {
            return Ok(());
        }
        let times = lines
            .iter()
            .map(|l| at(l.at_us))
            .collect::<Result<Vec<_>>>()?;
        sqlx::query(INSERT_ACCESS)
            .bind(lines.iter().map(|l| l.id).collect::<Vec<_>>())
            .bind(&times)
            .bind(
                lines
                    .iter()
                    .map(|l| l.user_name.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(lines.iter().map(|l| l.role.as_str()).collect::<Vec<_>>())
            .bind(
                lines
                    .iter()
                    .map(|l| l.customer_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(lines.iter().map(|l| l.what.as_str()).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.purpose.as_str()).collect::<Vec<_>>())
            .bind(
                lines
                    .iter()
                    .map(|l| l.request_id.as_deref())
                    .collect::<Vec<_>>(),
            )
            .execute(self.pool)
            .await?;
        self.restored.access_log += lines.len() as u64;
        Ok(())
    }

    /// One statement per category present in the batch.
    async fn flush_data_keys(&mut self) -> Result<()> {
        let lines = std::mem::take(&mut self.data_keys);
        let mut by_category: BTreeMap<DataCategory, Vec<&DataKeyLine>> = BTreeMap::new();
        for line in &lines {
            by_category.entry(line.category).or_default().push(line);
        }
        for (category, lines) in by_category {
            let mut wrapped = Vec::with_capacity(lines.len());
            let mut created = Vec::with_capacity(lines.len());
            for line in &lines {
                wrapped.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(&line.wrapped)
                        .map_err(|e| {
                            format_error(format!(
                                "{} key of {}: {e}",
                                category.as_str(),
                                line.subject_id
                            ))
                        })?,
                );
                created.push(at(line.created_at_us)?);
            }
            sqlx::query(&insert_data_keys(category))
                .bind(lines.iter().map(|l| l.subject_id).collect::<Vec<_>>())
                .bind(
                    lines
                        .iter()
                        .map(|l| l.master_key_id.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(&wrapped)
                .bind(&created)
                .execute(self.pool)
                .await?;
            self.restored.data_keys += lines.len() as u64;
        }
        Ok(())
    }

    async fn flush_erased(&mut self) -> Result<()> {
        let lines = std::mem::take(&mut self.erased);
        if lines.is_empty() {
            return Ok(());
        }
        let times = lines
            .iter()
            .map(|l| at(l.erased_at_us))
            .collect::<Result<Vec<_>>>()?;
        sqlx::query(INSERT_ERASED)
            .bind(lines.iter().map(|l| l.subject_id).collect::<Vec<_>>())
            .bind(&times)
            .bind(lines.iter().map(|l| l.reason.as_str()).collect::<Vec<_>>())
            .bind(
                lines
                    .iter()
                    .map(|l| l.erased_by.as_str())
                    .collect::<Vec<_>>(),
            )
            .execute(self.pool)
            .await?;
        self.restored.erased_subjects += lines.len() as u64;
        Ok(())
    }
}

/// Moves the identities past the restored values, and the customer numbering past
/// the restored customers.
pub(crate) async fn fix_sequences(pool: &PgPool, header: &Header) -> Result<()> {
    for (table, column) in [("events", "global_position"), ("audit.access_log", "id")] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), greatest(max({column}), 1), max({column}) IS NOT NULL) FROM {table}"
        ))
        .fetch_one(pool)
        .await?;
    }
    if let Some(sequence) = header.customer_number_seq {
        let row = sqlx::query("SELECT setval('customer_number_seq', $1, $2)")
            .bind(sequence.last_value)
            .bind(sequence.is_called)
            .fetch_one(pool)
            .await?;
        let _: i64 = row.try_get(0)?;
    }
    Ok(())
}
