//! The import's access to the event store: bulk loads of aggregate states, signed
//! documents, and appends through [`EventRepository::append`] (one statement, atomic,
//! guarded by the primary key).

use std::collections::HashMap;

use cqrs_es::Aggregate;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use futures::TryStreamExt;
use lae_domain::CustomerId;
use lae_domain::customer::Customer;
use lae_store::EventRepository;
use lae_store::crypto::keyring::EventRef;
use lae_store::crypto::{Keyring, MasterKeys};
use sqlx::PgPool;

use crate::error::MigrateError;

/// An aggregate's state and version (sequence of its last event; 0 when it has none).
#[derive(Debug, Clone, Default)]
pub struct Slot<A> {
    pub state: A,
    pub version: usize,
}

/// A signed document to store before the event that refers to it.
#[derive(Debug, Clone)]
pub struct Document {
    pub sha256: String,
    pub content: std::sync::Arc<[u8]>,
}

/// The media type of every legacy contract document (the import checks the PDF magic).
pub const PDF: &str = "application/pdf";

/// Why an append failed.
#[derive(Debug)]
pub enum AppendFailure {
    /// Another writer appended to one of the batch's aggregates first: nothing of the
    /// batch was written, and it can be decided again on fresh states.
    Conflict,
    Failed(MigrateError),
}

/// The store, as the import uses it.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    repository: EventRepository,
}

/// Events loaded per key lookup when states are rebuilt from sealed events.
const OPEN_CHUNK: usize = 5_000;

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repository: EventRepository::new(pool.clone()),
            pool,
        }
    }

    /// Seals personal fields on append, and opens them when states are loaded.
    #[must_use]
    pub fn with_keys(self, masters: std::sync::Arc<MasterKeys>) -> Self {
        Self {
            repository: self.repository.with_keyring(Keyring::all(masters)),
            pool: self.pool,
        }
    }

    /// Parses stored payloads and opens their sealed fields (one key lookup per
    /// category for the whole chunk). The flag says some field could not be opened
    /// (an erased customer).
    async fn open_rows(
        &self,
        aggregate_type: &'static str,
        rows: Vec<(String, i64, String)>,
    ) -> Result<Vec<(String, i64, serde_json::Value, bool)>, MigrateError> {
        let unreadable = |id: &str, sequence: i64, detail: String| MigrateError::UnreadableEvent {
            aggregate_type,
            aggregate_id: id.to_owned(),
            sequence,
            detail,
        };
        let mut parsed = Vec::with_capacity(rows.len());
        for (id, sequence, payload) in rows {
            let value: serde_json::Value = serde_json::from_str(&payload)
                .map_err(|e| unreadable(&id, sequence, e.to_string()))?;
            parsed.push((id, sequence, value));
        }
        let Some(keyring) = self.repository.keyring() else {
            return Ok(parsed
                .into_iter()
                .map(|(i, s, v)| (i, s, v, false))
                .collect());
        };
        let type_of = |value: &serde_json::Value| {
            value
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let types: Vec<String> = parsed.iter().map(|(_, _, v)| type_of(v)).collect();
        let wanted = Keyring::needs_to_open(parsed.iter().zip(&types).map(
            |((id, _, payload), event_type)| EventRef {
                aggregate_type,
                aggregate_id: id,
                event_type,
                payload,
            },
        ))
        .map_err(|(i, e)| {
            let (id, sequence, _) = &parsed[i];
            unreadable(id, *sequence, e.to_string())
        })?;
        keyring
            .load_missing(&self.pool, wanted)
            .await
            .map_err(|e| MigrateError::store("loading data keys", e))?;
        let mut opened = Vec::with_capacity(parsed.len());
        for ((id, sequence, mut value), event_type) in parsed.into_iter().zip(types) {
            let outcome = keyring
                .open(aggregate_type, &id, &event_type, &mut value)
                .map_err(|e| unreadable(&id, sequence, e.to_string()))?;
            opened.push((id, sequence, value, outcome.is_redacted()));
        }
        Ok(opened)
    }

    /// Whether the store holds no event of this aggregate type at all.
    pub async fn is_empty(&self, aggregate_type: &str) -> Result<bool, MigrateError> {
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = $1)")
                .bind(aggregate_type)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| {
                    MigrateError::store(format!("checking for {aggregate_type} events"), e)
                })?;
        Ok(!any)
    }

    /// Every customer of the legacy number range in the store (`LAE-` and six digits:
    /// the platform numbers its own customers from LAE-1000000, and no legacy row can
    /// be theirs), with state and version, streamed rather than loaded as one result.
    pub async fn load_legacy_customers(
        &self,
    ) -> Result<HashMap<CustomerId, Slot<Customer>>, MigrateError> {
        let mut rows = sqlx::query_as::<_, (String, i64, String)>(
            "SELECT e.aggregate_id, e.sequence, e.payload::text
               FROM events e
               JOIN events r ON r.aggregate_type = e.aggregate_type AND r.aggregate_id = e.aggregate_id
                            AND r.sequence = 1 AND length(r.payload->>'customer_number') = 10
              WHERE e.aggregate_type = 'Customer'
              ORDER BY e.aggregate_id, e.sequence",
        )
        .fetch(&self.pool);
        let mut out: HashMap<CustomerId, Slot<Customer>> = HashMap::new();
        let mut chunk = Vec::with_capacity(OPEN_CHUNK);
        loop {
            let row = rows
                .try_next()
                .await
                .map_err(|e| MigrateError::store("loading customers", e))?;
            let done = row.is_none();
            chunk.extend(row);
            if chunk.len() < OPEN_CHUNK && !done {
                continue;
            }
            for (id, sequence, payload, redacted) in self
                .open_rows(Customer::TYPE, std::mem::take(&mut chunk))
                .await?
            {
                let customer_id =
                    id.parse::<CustomerId>()
                        .map_err(|e| MigrateError::UnreadableEvent {
                            aggregate_type: "Customer",
                            aggregate_id: id.clone(),
                            sequence,
                            detail: e.to_string(),
                        })?;
                let slot: &mut Slot<Customer> = out.entry(customer_id).or_default();
                apply::<Customer>(slot, &id, sequence, payload, redacted)?;
            }
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// The states of some aggregates of one type (absent ones are simply missing).
    pub async fn load<A: Aggregate>(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Slot<A>>, MigrateError> {
        let mut out: HashMap<String, Slot<A>> = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        let mut rows = sqlx::query_as::<_, (String, i64, String)>(
            "SELECT aggregate_id, sequence, payload::text FROM events
              WHERE aggregate_type = $1 AND aggregate_id = ANY($2)
              ORDER BY aggregate_id, sequence",
        )
        .bind(A::TYPE)
        .bind(ids)
        .fetch(&self.pool);
        let mut chunk = Vec::with_capacity(OPEN_CHUNK);
        loop {
            let row = rows
                .try_next()
                .await
                .map_err(|e| MigrateError::store(format!("loading {} aggregates", A::TYPE), e))?;
            let done = row.is_none();
            chunk.extend(row);
            if chunk.len() < OPEN_CHUNK && !done {
                continue;
            }
            for (id, sequence, payload, redacted) in
                self.open_rows(A::TYPE, std::mem::take(&mut chunk)).await?
            {
                let slot = out.entry(id.clone()).or_insert_with(|| Slot {
                    state: A::default(),
                    version: 0,
                });
                apply::<A>(slot, &id, sequence, payload, redacted)?;
            }
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// Stores signed documents in one statement (content-addressed: a document already
    /// there is left as it is). This is `lae_store::documents::put` for many documents
    /// at once, on the same table with the same digest: one statement per batch instead
    /// of one autocommitted INSERT, and so one fsync, per contract.
    pub async fn put_documents(&self, documents: &[Document]) -> Result<(), MigrateError> {
        if documents.is_empty() {
            return Ok(());
        }
        let digests: Vec<&str> = documents.iter().map(|d| d.sha256.as_str()).collect();
        let contents: Vec<&[u8]> = documents.iter().map(|d| &*d.content).collect();
        let types: Vec<&str> = vec![PDF; documents.len()];
        sqlx::query(
            "INSERT INTO contract_documents (sha256, content, media_type)
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[])
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&digests)
        .bind(&contents)
        .bind(&types)
        .execute(&self.pool)
        .await
        .map_err(|e| MigrateError::store("storing signed contract documents", e))?;
        Ok(())
    }

    /// Appends a batch of events of any aggregates, atomically.
    pub async fn append(&self, events: &[SerializedEvent]) -> Result<(), AppendFailure> {
        self.repository.append(events).await.map_err(|e| match e {
            PersistenceError::OptimisticLockError => AppendFailure::Conflict,
            other => AppendFailure::Failed(MigrateError::store("appending events", other)),
        })
    }
}

/// Applies one stored event. An event left unreadable by an erasure (`redacted`) is
/// skipped, as the store skips it when it loads the aggregate; its version still counts.
fn apply<A: Aggregate>(
    slot: &mut Slot<A>,
    id: &str,
    sequence: i64,
    payload: serde_json::Value,
    redacted: bool,
) -> Result<(), MigrateError> {
    match serde_json::from_value::<A::Event>(payload) {
        Ok(event) => slot.state.apply(event),
        Err(_) if redacted => {}
        Err(e) => {
            return Err(MigrateError::UnreadableEvent {
                aggregate_type: A::TYPE,
                aggregate_id: id.to_owned(),
                sequence,
                detail: e.to_string(),
            });
        }
    }
    slot.version = usize::try_from(sequence).unwrap_or(slot.version);
    Ok(())
}
