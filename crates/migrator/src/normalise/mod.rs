//! Normalisation of legacy values: each function turns one raw legacy text into a
//! domain value or says why it cannot be trusted.
//!
//! The functions are pure and never guess: a value that could mean two things, or
//! that only a human could repair (a phone that lost its leading zero, a date written
//! the American way), is refused with a reason, and the caller decides whether the
//! whole row or only that field is set aside. Reasons never quote health values, IBANs
//! or mandate references: the report may travel further than the data.

pub mod amount;
pub mod bank;
pub mod boolean;
pub mod contact;
pub mod date;
pub mod health;
pub mod text;
pub mod vocab;
