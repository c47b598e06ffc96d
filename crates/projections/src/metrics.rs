//! The projectors' metrics: plain atomics, rendered in the Prometheus text format and
//! as a serialisable status.
//!
//! No global recorder: whoever runs the projectors owns an `Arc<ProjectionMetrics>`,
//! hands it to them and renders it on `/metrics` and the status endpoint.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::apply::Verdict;
use crate::department::Department;

/// Counters and gauges of one department's projector.
#[derive(Debug, Default)]
pub struct DepartmentMetrics {
    applied: AtomicU64,
    duplicates: AtomicU64,
    gaps: AtomicU64,
    undecodable: AtomicU64,
    redacted: AtomicU64,
    malformed: AtomicU64,
    batches: AtomicU64,
    batch_failures: AtomicU64,
    events_behind: AtomicU64,
    last_applied_position: AtomicI64,
    /// Microseconds since the epoch; 0 before the first event.
    last_applied_recorded_at: AtomicI64,
    connected: AtomicBool,
    rebuilding: AtomicBool,
    /// Lag of each applied event (applied at − recorded at), per [`LAG_BUCKETS`] (the
    /// last slot counts what is above the last bound), with their sum in microseconds.
    lag_counts: [AtomicU64; LAG_BUCKETS.len() + 1],
    lag_sum_micros: AtomicU64,
}

/// Upper bounds, in seconds, of the buckets of the lag histogram.
pub const LAG_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

impl DepartmentMetrics {
    /// Counts the lag of one event from its recording to its application.
    pub fn observe_lag(&self, seconds: f64) {
        let seconds = seconds.max(0.0);
        let slot = LAG_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LAG_BUCKETS.len());
        self.lag_counts[slot].fetch_add(1, Ordering::Relaxed);
        // Lags are positive and far below u64::MAX microseconds.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.lag_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The cumulative counts of the lag histogram (one per bound, then all).
    #[must_use]
    pub fn lag_histogram(&self) -> Vec<u64> {
        let mut total = 0;
        self.lag_counts
            .iter()
            .map(|c| {
                total += c.load(Ordering::Relaxed);
                total
            })
            .collect()
    }

    /// Counts the outcome of one committed batch.
    pub(crate) fn record_batch(
        &self,
        verdicts: &[Verdict],
        last_applied: Option<(i64, DateTime<Utc>)>,
    ) {
        let count = |v: Verdict| verdicts.iter().filter(|x| **x == v).count() as u64;
        self.applied
            .fetch_add(count(Verdict::Applied), Ordering::Relaxed);
        self.duplicates
            .fetch_add(count(Verdict::Duplicate), Ordering::Relaxed);
        self.gaps.fetch_add(count(Verdict::Gap), Ordering::Relaxed);
        self.undecodable
            .fetch_add(count(Verdict::Undecodable), Ordering::Relaxed);
        self.redacted
            .fetch_add(count(Verdict::Redacted), Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if let Some((position, recorded_at)) = last_applied {
            self.last_applied_position
                .store(position, Ordering::Relaxed);
            self.last_applied_recorded_at
                .store(recorded_at.timestamp_micros(), Ordering::Relaxed);
        }
    }

    pub(crate) fn record_failure(&self) {
        self.batch_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_malformed(&self, n: u64) {
        self.malformed.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_events_behind(&self, n: u64) {
        self.events_behind.store(n, Ordering::Relaxed);
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    pub(crate) fn set_rebuilding(&self, rebuilding: bool) {
        self.rebuilding.store(rebuilding, Ordering::Relaxed);
    }

    /// Events applied (first delivery of each event).
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Redeliveries and re-publishes that changed nothing.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Deliveries held back because an earlier event of the aggregate was missing.
    pub fn gaps(&self) -> u64 {
        self.gaps.load(Ordering::Relaxed)
    }

    /// Deliveries held back because their payload could not be decoded.
    pub fn undecodable(&self) -> u64 {
        self.undecodable.load(Ordering::Relaxed)
    }

    /// Events skipped because their personal fields were erased or are withheld from
    /// this department (their sequence is recorded; nothing is held back).
    pub fn redacted(&self) -> u64 {
        self.redacted.load(Ordering::Relaxed)
    }

    /// Batches committed.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Batches rolled back (database or broker failure); each is retried.
    pub fn batch_failures(&self) -> u64 {
        self.batch_failures.load(Ordering::Relaxed)
    }

    /// Messages of the consumer not yet acknowledged (pending delivery or ack), as last
    /// reported by JetStream.
    pub fn events_behind(&self) -> u64 {
        self.events_behind.load(Ordering::Relaxed)
    }

    /// Global position of the last event applied.
    pub fn last_applied_position(&self) -> i64 {
        self.last_applied_position.load(Ordering::Relaxed)
    }

    /// Record time of the last event applied.
    pub fn last_applied_recorded_at(&self) -> Option<DateTime<Utc>> {
        match self.last_applied_recorded_at.load(Ordering::Relaxed) {
            0 => None,
            micros => DateTime::from_timestamp_micros(micros),
        }
    }

    /// Seconds between now and the record time of the last event applied, while events
    /// are waiting; 0 when the projector has caught up (an idle read model is not late).
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> f64 {
        if self.events_behind() == 0 {
            return 0.0;
        }
        self.last_applied_recorded_at()
            .map_or(0.0, |at| {
                (now - at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
            })
            .max(0.0)
    }

    /// Whether the projector holds a JetStream consumer.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Whether a rebuild of this department is running in this process.
    pub fn rebuilding(&self) -> bool {
        self.rebuilding.load(Ordering::Relaxed)
    }
}

/// The metrics of every department's projector.
#[derive(Debug, Default)]
pub struct ProjectionMetrics {
    departments: [DepartmentMetrics; 5],
}

/// One department in [`ProjectionStatus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentStatus {
    /// The department's code.
    pub department: Department,
    /// Whether its projector holds a JetStream consumer.
    pub connected: bool,
    /// Whether a rebuild is running in this process.
    pub rebuilding: bool,
    /// Events applied.
    pub events_applied: u64,
    /// Deliveries that changed nothing.
    pub duplicates: u64,
    /// Deliveries held back for a missing earlier event.
    pub gaps: u64,
    /// Deliveries held back for an undecodable payload.
    pub undecodable: u64,
    /// Events skipped as redacted (erased or withheld personal data).
    pub redacted: u64,
    /// Batches rolled back.
    pub batch_failures: u64,
    /// Messages not yet acknowledged.
    pub events_behind: u64,
    /// Seconds behind (0 when caught up).
    pub lag_seconds: f64,
    /// Global position of the last event applied.
    pub last_applied_position: i64,
    /// Record time of the last event applied (RFC 3339).
    pub last_applied_recorded_at: Option<String>,
}

/// What the status endpoint shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionStatus {
    /// When the status was taken (RFC 3339).
    pub at: String,
    /// One entry per department.
    pub departments: Vec<DepartmentStatus>,
}

impl ProjectionMetrics {
    /// Zeroed metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metrics of one department.
    pub fn department(&self, department: Department) -> &DepartmentMetrics {
        &self.departments[department.index()]
    }

    /// A snapshot for a status endpoint.
    pub fn status(&self) -> ProjectionStatus {
        let now = Utc::now();
        ProjectionStatus {
            at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            departments: Department::ALL
                .into_iter()
                .map(|d| {
                    let m = self.department(d);
                    DepartmentStatus {
                        department: d,
                        connected: m.connected(),
                        rebuilding: m.rebuilding(),
                        events_applied: m.applied(),
                        duplicates: m.duplicates(),
                        gaps: m.gaps(),
                        undecodable: m.undecodable(),
                        redacted: m.redacted(),
                        batch_failures: m.batch_failures(),
                        events_behind: m.events_behind(),
                        lag_seconds: m.lag_seconds(now),
                        last_applied_position: m.last_applied_position(),
                        last_applied_recorded_at: m
                            .last_applied_recorded_at()
                            .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true)),
                    }
                })
                .collect(),
        }
    }

    /// The Prometheus text exposition of every department's metrics.
    pub fn render_prometheus(&self) -> String {
        let now = Utc::now();
        let mut out = String::new();
        let mut family =
            |name: &str, kind: &str, help: &str, value: &dyn Fn(&DepartmentMetrics) -> String| {
                let _ = writeln!(out, "# HELP lae_projection_{name} {help}");
                let _ = writeln!(out, "# TYPE lae_projection_{name} {kind}");
                for d in Department::ALL {
                    let _ = writeln!(
                        out,
                        "lae_projection_{name}{{department=\"{d}\"}} {}",
                        value(self.department(d))
                    );
                }
            };
        family(
            "events_applied_total",
            "counter",
            "Events applied to the read model.",
            &|m| m.applied().to_string(),
        );
        family(
            "duplicates_total",
            "counter",
            "Deliveries already applied (redeliveries, re-publishes).",
            &|m| m.duplicates().to_string(),
        );
        family(
            "gaps_total",
            "counter",
            "Deliveries held back because an earlier event of the aggregate was missing.",
            &|m| m.gaps().to_string(),
        );
        family(
            "undecodable_total",
            "counter",
            "Deliveries held back because the payload could not be decoded.",
            &|m| m.undecodable().to_string(),
        );
        family(
            "redacted_total",
            "counter",
            "Events skipped because their personal fields were erased or are withheld from the department.",
            &|m| m.redacted().to_string(),
        );
        family(
            "malformed_total",
            "counter",
            "Messages that are not event envelopes.",
            &|m| m.malformed.load(Ordering::Relaxed).to_string(),
        );
        family("batches_total", "counter", "Batches committed.", &|m| {
            m.batches().to_string()
        });
        family(
            "batch_failures_total",
            "counter",
            "Batches rolled back and retried.",
            &|m| m.batch_failures().to_string(),
        );
        family(
            "events_behind",
            "gauge",
            "Messages of the consumer not yet acknowledged.",
            &|m| m.events_behind().to_string(),
        );
        family(
            "lag_seconds",
            "gauge",
            "Now minus the record time of the last applied event while events wait (0 when caught up).",
            &|m| format!("{:.6}", m.lag_seconds(now)),
        );
        family(
            "last_applied_position",
            "gauge",
            "Global position of the last applied event.",
            &|m| m.last_applied_position().to_string(),
        );
        family(
            "last_applied_timestamp_seconds",
            "gauge",
            "Record time of the last applied event, in seconds since the epoch.",
            &|m| {
                format!(
                    "{:.6}",
                    m.last_applied_recorded_at.load(Ordering::Relaxed) as f64 / 1e6
                )
            },
        );
        family(
            "connected",
            "gauge",
            "1 when the projector holds its JetStream consumer.",
            &|m| u8::from(m.connected()).to_string(),
        );
        family(
            "rebuilding",
            "gauge",
            "1 while a rebuild runs in this process.",
            &|m| u8::from(m.rebuilding()).to_string(),
        );
        out.push_str(
            "# HELP lae_projection_apply_lag_seconds Time from an event's recording to its application to the read model.\n\
             # TYPE lae_projection_apply_lag_seconds histogram\n",
        );
        for d in Department::ALL {
            let m = self.department(d);
            let cumulative = m.lag_histogram();
            for (bound, n) in LAG_BUCKETS.iter().zip(&cumulative) {
                let _ = writeln!(
                    out,
                    "lae_projection_apply_lag_seconds_bucket{{department=\"{d}\",le=\"{bound}\"}} {n}"
                );
            }
            let count = cumulative.last().copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "lae_projection_apply_lag_seconds_bucket{{department=\"{d}\",le=\"+Inf\"}} {count}"
            );
            // Microseconds to seconds, for display: far below 2^52.
            #[allow(clippy::cast_precision_loss)]
            let sum = m.lag_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "lae_projection_apply_lag_seconds_sum{{department=\"{d}\"}} {sum:.6}"
            );
            let _ = writeln!(
                out,
                "lae_projection_apply_lag_seconds_count{{department=\"{d}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_histogram_is_cumulative_and_rendered_for_prometheus() {
        let metrics = ProjectionMetrics::new();
        let m = metrics.department(Department::Billing);
        for lag in [0.005, 0.2, 0.2, 7.0, 1_000.0] {
            m.observe_lag(lag);
        }
        let h = m.lag_histogram();
        assert_eq!(h[0], 1, "≤ 10 ms");
        assert_eq!(h[4], 3, "≤ 250 ms");
        assert_eq!(h[9], 4, "≤ 10 s");
        assert_eq!(h[LAG_BUCKETS.len()], 5, "all");
        let text = metrics.render_prometheus();
        assert!(text.contains(
            "lae_projection_apply_lag_seconds_bucket{department=\"billing\",le=\"0.25\"} 3"
        ));
        assert!(text.contains(
            "lae_projection_apply_lag_seconds_bucket{department=\"billing\",le=\"+Inf\"} 5"
        ));
        assert!(text.contains("lae_projection_apply_lag_seconds_count{department=\"billing\"} 5"));
    }

    #[test]
    fn renders_one_labelled_sample_per_department() {
        let metrics = ProjectionMetrics::new();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        metrics.department(Department::Sales).record_batch(
            &[
                Verdict::Applied,
                Verdict::Duplicate,
                Verdict::Gap,
                Verdict::Applied,
                Verdict::Redacted,
            ],
            Some((42, at)),
        );
        let text = metrics.render_prometheus();
        assert!(
            text.contains("lae_projection_events_applied_total{department=\"sales\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("lae_projection_duplicates_total{department=\"sales\"} 1\n"));
        assert!(text.contains("lae_projection_redacted_total{department=\"sales\"} 1\n"));
        assert!(text.contains("lae_projection_gaps_total{department=\"legal\"} 0\n"));
        assert!(text.contains("lae_projection_last_applied_position{department=\"sales\"} 42\n"));
        assert!(text.contains("lae_projection_last_applied_timestamp_seconds{department=\"sales\"} 1700000000.000000\n"));
        assert_eq!(text.matches("lae_projection_lag_seconds{").count(), 5);
    }

    #[test]
    fn lag_counts_only_while_events_wait() {
        let m = DepartmentMetrics::default();
        let at = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        m.record_batch(&[Verdict::Applied], Some((1, at)));
        let now = DateTime::from_timestamp(1_010, 0).unwrap_or_default();
        assert_eq!(m.lag_seconds(now), 0.0);
        m.set_events_behind(3);
        assert_eq!(m.lag_seconds(now), 10.0);
        let status = ProjectionMetrics::new().status();
        assert_eq!(status.departments.len(), 5);
        assert!(serde_json::to_string(&status).is_ok());
    }
}
