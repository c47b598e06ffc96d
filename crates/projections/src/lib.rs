//! Department read models: what each department may see, kept up to date from the
//! event stream and rebuildable from the event store.
//!
//! Each department (customer service, legal, sales, billing, management) has its own
//! PostgreSQL schema (migration `0003_read_models.sql`), written only by its projector
//! as `lae_<dept>_writer` and read by its API as `lae_<dept>_reader`. A projector
//! consumes the relay's JetStream stream with a durable pull consumer of its own, applies
//! batches of events in one transaction each, idempotently, and acks after the commit.
//!
//! # Layout
//! - [`department`]: the departments and the names derived from them.
//! - [`envelope`]: the relay's message as read here.
//! - [`decode`]: payload → domain event, in one place per projector, where sealed
//!   personal fields are opened with the department's keys (issue 8).
//! - [`apply`]: idempotency (per-aggregate sequence, or per global position for
//!   management) and the transaction of one batch.
//! - `departments`: one module per department writing its tables (`table` holds the
//!   typed bulk load/store they share).
//! - [`projector`]: the JetStream loop (`run_projector`, `run_all`).
//! - [`rebuild`]: replay the store into a copy of a schema and swap it in online.
//! - [`metrics`]: counters, lag, Prometheus text and status.
//! - [`bench`]: end-to-end lag and rebuild speed, beside raw PostgreSQL baselines.

pub mod apply;
pub mod bench;
pub mod config;
pub mod db;
pub mod decode;
pub mod department;
mod departments;
pub mod envelope;
pub mod error;
pub mod metrics;
pub mod nats;
pub mod projector;
pub mod rebuild;
pub mod store_reader;
mod table;

pub use apply::{ApplyError, Replay, Verdict, apply, apply_replay};
pub use config::ProjectorConfig;
pub use decode::{DecodeError, Decoded, Decoder, Event, Payload};
pub use department::Department;
pub use departments::management::{
    ChannelSatisfaction, DepartmentProductivity, Granularity, KpiPeriod, Kpis, kpi_series, kpis,
};
pub use envelope::{Envelope, EnvelopeActor};
pub use error::ProjectionError;
pub use metrics::{DepartmentMetrics, DepartmentStatus, ProjectionMetrics, ProjectionStatus};
pub use projector::{run_all, run_projector};
pub use rebuild::{RebuildOptions, RebuildReport, rebuild, rebuild_with_settings};
