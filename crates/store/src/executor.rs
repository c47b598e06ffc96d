//! One command against one aggregate: load, decide, append.
//!
//! This is `CqrsFramework::execute_with_metadata` minus the in-process queries,
//! plus what the HTTP edge needs back: the version the aggregate reached and the
//! events that were committed. Read models are not fed from here (a crash after
//! the commit would lose their update); they follow the store through the relay.

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};

use crate::metadata::EventMetadata;
use crate::repository::EventRepository;

/// What a successful command left behind.
#[derive(Debug)]
pub struct Committed<A: Aggregate> {
    pub aggregate_id: String,
    /// The aggregate's version (sequence of its last event) after the command.
    pub version: usize,
    /// The events this command appended; empty when it changed nothing.
    pub events: Vec<EventEnvelope<A>>,
}

/// Why a command did not commit.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused the command (a domain rule).
    #[error("rejected: {0}")]
    Rejected(E),
    /// Another command committed on the same aggregate since it was loaded.
    #[error("concurrent modification")]
    Conflict,
    /// The store failed or holds something unreadable.
    #[error("store failure: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

impl<E: std::error::Error> From<AggregateError<E>> for CommandError<E> {
    fn from(err: AggregateError<E>) -> Self {
        match err {
            AggregateError::UserError(e) => Self::Rejected(e),
            AggregateError::AggregateConflict => Self::Conflict,
            AggregateError::DatabaseConnectionError(e)
            | AggregateError::DeserializationError(e)
            | AggregateError::UnexpectedError(e) => Self::Store(e),
        }
    }
}

/// Executes commands of one aggregate type against the event store.
pub struct CommandExecutor<A: Aggregate> {
    store: PersistedEventStore<EventRepository, A>,
    services: A::Services,
}

impl<A: Aggregate> std::fmt::Debug for CommandExecutor<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandExecutor")
            .field("aggregate", &A::TYPE)
            .finish_non_exhaustive()
    }
}

impl<A: Aggregate> CommandExecutor<A> {
    pub fn new(repository: EventRepository, services: A::Services) -> Self {
        Self {
            store: PersistedEventStore::new_event_store(repository),
            services,
        }
    }

    /// Loads the aggregate, lets it decide, appends what it decided.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        let mut context = self.store.load_aggregate(aggregate_id).await?;
        let loaded_version = context.current_sequence;
        let sink = EventSink::default();
        context
            .aggregate
            .handle(command, &self.services, &sink)
            .await
            .map_err(CommandError::Rejected)?;
        let decided = sink.collect().await;
        if decided.is_empty() {
            return Ok(Committed {
                aggregate_id: aggregate_id.to_owned(),
                version: loaded_version,
                events: Vec::new(),
            });
        }
        let events = self
            .store
            .commit(decided, context, metadata.to_map())
            .await?;
        let version = events.last().map_or(loaded_version, |e| e.sequence);
        Ok(Committed {
            aggregate_id: aggregate_id.to_owned(),
            version,
            events,
        })
    }

    /// The aggregate's current state and version (0 when it has no event).
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let context = self.store.load_aggregate(aggregate_id).await?;
        Ok((context.aggregate, context.current_sequence))
    }
}
