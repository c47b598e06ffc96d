//! Why a reactor could not start.

/// A reactor's start-up or configuration failure (per-message failures are logged,
/// counted and retried, never returned).
#[derive(Debug, thiserror::Error)]
pub enum ReactorError {
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// NATS could not be reached at all (bad address).
    #[error("NATS: {0}")]
    Nats(String),
}
