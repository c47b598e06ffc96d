//! The LAE domain: value types, aggregates, events and their catalog.
//!
//! This crate is pure: no I/O, no clock, no randomness. Times and ids arrive
//! in the commands, so that every decision can be replayed and tested. The
//! aggregates follow `cqrs-es` 0.5: a command is checked against the state
//! rebuilt from past events and either produces new events or is rejected
//! with an error implementing [`Rejection`].
//!
//! # Layout
//!
//! - [`values`]: validated value types ("parse, don't validate"): ids,
//!   contact details, IBAN and mandate reference, money in cents, bounded
//!   texts, document digest and name, profile, health and service enums.
//! - [`error`]: [`RejectionKind`] and the [`Rejection`] trait shared by the
//!   aggregate errors (kind for the HTTP status, stable code, faulty field).
//! - [`privacy`]: [`DataCategory`] and the [`Classified`] trait naming the
//!   personal fields of each event type, for per-customer encryption.
//! - [`customer`], [`offer`], [`contract`], [`invoice`], [`ticket`]: one
//!   module per aggregate, each exporting the aggregate, its command, event
//!   and error enums and `example_events()`; each keeps its commands,
//!   events, errors and given/when/then tests in sub-modules. The
//!   offer-to-contract policy is [`offer::contract_request_for`].
//! - [`catalog`]: one [`catalog::CatalogEntry`] per event type with a JSON
//!   Schema, an example and the privacy classification.
//!
//! # Example
//!
//! ```
//! use lae_domain::{Email, Rejection, RejectionKind};
//! use lae_domain::offer::OfferError;
//!
//! let email: Email = " Helene.DArtagnan@Exemple.FR ".parse().unwrap();
//! assert_eq!(email.as_str(), "helene.dartagnan@exemple.fr");
//!
//! let error = OfferError::AlreadyAccepted;
//! assert_eq!(error.kind(), RejectionKind::Conflict);
//! assert_eq!(error.code(), "offer_already_accepted");
//! assert_eq!(error.to_string(), "l'offre a déjà été acceptée");
//! ```

pub mod catalog;
pub mod contract;
pub mod customer;
pub mod error;
mod examples;
pub mod invoice;
pub mod offer;
pub mod privacy;
#[cfg(test)]
mod testing;
pub mod ticket;
pub mod values;

pub use error::{Rejection, RejectionKind};
pub use privacy::*;
pub use values::*;
