//! `vente.db`: sales profiles (on the customer) and offers.

use std::collections::HashMap;

use lae_domain::{ProductName, Profession};

use super::dept::DeptClients;
use super::service_client::{UNDATED, UNDATED_NOTE};
use super::{Refusal, client_of, next_chunk, plan_rows, required, text};
use crate::error::MigrateError;
use crate::ids;
use crate::legacy::cell::Row;
use crate::legacy::child::offres;
use crate::legacy::reader::LegacyReader;
use crate::legacy::{Table, col};
use crate::normalise::amount::parse_positive_amount;
use crate::normalise::date::{date_instant, parse_date};
use crate::normalise::text::is_blank;
use crate::normalise::vocab::{self, OfferStatus};
use crate::pipeline::Run;
use crate::plan::customer::{CustomerChange, Keep, ProfileDesire};
use crate::plan::offer::LegacyOffer;
use crate::plan::{Desire, Note, RowPlan};
use crate::reconcile::Local;
use crate::reconcile::contact::ParsedContact;

const DECIDED_NOTES: &[Note] = &[Note {
    field: "decided_on",
    rule: "the legacy status is undated: the acceptance or refusal is dated with the proposal",
}];

/// Imports `vente.db`.
pub(crate) async fn import(run: &mut Run, reader: &LegacyReader) -> Result<(), MigrateError> {
    let table = Table::VeClients;
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

    plan_rows(run, reader, Table::VeOffres, |row| {
        offer(row, &clients.local)
    })
    .await?;
    run.flush().await
}

async fn client(run: &mut Run, row: &Row, clients: &mut DeptClients) -> Result<(), MigrateError> {
    let table = Table::VeClients;
    let contact = ParsedContact::parse(row);
    let read = |i: usize| text(row, table, i).map_err(|(_, e)| e);
    let age_band = read(col::EXTRA).and_then(|t| vocab::age_band(t.as_deref()));
    let profession = read(col::EXTRA + 1).and_then(|t| match t {
        Some(t) if !is_blank(&t) => Profession::parse(&t).map(Some).map_err(|e| e.to_string()),
        _ => Ok(None),
    });
    let sex = read(col::EXTRA + 2).and_then(|t| vocab::sex(t.as_deref()));
    let raw = |i: usize| format!("raw:{:?}", row.text(i));
    let extra = [
        (
            "categorie_age",
            age_band
                .as_ref()
                .map(|a| a.map(|a| a.as_str()).unwrap_or_default().to_owned())
                .unwrap_or_else(|_| raw(col::EXTRA)),
        ),
        (
            "profession",
            profession
                .as_ref()
                .map(|p| {
                    p.as_ref()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default()
                })
                .unwrap_or_else(|_| raw(col::EXTRA + 1)),
        ),
        (
            "sexe",
            sex.as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| raw(col::EXTRA + 2)),
        ),
    ];
    let Some((id, _)) = clients.identify(run, row, &contact, &extra) else {
        return Ok(());
    };
    // A profile field that cannot be trusted keeps the store's value (none for a new
    // customer) and is reported; the others are still recorded.
    let mut keep = |field: &'static str, reason: String| {
        run.report
            .field_issue(table, row.row_id, field, format!("{reason}: not imported"));
    };
    let profile = ProfileDesire {
        age_band: age_band.map_or_else(
            |e| {
                keep("categorie_age", e);
                Keep::Keep
            },
            Keep::Set,
        ),
        profession: profession.map_or_else(
            |e| {
                keep("profession", e);
                Keep::Keep
            },
            Keep::Set,
        ),
        sex: sex.map_or_else(
            |e| {
                keep("sexe", e);
                Keep::Keep
            },
            Keep::Set,
        ),
    };
    run.push(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at: UNDATED,
        notes: &[UNDATED_NOTE],
        desire: Desire::Customer {
            id,
            change: CustomerChange::Profile(profile),
        },
    })
    .await
}

fn offer(row: &Row, local: &HashMap<i64, Local>) -> Result<RowPlan, Refusal> {
    let table = Table::VeOffres;
    let (customer_id, _) = client_of(row, Table::VeClients, local)?;
    let product = ProductName::parse(&required(row, table, offres::PRODUIT)?)
        .map_err(|e| ("produit", e.to_string()))?;
    let proposed_on = parse_date(&required(row, table, offres::DATE)?)
        .map_err(|e| ("date_proposition", e.to_string()))?;
    let status =
        vocab::offer_status(&required(row, table, offres::STATUT)?).map_err(|e| ("statut", e))?;
    let monthly_premium = parse_positive_amount(&required(row, table, offres::PRIME)?)
        .map_err(|e| ("prime_mensuelle", e))?;
    Ok(RowPlan {
        table,
        row_id: row.row_id,
        occurred_at: date_instant(proposed_on),
        notes: if status == OfferStatus::Proposed {
            &[]
        } else {
            DECIDED_NOTES
        },
        desire: Desire::Offer {
            id: ids::offer(row.row_id),
            offer: LegacyOffer {
                customer_id,
                product,
                monthly_premium,
                proposed_on,
                status,
            },
        },
    })
}
