//! The backup file: gzip-compressed JSON lines.
//!
//! ```text
//! {"format":"lae-backup","version":2,"created_at":…,"counts":{…},…}   header
//! {"section":"events","count":N}                                       then N lines
//! {"section":"seals","count":N}        … checkpoints, seal_keys, access_log, documents,
//!                                        data_keys, erased_subjects
//! {"end":true,"sha256":"<hex>"}                                        trailer
//! ```
//!
//! The trailer's SHA-256 covers every byte before it (uncompressed), and every section
//! announces how many lines it has: restore checks both before it writes anything.
//! Texts that must survive byte for byte (payload, metadata) are JSON strings, not
//! spliced JSON, so that not even whitespace can change on the way. Times are integer
//! microseconds since the Unix epoch, PostgreSQL's precision, so nothing is rounded.
//!
//! Version 2 added the data keys of personal fields (`data_keys`: the rows of
//! `keys.contact|health|bank|profile`, each still wrapped by the master key) and the
//! erased subjects (`keys.erased`), as the two last sections; the header counts them
//! and names the master keys that wrapped them. The master key itself is never in the
//! file. Version 1 files (the same sections without those two) are still read.

use lae_domain::DataCategory;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `format` of the header.
pub const FORMAT: &str = "lae-backup";
/// The version this crate writes.
pub const VERSION: u32 = 2;
/// The oldest version this crate reads.
pub const OLDEST_VERSION: u32 = 1;

/// The first line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The database backed up (informative).
    pub database: String,
    pub counts: Counts,
    /// `customer_number_seq`, so that new customers keep being numbered above the
    /// restored ones.
    pub customer_number_seq: Option<SequenceValue>,
    /// The ids of the master keys that wrapped the data keys in the file (informative:
    /// the restored platform needs one of them, from outside the file, to open its
    /// events). Absent before version 2.
    #[serde(default)]
    pub master_key_ids: Vec<String>,
}

/// A sequence's state (`last_value`, `is_called`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceValue {
    pub last_value: i64,
    pub is_called: bool,
}

/// Rows per section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub events: u64,
    pub seals: u64,
    pub checkpoints: u64,
    pub seal_keys: u64,
    pub access_log: u64,
    pub documents: u64,
    /// Since version 2.
    #[serde(default)]
    pub data_keys: u64,
    /// Since version 2.
    #[serde(default)]
    pub erased_subjects: u64,
}

impl Counts {
    pub fn get(&self, section: Section) -> u64 {
        match section {
            Section::Events => self.events,
            Section::Seals => self.seals,
            Section::Checkpoints => self.checkpoints,
            Section::SealKeys => self.seal_keys,
            Section::AccessLog => self.access_log,
            Section::Documents => self.documents,
            Section::DataKeys => self.data_keys,
            Section::ErasedSubjects => self.erased_subjects,
        }
    }

    pub fn set(&mut self, section: Section, value: u64) {
        match section {
            Section::Events => self.events = value,
            Section::Seals => self.seals = value,
            Section::Checkpoints => self.checkpoints = value,
            Section::SealKeys => self.seal_keys = value,
            Section::AccessLog => self.access_log = value,
            Section::Documents => self.documents = value,
            Section::DataKeys => self.data_keys = value,
            Section::ErasedSubjects => self.erased_subjects = value,
        }
    }
}

/// The sections, in file order: events first so that seals can be matched to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Events,
    Seals,
    Checkpoints,
    SealKeys,
    AccessLog,
    Documents,
    DataKeys,
    ErasedSubjects,
}

/// The sections of the current version, in file order.
pub const SECTIONS: [Section; 8] = [
    Section::Events,
    Section::Seals,
    Section::Checkpoints,
    Section::SealKeys,
    Section::AccessLog,
    Section::Documents,
    Section::DataKeys,
    Section::ErasedSubjects,
];

/// The sections of a file of `version` (between [`OLDEST_VERSION`] and [`VERSION`]),
/// in file order: each version only added sections at the end.
pub fn sections(version: u32) -> &'static [Section] {
    if version < 2 {
        &SECTIONS[..6]
    } else {
        &SECTIONS
    }
}

/// The line opening a section.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SectionStart {
    pub section: Section,
    pub count: u64,
}

/// The last line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trailer {
    pub end: bool,
    pub sha256: String,
}

/// One event, every column but `transaction_id` (a restore renumbers transactions,
/// keeping their order: see [`mod@crate::restore`]). File order is commit order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventLine {
    pub global_position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub event_id: Uuid,
    pub recorded_at_us: i64,
    pub payload: String,
    pub metadata: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealLine {
    pub global_position: i64,
    pub chain_index: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_id: Uuid,
    /// Hex.
    pub aggregate_hash: String,
    /// Hex.
    pub chain_hash: String,
    pub sealed_at_us: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointLine {
    pub upto_global_position: i64,
    pub events_count: i64,
    /// Hex.
    pub chain_hash: String,
    pub key_id: String,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealKeyLine {
    pub key_id: String,
    pub keyed: bool,
    pub from_chain_index: i64,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessLine {
    pub id: i64,
    pub at_us: i64,
    pub user_name: String,
    pub role: String,
    pub customer_id: String,
    pub what: String,
    pub purpose: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentLine {
    pub sha256: String,
    pub media_type: String,
    pub stored_at_us: i64,
    /// Base64 (standard alphabet, padded).
    pub content: String,
}

/// One data key: a row of `keys.<category>`, still wrapped by the master key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataKeyLine {
    pub category: DataCategory,
    pub subject_id: Uuid,
    /// The id of the master key that wrapped it.
    pub master_key_id: String,
    /// Base64 (standard alphabet, padded) of the wrapped key.
    pub wrapped: String,
    pub created_at_us: i64,
}

/// One erased subject: a row of `keys.erased`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErasedLine {
    pub subject_id: Uuid,
    pub erased_at_us: i64,
    /// The legal basis and request reference (never the person's data).
    pub reason: String,
    pub erased_by: String,
}
