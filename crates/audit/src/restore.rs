//! Restore: a backup file into an empty store, then verification.
//!
//! Two passes over the file. The first checks it whole (header, section counts, the
//! trailer's SHA-256) and writes nothing; the second writes. Only an empty store is
//! accepted: merging two histories would clash on positions, sequences and seals.
//!
//! What is preserved byte for byte: event ids, aggregate ids, sequences, global
//! positions (inserted as the owner with `OVERRIDING SYSTEM VALUE`, the identity then
//! moved past them), `recorded_at` to the microsecond, the payload and metadata text;
//! seals, checkpoints, seal keys, the access log and contract documents as they were;
//! the data keys of personal fields (`keys.<category>`, still wrapped by the master
//! key) and the erased subjects (`keys.erased`) as they were, so that the restored
//! platform opens its events with the master key the source used (the backup's header
//! names it by id in `master_key_ids`; the key itself comes from outside the file).
//! A version-1 file has no keys: the sealed fields of its events then read `[erased]`.
//!
//! What is not: `transaction_id`. Transaction ids belong to the cluster that assigned
//! them; kept as they were, they could lie ahead of the new cluster's and hold every
//! commit-order reader back. So the restore renumbers them while keeping commit order:
//! events are inserted in the backup's (commit) order, and a new transaction starts
//! whenever the global position goes down, so that `(transaction_id,
//! global_position)` sorts the restored events exactly as it sorted the originals.
//! Seals take the new transaction id of their event. Neither is covered by the hashes.
//!
//! The subject index of the timeline is rebuilt from the events. The department read
//! models are not in the file: rebuild them after a restore with the projections
//! crate's `rebuild`; the keys are loaded by then, so the projectors can open the
//! events.
//!
//! **Restoring a backup resurrects every customer erased after it was taken**: their
//! keys are in the file (see [`mod@crate::backup`]). After a restore, re-apply the
//! erasures recorded since the backup; where old backups cannot be destroyed, rotate
//! the master key and destroy the previous one, which makes their keys useless.

use std::path::Path;
use std::time::Instant;

use lae_store::db::DbSettings;
use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::mpsc;

use crate::backup_format::{Counts, Header};
use crate::error::{AuditError, Result};
use crate::key::AuditKey;
use crate::report::VerifyReport;
use crate::restore_file::{Parsed, stream_rows, validate};
use crate::restore_load::{Loader, fix_sequences};

/// What a restore did, and what verification found afterwards.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub header: Header,
    pub restored: Counts,
    pub verify: VerifyReport,
    pub elapsed_ms: u64,
}

impl RestoreReport {
    /// Whether everything was restored and verifies clean.
    pub fn ok(&self) -> bool {
        self.restored == self.header.counts && self.verify.ok()
    }
}

/// Restores `file` into the database of `settings` (created and migrated if missing),
/// as its owner, then verifies it with `key`. Refuses a store that holds anything.
pub async fn restore(settings: &DbSettings, file: &Path, key: &AuditKey) -> Result<RestoreReport> {
    let started = Instant::now();
    lae_store::db::prepare(settings).await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(settings.owner.clone())
        .await?;
    let outcome = restore_into(&pool, file, key, started).await;
    pool.close().await;
    outcome
}

async fn restore_into(
    pool: &PgPool,
    file: &Path,
    key: &AuditKey,
    started: Instant,
) -> Result<RestoreReport> {
    refuse_non_empty(pool).await?;
    let path = file.to_owned();
    let header = tokio::task::spawn_blocking(move || validate(&path))
        .await
        .map_err(|e| AuditError::Task(e.to_string()))??;
    tracing::info!(
        events = header.counts.events,
        "backup file checked; restoring"
    );

    let (sender, mut receiver) = mpsc::channel::<Vec<Parsed>>(4);
    let path = file.to_owned();
    let reader = tokio::task::spawn_blocking(move || stream_rows(&path, &sender));
    let mut loader = Loader::new(pool);
    let loaded = async {
        while let Some(rows) = receiver.recv().await {
            for row in rows {
                loader.add(row).await?;
            }
        }
        loader.finish().await
    }
    .await;
    // Stop the reader if loading failed, then surface the first error.
    drop(receiver);
    let read = reader.await.map_err(|e| AuditError::Task(e.to_string()))?;
    loaded?;
    read?;

    fix_sequences(pool, &header).await?;
    let restored = loader.restored;
    let verify = crate::verify(pool, key).await?;
    let report = RestoreReport {
        header,
        restored,
        verify,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    tracing::info!(
        events = restored.events,
        verified = report.verify.ok(),
        elapsed_ms = report.elapsed_ms,
        "restore done"
    );
    Ok(report)
}

async fn refuse_non_empty(pool: &PgPool) -> Result<()> {
    for table in [
        "events",
        "contract_documents",
        "audit.event_seals",
        "audit.seal_checkpoints",
        "audit.seal_keys",
        "audit.subject_aggregates",
        "audit.access_log",
        "keys.contact",
        "keys.health",
        "keys.bank",
        "keys.profile",
        "keys.erased",
    ] {
        let rows: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1) AS t"
        ))
        .fetch_one(pool)
        .await?;
        if rows > 0 {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(pool)
                .await?;
            return Err(AuditError::NotEmpty {
                table: table.to_owned(),
                rows,
            });
        }
    }
    Ok(())
}
