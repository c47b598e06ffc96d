//! The checks of a verification, fed by the merge in [`crate::verify`].
//!
//! For each seal, in chain order:
//! - the global chain: `chain_hash = H(previous chain_hash || aggregate_hash)`, the
//!   numbering has no gap, checkpoints agree;
//! - the aggregate chain: the seal's sequence follows the aggregate's previous seal;
//!   the hash that seal carries is what this one's must start from.
//!
//! For each seal and the event at its global position: the event is the one sealed
//! there (same aggregate, sequence and id), and `aggregate_hash = H(previous
//! aggregate_hash || canonical bytes of the event)`. After a mismatch the walk goes on
//! from the *stored* hash, so one edit is reported once, not at every later seal.
//!
//! An event without a seal is *inserted* when it lies behind the sealer's horizon (the
//! furthest seal in commit order: the sealer passed its place without it), and
//! *pending* otherwise, a problem only when older than the grace period.
//!
//! The walk keeps one small entry per aggregate (a 128-bit key, the last sequence and
//! hash: about 64 bytes), because an aggregate's previous seal may lie anywhere earlier
//! in the chain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher as _};

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::canonical::{self, CanonicalEvent, GENESIS, hash32};
use crate::error::Result;
use crate::key::AuditKey;
use crate::position::CommitPosition;
use crate::report::{Problem, ProblemKind, Problems};

/// An event as read by the verifier, borrowed from its row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventView<'a> {
    pub position: CommitPosition,
    pub recorded_at: DateTime<Utc>,
    pub canonical: CanonicalEvent<'a>,
}

/// An event kept aside until its seal shows up (or the walk ends without one).
#[derive(Debug, Clone)]
pub(crate) struct OwnedEvent {
    position: CommitPosition,
    recorded_at: DateTime<Utc>,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    event_id: Uuid,
    payload: String,
    metadata: String,
}

impl EventView<'_> {
    pub fn to_owned(self) -> OwnedEvent {
        let c = self.canonical;
        OwnedEvent {
            position: self.position,
            recorded_at: self.recorded_at,
            aggregate_type: c.aggregate_type.to_owned(),
            aggregate_id: c.aggregate_id.to_owned(),
            sequence: c.sequence,
            event_type: c.event_type.to_owned(),
            event_version: c.event_version.to_owned(),
            event_id: c.event_id,
            payload: c.payload.to_owned(),
            metadata: c.metadata.to_owned(),
        }
    }
}

impl OwnedEvent {
    pub fn view(&self) -> EventView<'_> {
        EventView {
            position: self.position,
            recorded_at: self.recorded_at,
            canonical: CanonicalEvent {
                aggregate_type: &self.aggregate_type,
                aggregate_id: &self.aggregate_id,
                sequence: self.sequence,
                event_type: &self.event_type,
                event_version: &self.event_version,
                event_id: self.event_id,
                recorded_at_micros: self.recorded_at.timestamp_micros(),
                payload: &self.payload,
                metadata: &self.metadata,
            },
        }
    }
}

/// An event row of the verifier's events query.
pub(crate) fn event_view(row: &PgRow) -> Result<EventView<'_>> {
    let recorded_at: DateTime<Utc> = row.try_get(8)?;
    Ok(EventView {
        position: CommitPosition::parse(row.try_get(0)?, row.try_get(1)?)?,
        recorded_at,
        canonical: CanonicalEvent {
            aggregate_type: row.try_get(2)?,
            aggregate_id: row.try_get(3)?,
            sequence: row.try_get(4)?,
            event_id: row.try_get(5)?,
            event_type: row.try_get(6)?,
            event_version: row.try_get(7)?,
            recorded_at_micros: recorded_at.timestamp_micros(),
            payload: row.try_get(9)?,
            metadata: row.try_get(10)?,
        },
    })
}

/// The commit position of a row of the verifier's seals query.
pub(crate) fn seal_position(row: &PgRow) -> Result<CommitPosition> {
    CommitPosition::parse(row.try_get(1)?, row.try_get(2)?)
}

/// A seal, checked in chain order, waiting for its event. It borrows its texts from
/// the row while it is paired in place, the common case; a seal kept aside owns them.
#[derive(Debug, Clone)]
pub(crate) struct SealCheck<'r> {
    pub chain_index: i64,
    pub global_position: i64,
    aggregate_type: Cow<'r, str>,
    aggregate_id: Cow<'r, str>,
    sequence: i64,
    event_id: Uuid,
    /// The aggregate hash this seal's must follow from.
    previous: [u8; 32],
    aggregate_hash: [u8; 32],
    /// Whether the seal's chain hash followed from the previous seal.
    chain_ok: bool,
}

impl SealCheck<'_> {
    /// The same check, owning its texts.
    pub fn into_owned(self) -> SealCheck<'static> {
        SealCheck {
            aggregate_type: Cow::Owned(self.aggregate_type.into_owned()),
            aggregate_id: Cow::Owned(self.aggregate_id.into_owned()),
            ..self
        }
    }

    fn problem(&self, kind: ProblemKind, detail: impl Into<String>) -> Problem {
        Problem::new(kind, detail)
            .at(&self.aggregate_type, &self.aggregate_id, self.sequence)
            .position(self.global_position)
            .chain(self.chain_index)
    }
}

/// What the walk remembers of an aggregate.
#[derive(Clone, Copy)]
struct AggregateTail {
    /// The last sequence seen (sealed, or unsealed after the horizon).
    sequence: i64,
    /// The aggregate hash of its last seal.
    hash: [u8; 32],
}

/// A compact key for an aggregate: two independent 64-bit SipHashes of its type and
/// id. A collision (about 2^-64 per pair) could only produce a false alarm, never hide
/// an edit: the hashes themselves are still compared.
fn aggregate_key(aggregate_type: &str, aggregate_id: &str) -> u128 {
    let mut a = DefaultHasher::new();
    aggregate_type.hash(&mut a);
    aggregate_id.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x5eed_u16.hash(&mut b);
    aggregate_type.hash(&mut b);
    aggregate_id.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// The state of a verification.
pub(crate) struct Walk<'k> {
    key: &'k AuditKey,
    check_hashes: bool,
    checkpoints: HashMap<i64, (i64, [u8; 32])>,
    now: DateTime<Utc>,
    grace: chrono::Duration,
    chain: [u8; 32],
    next_index: i64,
    aggregates: HashMap<u128, AggregateTail>,
    pub last_index: Option<i64>,
    /// The furthest seal in commit order.
    pub horizon: Option<CommitPosition>,
    pub seals: u64,
    pub events: u64,
    pub pending: u64,
    pub checkpoints_checked: u64,
    /// The chain index an anchor names, and what the chain holds there: its seal's
    /// global position and chain hash.
    pub watch: Option<i64>,
    pub watched: Option<(i64, [u8; 32])>,
}

impl<'k> Walk<'k> {
    pub fn new(
        key: &'k AuditKey,
        check_hashes: bool,
        checkpoints: HashMap<i64, (i64, [u8; 32])>,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Self {
        Self {
            key,
            check_hashes,
            checkpoints,
            now,
            grace,
            chain: GENESIS,
            next_index: 1,
            aggregates: HashMap::new(),
            last_index: None,
            horizon: None,
            seals: 0,
            events: 0,
            pending: 0,
            checkpoints_checked: 0,
            watch: None,
            watched: None,
        }
    }

    /// Checks a seal's place in both chains; returns what its event is checked against.
    pub fn seal<'r>(&mut self, row: &'r PgRow, problems: &mut Problems) -> Result<SealCheck<'r>> {
        let position = seal_position(row)?;
        let check_seed = SealCheck {
            chain_index: row.try_get(0)?,
            global_position: position.global_position,
            aggregate_type: Cow::Borrowed(row.try_get(3)?),
            aggregate_id: Cow::Borrowed(row.try_get(4)?),
            sequence: row.try_get(5)?,
            event_id: row.try_get(6)?,
            previous: GENESIS,
            aggregate_hash: hash32(row.try_get::<&[u8], _>(7)?),
            chain_ok: true,
        };
        let chain_hash = hash32(row.try_get::<&[u8], _>(8)?);
        let mut check = check_seed;
        let chain_index = check.chain_index;
        self.seals += 1;
        self.last_index = Some(chain_index);
        self.horizon = self.horizon.max(Some(position));

        // The global chain.
        let numbering_gap = chain_index != self.next_index;
        if numbering_gap {
            problems.push(check.problem(
                ProblemKind::SealMissing,
                format!(
                    "seals {} to {} are missing from the chain",
                    self.next_index,
                    chain_index - 1
                ),
            ));
        }
        self.next_index = chain_index + 1;
        check.chain_ok = !self.check_hashes
            || canonical::chain_hash(self.key, &self.chain, &check.aggregate_hash) == chain_hash;
        if !check.chain_ok && !numbering_gap {
            problems.push(check.problem(
                ProblemKind::SealAltered,
                "the seal's chain hash does not follow from the previous seal",
            ));
        }
        self.chain = chain_hash;
        if self.watch == Some(chain_index) {
            self.watched = Some((position.global_position, chain_hash));
        }
        if let Some((upto, expected)) = self.checkpoints.get(&chain_index) {
            self.checkpoints_checked += 1;
            if *upto != position.global_position || *expected != chain_hash {
                problems.push(check.problem(
                    ProblemKind::CheckpointMismatch,
                    format!("checkpoint {chain_index} disagrees with the seal at that place in the chain"),
                ));
            }
        }

        // The aggregate chain.
        let key = aggregate_key(&check.aggregate_type, &check.aggregate_id);
        let tail = self.aggregates.get(&key).copied();
        let expected = tail.map_or(1, |t| t.sequence + 1);
        if check.sequence > expected {
            let missing = if check.sequence - 1 > expected {
                format!("{expected} to {}", check.sequence - 1)
            } else {
                expected.to_string()
            };
            // Located at the first missing sequence, the one a reader will look for.
            let mut problem = check.problem(
                ProblemKind::SequenceGap,
                format!("no seal for sequence {missing}: events removed with their seals, or before they were sealed"),
            );
            problem.sequence = Some(expected);
            problems.push(problem);
        } else if check.sequence < expected {
            problems.push(check.problem(
                ProblemKind::EventReordered,
                format!("sealed after sequence {}", expected - 1),
            ));
        }
        check.previous = tail.map_or(GENESIS, |t| t.hash);
        self.aggregates.insert(
            key,
            AggregateTail {
                sequence: check.sequence,
                hash: check.aggregate_hash,
            },
        );
        Ok(check)
    }

    /// Checks the event found at a seal's position.
    pub fn pair(&mut self, check: &SealCheck<'_>, event: &EventView<'_>, problems: &mut Problems) {
        self.events += 1;
        let c = &event.canonical;
        if (c.aggregate_type, c.aggregate_id, c.sequence, c.event_id)
            != (
                &*check.aggregate_type,
                &*check.aggregate_id,
                check.sequence,
                check.event_id,
            )
        {
            problems.push(check.problem(
                ProblemKind::EventReordered,
                format!(
                    "the event at global position {} is stored as {}/{} sequence {}, but was sealed as sequence {} of {}/{}",
                    check.global_position,
                    c.aggregate_type,
                    c.aggregate_id,
                    c.sequence,
                    check.sequence,
                    check.aggregate_type,
                    check.aggregate_id
                ),
            ));
            return;
        }
        // A seal whose own chain hash is wrong was already reported as altered;
        // otherwise the seal is intact and the event changed since.
        if self.check_hashes
            && check.chain_ok
            && canonical::aggregate_hash(self.key, &check.previous, c) != check.aggregate_hash
        {
            problems.push(check.problem(
                ProblemKind::EventAltered,
                "the event's content (payload, metadata, type, version or record time) differs from what was sealed",
            ));
        }
    }

    /// A seal whose event is gone.
    pub fn deleted(&self, check: &SealCheck<'_>, problems: &mut Problems) {
        problems.push(check.problem(
            ProblemKind::EventDeleted,
            "the sealed event is no longer in the store",
        ));
    }

    /// An event without a seal. `in_order` is true for events read after the last
    /// seal, in commit order, whose sequences can be checked against the aggregate's.
    pub fn unsealed(&mut self, event: &EventView<'_>, in_order: bool, problems: &mut Problems) {
        self.events += 1;
        let c = &event.canonical;
        let located = |kind, detail: String| {
            Problem::new(kind, detail)
                .at(c.aggregate_type, c.aggregate_id, c.sequence)
                .position(event.position.global_position)
        };
        if self
            .horizon
            .is_some_and(|horizon| event.position <= horizon)
        {
            problems.push(located(
                ProblemKind::EventInserted,
                "event without a seal behind the sealer's horizon: it was written after the sealer passed its place in commit order".to_owned(),
            ));
            return;
        }
        if self.now - event.recorded_at > self.grace {
            problems.push(located(
                ProblemKind::EventUnsealedTooLong,
                format!("recorded at {} and still not sealed", event.recorded_at),
            ));
        } else {
            self.pending += 1;
        }
        if in_order {
            let tail = self
                .aggregates
                .entry(aggregate_key(c.aggregate_type, c.aggregate_id))
                .or_insert(AggregateTail {
                    sequence: 0,
                    hash: GENESIS,
                });
            if c.sequence > tail.sequence + 1 {
                let mut problem = located(
                    ProblemKind::SequenceGap,
                    format!(
                        "sequence {} is missing before this unsealed event",
                        tail.sequence + 1
                    ),
                );
                problem.sequence = Some(tail.sequence + 1);
                problems.push(problem);
            }
            tail.sequence = tail.sequence.max(c.sequence);
        }
    }

    /// Checkpoints that cover more seals than the chain has.
    pub fn finish(&self, problems: &mut Problems) {
        let last = self.last_index.unwrap_or(0);
        let mut beyond: Vec<_> = self
            .checkpoints
            .iter()
            .filter(|(count, _)| **count > last)
            .collect();
        beyond.sort_by_key(|(count, _)| **count);
        for (count, (position, _)) in beyond {
            problems.push(
                Problem::new(
                    ProblemKind::CheckpointMismatch,
                    format!("checkpoint {count} covers seals the chain no longer has (it ends at {last}): seals were removed at its end"),
                )
                .position(*position)
                .chain(*count),
            );
        }
    }
}
