//! `lae migrate`: the legacy import, a shim over `lae_migrator`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lae_api::Settings;
use lae_migrator::{MigrateOptions, ProgressMode, exit_code, migrate, parse_departments};
use lae_store::db;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Directory holding service_client.db, juridique.db, vente.db, facturation.db.
    #[arg(long)]
    legacy: PathBuf,
    /// Write the JSON report there.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Decide everything, append nothing; the report says what would be appended.
    #[arg(long)]
    dry_run: bool,
    /// Comma-separated departments to import (customer_service,legal,sales,billing).
    #[arg(long)]
    departments: Option<String>,
    /// Import only when the event store is empty (used to load sample data once).
    #[arg(long)]
    if_empty: bool,
    /// Plain log lines instead of a progress bar.
    #[arg(long)]
    no_progress_bar: bool,
}

/// Runs the import; returns the process exit code (0 when the import completed, even
/// with rows set aside).
pub async fn run(args: MigrateArgs) -> anyhow::Result<i32> {
    let settings = Settings::from_env().context("reading configuration")?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let pool = db::connect_app(&settings.db).await.context("connecting")?;
    if args.if_empty {
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events)")
            .fetch_one(&pool)
            .await?;
        if any {
            tracing::info!("the event store is not empty: nothing imported");
            return Ok(0);
        }
    }
    let mut options = MigrateOptions::new(&args.legacy);
    options.master_keys = settings.master_keys.clone();
    if options.master_keys.is_none() && !settings.plaintext {
        eprintln!(
            "lae migrate: no master key: set LAE_MASTER_KEY or LAE_MASTER_KEY_FILE (or LAE_ENCRYPTION=off)"
        );
        return Ok(2);
    }
    options.report_path = args.report;
    options.dry_run = args.dry_run;
    if args.no_progress_bar {
        options.progress = ProgressMode::Log;
    }
    if let Some(list) = &args.departments {
        match parse_departments(list) {
            Ok(departments) => options.departments = departments,
            Err(e) => {
                eprintln!("lae migrate: {e}");
                return Ok(2);
            }
        }
    }
    let result = migrate(options, pool).await;
    match &result {
        Ok(report) => {
            let set_aside = report.set_aside.len();
            println!(
                "imported: {} events appended, {} rows set aside, {} contact conflicts",
                report.events_appended,
                set_aside,
                report.conflicts.len()
            );
        }
        Err(e) => eprintln!("lae migrate: {e}"),
    }
    Ok(exit_code(&result))
}
