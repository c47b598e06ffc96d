//! The one error type of the crate.

/// Why an audit operation failed. Problems *found* by [`verify`](crate::verify()) are not
/// errors: they are the report's content.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database setup failed: {0}")]
    Setup(#[from] lae_store::db::DbError),
    #[error("audit key: {0}")]
    Key(String),
    /// The chain was begun with another key: extending it would make every later seal
    /// unverifiable with either key.
    #[error(
        "the seals were made with key {sealed}, this process holds key {given}: refusing to extend the chain with another key"
    )]
    KeyMismatch { sealed: String, given: String },
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregateType(String),
    /// A stored event does not deserialize into its aggregate's event type.
    #[error("event {aggregate_type}/{aggregate_id}#{sequence} cannot be read: {source}")]
    Decode {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid transaction id {0:?}")]
    TransactionId(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The backup file is not one this version can read, or is damaged.
    #[error("invalid backup file: {0}")]
    BackupFormat(String),
    #[error("backup checksum mismatch: the file says {expected}, its content hashes to {actual}")]
    BackupChecksum { expected: String, actual: String },
    /// Restoring is only allowed into an empty store: merging histories would break
    /// positions, sequences and seals.
    #[error("restore refused: the target store is not empty ({table} holds {rows} rows)")]
    NotEmpty { table: String, rows: i64 },
    /// A data key or a sealed field could not be used: a master key that does not
    /// unwrap the stored keys (the wrong one, or one not configured), or a store error
    /// while loading keys. Messages never quote a personal value.
    #[error("data keys: {0}")]
    DataKey(#[from] lae_store::crypto::KeyError),
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    /// Publishing or reading the anchors (NATS or the anchor file) failed.
    #[error("audit anchors: {0}")]
    Anchor(String),
    #[error("background task failed: {0}")]
    Task(String),
}

/// The crate's result type.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
