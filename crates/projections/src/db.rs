//! Connections as a department's roles.
//!
//! The projector of a department writes as `lae_<dept>_writer` and nothing else, and
//! its API reads as `lae_<dept>_reader`: PostgreSQL itself then refuses whatever the
//! department may not touch (another department's schema, `events`, the relay's tables).

use std::time::Duration;

use lae_store::db::DbSettings;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::department::Department;

/// Connection options of a department's projector (`lae_<dept>_writer`).
#[must_use]
pub fn writer_options(
    settings: &DbSettings,
    department: Department,
    password: Option<&str>,
) -> PgConnectOptions {
    settings.as_role(&department.writer_role(), password)
}

/// Connection options of a department's API (`lae_<dept>_reader`).
#[must_use]
pub fn reader_options(
    settings: &DbSettings,
    department: Department,
    password: Option<&str>,
) -> PgConnectOptions {
    settings.as_role(&department.reader_role(), password)
}

/// A pool of the department's writer role that connects on first use, so that a
/// projector starts (and retries) while the database is down.
#[must_use]
pub fn writer_pool(
    settings: &DbSettings,
    department: Department,
    password: Option<&str>,
    size: u32,
) -> PgPool {
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(writer_options(settings, department, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_connect_to_the_owner_database_without_its_password() {
        let settings =
            DbSettings::from_url("postgres://owner:secret@db:5433/lae", "lae_app", None, 4)
                .expect("valid url");
        let writer = writer_options(&settings, Department::Billing, None);
        assert_eq!(writer.get_username(), "lae_billing_writer");
        assert_eq!(writer.get_database(), Some("lae"));
        assert_eq!(writer.get_port(), 5433);
        assert!(!format!("{writer:?}").contains("secret"));
        let reader = reader_options(&settings, Department::Legal, Some("pw"));
        assert_eq!(reader.get_username(), "lae_legal_reader");
    }
}
