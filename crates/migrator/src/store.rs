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

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repository: EventRepository::new(pool.clone()),
            pool,
        }
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
        let mut out = HashMap::new();
        while let Some((id, sequence, payload)) = rows
            .try_next()
            .await
            .map_err(|e| MigrateError::store("loading customers", e))?
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
            apply::<Customer>(slot, &id, sequence, &payload)?;
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
        while let Some((id, sequence, payload)) = rows
            .try_next()
            .await
            .map_err(|e| MigrateError::store(format!("loading {} aggregates", A::TYPE), e))?
        {
            let slot = out.entry(id.clone()).or_insert_with(|| Slot {
                state: A::default(),
                version: 0,
            });
            apply::<A>(slot, &id, sequence, &payload)?;
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

fn apply<A: Aggregate>(
    slot: &mut Slot<A>,
    id: &str,
    sequence: i64,
    payload: &str,
) -> Result<(), MigrateError> {
    let event: A::Event =
        serde_json::from_str(payload).map_err(|e| MigrateError::UnreadableEvent {
            aggregate_type: A::TYPE,
            aggregate_id: id.to_owned(),
            sequence,
            detail: e.to_string(),
        })?;
    slot.state.apply(event);
    slot.version = usize::try_from(sequence).unwrap_or(slot.version);
    Ok(())
}
