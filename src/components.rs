//! `lae relay`, `lae reactors` and `lae projections ...`: the background components on their own, so
//! they can be scaled and restarted apart from the HTTP server.

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use lae_api::{Settings, shutdown_signal};
use lae_projections::{Department, RebuildOptions, rebuild_with_settings};
use lae_store::db;

/// Runs the relay until Ctrl-C or SIGTERM. Several may run: one leads, the others wait.
pub async fn relay() -> anyhow::Result<()> {
    let settings = Settings::from_env().context("reading configuration")?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let pool = db::connect_app(&settings.db).await.context("connecting")?;
    let config = lae_relay::RelayConfig::from_env();
    let metrics = Arc::new(lae_relay::RelayMetrics::new());
    lae_relay::run(pool, config, metrics, shutdown_signal()).await?;
    Ok(())
}

/// Runs the reactors until Ctrl-C or SIGTERM, with their commands sealed as `lae
/// serve` seals them. Several may run: JetStream gives each event to one of them.
pub async fn reactors() -> anyhow::Result<()> {
    let settings = Settings::from_env().context("reading configuration")?;
    if settings.master_keys.is_none() && !settings.plaintext {
        bail!(
            "no master key: set LAE_MASTER_KEY or LAE_MASTER_KEY_FILE (the notices the reactors open hold personal fields)"
        );
    }
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let pool = db::connect_app(&settings.db).await.context("connecting")?;
    let listener = hear_key_announcements(&settings, pool.clone());
    let events = lae_store::EventRepository::for_commands(pool, settings.master_keys.clone());
    let config = lae_reactors::ReactorConfig::from_env()?;
    let commands = Arc::new(lae_reactors::Commands::new(&events));
    let metrics = Arc::new(lae_reactors::ReactorMetrics::new());
    let ran = lae_reactors::run(config, commands, metrics, shutdown_signal()).await;
    listener.abort();
    ran?;
    Ok(())
}

/// Drops destroyed keys and re-reads grants in every keyring of this process as soon
/// as they are announced (`lae_store::crypto::announce`), until aborted.
fn hear_key_announcements(settings: &Settings, pool: sqlx::PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(lae_store::crypto::announce::listen(
        settings.key_announcements.clone(),
        Some(pool),
        std::future::pending(),
    ))
}

#[derive(Debug, Subcommand)]
pub enum Projections {
    /// Run the department projectors until Ctrl-C or SIGTERM: all five, or those of
    /// `--department` (repeatable) or `LAE_DEPARTMENTS`. Several processes may run the
    /// same department: they share its durable consumer.
    Run {
        #[arg(
            long = "department",
            value_name = "customer-service|legal|sales|billing|management"
        )]
        departments: Vec<lae_api::deployment::Part>,
    },
    /// Rebuild a department's read model from the event store into a fresh copy, then
    /// swap it in; queries keep answering meanwhile.
    Rebuild {
        /// customer_service, legal, sales, billing or management (or `all`).
        department: String,
    },
}

pub async fn projections(action: Projections) -> anyhow::Result<()> {
    let settings = Settings::from_env().context("reading configuration")?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let mut config = lae_projections::ProjectorConfig::from_env()?;
    match action {
        Projections::Run { departments } => {
            let deployment = if departments.is_empty() {
                settings.deployment.clone()
            } else {
                lae_api::deployment::Deployment::only(departments)
            };
            config.departments = deployment.read_models();
            if config.departments.is_empty() {
                bail!("no read model to run: the auditors read the event store itself");
            }
            let metrics = Arc::new(lae_projections::ProjectionMetrics::new());
            let pool = db::connect_app(&settings.db).await.context("connecting")?;
            let listener = hear_key_announcements(&settings, pool);
            let ran =
                lae_projections::run_all(&settings.db, config, metrics, shutdown_signal()).await;
            listener.abort();
            ran?;
        }
        Projections::Rebuild { department } => {
            let departments: Vec<Department> = if department == "all" {
                Department::ALL.to_vec()
            } else {
                match department.parse() {
                    Ok(d) => vec![d],
                    Err(_) => bail!(
                        "unknown department {department:?}: customer_service, legal, sales, billing, management or all"
                    ),
                }
            };
            for department in departments {
                let report = rebuild_with_settings(
                    department,
                    &settings.db,
                    config.db_password.as_deref(),
                    &RebuildOptions {
                        master_keys: config.master_keys.clone(),
                        ..RebuildOptions::default()
                    },
                )
                .await
                .with_context(|| format!("rebuilding {department}"))?;
                println!("{}", serde_json::to_string(&report)?);
            }
        }
    }
    Ok(())
}
