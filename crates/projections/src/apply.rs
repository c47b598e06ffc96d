//! Applying a batch of envelopes to a department's schema, idempotently, inside the
//! caller's transaction.
//!
//! # Idempotency of the four departments that hold customer data
//! Each schema's `applied` table holds the last sequence applied per aggregate. For each
//! envelope, in order: a sequence at or below it is a redelivery and changes nothing; the
//! next one is applied; one further ahead means an earlier event has not arrived yet, and
//! is held back (the projector NAKs it with a delay, so it comes back after the missing
//! one). The bookkeeping rows of the batch's aggregates are read `FOR UPDATE` first, so
//! two projectors racing on one aggregate serialise, and every read-model row belongs to
//! one aggregate, so that lock protects it too. (An aggregate seen for the first time has
//! no row to lock yet; two racing projectors then compute the same rows from the same
//! event and the same empty state, and every write is a whole-row upsert or an
//! insert-if-absent, so the outcome is the same.)
//!
//! Holding back rather than insisting on strict stream order keeps a projector going when
//! JetStream redelivers out of order (after a NAK, a crash, or with several messages in
//! flight) and when the relay re-publishes an old event after its de-duplication window:
//! order only matters within an aggregate, and that order is the sequence.
//!
//! # Sealed payloads
//! Before decoding, the batch's sealed payloads are parsed once and the keys they need
//! are loaded in one query per category, on the batch's own connection: the projector's
//! writer role, whose grants on `keys.*` decide what it may read (see [`crate::decode`]).
//! An event left without the data this department needs (erased, or withheld from it)
//! is [`Verdict::Redacted`]: skipped, its sequence recorded, nothing held back.
//!
//! # Management
//! Management holds no aggregate id (see migration 0003): it claims each event's global
//! position in `applied_positions` and counts the events whose position it claimed.
//! Counting is commutative, so it needs no order at all.

use std::collections::{HashMap, HashSet};

use lae_store::crypto::KeyError;
use lae_store::db::quote_ident;
use sqlx::PgConnection;

use crate::decode::{DecodeError, Decoded, Decoder, Detached, Payload};
use crate::department::Department;
use crate::departments::{self, indicators, management};
use crate::envelope::Envelope;

/// What a batch did with one envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Applied to the read model.
    Applied,
    /// Already applied (a redelivery or a re-publish): nothing changed.
    Duplicate,
    /// An earlier event of the same aggregate has not been applied yet: held back.
    Gap,
    /// The payload cannot be decoded by this version of the code: held back, and every
    /// later event of its aggregate with it, until a projector that reads it is deployed.
    Undecodable,
    /// The department does not follow this aggregate type.
    Ignored,
    /// Its personal fields were erased, or are withheld from this department, and
    /// what is left is no event it can apply: skipped, its sequence recorded as
    /// applied so that the aggregate's later events go on.
    Redacted,
}

/// Why a batch could not be applied; it is rolled back (and retried by a projector).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// PostgreSQL failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The keys of the batch's sealed fields could not be used (a master key that is
    /// not configured, a wrapped key that does not unwrap).
    #[error("data keys: {0}")]
    Keys(KeyError),
}

impl From<KeyError> for ApplyError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Database(e) => Self::Database(e),
            other => Self::Keys(other),
        }
    }
}

impl Verdict {
    /// Whether the message is done with (acknowledged) rather than to be redelivered.
    #[must_use]
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Gap | Self::Undecodable)
    }
}

/// Applies `envelopes` (in delivery order) to `schema`, which holds `decoder`'s
/// department's tables, and returns one verdict per envelope. Runs inside the caller's
/// transaction: the read model and its bookkeeping change together or not at all.
///
/// The first statement always touches the schema's bookkeeping table: a rebuild pauses
/// live projectors by locking that table (see [`crate::rebuild`]).
pub async fn apply(
    conn: &mut PgConnection,
    decoder: &Decoder,
    schema: &str,
    envelopes: &[Envelope],
) -> Result<Vec<Verdict>, ApplyError> {
    let department = decoder.department();
    if !envelopes
        .iter()
        .any(|e| department.follows(&e.aggregate_type))
    {
        return Ok(vec![Verdict::Ignored; envelopes.len()]);
    }
    if department == Department::Management {
        Ok(apply_counts(conn, schema, envelopes, false).await?)
    } else {
        apply_in_sequence(conn, decoder, schema, envelopes, None, None).await
    }
}

/// The bookkeeping of a rebuild's replay, kept in memory.
///
/// A replay reads the store in commit order into a fresh copy that nothing else writes,
/// so the per-batch locking and rewriting of `applied` that protects the live projector
/// buys nothing there and would double the replay's writes. The last sequences are kept
/// here instead (the verdicts are computed exactly as live) and written to the copy in
/// bulk by [`Replay::flush`]: when many are pending, and before the replay hands over to
/// the final catch-up, which goes through [`apply`] and reads them back. Management's
/// positions are inserted without a conflict check, since the store yields each once.
#[derive(Debug)]
pub struct Replay {
    last: HashMap<(String, String), i64>,
    pending: HashSet<(String, String)>,
    flushed: bool,
    flush_at: usize,
}

impl Default for Replay {
    fn default() -> Self {
        Self::new(500_000)
    }
}

impl Replay {
    /// Bookkeeping that is flushed once `flush_at` aggregates are pending (bounds the
    /// replay's memory).
    #[must_use]
    pub fn new(flush_at: usize) -> Self {
        Self {
            last: HashMap::new(),
            pending: HashSet::new(),
            flushed: false,
            flush_at: flush_at.max(1),
        }
    }

    /// Writes the pending last sequences to `schema`'s `applied` table.
    pub async fn flush(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
    ) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let keys: HashSet<Key<'_>> = self
            .pending
            .iter()
            .map(|(t, i)| (t.as_str(), i.as_str()))
            .collect();
        let last: HashMap<Key<'_>, i64> = self
            .last
            .iter()
            .map(|((t, i), s)| ((t.as_str(), i.as_str()), *s))
            .collect();
        store_last_sequences(conn, schema, &keys, &last).await?;
        self.pending.clear();
        // Everything is in the table now: forget it, so memory stays bounded.
        self.last.clear();
        self.flushed = true;
        Ok(())
    }
}

/// [`apply`] for a rebuild's replay, with the bookkeeping in `replay` (see [`Replay`]).
pub async fn apply_replay(
    conn: &mut PgConnection,
    decoder: &Decoder,
    schema: &str,
    envelopes: &[Envelope],
    replay: &mut Replay,
) -> Result<Vec<Verdict>, ApplyError> {
    apply_replay_decoded(conn, decoder, schema, envelopes, replay, None).await
}

/// [`apply_replay`] of a batch decoded ahead by [`decode_batch`] (`None`: decoded
/// here).
pub async fn apply_replay_decoded(
    conn: &mut PgConnection,
    decoder: &Decoder,
    schema: &str,
    envelopes: &[Envelope],
    replay: &mut Replay,
    decoded: Option<DecodedBatch>,
) -> Result<Vec<Verdict>, ApplyError> {
    let department = decoder.department();
    if department == Department::Management {
        Ok(apply_counts(conn, schema, envelopes, true).await?)
    } else {
        let verdicts = apply_in_sequence(
            conn,
            decoder,
            schema,
            envelopes,
            Some(&mut *replay),
            decoded,
        )
        .await?;
        if replay.pending.len() >= replay.flush_at {
            replay.flush(conn, schema).await?;
        }
        Ok(verdicts)
    }
}

type Key<'a> = (&'a str, &'a str);

async fn apply_in_sequence(
    conn: &mut PgConnection,
    decoder: &Decoder,
    schema: &str,
    envelopes: &[Envelope],
    replay: Option<&mut Replay>,
    decoded: Option<DecodedBatch>,
) -> Result<Vec<Verdict>, ApplyError> {
    let department = decoder.department();
    let mut keys: Vec<Key<'_>> = envelopes
        .iter()
        .filter(|e| department.follows(&e.aggregate_type))
        .map(|e| (e.aggregate_type.as_str(), e.aggregate_id.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut last = match replay.as_deref() {
        None => load_last_sequences(conn, schema, &keys, true).await?,
        Some(replay) => {
            let mut known = HashMap::with_capacity(keys.len());
            let mut missing = Vec::new();
            for key in &keys {
                match replay.last.get(&(key.0.to_owned(), key.1.to_owned())) {
                    Some(sequence) => {
                        known.insert(*key, *sequence);
                    }
                    None => missing.push(*key),
                }
            }
            if replay.flushed && !missing.is_empty() {
                known.extend(load_last_sequences(conn, schema, &missing, false).await?);
            }
            known
        }
    };

    let mut ahead = match decoded {
        Some(decoded) => decoded.attach(envelopes),
        None => {
            let payloads = read_payloads(conn, decoder, envelopes, &last).await?;
            decode_ahead(decoder, envelopes, payloads)
        }
    };

    let mut verdicts = Vec::with_capacity(envelopes.len());
    let mut decoded: Vec<Decoded<'_>> = Vec::new();
    let mut advanced: HashSet<Key<'_>> = HashSet::new();
    for (envelope, ahead) in envelopes.iter().zip(ahead.iter_mut()) {
        if !department.follows(&envelope.aggregate_type) {
            verdicts.push(Verdict::Ignored);
            continue;
        }
        let key = (
            envelope.aggregate_type.as_str(),
            envelope.aggregate_id.as_str(),
        );
        let previous = last.get(&key).copied().unwrap_or(0);
        let verdict = if envelope.sequence <= previous {
            Verdict::Duplicate
        } else if envelope.sequence > previous + 1 {
            Verdict::Gap
        } else if departments::uses(department, &envelope.aggregate_type, &envelope.event_type) {
            // Decoded ahead for every event that can be new; decoded here otherwise.
            let outcome = ahead
                .take()
                .unwrap_or_else(|| decoder.decode_read(envelope, Payload::read(envelope)));
            match outcome {
                Ok(d) => {
                    decoded.push(d);
                    Verdict::Applied
                }
                Err(DecodeError::Redacted {
                    erased, withheld, ..
                }) => {
                    // Expected after an erasure, or where a role may not read a category:
                    // nothing to apply, nothing to hold back.
                    tracing::debug!(
                        department = %department,
                        event_id = %envelope.event_id,
                        event_type = %envelope.event_type,
                        erased,
                        withheld,
                        "skipped a redacted event"
                    );
                    Verdict::Redacted
                }
                Err(error) => {
                    // The event id and type name the event; the payload is never logged.
                    tracing::warn!(
                        department = %department,
                        event_id = %envelope.event_id,
                        event_type = %envelope.event_type,
                        %error,
                        "cannot decode an event: it and its aggregate's later events are held back"
                    );
                    Verdict::Undecodable
                }
            }
        } else {
            // An event of a followed aggregate that this department does not read:
            // recording its sequence is all there is to do.
            Verdict::Applied
        };
        if matches!(verdict, Verdict::Applied | Verdict::Redacted) {
            last.insert(key, envelope.sequence);
            advanced.insert(key);
        }
        verdicts.push(verdict);
    }

    departments::write(department, conn, schema, &decoded).await?;
    for subject in decoded.iter().filter_map(Decoded::erased_customer) {
        decoder.forget(subject);
    }
    match replay {
        None => store_last_sequences(conn, schema, &advanced, &last).await?,
        Some(replay) => {
            for key in advanced {
                if let Some(sequence) = last.get(&key) {
                    let owned = (key.0.to_owned(), key.1.to_owned());
                    replay.last.insert(owned.clone(), *sequence);
                    replay.pending.insert(owned);
                }
            }
        }
    }
    Ok(verdicts)
}

/// Reads ahead the payloads of the events that may be decoded (followed, used, and
/// after the aggregate's last applied sequence), and loads the keys their sealed fields
/// need: one query per category for the whole batch, on `conn`, so that the database's
/// grants to the connection's role limit what can be read. Each payload is parsed here
/// once and decoded from that parse.
async fn read_payloads<'a>(
    conn: &mut PgConnection,
    decoder: &Decoder,
    envelopes: &'a [Envelope],
    last: &HashMap<Key<'_>, i64>,
) -> Result<Vec<Option<Payload<'a>>>, ApplyError> {
    let department = decoder.department();
    let mut payloads = Vec::with_capacity(envelopes.len());
    let mut wanted = Vec::new();
    let mut sealed = false;
    for envelope in envelopes {
        let key = (
            envelope.aggregate_type.as_str(),
            envelope.aggregate_id.as_str(),
        );
        let may_decode = department.follows(&envelope.aggregate_type)
            && envelope.sequence > last.get(&key).copied().unwrap_or(0)
            && departments::uses(department, &envelope.aggregate_type, &envelope.event_type);
        if !may_decode {
            payloads.push(None);
            continue;
        }
        let payload = Payload::read(envelope);
        if payload.is_sealed() {
            sealed = true;
            wanted.extend(payload.needs(envelope));
        }
        payloads.push(Some(payload));
    }
    if sealed {
        match decoder.keyring() {
            Some(keyring) => keyring.load(conn, wanted).await?,
            // Not an error (a decoder without keys reads sealed fields as withheld),
            // but a projector deployed without its master key loses personal data
            // until it is rebuilt with one: say so on every batch.
            None => tracing::warn!(
                department = %department,
                "sealed personal fields and no master key (LAE_MASTER_KEY): they read as withheld"
            ),
        }
    }
    Ok(payloads)
}

/// A batch decoded ahead of its application, apart from its envelopes, so that it
/// can be decoded on another thread while the previous batch is written (a rebuild's
/// replay): one entry per envelope, `None` for those the department does not read.
#[derive(Debug)]
pub struct DecodedBatch(Vec<Option<Result<Detached, DecodeError>>>);

impl DecodedBatch {
    /// Back beside the envelopes it was decoded from.
    fn attach(self, envelopes: &[Envelope]) -> Vec<Option<Result<Decoded<'_>, DecodeError>>> {
        self.0
            .into_iter()
            .zip(envelopes)
            .map(|(entry, envelope)| entry.map(|r| r.map(|d| d.attach(envelope))))
            .collect()
    }
}

/// Loads over `conn` the keys, then decodes, every envelope of `envelopes` that
/// `decoder`'s department reads, whatever has been applied already (in a replay,
/// nearly everything is new; decoding a duplicate costs time, nothing else): the work
/// of [`apply`] before it writes, for a batch that has not been applied yet. The keys
/// are loaded with `conn`'s role, whose grants decide, as for [`apply`].
pub async fn decode_batch(
    conn: &mut PgConnection,
    decoder: &Decoder,
    envelopes: &[Envelope],
) -> Result<DecodedBatch, ApplyError> {
    // No sequence is known to be applied: every event the department reads is decoded.
    let payloads = read_payloads(conn, decoder, envelopes, &HashMap::new()).await?;
    Ok(DecodedBatch(
        decode_ahead(decoder, envelopes, payloads)
            .into_iter()
            .map(|entry| entry.map(|r| r.map(Decoded::detach)))
            .collect(),
    ))
}

/// Below this many payloads to decode, a batch is decoded on the calling thread alone.
const PARALLEL_DECODE_FROM: usize = 512;
/// At most this many threads decode one batch.
const MAX_DECODE_THREADS: usize = 4;

/// Decodes the payloads read ahead, in envelope order. Decoding (and opening sealed
/// envelopes) is the costliest part of applying a large batch, and it is pure: a large
/// batch (a rebuild's, see [`decode_batch`]) is decoded on several threads; small ones
/// (the live projector's) on the calling thread.
fn decode_ahead<'a>(
    decoder: &Decoder,
    envelopes: &'a [Envelope],
    payloads: Vec<Option<Payload<'a>>>,
) -> Vec<Option<Result<Decoded<'a>, DecodeError>>> {
    let decode = |(envelope, payload): (&'a Envelope, Option<Payload<'a>>)| {
        payload.map(|p| decoder.decode_read(envelope, p))
    };
    let wanted = payloads.iter().filter(|p| p.is_some()).count();
    let threads = if wanted < PARALLEL_DECODE_FROM {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_DECODE_THREADS)
    };
    if threads <= 1 {
        return envelopes.iter().zip(payloads).map(decode).collect();
    }
    let size = envelopes.len().div_ceil(threads);
    let mut payloads = payloads.into_iter();
    let mut chunks: Vec<(&'a [Envelope], Vec<Option<Payload<'a>>>)> = envelopes
        .chunks(size)
        .map(|chunk| (chunk, payloads.by_ref().take(chunk.len()).collect()))
        .collect();
    let last = chunks.pop();
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(chunk, payloads)| {
                scope.spawn(move || chunk.iter().zip(payloads).map(decode).collect::<Vec<_>>())
            })
            .collect();
        // The calling thread takes the last chunk.
        let tail: Vec<_> = last
            .into_iter()
            .flat_map(|(chunk, payloads)| chunk.iter().zip(payloads).map(decode))
            .collect();
        let mut all = Vec::with_capacity(envelopes.len());
        for handle in handles {
            all.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        all.extend(tail);
        all
    })
}

async fn load_last_sequences<'a>(
    conn: &mut PgConnection,
    schema: &str,
    keys: &[Key<'a>],
    lock: bool,
) -> Result<HashMap<Key<'a>, i64>, sqlx::Error> {
    let (types, ids): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    // Locked in a fixed order, so that two projectors on overlapping batches wait for
    // each other instead of deadlocking.
    let sql = format!(
        "SELECT a.aggregate_type, a.aggregate_id, a.last_sequence FROM {}.applied a \
         JOIN unnest($1::text[], $2::text[]) AS k(aggregate_type, aggregate_id) \
           USING (aggregate_type, aggregate_id) {}",
        quote_ident(schema),
        if lock {
            "ORDER BY a.aggregate_type, a.aggregate_id FOR UPDATE OF a"
        } else {
            ""
        }
    );
    let rows: Vec<(String, String, i64)> = sqlx::query_as(&sql)
        .bind(&types)
        .bind(&ids)
        .fetch_all(conn)
        .await?;
    let mut last = HashMap::with_capacity(keys.len());
    for (aggregate_type, aggregate_id, sequence) in rows {
        if let Some(key) = keys
            .binary_search(&(aggregate_type.as_str(), aggregate_id.as_str()))
            .ok()
            .and_then(|i| keys.get(i))
        {
            last.insert(*key, sequence);
        }
    }
    Ok(last)
}

async fn store_last_sequences(
    conn: &mut PgConnection,
    schema: &str,
    advanced: &HashSet<Key<'_>>,
    last: &HashMap<Key<'_>, i64>,
) -> Result<(), sqlx::Error> {
    if advanced.is_empty() {
        return Ok(());
    }
    let mut types = Vec::with_capacity(advanced.len());
    let mut ids = Vec::with_capacity(advanced.len());
    let mut sequences = Vec::with_capacity(advanced.len());
    for key in advanced {
        if let Some(sequence) = last.get(key) {
            types.push(key.0);
            ids.push(key.1);
            sequences.push(*sequence);
        }
    }
    let sql = format!(
        "INSERT INTO {}.applied AS a (aggregate_type, aggregate_id, last_sequence) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) \
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence",
        quote_ident(schema)
    );
    sqlx::query(&sql)
        .bind(&types)
        .bind(&ids)
        .bind(&sequences)
        .execute(conn)
        .await?;
    Ok(())
}

async fn apply_counts(
    conn: &mut PgConnection,
    schema: &str,
    envelopes: &[Envelope],
    replay: bool,
) -> Result<Vec<Verdict>, sqlx::Error> {
    let department = Department::Management;
    let positions: Vec<i64> = envelopes
        .iter()
        .filter(|e| department.follows(&e.aggregate_type))
        .map(|e| e.global_position)
        .collect();
    // First statement: the claim (the rebuild's pause waits on it).
    let mut claimed = if replay {
        management::record_positions(conn, schema, &positions).await?
    } else {
        management::claim_positions(conn, schema, &positions).await?
    };
    let keys: Vec<(&str, &str)> = envelopes
        .iter()
        .filter(|e| claimed.contains(&e.global_position))
        .map(|e| (e.aggregate_type.as_str(), e.aggregate_id.as_str()))
        .collect();
    let mut last = management::last_sequences(conn, schema, &keys).await?;
    let mut counted = Vec::new();
    let mut held = Vec::new();
    let verdicts = envelopes
        .iter()
        .map(|e| {
            if !department.follows(&e.aggregate_type) {
                return Verdict::Ignored;
            }
            if !claimed.remove(&e.global_position) {
                return Verdict::Duplicate;
            }
            let previous = last
                .entry((e.aggregate_type.clone(), e.aggregate_id.clone()))
                .or_insert(0);
            if e.sequence <= *previous {
                Verdict::Duplicate
            } else if e.sequence > *previous + 1 {
                // An earlier event of the aggregate is still to come: unclaimed, it is
                // counted when it is delivered again after that one.
                held.push(e.global_position);
                Verdict::Gap
            } else {
                *previous = e.sequence;
                counted.push(e);
                Verdict::Applied
            }
        })
        .collect();
    management::release_positions(conn, schema, &held).await?;
    management::save_sequences(conn, schema, &counted).await?;
    let facts: Vec<indicators::Fact<'_>> =
        counted.iter().map(|e| indicators::Fact::of(e)).collect();
    management::count(conn, schema, &facts).await?;
    indicators::measure(conn, schema, &facts).await?;
    Ok(verdicts)
}
