//! The relay's metrics: plain atomics, rendered in the Prometheus text format.
//!
//! No global recorder: whoever runs the relay owns an `Arc<RelayMetrics>`, hands it
//! to the relay and renders it on its `/metrics` route.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};

/// The most events the depth gauge counts (see [`RelayMetrics::outbox_depth`]).
pub const DEPTH_CAP: u64 = 10_000;

/// Counters and gauges of one relay.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    events_published: AtomicU64,
    duplicates: AtomicU64,
    batches: AtomicU64,
    publish_errors: AtomicU64,
    last_published_position: AtomicI64,
    outbox_depth: AtomicU64,
    /// `f64` bits.
    publish_lag_seconds: AtomicU64,
    /// `f64` bits.
    oldest_unpublished_age_seconds: AtomicU64,
    leader: AtomicBool,
    held_back: AtomicBool,
}

impl RelayMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events acknowledged by every sink and checkpointed, re-publishes included.
    pub fn events_published(&self) -> u64 {
        self.events_published.load(Ordering::Relaxed)
    }

    /// Of those, how many JetStream reported as already stored (re-publishes after a
    /// crash, an outage or a leader change).
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Batches checkpointed.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Batches that failed on a sink (each is retried).
    pub fn publish_errors(&self) -> u64 {
        self.publish_errors.load(Ordering::Relaxed)
    }

    /// Global position of the last event checkpointed (0 before the first).
    pub fn last_published_position(&self) -> i64 {
        self.last_published_position.load(Ordering::Relaxed)
    }

    /// Events committed after the checkpoint: `count(*)` over the commit-order index,
    /// stopped at [`DEPTH_CAP`] so a large backlog costs a bounded scan (a value equal
    /// to the cap means "at least"). It counts events held back behind a running
    /// transaction too. Refreshed after each batch that emptied the readable backlog,
    /// and at least once a second while draining.
    pub fn outbox_depth(&self) -> u64 {
        self.outbox_depth.load(Ordering::Relaxed)
    }

    /// Now minus `recorded_at` of the last event published, at the time it was
    /// published. `recorded_at` is the start of the writing transaction, so this
    /// includes the transaction's own duration.
    pub fn publish_lag_seconds(&self) -> f64 {
        f64::from_bits(self.publish_lag_seconds.load(Ordering::Relaxed))
    }

    /// Age of the oldest event committed but not yet published (0 when none).
    pub fn oldest_unpublished_age_seconds(&self) -> f64 {
        f64::from_bits(self.oldest_unpublished_age_seconds.load(Ordering::Relaxed))
    }

    /// Whether this relay holds the leader lock (only the leader publishes).
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    /// Whether committed events wait behind a running transaction.
    pub fn is_held_back(&self) -> bool {
        self.held_back.load(Ordering::Relaxed)
    }

    pub(crate) fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    pub(crate) fn publish_failed(&self) {
        self.publish_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A batch (or its acknowledged prefix) was checkpointed.
    pub(crate) fn published(
        &self,
        events: u64,
        duplicates: u64,
        last_position: i64,
        last_recorded_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        self.events_published.fetch_add(events, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.last_published_position
            .store(last_position, Ordering::Relaxed);
        store_f64(
            &self.publish_lag_seconds,
            seconds_between(last_recorded_at, now),
        );
    }

    pub(crate) fn set_backlog(
        &self,
        depth: u64,
        oldest: Option<DateTime<Utc>>,
        held_back: bool,
        now: DateTime<Utc>,
    ) {
        self.outbox_depth.store(depth, Ordering::Relaxed);
        store_f64(
            &self.oldest_unpublished_age_seconds,
            oldest.map_or(0.0, |at| seconds_between(at, now)),
        );
        self.held_back.store(held_back, Ordering::Relaxed);
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                "# HELP lae_relay_{name} {help}\n# TYPE lae_relay_{name} {kind}\nlae_relay_{name} {value}\n"
            );
        };
        metric(
            "events_published_total",
            "counter",
            "Events acknowledged by every sink and checkpointed, re-publishes included.",
            self.events_published().to_string(),
        );
        metric(
            "duplicates_total",
            "counter",
            "Published events that JetStream already held (re-publishes).",
            self.duplicates().to_string(),
        );
        metric(
            "batches_total",
            "counter",
            "Batches checkpointed.",
            self.batches().to_string(),
        );
        metric(
            "publish_errors_total",
            "counter",
            "Batches that failed on a sink and were retried.",
            self.publish_errors().to_string(),
        );
        metric(
            "last_published_global_position",
            "gauge",
            "Global position of the last event checkpointed.",
            self.last_published_position().to_string(),
        );
        metric(
            "outbox_depth",
            "gauge",
            &format!(
                "Events committed after the checkpoint, counted up to {DEPTH_CAP} (held-back events included)."
            ),
            self.outbox_depth().to_string(),
        );
        metric(
            "publish_lag_seconds",
            "gauge",
            "Now minus recorded_at of the last event published, when it was published.",
            format_f64(self.publish_lag_seconds()),
        );
        metric(
            "oldest_unpublished_age_seconds",
            "gauge",
            "Age of the oldest committed event not yet published (0 when none).",
            format_f64(self.oldest_unpublished_age_seconds()),
        );
        metric(
            "leader",
            "gauge",
            "1 when this relay holds the leader lock and publishes, else 0.",
            u8::from(self.is_leader()).to_string(),
        );
        metric(
            "held_back",
            "gauge",
            "1 when committed events wait behind a running transaction, else 0.",
            u8::from(self.is_held_back()).to_string(),
        );
        out
    }
}

fn store_f64(cell: &AtomicU64, value: f64) {
    cell.store(value.to_bits(), Ordering::Relaxed);
}

fn seconds_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> f64 {
    let micros = (later - earlier).num_microseconds().unwrap_or(i64::MAX);
    // Clocks of the database and the relay may differ slightly: never negative.
    (micros.max(0) as f64) / 1_000_000.0
}

fn format_f64(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.6}")
    } else {
        "NaN".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_with_help_and_type() {
        let metrics = RelayMetrics::new();
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        let t1 = DateTime::from_timestamp(1_002, 500_000_000).unwrap_or_default();
        metrics.published(10, 2, 42, t0, t1);
        metrics.set_backlog(7, Some(t0), true, t1);
        metrics.set_leader(true);
        metrics.publish_failed();
        let text = metrics.render_prometheus();
        for line in [
            "lae_relay_events_published_total 10",
            "lae_relay_duplicates_total 2",
            "lae_relay_batches_total 1",
            "lae_relay_publish_errors_total 1",
            "lae_relay_last_published_global_position 42",
            "lae_relay_outbox_depth 7",
            "lae_relay_publish_lag_seconds 2.500000",
            "lae_relay_oldest_unpublished_age_seconds 2.500000",
            "lae_relay_leader 1",
            "lae_relay_held_back 1",
            "# TYPE lae_relay_events_published_total counter",
            "# TYPE lae_relay_outbox_depth gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(samples, helps);
    }

    #[test]
    fn lag_is_never_negative() {
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        let t1 = DateTime::from_timestamp(999, 0).unwrap_or_default();
        assert_eq!(seconds_between(t0, t1), 0.0);
    }
}
