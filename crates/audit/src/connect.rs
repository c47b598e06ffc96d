//! Connecting as the audit roles created by `migrations/0005_audit.sql`.
//!
//! The sealer runs as `lae_sealer` (read events, append seals), auditors' tools as
//! `lae_auditor` (read events and the audit schema, nothing else). Both reach the same
//! server and database as the application; only the user and password differ.

use std::time::Duration;

use lae_store::db::DbSettings;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::Result;

/// The role the sealer appends seals as.
pub const SEALER_ROLE: &str = "lae_sealer";
/// The read-only role of auditors' tools.
pub const AUDITOR_ROLE: &str = "lae_auditor";

/// The application's connection options, logged in as `role` instead.
pub fn role_options(settings: &DbSettings, role: &str, password: Option<&str>) -> PgConnectOptions {
    settings.as_role(role, password)
}

/// A pool logged in as `role`. The sealer needs two connections: one listens for
/// wake-ups, one seals.
pub async fn connect_as(
    settings: &DbSettings,
    role: &str,
    password: Option<&str>,
    max_connections: u32,
) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(role_options(settings, role, password))
        .await?)
}
