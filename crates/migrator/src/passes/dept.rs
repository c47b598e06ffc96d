//! The `clients` rows of legal, sales and billing: which customer each one is, whether
//! it repeats another row of its file, and where its contact details disagree with
//! customer service's.

use std::collections::HashMap;

use lae_domain::CustomerId;

use crate::legacy::Table;
use crate::legacy::cell::Row;
use crate::normalise::contact::{NumberParse, number_text};
use crate::pipeline::Run;
use crate::reconcile::Local;
use crate::reconcile::book::Found;
use crate::reconcile::conflicts::contact_conflicts;
use crate::reconcile::contact::{FIELDS, ParsedContact};
use crate::reconcile::duplicates::{Duplicates, Seen};

/// The `clients` table of one department file, as its rows are settled.
#[derive(Debug)]
pub(crate) struct DeptClients {
    pub table: Table,
    /// What each row became, for the rows pointing at it by `client_id`.
    pub local: HashMap<i64, Local>,
    duplicates: Duplicates,
}

impl DeptClients {
    pub fn new(table: Table) -> Self {
        Self {
            table,
            local: HashMap::new(),
            duplicates: Duplicates::default(),
        }
    }

    /// Finds the row's customer. Returns it for the first row of a customer in the
    /// file (after reporting its conflicts with customer service); settles the row and
    /// returns `None` when it is a duplicate (merged or set aside) or matches nobody.
    /// `extra` are the department's own columns with their normalised values, for the
    /// duplicate check.
    pub fn identify(
        &mut self,
        run: &mut Run,
        row: &Row,
        contact: &ParsedContact,
        extra: &[(&'static str, String)],
    ) -> Option<(CustomerId, u32)> {
        let table = self.table;
        let found = match &contact.number {
            NumberParse::Valid(n) => match run.book.find_number(*n) {
                Some(id) => Ok((id, *n)),
                None => Err((
                    "num_client",
                    format!(
                        "customer {} is not registered: absent from service_client.db (or set aside there) and from the store",
                        number_text(*n)
                    ),
                )),
            },
            NumberParse::Invalid(reason) => Err(("num_client", reason.clone())),
            NumberParse::Missing => match run.book.find_contact(contact.email(), contact.phone()) {
                Found::Customer(id, n) => Ok((id, n)),
                Found::No(reason) => Err(("num_client", reason)),
            },
        };
        let (id, number) = match found {
            Ok(found) => found,
            Err((field, reason)) => {
                run.report
                    .quarantine(table, row.row_id, Some(field), reason);
                self.local.insert(row.row_id, Local::SetAside);
                return None;
            }
        };
        self.local.insert(row.row_id, Local::Customer(id, number));
        let mut columns: Vec<&'static str> = FIELDS.iter().map(|(_, c)| *c).collect();
        let mut values: Vec<String> = (0..FIELDS.len()).map(|i| contact.key(i)).collect();
        for (column, value) in extra {
            columns.push(column);
            values.push(value.clone());
        }
        match self.duplicates.check(number, row.row_id, &columns, &values) {
            Seen::First => {}
            Seen::Same { .. } => {
                run.report.merged(table);
                return None;
            }
            Seen::Different { row_id, columns } => {
                run.report.quarantine(
                    table,
                    row.row_id,
                    None,
                    format!(
                        "{} entered twice in {}: this row disagrees with row {row_id} on {}",
                        number_text(number),
                        table.file().file_name(),
                        columns.join(", ")
                    ),
                );
                return None;
            }
        }
        if let Some(current) = run.book.slot(&id).and_then(|s| s.state.contact()) {
            for conflict in contact_conflicts(number, current, contact, table, row.row_id) {
                run.report.conflict(conflict);
            }
        }
        Some((id, number))
    }
}
