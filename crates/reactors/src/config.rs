//! The reactors' configuration, from the environment (see README's table).

use std::time::Duration;

use crate::error::ReactorError;

/// Default prefix of the reactors' durable consumer names (`<prefix>_<reactor>`).
pub const DEFAULT_CONSUMER_PREFIX: &str = "lae_reactor";

/// Where the reactors read and how they retry.
#[derive(Debug, Clone)]
pub struct ReactorConfig {
    /// NATS server(s), comma-separated.
    pub nats_url: String,
    /// The JetStream stream the relay publishes to.
    pub stream: String,
    /// The relay's subject prefix: events arrive on `<prefix>.<aggregate>.<type>`.
    pub subject_prefix: String,
    /// Prefix of the durable consumer names: every instance with the same prefix shares
    /// the same consumers, and JetStream gives each message to one of them.
    pub consumer_prefix: String,
    /// How long JetStream waits for an ack before redelivering (to this or another
    /// instance): a reactor killed mid-command has its messages redelivered after it.
    pub ack_wait: Duration,
    /// Messages handled at once per reactor (each is acked on its own).
    pub concurrency: usize,
    /// Delay before a message that failed for a transient reason is redelivered.
    pub retry_delay: Duration,
    /// Longest back-off between two attempts to reach NATS or its consumer.
    pub max_backoff: Duration,
    /// Zendesk's API (`LAE_ZENDESK_URL`, ...): the `zendesk` reactor runs only with it.
    pub zendesk: Option<crate::zendesk::ZendeskConfig>,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        Self {
            nats_url: lae_projections::config::DEFAULT_NATS_URL.to_owned(),
            stream: lae_projections::config::DEFAULT_STREAM.to_owned(),
            subject_prefix: lae_projections::config::DEFAULT_SUBJECT_PREFIX.to_owned(),
            consumer_prefix: DEFAULT_CONSUMER_PREFIX.to_owned(),
            ack_wait: Duration::from_secs(30),
            concurrency: 8,
            retry_delay: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            zendesk: None,
        }
    }
}

impl ReactorConfig {
    /// From the process environment.
    pub fn from_env() -> Result<Self, ReactorError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// From variables read through `lookup` (`NATS_URL`, `LAE_NATS_STREAM`,
    /// `LAE_NATS_SUBJECT_PREFIX`, `LAE_REACTOR_CONSUMER_PREFIX`,
    /// `LAE_REACTOR_ACK_WAIT_MS`, `LAE_REACTOR_CONCURRENCY`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ReactorError> {
        let var = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let number = |key: &str| -> Result<Option<u64>, ReactorError> {
            var(key)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| ReactorError::Config(format!("{key} {v:?} is not a number")))
                })
                .transpose()
        };
        let defaults = Self::default();
        let config = Self {
            nats_url: var("NATS_URL").unwrap_or(defaults.nats_url),
            stream: var("LAE_NATS_STREAM").unwrap_or(defaults.stream),
            subject_prefix: var("LAE_NATS_SUBJECT_PREFIX").unwrap_or(defaults.subject_prefix),
            consumer_prefix: var("LAE_REACTOR_CONSUMER_PREFIX").unwrap_or(defaults.consumer_prefix),
            ack_wait: number("LAE_REACTOR_ACK_WAIT_MS")?
                .map_or(defaults.ack_wait, Duration::from_millis),
            concurrency: number("LAE_REACTOR_CONCURRENCY")?
                .map_or(Ok(defaults.concurrency), usize::try_from)
                .map_err(|_| ReactorError::Config("LAE_REACTOR_CONCURRENCY is too large".into()))?,
            retry_delay: defaults.retry_delay,
            max_backoff: defaults.max_backoff,
            zendesk: crate::zendesk::ZendeskConfig::from_lookup(&lookup)?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that cannot work.
    pub fn validate(&self) -> Result<(), ReactorError> {
        if self.concurrency == 0 {
            return Err(ReactorError::Config(
                "LAE_REACTOR_CONCURRENCY must be at least 1".into(),
            ));
        }
        if self.ack_wait < Duration::from_millis(100) {
            return Err(ReactorError::Config(
                "LAE_REACTOR_ACK_WAIT_MS must be at least 100".into(),
            ));
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !valid(&self.consumer_prefix) {
            return Err(ReactorError::Config(format!(
                "LAE_REACTOR_CONSUMER_PREFIX {:?}: letters, digits, '_' and '-' only",
                self.consumer_prefix
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_variables_and_refuses_bad_ones() {
        let config = ReactorConfig::from_lookup(|k| match k {
            "LAE_REACTOR_ACK_WAIT_MS" => Some("2000".into()),
            "LAE_NATS_STREAM" => Some("S".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(config.ack_wait, Duration::from_secs(2));
        assert_eq!(config.stream, "S");
        assert_eq!(config.consumer_prefix, "lae_reactor");
        let bad =
            ReactorConfig::from_lookup(|k| (k == "LAE_REACTOR_CONCURRENCY").then(|| "0".into()));
        assert!(bad.is_err());
        let bad =
            ReactorConfig::from_lookup(|k| (k == "LAE_REACTOR_ACK_WAIT_MS").then(|| "x".into()));
        assert!(
            bad.expect_err("refused")
                .to_string()
                .contains("LAE_REACTOR_ACK_WAIT_MS")
        );
    }
}
