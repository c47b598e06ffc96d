//! The JetStream side of a projector: client, stream lookup and durable consumer.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, Context};
use async_nats::{Client, ConnectOptions};

use crate::config::ProjectorConfig;
use crate::department::Department;
use crate::error::ProjectionError;

/// A client that connects, and reconnects, in the background: a projector started while
/// NATS is down neither fails nor blocks, it retries its consumer with back-off.
pub(crate) async fn connect(
    config: &ProjectorConfig,
    name: &str,
) -> Result<Client, ProjectionError> {
    Ok(connect_to(&config.nats_url, name, config.max_backoff).await?)
}

/// A client of the servers in `nats_url` (comma-separated) that connects, and
/// reconnects, in the background with [`backoff_delay`] capped at `cap`: the one way
/// every consumer of the stream (projectors, reactors) reaches NATS.
pub async fn connect_to(
    nats_url: &str,
    name: &str,
    cap: Duration,
) -> Result<Client, async_nats::ConnectError> {
    let servers: Vec<&str> = nats_url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .request_timeout(Some(Duration::from_secs(5)))
        .reconnect_delay_callback(move |attempts| backoff_delay(attempts, cap))
        .connect(servers)
        .await
}

/// Exponential back-off from 100 ms, capped.
#[must_use]
pub fn backoff_delay(attempts: usize, cap: Duration) -> Duration {
    let exponent = u32::try_from(attempts.min(16)).unwrap_or(16);
    Duration::from_millis(100u64.saturating_mul(1 << exponent)).min(cap)
}

/// Whether the server understands several filter subjects on one consumer (2.10+).
#[must_use]
pub fn supports_filter_subjects(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (2, 10)
}

/// The consumer's filter: one subject per aggregate type the department follows where
/// the server allows several, else the whole prefix (the projector then ignores the
/// aggregate types it does not follow). A department follows every event type of its
/// aggregate types, not only those it reads, so that it sees each aggregate's sequence
/// without holes.
pub(crate) fn filters(
    config: &ProjectorConfig,
    department: Department,
    server_version: &str,
) -> Vec<String> {
    let all = crate::Department::Management.aggregate_types();
    let types = department.aggregate_types();
    if types.len() == all.len() || !supports_filter_subjects(server_version) {
        return vec![format!("{}.>", config.subject_prefix)];
    }
    types
        .iter()
        .map(|t| format!("{}.{t}.>", config.subject_prefix))
        .collect()
}

/// Looks up the relay's stream and gets (or creates) the department's durable consumer.
///
/// The stream is the relay's to create (with its de-duplication window): a projector
/// started first waits for it.
pub(crate) async fn consumer(
    client: &Client,
    context: &Context,
    config: &ProjectorConfig,
    department: Department,
) -> Result<PullConsumer, ProjectionError> {
    let stream = context
        .get_stream(&config.stream)
        .await
        .map_err(|e| ProjectionError::JetStream(format!("stream {}: {e}", config.stream)))?;
    let name = config.consumer_name(department);
    let mut filter = filters(config, department, &client.server_info().version);
    let mut consumer_config = PullConfig {
        durable_name: Some(name.clone()),
        description: Some(format!("read model of {department}")),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        // Never give up on a message: a held-back event is redelivered until the event
        // before it arrives (or a rebuild makes it a duplicate).
        max_deliver: -1,
        max_ack_pending: i64::try_from(config.batch_size.saturating_mul(4)).unwrap_or(i64::MAX),
        ..Default::default()
    };
    if filter.len() == 1 {
        consumer_config.filter_subject = filter.remove(0);
    } else {
        consumer_config.filter_subjects = filter;
    }
    stream
        .get_or_create_consumer(&name, consumer_config)
        .await
        .map_err(|e| ProjectionError::JetStream(format!("consumer {name}: {e}")))
}

/// A JetStream context on a client.
pub(crate) fn context(client: Client) -> Context {
    jetstream::new(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_filters_only_where_the_server_takes_them() {
        let config = ProjectorConfig::default();
        assert_eq!(
            filters(&config, Department::Billing, "2.10.4"),
            [
                "lae.events.Customer.>",
                "lae.events.Invoice.>",
                "lae.events.Contract.>",
                "lae.events.Ticket.>"
            ]
        );
        assert_eq!(
            filters(&config, Department::Billing, "2.9.10"),
            ["lae.events.>"]
        );
        assert_eq!(
            filters(&config, Department::Management, "2.11.0"),
            ["lae.events.>"]
        );
        assert!(supports_filter_subjects("v2.12.1"));
        assert!(!supports_filter_subjects(""));
    }

    #[test]
    fn back_off_grows_and_is_capped() {
        let cap = Duration::from_secs(5);
        assert_eq!(backoff_delay(0, cap), Duration::from_millis(100));
        assert_eq!(backoff_delay(2, cap), Duration::from_millis(400));
        assert_eq!(backoff_delay(40, cap), cap);
    }
}
