//! `migrate`: one import run from the legacy directory to the event store.

use std::time::Instant;

use sqlx::PgPool;

use crate::error::MigrateError;
use crate::legacy::LegacyFile;
use crate::legacy::reader::LegacyReader;
use crate::options::MigrateOptions;
use crate::passes;
use crate::pipeline::Run;
use crate::progress::Progress;
use crate::report::Report;
use crate::store::Store;

/// Imports the legacy files of the selected departments into the event store behind
/// `pool` (connected as the application role: it only needs to read and append).
///
/// Returns the report (also written to `options.report_path` when set) when the run
/// went through, however many rows it set aside; an error means the run stopped, and
/// names the file, table and row involved where there is one. Whatever a stopped run
/// appended stays (every batch is atomic) and the next run completes it.
pub async fn migrate(options: MigrateOptions, pool: PgPool) -> Result<Report, MigrateError> {
    options.validate()?;
    let started = Instant::now();
    let files = options.files();
    // Every selected file is checked before anything is written: a missing file or a
    // foreign schema stops the run at once rather than after a partial import.
    let mut total = 0;
    for file in &files {
        let reader = LegacyReader::open(&options.legacy_dir, *file).await?;
        total += file.tables().iter().map(|t| reader.count(*t)).sum::<u64>();
    }
    tracing::info!(
        dir = %options.legacy_dir.display(),
        files = files.len(),
        rows = total,
        dry_run = options.dry_run,
        "legacy import starting"
    );
    let progress = Progress::new(options.progress, total);
    let mut run = Run::new(
        match options.master_keys.clone() {
            Some(masters) => Store::new(pool).with_keys(masters),
            None => Store::new(pool),
        },
        progress,
        options.dry_run,
        options.batch_events,
        options.stop_after_batches,
    )
    .await?;
    for file in &files {
        // Each file is read from one snapshot, held only while the file is imported.
        let reader = LegacyReader::open(&options.legacy_dir, *file).await?;
        match file {
            LegacyFile::ServiceClient => passes::service_client::import(&mut run, &reader).await?,
            LegacyFile::Juridique => passes::juridique::import(&mut run, &reader).await?,
            LegacyFile::Vente => passes::vente::import(&mut run, &reader).await?,
            LegacyFile::Facturation => passes::facturation::import(&mut run, &reader).await?,
        }
        drop(reader);
    }
    run.finish().await?;
    run.progress.finish();
    let report = std::mem::take(&mut run.report).finish(
        options.legacy_dir.display().to_string(),
        options.dry_run,
        options
            .departments
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
        started.elapsed().as_secs_f64(),
    );
    report.check().map_err(MigrateError::Internal)?;
    for (table, counts) in &report.tables {
        tracing::info!(
            table = %table,
            read = counts.read,
            imported = counts.imported,
            merged = counts.merged,
            quarantined = counts.quarantined,
            events = counts.events,
            "table imported"
        );
    }
    tracing::info!(
        events = report.events_appended,
        set_aside = report.set_aside.len(),
        conflicts = report.conflicts.len(),
        seconds = report.duration_seconds,
        dry_run = report.dry_run,
        "legacy import finished"
    );
    if let Some(path) = &options.report_path {
        let json = serde_json::to_vec_pretty(&report)
            .map_err(|e| MigrateError::Internal(format!("cannot serialise the report: {e}")))?;
        std::fs::write(path, json).map_err(|source| MigrateError::Report {
            path: path.clone(),
            source,
        })?;
    }
    Ok(report)
}
