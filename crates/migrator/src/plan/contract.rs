//! Contract commands, from a `juridique.contrats` row.
//!
//! A legacy contract is a signed contract (with its PDF), possibly terminated. The
//! legacy legal file knows neither the premium, nor the request date, nor the
//! termination date, nor the offer it came from; the domain needs the first three:
//! - the premium is recorded as 0 (`assumption.monthly_premium` in the metadata) —
//!   the legal file never held it; billing's invoices carry the amounts actually due;
//! - the request is dated with the signature (the latest date it can have);
//! - a termination is dated with the signature too, the only date of the row.
//!
//! No offer is linked: matching on customer and product would be a guess.

use std::sync::Arc;

use chrono::NaiveDate;
use lae_domain::contract::{Contract, ContractCommand, ContractStatus, SignedDocument};
use lae_domain::{Cents, ContractReference, CustomerId, ProductName, Reason};

use crate::normalise::vocab::ContractStatus as Legacy;

/// Why a legacy contract is terminated (the legacy file says only `résilié`).
pub const TERMINATION_REASON: &str = "Résilié dans l'ancien outil juridique (motif non repris)";

/// What a `juridique.contrats` row describes.
#[derive(Debug, Clone)]
pub struct LegacyContract {
    pub customer_id: CustomerId,
    pub product: ProductName,
    pub reference: ContractReference,
    pub signed_on: NaiveDate,
    pub status: Legacy,
    pub document: SignedDocument,
    /// The PDF itself, stored before the event that refers to it.
    pub content: Arc<[u8]>,
}

/// The commands that bring `current` to what the legacy row describes.
pub fn commands(
    current: &Contract,
    contract: &LegacyContract,
) -> Result<Vec<ContractCommand>, String> {
    let terminate = || -> Result<ContractCommand, String> {
        Ok(ContractCommand::TerminateContract {
            terminated_on: contract.signed_on,
            reason: Reason::parse(TERMINATION_REASON).map_err(|e| e.to_string())?,
        })
    };
    let Some(status) = current.status() else {
        let mut out = vec![
            ContractCommand::RequestContract {
                customer_id: contract.customer_id,
                product: contract.product.clone(),
                monthly_premium: Cents::ZERO,
                offer_id: None,
                requested_on: contract.signed_on,
            },
            ContractCommand::SignContract {
                reference: contract.reference.clone(),
                signed_on: contract.signed_on,
                document: contract.document.clone(),
            },
        ];
        if contract.status == Legacy::Terminated {
            out.push(terminate()?);
        }
        return Ok(out);
    };
    let mut changed = Vec::new();
    if current
        .terms()
        .is_some_and(|t| t.customer_id != contract.customer_id)
    {
        changed.push("client_id");
    }
    if current
        .terms()
        .is_some_and(|t| t.product != contract.product)
    {
        changed.push("produit");
    }
    match current.signature() {
        Some(s) => {
            if s.reference != contract.reference {
                changed.push("reference");
            }
            if s.signed_on != contract.signed_on {
                changed.push("date_signature");
            }
            if s.document.sha256 != contract.document.sha256 {
                changed.push("fichier");
            }
            if s.document.name != contract.document.name {
                changed.push("nom_fichier");
            }
        }
        None => changed.push("signature"),
    }
    if !changed.is_empty() {
        return Err(format!(
            "changed in the legacy file since it was imported ({}): a signed contract cannot change",
            changed.join(", ")
        ));
    }
    match (status, contract.status) {
        (ContractStatus::Signed, Legacy::Active) | (ContractStatus::Terminated, Legacy::Terminated) => Ok(vec![]),
        (ContractStatus::Signed, Legacy::Terminated) => Ok(vec![terminate()?]),
        (ContractStatus::Terminated, Legacy::Active) => {
            Err("terminated on the platform but active again in the legacy file: a termination cannot be undone".into())
        }
        (ContractStatus::Requested, _) => Err("the contract is requested but not signed on the platform".into()),
    }
}
