//! A position in the store's commit order.
//!
//! Commit order is `(transaction_id, global_position)`: every transaction below
//! `pg_snapshot_xmin(pg_current_snapshot())` has ended, so a reader that takes only
//! those events never sees one appear behind its position (ARCHITECTURE.md, "Reading
//! the store in order"). `xid8` has no binary codec in sqlx, so transaction ids travel
//! as text and are bound back with `$n::text::xid8`.

use crate::error::{AuditError, Result};

/// Where a reader stands in commit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct CommitPosition {
    pub transaction_id: u64,
    pub global_position: i64,
}

impl CommitPosition {
    /// Before every event.
    pub const ORIGIN: Self = Self {
        transaction_id: 0,
        global_position: 0,
    };

    /// From the text of an `xid8` and a global position.
    pub fn parse(transaction_id: &str, global_position: i64) -> Result<Self> {
        Ok(Self {
            transaction_id: transaction_id
                .parse()
                .map_err(|_| AuditError::TransactionId(transaction_id.to_owned()))?,
            global_position,
        })
    }

    /// The transaction id as text, for `$n::text::xid8`.
    pub fn xid_text(&self) -> String {
        self.transaction_id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_transaction_then_global_position() {
        let a = CommitPosition::parse("9", 100).expect("valid");
        let b = CommitPosition::parse("10", 1).expect("valid");
        assert!(CommitPosition::ORIGIN < a && a < b);
        assert!(CommitPosition::parse("x", 1).is_err());
    }
}
