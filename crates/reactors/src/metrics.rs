//! What the reactors did, for `/metrics` and the status route.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

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

/// Counters per reactor and outcome.
#[derive(Debug, Default)]
pub struct ReactorMetrics {
    counts: Mutex<BTreeMap<(&'static str, Outcome), u64>>,
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
