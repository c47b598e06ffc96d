//! Connecting to PostgreSQL, creating the database and applying migrations.
//!
//! Two identities are involved. The *owner* (the user of `DATABASE_URL`) creates the
//! database and runs `migrations/`. The *application role* (`lae_app`) is what the
//! platform runs as: it may read and append events but not update, delete or
//! truncate them, so append-only holds even if the application is compromised.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The role the application runs as (created by the first migration).
pub const APP_ROLE: &str = "lae_app";

/// Errors while preparing or connecting to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    #[error("the database URL names no database")]
    NoDatabaseName,
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Where the database is and how the application connects to it.
#[derive(Clone)]
pub struct DbSettings {
    /// Owner connection (creates the database, runs migrations).
    pub owner: PgConnectOptions,
    /// Application connection (the restricted role).
    pub app: PgConnectOptions,
    /// Size of the application pool.
    pub max_connections: u32,
}

impl std::fmt::Debug for DbSettings {
    // Connection options may carry passwords: show only where they point.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSettings")
            .field("host", &self.owner.get_host())
            .field("port", &self.owner.get_port())
            .field("database", &self.owner.get_database())
            .field("owner", &self.owner.get_username())
            .field("app", &self.app.get_username())
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl DbSettings {
    /// Settings from an owner URL; the application connects to the same server and
    /// database as `app_user` (with `app_password` when the server asks for one).
    pub fn from_url(
        owner_url: &str,
        app_user: &str,
        app_password: Option<&str>,
        max_connections: u32,
    ) -> Result<Self, DbError> {
        let owner = PgConnectOptions::from_str(owner_url).map_err(DbError::InvalidUrl)?;
        if owner.get_database().is_none() {
            return Err(DbError::NoDatabaseName);
        }
        let owner = owner.disable_statement_logging();
        let app = login_as(&owner, app_user, app_password);
        Ok(Self {
            owner,
            app,
            max_connections,
        })
    }

    /// The same server and database, logged in as another role (a department's reader
    /// or writer, the sealer, the auditor).
    pub fn as_role(&self, role: &str, password: Option<&str>) -> PgConnectOptions {
        login_as(&self.owner, role, password)
    }

    /// The same settings pointed at another database (tests create one each).
    pub fn with_database(&self, name: &str) -> Self {
        Self {
            owner: self.owner.clone().database(name),
            app: self.app.clone().database(name),
            max_connections: self.max_connections,
        }
    }

    /// The database name.
    pub fn database(&self) -> &str {
        self.owner.get_database().unwrap_or_default()
    }
}

/// `base`'s server and database as `role`, with `role`'s own password: never the
/// owner's, which would otherwise be sent along.
fn login_as(base: &PgConnectOptions, role: &str, password: Option<&str>) -> PgConnectOptions {
    base.clone().username(role).password(password.unwrap_or(""))
}

/// Creates the database when it is missing, then applies the migrations as the owner.
pub async fn prepare(settings: &DbSettings) -> Result<(), DbError> {
    create_database_if_missing(settings).await?;
    let mut conn = PgConnection::connect_with(&settings.owner).await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

async fn create_database_if_missing(settings: &DbSettings) -> Result<(), DbError> {
    let name = settings.database().to_owned();
    let mut conn = PgConnection::connect_with(&settings.owner.clone().database("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let statement = format!("CREATE DATABASE {}", quote_ident(&name));
        match conn.execute(statement.as_str()).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it between our check and our CREATE.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    Ok(())
}

/// Drops a database, disconnecting its sessions (tests and benchmarks clean up with it).
pub async fn drop_database(settings: &DbSettings) -> Result<(), DbError> {
    let name = settings.database().to_owned();
    let mut conn = PgConnection::connect_with(&settings.owner.clone().database("postgres")).await?;
    let statement = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&name)
    );
    conn.execute(statement.as_str()).await?;
    conn.close().await?;
    Ok(())
}

/// The application pool: connections log in as the restricted role.
pub async fn connect_app(settings: &DbSettings) -> Result<PgPool, DbError> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(settings.app.clone())
        .await?)
}

/// Quotes an SQL identifier (database names come from configuration).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_settings_use_the_app_role_on_the_same_database() {
        let s = DbSettings::from_url("postgres://owner:secret@db:5433/lae", APP_ROLE, None, 4)
            .expect("valid url");
        assert_eq!(s.app.get_username(), "lae_app");
        assert_eq!(s.app.get_database(), Some("lae"));
        assert_eq!(s.app.get_port(), 5433);
        assert!(!format!("{s:?}").contains("secret"));
        let sealer = s.as_role("lae_sealer", None);
        assert_eq!(sealer.get_username(), "lae_sealer");
        assert_eq!(sealer.get_database(), Some("lae"));
        assert_eq!(sealer.get_port(), 5433);
    }

    #[test]
    fn a_url_without_database_is_refused() {
        assert!(matches!(
            DbSettings::from_url("postgres://owner@db:5433", APP_ROLE, None, 4),
            Err(DbError::NoDatabaseName)
        ));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }
}
