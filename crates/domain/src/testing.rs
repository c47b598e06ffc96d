//! Test helpers: panicking shorthands that keep given/when/then tests short.

use std::fmt::Debug;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// A calendar date.
pub(crate) fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// A UTC timestamp to the minute.
pub(crate) fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
}

/// Parses a value that the test knows to be valid.
pub(crate) fn v<T>(s: &str) -> T
where
    T: FromStr,
    T::Err: Debug,
{
    s.parse().unwrap()
}
