//! Encryption of personal fields: per data subject and category, with keys that
//! erasure destroys (crypto-shredding).
//!
//! - [`cipher`]: the cryptography alone (master keys, data keys, sealed envelopes).
//! - [`payload`]: where sealed fields sit in an event payload (one envelope per
//!   category under `$sealed`), sealing and opening a payload with given keys.
//! - [`keyring`]: data keys in PostgreSQL (`keys.<category>`, migration 0007), wrapped
//!   by the master key, cached in memory; sealing and opening whole event payloads by
//!   the domain's classification ([`lae_domain::classify`]).
//! - [`erasure`]: destroying a subject's keys, and re-wrapping every key under a new
//!   master key (rotation).
//! - [`announce`]: key destructions (NATS) and grant changes (PostgreSQL `NOTIFY`)
//!   heard by every process, which drops the keys from all its keyrings at once.
//!
//! Who may read which keys is decided by PostgreSQL: each category is its own table,
//! and a department's writer role has SELECT on the categories it may see only. A
//! [`Keyring`] asks the database which tables its connection may read and treats the
//! other categories as withheld.

pub mod announce;
pub mod cipher;
pub mod erasure;
pub mod keyring;
pub mod payload;

pub use announce::KeyAnnouncements;
pub use cipher::{DataKey, MasterKey};
pub use keyring::{Keyring, MasterKeys};
pub use payload::{ERASED, OnTampered, Opened, UNREADABLE, WITHHELD};

use lae_domain::DataCategory;
use uuid::Uuid;

/// What can go wrong with keys and sealed fields. Messages never quote a value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key is not 32 bytes in hexadecimal or base64.
    #[error("the master key must be 32 bytes written as 64 hexadecimal digits or in base64")]
    MasterKeyFormat,
    /// The master key (file or variable) is missing or unreadable.
    #[error("master key: {0}")]
    MasterKeySource(String),
    /// A wrapped key does not open with the master key it names.
    #[error("the {category:?} key of {subject} does not unwrap (wrong master key or altered)")]
    Unwrap {
        subject: Uuid,
        category: DataCategory,
    },
    /// A wrapped key names a master key this process does not hold.
    #[error("a data key is wrapped by master key {0}, which is not configured")]
    UnknownMasterKey(String),
    /// Sealed fields do not open with their key (altered, or moved from elsewhere).
    #[error("the sealed {category:?} fields do not open: altered or misplaced")]
    Tampered { category: DataCategory },
    /// The role of this connection may not read the category's keys.
    #[error("the {category:?} keys may not be read by this role")]
    Withheld { category: DataCategory },
    /// A payload's sealed member is not in the stored format.
    #[error("malformed sealed payload: {0}")]
    Malformed(String),
    /// The subject's personal data was erased: nothing new may be written for it.
    #[error("the personal data of {0} was erased")]
    Erased(Uuid),
    /// A payload names no usable subject for its personal fields.
    #[error("a {event_type} event names no data subject (UUID) for its personal fields")]
    NoSubject { event_type: String },
    /// A key needed to seal or open was not loaded first (a bug of the caller).
    #[error("the {category:?} key of {subject} was not loaded before use")]
    NotLoaded {
        subject: Uuid,
        category: DataCategory,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
