//! Batching: legacy rows are decided in memory and appended in large multi-aggregate
//! statements, one batch in flight while the next is decided.
//!
//! Why this is safe:
//! - **Atomic batches.** A batch is one `INSERT` ([`Store::append`]): after a crash
//!   (kill -9 included) the store holds whole batches only, and a re-run decides what
//!   is missing from what the store holds.
//! - **Order.** Only one batch is in flight, and the next one is appended only after it
//!   committed, so an aggregate's events are always appended in sequence order, even
//!   for a customer touched by several files.
//! - **Concurrent writers.** A batch decided on a state another writer has changed
//!   since collides on the primary key and writes nothing. The customers of that batch
//!   and of the next one (decided on top of it) are reloaded from the store, and both
//!   are decided again, up to [`MAX_ATTEMPTS`] times.
//! - **Memory.** A batch is bounded in events and in document bytes, and the states of
//!   offers, contracts, invoices and tickets are loaded per batch and dropped with it.

use std::collections::HashSet;

use cqrs_es::Aggregate;
use lae_domain::CustomerId;
use lae_domain::contract::Contract;
use lae_domain::customer::Customer;
use lae_domain::invoice::Invoice;
use lae_domain::offer::Offer;
use lae_domain::ticket::Ticket;
use tokio::task::JoinHandle;

use crate::error::MigrateError;
use crate::plan::decide::{Decided, OtherStates, decide};
use crate::plan::{Desire, RowPlan};
use crate::progress::Progress;
use crate::reconcile::book::CustomerBook;
use crate::report::ReportBuilder;
use crate::store::{AppendFailure, Store};

/// Attempts at appending a batch that collides with concurrent writers.
pub const MAX_ATTEMPTS: u32 = 5;

/// Document bytes a batch may hold before it is flushed.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// A spawned append, cancelled if the import is dropped (so that cancelling the
/// import cancels its last statement too, as a kill would).
struct AbortOnDrop(JoinHandle<Result<(), AppendFailure>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct InFlight {
    rows: Vec<RowPlan>,
    decided: Decided,
    task: AbortOnDrop,
}

/// One import run's state: the store, the customers, the report, and the batch being
/// filled.
pub(crate) struct Run {
    pub store: Store,
    pub book: CustomerBook,
    pub report: ReportBuilder,
    pub progress: Progress,
    dry_run: bool,
    batch_events: usize,
    stop_after_batches: Option<usize>,
    /// Aggregate types of which the store held no event when the run started: their
    /// aggregates can only hold what this run appended, which it knows without asking.
    empty_at_start: HashSet<&'static str>,
    pending: Vec<RowPlan>,
    pending_events: usize,
    pending_bytes: usize,
    in_flight: Option<InFlight>,
    appended_batches: usize,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("dry_run", &self.dry_run)
            .field("pending", &self.pending.len())
            .field("appended_batches", &self.appended_batches)
            .finish_non_exhaustive()
    }
}

impl Run {
    pub async fn new(
        store: Store,
        progress: Progress,
        dry_run: bool,
        batch_events: usize,
        stop_after_batches: Option<usize>,
    ) -> Result<Self, MigrateError> {
        let mut empty_at_start = HashSet::new();
        for aggregate_type in [Offer::TYPE, Contract::TYPE, Invoice::TYPE, Ticket::TYPE] {
            if store.is_empty(aggregate_type).await? {
                empty_at_start.insert(aggregate_type);
            }
        }
        let customers = store.load_legacy_customers().await?;
        tracing::info!(
            customers = customers.len(),
            "customers already in the store"
        );
        Ok(Self {
            store,
            book: CustomerBook::new(customers),
            report: ReportBuilder::default(),
            progress,
            dry_run,
            batch_events,
            stop_after_batches,
            empty_at_start,
            pending: Vec::new(),
            pending_events: 0,
            pending_bytes: 0,
            in_flight: None,
            appended_batches: 0,
        })
    }

    /// Adds a row to the batch; a full batch is decided and its append started.
    pub async fn push(&mut self, plan: RowPlan) -> Result<(), MigrateError> {
        self.pending_events += plan.expected_events();
        self.pending_bytes += plan.weight();
        self.pending.push(plan);
        if self.pending_events >= self.batch_events || self.pending_bytes >= MAX_BATCH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Decides the rows pushed so far and starts their append (the book then holds
    /// their decisions: matching can rely on it).
    pub async fn flush(&mut self) -> Result<(), MigrateError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        self.pending_events = 0;
        self.pending_bytes = 0;
        let mut decided = self.decide(&rows, false).await?;
        if self.settle(Some(&rows)).await? {
            // The batch before was decided again: this one rests on states that changed.
            decided = self.decide(&rows, true).await?;
        }
        if self.dry_run {
            decided.report(&mut self.report);
            return Ok(());
        }
        let store = self.store.clone();
        let events = std::mem::take(&mut decided.events);
        let documents = decided.documents.clone();
        let task = tokio::spawn(async move {
            store
                .put_documents(&documents)
                .await
                .map_err(AppendFailure::Failed)?;
            store.append(&events).await
        });
        self.in_flight = Some(InFlight {
            rows,
            decided,
            task: AbortOnDrop(task),
        });
        Ok(())
    }

    /// Flushes and waits for the last append.
    pub async fn finish(&mut self) -> Result<(), MigrateError> {
        self.flush().await?;
        self.settle(None).await?;
        Ok(())
    }

    /// Waits for the batch in flight. On a collision with another writer, decides it
    /// again on fresh states and appends it; returns whether it had to (then `next`,
    /// decided on top of it, must be decided again too).
    async fn settle(&mut self, next: Option<&[RowPlan]>) -> Result<bool, MigrateError> {
        let Some(mut flight) = self.in_flight.take() else {
            return Ok(false);
        };
        let joined = (&mut flight.task.0).await;
        let redone = match joined {
            Ok(Ok(())) => {
                flight.decided.report(&mut self.report);
                false
            }
            Ok(Err(AppendFailure::Conflict)) => {
                self.redo(&flight.rows, next).await?;
                true
            }
            Ok(Err(AppendFailure::Failed(e))) => return Err(e),
            Err(e) => return Err(MigrateError::Internal(format!("append task failed: {e}"))),
        };
        self.appended_batches += 1;
        if let Some(limit) = self.stop_after_batches
            && self.appended_batches >= limit
        {
            return Err(MigrateError::Interrupted {
                batches: self.appended_batches,
            });
        }
        Ok(redone)
    }

    async fn redo(
        &mut self,
        rows: &[RowPlan],
        next: Option<&[RowPlan]>,
    ) -> Result<(), MigrateError> {
        let mut touched: Vec<CustomerId> = rows.iter().filter_map(RowPlan::customer).collect();
        if let Some(next) = next {
            touched.extend(next.iter().filter_map(RowPlan::customer));
        }
        touched.sort();
        touched.dedup();
        // Someone else writes these aggregates: what this run has not loaded can no
        // longer be assumed empty.
        self.empty_at_start.clear();
        for attempt in 1..=MAX_ATTEMPTS {
            self.report.retried();
            tracing::warn!(
                attempt,
                rows = rows.len(),
                "a concurrent writer changed this batch's aggregates: deciding it again"
            );
            self.reload_customers(&touched).await?;
            let mut decided = self.decide(rows, true).await?;
            self.store.put_documents(&decided.documents).await?;
            match self
                .store
                .append(&std::mem::take(&mut decided.events))
                .await
            {
                Ok(()) => {
                    decided.report(&mut self.report);
                    return Ok(());
                }
                Err(AppendFailure::Conflict) => continue,
                Err(AppendFailure::Failed(e)) => return Err(e),
            }
        }
        Err(MigrateError::Contention {
            first: rows
                .first()
                .map(|r| format!("{} row {}", r.table.key(), r.row_id))
                .unwrap_or_default(),
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn reload_customers(&mut self, ids: &[CustomerId]) -> Result<(), MigrateError> {
        let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut loaded = self.store.load::<Customer>(&keys).await?;
        for (id, key) in ids.iter().zip(&keys) {
            self.book.reset(*id, loaded.remove(key));
        }
        Ok(())
    }

    /// Loads the states the rows need (unless known empty) and decides the rows.
    async fn decide(
        &mut self,
        rows: &[RowPlan],
        force_load: bool,
    ) -> Result<Decided, MigrateError> {
        let mut ids: [Vec<String>; 4] = Default::default();
        for row in rows {
            match &row.desire {
                Desire::Offer { id, .. } => ids[0].push(id.to_string()),
                Desire::Contract { id, .. } => ids[1].push(id.to_string()),
                Desire::Invoice { id, .. } => ids[2].push(id.to_string()),
                Desire::Ticket { id, .. } => ids[3].push(id.to_string()),
                Desire::Customer { .. } => {}
            }
        }
        let load = |t: &str| force_load || !self.empty_at_start.contains(t);
        let mut others = OtherStates::default();
        if load(Offer::TYPE) {
            others.offers = self.store.load(&ids[0]).await?;
        }
        if load(Contract::TYPE) {
            others.contracts = self.store.load(&ids[1]).await?;
        }
        if load(Invoice::TYPE) {
            others.invoices = self.store.load(&ids[2]).await?;
        }
        if load(Ticket::TYPE) {
            others.tickets = self.store.load(&ids[3]).await?;
        }
        decide(rows, &mut self.book, &mut others).await
    }
}
