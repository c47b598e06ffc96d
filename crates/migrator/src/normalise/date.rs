//! Legacy dates and times: `2021-03-04`, `04/03/2021`, `2021-03-04 10:15:00`.
//!
//! The legacy applications were French and wrote wall-clock times in Paris time, so a
//! legacy time is converted to UTC with the French offset of that day (CET, or CEST
//! in summer). A date alone, used as an instant, means midnight in Paris.
//! Day-first is the only reading of `dd/mm/yyyy`: a value that only makes sense
//! month-first (`12/25/2021`) is refused rather than read as a guess.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

/// The earliest date accepted (older values are typing errors or placeholders).
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// The latest date accepted (`9999-12-31` and friends are placeholders, not facts).
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// Why a legacy date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("empty")]
    Empty,
    #[error("not a date in a known format (yyyy-mm-dd, dd/mm/yyyy, yyyy-mm-dd hh:mm:ss): {0}")]
    Format(String),
    #[error("outside the plausible range 1900-01-01..2100-12-31: {0}")]
    OutOfRange(String),
}

/// Parses a legacy date (a time part, if any, is ignored).
pub fn parse_date(raw: &str) -> Result<NaiveDate, DateError> {
    parse_local(raw).map(|local| local.date())
}

/// Parses a legacy date or date-time as an instant (Paris wall-clock time).
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, DateError> {
    parse_local(raw).map(paris_to_utc)
}

/// A date as an instant: midnight in Paris.
pub fn date_instant(date: NaiveDate) -> DateTime<Utc> {
    paris_to_utc(date.and_time(NaiveTime::MIN))
}

fn parse_local(raw: &str) -> Result<NaiveDateTime, DateError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let excerpt = || super::text::excerpt(s);
    let (date_part, time_part) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let date = parse_date_part(date_part).ok_or_else(|| DateError::Format(excerpt()))?;
    let time = match time_part {
        None | Some("") => NaiveTime::MIN,
        Some(t) => parse_time_part(t).ok_or_else(|| DateError::Format(excerpt()))?,
    };
    if date < EARLIEST || date > LATEST {
        return Err(DateError::OutOfRange(excerpt()));
    }
    Ok(date.and_time(time))
}

fn parse_date_part(s: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let separators: Vec<char> = s.chars().filter(|c| matches!(c, '-' | '/' | '.')).collect();
    if separators.first() != separators.last() {
        return None;
    }
    let number = |p: &str| p.parse::<u32>().ok();
    if parts[0].len() == 4 && parts[1].len() <= 2 && parts[2].len() <= 2 {
        // ISO order (year first) with any of the three separators.
        let year = i32::try_from(number(parts[0])?).ok()?;
        NaiveDate::from_ymd_opt(year, number(parts[1])?, number(parts[2])?)
    } else if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
        // French order: day first. A two-digit year is refused: 21 could be 1921 or 2021.
        let year = i32::try_from(number(parts[2])?).ok()?;
        NaiveDate::from_ymd_opt(year, number(parts[1])?, number(parts[0])?)
    } else {
        None
    }
}

fn parse_time_part(s: &str) -> Option<NaiveTime> {
    // Fractions of a second and a trailing `Z` are accepted; an explicit offset is not,
    // since the legacy applications never wrote one and a stray one would be a guess.
    let s = s.strip_suffix('Z').unwrap_or(s);
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M", "%Hh%M"]
        .iter()
        .find_map(|format| NaiveTime::parse_from_str(s, format).ok())
}

/// Converts a Paris wall-clock time to UTC.
///
/// France has kept CET (UTC+1) since 1945 and added summer time (UTC+2) since 1976,
/// from the last Sunday of March to the last Sunday of September until 1995 and of
/// October since 1996 (the EU rule). The hour skipped in spring is read as winter
/// time; the hour repeated in autumn is read as its first (summer) occurrence.
pub fn paris_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let year = local.year();
    let summer = year >= 1976 && {
        let start = last_sunday(year, 3).and_time(NaiveTime::MIN + Duration::hours(3));
        let end_month = if year >= 1996 { 10 } else { 9 };
        let end = last_sunday(year, end_month).and_time(NaiveTime::MIN + Duration::hours(3));
        local >= start && local < end
    };
    let offset = if summer { 2 } else { 1 };
    (local - Duration::hours(offset)).and_utc()
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    // Every month of every year in range exists; MIN only keeps this total.
    let mut day = first_of_next
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MIN);
    while day.weekday() != Weekday::Sun && day > NaiveDate::MIN {
        day = day.pred_opt().unwrap_or(NaiveDate::MIN);
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_three_legacy_formats_and_a_few_more() {
        let cases: &[(&str, Option<NaiveDate>, &str)] = &[
            ("2021-03-04", Some(d(2021, 3, 4)), "ISO"),
            ("04/03/2021", Some(d(2021, 3, 4)), "French, day first"),
            (
                "4/3/2021",
                Some(d(2021, 3, 4)),
                "French without leading zeros",
            ),
            ("2021-03-04 10:15:00", Some(d(2021, 3, 4)), "ISO date-time"),
            (
                "2021-03-04T10:15:00.123Z",
                Some(d(2021, 3, 4)),
                "RFC 3339-ish",
            ),
            ("04.03.2021", Some(d(2021, 3, 4)), "dots"),
            (
                " 2021/03/04 ",
                Some(d(2021, 3, 4)),
                "slashes, year first, padded",
            ),
            ("12/25/2021", None, "month first is not read"),
            ("04/03/21", None, "two-digit year"),
            ("2021-02-30", None, "no such day"),
            ("2021-03/04", None, "mixed separators"),
            ("yesterday", None, "words"),
            ("0000-01-01", None, "year 0"),
            ("9999-12-31", None, "placeholder far future"),
            ("1899-12-31", None, "before 1900"),
            ("", None, "empty"),
        ];
        for (raw, expected, why) in cases {
            assert_eq!(parse_date(raw).ok(), *expected, "{why}: {raw:?}");
        }
        assert_eq!(parse_date(""), Err(DateError::Empty));
        assert!(matches!(
            parse_date("9999-12-31"),
            Err(DateError::OutOfRange(_))
        ));
    }

    #[test]
    fn times_are_paris_wall_clock() {
        // Winter: UTC+1.
        let winter = parse_instant("2021-01-15 10:15:00").unwrap();
        assert_eq!(winter.to_rfc3339(), "2021-01-15T09:15:00+00:00");
        // Summer: UTC+2.
        let summer = parse_instant("2021-07-15 10:15").unwrap();
        assert_eq!(summer.to_rfc3339(), "2021-07-15T08:15:00+00:00");
        // A date alone is midnight in Paris.
        assert_eq!(
            date_instant(d(2021, 7, 15)).to_rfc3339(),
            "2021-07-14T22:00:00+00:00"
        );
        // 2021 summer time began on 28 March and ended on 31 October.
        assert_eq!(last_sunday(2021, 3), d(2021, 3, 28));
        assert_eq!(last_sunday(2021, 10), d(2021, 10, 31));
        assert_eq!(
            parse_instant("2021-03-28 04:00").unwrap().to_rfc3339(),
            "2021-03-28T02:00:00+00:00"
        );
        assert_eq!(
            parse_instant("2021-10-31 04:00").unwrap().to_rfc3339(),
            "2021-10-31T03:00:00+00:00"
        );
        // Before 1976, no summer time.
        assert_eq!(
            parse_instant("1970-07-01 12:00").unwrap().to_rfc3339(),
            "1970-07-01T11:00:00+00:00"
        );
    }
}
