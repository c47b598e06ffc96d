//! The import report: what was read, what became events, what was set aside and why,
//! and where the departments disagreed with customer service.
//!
//! Every legacy row read is counted exactly once, as `imported` (its data is in the
//! store, whether appended now or by an earlier run), `merged` (a duplicate that agrees
//! with a row already imported) or `quarantined` (set aside as a whole, with a
//! reason). So `read = imported + merged + quarantined` for every table, which
//! [`Report::check`] verifies before a report is handed out. A field set aside in a row
//! that is otherwise imported (an invalid IBAN: no mandate, but the customer is
//! matched and their invoices imported) is listed with `scope: "field"` and does not
//! change the counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::legacy::Table;

/// Counts of one legacy table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    pub read: u64,
    pub imported: u64,
    pub merged: u64,
    pub quarantined: u64,
    /// Events appended (or, in a dry run, that would be) for this table's rows.
    pub events: u64,
    /// Imported rows that needed no new event (already in the store from a past run).
    pub unchanged: u64,
}

/// Whether a whole row or one of its fields was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Row,
    Field,
}

/// A row, or a field of a row, that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    /// The legacy file, e.g. `vente.db`.
    pub file: String,
    /// The table, e.g. `offres`.
    pub table: String,
    /// The row's SQLite rowid (its `id` column).
    pub row_id: i64,
    pub scope: Scope,
    /// The column at fault, when one is.
    pub field: Option<String>,
    /// Why, in words; never quotes a health value, an IBAN or a mandate reference.
    pub reason: String,
}

/// A contact detail on which a department's copy disagrees with customer service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub num_client: String,
    /// The legacy column, e.g. `telephone`.
    pub field: String,
    /// Customer service's value (normalised), which the platform keeps.
    pub source_value: String,
    /// The department's file, e.g. `facturation.db`.
    pub other_file: String,
    pub other_row_id: i64,
    /// The department's value (normalised where it could be, quoted otherwise).
    pub other_value: String,
}

/// A rule the import applied where the legacy data says nothing (a transition date,
/// a due date), with the number of rows it was applied to. The events carry the same
/// note in their metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assumption {
    pub file: String,
    pub table: String,
    pub field: String,
    pub rule: String,
    pub rows: u64,
}

/// The outcome of one import run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub legacy_dir: String,
    pub dry_run: bool,
    pub departments: Vec<String>,
    pub duration_seconds: f64,
    /// Per `file.table` (e.g. `vente.offres`).
    pub tables: BTreeMap<String, TableCounts>,
    /// Events appended by this run (in a dry run: that would have been appended).
    pub events_appended: u64,
    /// Per `Aggregate.EventType`.
    pub events_by_type: BTreeMap<String, u64>,
    /// Signed contract documents written (in a dry run: that would have been).
    pub documents_stored: u64,
    /// Batches decided again because a concurrent writer had changed their aggregates.
    pub retried_batches: u64,
    pub set_aside: Vec<SetAside>,
    pub conflicts: Vec<Conflict>,
    pub assumptions: Vec<Assumption>,
}

impl Report {
    /// Checks that every row read was counted exactly once, and that each quarantined
    /// row is listed with its reason.
    pub fn check(&self) -> Result<(), String> {
        for (table, c) in &self.tables {
            if c.read != c.imported + c.merged + c.quarantined {
                return Err(format!(
                    "{table}: read {} ≠ imported {} + merged {} + quarantined {}",
                    c.read, c.imported, c.merged, c.quarantined
                ));
            }
            let listed = self
                .set_aside
                .iter()
                .filter(|s| {
                    s.scope == Scope::Row && format!("{}.{}", stem(&s.file), s.table) == *table
                })
                .count() as u64;
            if listed != c.quarantined {
                return Err(format!(
                    "{table}: {} rows quarantined but {listed} listed with a reason",
                    c.quarantined
                ));
            }
            if c.unchanged > c.imported {
                return Err(format!("{table}: more unchanged rows than imported ones"));
            }
        }
        if let Some(s) = self.set_aside.iter().find(|s| s.reason.trim().is_empty()) {
            return Err(format!(
                "{} {} row {}: set aside without a reason",
                s.file, s.table, s.row_id
            ));
        }
        Ok(())
    }

    /// The rows set aside as a whole, over every table.
    pub fn quarantined_rows(&self) -> u64 {
        self.tables.values().map(|c| c.quarantined).sum()
    }
}

fn stem(file: &str) -> &str {
    file.strip_suffix(".db").unwrap_or(file)
}

/// Collects the report while the import runs.
#[derive(Debug, Default)]
pub(crate) struct ReportBuilder {
    tables: BTreeMap<Table, TableCounts>,
    set_aside: Vec<SetAside>,
    conflicts: Vec<Conflict>,
    events_by_type: BTreeMap<String, u64>,
    documents: u64,
    retried: u64,
    assumptions: BTreeMap<(Table, &'static str, &'static str), u64>,
}

impl ReportBuilder {
    /// Lists a table even if it turns out empty.
    pub fn table(&mut self, table: Table) {
        self.tables.entry(table).or_default();
    }

    pub fn read(&mut self, table: Table) {
        self.tables.entry(table).or_default().read += 1;
    }

    pub fn merged(&mut self, table: Table) {
        self.tables.entry(table).or_default().merged += 1;
    }

    /// A row set aside as a whole.
    pub fn quarantine(&mut self, table: Table, row_id: i64, field: Option<&str>, reason: String) {
        self.tables.entry(table).or_default().quarantined += 1;
        self.push(table, row_id, Scope::Row, field, reason);
    }

    /// A field set aside in a row that is otherwise imported.
    pub fn field_issue(&mut self, table: Table, row_id: i64, field: &str, reason: String) {
        self.push(table, row_id, Scope::Field, Some(field), reason);
    }

    fn push(
        &mut self,
        table: Table,
        row_id: i64,
        scope: Scope,
        field: Option<&str>,
        reason: String,
    ) {
        self.set_aside.push(SetAside {
            file: table.file().file_name().to_owned(),
            table: table.name().to_owned(),
            row_id,
            scope,
            field: field.map(str::to_owned),
            reason,
        });
    }

    /// A row whose data is in the store, with the events appended for it now.
    pub fn imported(&mut self, table: Table, events: u64) {
        let counts = self.tables.entry(table).or_default();
        counts.imported += 1;
        counts.events += events;
        if events == 0 {
            counts.unchanged += 1;
        }
    }

    pub fn event(&mut self, aggregate_type: &str, event_type: &str) {
        *self
            .events_by_type
            .entry(format!("{aggregate_type}.{event_type}"))
            .or_default() += 1;
    }

    pub fn documents(&mut self, n: u64) {
        self.documents += n;
    }

    pub fn retried(&mut self) {
        self.retried += 1;
    }

    pub fn conflict(&mut self, conflict: Conflict) {
        self.conflicts.push(conflict);
    }

    pub fn assumption(&mut self, table: Table, field: &'static str, rule: &'static str) {
        *self.assumptions.entry((table, field, rule)).or_default() += 1;
    }

    pub fn finish(
        self,
        legacy_dir: String,
        dry_run: bool,
        departments: Vec<String>,
        duration_seconds: f64,
    ) -> Report {
        Report {
            legacy_dir,
            dry_run,
            departments,
            duration_seconds,
            events_appended: self.events_by_type.values().sum(),
            tables: self
                .tables
                .into_iter()
                .map(|(t, c)| (t.key().to_owned(), c))
                .collect(),
            events_by_type: self.events_by_type,
            documents_stored: self.documents,
            retried_batches: self.retried,
            set_aside: self.set_aside,
            conflicts: self.conflicts,
            assumptions: self
                .assumptions
                .into_iter()
                .map(|((table, field, rule), rows)| Assumption {
                    file: table.file().file_name().to_owned(),
                    table: table.name().to_owned(),
                    field: field.to_owned(),
                    rule: rule.to_owned(),
                    rows,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(f: impl FnOnce(&mut ReportBuilder)) -> Report {
        let mut b = ReportBuilder::default();
        f(&mut b);
        b.finish("/legacy".into(), false, vec![], 0.0)
    }

    #[test]
    fn counts_add_up_when_every_row_is_settled_once() {
        let report = build(|b| {
            for _ in 0..4 {
                b.read(Table::VeOffres);
            }
            b.imported(Table::VeOffres, 2);
            b.imported(Table::VeOffres, 0);
            b.merged(Table::VeOffres);
            b.quarantine(
                Table::VeOffres,
                9,
                Some("client_id"),
                "no such customer".into(),
            );
            b.field_issue(Table::VeOffres, 3, "statut", "ignored".into());
        });
        report.check().unwrap();
        let offers = &report.tables["vente.offres"];
        assert_eq!(
            (
                offers.read,
                offers.imported,
                offers.merged,
                offers.quarantined
            ),
            (4, 2, 1, 1)
        );
        assert_eq!((offers.events, offers.unchanged), (2, 1));
        assert_eq!(report.quarantined_rows(), 1);
    }

    #[test]
    fn a_row_read_but_never_settled_is_caught() {
        let report = build(|b| {
            b.read(Table::FaFactures);
            b.read(Table::FaFactures);
            b.imported(Table::FaFactures, 1);
        });
        assert!(report.check().unwrap_err().contains("facturation.factures"));
    }

    #[test]
    fn a_row_settled_twice_is_caught() {
        let report = build(|b| {
            b.read(Table::ScClients);
            b.imported(Table::ScClients, 1);
            b.merged(Table::ScClients);
        });
        assert!(report.check().is_err());
    }

    #[test]
    fn a_quarantined_row_must_be_listed_with_a_reason() {
        let mut report = build(|b| {
            b.read(Table::ScAppels);
            b.quarantine(Table::ScAppels, 1, None, "x".into());
        });
        report.check().unwrap();
        report.set_aside[0].reason = " ".into();
        assert!(report.check().is_err());
        report.set_aside.clear();
        assert!(report.check().is_err());
    }
}
