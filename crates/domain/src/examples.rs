//! Building blocks for the example events of the catalog.
//!
//! Examples are built through the same validating constructors as real data,
//! so a sample that stopped being valid would be caught; since production code
//! may not panic, builders return a `Result` and the catalog tests turn any
//! failure into a test failure.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

/// The error of an example builder: any validation failure.
pub(crate) type ExampleError = Box<dyn std::error::Error + Send + Sync>;

/// A calendar date.
pub(crate) fn date(year: i32, month: u32, day: u32) -> Result<NaiveDate, ExampleError> {
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| "date d'exemple invalide".into())
}

/// A UTC timestamp to the minute.
pub(crate) fn at(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
) -> Result<DateTime<Utc>, ExampleError> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .single()
        .ok_or_else(|| "horodatage d'exemple invalide".into())
}

/// The customer of every example (Hélène D'Artagnan).
pub(crate) const CUSTOMER: Uuid = Uuid::from_u128(0x0190_a3c4_5e6f_7a8b_9c0d_1e2f_3a4b_5c6d);
/// The offer of every example.
pub(crate) const OFFER: Uuid = Uuid::from_u128(0x0190_a3c4_6f70_7b8c_9d0e_1f2a_3b4c_5d6e);
/// The signed document digest of the contract example.
pub(crate) const DOCUMENT_SHA256: &str =
    "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
