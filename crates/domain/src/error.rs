//! Error plumbing shared by every aggregate.
//!
//! Each aggregate has its own error enum (French `Display`, shown to department
//! users) implementing [`Rejection`], which tells the API how to answer without
//! the API knowing each error.

use serde::{Deserialize, Serialize};

/// The broad family of a rejected command, which the API maps to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// The command targets an aggregate that does not exist (HTTP 404).
    NotFound,
    /// The command is impossible in the aggregate's current state (HTTP 409).
    Conflict,
    /// The command's input breaks a business rule (HTTP 422).
    Invalid,
    /// The aggregate existed but its data was erased (HTTP 410).
    Gone,
}

/// A business rejection of a command.
pub trait Rejection: std::error::Error {
    /// The family of the rejection.
    fn kind(&self) -> RejectionKind;

    /// A stable English `snake_case` code, e.g. `offer_already_accepted`, that
    /// clients can match on; unlike the message it never changes wording.
    fn code(&self) -> &'static str;

    /// The JSON name of the command field at fault, if the rejection is about one field.
    fn field(&self) -> Option<&'static str>;
}

/// Formats a date the French way (`01/03/2024`) for error messages.
pub(crate) fn french_date(date: &chrono::NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// Formats a timestamp the French way (`01/03/2024 à 09:30 UTC`) for error messages.
pub(crate) fn french_datetime(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%d/%m/%Y à %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn french_formats() {
        let date = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(french_date(&date), "01/03/2024");
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 9, 30, 0).unwrap();
        assert_eq!(french_datetime(&at), "01/03/2024 à 09:30 UTC");
    }

    #[test]
    fn kinds_serialize_in_snake_case() {
        assert_eq!(
            serde_json::to_value(RejectionKind::NotFound).unwrap(),
            serde_json::json!("not_found")
        );
    }
}
