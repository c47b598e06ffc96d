//! One pass per legacy file, in import order: customer service first (it registers
//! the customers and holds the reference contact details), then legal, sales and
//! billing, each matching its `clients` rows to those customers and importing the rows
//! that depend on them.
//!
//! A pass reads a table as a stream, turns each row into a [`RowPlan`] for the
//! pipeline or settles it at once (merged, or set aside with its reason), and counts
//! every row it reads exactly once.

pub mod dept;
pub mod facturation;
pub mod juridique;
pub mod service_client;
pub mod vente;

use std::collections::HashMap;

use lae_domain::CustomerId;
use tokio::sync::mpsc::Receiver;

use crate::error::MigrateError;
use crate::legacy::Table;
use crate::legacy::cell::Row;
use crate::legacy::child::CLIENT_ID;
use crate::legacy::reader::{ChunkResult, LegacyReader};
use crate::normalise::text::is_blank;
use crate::pipeline::Run;
use crate::plan::RowPlan;
use crate::reconcile::Local;

/// The next chunk of a table's stream (`None` at its end).
pub(crate) async fn next_chunk(
    stream: &mut Receiver<ChunkResult>,
) -> Result<Option<Vec<Row>>, MigrateError> {
    stream.recv().await.transpose()
}

/// A field that sets its row aside: the column, and why.
pub(crate) type Refusal = (&'static str, String);

/// Streams a department's detail table (offers, contracts, invoices): each row
/// becomes a plan for its aggregates, or is set aside with the field and reason.
pub(crate) async fn plan_rows(
    run: &mut Run,
    reader: &LegacyReader,
    table: Table,
    plan: impl Fn(&Row) -> Result<RowPlan, Refusal>,
) -> Result<(), MigrateError> {
    run.progress.stage(table.key());
    run.report.table(table);
    let mut stream = reader.stream(table, table.columns(), None);
    while let Some(chunk) = next_chunk(&mut stream).await? {
        for row in chunk {
            run.progress.row();
            run.report.read(table);
            match plan(&row) {
                Ok(plan) => run.push(plan).await?,
                Err((field, reason)) => {
                    run.report
                        .quarantine(table, row.row_id, Some(field), reason)
                }
            }
        }
    }
    Ok(())
}

/// The customer a child row (`client_id`) points at, through the `clients` rows of
/// the same file.
pub(crate) fn client_of(
    row: &Row,
    clients: Table,
    local: &HashMap<i64, Local>,
) -> Result<(CustomerId, u32), Refusal> {
    let field = "client_id";
    match row.integer(CLIENT_ID) {
        Err(e) => Err((field, e.to_string())),
        Ok(None) => Err((field, "no client_id: the row belongs to no customer".into())),
        Ok(Some(id)) => match local.get(&id) {
            Some(Local::Customer(customer, number)) => Ok((*customer, *number)),
            Some(Local::SetAside) => Err((
                field,
                format!(
                    "its customer ({}.{} row {id}) was set aside",
                    clients.file().file_name(),
                    clients.name()
                ),
            )),
            None => Err((
                field,
                format!(
                    "client_id {id} matches no row of {}.{}: the customer does not exist",
                    clients.file().file_name(),
                    clients.name()
                ),
            )),
        },
    }
}

/// A column's text, or why it cannot be read.
pub(crate) fn text(row: &Row, table: Table, column: usize) -> Result<Option<String>, Refusal> {
    row.text(column)
        .map(|t| t.map(|t| t.into_owned()))
        .map_err(|e| (table.column(column), e.to_string()))
}

/// A required column's text.
pub(crate) fn required(row: &Row, table: Table, column: usize) -> Result<String, Refusal> {
    match text(row, table, column)? {
        Some(t) if !is_blank(&t) => Ok(t),
        _ => Err((table.column(column), "missing".into())),
    }
}

/// Free text typed over several lines in the legacy tools (a call's reason and
/// actions): line breaks and tabs become spaces, since the domain's texts are one
/// line. Other control characters are left for the domain to refuse.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_break = false;
    for c in s.chars() {
        if matches!(c, '\r' | '\n' | '\t') {
            if !in_break {
                out.push(' ');
            }
            in_break = true;
        } else {
            out.push(c);
            in_break = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_on_one_line() {
        assert_eq!(one_line("a\r\nb\tc"), "a b c");
        assert_eq!(one_line("a\u{7}b"), "a\u{7}b");
    }
}
