//! What a verification found.

use serde::Serialize;

/// Problems kept in a report; beyond this only their number is (a wrong key or a
/// rewritten table would otherwise fill memory with millions of identical lines).
pub const MAX_PROBLEMS: usize = 10_000;

/// The kind of a problem, from the event's or the seal's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The event's content (payload, metadata, type, version or record time) is not
    /// what was sealed.
    EventAltered,
    /// A seal names an event that is no longer in the store.
    EventDeleted,
    /// The event at a position is not the one sealed there (sequences swapped or
    /// renumbered, events moved between aggregates).
    EventReordered,
    /// An event without a seal, behind the sealer's horizon: it was inserted after
    /// the sealer had passed its place in commit order.
    EventInserted,
    /// An event still unsealed after the grace period: the sealer is not running, or
    /// the event was inserted with a back-dated time.
    EventUnsealedTooLong,
    /// An aggregate's sequences skip numbers: events removed together with their seals,
    /// or removed before they were sealed.
    SequenceGap,
    /// A seal's chain hash does not follow from the previous one: a seal was edited,
    /// inserted or removed.
    SealAltered,
    /// The chain's numbering skips: seals were removed.
    SealMissing,
    /// A checkpoint disagrees with the chain (or the chain ends before it).
    CheckpointMismatch,
    /// The latest anchor (published outside the database) names a seal the chain no
    /// longer reaches: the last events were removed together with their seals and
    /// checkpoints.
    ChainTruncated,
    /// The chain holds another seal than the latest anchor says at the anchored place:
    /// it was rewritten there or before.
    AnchorMismatch,
    /// The chain was sealed with another key than the one given: hashes cannot be
    /// checked.
    WrongKey,
}

/// One problem, located as precisely as the evidence allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub sequence: Option<i64>,
    pub global_position: Option<i64>,
    pub chain_index: Option<i64>,
    /// A sentence for people.
    pub detail: String,
}

impl Problem {
    pub(crate) fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            aggregate_type: None,
            aggregate_id: None,
            sequence: None,
            global_position: None,
            chain_index: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn at(mut self, aggregate_type: &str, aggregate_id: &str, sequence: i64) -> Self {
        self.aggregate_type = Some(aggregate_type.to_owned());
        self.aggregate_id = Some(aggregate_id.to_owned());
        self.sequence = Some(sequence);
        self
    }

    pub(crate) fn position(mut self, global_position: i64) -> Self {
        self.global_position = Some(global_position);
        self
    }

    pub(crate) fn chain(mut self, chain_index: i64) -> Self {
        self.chain_index = Some(chain_index);
        self
    }
}

/// The result of [`verify`](crate::verify()): serializable as is for the API and the CLI.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Whether the chain is keyed (HMAC-SHA256) or plain SHA-256.
    pub keyed: bool,
    /// The fingerprint of the key given to the verifier.
    pub key_id: String,
    /// Said when the chain is unkeyed, or sealed with another key.
    pub notes: Vec<String>,
    /// Events in the store.
    pub events: u64,
    /// Seals in the chain.
    pub seals: u64,
    /// Events without a seal, ahead of the sealer and within the grace period: not a
    /// problem, the sealer has not reached them yet.
    pub pending: u64,
    /// Checkpoints checked against the chain.
    pub checkpoints: u64,
    /// The last seal: how far the chain reaches.
    pub horizon_chain_index: Option<i64>,
    pub horizon_global_position: Option<i64>,
    /// The anchor the chain was compared with (the latest published outside the
    /// database), if any.
    pub anchor: Option<crate::anchor::Anchor>,
    /// Every problem found (at most [`MAX_PROBLEMS`]), by aggregate and sequence.
    pub problems: Vec<Problem>,
    /// Problems found beyond [`MAX_PROBLEMS`].
    pub problems_not_listed: u64,
    pub elapsed_ms: u64,
}

impl VerifyReport {
    /// Whether the store verified clean. The CLI exits non-zero otherwise.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.problems_not_listed == 0
    }

    /// Problems of one kind.
    pub fn of_kind(&self, kind: ProblemKind) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(move |p| p.kind == kind)
    }
}

/// Collects problems up to [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub listed: Vec<Problem>,
    pub not_listed: u64,
}

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(problem);
        } else {
            self.not_listed += 1;
        }
    }

    /// Sorted by aggregate, sequence and kind, for people reading the report.
    pub fn into_sorted(mut self) -> (Vec<Problem>, u64) {
        self.listed.sort_by(|a, b| {
            (
                &a.aggregate_type,
                &a.aggregate_id,
                a.sequence,
                a.kind,
                a.chain_index,
            )
                .cmp(&(
                    &b.aggregate_type,
                    &b.aggregate_id,
                    b.sequence,
                    b.kind,
                    b.chain_index,
                ))
        });
        (self.listed, self.not_listed)
    }
}
