//! The projections' errors.

use crate::department::Department;

/// Why a projector, a rebuild or a benchmark failed.
///
/// A running projector handles database and broker failures itself (it backs off and
/// tries again); what it returns is a configuration it cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The configuration cannot work (an invalid consumer name, a zero batch size, ...).
    #[error("invalid projection configuration: {0}")]
    Config(String),
    /// No department has this code.
    #[error(
        "unknown department {0:?} (expected customer_service, legal, sales, billing or management)"
    )]
    UnknownDepartment(String),
    /// PostgreSQL failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The data keys of sealed personal fields could not be used (a master key that is
    /// not configured or does not unwrap them).
    #[error("data keys: {0}")]
    Keys(lae_store::crypto::KeyError),
    /// The database settings could not be used.
    #[error("database settings: {0}")]
    Db(#[from] lae_store::db::DbError),
    /// The NATS client could not be created.
    #[error("cannot connect to NATS: {0}")]
    NatsConnect(#[from] async_nats::ConnectError),
    /// A JetStream request failed (stream or consumer lookup, pull, publish).
    #[error("JetStream: {0}")]
    JetStream(String),
    /// Another rebuild of the same department holds the rebuild lock.
    #[error("a rebuild of {0} is already running")]
    RebuildRunning(Department),
    /// The event store holds events the rebuild cannot apply (undecodable, or a hole in
    /// an aggregate's sequence); the live schema is left untouched.
    #[error(
        "the rebuild of {department} met {count} event(s) it cannot apply; the live read model was kept"
    )]
    RebuildIncomplete {
        /// The department being rebuilt.
        department: Department,
        /// How many events were held back.
        count: usize,
    },
    /// A benchmark could not run (its relay, its data generation, its bookkeeping).
    #[error("benchmark: {0}")]
    Bench(String),
}

impl From<crate::apply::ApplyError> for ProjectionError {
    fn from(error: crate::apply::ApplyError) -> Self {
        match error {
            crate::apply::ApplyError::Database(e) => Self::Database(e),
            crate::apply::ApplyError::Keys(e) => Self::Keys(e),
        }
    }
}
