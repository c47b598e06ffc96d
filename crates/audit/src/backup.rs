//! Backup: a portable file of the source of truth, taken while the platform runs.
//!
//! Everything is read in one `REPEATABLE READ` snapshot, so events, seals and
//! documents agree with each other whatever is appended meanwhile. The file (see
//! [`crate::backup_format`]) is written by a blocking thread that hashes, compresses
//! and writes while the async side reads the next rows: reading and compressing use
//! both cores. It is written under a temporary name and renamed when complete, so a
//! failed backup never leaves a truncated file under the requested name.
//!
//! # Personal data
//!
//! Events are backed up as stored: their personal fields sealed. The data keys that
//! open them (`keys.contact|health|bank|profile`) are in the file too, read in the same
//! snapshot as the events, each still wrapped by the master key, with the list of
//! erased subjects (`keys.erased`): a platform restored from the file opens its events
//! with the same master key. The master key is never in the file (keep it, like the
//! audit key, outside backups); without it the file reveals no personal value.
//!
//! **An erasure is undone by restoring a backup taken before it.** The backup still
//! holds the keys the erasure destroyed, so restoring it brings the erased customer's
//! personal data back. After such a restore, re-apply every erasure recorded since the
//! backup was taken (the `CustomerErased` events and the erasure requests of that
//! period: erase each customer again, which destroys the restored keys). Where old
//! backups cannot be destroyed within the erasure deadline, rotate the master key
//! (`lae keys rotate`) and destroy the previous one: the keys in older backups are
//! wrapped by it and can no longer be unwrapped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::TryStreamExt;
use lae_domain::DataCategory;
use lae_store::db::DbSettings;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::mpsc;

use crate::backup_format::{
    AccessLine, CheckpointLine, Counts, DataKeyLine, DocumentLine, ErasedLine, EventLine, FORMAT,
    Header, SealKeyLine, SealLine, Section, SectionStart, SequenceValue, Trailer, VERSION,
};
use crate::error::{AuditError, Result};
use crate::transaction::snapshot;

/// Bytes gathered before handing them to the writer thread.
const CHUNK: usize = 1024 * 1024;

/// What a backup wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub path: PathBuf,
    pub counts: Counts,
    /// Bytes before compression (what the checksum covers).
    pub content_bytes: u64,
    /// Bytes of the file.
    pub file_bytes: u64,
    /// SHA-256 of the content, as written in the trailer.
    pub sha256: String,
    pub elapsed_ms: u64,
}

/// Backs up the database of `settings`, connecting as its owner (who can read every
/// table backed up).
pub async fn backup(settings: &DbSettings, out: &Path) -> Result<BackupReport> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(settings.owner.clone())
        .await?;
    let report = backup_from(&pool, out).await;
    pool.close().await;
    report
}

/// Backs up through `pool`, which must read `events`, `contract_documents`,
/// `customer_number_seq`, the `audit` schema and the `keys` schema (the owner).
pub async fn backup_from(pool: &PgPool, out: &Path) -> Result<BackupReport> {
    let started = Instant::now();
    let mut tx = snapshot(pool).await?;
    let counts = count(&mut tx).await?;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *tx)
        .await?;
    let sequence: Option<(i64, bool)> =
        sqlx::query_as("SELECT last_value, is_called FROM customer_number_seq")
            .fetch_optional(&mut *tx)
            .await?;
    let master_key_ids: Vec<String> = sqlx::query_scalar(MASTER_KEY_IDS)
        .fetch_all(&mut *tx)
        .await?;
    let header = Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        created_at: Utc::now(),
        database,
        counts,
        customer_number_seq: sequence.map(|(last_value, is_called)| SequenceValue {
            last_value,
            is_called,
        }),
        master_key_ids,
    };

    let temporary = temporary_path(out);
    let (sender, writer) = spawn_writer(temporary.clone());
    let mut lines = Lines {
        buffer: Vec::with_capacity(CHUNK + 64 * 1024),
        sender,
    };
    let written = async {
        lines.push(&header)?;
        write_sections(&mut tx, &counts, &mut lines).await?;
        lines.flush().await
    }
    .await;
    drop(lines);
    let finished = writer.await.map_err(|e| AuditError::Task(e.to_string()))?;
    let outcome = written.and(finished);
    let (sha256, content_bytes) = match outcome {
        Ok(done) => done,
        Err(e) => {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(e);
        }
    };
    tx.commit().await?;
    tokio::fs::rename(&temporary, out).await?;
    let file_bytes = tokio::fs::metadata(out).await?.len();
    let report = BackupReport {
        path: out.to_owned(),
        counts,
        content_bytes,
        file_bytes,
        sha256,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    tracing::info!(
        events = counts.events,
        file_bytes,
        elapsed_ms = report.elapsed_ms,
        "backup written"
    );
    Ok(report)
}

fn temporary_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

/// Every data key, each row with its category, in a stable order.
const DATA_KEYS: &str = "
SELECT category, subject_id, master_key_id, wrapped, created_at FROM (
    SELECT 'contact' AS category, * FROM keys.contact
    UNION ALL SELECT 'health', * FROM keys.health
    UNION ALL SELECT 'bank', * FROM keys.bank
    UNION ALL SELECT 'profile', * FROM keys.profile
) AS k ORDER BY category, subject_id";

const MASTER_KEY_IDS: &str = "
SELECT DISTINCT master_key_id FROM (
    SELECT master_key_id FROM keys.contact
    UNION SELECT master_key_id FROM keys.health
    UNION SELECT master_key_id FROM keys.bank
    UNION SELECT master_key_id FROM keys.profile
) AS k ORDER BY master_key_id";

async fn count(conn: &mut PgConnection) -> Result<Counts> {
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM audit.event_seals),
                (SELECT count(*) FROM audit.seal_checkpoints), (SELECT count(*) FROM audit.seal_keys),
                (SELECT count(*) FROM audit.access_log), (SELECT count(*) FROM contract_documents),
                (SELECT count(*) FROM keys.contact) + (SELECT count(*) FROM keys.health)
                  + (SELECT count(*) FROM keys.bank) + (SELECT count(*) FROM keys.profile),
                (SELECT count(*) FROM keys.erased)",
    )
    .fetch_one(conn)
    .await?;
    let get = |i: usize| -> Result<u64> {
        Ok(u64::try_from(row.try_get::<i64, _>(i)?).unwrap_or_default())
    };
    Ok(Counts {
        events: get(0)?,
        seals: get(1)?,
        checkpoints: get(2)?,
        seal_keys: get(3)?,
        access_log: get(4)?,
        documents: get(5)?,
        data_keys: get(6)?,
        erased_subjects: get(7)?,
    })
}

/// The query of each section, in file order.
fn section_query(section: Section) -> &'static str {
    match section {
        Section::Events => {
            "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                    event_id, recorded_at, payload::text, metadata::text
               FROM events ORDER BY transaction_id, global_position"
        }
        Section::Seals => {
            "SELECT global_position, chain_index, aggregate_type, aggregate_id, sequence, event_id,
                    aggregate_hash, chain_hash, sealed_at
               FROM audit.event_seals ORDER BY chain_index"
        }
        Section::Checkpoints => {
            "SELECT upto_global_position, events_count, chain_hash, key_id, created_at
               FROM audit.seal_checkpoints ORDER BY events_count"
        }
        Section::SealKeys => {
            "SELECT key_id, keyed, from_chain_index, created_at FROM audit.seal_keys ORDER BY from_chain_index"
        }
        Section::AccessLog => {
            "SELECT id, at, user_name, role, customer_id, what, purpose, request_id
               FROM audit.access_log ORDER BY id"
        }
        Section::Documents => {
            "SELECT sha256, media_type, stored_at, content FROM contract_documents ORDER BY sha256"
        }
        Section::DataKeys => DATA_KEYS,
        Section::ErasedSubjects => {
            "SELECT subject_id, erased_at, reason, erased_by FROM keys.erased ORDER BY subject_id"
        }
    }
}

async fn write_sections(conn: &mut PgConnection, counts: &Counts, lines: &mut Lines) -> Result<()> {
    for section in crate::backup_format::SECTIONS {
        lines.push(&SectionStart {
            section,
            count: counts.get(section),
        })?;
        let mut rows = sqlx::query(section_query(section)).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            write_row(section, &row, lines)?;
            lines.maybe_send().await?;
        }
    }
    Ok(())
}

fn micros(row: &PgRow, index: usize) -> Result<i64> {
    Ok(row.try_get::<DateTime<Utc>, _>(index)?.timestamp_micros())
}

fn write_row(section: Section, row: &PgRow, lines: &mut Lines) -> Result<()> {
    match section {
        Section::Events => lines.push(&EventLine {
            global_position: row.try_get(0)?,
            aggregate_type: row.try_get(1)?,
            aggregate_id: row.try_get(2)?,
            sequence: row.try_get(3)?,
            event_type: row.try_get(4)?,
            event_version: row.try_get(5)?,
            event_id: row.try_get(6)?,
            recorded_at_us: micros(row, 7)?,
            payload: row.try_get(8)?,
            metadata: row.try_get(9)?,
        }),
        Section::Seals => lines.push(&SealLine {
            global_position: row.try_get(0)?,
            chain_index: row.try_get(1)?,
            aggregate_type: row.try_get(2)?,
            aggregate_id: row.try_get(3)?,
            sequence: row.try_get(4)?,
            event_id: row.try_get(5)?,
            aggregate_hash: hex::encode(row.try_get::<&[u8], _>(6)?),
            chain_hash: hex::encode(row.try_get::<&[u8], _>(7)?),
            sealed_at_us: micros(row, 8)?,
        }),
        Section::Checkpoints => lines.push(&CheckpointLine {
            upto_global_position: row.try_get(0)?,
            events_count: row.try_get(1)?,
            chain_hash: hex::encode(row.try_get::<&[u8], _>(2)?),
            key_id: row.try_get(3)?,
            created_at_us: micros(row, 4)?,
        }),
        Section::SealKeys => lines.push(&SealKeyLine {
            key_id: row.try_get(0)?,
            keyed: row.try_get(1)?,
            from_chain_index: row.try_get(2)?,
            created_at_us: micros(row, 3)?,
        }),
        Section::AccessLog => lines.push(&AccessLine {
            id: row.try_get(0)?,
            at_us: micros(row, 1)?,
            user_name: row.try_get(2)?,
            role: row.try_get(3)?,
            customer_id: row.try_get(4)?,
            what: row.try_get(5)?,
            purpose: row.try_get(6)?,
            request_id: row.try_get(7)?,
        }),
        Section::Documents => lines.push(&DocumentLine {
            sha256: row.try_get(0)?,
            media_type: row.try_get(1)?,
            stored_at_us: micros(row, 2)?,
            content: base64::engine::general_purpose::STANDARD.encode(row.try_get::<&[u8], _>(3)?),
        }),
        Section::DataKeys => {
            let category: &str = row.try_get(0)?;
            lines.push(&DataKeyLine {
                category: DataCategory::ALL
                    .into_iter()
                    .find(|c| c.as_str() == category)
                    .ok_or_else(|| {
                        AuditError::BackupFormat(format!("key category {category:?}"))
                    })?,
                subject_id: row.try_get(1)?,
                master_key_id: row.try_get(2)?,
                wrapped: base64::engine::general_purpose::STANDARD
                    .encode(row.try_get::<&[u8], _>(3)?),
                created_at_us: micros(row, 4)?,
            })
        }
        Section::ErasedSubjects => lines.push(&ErasedLine {
            subject_id: row.try_get(0)?,
            erased_at_us: micros(row, 1)?,
            reason: row.try_get(2)?,
            erased_by: row.try_get(3)?,
        }),
    }
}

/// JSON lines gathered into chunks for the writer thread.
struct Lines {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Vec<u8>>,
}

impl Lines {
    fn push<T: Serialize>(&mut self, line: &T) -> Result<()> {
        serde_json::to_writer(&mut self.buffer, line)?;
        self.buffer.push(b'\n');
        Ok(())
    }

    async fn maybe_send(&mut self) -> Result<()> {
        if self.buffer.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK + 64 * 1024));
        // The writer only stops early on an error, which its join result carries.
        self.sender
            .send(chunk)
            .await
            .map_err(|_| AuditError::Task("the backup writer stopped".into()))
    }
}

/// The writer thread: returns the content's SHA-256 (hex) and size.
type Writer = tokio::task::JoinHandle<Result<(String, u64)>>;

/// Starts the thread that hashes, compresses and writes; it ends when the sender is
/// dropped, writing the trailer, and returns the content's digest and size.
fn spawn_writer(path: PathBuf) -> (mpsc::Sender<Vec<u8>>, Writer) {
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(4);
    let handle = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::create(&path)?;
        let mut gzip = GzEncoder::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            Compression::fast(),
        );
        let mut digest = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = receiver.blocking_recv() {
            digest.update(&chunk);
            bytes += chunk.len() as u64;
            gzip.write_all(&chunk)?;
        }
        let sha256 = hex::encode(digest.finalize());
        let mut trailer = serde_json::to_vec(&Trailer {
            end: true,
            sha256: sha256.clone(),
        })?;
        trailer.push(b'\n');
        gzip.write_all(&trailer)?;
        let mut writer = gzip.finish()?;
        writer.flush()?;
        writer
            .into_inner()
            .map_err(|e| AuditError::Io(e.into_error()))?
            .sync_all()?;
        Ok((sha256, bytes))
    });
    (sender, handle)
}
