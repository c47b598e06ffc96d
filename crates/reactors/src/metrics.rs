//! What the reactors did, for `/metrics` and the status route.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::Reactor;

/// What became of one handled message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Its commands were committed.
    Acted,
    /// Its commands had already been carried out (a redelivery, another instance).
    AlreadyDone,
    /// Nothing to do (an event of the legacy import, of an erased customer, ...).
    Skipped,
    /// A transient failure (database, conflict): redelivered after a delay.
    Retried,
    /// A permanent failure (unreadable event, a refusal that is not "already done"):
    /// logged, counted, and not redelivered.
    Failed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Acted => "acted",
            Self::AlreadyDone => "already_done",
            Self::Skipped => "skipped",
            Self::Retried => "retried",
            Self::Failed => "failed",
        }
    }
}

/// Counters per reactor and outcome, and the Zendesk reactor's backlog.
#[derive(Debug, Default)]
pub struct ReactorMetrics {
    counts: Mutex<BTreeMap<(&'static str, Outcome), u64>>,
    zendesk: Mutex<Backlog>,
}

/// What waits to be delivered to Zendesk, as the last handled message told.
#[derive(Debug, Default, Clone, Copy)]
struct Backlog {
    /// Deliveries not done yet (the one in hand included).
    pending: u64,
    /// When the oldest of them was recorded (the one in hand: deliveries go in order).
    oldest: Option<DateTime<Utc>>,
}

impl ReactorMetrics {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one message.
    pub fn record(&self, reactor: Reactor, outcome: Outcome) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry((reactor.name(), outcome)).or_default() += 1;
    }

    /// The Zendesk backlog: `pending` deliveries, the oldest recorded at `oldest`.
    pub fn zendesk_backlog(&self, pending: u64, oldest: Option<DateTime<Utc>>) {
        let mut backlog = self
            .zendesk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *backlog = Backlog {
            pending,
            oldest: oldest.filter(|_| pending > 0),
        };
    }

    /// Deliveries to Zendesk not done yet, and the age of the oldest in seconds.
    #[must_use]
    pub fn zendesk_pending(&self, now: DateTime<Utc>) -> (u64, f64) {
        let backlog = *self
            .zendesk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let age = backlog.oldest.map_or(0.0, |at| {
            let ms = (now - at).num_milliseconds().max(0);
            // Ages in the backlog are far below 2^52 ms.
            #[allow(clippy::cast_precision_loss)]
            let seconds = ms as f64 / 1000.0;
            seconds
        });
        (backlog.pending, age)
    }

    /// How many messages of `reactor` ended with `outcome`.
    #[must_use]
    pub fn count(&self, reactor: Reactor, outcome: Outcome) -> u64 {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.get(&(reactor.name(), outcome)).copied().unwrap_or(0)
    }

    /// The Prometheus text exposition of the counters.
    #[must_use]
    pub fn render(&self) -> String {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::from(
            "# HELP lae_reactor_messages_total Messages handled by each reactor, by outcome.\n# TYPE lae_reactor_messages_total counter\n",
        );
        for reactor in Reactor::ALL {
            for outcome in [
                Outcome::Acted,
                Outcome::AlreadyDone,
                Outcome::Skipped,
                Outcome::Retried,
                Outcome::Failed,
            ] {
                let n = counts.get(&(reactor.name(), outcome)).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "lae_reactor_messages_total{{reactor=\"{}\",outcome=\"{}\"}} {n}",
                    reactor.name(),
                    outcome.label()
                );
            }
        }
        let (pending, age) = self.zendesk_pending(Utc::now());
        let _ = write!(
            out,
            "# HELP lae_zendesk_deliveries_pending Ticket events waiting to be delivered to Zendesk.\n\
             # TYPE lae_zendesk_deliveries_pending gauge\n\
             lae_zendesk_deliveries_pending {pending}\n\
             # HELP lae_zendesk_oldest_pending_seconds Age of the oldest ticket event waiting for Zendesk.\n\
             # TYPE lae_zendesk_oldest_pending_seconds gauge\n\
             lae_zendesk_oldest_pending_seconds {age:.3}\n"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reactor_and_outcome() {
        let metrics = ReactorMetrics::new();
        metrics.record(Reactor::InformSales, Outcome::Acted);
        metrics.record(Reactor::InformSales, Outcome::Acted);
        metrics.record(Reactor::ContractRequests, Outcome::AlreadyDone);
        let now = Utc::now();
        metrics.zendesk_backlog(3, Some(now - chrono::Duration::seconds(90)));
        let (pending, age) = metrics.zendesk_pending(now);
        assert_eq!(pending, 3);
        assert!((age - 90.0).abs() < 0.01, "{age}");
        metrics.zendesk_backlog(0, Some(now));
        assert_eq!(metrics.zendesk_pending(now), (0, 0.0));
        assert_eq!(metrics.count(Reactor::InformSales, Outcome::Acted), 2);
        let text = metrics.render();
        assert!(
            text.contains(
                "lae_reactor_messages_total{reactor=\"inform_sales\",outcome=\"acted\"} 2"
            )
        );
        assert!(text.contains(
            "lae_reactor_messages_total{reactor=\"contract_requests\",outcome=\"already_done\"} 1"
        ));
    }
}
