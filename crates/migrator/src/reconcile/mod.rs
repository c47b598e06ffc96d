//! Reconciliation: one customer per real customer across the four files.
//!
//! - [`book`]: every customer the import knows (the store's, plus those customer
//!   service registers in this run), with their state, and the indexes a department
//!   row is matched with: number, then mail, then phone.
//! - [`contact`]: the contact columns every `clients` table repeats, parsed once.
//! - [`duplicates`]: a customer entered twice in one file.
//! - [`conflicts`]: a department's copy of the contact details against customer
//!   service's.

pub mod book;
pub mod conflicts;
pub mod contact;
pub mod duplicates;

use lae_domain::CustomerId;

/// What a `clients` row of a file became, for the rows of the same file that point
/// at it by `client_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// The row stands for this customer (imported, merged, or a duplicate set aside:
    /// its identity was still certain).
    Customer(CustomerId, u32),
    /// The row was set aside: whoever it stands for is not known.
    SetAside,
}
