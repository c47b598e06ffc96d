//! `lae`: the platform's one binary. Each subcommand is a thin shim over a library.

mod audit;
mod bench;
mod billing;
mod components;
mod migrate;
mod privacy;
mod users;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lae_api::{Application, Settings, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "lae", version, about = "The LAE event-sourced platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform: create the database if missing, apply migrations, serve HTTP.
    Serve {
        /// Serve only this department's routes and desks and run only its projector
        /// (repeatable; every department by default, or `LAE_DEPARTMENTS`). Login,
        /// health, readiness, metrics and user administration are on every instance.
        #[arg(
            long = "department",
            value_name = "customer-service|legal|sales|billing|management|audit"
        )]
        departments: Vec<lae_api::deployment::Part>,
    },
    /// Run the relay alone (PostgreSQL → NATS JetStream, and RabbitMQ when LAE_AMQP_URL is set).
    Relay,
    /// Run the reactors alone (offer accepted → contract requested, sales informed).
    /// Several may run: they share their consumers and each event acts once.
    Reactors,
    /// Run or rebuild the department read models.
    Projections {
        #[command(subcommand)]
        action: components::Projections,
    },
    /// Auditors' tools: verify the chains, timelines, point-in-time state, export.
    Audit {
        #[command(subcommand)]
        action: audit::Audit,
    },
    /// Copy the event store, its seals and the contract documents to a checksummed,
    /// compressed file, while the platform runs.
    Backup {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Install a backup into an empty store, verify it, rebuild the read models.
    Restore { file: std::path::PathBuf },
    /// Import the legacy SQLite files as events (idempotent; re-runs import changes only).
    Migrate(migrate::MigrateArgs),
    /// Customers' personal data: erasure (GDPR art. 17).
    Customers {
        #[command(subcommand)]
        action: privacy::Customers,
    },
    /// Master and data keys of personal fields: generate, rotate, status.
    Keys {
        #[command(subcommand)]
        action: privacy::Keys,
    },
    /// Signed contract documents: seal those stored in clear before sealing existed.
    Documents {
        #[command(subcommand)]
        action: privacy::Documents,
    },
    /// The billing cycle: a month's invoices and their SEPA Direct Debit file, the
    /// bank's status report read back as payment rejections.
    Billing {
        #[command(subcommand)]
        action: billing::Billing,
    },
    /// Manage user accounts (the first administrator is created here or from
    /// LAE_BOOTSTRAP_ADMIN_USER / LAE_BOOTSTRAP_ADMIN_PASSWORD).
    Users {
        #[command(subcommand)]
        action: users::Action,
    },
    /// Measure the platform against raw PostgreSQL in the same run.
    Bench {
        #[command(subcommand)]
        target: bench::Target,
    },
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("LAE_LOG_FORMAT").is_ok_and(|f| f == "json");
    // Logs go to standard error: standard output carries the commands' results (JSON
    // reports, NDJSON exports).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Ends the process with `code` when it is not 0 (tools whose exit code says something).
fn exit_with(code: i32) {
    if code != 0 {
        std::process::exit(code);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Serve { departments } => {
            let mut settings = Settings::from_env().context("reading configuration")?;
            if !departments.is_empty() {
                settings = settings.limit_to(lae_api::deployment::Deployment::only(departments));
            }
            tracing::info!(db = ?settings.db, http = %settings.http_addr,
                departments = ?settings.deployment.names(), "starting");
            let app = Application::build(&settings)
                .await
                .context("starting the platform")?
                .with_router(lae_web::app);
            app.run_until_stopped(shutdown_signal())
                .await
                .context("serving HTTP")?;
        }
        Command::Bench { target } => bench::run(target).await?,
        Command::Users { action } => users::run(action).await?,
        Command::Billing { action } => exit_with(billing::run(action).await?),
        Command::Customers { action } => privacy::customers(action).await?,
        Command::Keys { action } => privacy::keys(action).await?,
        Command::Documents { action } => privacy::documents(action).await?,
        Command::Relay => components::relay().await?,
        Command::Reactors => components::reactors().await?,
        Command::Audit { action } => exit_with(audit::run(action).await?),
        Command::Backup { out } => audit::backup(out).await?,
        Command::Restore { file } => exit_with(audit::restore(file).await?),
        Command::Projections { action } => components::projections(action).await?,
        Command::Migrate(args) => exit_with(migrate::run(args).await?),
    }
    Ok(())
}
