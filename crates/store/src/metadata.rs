//! The metadata stamped on every event: who, when, why, from where.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A department user through the HTTP API.
    Api,
    /// The legacy import.
    LegacyMigration,
    /// A policy reacting to another event (e.g. an accepted offer requesting a contract).
    Policy,
    /// An operator at the command line.
    Cli,
    /// Zendesk, through its webhook (never sent back to it).
    Zendesk,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::LegacyMigration => "legacy-migration",
            Self::Policy => "policy",
            Self::Cli => "cli",
            Self::Zendesk => "zendesk",
        }
    }
}

/// Metadata of the events one command produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    /// The user who issued the command.
    pub user: String,
    /// The user's department (or role) at the time.
    pub department: String,
    /// When the command was accepted at the edge.
    pub occurred_at: DateTime<Utc>,
    /// Groups every event caused by one outside request.
    pub correlation_id: Uuid,
    /// The message (request or event) that directly caused this command.
    pub causation_id: Uuid,
    pub source: Source,
    /// Extra context (e.g. the legacy file/table/row an imported event came from).
    pub extra: Vec<(String, String)>,
}

impl EventMetadata {
    /// Metadata for a command caused directly by an outside request.
    pub fn new(
        user: impl Into<String>,
        department: impl Into<String>,
        occurred_at: DateTime<Utc>,
        request_id: Uuid,
        source: Source,
    ) -> Self {
        Self {
            user: user.into(),
            department: department.into(),
            occurred_at,
            correlation_id: request_id,
            causation_id: request_id,
            source,
            extra: Vec::new(),
        }
    }

    /// Metadata for a command caused by an event: same correlation, caused by that event.
    pub fn caused_by(&self, event_id: Uuid, source: Source) -> Self {
        Self {
            causation_id: event_id,
            source,
            ..self.clone()
        }
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    /// The flat map cqrs-es stores in the `metadata` column.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(6 + self.extra.len());
        map.insert("user".into(), self.user.clone());
        map.insert("department".into(), self.department.clone());
        map.insert(
            "occurred_at".into(),
            self.occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        map.insert("correlation_id".into(), self.correlation_id.to_string());
        map.insert("causation_id".into(), self.causation_id.to_string());
        map.insert("source".into(), self.source.as_str().into());
        for (k, v) in &self.extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_carries_who_when_why_and_source() {
        let id = Uuid::from_u128(7);
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("valid date")
            .with_timezone(&Utc);
        let map = EventMetadata::new("alice", "sales", at, id, Source::Api)
            .with("legacy_row", "3")
            .to_map();
        assert_eq!(map["user"], "alice");
        assert_eq!(map["department"], "sales");
        assert_eq!(map["occurred_at"], "2026-01-02T03:04:05.000000Z");
        assert_eq!(map["correlation_id"], id.to_string());
        assert_eq!(map["causation_id"], id.to_string());
        assert_eq!(map["source"], "api");
        assert_eq!(map["legacy_row"], "3");
    }

    #[test]
    fn extra_keys_cannot_overwrite_the_standard_ones() {
        let at = DateTime::<Utc>::from_timestamp(0, 0).expect("epoch");
        let map = EventMetadata::new("alice", "sales", at, Uuid::nil(), Source::Api)
            .with("user", "mallory")
            .to_map();
        assert_eq!(map["user"], "alice");
    }

    #[test]
    fn a_caused_command_keeps_the_correlation() {
        let at = DateTime::<Utc>::from_timestamp(0, 0).expect("epoch");
        let first = EventMetadata::new("a", "sales", at, Uuid::from_u128(1), Source::Api);
        let next = first.caused_by(Uuid::from_u128(2), Source::Policy);
        assert_eq!(next.correlation_id, Uuid::from_u128(1));
        assert_eq!(next.causation_id, Uuid::from_u128(2));
        assert_eq!(next.source, Source::Policy);
    }
}
