//! Waking readers of the store (the relay) after an append, without a trigger.
//!
//! A `NOTIFY` issued inside the appending transaction (say, by a trigger on
//! `events`) makes PostgreSQL serialize every committing transaction on a
//! database-wide lock held through the WAL flush: group commit is lost and, on these
//! machines, raw inserts fall from about 7,000 to about 400 per second. A `NOTIFY` in
//! a transaction of its own writes no WAL and commits in about 0.1 ms. So the
//! repository pokes an [`AppendSignal`] after each successful append, and one task
//! per process sends `pg_notify` on its own connection: at most one is in flight,
//! and every append that happens meanwhile is covered by the next one.
//!
//! A lost notification costs latency, never an event: readers also poll.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;

/// The channel readers `LISTEN` on.
pub const EVENTS_CHANNEL: &str = "lae_events";

/// A handle the repository pokes after each append.
#[derive(Debug, Clone)]
pub struct AppendSignal {
    wake: Arc<Notify>,
}

impl AppendSignal {
    /// Starts the process's notifier task on `pool`; it stops when the last handle
    /// is dropped.
    pub fn spawn(pool: PgPool) -> Self {
        let wake = Arc::new(Notify::new());
        tokio::spawn(notify_loop(pool, Arc::downgrade(&wake)));
        Self { wake }
    }

    /// Records that events were appended. Cheap: never waits.
    pub fn poke(&self) {
        // `notify_one` stores one permit when the task is busy: pokes coalesce.
        self.wake.notify_one();
    }
}

async fn notify_loop(pool: PgPool, wake: Weak<Notify>) {
    loop {
        let Some(signal) = wake.upgrade() else {
            return;
        };
        // Re-check now and then whether the handles are gone.
        let poked = tokio::time::timeout(Duration::from_secs(1), signal.notified())
            .await
            .is_ok();
        drop(signal);
        if !poked {
            continue;
        }
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(EVENTS_CHANNEL)
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "could not notify readers of appended events; they will poll");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
