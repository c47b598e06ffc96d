//! From legacy rows to commands: what each row wants the store to hold ([`Desire`]),
//! the commands that take an aggregate from what it holds to that ([`customer`],
//! [`offer`], [`contract`], [`invoice`], [`ticket`]), and the batch decision that runs
//! them through the aggregates' own `handle`, so that every domain rule applies
//! ([`decide`]).
//!
//! Reconciling from the store's state rather than replaying the legacy history is what
//! makes the import idempotent: a row already imported wants nothing more, a row
//! changed in the legacy file since the last run wants only the difference, and a
//! change the domain cannot express (an accepted offer that became refused) is set
//! aside with its reason instead of being forced.

pub mod contract;
pub mod customer;
pub mod decide;
pub mod invoice;
pub mod offer;
pub mod ticket;

use chrono::{DateTime, Utc};
use lae_domain::{ContractId, CustomerId, InvoiceId, OfferId, TicketId};

use crate::legacy::Table;

/// A rule applied where the legacy data says nothing: stamped on the events in their
/// metadata (`assumption.<field>`) and counted in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    pub field: &'static str,
    pub rule: &'static str,
}

/// What one legacy row wants the store to hold.
#[derive(Debug, Clone)]
pub struct RowPlan {
    pub table: Table,
    pub row_id: i64,
    /// When it happened, from the legacy row (never the clock: a re-run must produce
    /// the same events).
    pub occurred_at: DateTime<Utc>,
    pub notes: &'static [Note],
    pub desire: Desire,
}

/// The target aggregate and the state the row describes.
#[derive(Debug, Clone)]
pub enum Desire {
    Customer {
        id: CustomerId,
        change: customer::CustomerChange,
    },
    Offer {
        id: OfferId,
        offer: offer::LegacyOffer,
    },
    Contract {
        id: ContractId,
        contract: contract::LegacyContract,
    },
    Invoice {
        id: InvoiceId,
        invoice: invoice::LegacyInvoice,
    },
    Ticket {
        id: TicketId,
        call: ticket::LegacyCall,
    },
}

impl RowPlan {
    /// The customer whose state this row's decision reads or changes.
    pub fn customer(&self) -> Option<CustomerId> {
        match &self.desire {
            Desire::Customer { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// About how many events the row adds when it is new, to size batches.
    pub fn expected_events(&self) -> usize {
        match &self.desire {
            Desire::Customer { .. } => 1,
            Desire::Offer { .. } | Desire::Invoice { .. } => 2,
            Desire::Contract { .. } | Desire::Ticket { .. } => 3,
        }
    }

    /// The bytes this plan holds (its signed document), to bound a batch's memory.
    pub fn weight(&self) -> usize {
        match &self.desire {
            Desire::Contract { contract, .. } => contract.content.len() + 512,
            _ => 512,
        }
    }
}
