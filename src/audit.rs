//! `lae audit ...`, `lae backup`, `lae restore`: auditors' and IT's tools, shims over
//! `lae_audit`. Auditors' reads run as the read-only `lae_auditor` role.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use lae_api::Settings;
use lae_audit::{
    AUDITOR_ROLE, AccessEntry, Anchor, AnchorConfig, AnchorPublisher, At, AuditKey, ExportRange,
    SealerConfig, TimelineQuery, VerifyOptions, connect_as,
};
use lae_store::db;

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Walk the store and its seals; report every edited, removed, reordered or
    /// inserted event, and compare the chain with the latest anchor published outside
    /// the database (NATS bucket `LAE_AUDIT_ANCHOR_BUCKET` at `NATS_URL`, or `--anchors
    /// FILE`) to notice a truncated tail. Exits 1 when anything is wrong.
    Verify {
        /// Read the anchors from this JSON-lines file (`LAE_AUDIT_ANCHOR_FILE`) instead
        /// of NATS.
        #[arg(long, value_name = "FILE", conflicts_with = "no_anchors")]
        anchors: Option<PathBuf>,
        /// Do not compare with the anchors (a truncated tail then goes unnoticed).
        #[arg(long)]
        no_anchors: bool,
    },
    /// Seal what is not sealed yet (`lae serve` does it continuously), write a
    /// checkpoint at the tail and publish the anchors not published yet.
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

/// The latest anchor to compare the chain with, and a note for the report when there
/// is none to compare with.
async fn latest_anchor(
    file: Option<PathBuf>,
    skip: bool,
) -> anyhow::Result<(Option<Anchor>, Option<String>)> {
    if skip {
        return Ok((
            None,
            Some("anchors not checked (--no-anchors): a truncated tail would go unnoticed".into()),
        ));
    }
    let (anchor, source) = match file {
        Some(file) => (
            lae_audit::latest_from_file(&file)
                .with_context(|| format!("reading the anchors in {}", file.display()))?,
            file.display().to_string(),
        ),
        None => {
            let config = AnchorConfig::from_env();
            let url = config
                .nats_url
                .unwrap_or_else(|| lae_audit::anchor::DEFAULT_NATS_URL.to_owned());
            (
                lae_audit::latest_from_nats(&url, &config.bucket)
                    .await
                    .with_context(|| {
                        format!(
                            "reading the anchors in the NATS bucket {} at {url} (--anchors FILE \
                             reads a file, --no-anchors skips them)",
                            config.bucket
                        )
                    })?,
                format!("the NATS bucket {}", config.bucket),
            )
        }
    };
    let note = anchor.is_none().then(|| {
        format!(
            "no anchor in {source} yet: a truncated tail cannot be detected until one is published"
        )
    });
    Ok((anchor, note))
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
        Audit::Verify {
            anchors,
            no_anchors,
        } => {
            let (anchor, note) = latest_anchor(anchors, no_anchors).await?;
            let pool = auditor_pool(&settings).await?;
            let mut report =
                lae_audit::verify_against(&pool, &key, &VerifyOptions::default(), anchor.as_ref())
                    .await?;
            report.notes.extend(note);
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(if report.ok() { 0 } else { 1 });
        }
        Audit::Seal => {
            db::prepare(&settings.db).await?;
            let config = SealerConfig::from_env()?;
            let password = std::env::var("LAE_SEALER_DB_PASSWORD").ok();
            let pool =
                connect_as(&settings.db, lae_audit::SEALER_ROLE, password.as_deref(), 2).await?;
            let mut total = 0;
            loop {
                let sealed = lae_audit::seal_pending_with(
                    &pool,
                    &key,
                    &SealerConfig {
                        batch: 5_000,
                        ..config.clone()
                    },
                )
                .await?;
                total += sealed;
                if sealed == 0 {
                    break;
                }
            }
            println!("sealed {total} events");
            lae_audit::checkpoint_tail(&pool, &key).await?;
            if let Some(anchors) = config.anchors {
                let mut publisher = AnchorPublisher::new(anchors);
                let published = publisher
                    .publish_pending(&pool)
                    .await
                    .context("the events are sealed, but the anchors were not published")?;
                println!("published {published} anchors");
            }
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
