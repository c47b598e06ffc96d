//! `lae billing collect` and `lae billing import-status`: the billing cycle from the
//! command line, over the same use cases as the billing API (`lae_api::billing_cycle`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use lae_api::Settings;
use lae_api::auth::token::TokenKeys;
use lae_api::billing_cycle::{self, Requester};
use lae_api::cursor::CursorKey;
use lae_api::readers::Readers;
use lae_api::state::{AppState, QueryAccess};
use lae_store::{EventMetadata, Source, db};

#[derive(Debug, Subcommand)]
pub enum Billing {
    /// Issue the month's invoices (the month containing --date) for every contract in
    /// force, once per contract and month, and write the SEPA Direct Debit file
    /// (pain.008.001.02) of the unpaid ones whose customer has an active mandate.
    /// Prints a JSON summary. Re-running issues nothing and writes the same file.
    Collect {
        /// The collection date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Where to write the file (default: sdd-YYYY-MM-DD.xml in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Record the rejections (TxSts RJCT) of a bank status report (pain.002.001.03) as
    /// payment rejections, the reason code kept. Prints a JSON report; exits 1 when a
    /// transaction names no invoice (then nothing is recorded) or an invoice refused
    /// its rejection. Re-importing records nothing again.
    ImportStatus { file: PathBuf },
}

fn operator() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

async fn state(settings: &Settings) -> anyhow::Result<AppState> {
    let masters = settings
        .master_keys
        .clone()
        .context("no master key: set LAE_MASTER_KEY or LAE_MASTER_KEY_FILE")?;
    db::prepare(&settings.db)
        .await
        .context("preparing the database")?;
    let pool = db::connect_app(&settings.db).await.context("connecting")?;
    let queries = QueryAccess {
        readers: Readers::connect_lazy(
            &settings.db,
            settings
                .reader_password
                .as_ref()
                .map(lae_api::settings::Secret::expose_str),
            2,
        ),
        cursor_key: CursorKey::random(),
    };
    Ok(
        AppState::new(pool, TokenKeys::random(), None, queries, Some(masters))
            .with_sepa_creditor(settings.sepa_creditor.clone()),
    )
}

/// Runs the subcommand; the exit code.
pub async fn run(action: Billing) -> anyhow::Result<i32> {
    let settings = Settings::from_env().context("reading configuration")?;
    let run_id = uuid::Uuid::new_v4();
    let metadata = EventMetadata::new(
        operator(),
        "billing",
        chrono::Utc::now(),
        run_id,
        Source::Cli,
    );
    match action {
        Billing::Collect { date, out } => {
            let date = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
                .map_err(|_| anyhow::anyhow!("--date: {date:?} is not a date (YYYY-MM-DD)"))?;
            let state = state(&settings).await?;
            let requester = Requester {
                user: operator(),
                role: "billing".into(),
                request_id: Some(run_id.to_string()),
            };
            let collection = billing_cycle::collect(&state, &metadata, &requester, date)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut summary = serde_json::to_value(&collection.summary)?;
            if let Some(xml) = &collection.xml {
                let out = out.unwrap_or_else(|| PathBuf::from(format!("sdd-{date}.xml")));
                std::fs::write(&out, xml).with_context(|| format!("writing {}", out.display()))?;
                summary["file"] = serde_json::Value::from(out.display().to_string());
            }
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        Billing::ImportStatus { file } => {
            let xml = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let state = state(&settings).await?;
            let outcome = billing_cycle::import_status(&state, &metadata, &xml)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
            for unknown in &outcome.unknown {
                eprintln!(
                    "{}: transaction {} (OrgnlEndToEndId {:?}) names no invoice: nothing recorded",
                    file.display(),
                    unknown.position,
                    unknown.end_to_end_id
                );
            }
            for refused in &outcome.refused {
                eprintln!(
                    "{}: invoice {} refused the rejection ({}): {}",
                    file.display(),
                    refused.invoice_id,
                    refused.code,
                    refused.detail
                );
            }
            Ok(i32::from(!outcome.complete()))
        }
    }
}
