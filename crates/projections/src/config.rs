//! The projectors' configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lae_store::crypto::MasterKeys;

use crate::department::Department;
use crate::error::ProjectionError;

/// Default NATS server.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Default JetStream stream (the relay's).
pub const DEFAULT_STREAM: &str = "LAE_EVENTS";
/// Default subject prefix (the relay's): events arrive on `<prefix>.<aggregate>.<type>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "lae.events";
/// Default prefix of the durable consumer names (`<prefix>_<department>`).
pub const DEFAULT_CONSUMER_PREFIX: &str = "lae_projection";

/// How projectors consume the stream and write their read models.
#[derive(Clone)]
pub struct ProjectorConfig {
    /// NATS server URL(s), comma-separated.
    pub nats_url: String,
    /// The JetStream stream the relay publishes to.
    pub stream: String,
    /// The relay's subject prefix.
    pub subject_prefix: String,
    /// Durable consumers are named `<consumer_prefix>_<department>`.
    pub consumer_prefix: String,
    /// Most messages applied in one transaction.
    pub batch_size: usize,
    /// How long a batch waits for more messages after its first one, when fewer than
    /// `batch_size` are at hand. Zero applies what is there at once (lowest latency when
    /// quiet); a few milliseconds trade that much latency for fewer, larger transactions
    /// under a steady load.
    pub batch_linger: Duration,
    /// How long JetStream waits for an ack before redelivering (a crashed projector's
    /// messages come back after this).
    pub ack_wait: Duration,
    /// How long a held-back message (a gap, an undecodable payload) waits before it is
    /// redelivered.
    pub retry_delay: Duration,
    /// Back-off bounds after a broker or database failure.
    pub min_backoff: Duration,
    /// See `min_backoff`.
    pub max_backoff: Duration,
    /// How often an idle projector asks JetStream how far behind it is.
    pub lag_poll: Duration,
    /// Password of the `lae_<dept>_writer` roles, where the server asks for one.
    pub db_password: Option<String>,
    /// Connections per department pool.
    pub db_pool_size: u32,
    /// The master keys that unwrap the data keys of sealed personal fields. Without
    /// them every sealed field reads as withheld (and events that cannot do without
    /// one are skipped as redacted).
    pub master_keys: Option<Arc<MasterKeys>>,
    /// The read models this process maintains ([`Department::ALL`] by default;
    /// `lae serve --department` runs only its departments').
    pub departments: Vec<Department>,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            nats_url: DEFAULT_NATS_URL.to_owned(),
            stream: DEFAULT_STREAM.to_owned(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            consumer_prefix: DEFAULT_CONSUMER_PREFIX.to_owned(),
            batch_size: 500,
            batch_linger: Duration::ZERO,
            ack_wait: Duration::from_secs(30),
            retry_delay: Duration::from_secs(1),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            lag_poll: Duration::from_secs(1),
            db_password: None,
            db_pool_size: 2,
            master_keys: None,
            departments: Department::ALL.to_vec(),
        }
    }
}

impl ProjectorConfig {
    /// The defaults, overridden by `NATS_URL`, `LAE_NATS_STREAM`,
    /// `LAE_NATS_SUBJECT_PREFIX`, `LAE_PROJECTION_CONSUMER_PREFIX`,
    /// `LAE_PROJECTION_BATCH_SIZE`, `LAE_PROJECTION_BATCH_LINGER_MS` and
    /// `LAE_PROJECTION_DB_PASSWORD` where set and not empty, and the master keys from
    /// `LAE_MASTER_KEY` or `LAE_MASTER_KEY_FILE` (with `LAE_MASTER_KEY_PREVIOUS` or
    /// `LAE_MASTER_KEY_PREVIOUS_FILE` during a rotation).
    pub fn from_env() -> Result<Self, ProjectionError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`ProjectorConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ProjectionError> {
        let var = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        let batch_size = match var("LAE_PROJECTION_BATCH_SIZE") {
            Some(v) => v.trim().parse().map_err(|_| {
                ProjectionError::Config(format!("LAE_PROJECTION_BATCH_SIZE {v:?} is not a number"))
            })?,
            None => defaults.batch_size,
        };
        let batch_linger = match var("LAE_PROJECTION_BATCH_LINGER_MS") {
            Some(v) => Duration::from_millis(v.trim().parse().map_err(|_| {
                ProjectionError::Config(format!(
                    "LAE_PROJECTION_BATCH_LINGER_MS {v:?} is not a number"
                ))
            })?),
            None => defaults.batch_linger,
        };
        // The key error never quotes the key.
        let master_keys = MasterKeys::from_lookup(&lookup)
            .map_err(|e| ProjectionError::Config(e.to_string()))?
            .map(Arc::new);
        let config = Self {
            nats_url: var("NATS_URL").unwrap_or(defaults.nats_url),
            stream: var("LAE_NATS_STREAM").unwrap_or(defaults.stream),
            subject_prefix: var("LAE_NATS_SUBJECT_PREFIX").unwrap_or(defaults.subject_prefix),
            consumer_prefix: var("LAE_PROJECTION_CONSUMER_PREFIX")
                .unwrap_or(defaults.consumer_prefix),
            batch_size,
            batch_linger,
            db_password: var("LAE_PROJECTION_DB_PASSWORD"),
            master_keys,
            ..defaults
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what would otherwise fail on every pull.
    pub fn validate(&self) -> Result<(), ProjectionError> {
        let bad = |what: String| Err(ProjectionError::Config(what));
        let is_name = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '.' | '*' | '>'))
        };
        if !is_name(&self.stream) {
            return bad(format!("stream name {:?} is not a valid name", self.stream));
        }
        if !is_name(&self.consumer_prefix) {
            return bad(format!(
                "consumer prefix {:?} is not a valid name",
                self.consumer_prefix
            ));
        }
        if !self.subject_prefix.split('.').all(is_name) {
            return bad(format!(
                "subject prefix {:?} has an empty token, whitespace or a wildcard",
                self.subject_prefix
            ));
        }
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return bad(format!(
                "batch size {} is not between 1 and 10000",
                self.batch_size
            ));
        }
        for (what, value) in [
            ("ack wait", self.ack_wait),
            ("retry delay", self.retry_delay),
            ("min backoff", self.min_backoff),
            ("max backoff", self.max_backoff),
            ("lag poll", self.lag_poll),
        ] {
            if value.is_zero() {
                return bad(format!("the {what} is zero"));
            }
        }
        if self.db_pool_size == 0 {
            return bad("the database pool size is zero".into());
        }
        Ok(())
    }

    /// The durable consumer of a department.
    #[must_use]
    pub fn consumer_name(&self, department: crate::Department) -> String {
        format!("{}_{}", self.consumer_prefix, department.as_str())
    }
}

impl fmt::Debug for ProjectorConfig {
    // The URL may carry credentials and the password is one: show neither. A master
    // key shows its public id only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nats = match self.nats_url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => self.nats_url.clone(),
        };
        f.debug_struct("ProjectorConfig")
            .field("nats_url", &nats)
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .field("consumer_prefix", &self.consumer_prefix)
            .field("batch_size", &self.batch_size)
            .field("batch_linger", &self.batch_linger)
            .field("ack_wait", &self.ack_wait)
            .field("retry_delay", &self.retry_delay)
            .field("db_password", &self.db_password.as_ref().map(|_| "***"))
            .field("departments", &self.departments)
            .field(
                "master_key",
                &self.master_keys.as_ref().map(|m| m.current().id()),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Department;

    #[test]
    fn environment_overrides_the_defaults() {
        let config = ProjectorConfig::from_lookup(|key| match key {
            "NATS_URL" => Some("nats://user:pw@nats:4222".into()),
            "LAE_NATS_STREAM" => Some("S".into()),
            "LAE_NATS_SUBJECT_PREFIX" => Some("a.b".into()),
            "LAE_PROJECTION_CONSUMER_PREFIX" => Some("t1".into()),
            "LAE_PROJECTION_BATCH_SIZE" => Some("50".into()),
            "LAE_PROJECTION_DB_PASSWORD" => Some(" ".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(config.stream, "S");
        assert_eq!(config.subject_prefix, "a.b");
        assert_eq!(config.batch_size, 50);
        assert_eq!(config.db_password, None);
        assert_eq!(config.consumer_name(Department::Sales), "t1_sales");
        assert!(!format!("{config:?}").contains("pw"));
        assert!(config.master_keys.is_none());
    }

    #[test]
    fn master_keys_come_from_the_environment_and_never_show() {
        let key = "42".repeat(32);
        let config = ProjectorConfig::from_lookup(|k| (k == "LAE_MASTER_KEY").then(|| key.clone()))
            .expect("valid");
        let masters = config.master_keys.as_ref().expect("master keys");
        assert!(format!("{config:?}").contains(masters.current().id()));
        assert!(!format!("{config:?}").contains("4242"));
        let bad = ProjectorConfig::from_lookup(|k| {
            (k == "LAE_MASTER_KEY").then(|| "not-a-key-4242".to_owned())
        });
        let message = bad.expect_err("refused").to_string();
        assert!(!message.contains("4242"), "{message}");
        assert!(
            message.contains("LAE_MASTER_KEY:"),
            "names the variable: {message}"
        );
    }

    #[test]
    fn invalid_values_are_refused() {
        let with = |key: &'static str, value: &'static str| {
            ProjectorConfig::from_lookup(move |k| (k == key).then(|| value.to_owned()))
        };
        assert!(with("LAE_NATS_STREAM", "A.B").is_err());
        assert!(with("LAE_NATS_SUBJECT_PREFIX", "a..b").is_err());
        assert!(with("LAE_PROJECTION_CONSUMER_PREFIX", "a b").is_err());
        assert!(with("LAE_PROJECTION_BATCH_SIZE", "0").is_err());
        assert!(with("LAE_PROJECTION_BATCH_SIZE", "many").is_err());
        assert!(ProjectorConfig::from_lookup(|_| None).is_ok());
    }
}
