//! The platform's storage edge: the PostgreSQL event store behind cqrs-es.
//!
//! postgres-es 0.5 reads the store well but writes it with one `INSERT` per event
//! inside its own transaction, and knows no global order. This crate keeps
//! postgres-es for reading and replaces only the write path (see
//! [`repository::EventRepository`]), so that an append is one statement, one round
//! trip, and every event gets a global position and its committing transaction id.
//!
//! # Layout
//! - [`db`]: connecting, creating the database, applying `migrations/`.
//! - [`repository`]: the `PersistedEventRepository` wrapping postgres-es.
//! - [`executor`]: load, decide, append: one command against one aggregate.
//! - [`metadata`]: who, when, why: the metadata stamped on every event.
//! - [`documents`]: content-addressed storage of signed contract documents.
//! - [`notify`]: waking the relay after appends (without a trigger; see why there).

pub mod crypto;
pub mod db;
pub mod documents;
pub mod executor;
pub mod metadata;
pub mod notify;
pub mod repository;

pub use executor::{CommandError, CommandExecutor, Committed};
pub use metadata::{EventMetadata, Source};
pub use repository::{EventRepository, event_id};
