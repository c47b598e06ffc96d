//! Deciding a batch: each row's commands go through the aggregate's own `handle`,
//! in memory, on the state the store holds (plus what earlier rows of the run decided),
//! and the resulting events are numbered from the aggregate's version. A row whose
//! commands the domain refuses changes nothing: its aggregate is left as it was, and
//! the row (or, for a department's part of a customer, the field) is set aside with
//! the domain's reason.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use lae_domain::contract::Contract;
use lae_domain::invoice::Invoice;
use lae_domain::offer::Offer;
use lae_domain::ticket::Ticket;
use lae_store::{EventMetadata, Source};
use serde_json::Value;

use super::{Desire, Note, RowPlan, contract, customer, invoice, offer, ticket};
use crate::error::MigrateError;
use crate::ids;
use crate::legacy::Table;
use crate::reconcile::book::CustomerBook;
use crate::report::{ReportBuilder, Scope};
use crate::store::{Document, Slot};

/// The `user` of every imported event.
pub const USER: &str = "lae-migrator";

/// The states of the non-customer aggregates a batch touches, loaded for the batch.
#[derive(Debug, Default)]
pub struct OtherStates {
    pub offers: HashMap<String, Slot<Offer>>,
    pub contracts: HashMap<String, Slot<Contract>>,
    pub invoices: HashMap<String, Slot<Invoice>>,
    pub tickets: HashMap<String, Slot<Ticket>>,
}

/// What became of one row.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Its data is in the store: these events were decided for it (maybe none).
    Imported { events: Vec<(&'static str, String)> },
    /// Refused, with the reason: the whole row, or one part of it.
    Refused {
        scope: Scope,
        field: Option<&'static str>,
        reason: String,
    },
}

/// A decided batch: what to write, and what to report once it is written.
#[derive(Debug, Default)]
pub struct Decided {
    pub events: Vec<SerializedEvent>,
    pub documents: Vec<Document>,
    pub outcomes: Vec<(Table, i64, &'static [Note], Outcome)>,
}

impl Decided {
    /// Records the batch in the report (once it is appended, or at once in a dry run).
    pub fn report(&self, report: &mut ReportBuilder) {
        for (table, row_id, notes, outcome) in &self.outcomes {
            match outcome {
                Outcome::Imported { events } => {
                    report.imported(*table, events.len() as u64);
                    for (aggregate_type, event_type) in events {
                        report.event(aggregate_type, event_type);
                    }
                    if !events.is_empty() {
                        for note in *notes {
                            report.assumption(*table, note.field, note.rule);
                        }
                    }
                }
                Outcome::Refused {
                    scope: Scope::Row,
                    field,
                    reason,
                } => report.quarantine(*table, *row_id, *field, reason.clone()),
                Outcome::Refused {
                    scope: Scope::Field,
                    field,
                    reason,
                } => {
                    report.imported(*table, 0);
                    report.field_issue(*table, *row_id, field.unwrap_or("?"), reason.clone());
                }
            }
        }
        report.documents(self.documents.len() as u64);
    }
}

/// Decides every row of a batch, in order.
pub async fn decide(
    rows: &[RowPlan],
    book: &mut CustomerBook,
    others: &mut OtherStates,
) -> Result<Decided, MigrateError> {
    let mut decided = Decided::default();
    for row in rows {
        let metadata = metadata(row)?;
        let before = decided.events.len();
        let result = match &row.desire {
            Desire::Customer { id, change } => {
                let slot = book.slot_mut(*id);
                match customer::commands(&slot.state, *id, change) {
                    Ok(commands) => {
                        run(
                            slot,
                            &id.to_string(),
                            commands,
                            &metadata,
                            &mut decided.events,
                        )
                        .await?
                    }
                    Err(reason) => Err(reason),
                }
            }
            Desire::Offer { id, offer } => {
                let key = id.to_string();
                let slot = others.offers.entry(key.clone()).or_default();
                match offer::commands(&slot.state, *id, offer) {
                    Ok(commands) => {
                        run(slot, &key, commands, &metadata, &mut decided.events).await?
                    }
                    Err(reason) => Err(reason),
                }
            }
            Desire::Contract { id, contract } => {
                let key = id.to_string();
                let slot = others.contracts.entry(key.clone()).or_default();
                match contract::commands(&slot.state, contract) {
                    Ok(commands) => {
                        let signs = commands.iter().any(|c| {
                            matches!(
                                c,
                                lae_domain::contract::ContractCommand::SignContract { .. }
                            )
                        });
                        let result =
                            run(slot, &key, commands, &metadata, &mut decided.events).await?;
                        if signs && result.is_ok() {
                            decided.documents.push(Document {
                                sha256: contract.document.sha256.as_str().to_owned(),
                                content: contract.content.clone(),
                            });
                        }
                        result
                    }
                    Err(reason) => Err(reason),
                }
            }
            Desire::Invoice { id, invoice } => {
                let key = id.to_string();
                let slot = others.invoices.entry(key.clone()).or_default();
                match invoice::commands(&slot.state, invoice) {
                    Ok(commands) => {
                        run(slot, &key, commands, &metadata, &mut decided.events).await?
                    }
                    Err(reason) => Err(reason),
                }
            }
            Desire::Ticket { id, call } => {
                let key = id.to_string();
                let slot = others.tickets.entry(key.clone()).or_default();
                match ticket::commands(&slot.state, call) {
                    Ok(commands) => {
                        run(slot, &key, commands, &metadata, &mut decided.events).await?
                    }
                    Err(reason) => Err(reason),
                }
            }
        };
        let outcome = match result {
            Ok(()) => Outcome::Imported {
                events: decided.events[before..]
                    .iter()
                    .map(|e| (aggregate_type(&e.aggregate_type), e.event_type.clone()))
                    .collect(),
            },
            Err(reason) => {
                let field = match &row.desire {
                    Desire::Customer { change, .. } => change.field(),
                    _ => None,
                };
                Outcome::Refused {
                    scope: if field.is_some() {
                        Scope::Field
                    } else {
                        Scope::Row
                    },
                    field,
                    reason,
                }
            }
        };
        decided
            .outcomes
            .push((row.table, row.row_id, row.notes, outcome));
    }
    Ok(decided)
}

fn aggregate_type(name: &str) -> &'static str {
    match name {
        "Customer" => "Customer",
        "Offer" => "Offer",
        "Contract" => "Contract",
        "Invoice" => "Invoice",
        "Ticket" => "Ticket",
        _ => "?",
    }
}

/// Runs commands on a copy of the aggregate; on success the copy replaces the state
/// and the events are appended to `out`, numbered from the aggregate's version. The
/// outer `Result` is a failure of the import (an event that cannot be serialised); the
/// inner one is the domain's refusal.
async fn run<A>(
    slot: &mut Slot<A>,
    aggregate_id: &str,
    commands: Vec<A::Command>,
    metadata: &Value,
    out: &mut Vec<SerializedEvent>,
) -> Result<Result<(), String>, MigrateError>
where
    A: Aggregate<Services = ()> + Clone,
    A::Error: Display,
{
    let mut state = slot.state.clone();
    let mut events = Vec::new();
    for command in commands {
        let sink = EventSink::default();
        if let Err(refusal) = state.handle(command, &(), &sink).await {
            return Ok(Err(format!("refused by the domain: {refusal}")));
        }
        events.extend(sink.collect().await);
    }
    let mut version = slot.version;
    for event in events {
        version += 1;
        let payload = serde_json::to_value(&event).map_err(|e| {
            MigrateError::Internal(format!("cannot serialise a {} event: {e}", A::TYPE))
        })?;
        out.push(SerializedEvent::new(
            aggregate_id.to_owned(),
            version,
            A::TYPE.to_owned(),
            event.event_type(),
            event.event_version(),
            payload,
            metadata.clone(),
        ));
    }
    slot.state = state;
    slot.version = version;
    Ok(Ok(()))
}

/// The metadata of every event of a row: who (the import, for the department that
/// kept the file), when (the legacy date), why (the legacy row, as correlation and
/// causation id), from where (`legacy-migration`, file, table, row) and the rules
/// applied where the legacy data was silent. Nothing in it depends on the run, so a
/// re-run decides byte-identical events.
fn metadata(row: &RowPlan) -> Result<Value, MigrateError> {
    let correlation = ids::correlation(row.table, row.row_id);
    let mut metadata = EventMetadata::new(
        USER,
        row.table.file().department().as_str(),
        row.occurred_at,
        correlation,
        Source::LegacyMigration,
    )
    .with("file", row.table.file().file_name())
    .with("table", row.table.name())
    .with("row_id", row.row_id.to_string());
    for note in row.notes {
        metadata = metadata.with(format!("assumption.{}", note.field), note.rule);
    }
    // A sorted map: the JSON text is the same on every run.
    let sorted: BTreeMap<String, String> = metadata.to_map().into_iter().collect();
    serde_json::to_value(sorted)
        .map_err(|e| MigrateError::Internal(format!("cannot serialise metadata: {e}")))
}
