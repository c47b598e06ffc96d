//! `facturation.db`: direct-debit mandates (on the customer) and invoices.
//!
//! A mandate needs the customer's authorisation, a valid IBAN, a mandate reference
//! and a signature date; when one of them cannot be trusted, no mandate is imported
//! (the customer and their invoices still are) and the report names the field,
//! never its value.

use std::collections::HashMap;

use lae_domain::InvoiceNumber;

use super::dept::DeptClients;
use super::service_client::UNDATED;
use super::{Refusal, client_of, next_chunk, plan_rows, required, text};
use crate::error::MigrateError;
use crate::ids;
use crate::legacy::cell::Row;
use crate::legacy::child::factures;
use crate::legacy::reader::LegacyReader;
use crate::legacy::{Table, col};
use crate::normalise::amount::parse_positive_amount;
use crate::normalise::bank;
use crate::normalise::boolean::parse_bool;
use crate::normalise::date::{date_instant, parse_date};
use crate::normalise::text::is_blank;
use crate::normalise::vocab::{self, InvoiceStatus};
use crate::pipeline::Run;
use crate::plan::customer::{CustomerChange, MandateDesire};
use crate::plan::invoice::LegacyInvoice;
use crate::plan::{Desire, Note, RowPlan};
use crate::reconcile::Local;
use crate::reconcile::contact::ParsedContact;

const DUE_ON: Note = Note {
    field: "due_on",
    rule: "absent from the legacy billing file: the issue date",
};
const ISSUED_NOTES: &[Note] = &[DUE_ON];
const PAID_NOTES: &[Note] = &[
    DUE_ON,
    Note {
        field: "paid_on",
        rule: "absent from the legacy billing file: the issue date",
    },
];
const UNPAID_NOTES: &[Note] = &[
    DUE_ON,
    Note {
        field: "rejected_on",
        rule: "absent from the legacy billing file: the issue date",
    },
];

const IBAN: usize = col::EXTRA;
const AUTHORISATION: usize = col::EXTRA + 1;
const DATE_MANDAT: usize = col::EXTRA + 2;
const RUM: usize = col::EXTRA + 3;

/// Imports `facturation.db`.
pub(crate) async fn import(run: &mut Run, reader: &LegacyReader) -> Result<(), MigrateError> {
    let table = Table::FaClients;
    run.progress.stage(table.key());
    run.report.table(table);
    let mut clients = DeptClients::new(table);
    let mut stream = reader.stream(table, table.columns(), None);
    while let Some(chunk) = next_chunk(&mut stream).await? {
        for row in chunk {
            run.progress.row();
            run.report.read(table);
            client(run, &row, &mut clients).await?;
        }
    }

    plan_rows(run, reader, Table::FaFactures, |row| {
        invoice(row, &clients.local)
    })
    .await?;
    run.flush().await
}

async fn client(run: &mut Run, row: &Row, clients: &mut DeptClients) -> Result<(), MigrateError> {
    let table = Table::FaClients;
    let contact = ParsedContact::parse(row);
    let read = |i: usize| text(row, table, i).map_err(|(_, e)| e);
    let iban = read(IBAN).and_then(|t| bank::iban(t.as_deref()).map_err(str::to_owned));
    let authorised = read(AUTHORISATION).and_then(|t| parse_bool(t.as_deref().unwrap_or_default()));
    let signed_on = read(DATE_MANDAT).and_then(|t| match t {
        Some(t) if !is_blank(&t) => parse_date(&t).map(Some).map_err(|e| e.to_string()),
        _ => Ok(None),
    });
    let reference = read(RUM).map(|t| t.filter(|t| !is_blank(t)));
    // Duplicates are compared on normalised values; only hashes are kept.
    let raw = |i: usize| format!("raw:{:?}", row.text(i));
    let extra = [
        (
            "iban",
            iban.as_ref()
                .map(|i| i.map(|i| i.as_str().to_owned()).unwrap_or_default())
                .unwrap_or_else(|_| raw(IBAN)),
        ),
        (
            "autorisation_prelevement",
            authorised
                .as_ref()
                .map(|a| format!("{a:?}"))
                .unwrap_or_else(|_| raw(AUTHORISATION)),
        ),
        (
            "date_mandat",
            signed_on
                .as_ref()
                .map(|d| format!("{d:?}"))
                .unwrap_or_else(|_| raw(DATE_MANDAT)),
        ),
        (
            "rum",
            reference
                .as_ref()
                .map(|r| format!("{r:?}"))
                .unwrap_or_else(|_| raw(RUM)),
        ),
    ];
    let Some((id, _)) = clients.identify(run, row, &contact, &extra) else {
        return Ok(());
    };
    let iban_given = !matches!(iban, Ok(None));
    let mut issue = |field: &'static str, reason: String| {
        run.report.field_issue(table, row.row_id, field, reason);
    };
    let wanted = match authorised {
        Err(reason) => {
            issue(
                "autorisation_prelevement",
                format!("{reason}: no mandate imported"),
            );
            None
        }
        Ok(None) => {
            if iban_given || !matches!(reference, Ok(None)) {
                issue(
                    "autorisation_prelevement",
                    "blank: whether the customer authorised direct debit is unknown; no mandate imported".into(),
                );
            }
            None
        }
        Ok(Some(false)) => {
            if iban_given {
                issue(
                    "iban",
                    "not imported: the customer did not authorise direct debit (a bank account is only kept with a mandate)"
                        .into(),
                );
            }
            Some(None)
        }
        Ok(Some(true)) => {
            let iban = match iban {
                Ok(Some(iban)) => Some(iban),
                Ok(None) => {
                    issue(
                        "iban",
                        "missing while direct debit is authorised: no mandate imported".into(),
                    );
                    None
                }
                Err(reason) => {
                    issue("iban", format!("{reason}: no mandate imported"));
                    None
                }
            };
            let reference = match reference.map(|r| bank::mandate_reference(r.as_deref())) {
                Ok(Ok(reference)) => Some(reference),
                Ok(Err(reason)) => {
                    issue("rum", format!("{reason}: no mandate imported"));
                    None
                }
                Err(reason) => {
                    issue("rum", format!("{reason}: no mandate imported"));
                    None
                }
            };
            let signed_on = match signed_on {
                Ok(Some(date)) => Some(date),
                Ok(None) => {
                    issue(
                        "date_mandat",
                        "missing: the mandate has no signature date; no mandate imported".into(),
                    );
                    None
                }
                Err(reason) => {
                    issue("date_mandat", format!("{reason}: no mandate imported"));
                    None
                }
            };
            match (iban, reference, signed_on) {
                (Some(iban), Some(reference), Some(signed_on)) => Some(Some(MandateDesire {
                    iban,
                    reference,
                    signed_on,
                })),
                _ => None,
            }
        }
    };
    let Some(wanted) = wanted else {
        run.report.imported(table, 0);
        return Ok(());
    };
    let occurred_at = wanted
        .as_ref()
        .map_or(UNDATED, |m| date_instant(m.signed_on));
    run.push(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at,
        notes: &[],
        desire: Desire::Customer {
            id,
            change: CustomerChange::Mandate(wanted),
        },
    })
    .await
}

fn invoice(row: &Row, local: &HashMap<i64, Local>) -> Result<RowPlan, Refusal> {
    let table = Table::FaFactures;
    let (customer_id, _) = client_of(row, Table::FaClients, local)?;
    let number = InvoiceNumber::parse(&required(row, table, factures::NUMERO)?)
        .map_err(|e| ("numero", e.to_string()))?;
    let issued_on = parse_date(&required(row, table, factures::DATE)?)
        .map_err(|e| ("date_emission", e.to_string()))?;
    let amount = parse_positive_amount(&required(row, table, factures::MONTANT)?)
        .map_err(|e| ("montant", e))?;
    let status = vocab::invoice_status(&required(row, table, factures::STATUT)?)
        .map_err(|e| ("statut", e))?;
    Ok(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at: date_instant(issued_on),
        notes: match status {
            InvoiceStatus::Issued => ISSUED_NOTES,
            InvoiceStatus::Paid => PAID_NOTES,
            InvoiceStatus::Unpaid => UNPAID_NOTES,
        },
        desire: Desire::Invoice {
            id: ids::invoice(row.row_id),
            invoice: LegacyInvoice {
                customer_id,
                number,
                amount,
                issued_on,
                status,
            },
        },
    })
}
