//! One command against one aggregate: load, decide, append.
//!
//! This is `CqrsFramework::execute_with_metadata` minus the in-process queries,
//! plus what the HTTP edge needs back: the version the aggregate reached and the
//! events that were committed. Read models are not fed from here (a crash after
//! the commit would lose their update); they follow the store through the relay.
//!
//! # The aggregate cache
//! Loading an aggregate is a round trip and a replay. The executor keeps recently
//! used aggregates in memory with their version and decides on that copy. The copy
//! may be stale (another process appended since), and that is safe because of how
//! each outcome is checked:
//! - **events decided**: the append claims `version + 1`; if another process
//!   appended since, the primary key refuses it, nothing is written, and the command
//!   is decided once more on a fresh load;
//! - **rejected, or nothing to do**: no append means no check by the key, so the
//!   command is decided again on a fresh load before that answer is given.
//!
//! So the cache saves the load on the common path without ever letting a stale copy
//! decide an outcome.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};
use lru::LruCache;

use crate::metadata::EventMetadata;
use crate::repository::EventRepository;

/// Aggregates kept in memory per executor unless configured otherwise.
pub const DEFAULT_CACHE_CAPACITY: usize = 20_000;

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
    /// The caller expected another version of the aggregate (`If-Match`).
    #[error("expected version {expected}, found {actual}")]
    VersionMismatch { expected: usize, actual: usize },
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
    cache: Option<Mutex<LruCache<String, (A, usize)>>>,
}

impl<A: Aggregate> std::fmt::Debug for CommandExecutor<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandExecutor")
            .field("aggregate", &A::TYPE)
            .field("cached", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

fn check_expected<E: std::error::Error>(
    expected: Option<usize>,
    actual: usize,
) -> Result<(), CommandError<E>> {
    match expected {
        Some(expected) if expected != actual => {
            Err(CommandError::VersionMismatch { expected, actual })
        }
        _ => Ok(()),
    }
}

/// Where the state a command is decided on came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Cache,
    Store,
}

impl<A: Aggregate + Clone> CommandExecutor<A> {
    /// An executor with an aggregate cache of [`DEFAULT_CACHE_CAPACITY`].
    pub fn new(repository: EventRepository, services: A::Services) -> Self {
        Self::with_cache_capacity(repository, services, DEFAULT_CACHE_CAPACITY)
    }

    /// An executor caching up to `capacity` aggregates (0: no cache, every command
    /// loads its aggregate from the store).
    pub fn with_cache_capacity(
        repository: EventRepository,
        services: A::Services,
        capacity: usize,
    ) -> Self {
        Self {
            store: PersistedEventStore::new_event_store(repository),
            services,
            cache: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    /// Loads (or recalls) the aggregate, lets it decide, appends what it decided.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Committed<A>, CommandError<A::Error>>
    where
        A::Command: Clone,
    {
        self.execute_expecting(aggregate_id, command, metadata, None)
            .await
    }

    /// Like [`execute`](Self::execute), but only if the aggregate is still at
    /// `expected` (the version the caller last saw): otherwise
    /// [`CommandError::VersionMismatch`] or [`CommandError::Conflict`], never a retry.
    /// This is what protects a user's edit from silently replacing a change they never saw.
    pub async fn execute_expecting(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
        expected: Option<usize>,
    ) -> Result<Committed<A>, CommandError<A::Error>>
    where
        A::Command: Clone,
    {
        let recalled = self
            .recall(aggregate_id)
            .filter(|c| expected.is_none_or(|v| v == c.current_sequence));
        let (context, origin) = match recalled {
            Some(context) => (context, Origin::Cache),
            None => (
                self.store.load_aggregate(aggregate_id).await?,
                Origin::Store,
            ),
        };
        check_expected(expected, context.current_sequence)?;
        if origin == Origin::Store {
            return self.decide_and_append(context, command, metadata).await;
        }
        // Only a decision taken on a cached copy may have to be taken again: keep the
        // command for that, and only then.
        let outcome = self
            .decide_and_append(context, command.clone(), metadata)
            .await;
        match outcome {
            // The primary key accepted the append: the cached copy was current.
            Ok(committed) if !committed.events.is_empty() => Ok(committed),
            Err(CommandError::Store(e)) => Err(CommandError::Store(e)),
            // The caller's version is gone: that is their conflict, not staleness.
            Err(CommandError::Conflict) if expected.is_some() => Err(CommandError::Conflict),
            // Appended nothing, rejected, or lost the race: decide again on what the
            // store holds now.
            _ => {
                self.forget(aggregate_id);
                let fresh = self.store.load_aggregate(aggregate_id).await?;
                check_expected(expected, fresh.current_sequence)?;
                self.decide_and_append(fresh, command, metadata).await
            }
        }
    }

    async fn decide_and_append(
        &self,
        mut context: EventStoreAggregateContext<A>,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<Committed<A>, CommandError<A::Error>> {
        let aggregate_id = context.aggregate_id.clone();
        let loaded_version = context.current_sequence;
        let sink = EventSink::default();
        let decided = context
            .aggregate
            .handle(command, &self.services, &sink)
            .await;
        if let Err(rejection) = decided {
            // The state was not changed by a rejected command, but `handle` had it
            // mutably: do not cache what it left.
            self.forget(&aggregate_id);
            return Err(CommandError::Rejected(rejection));
        }
        let decided = sink.collect().await;
        if decided.is_empty() {
            self.remember(&aggregate_id, context.aggregate, loaded_version);
            return Ok(Committed {
                aggregate_id,
                version: loaded_version,
                events: Vec::new(),
            });
        }
        // `EventSink::write` already applied the events: this is the state after them.
        let after = self.cache.as_ref().map(|_| context.aggregate.clone());
        let committed = self.store.commit(decided, context, metadata.to_map()).await;
        let events = match committed {
            Ok(events) => events,
            Err(e) => {
                self.forget(&aggregate_id);
                return Err(e.into());
            }
        };
        let version = events.last().map_or(loaded_version, |e| e.sequence);
        if let Some(after) = after {
            self.remember(&aggregate_id, after, version);
        }
        Ok(Committed {
            aggregate_id,
            version,
            events,
        })
    }

    /// The aggregate's current state and version (0 when it has no event), always
    /// from the store.
    pub async fn load(&self, aggregate_id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let context = self.store.load_aggregate(aggregate_id).await?;
        Ok((context.aggregate, context.current_sequence))
    }

    fn recall(&self, aggregate_id: &str) -> Option<EventStoreAggregateContext<A>> {
        let cache = self.cache.as_ref()?;
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (aggregate, version) = cache.get(aggregate_id)?.clone();
        Some(EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate,
            current_sequence: version,
            current_snapshot: None,
        })
    }

    fn remember(&self, aggregate_id: &str, aggregate: A, version: usize) {
        if let Some(cache) = &self.cache {
            let mut cache = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.put(aggregate_id.to_owned(), (aggregate, version));
        }
    }

    fn forget(&self, aggregate_id: &str) {
        if let Some(cache) = &self.cache {
            let mut cache = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.pop(aggregate_id);
        }
    }
}
