//! Opening the sealed personal fields of payloads for auditors: the timeline and the
//! point-in-time state.
//!
//! The store keeps every personal field sealed (`{"$enc": "…"}`, see
//! `lae_store::crypto`), under a key per data subject and category. Auditors read them
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

use std::collections::BTreeSet;
use std::sync::Arc;

use lae_domain::DataCategory;
use lae_store::crypto::cipher::sealed_text;
use lae_store::crypto::keyring::DEFAULT_CACHE_TTL;
use lae_store::crypto::{ERASED, KeyError, Keyring, MasterKeys, WITHHELD};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::classification::personal_fields;
use crate::error::Result;

/// What a sealed field reads as when its ciphertext does not open (altered or moved).
pub const UNREADABLE: &str = "[unreadable]";

/// Whether a value is one of the texts standing for a field that could not be read.
pub(crate) fn is_redacted_value(value: &Value) -> bool {
    matches!(value.as_str(), Some(ERASED | WITHHELD | UNREADABLE))
}

/// What opening one payload (or several, merged) left unread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Unread {
    pub erased: bool,
    pub withheld: bool,
    pub unreadable: bool,
}

impl Unread {
    pub fn any(self) -> bool {
        self.erased || self.withheld || self.unreadable
    }
}

/// One event as the opener needs it.
pub(crate) struct EventRef<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a Value,
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
        let mut wanted: BTreeSet<(Uuid, DataCategory)> = BTreeSet::new();
        for e in events {
            if has_sealed_field(e.payload) {
                wanted.extend(Keyring::needs(
                    e.aggregate_type,
                    e.aggregate_id,
                    e.event_type,
                    e.payload,
                )?);
            }
        }
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
    ) -> Result<Unread> {
        if !has_sealed_field(payload) {
            return Ok(Unread::default());
        }
        let Some(keyring) = &self.keyring else {
            return Ok(withhold(aggregate_type, event_type, payload));
        };
        let mut unreadable = false;
        loop {
            match keyring.open(aggregate_type, aggregate_id, event_type, payload) {
                Ok(opened) if !unreadable => {
                    return Ok(Unread {
                        erased: opened.erased,
                        withheld: opened.withheld,
                        unreadable,
                    });
                }
                // After a retry, the fields opened as erased or withheld before the
                // failure are plain texts already: read the flags from the payload.
                Ok(_) => return Ok(scan(aggregate_type, event_type, payload)),
                Err(KeyError::Tampered { field }) => {
                    // Fields opened before the failure are clear now and are skipped
                    // by the next attempt; this one is marked, so each attempt makes
                    // progress.
                    let slot = payload.get_mut(&field).filter(|v| sealed_text(v).is_some());
                    let Some(slot) = slot else {
                        return Err(KeyError::Tampered { field }.into());
                    };
                    *slot = Value::from(UNREADABLE);
                    unreadable = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Whether some top-level field of `payload` is sealed.
fn has_sealed_field(payload: &Value) -> bool {
    payload
        .as_object()
        .is_some_and(|fields| fields.values().any(|v| sealed_text(v).is_some()))
}

/// Without master keys: every sealed personal field reads [`WITHHELD`].
fn withhold(aggregate_type: &str, event_type: &str, payload: &mut Value) -> Unread {
    let mut unread = Unread::default();
    for personal in personal_fields(aggregate_type, event_type) {
        if let Some(value) = payload.get_mut(personal.field)
            && sealed_text(value).is_some()
        {
            *value = Value::from(WITHHELD);
            unread.withheld = true;
        }
    }
    unread
}

/// What the personal fields of an opened payload read as.
fn scan(aggregate_type: &str, event_type: &str, payload: &Value) -> Unread {
    let mut unread = Unread::default();
    for personal in personal_fields(aggregate_type, event_type) {
        match payload.get(personal.field).and_then(Value::as_str) {
            Some(ERASED) => unread.erased = true,
            Some(WITHHELD) => unread.withheld = true,
            Some(UNREADABLE) => unread.unreadable = true,
            _ => {}
        }
    }
    unread
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
            "email": {"$enc": "AAAA"},
        });
        let unread = opener
            .open(
                "Customer",
                &Uuid::nil().to_string(),
                "ContactDetailsChanged",
                &mut payload,
            )
            .expect("open");
        assert_eq!(
            unread,
            Unread {
                withheld: true,
                ..Unread::default()
            }
        );
        assert_eq!(payload["last_name"], json!("Martin"));
        assert_eq!(payload["email"], json!(WITHHELD));
        assert!(is_redacted_value(&payload["email"]));
        assert!(!is_redacted_value(&payload["last_name"]));
    }
}
