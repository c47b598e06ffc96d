//! The canonical bytes of an event and the two hashes of a seal.
//!
//! Canonical bytes are a sequence of length-prefixed fields (4-byte big-endian length,
//! then the bytes), so that no two different events share them: a format tag, then
//! `aggregate_type`, `aggregate_id`, `sequence` (8 bytes, big-endian), `event_type`,
//! `event_version`, `event_id` (16 bytes), `recorded_at` (microseconds since the Unix
//! epoch, 8 bytes, big-endian), the payload text and the metadata text, both exactly
//! as stored.
//!
//! - `aggregate_hash = H(previous aggregate_hash of that aggregate || canonical bytes)`,
//!   the previous one being 32 zero bytes for the aggregate's first seal;
//! - `chain_hash = H(previous chain_hash || aggregate_hash)` in commit order, from 32
//!   zero bytes.
//!
//! `H` is HMAC-SHA256 with the audit key, or SHA-256 without one (see [`crate::key`]).

use uuid::Uuid;

use crate::key::{AuditKey, Hasher};

/// The first field of the canonical bytes: changes if the format ever does.
pub const FORMAT_TAG: &[u8] = b"lae-audit-seal-v1";

/// The hash before the first one of a chain.
pub const GENESIS: [u8; 32] = [0; 32];

/// The sealed fields of an event, borrowed from wherever it was read.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalEvent<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub event_id: Uuid,
    /// `recorded_at` in microseconds since the Unix epoch (PostgreSQL's precision).
    pub recorded_at_micros: i64,
    /// The `payload` column's text, as stored.
    pub payload: &'a str,
    /// The `metadata` column's text, as stored.
    pub metadata: &'a str,
}

impl CanonicalEvent<'_> {
    /// The canonical bytes (the hashes stream them without building this buffer).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.feed(&mut |bytes| out.extend_from_slice(bytes));
        out
    }

    fn feed(&self, sink: &mut impl FnMut(&[u8])) {
        let mut field = |bytes: &[u8]| {
            // A field longer than 4 GiB cannot come from PostgreSQL (1 GiB per value).
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            sink(&len.to_be_bytes());
            sink(bytes);
        };
        field(FORMAT_TAG);
        field(self.aggregate_type.as_bytes());
        field(self.aggregate_id.as_bytes());
        field(&self.sequence.to_be_bytes());
        field(self.event_type.as_bytes());
        field(self.event_version.as_bytes());
        field(self.event_id.as_bytes());
        field(&self.recorded_at_micros.to_be_bytes());
        field(self.payload.as_bytes());
        field(self.metadata.as_bytes());
    }
}

/// `H(previous || canonical bytes of event)`.
pub fn aggregate_hash(key: &AuditKey, previous: &[u8; 32], event: &CanonicalEvent<'_>) -> [u8; 32] {
    let mut hasher: Hasher = key.hasher();
    hasher.update(previous);
    event.feed(&mut |bytes| hasher.update(bytes));
    hasher.finish()
}

/// `H(previous chain hash || aggregate hash)`.
pub fn chain_hash(key: &AuditKey, previous: &[u8; 32], aggregate_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = key.hasher();
    hasher.update(previous);
    hasher.update(aggregate_hash);
    hasher.finish()
}

/// A 32-byte hash from a `bytea` column (anything else is treated as all zeros, which
/// never verifies, so a damaged hash is reported rather than a crash).
pub(crate) fn hash32(bytes: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(bytes).unwrap_or([0; 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(payload: &'a str) -> CanonicalEvent<'a> {
        CanonicalEvent {
            aggregate_type: "Customer",
            aggregate_id: "c1",
            sequence: 1,
            event_type: "CustomerRegistered",
            event_version: "1.0",
            event_id: Uuid::nil(),
            recorded_at_micros: 1_700_000_000_000_000,
            payload,
            metadata: "{}",
        }
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        let mut a = event("{}");
        a.aggregate_type = "Ab";
        a.aggregate_id = "c";
        let mut b = event("{}");
        b.aggregate_type = "A";
        b.aggregate_id = "bc";
        assert_ne!(a.bytes(), b.bytes());
    }

    #[test]
    fn the_payload_text_is_hashed_as_stored() {
        let key = AuditKey::unkeyed();
        let compact = aggregate_hash(&key, &GENESIS, &event(r#"{"a":1}"#));
        let spaced = aggregate_hash(&key, &GENESIS, &event(r#"{"a": 1}"#));
        assert_ne!(compact, spaced);
    }

    #[test]
    fn keyed_and_unkeyed_hashes_differ_and_streaming_matches_the_buffer() {
        let keyed = AuditKey::hmac(&[9u8; 32]).expect("key");
        let plain = AuditKey::unkeyed();
        let e = event("{}");
        assert_ne!(
            aggregate_hash(&keyed, &GENESIS, &e),
            aggregate_hash(&plain, &GENESIS, &e)
        );
        let mut buffer = GENESIS.to_vec();
        buffer.extend(e.bytes());
        let direct: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&buffer).into();
        assert_eq!(direct, aggregate_hash(&plain, &GENESIS, &e));
    }

    #[test]
    fn the_chain_depends_on_its_past() {
        let key = AuditKey::unkeyed();
        let h = [5u8; 32];
        assert_ne!(
            chain_hash(&key, &GENESIS, &h),
            chain_hash(&key, &[1u8; 32], &h)
        );
    }
}
