//! Opening the sealed personal fields of payloads for auditors: the timeline and the
//! point-in-time state.
//!
//! The store keeps every personal field sealed (one envelope per event and category
//! under `$sealed`, see `lae_store::crypto::payload`), under a key per data subject and category. Auditors read them
//! with the master keys their caller holds and the data keys their role
//! (`lae_auditor`) may read, which is every category. The keys a whole read needs are
//! loaded in one batch (one query per category) over the caller's connection, inside
//! the snapshot the events were read in, so events and keys agree. The keyring is made
//! for the one read and dropped after it: an erasure is seen at once, never hidden by
//! a cache.
//!
//! A sealed field reads:
//! - its clear value when its key is there;
//! - [`ERASED`] when its subject's keys were destroyed (erasure, crypto-shredding);
//! - [`WITHHELD`] when no master key was given, or the role may not read the category;
//! - [`UNREADABLE`] when its ciphertext does not open with its key: it was altered or
//!   moved, which [`crate::verify()`] names. One such field does not hide the others,
//!   nor the rest of the history.
//!
//! Clear fields (events written before encryption) pass through unchanged.

use std::sync::Arc;

use lae_domain::{DataCategory, classify};
pub use lae_store::crypto::UNREADABLE;
use lae_store::crypto::keyring::DEFAULT_CACHE_TTL;
pub(crate) use lae_store::crypto::keyring::EventRef;
use lae_store::crypto::payload::{is_sealed, withhold};
use lae_store::crypto::{ERASED, Keyring, MasterKeys, OnTampered, Opened, WITHHELD};
use serde_json::Value;
use sqlx::PgConnection;

use crate::error::Result;

/// Whether a value is one of the texts standing for a field that could not be read.
pub(crate) fn is_redacted_value(value: &Value) -> bool {
    matches!(value.as_str(), Some(ERASED | WITHHELD | UNREADABLE))
}

/// Opens payloads with keys loaded beforehand.
pub(crate) struct Opener {
    /// `None` without master keys: every sealed field is withheld.
    keyring: Option<Keyring>,
}

impl Opener {
    /// Loads, over `conn`, the keys that the sealed fields of `events` need.
    pub async fn load<'a>(
        masters: Option<&Arc<MasterKeys>>,
        conn: &mut PgConnection,
        events: impl IntoIterator<Item = EventRef<'a>>,
    ) -> Result<Self> {
        let Some(masters) = masters else {
            return Ok(Self { keyring: None });
        };
        let wanted = Keyring::needs_to_open(events).map_err(|(_, e)| e)?;
        // Room for every key of the read: a key evicted before its field is opened
        // would be an error, not a miss.
        let keyring = Keyring::with_cache(
            Arc::clone(masters),
            &DataCategory::ALL,
            wanted.len().max(1),
            DEFAULT_CACHE_TTL,
        );
        if !wanted.is_empty() {
            keyring.load(conn, wanted).await?;
        }
        Ok(Self {
            keyring: Some(keyring),
        })
    }

    /// Opens the sealed fields of `payload` in place; says what stayed unread.
    pub fn open(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        payload: &mut Value,
    ) -> Result<Opened> {
        if !is_sealed(payload) {
            return Ok(Opened::default());
        }
        Ok(match &self.keyring {
            None => withhold(payload, &classify(aggregate_type, event_type), event_type),
            Some(keyring) => keyring.open_with(
                aggregate_type,
                aggregate_id,
                event_type,
                payload,
                OnTampered::Mark,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn without_master_keys_sealed_fields_are_withheld_and_clear_ones_stay() {
        let opener = Opener { keyring: None };
        let mut payload = json!({
            "type": "ContactDetailsChanged",
            "last_name": "Martin",
            "$sealed": {"contact": {"fields": ["email"], "data": "AAAA"}},
        });
        let unread = opener
            .open(
                "Customer",
                &uuid::Uuid::nil().to_string(),
                "ContactDetailsChanged",
                &mut payload,
            )
            .expect("open");
        assert_eq!(
            unread,
            Opened {
                withheld: true,
                ..Opened::default()
            }
        );
        assert_eq!(payload["last_name"], json!("Martin"));
        assert_eq!(payload["email"], json!(WITHHELD));
        assert!(is_redacted_value(&payload["email"]));
        assert!(!is_redacted_value(&payload["last_name"]));
    }
}
