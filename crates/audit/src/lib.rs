//! Audit of the event store: tamper evidence, verification, the customer timeline,
//! point-in-time state, export, backup and restore, and the access log of health data
//! and IBAN reads.
//!
//! The event store is append-only by grant and trigger, but a superuser can disable a
//! trigger. This crate makes such an edit *visible*: a sealer, running beside the
//! command path (never inside it), reads committed events in commit order and appends
//! a seal per event to `audit.event_seals`: a per-aggregate hash chain and a global
//! hash chain, keyed with HMAC-SHA256 by a secret that lives outside the database.
//! [`verify()`] walks events and seals and names every event that was edited, deleted,
//! reordered or inserted since it was sealed.
//!
//! Every hash is computed over the `payload` and `metadata` *text* exactly as stored
//! (the `json` column keeps the text it was given), never over a re-serialization:
//! erasing a customer by destroying the keys of their encrypted fields leaves the
//! ciphertext, and so the chain, unchanged.
//!
//! # Personal data
//!
//! The store seals every personal field with a key per customer and category
//! (`lae_store::crypto`). What auditors *read* is opened: the [`timeline()`] and
//! [`state_at()`] take the master keys ([`MasterKeys`], `None` when the caller has
//! none) and load the data keys as `lae_auditor`, in the snapshot the events were read
//! in. A field reads [`ERASED`] once its customer's keys were destroyed, [`WITHHELD`]
//! without master keys, [`UNREADABLE`] when its ciphertext was altered. What auditors
//! *replay* is stored: the [`export`] and the [`mod@backup`] keep the sealed form, the
//! exact bytes the seals hash. The backup also carries the data keys, still wrapped
//! (never the master key), so a restored platform opens its events with the same
//! master key, and restoring an old backup resurrects customers erased since: see
//! [`mod@backup`] for the remedy.
//!
//! # Layout
//! - [`key`]: the audit key (`LAE_AUDIT_KEY` / `LAE_AUDIT_KEY_FILE`) and its fingerprint.
//! - [`canonical`]: the canonical bytes of an event and the two chain hashes.
//! - `classification`: which customer an event names, which fields are personal.
//! - [`sealer`], [`sealer_loop`]: sealing a batch; the background task for `lae serve`.
//! - [`mod@verify`], `verify_walk`, [`report`]: the verification merge, its checks, its report.
//! - [`anchor`]: checkpoints published outside the database (NATS key-value bucket, file),
//!   which show a tail removed together with its seals.
//! - [`mod@timeline`], [`diff`]: a customer's history across aggregates, newest first.
//! - [`state`]: an aggregate's state at a version or a time.
//! - `personal`: opening the sealed personal fields of what those two read.
//! - [`export`]: NDJSON export in commit order, sealed as stored.
//! - [`mod@backup`], [`mod@restore`] (`restore_file`, `restore_load`), [`backup_format`]: a
//!   portable, checksummed backup file (events, seals, documents, wrapped data keys);
//!   reading it back; loading it into a store.
//! - [`mod@access_log`]: who read health data or an IBAN.
//! - [`connect`]: connecting as the audit roles (`lae_sealer`, `lae_auditor`).
//! - [`mod@bench`]: the figures of `lae bench audit`.
//!
//! After a [`restore()`], the department read models are rebuilt by the caller (the
//! projections crate's `rebuild`): a backup holds the source of truth only.

pub mod access_log;
pub mod anchor;
pub mod backup;
pub mod backup_format;
pub mod bench;
pub mod canonical;
mod classification;
pub mod connect;
pub mod diff;
pub mod error;
pub mod export;
pub mod key;
mod personal;
mod position;
pub mod report;
pub mod restore;
mod restore_file;
mod restore_load;
pub mod sealer;
pub mod sealer_loop;
pub mod state;
pub mod timeline;
mod transaction;
pub mod verify;
mod verify_walk;

pub use access_log::{
    AccessEntry, AccessFilter, AccessKind, AccessLogPage, AccessPageRequest, AccessRecord,
    access_log, log_access,
};
pub use anchor::{
    Anchor, AnchorConfig, AnchorPublisher, DEFAULT_ANCHOR_BUCKET, latest_from_file,
    latest_from_nats,
};
pub use backup::{BackupReport, backup, backup_from};
pub use connect::{AUDITOR_ROLE, SEALER_ROLE, connect_as, role_options};
pub use error::{AuditError, Result};
pub use export::{ExportRange, ExportReport, export_ndjson};
pub use key::AuditKey;
pub use lae_store::crypto::{ERASED, MasterKeys, WITHHELD};
pub use personal::UNREADABLE;
pub use report::{Problem, ProblemKind, VerifyReport};
pub use restore::{RestoreReport, restore};
pub use sealer::{SealerConfig, checkpoint_tail, seal_pending, seal_pending_with};
pub use sealer_loop::{run_sealer, run_sealer_with};
pub use state::{AggregateState, At, Redaction, StateAt, state_at, state_at_json};
pub use timeline::{TimelineCursor, TimelineEntry, TimelinePage, TimelineQuery, timeline};
pub use verify::{VerifyOptions, verify, verify_against, verify_with};
