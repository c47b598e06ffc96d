//! `juridique.db`: health declarations (on the customer) and signed contracts.
//!
//! The legacy declaration is undated, and the domain dates each declaration: it is
//! dated with the customer's earliest contract signature (the declaration is part of
//! the subscription file). A customer without a dated contract keeps their
//! declaration out of the store, and the report says so.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use lae_domain::contract::SignedDocument;
use lae_domain::customer::HealthDeclaration;
use lae_domain::{
    AlcoholUse, ContractReference, DocumentName, ProductName, Sha256Digest, TobaccoUse,
};
use lae_store::documents::sha256_hex;

use super::dept::DeptClients;
use super::{Refusal, client_of, next_chunk, plan_rows, required, text};
use crate::error::MigrateError;
use crate::ids;
use crate::legacy::cell::Row;
use crate::legacy::child::{CLIENT_ID, contrats};
use crate::legacy::reader::LegacyReader;
use crate::legacy::{Table, col};
use crate::normalise::date::{date_instant, parse_date};
use crate::normalise::{health, vocab};
use crate::pipeline::Run;
use crate::plan::contract::LegacyContract;
use crate::plan::customer::CustomerChange;
use crate::plan::{Desire, Note, RowPlan};
use crate::reconcile::Local;
use crate::reconcile::contact::ParsedContact;

const HEALTH_NOTES: &[Note] = &[Note {
    field: "declared_on",
    rule: "undated in the legacy file: the customer's earliest contract signature date",
}];
const PREMIUM: Note = Note {
    field: "monthly_premium",
    rule: "absent from the legacy legal file: recorded as 0",
};
const REQUESTED_ON: Note = Note {
    field: "requested_on",
    rule: "absent from the legacy legal file: the signature date",
};
const CONTRACT_NOTES: &[Note] = &[PREMIUM, REQUESTED_ON];
const TERMINATED_NOTES: &[Note] = &[
    PREMIUM,
    REQUESTED_ON,
    Note {
        field: "terminated_on",
        rule: "absent from the legacy legal file: the signature date",
    },
];

/// The columns read to date declarations.
const SIGNATURE_COLUMNS: &[&str] = &["client_id", "date_signature"];

/// Imports `juridique.db`.
pub(crate) async fn import(run: &mut Run, reader: &LegacyReader) -> Result<(), MigrateError> {
    let first_signature = first_signatures(reader).await?;

    let table = Table::JuClients;
    run.progress.stage(table.key());
    run.report.table(table);
    let mut clients = DeptClients::new(table);
    let mut stream = reader.stream(table, table.columns(), None);
    while let Some(chunk) = next_chunk(&mut stream).await? {
        for row in chunk {
            run.progress.row();
            run.report.read(table);
            client(run, &row, &mut clients, &first_signature).await?;
        }
    }

    plan_rows(run, reader, Table::JuContrats, |row| {
        contract(row, &clients.local)
    })
    .await?;
    run.flush().await
}

/// The earliest readable signature date of each `clients` row's contracts.
async fn first_signatures(reader: &LegacyReader) -> Result<HashMap<i64, NaiveDate>, MigrateError> {
    let mut out: HashMap<i64, NaiveDate> = HashMap::new();
    let mut stream = reader.stream(Table::JuContrats, SIGNATURE_COLUMNS, None);
    while let Some(chunk) = next_chunk(&mut stream).await? {
        for row in chunk {
            let (Ok(Some(client)), Ok(Some(date))) = (row.integer(CLIENT_ID), row.text(1)) else {
                continue;
            };
            if let Ok(date) = parse_date(&date) {
                out.entry(client)
                    .and_modify(|d| *d = (*d).min(date))
                    .or_insert(date);
            }
        }
    }
    Ok(out)
}

async fn client(
    run: &mut Run,
    row: &Row,
    clients: &mut DeptClients,
    first_signature: &HashMap<i64, NaiveDate>,
) -> Result<(), MigrateError> {
    let table = Table::JuClients;
    let contact = ParsedContact::parse(row);
    let read = |i: usize| text(row, table, i).map_err(|(_, e)| e);
    let tobacco =
        read(col::EXTRA).and_then(|t| health::tobacco(t.as_deref()).map_err(str::to_owned));
    let alcohol =
        read(col::EXTRA + 1).and_then(|t| health::alcohol(t.as_deref()).map_err(str::to_owned));
    let illnesses = read(col::EXTRA + 2).and_then(|t| health::illnesses(t.as_deref()));
    // Compared as normalised values; an unreadable value compares as its raw text.
    // Either way only hashes are kept.
    let raw = |i: usize| format!("raw:{:?}", row.text(i));
    let extra = [
        (
            "tabac",
            tobacco
                .as_ref()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|_| raw(col::EXTRA)),
        ),
        (
            "alcool",
            alcohol
                .as_ref()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_else(|_| raw(col::EXTRA + 1)),
        ),
        (
            "maladies",
            illnesses
                .as_ref()
                .map(|l| l.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(";"))
                .unwrap_or_else(|_| raw(col::EXTRA + 2)),
        ),
    ];
    let Some((id, _)) = clients.identify(run, row, &contact, &extra) else {
        return Ok(());
    };
    let (tobacco, alcohol, illnesses) = match (tobacco, alcohol, illnesses) {
        (Ok(t), Ok(a), Ok(i)) => (t, a, i),
        (t, a, i) => {
            for (field, result) in [
                ("tabac", t.err()),
                ("alcool", a.err()),
                ("maladies", i.err()),
            ] {
                if let Some(reason) = result {
                    run.report.field_issue(
                        table,
                        row.row_id,
                        field,
                        format!("{reason}: no health declaration imported"),
                    );
                }
            }
            run.report.imported(table, 0);
            return Ok(());
        }
    };
    if tobacco == TobaccoUse::Unknown && alcohol == AlcoholUse::Unknown && illnesses.is_empty() {
        // Nothing was declared: there is no declaration to record.
        run.report.imported(table, 0);
        return Ok(());
    }
    let Some(declared_on) = first_signature.get(&row.row_id).copied() else {
        run.report.field_issue(
            table,
            row.row_id,
            "tabac,alcool,maladies",
            "the legacy declaration is undated and the customer has no dated contract to date it with: \
             no health declaration imported"
                .into(),
        );
        run.report.imported(table, 0);
        return Ok(());
    };
    run.push(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at: date_instant(declared_on),
        notes: HEALTH_NOTES,
        desire: Desire::Customer {
            id,
            change: CustomerChange::Health(HealthDeclaration {
                tobacco,
                alcohol,
                illnesses,
                declared_on,
            }),
        },
    })
    .await
}

fn contract(row: &Row, local: &HashMap<i64, Local>) -> Result<RowPlan, Refusal> {
    let table = Table::JuContrats;
    let (customer_id, _) = client_of(row, Table::JuClients, local)?;
    let reference = ContractReference::parse(&required(row, table, contrats::REFERENCE)?)
        .map_err(|e| ("reference", e.to_string()))?;
    let product = ProductName::parse(&required(row, table, contrats::PRODUIT)?)
        .map_err(|e| ("produit", e.to_string()))?;
    let signed_on = parse_date(&required(row, table, contrats::DATE_SIGNATURE)?)
        .map_err(|e| ("date_signature", e.to_string()))?;
    let status = vocab::contract_status(&required(row, table, contrats::STATUT)?)
        .map_err(|e| ("statut", e))?;
    let name = DocumentName::parse(&required(row, table, contrats::NOM_FICHIER)?)
        .map_err(|e| ("nom_fichier", e.to_string()))?;
    let content = match row.bytes(contrats::FICHIER) {
        Err(e) => return Err(("fichier", e.to_string())),
        Ok(None) => return Err(("fichier", "no signed document".into())),
        Ok(Some([])) => return Err(("fichier", "the signed document is empty (0 bytes)".into())),
        Ok(Some(bytes)) if !bytes.starts_with(b"%PDF-") => {
            return Err(("fichier", "the signed document is not a PDF".into()));
        }
        Ok(Some(bytes)) => bytes,
    };
    let sha256 =
        Sha256Digest::parse(&sha256_hex(content)).map_err(|e| ("fichier", e.to_string()))?;
    let document = SignedDocument {
        sha256,
        name,
        size_bytes: content.len() as u64,
    };
    Ok(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at: date_instant(signed_on),
        notes: match status {
            vocab::ContractStatus::Active => CONTRACT_NOTES,
            vocab::ContractStatus::Terminated => TERMINATED_NOTES,
        },
        desire: Desire::Contract {
            id: ids::contract(row.row_id),
            contract: LegacyContract {
                customer_id,
                product,
                reference,
                signed_on,
                status,
                document,
                content: Arc::from(content),
            },
        },
    })
}
