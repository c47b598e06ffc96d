//! The relay's configuration.

use std::fmt;
use std::time::Duration;

use crate::error::RelayError;

/// Default NATS server.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Default JetStream stream.
pub const DEFAULT_STREAM: &str = "LAE_EVENTS";
/// Default subject prefix: events go to `lae.events.<aggregate_type>.<event_type>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "lae.events";
/// Default AMQP topic exchange.
pub const DEFAULT_AMQP_EXCHANGE: &str = "lae.events";
/// Default relay name (the checkpoint row and the leader lock are per name).
pub const DEFAULT_NAME: &str = "lae-relay";

/// How the relay reads the store and where it publishes.
#[derive(Clone)]
pub struct RelayConfig {
    /// The relay's name. Relays with the same name share one checkpoint and one leader
    /// lock: start several for availability, only one publishes at a time.
    pub name: String,
    /// NATS server URL(s), comma-separated.
    pub nats_url: String,
    /// JetStream stream, created at start when missing.
    pub stream: String,
    /// Subject prefix; the stream captures `<prefix>.>`.
    pub subject_prefix: String,
    /// Events read and published per batch (the checkpoint moves once per batch).
    pub batch_size: usize,
    /// Fallback poll interval when no notification arrives.
    pub poll_interval: Duration,
    /// RabbitMQ URL (`amqp://user:pass@host:5672/%2f`); `None` disables the AMQP sink.
    pub amqp_url: Option<String>,
    /// AMQP topic exchange (durable, declared at start).
    pub amqp_exchange: String,
    /// The stream's de-duplication window (`Nats-Msg-Id`), applied when the relay
    /// creates the stream. Re-publishes after an outage longer than this are stored
    /// twice: consumers must be idempotent (by event id, or by aggregate sequence).
    pub duplicate_window: Duration,
    /// How long to wait for one JetStream acknowledgement before counting the batch
    /// as failed.
    pub ack_timeout: Duration,
    /// How often a relay that is not the leader tries to take the lock.
    pub leader_retry: Duration,
    /// Ceiling of the exponential back-off after broker or database errors.
    pub max_backoff: Duration,
    /// Replicas of the stream when the relay creates it (`LAE_NATS_STREAM_REPLICAS`,
    /// 1 to 5; 3 on a three-node cluster). An existing stream keeps its own.
    pub stream_replicas: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_NAME.to_owned(),
            nats_url: DEFAULT_NATS_URL.to_owned(),
            stream: DEFAULT_STREAM.to_owned(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
            amqp_url: None,
            amqp_exchange: DEFAULT_AMQP_EXCHANGE.to_owned(),
            duplicate_window: Duration::from_secs(10 * 60),
            ack_timeout: Duration::from_secs(5),
            leader_retry: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            stream_replicas: 1,
        }
    }
}

impl RelayConfig {
    /// The defaults, overridden by `NATS_URL`, `LAE_NATS_STREAM`,
    /// `LAE_NATS_SUBJECT_PREFIX`, `LAE_AMQP_URL`, `LAE_AMQP_EXCHANGE` and
    /// `LAE_RELAY_NAME` where set and not empty.
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`RelayConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        Self {
            name: var("LAE_RELAY_NAME").unwrap_or(defaults.name),
            nats_url: var("NATS_URL").unwrap_or(defaults.nats_url),
            stream: var("LAE_NATS_STREAM").unwrap_or(defaults.stream),
            subject_prefix: var("LAE_NATS_SUBJECT_PREFIX").unwrap_or(defaults.subject_prefix),
            amqp_url: var("LAE_AMQP_URL"),
            amqp_exchange: var("LAE_AMQP_EXCHANGE").unwrap_or(defaults.amqp_exchange),
            // An unreadable number is refused by `validate`, naming the variable.
            stream_replicas: var("LAE_NATS_STREAM_REPLICAS")
                .map_or(defaults.stream_replicas, |v| v.trim().parse().unwrap_or(0)),
            ..defaults
        }
    }

    /// Checks what would otherwise fail on every publish.
    pub fn validate(&self) -> Result<(), RelayError> {
        let bad = |what: String| Err(RelayError::Config(what));
        if self.name.is_empty() {
            return bad("the relay name is empty".into());
        }
        if self.stream.is_empty()
            || self
                .stream
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>'))
        {
            return bad(format!(
                "stream name {:?} is empty or contains whitespace, '.', '*' or '>'",
                self.stream
            ));
        }
        if self.subject_prefix.split('.').any(|token| {
            token.is_empty()
                || token
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '*' | '>'))
        }) {
            return bad(format!(
                "subject prefix {:?} has an empty token, whitespace or a wildcard",
                self.subject_prefix
            ));
        }
        if !(1..=5).contains(&self.stream_replicas) {
            return bad("LAE_NATS_STREAM_REPLICAS must be a number from 1 to 5".into());
        }
        let mut servers = 0;
        for server in self
            .nats_url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if server.parse::<async_nats::ServerAddr>().is_err() {
                return bad(format!(
                    "NATS server {:?} is not a valid address",
                    redact_url(server)
                ));
            }
            servers += 1;
        }
        if servers == 0 {
            return bad("no NATS server is configured".into());
        }
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return bad(format!(
                "batch size {} is not between 1 and 10000",
                self.batch_size
            ));
        }
        for (what, value) in [
            ("poll interval", self.poll_interval),
            ("ack timeout", self.ack_timeout),
            ("leader retry", self.leader_retry),
            ("max backoff", self.max_backoff),
        ] {
            if value.is_zero() {
                return bad(format!("the {what} is zero"));
            }
        }
        if self.amqp_url.is_some() && self.amqp_exchange.is_empty() {
            return bad("the AMQP exchange name is empty".into());
        }
        Ok(())
    }

    /// The subjects the stream captures.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

impl fmt::Debug for RelayConfig {
    // URLs may carry credentials: show where they point, not who logs in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("name", &self.name)
            .field("nats_url", &redact_url(&self.nats_url))
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("batch_size", &self.batch_size)
            .field("poll_interval", &self.poll_interval)
            .field("amqp_url", &self.amqp_url.as_deref().map(redact_url))
            .field("amqp_exchange", &self.amqp_exchange)
            .field("duplicate_window", &self.duplicate_window)
            .field("ack_timeout", &self.ack_timeout)
            .field("leader_retry", &self.leader_retry)
            .field("max_backoff", &self.max_backoff)
            .field("stream_replicas", &self.stream_replicas)
            .finish()
    }
}

/// `scheme://user:secret@host/...` becomes `scheme://***@host/...`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end + 3], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_defaults() {
        let config = RelayConfig::from_lookup(|key| match key {
            "NATS_URL" => Some("nats://nats:4222".into()),
            "LAE_NATS_STREAM" => Some("S".into()),
            "LAE_NATS_SUBJECT_PREFIX" => Some("a.b".into()),
            "LAE_AMQP_URL" => Some("amqp://u:p@mq:5672/%2f".into()),
            "LAE_RELAY_NAME" => Some(" ".into()),
            _ => None,
        });
        assert_eq!(config.nats_url, "nats://nats:4222");
        assert_eq!(config.stream, "S");
        assert_eq!(config.subject_prefix, "a.b");
        assert_eq!(config.stream_subjects(), "a.b.>");
        assert_eq!(config.amqp_url.as_deref(), Some("amqp://u:p@mq:5672/%2f"));
        // A blank variable counts as unset.
        assert_eq!(config.name, DEFAULT_NAME);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn without_environment_the_amqp_sink_is_off() {
        let config = RelayConfig::from_lookup(|_| None);
        assert_eq!(config.nats_url, DEFAULT_NATS_URL);
        assert_eq!(config.stream, DEFAULT_STREAM);
        assert!(config.amqp_url.is_none());
    }

    #[test]
    fn invalid_names_are_refused() {
        let with = |f: fn(&mut RelayConfig)| {
            let mut c = RelayConfig::default();
            f(&mut c);
            c.validate()
        };
        assert!(with(|c| c.stream = "A.B".into()).is_err());
        assert!(with(|c| c.stream = String::new()).is_err());
        assert!(with(|c| c.subject_prefix = "a..b".into()).is_err());
        assert!(with(|c| c.subject_prefix = "a.*".into()).is_err());
        assert!(with(|c| c.batch_size = 0).is_err());
        assert!(with(|c| c.poll_interval = Duration::ZERO).is_err());
        assert!(with(|c| c.nats_url = " , ".into()).is_err());
        assert!(with(|c| c.nats_url = "nats://a:1, nats://b:2".into()).is_ok());
        assert!(with(|_| {}).is_ok());
        assert!(with(|c| c.stream_replicas = 0).is_err());
        assert!(with(|c| c.stream_replicas = 6).is_err());
        assert!(with(|c| c.stream_replicas = 3).is_ok());
    }

    #[test]
    fn stream_replicas_come_from_the_environment_and_a_bad_number_is_refused() {
        let replicas = |v: &'static str| {
            RelayConfig::from_lookup(move |key| {
                (key == "LAE_NATS_STREAM_REPLICAS").then(|| v.into())
            })
        };
        assert_eq!(replicas("3").stream_replicas, 3);
        assert_eq!(replicas(" ").stream_replicas, 1);
        let error = replicas("trois").validate().expect_err("not a number");
        assert!(
            error.to_string().contains("LAE_NATS_STREAM_REPLICAS"),
            "{error}"
        );
    }

    #[test]
    fn credentials_are_not_shown() {
        let config = RelayConfig {
            nats_url: "nats://user:pw@nats:4222".into(),
            amqp_url: Some("amqp://guest:guest@mq:5672/%2f".into()),
            ..RelayConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("pw"), "{shown}");
        assert!(!shown.contains("guest"), "{shown}");
        assert!(shown.contains("nats:4222"), "{shown}");
        assert_eq!(redact_url("nats://h:1"), "nats://h:1");
    }
}
