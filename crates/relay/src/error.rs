//! The relay's errors.

use async_nats::jetstream::context::{CreateStreamError, PublishError};

/// Why the relay, or one of its steps, failed.
///
/// [`crate::Relay::run`] handles database and broker failures itself (it backs off and
/// tries again), so the only errors it returns are a bad configuration and a crash
/// injected by a [`crate::RelayObserver`]. [`crate::Relay::drain_once`] returns every
/// error, since a one-shot caller wants to know.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The configuration cannot work (an invalid stream name or subject prefix, ...).
    #[error("invalid relay configuration: {0}")]
    Config(String),
    /// PostgreSQL failed (reading events, the checkpoint, or the leader lock).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Another relay of the same name holds the leader lock.
    #[error("another relay named {0:?} is the leader")]
    NotLeader(String),
    /// The NATS client could not be created.
    #[error("cannot connect to NATS: {0}")]
    NatsConnect(#[from] async_nats::ConnectError),
    /// The NATS connection is down (the client reconnects in the background).
    #[error("NATS is not connected")]
    NatsNotConnected,
    /// The JetStream stream could not be found or created.
    #[error("cannot create or look up the JetStream stream: {0}")]
    NatsStream(#[from] CreateStreamError),
    /// A JetStream publish or its acknowledgement failed.
    #[error("JetStream publish failed: {0}")]
    NatsPublish(#[from] PublishError),
    /// The AMQP broker failed (connecting, declaring, publishing or confirming).
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    /// The AMQP broker did not answer in time.
    #[error("the AMQP broker did not answer in time ({0})")]
    AmqpTimeout(&'static str),
    /// The AMQP broker refused a message (a negative publisher confirm).
    #[error("the AMQP broker refused event {0} (nack)")]
    AmqpNack(uuid::Uuid),
    /// An event could not be turned into a message.
    #[error("cannot encode event {event_id}: {source}")]
    Encode {
        event_id: uuid::Uuid,
        #[source]
        source: serde_json::Error,
    },
    /// A stored transaction id was not a number (the schema is not the expected one).
    #[error("unexpected transaction id {0:?} in the event store")]
    BadTransactionId(String),
    /// A [`crate::RelayObserver`] stopped the relay between publish and checkpoint
    /// (tests use it to simulate a crash at the worst moment).
    #[error("the relay was stopped by its observer before writing the checkpoint")]
    InjectedCrash,
}
