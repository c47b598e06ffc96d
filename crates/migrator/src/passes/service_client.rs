//! `service_client.db`: customers (registered with customer service's contact
//! details, the reference for every other file) and their calls (tickets).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lae_domain::{ActionText, OperatorName, Reason};

use super::{Refusal, client_of, next_chunk, one_line, required, text};
use crate::error::MigrateError;
use crate::ids;
use crate::legacy::Table;
use crate::legacy::cell::Row;
use crate::legacy::child::appels;
use crate::legacy::reader::LegacyReader;
use crate::normalise::contact::{NumberParse, number_text, number_value};
use crate::normalise::date::parse_instant;
use crate::normalise::vocab;
use crate::pipeline::Run;
use crate::plan::customer::CustomerChange;
use crate::plan::ticket::LegacyCall;
use crate::plan::{Desire, Note, RowPlan};
use crate::reconcile::Local;
use crate::reconcile::book::Found;
use crate::reconcile::conflicts::differing_columns;
use crate::reconcile::contact::{FIELDS, ParsedContact};
use crate::reconcile::duplicates::{Duplicates, Seen};

/// The `occurred_at` of events whose legacy row has no date: the epoch, which no
/// legacy event can have, stands for "unknown".
pub const UNDATED: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// The metadata note of an event dated [`UNDATED`].
pub const UNDATED_NOTE: Note = Note {
    field: "occurred_at",
    rule: "undated in the legacy file: 1970-01-01T00:00:00Z stands for unknown",
};

const CALL_NOTES: &[Note] = &[Note {
    field: "resolved_at",
    rule: "legacy calls are closed: resolved at the time of the call",
}];

/// Imports `service_client.db`.
pub(crate) async fn import(run: &mut Run, reader: &LegacyReader) -> Result<(), MigrateError> {
    let table = Table::ScClients;
    run.progress.stage(table.key());
    run.report.table(table);
    let mut local = HashMap::new();
    let mut duplicates = Duplicates::default();
    let mut unnumbered = HashSet::new();
    let mut stream = reader.stream(table, table.columns(), None);
    while let Some(chunk) = next_chunk(&mut stream).await? {
        for row in chunk {
            run.progress.row();
            run.report.read(table);
            client(run, &row, &mut local, &mut duplicates, &mut unnumbered).await?;
        }
    }
    // Rows without a number are matched on mail or phone against every customer,
    // including those registered from rows further down the file: decide those first.
    run.flush().await?;
    run.book.rebuild_index();
    if !unnumbered.is_empty() {
        let mut stream = reader.stream(table, table.columns(), Some(Arc::new(unnumbered)));
        while let Some(chunk) = next_chunk(&mut stream).await? {
            for row in chunk {
                unnumbered_client(run, &row, &mut local);
            }
        }
    }

    let table = Table::ScAppels;
    run.progress.stage(table.key());
    run.report.table(table);
    let mut stream = reader.stream(table, table.columns(), None);
    while let Some(chunk) = next_chunk(&mut stream).await? {
        for row in chunk {
            run.progress.row();
            run.report.read(table);
            match call(&row, &local) {
                Ok((plan, issue)) => {
                    if let Some((field, reason)) = issue {
                        run.report.field_issue(table, row.row_id, field, reason);
                    }
                    run.push(plan).await?;
                }
                Err((field, reason)) => {
                    run.report
                        .quarantine(table, row.row_id, Some(field), reason)
                }
            }
        }
    }
    run.flush().await
}

async fn client(
    run: &mut Run,
    row: &Row,
    local: &mut HashMap<i64, Local>,
    duplicates: &mut Duplicates,
    unnumbered: &mut HashSet<i64>,
) -> Result<(), MigrateError> {
    let table = Table::ScClients;
    let contact = ParsedContact::parse(row);
    let number = match &contact.number {
        NumberParse::Valid(n) => *n,
        NumberParse::Missing => {
            // Settled once every numbered row is known.
            unnumbered.insert(row.row_id);
            return Ok(());
        }
        NumberParse::Invalid(reason) => {
            run.report
                .quarantine(table, row.row_id, Some("num_client"), reason.clone());
            local.insert(row.row_id, Local::SetAside);
            return Ok(());
        }
    };
    let (details, issues) = match contact.details() {
        Ok(found) => found,
        Err((field, reason)) => {
            run.report
                .quarantine(table, row.row_id, Some(field), reason);
            local.insert(row.row_id, Local::SetAside);
            return Ok(());
        }
    };
    let id = ids::customer(number);
    if let Some(other) = run.book.find_number(number).filter(|other| *other != id) {
        run.report.quarantine(
            table,
            row.row_id,
            Some("num_client"),
            format!(
                "{} already belongs to customer {other} in the store, which the import did not register",
                number_text(number)
            ),
        );
        local.insert(row.row_id, Local::SetAside);
        return Ok(());
    }
    local.insert(row.row_id, Local::Customer(id, number));
    let columns: Vec<&'static str> = FIELDS.iter().map(|(_, c)| *c).collect();
    let values: Vec<String> = (0..FIELDS.len()).map(|i| contact.key(i)).collect();
    match duplicates.check(number, row.row_id, &columns, &values) {
        Seen::First => {}
        Seen::Same { .. } => {
            run.report.merged(table);
            return Ok(());
        }
        Seen::Different { row_id, columns } => {
            run.report.quarantine(
                table,
                row.row_id,
                None,
                format!(
                    "{} entered twice in service_client.db: this row disagrees with row {row_id} on {}",
                    number_text(number),
                    columns.join(", ")
                ),
            );
            return Ok(());
        }
    }
    for (field, reason) in issues {
        run.report.field_issue(table, row.row_id, field, reason);
    }
    let number = number_value(number).map_err(MigrateError::Internal)?;
    run.push(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at: UNDATED,
        notes: &[UNDATED_NOTE],
        desire: Desire::Customer {
            id,
            change: CustomerChange::Contact {
                number,
                contact: details,
            },
        },
    })
    .await
}

/// A customer service row without a customer number: a copy of a known customer
/// (matched on mail, then phone) is merged if it agrees with them, and set aside
/// otherwise; customer service cannot register a customer without a number.
fn unnumbered_client(run: &mut Run, row: &Row, local: &mut HashMap<i64, Local>) {
    let table = Table::ScClients;
    let contact = ParsedContact::parse(row);
    match run.book.find_contact(contact.email(), contact.phone()) {
        Found::No(reason) => {
            run.report
                .quarantine(table, row.row_id, Some("num_client"), reason);
            local.insert(row.row_id, Local::SetAside);
        }
        Found::Customer(id, number) => {
            local.insert(row.row_id, Local::Customer(id, number));
            let differing = run
                .book
                .slot(&id)
                .and_then(|s| s.state.contact())
                .map(|current| differing_columns(current, &contact))
                .unwrap_or_default();
            if differing.is_empty() {
                run.report.merged(table);
            } else {
                run.report.quarantine(
                    table,
                    row.row_id,
                    Some("num_client"),
                    format!(
                        "no customer number; matches {} on mail or phone, but disagrees on {}",
                        number_text(number),
                        differing.join(", ")
                    ),
                );
            }
        }
    }
}

/// A call, with the field set aside when its actions cannot be recorded.
fn call(row: &Row, local: &HashMap<i64, Local>) -> Result<(RowPlan, Option<Refusal>), Refusal> {
    let table = Table::ScAppels;
    let (customer_id, _) = client_of(row, Table::ScClients, local)?;
    let at = parse_instant(&required(row, table, appels::DATE)?)
        .map_err(|e| ("date_appel", e.to_string()))?;
    let channel =
        vocab::channel(&required(row, table, appels::CANAL)?).map_err(|e| ("canal", e))?;
    // The reason and actions are personal data: reasons name the rule, not the text.
    let reason = Reason::parse(&one_line(&required(row, table, appels::MOTIF)?))
        .map_err(|e| ("motif", e.to_string()))?;
    let operator = OperatorName::parse(&required(row, table, appels::OPERATEUR)?)
        .map_err(|e| ("operateur", e.to_string()))?;
    let mut issue = None;
    let action = match text(row, table, appels::ACTIONS) {
        Ok(Some(t)) if !t.trim().is_empty() => match ActionText::parse(&one_line(&t)) {
            Ok(a) => Some(a),
            Err(e) => {
                issue = Some((
                    "actions",
                    format!("{e}: the call is imported without its actions"),
                ));
                None
            }
        },
        Ok(_) => None,
        Err((field, reason)) => {
            issue = Some((
                field,
                format!("{reason}: the call is imported without its actions"),
            ));
            None
        }
    };
    Ok((
        RowPlan {
            table,
            row_id: row.row_id,
            occurred_at: at,
            notes: CALL_NOTES,
            desire: Desire::Ticket {
                id: ids::ticket(row.row_id),
                call: LegacyCall {
                    customer_id,
                    channel,
                    reason,
                    at,
                    operator,
                    action,
                },
            },
        },
        issue,
    ))
}
