//! The event relay: publishes every committed event of the PostgreSQL event store to
//! NATS JetStream (and, optionally, a RabbitMQ topic exchange), in commit order, at
//! least once, without an outbox table.
//!
//! # How it stays gap-free
//! Events are read by `(transaction_id, global_position)` and only from transactions
//! below `pg_snapshot_xmin(pg_current_snapshot())`, which have all ended: no event can
//! commit behind the checkpoint later, so none is skipped, without any timeout. Events
//! of one aggregate keep their order because the write of an aggregate's next event
//! starts after the previous one committed. A batch is published pipelined, its acks
//! awaited in order, and only then the checkpoint (one row in `relay_checkpoints`)
//! moves. A crash between publish and checkpoint re-publishes the batch; JetStream
//! drops the copies by `Nats-Msg-Id` (the event id) within the stream's duplicate
//! window. Beyond that window, and on RabbitMQ, consumers must be idempotent.
//!
//! The xmin is the cluster's: a long write transaction in any database of the server
//! holds publishing back (visible as `lae_relay_held_back` and
//! `lae_relay_oldest_unpublished_age_seconds`), never makes it skip an event.
//!
//! # Waking up
//! The store's append signal (`lae_store::notify`) notifies `lae_events` after each
//! append, from a transaction of its own (a trigger would serialize commits). The
//! relay listens, also polls every `poll_interval`, and re-polls within 50 ms while
//! events wait behind a running transaction, whose end sends no notification.
//!
//! # Running it
//! ```no_run
//! # async fn example(pool: sqlx::PgPool) -> Result<(), lae_relay::RelayError> {
//! use std::sync::Arc;
//! let metrics = Arc::new(lae_relay::RelayMetrics::new());
//! let config = lae_relay::RelayConfig::from_env();
//! let shutdown = async { tokio::signal::ctrl_c().await.ok(); };
//! lae_relay::run(pool, config, metrics.clone(), shutdown).await?;
//! // Elsewhere, on GET /metrics: metrics.render_prometheus()
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`config`]: [`RelayConfig`], from the environment.
//! - [`relay`]: the loop: leader lock, wake-ups, batches, back-off ([`Relay`], [`run`]).
//! - `reader`: the SQL: commit-order reads, backlog, checkpoint, advisory lock.
//! - `message`: an event as a message: subject, [`headers`], JSON envelope.
//! - `publisher`: the JetStream sink (pipelined publish, ordered acks, publish chain).
//! - `amqp`: the optional RabbitMQ sink (publisher confirms).
//! - [`metrics`]: [`RelayMetrics`], rendered for Prometheus.
//! - [`observer`]: hooks for benchmarks and fault injection.
//! - [`bench`](mod@bench): the relay benchmark behind `lae bench relay`.
//! - [`error`]: the relay's errors, [`RelayError`].

mod amqp;
pub mod bench;
pub mod config;
pub mod error;
mod message;
pub mod metrics;
pub mod observer;
mod publisher;
mod reader;
pub mod relay;

pub use bench::{BenchError, BenchOptions, BenchReport, bench_relay};
pub use config::RelayConfig;
pub use error::RelayError;
pub use message::headers;
pub use metrics::RelayMetrics;
pub use observer::{AckedEvent, RelayObserver};
pub use reader::Checkpoint;
pub use relay::{NOTIFY_CHANNEL, Relay, run};

/// The relay's checkpoint in the event store, `None` before its first publish.
pub async fn load_checkpoint(
    pool: &sqlx::PgPool,
    relay: &str,
) -> Result<Option<Checkpoint>, RelayError> {
    reader::load_checkpoint(pool, relay).await
}
