//! `lae customers erase`, `lae keys ...` and `lae documents seal`: erasure, master-key
//! management and the sealing of old clear documents from the command line (see `lae_store::crypto` and `lae_api::erasure`).

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use lae_api::Settings;
use lae_domain::customer::Customer;
use lae_domain::{CustomerId, Reason};
use lae_store::crypto::erasure::{rotate, wrapped_by_others};
use lae_store::crypto::{Keyring, MasterKey, MasterKeys};
use lae_store::db;
use lae_store::{CommandExecutor, EventMetadata, EventRepository, Source};
use sqlx::Executor;

#[derive(Debug, Subcommand)]
pub enum Customers {
    /// Erase a customer's personal data (GDPR art. 17): appends CustomerErased, destroys
    /// the customer's data keys. Contracts and invoices keep their facts.
    Erase {
        /// The customer's id (UUID).
        id: String,
        /// The legal basis and the request's reference (kept in clear: never the
        /// person's data), e.g. "RGPD art. 17, demande n° 2026-114".
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Print a new random master key (64 hexadecimal digits) on standard output.
    Generate,
    /// Re-wrap every data key under the current master key (LAE_MASTER_KEY[_FILE]),
    /// unwrapping with the previous one (LAE_MASTER_KEY_PREVIOUS[_FILE]). Events are
    /// not touched. Safe to interrupt and re-run.
    Rotate {
        /// Keys re-wrapped per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: i64,
    },
    /// How many data keys exist per category, how many are wrapped by a key other
    /// than the current one, and how many subjects were erased.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum Documents {
    /// Seal every signed document still stored in clear (written before documents
    /// were sealed, or imported by `lae migrate`) with the health key of each customer
    /// whose contract references it, then delete the clear row; a document of erased
    /// customers only is deleted. Prints what it did. Safe to interrupt and re-run.
    Seal,
}

pub async fn documents(action: Documents) -> anyhow::Result<()> {
    let Documents::Seal = action;
    let settings = Settings::from_env().context("reading configuration")?;
    let masters = master_keys(&settings)?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let owner = owner_pool(&settings).await?;
    let report = lae_store::documents::seal_clear(&owner, &Keyring::all(masters))
        .await
        .context("sealing the clear documents")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn operator() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

fn master_keys(settings: &Settings) -> anyhow::Result<Arc<MasterKeys>> {
    settings
        .master_keys
        .clone()
        .context("no master key: set LAE_MASTER_KEY or LAE_MASTER_KEY_FILE")
}

async fn owner_pool(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(settings.db.owner.clone())
        .await
        .context("connecting as the database owner")
}

pub async fn customers(action: Customers) -> anyhow::Result<()> {
    let Customers::Erase { id, reason } = action;
    let customer_id: CustomerId = id
        .parse()
        .map_err(|_| anyhow::anyhow!("id: {id:?} is not a customer id (UUID)"))?;
    let reason: Reason = reason
        .parse()
        .map_err(|e| anyhow::anyhow!("--reason: {e}"))?;
    let settings = Settings::from_env().context("reading configuration")?;
    let masters = master_keys(&settings)?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let pool = db::connect_app(&settings.db).await.context("connecting")?;
    let events = EventRepository::new(pool.clone()).with_keyring(Keyring::all(masters));
    let executor = CommandExecutor::<Customer>::new(events.clone(), ());
    let metadata = EventMetadata::new(
        operator(),
        "legal",
        chrono::Utc::now(),
        uuid::Uuid::new_v4(),
        Source::Cli,
    );
    let erasure = lae_api::erasure::erase_customer(
        &executor,
        &events,
        &pool,
        &settings.key_announcements,
        customer_id,
        reason,
        &metadata,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Deleted key rows stay in the table files until vacuumed: the owner vacuums them
    // now (the application role may not).
    let owner = owner_pool(&settings).await?;
    for table in ["keys.contact", "keys.health", "keys.bank", "keys.profile"] {
        owner
            .execute(format!("VACUUM {table}").as_str())
            .await
            .with_context(|| format!("vacuuming {table}"))?;
    }
    println!("{}", serde_json::to_string_pretty(&erasure)?);
    Ok(())
}

pub async fn keys(action: Keys) -> anyhow::Result<()> {
    if let Keys::Generate = action {
        println!("{}", MasterKey::generate_hex().as_str());
        return Ok(());
    }
    let settings = Settings::from_env().context("reading configuration")?;
    let masters = master_keys(&settings)?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let owner = owner_pool(&settings).await?;
    let mut conn = owner.acquire().await?;
    match action {
        Keys::Generate => {}
        Keys::Rotate { batch } => {
            if batch < 1 {
                bail!("--batch: must be at least 1");
            }
            let rewrapped = rotate(&mut conn, &masters, batch).await?;
            let left = wrapped_by_others(&mut conn, &masters).await?;
            println!(
                "{}",
                serde_json::json!({
                    "master_key_id": masters.current().id(),
                    "rewrapped": rewrapped,
                    "wrapped_by_other_keys": left,
                })
            );
            if left > 0 {
                bail!("{left} data keys are wrapped by a master key that is not configured");
            }
        }
        Keys::Status => {
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT c, n, others FROM (
                   SELECT 'contact' AS c, count(*) AS n, count(*) FILTER (WHERE master_key_id <> $1) AS others FROM keys.contact
                   UNION ALL SELECT 'health', count(*), count(*) FILTER (WHERE master_key_id <> $1) FROM keys.health
                   UNION ALL SELECT 'bank', count(*), count(*) FILTER (WHERE master_key_id <> $1) FROM keys.bank
                   UNION ALL SELECT 'profile', count(*), count(*) FILTER (WHERE master_key_id <> $1) FROM keys.profile) t",
            )
            .bind(masters.current().id())
            .fetch_all(&mut *conn)
            .await?;
            let erased: i64 = sqlx::query_scalar("SELECT count(*) FROM keys.erased")
                .fetch_one(&mut *conn)
                .await?;
            let categories: serde_json::Map<String, serde_json::Value> = rows
                .into_iter()
                .map(|(c, n, others)| {
                    (
                        c,
                        serde_json::json!({"keys": n, "wrapped_by_other_keys": others}),
                    )
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "master_key_id": masters.current().id(),
                    "categories": categories,
                    "erased_subjects": erased,
                })
            );
        }
    }
    Ok(())
}
