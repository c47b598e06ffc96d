//! The HTTP edge of the LAE platform: departments command and query over axum.
//!
//! Startup is a library function ([`Application::build`] then
//! [`Application::run_until_stopped`]) so that tests start the real application on
//! port 0 against a database of their own.
//!
//! # Layout
//! - [`settings`]: configuration from the environment.
//! - [`problem`]: the one error type, rendered as `application/problem+json`.
//! - [`extract`]: JSON bodies that name the field at fault; the caller's identity.
//! - [`routes`]: one module per aggregate, each with its own `router()`.
//! - [`state`]: what handlers share (the pool and one executor per aggregate).
//! - [`readers`]: each department's read-only pool, which its query routes use.
//! - [`cursor`]: the signed keyset cursors of paginated lists.
//! - [`auth`]: users, passwords, tokens, and the table of rules every route obeys.

pub mod auth;
pub mod billing_cycle;
pub mod cursor;
pub mod deployment;
pub mod erasure;
pub mod extract;
pub mod http_metrics;
pub mod openapi;
pub mod problem;
pub mod readers;
pub mod routes;
pub mod settings;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;

use lae_store::db::{self, DbError};
use tokio::net::TcpListener;

use crate::auth::token::TokenKeys;
use crate::cursor::CursorKey;
use crate::readers::Readers;

pub use settings::{Secret, Settings};
pub use state::AppState;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("LAE_JWT_SECRET must be at least 32 bytes")]
    WeakSecret,
    #[error("bootstrapping the first administrator: {0}")]
    Bootstrap(#[from] auth::users::UserError),
    #[error("audit: {0}")]
    Audit(String),
    #[error("Zendesk: {0}")]
    Zendesk(#[from] lae_reactors::ReactorError),
    #[error(
        "no master key: set LAE_MASTER_KEY or LAE_MASTER_KEY_FILE (personal fields are encrypted with keys it wraps), or LAE_ENCRYPTION=off for a benchmark"
    )]
    NoMasterKey,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A built application, listening but not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
    settings: Settings,
    /// Builds the HTTP application from the state: the API alone by default, the API
    /// and the desks when the binary composes them ([`Application::with_router`]).
    router: fn(AppState) -> axum::Router,
}

impl Application {
    /// Prepares the database (creates it, applies migrations), connects as the
    /// application role and binds the HTTP listener.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        if settings.master_keys.is_none() && !settings.plaintext {
            return Err(StartupError::NoMasterKey);
        }
        db::prepare(&settings.db).await?;
        let pool = db::connect_app(&settings.db).await?;
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: settings.http_addr,
                source,
            })?;
        let (keys, cursor_key) = match &settings.jwt_secret {
            Some(secret) => (
                TokenKeys::new(secret.expose()).map_err(|_| StartupError::WeakSecret)?,
                CursorKey::derive(secret.expose()),
            ),
            None => {
                tracing::warn!(
                    "LAE_JWT_SECRET is not set: tokens are signed with a key of this process only"
                );
                (TokenKeys::random(), CursorKey::random())
            }
        };
        let queries = state::QueryAccess {
            readers: Readers::connect_lazy(
                &settings.db,
                settings.reader_password.as_ref().map(Secret::expose_str),
                settings.reader_pool_size,
            ),
            cursor_key,
        };
        if let Some((username, password)) = &settings.bootstrap_admin {
            bootstrap_admin(&pool, username, password.expose_str()).await?;
        }
        let audit = {
            let password = std::env::var("LAE_AUDITOR_DB_PASSWORD").ok();
            let pool = lae_audit::connect_as(
                &settings.db,
                lae_audit::AUDITOR_ROLE,
                password.as_deref(),
                4,
            )
            .await
            .map_err(|e| StartupError::Audit(e.to_string()))?;
            let key =
                lae_audit::AuditKey::from_env().map_err(|e| StartupError::Audit(e.to_string()))?;
            Some(state::AuditAccess {
                pool,
                key,
                master_keys: settings.master_keys.clone(),
            })
        };
        let zendesk = settings
            .zendesk
            .as_ref()
            .map(lae_reactors::zendesk::ZendeskClient::new)
            .transpose()?;
        Ok(Self {
            listener,
            state: AppState::new(pool, keys, audit, queries, settings.master_keys.clone())
                .with_zendesk_webhook_secret(settings.zendesk_webhook_secret.clone())
                .with_zendesk(zendesk)
                .with_sepa_creditor(settings.sepa_creditor.clone())
                .with_deployment(settings.deployment.clone())
                .with_key_announcements(settings.key_announcements.clone()),
            settings: settings.clone(),
            router: routes::app,
        })
    }

    /// Serves the application `router` builds (e.g. `lae_web::app`: the API and the
    /// desks) instead of the API alone.
    #[must_use]
    pub fn with_router(mut self, router: fn(AppState) -> axum::Router) -> Self {
        self.router = router;
        self
    }

    /// The address actually bound (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests. The relay,
    /// the projectors, the sealer and the reactors (when the settings enable them) run
    /// beside the HTTP server and stop with it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let signal = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut background = Vec::new();
        if let Some(config) = self.settings.relay.clone() {
            let pool = self.state.pool.clone();
            let metrics = self.state.metrics.relay.clone();
            let signal = signal();
            background.push(tokio::spawn(async move {
                if let Err(e) = lae_relay::run(pool, config, metrics, signal).await {
                    tracing::error!(error = %e, "the relay stopped");
                }
            }));
        }
        if let Some(config) = self.settings.projectors.clone() {
            let db = self.settings.db.clone();
            let metrics = self.state.metrics.projections.clone();
            let signal = signal();
            background.push(tokio::spawn(async move {
                if let Err(e) = lae_projections::run_all(&db, config, metrics, signal).await {
                    tracing::error!(error = %e, "the projectors stopped");
                }
            }));
        }
        if self.settings.sealer {
            let db = self.settings.db.clone();
            let signal = signal();
            background.push(tokio::spawn(async move {
                let started = async {
                    let key = lae_audit::AuditKey::from_env()?;
                    let password = std::env::var("LAE_SEALER_DB_PASSWORD").ok();
                    let pool =
                        lae_audit::connect_as(&db, lae_audit::SEALER_ROLE, password.as_deref(), 2)
                            .await?;
                    let config = lae_audit::SealerConfig::from_env()?;
                    lae_audit::run_sealer_with(pool, key, config, signal).await
                };
                if let Err(e) = started.await {
                    tracing::error!(error = %e, "the audit sealer stopped");
                }
            }));
        }
        {
            // Every keyring of this process (executors, projectors' decoders, the
            // reactors' executors) drops destroyed keys at once.
            let announcements = self.settings.key_announcements.clone();
            let pool = self.state.pool.clone();
            let signal = signal();
            background.push(tokio::spawn(lae_store::crypto::announce::listen(
                announcements,
                Some(pool),
                signal,
            )));
        }
        if let Some(config) = self.settings.reactors.clone() {
            let commands = std::sync::Arc::new(lae_reactors::Commands::new(&self.state.events));
            let metrics = self.state.metrics.reactors.clone();
            let signal = signal();
            background.push(tokio::spawn(async move {
                if let Err(e) = lae_reactors::run(config, commands, metrics, signal).await {
                    tracing::error!(error = %e, "the reactors stopped");
                }
            }));
        }
        tracing::info!(%addr, departments = ?self.settings.deployment.names(),
            relay = self.settings.relay.is_some(), sealer = self.settings.sealer,
            projectors = self.settings.projectors.is_some(),
            reactors = self.settings.reactors.is_some(), "listening");
        let served = axum::serve(self.listener, (self.router)(self.state))
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        for task in background {
            // Background components finish their batch; do not hang the shutdown on one.
            if tokio::time::timeout(std::time::Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::warn!("a background component did not stop within 10 s");
            }
        }
        served
    }
}

/// Creates the first administrator from the environment when there is none yet.
async fn bootstrap_admin(
    pool: &sqlx::PgPool,
    username: &str,
    password: &str,
) -> Result<(), auth::users::UserError> {
    if auth::users::admin_exists(pool).await? {
        return Ok(());
    }
    auth::users::create(
        pool,
        "bootstrap",
        username,
        "Administrateur",
        auth::Role::Admin,
        password,
    )
    .await?;
    tracing::info!(%username, "created the first administrator");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
