//! Why an import stops. A row that cannot be trusted never stops it (it is set aside
//! in the report); these are the failures that make the whole run unreliable: a file
//! that cannot be read, a schema that is not the legacy one, an event store that
//! refuses writes.

use std::path::PathBuf;

/// An import that could not run to its end. Each message names the file, table, row
/// and field involved, where there is one.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The options make no sense (an unknown department, a zero batch size).
    #[error("invalid option: {0}")]
    Options(String),
    /// A selected department's file is not in the legacy directory.
    #[error("{file}: legacy file not found at {}", path.display())]
    MissingFile { file: &'static str, path: PathBuf },
    /// SQLite could not open the file read-only.
    #[error("{file}: cannot open read-only: {source}")]
    Open {
        file: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A table or column the import relies on is missing or not what SCHEMA.md says.
    #[error("{file}, table {table}: {detail}")]
    Schema {
        file: &'static str,
        table: &'static str,
        detail: String,
    },
    /// SQLite failed while reading (a corrupted page, a lock held too long).
    #[error("{file}, table {table}{}: read failed: {source}", after_row.map(|r| format!(", after row {r}")).unwrap_or_default())]
    Read {
        file: &'static str,
        table: &'static str,
        after_row: Option<i64>,
        #[source]
        source: rusqlite::Error,
    },
    /// The event store failed (connection, permission, unexpected SQL error).
    #[error("event store: {context}: {source}")]
    Store {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store holds an event the import cannot read back (an unknown event version).
    #[error(
        "event store: event {aggregate_type} {aggregate_id} #{sequence} cannot be read: {detail}"
    )]
    UnreadableEvent {
        aggregate_type: &'static str,
        aggregate_id: String,
        sequence: i64,
        detail: String,
    },
    /// Concurrent writers kept changing the aggregates of one batch.
    #[error(
        "event store: the batch starting at {first} kept conflicting with concurrent writers ({attempts} attempts)"
    )]
    Contention { first: String, attempts: u32 },
    /// The report file could not be written.
    #[error("report {}: {source}", path.display())]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The test hook stopped the import after a number of appended batches.
    #[error("import stopped after {batches} batches (MigrateOptions::stop_after_batches)")]
    Interrupted { batches: usize },
    /// A bug in the import itself (an invariant of the report did not hold).
    #[error("internal error: {0}")]
    Internal(String),
}

impl MigrateError {
    /// The process exit code for `lae migrate`: 2 for bad options, 3 for unreadable
    /// legacy input, 4 for event store failures, 5 for the report, 1 otherwise. A run
    /// that set rows aside but finished is a success (exit 0): the report lists them.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Options(_) => 2,
            Self::MissingFile { .. }
            | Self::Open { .. }
            | Self::Schema { .. }
            | Self::Read { .. } => 3,
            Self::Store { .. } | Self::UnreadableEvent { .. } | Self::Contention { .. } => 4,
            Self::Report { .. } => 5,
            Self::Interrupted { .. } | Self::Internal(_) => 1,
        }
    }

    pub(crate) fn store(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Store {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// The exit code of a finished `migrate` call (0 for a report, whatever it set aside).
pub fn exit_code<T>(result: &Result<T, MigrateError>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => e.exit_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code::<()>(&Ok(())), 0);
        assert_eq!(exit_code::<()>(&Err(MigrateError::Options("x".into()))), 2);
        let schema = MigrateError::Schema {
            file: "vente.db",
            table: "offres",
            detail: "missing column prime_mensuelle".into(),
        };
        assert_eq!(schema.exit_code(), 3);
        assert_eq!(
            schema.to_string(),
            "vente.db, table offres: missing column prime_mensuelle"
        );
    }
}
