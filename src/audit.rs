//! `lae audit ...`, `lae backup`, `lae restore`: auditors' and IT's tools, shims over
//! `lae_audit`. Auditors' reads run as the read-only `lae_auditor` role.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use lae_api::Settings;
use lae_audit::{AUDITOR_ROLE, AccessEntry, At, AuditKey, ExportRange, TimelineQuery, connect_as};
use lae_store::db;

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Walk the store and its seals; report every edited, removed, reordered or
    /// inserted event. Exits 1 when anything is wrong.
    Verify,
    /// Seal what is not sealed yet (`lae serve` does it continuously).
    Seal,
    /// A customer's history across their aggregates, newest first (JSON).
    Timeline {
        customer_id: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// The `next` cursor of the previous page.
        #[arg(long)]
        before: Option<String>,
        /// Show health values (the read is written to the access log).
        #[arg(long)]
        include_health: bool,
        /// Why (written to the access log when health values are shown).
        #[arg(long, default_value = "audit")]
        purpose: String,
    },
    /// An aggregate's state at a version or a time (JSON).
    State {
        /// Customer, Offer, Contract, Invoice or Ticket.
        aggregate_type: String,
        aggregate_id: String,
        #[arg(long, conflicts_with = "at")]
        version: Option<usize>,
        /// RFC 3339 time, e.g. 2025-01-31T12:00:00Z.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// The history (or a time range of it) as NDJSON on standard output, in commit order.
    Export {
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        #[arg(long)]
        to: Option<DateTime<Utc>>,
    },
}

async fn auditor_pool(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let password = std::env::var("LAE_AUDITOR_DB_PASSWORD").ok();
    Ok(connect_as(&settings.db, AUDITOR_ROLE, password.as_deref(), 2).await?)
}

/// Runs an audit command; returns the exit code.
pub async fn run(action: Audit) -> anyhow::Result<i32> {
    let settings = Settings::from_env().context("reading configuration")?;
    let key = AuditKey::from_env()?;
    match action {
        Audit::Verify => {
            let pool = auditor_pool(&settings).await?;
            let report = lae_audit::verify(&pool, &key).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(if report.ok() { 0 } else { 1 });
        }
        Audit::Seal => {
            db::prepare(&settings.db).await?;
            let pool = connect_as(&settings.db, lae_audit::SEALER_ROLE, None, 2).await?;
            let mut total = 0;
            loop {
                let sealed = lae_audit::seal_pending(&pool, &key, 5_000).await?;
                total += sealed;
                if sealed == 0 {
                    break;
                }
            }
            println!("sealed {total} events");
        }
        Audit::Timeline {
            customer_id,
            limit,
            before,
            include_health,
            purpose,
        } => {
            let pool = auditor_pool(&settings).await?;
            let before = match before {
                Some(cursor) => Some(
                    cursor
                        .parse()
                        .map_err(|_| anyhow::anyhow!("invalid --before cursor"))?,
                ),
                None => None,
            };
            let page = lae_audit::timeline(
                &pool,
                &TimelineQuery {
                    customer_id: customer_id.clone(),
                    before,
                    limit,
                    include_health,
                },
                settings.master_keys.as_ref(),
            )
            .await?;
            if !page.revealed.is_empty() {
                let app = db::connect_app(&settings.db).await?;
                let user = format!(
                    "cli:{}",
                    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
                );
                for what in &page.revealed {
                    lae_audit::log_access(
                        &app,
                        &AccessEntry {
                            user: user.clone(),
                            role: "auditor".into(),
                            customer_id: customer_id.clone(),
                            what: *what,
                            purpose: purpose.clone(),
                            request_id: None,
                        },
                    )
                    .await?;
                }
            }
            println!("{}", serde_json::to_string_pretty(&page)?);
        }
        Audit::State {
            aggregate_type,
            aggregate_id,
            version,
            at,
        } => {
            let at = match (version, at) {
                (Some(v), _) => At::Version(v),
                (None, Some(t)) => At::Time(t),
                (None, None) => At::Time(Utc::now()),
            };
            let pool = auditor_pool(&settings).await?;
            match lae_audit::state_at_json(
                &pool,
                &aggregate_type,
                &aggregate_id,
                at,
                settings.master_keys.as_ref(),
            )
            .await?
            {
                Some(state) => println!("{}", serde_json::to_string_pretty(&state)?),
                None => bail!("no {aggregate_type} {aggregate_id} at that point"),
            }
        }
        Audit::Export { from, to } => {
            let pool = auditor_pool(&settings).await?;
            let mut out = tokio::io::stdout();
            let report =
                lae_audit::export_ndjson(&pool, &ExportRange { from, to }, &mut out).await?;
            eprintln!("exported {} events", report.events);
        }
    }
    Ok(0)
}

/// `lae backup --out FILE`.
pub async fn backup(out: PathBuf) -> anyhow::Result<()> {
    let settings = Settings::from_env().context("reading configuration")?;
    let report = lae_audit::backup(&settings.db, &out).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `lae restore FILE`: into an empty store only; verifies the chain, then rebuilds
/// every read model from the restored events.
pub async fn restore(file: PathBuf) -> anyhow::Result<i32> {
    let settings = Settings::from_env().context("reading configuration")?;
    let key = AuditKey::from_env()?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let report = lae_audit::restore(&settings.db, &file, &key).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    let password = std::env::var("LAE_PROJECTION_DB_PASSWORD").ok();
    for department in lae_projections::Department::ALL {
        let rebuilt = lae_projections::rebuild_with_settings(
            department,
            &settings.db,
            password.as_deref(),
            &lae_projections::RebuildOptions {
                master_keys: settings.master_keys.clone(),
                ..lae_projections::RebuildOptions::default()
            },
        )
        .await
        .with_context(|| format!("rebuilding {department} after the restore"))?;
        println!("{}", serde_json::to_string(&rebuilt)?);
    }
    Ok(if report.ok() { 0 } else { 1 })
}
