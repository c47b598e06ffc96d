//! The event repository: postgres-es for reads, a one-statement append for writes.

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

use crate::crypto::keyring::EventRef;
use crate::crypto::{KeyError, Keyring, MasterKeys};
use crate::notify::AppendSignal;

/// Appends all the events of one command in a single autocommit statement.
///
/// postgres-es sends `BEGIN`, one `INSERT` per event and `COMMIT`: four round trips
/// for a one-event command. One `INSERT ... SELECT FROM unnest(...)` is atomic on its
/// own and costs one. The primary key `(aggregate_type, aggregate_id, sequence)`
/// still decides optimistic concurrency: of two commands that loaded the same
/// version, the second to commit violates it and nothing of it is written.
const APPEND: &str = "
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id)
SELECT t.aggregate_type, t.aggregate_id, t.sequence, t.event_type, t.event_version, t.payload::json, t.metadata::json, t.event_id
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
    AS t(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id)";

/// Namespace of event ids (UUIDv5 of `"<aggregate_type>:<aggregate_id>:<sequence>"`).
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6531_6576_656e_7473_0000_0000_0001);

/// The id of the event at `sequence` of an aggregate.
///
/// Deterministic, so that whoever holds a reference to an event (a re-publish after a
/// crash, a re-run import, a causation id) names it the same way.
pub fn event_id(aggregate_type: &str, aggregate_id: &str, sequence: usize) -> Uuid {
    Uuid::new_v5(
        &EVENT_ID_NAMESPACE,
        format!("{aggregate_type}:{aggregate_id}:{sequence}").as_bytes(),
    )
}

/// The event store's repository (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct EventRepository {
    reads: Arc<PostgresEventRepository>,
    pool: PgPool,
    signal: Option<AppendSignal>,
    keyring: Option<Keyring>,
}

impl std::fmt::Debug for EventRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRepository").finish_non_exhaustive()
    }
}

impl EventRepository {
    /// A repository that wakes nobody after appends (readers then find new events
    /// by polling): for tools and tests.
    pub fn new(pool: PgPool) -> Self {
        Self {
            reads: Arc::new(PostgresEventRepository::new(pool.clone())),
            pool,
            signal: None,
            keyring: None,
        }
    }

    /// The repository a process commands through: it pokes the process's append
    /// signal after every append (so the relay publishes at once) and, with
    /// `master_keys`, seals personal fields with every category's key. `lae serve`
    /// and `lae reactors` both build theirs here.
    pub fn for_commands(pool: PgPool, master_keys: Option<Arc<MasterKeys>>) -> Self {
        let events = Self::new(pool.clone()).with_signal(AppendSignal::spawn(pool));
        match master_keys {
            Some(masters) => events.with_keyring(Keyring::all(masters)),
            None => events,
        }
    }

    /// A repository that seals personal fields on append and opens them on read
    /// (see [`crate::crypto`]). Without one, payloads are stored as given: tools,
    /// tests of the store itself, and the encryption-off benchmark.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The keyring, if personal fields are sealed.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// A repository that pokes `signal` after every append, so that the relay
    /// publishes without waiting for its next poll.
    pub fn with_signal(mut self, signal: AppendSignal) -> Self {
        self.signal = Some(signal);
        self
    }

    /// Appends events (of one or several aggregates) atomically.
    pub async fn append(&self, events: &[SerializedEvent]) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let sealed = self.seal(events).await?;
        let mut types = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        let mut sequences = Vec::with_capacity(n);
        let mut event_types = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadata = Vec::with_capacity(n);
        let mut event_ids = Vec::with_capacity(n);
        for (i, e) in events.iter().enumerate() {
            types.push(e.aggregate_type.as_str());
            ids.push(e.aggregate_id.as_str());
            sequences.push(
                i64::try_from(e.sequence)
                    .map_err(|err| PersistenceError::UnknownError(Box::new(err)))?,
            );
            event_types.push(e.event_type.as_str());
            versions.push(e.event_version.as_str());
            payloads.push(match &sealed {
                Some(sealed) => sealed[i].to_string(),
                None => e.payload.to_string(),
            });
            metadata.push(e.metadata.to_string());
            event_ids.push(event_id(&e.aggregate_type, &e.aggregate_id, e.sequence));
        }
        sqlx::query(APPEND)
            .bind(&types)
            .bind(&ids)
            .bind(&sequences)
            .bind(&event_types)
            .bind(&versions)
            .bind(&payloads)
            .bind(&metadata)
            .bind(&event_ids)
            .execute(&self.pool)
            .await
            .map_err(map_append_error)?;
        if let Some(signal) = &self.signal {
            signal.poke();
        }
        Ok(())
    }
}

impl EventRepository {
    /// The payloads with their personal fields sealed, when a keyring is set.
    async fn seal(
        &self,
        events: &[SerializedEvent],
    ) -> Result<Option<Vec<Value>>, PersistenceError> {
        let Some(keyring) = &self.keyring else {
            return Ok(None);
        };
        let mut wanted = Vec::new();
        for e in events {
            wanted.extend(
                Keyring::needs(
                    &e.aggregate_type,
                    &e.aggregate_id,
                    &e.event_type,
                    &e.payload,
                )
                .map_err(key_error)?,
            );
        }
        // The common case, a customer whose keys this process used lately, costs no
        // round trip (not even a pool checkout, which pings the server).
        if !keyring.has_fresh(&wanted, false) {
            let mut conn = self.pool.acquire().await.map_err(map_append_error)?;
            keyring
                .provision(&mut conn, wanted)
                .await
                .map_err(key_error)?;
        }
        let mut sealed = Vec::with_capacity(events.len());
        for e in events {
            let mut payload = e.payload.clone();
            keyring
                .seal(
                    &e.aggregate_type,
                    &e.aggregate_id,
                    &e.event_type,
                    &mut payload,
                )
                .map_err(key_error)?;
            sealed.push(payload);
        }
        Ok(Some(sealed))
    }

    /// Opens the personal fields of events read back for an aggregate of type `A`.
    ///
    /// An event whose personal fields were erased (its subject's keys destroyed) keeps
    /// its place when its payload still makes an `A::Event` with the fields reading
    /// `[erased]` (free texts); otherwise it is left out of the aggregate's history.
    /// Only events of an erased customer are left out, and the customer's last event,
    /// `CustomerErased`, which carries nothing personal, makes its state final.
    async fn open<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let Some(keyring) = &self.keyring else {
            return Ok(events);
        };
        let wanted = Keyring::needs_to_open(events.iter().map(|e| EventRef {
            aggregate_type: &e.aggregate_type,
            aggregate_id: &e.aggregate_id,
            event_type: &e.event_type,
            payload: &e.payload,
        }))
        .map_err(|(_, e)| key_error(e))?;
        if wanted.is_empty() {
            return Ok(events);
        }
        keyring
            .load_missing(&self.pool, wanted)
            .await
            .map_err(key_error)?;
        let mut opened = Vec::with_capacity(events.len());
        for mut e in events {
            let outcome = keyring
                .open(
                    &e.aggregate_type,
                    &e.aggregate_id,
                    &e.event_type,
                    &mut e.payload,
                )
                .map_err(key_error)?;
            if outcome.is_redacted()
                && serde_json::from_value::<A::Event>(e.payload.clone()).is_err()
            {
                continue;
            }
            opened.push(e);
        }
        Ok(opened)
    }
}

/// Key errors as the store's errors; an erased subject is a caller's error, told apart
/// by [`erased_subject`].
fn key_error(err: KeyError) -> PersistenceError {
    match err {
        KeyError::Database(e) => map_append_error(e),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

/// The erased subject a store error is about, if it is about one.
pub fn erased_subject(err: &(dyn std::error::Error + 'static)) -> Option<Uuid> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(KeyError::Erased(subject)) = e.downcast_ref::<KeyError>() {
            return Some(*subject);
        }
        source = e.source();
    }
    None
}

fn map_append_error(err: sqlx::Error) -> PersistenceError {
    match &err {
        sqlx::Error::Database(db) if db.constraint() == Some("events_pkey") => {
            PersistenceError::OptimisticLockError
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => PersistenceError::ConnectionError(Box::new(err)),
        _ => PersistenceError::UnknownError(Box::new(err)),
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self.reads.get_events::<A>(aggregate_id).await?;
        self.open::<A>(events).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self
            .reads
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await?;
        self.open::<A>(events).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        // The platform runs the plain event store: cqrs-es 0.5.0 snapshots apply
        // each event twice.
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(PersistenceError::UnknownError(
                "snapshots are not supported by this store".into(),
            ));
        }
        self.append(events).await
    }

    // The replay streams hand out payloads as stored (sealed); the platform replays
    // through its own readers (projections, audit), which open them.
    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_all_events::<A>().await
    }
}

impl EventRepository {
    /// Whether an aggregate has at least one event (cross-aggregate references are
    /// checked at the edge before a command is decided).
    pub async fn exists(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = 1)",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_ids_are_stable_and_distinct() {
        let a = super::event_id("Customer", "c1", 1);
        assert_eq!(a, super::event_id("Customer", "c1", 1));
        assert_ne!(a, super::event_id("Customer", "c1", 2));
        assert_ne!(a, super::event_id("Offer", "c1", 1));
    }
}
