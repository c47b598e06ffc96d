//! The billing cycle: a month's invoices for every contract in force, the SEPA Direct
//! Debit file that collects them, and the bank's status report read back as payment
//! rejections. One use case per step, shared by `lae billing …` and the billing API.
//!
//! Layout:
//! - [`collect`]: issues the period's invoices (ids derived from contract and month,
//!   so a second run issues nothing), then [`render`]s the collection file;
//! - [`render`]: the collection file of a date from the event store (the invoices'
//!   state) and billing's read model (contracts, mandates, names); reads only;
//! - [`import_status`]: a `pain.002` report's rejections as `RecordPaymentRejection`;
//! - `pain008` writes, `pain002` reads, `creditor` is the configuration.
//!
//! Nothing is stored besides the events: the file is derived, byte for byte, from
//! the date and the state, and the sequence type of each debit from the mandate's
//! history and the customer's earlier invoices (see [`sequence_type`]).

pub mod creditor;
pub mod pain002;
pub mod pain008;

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use lae_audit::{AccessEntry, AccessKind};
use lae_domain::invoice::{InvoiceCommand, InvoiceError, InvoiceStatus};
use lae_domain::{Cents, ContractId, CustomerId, InvoiceId, InvoiceNumber, Reason};
use lae_projections::Department;
use lae_store::{CommandError, EventMetadata};
use serde::Serialize;
use uuid::Uuid;

pub use creditor::{CreditorError, SepaCreditor};
pub use pain008::SequenceType;

use crate::problem::ApiError;
use crate::state::AppState;

/// Who asks (for the access log: the file holds the debtors' IBANs in full).
#[derive(Debug, Clone)]
pub struct Requester {
    pub user: String,
    pub role: String,
    pub request_id: Option<String>,
}

/// What a collection did and what its file holds.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CollectionSummary {
    /// The collection date (`ReqdColltnDt`), as asked.
    pub date: NaiveDate,
    /// The month invoiced, `YYYY-MM`.
    pub period: String,
    /// Contracts of billing's read model signed on or before the date and not
    /// terminated before the month began (a contract terminated during the month owes
    /// that month).
    pub contracts_in_force: usize,
    /// Of those, contracts left uninvoiced because their own history says they were
    /// terminated before the month began (billing's read model had not seen it yet).
    pub terminated_before_period: usize,
    /// Invoices this run issued.
    pub invoices_issued: usize,
    /// Invoices of the period that already existed (an earlier run).
    pub invoices_already_issued: usize,
    /// The file's `MsgId` (derived from the date).
    pub message_id: String,
    /// `NbOfTxs`: one debit per unpaid invoice of the period whose customer has an active mandate.
    pub transactions: usize,
    /// Of which first collections under their mandate.
    pub first_collections: usize,
    /// Of which later ones.
    pub recurring_collections: usize,
    /// `CtrlSum`, in euro cents.
    pub control_sum_cents: i64,
    /// `CtrlSum` as written in the file (euros, two decimals).
    pub control_sum: String,
    /// Unpaid invoices of the period left out: their customer has no active mandate.
    pub without_mandate: Vec<Uuid>,
    /// Invoices of the period left out because they are no longer awaiting payment
    /// (paid, rejected or cancelled).
    pub settled_or_rejected: Vec<Uuid>,
    /// Where to download the file (`None`: no debit to collect, no file).
    pub file: Option<String>,
}

/// A summary and the file itself.
#[derive(Debug, Clone)]
pub struct Collection {
    pub summary: CollectionSummary,
    /// The `pain.008.001.02` document; `None` when there is no debit (the schema
    /// requires at least one).
    pub xml: Option<String>,
}

/// The API path of a date's file.
#[must_use]
pub fn file_path(date: NaiveDate) -> String {
    format!("/api/v1/billing/collections/{date}/file")
}

/// The contracts to invoice for `date`.
#[derive(Debug, sqlx::FromRow)]
struct ContractInForce {
    contract_id: Uuid,
    customer_id: Uuid,
    monthly_premium_cents: i64,
}

async fn contracts_in_force(
    state: &AppState,
    date: NaiveDate,
) -> Result<Vec<ContractInForce>, ApiError> {
    let mut conn = state.queries.readers.acquire(Department::Billing).await?;
    let rows = sqlx::query_as(
        "SELECT contract_id, customer_id, monthly_premium_cents FROM billing.contracts \
          WHERE customer_id IS NOT NULL AND monthly_premium_cents > 0 AND signed_on <= $1 \
            AND (status = 'signed' OR (status = 'terminated' AND terminated_on >= $2)) \
          ORDER BY contract_id",
    )
    .bind(date)
    .bind(period_start(date))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

fn period_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn invoice_id(contract: Uuid, date: NaiveDate) -> InvoiceId {
    InvoiceId::for_contract_period(ContractId::new(contract), date.year(), date.month())
}

/// The number printed on a cycle invoice: `F-YYYY-MM-` and the contract id's 32
/// hexadecimal digits (unique per contract and month, like the invoice id).
fn invoice_number(contract: Uuid, date: NaiveDate) -> Result<InvoiceNumber, ApiError> {
    format!(
        "F-{:04}-{:02}-{}",
        date.year(),
        date.month(),
        contract.simple()
    )
    .parse()
    .map_err(|e: lae_domain::TextError| ApiError::internal(e.to_string()))
}

/// Issues the month's invoices (the month containing `date`, issued and due on
/// `date`) for every contract in force, once per contract and month, then renders
/// the collection file.
pub async fn collect(
    state: &AppState,
    metadata: &EventMetadata,
    requester: &Requester,
    date: NaiveDate,
) -> Result<Collection, ApiError> {
    let creditor = require_creditor(state)?;
    let contracts = contracts_in_force(state, date).await?;
    let mut issued = 0;
    let mut already = 0;
    let mut terminated = 0;
    for contract in &contracts {
        // The contract's own history, not the read model, decides: a termination
        // recorded a moment ago may not be in billing's read model yet, and the
        // close-schedule reactor cancels only what exists when it runs.
        let (state_of_contract, _) = state
            .contracts
            .load(&contract.contract_id.to_string())
            .await?;
        if state_of_contract
            .terminated_on()
            .is_some_and(|on| on < period_start(date))
        {
            terminated += 1;
            continue;
        }
        let command = InvoiceCommand::IssueInvoice {
            customer_id: CustomerId::new(contract.customer_id),
            contract_id: Some(ContractId::new(contract.contract_id)),
            number: invoice_number(contract.contract_id, date)?,
            amount: Cents(contract.monthly_premium_cents),
            issued_on: date,
            due_on: date,
        };
        let id = invoice_id(contract.contract_id, date).to_string();
        match state.invoices.execute(&id, command, metadata).await {
            Ok(_) => issued += 1,
            Err(CommandError::Rejected(InvoiceError::AlreadyIssued)) => already += 1,
            Err(other) => return Err(other.into()),
        }
    }
    let mut collection = render_for(state, creditor, requester, date, contracts).await?;
    collection.summary.invoices_issued = issued;
    collection.summary.invoices_already_issued = already;
    collection.summary.terminated_before_period = terminated;
    Ok(collection)
}

/// The collection file of `date` from what exists, issuing nothing.
pub async fn render(
    state: &AppState,
    requester: &Requester,
    date: NaiveDate,
) -> Result<Collection, ApiError> {
    let creditor = require_creditor(state)?;
    let contracts = contracts_in_force(state, date).await?;
    render_for(state, creditor, requester, date, contracts).await
}

fn require_creditor(state: &AppState) -> Result<&SepaCreditor, ApiError> {
    state
        .sepa_creditor
        .as_ref()
        .ok_or_else(|| ApiError::Conflict {
            code: "sepa_creditor_not_configured",
            detail: "Le créancier SEPA n'est pas configuré (LAE_SEPA_CREDITOR_NAME, \
                 LAE_SEPA_CREDITOR_IBAN, LAE_SEPA_CREDITOR_BIC, LAE_SEPA_CREDITOR_ID)."
                .into(),
            field: None,
        })
}

/// An unpaid invoice of the period, from its aggregate.
struct Due {
    invoice_id: Uuid,
    customer_id: Uuid,
    number: String,
    amount: Cents,
}

#[derive(Debug, sqlx::FromRow)]
struct MandateRow {
    customer_id: Uuid,
    status: Option<String>,
    iban: Option<String>,
    mandate_reference: Option<String>,
    signed_on: Option<NaiveDate>,
    last_name: Option<String>,
    first_name: Option<String>,
    customer_number: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct MandateStep {
    customer_id: Uuid,
    kind: String,
    mandate_reference: Option<String>,
    effective_on: NaiveDate,
}

async fn render_for(
    state: &AppState,
    creditor: &SepaCreditor,
    requester: &Requester,
    date: NaiveDate,
    contracts: Vec<ContractInForce>,
) -> Result<Collection, ApiError> {
    // The invoices' own state decides what is still due: the read model may lag
    // behind an invoice issued a moment ago.
    let mut due = Vec::new();
    let mut settled = Vec::new();
    let mut already = 0;
    for contract in &contracts {
        let id = invoice_id(contract.contract_id, date);
        let (invoice, _) = state.invoices.load(&id.to_string()).await?;
        let Some(details) = invoice.details() else {
            continue;
        };
        already += 1;
        if invoice.status() == Some(InvoiceStatus::Issued) {
            due.push(Due {
                invoice_id: *id.as_uuid(),
                customer_id: *details.customer_id.as_uuid(),
                number: details.number.as_str().to_owned(),
                amount: details.amount,
            });
        } else {
            settled.push(*id.as_uuid());
        }
    }
    let customers: Vec<Uuid> = {
        let mut c: Vec<Uuid> = due.iter().map(|d| d.customer_id).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    let mut conn = state.queries.readers.acquire(Department::Billing).await?;
    let mandates: Vec<MandateRow> = sqlx::query_as(
        "SELECT m.customer_id, m.status, m.iban, m.mandate_reference, m.signed_on, \
                c.last_name, c.first_name, c.customer_number \
           FROM billing.mandates m LEFT JOIN billing.customers c USING (customer_id) \
          WHERE m.customer_id = ANY($1)",
    )
    .bind(&customers)
    .fetch_all(&mut *conn)
    .await?;
    let steps: Vec<MandateStep> = sqlx::query_as(
        "SELECT customer_id, kind, mandate_reference, effective_on FROM billing.mandate_history \
          WHERE customer_id = ANY($1) ORDER BY customer_id, sequence",
    )
    .bind(&customers)
    .fetch_all(&mut *conn)
    .await?;
    let earlier: Vec<(Uuid, NaiveDate)> = sqlx::query_as(
        "SELECT customer_id, issued_on FROM billing.invoices \
          WHERE customer_id = ANY($1) AND contract_id IS NOT NULL AND issued_on < $2 \
            AND status IS DISTINCT FROM 'cancelled'",
    )
    .bind(&customers)
    .bind(period_start(date))
    .fetch_all(&mut *conn)
    .await?;
    conn.release();

    let mandates: HashMap<Uuid, MandateRow> =
        mandates.into_iter().map(|m| (m.customer_id, m)).collect();
    let mut history: HashMap<Uuid, Vec<MandateStep>> = HashMap::new();
    for step in steps {
        history.entry(step.customer_id).or_default().push(step);
    }
    let mut earlier_by_customer: HashMap<Uuid, Vec<NaiveDate>> = HashMap::new();
    for (customer, on) in earlier {
        earlier_by_customer.entry(customer).or_default().push(on);
    }

    let mut transactions = Vec::new();
    let mut without_mandate = Vec::new();
    let mut debtors = BTreeMap::new();
    for d in &due {
        let usable = mandates.get(&d.customer_id).and_then(|m| {
            let active = m.status.as_deref() == Some("active");
            match (active, &m.iban, &m.mandate_reference, m.signed_on) {
                (true, Some(iban), Some(reference), Some(signed_on)) => {
                    Some((m, iban, reference, signed_on))
                }
                _ => None,
            }
        });
        let Some((mandate, iban, reference, signed_on)) = usable else {
            without_mandate.push(d.invoice_id);
            continue;
        };
        let since = mandate_since(
            history.get(&d.customer_id).map_or(&[][..], Vec::as_slice),
            reference,
        )
        .unwrap_or(signed_on);
        let sequence = sequence_type(
            since,
            earlier_by_customer
                .get(&d.customer_id)
                .map_or(&[][..], Vec::as_slice),
        );
        debtors.insert(d.customer_id, ());
        transactions.push(pain008::Transaction {
            end_to_end_id: d.invoice_id.simple().to_string(),
            amount: d.amount,
            mandate_reference: reference.clone(),
            mandate_signed_on: signed_on,
            sequence,
            debtor_name: debtor_name(mandate),
            debtor_iban: iban.chars().filter(|c| !c.is_whitespace()).collect(),
            remittance: format!("Facture {} - prime {}", d.number, period(date)),
        });
    }
    without_mandate.sort_unstable();
    settled.sort_unstable();
    let collection = pain008::Collection {
        creditor,
        date,
        transactions,
    };
    let message_id = collection.message_id();
    // The file shows each debtor's IBAN in full: the read is logged first, as every
    // unmasked IBAN billing sees.
    for customer in debtors.keys() {
        lae_audit::log_access(
            &state.pool,
            &AccessEntry {
                user: requester.user.clone(),
                role: requester.role.clone(),
                customer_id: customer.to_string(),
                what: AccessKind::Iban,
                purpose: format!("prélèvement SEPA {message_id}"),
                request_id: requester.request_id.clone(),
            },
        )
        .await
        .map_err(ApiError::internal)?;
    }
    let count = |s| {
        collection
            .transactions
            .iter()
            .filter(|t| t.sequence == s)
            .count()
    };
    let control_sum = collection.control_sum();
    let has_file = !collection.transactions.is_empty();
    let summary = CollectionSummary {
        date,
        period: period(date),
        contracts_in_force: contracts.len(),
        terminated_before_period: 0,
        invoices_issued: 0,
        invoices_already_issued: already,
        message_id,
        transactions: collection.transactions.len(),
        first_collections: count(SequenceType::First),
        recurring_collections: count(SequenceType::Recurring),
        control_sum_cents: control_sum.value(),
        control_sum: pain008::euros(control_sum),
        without_mandate,
        settled_or_rejected: settled,
        file: has_file.then(|| file_path(date)),
    };
    Ok(Collection {
        summary,
        xml: has_file.then(|| collection.to_xml()),
    })
}

fn period(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

fn debtor_name(m: &MandateRow) -> String {
    let name = [m.first_name.as_deref(), m.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        format!("Client {}", m.customer_number.as_deref().unwrap_or("LAE"))
    } else {
        name
    }
}

/// Since when the customer's current mandate has carried `reference`: the last
/// signature, or the amendment after it that changed the reference (a new reference
/// is a new mandate for the bank, so its next debit is a first one again).
fn mandate_since(history: &[MandateStep], reference: &str) -> Option<NaiveDate> {
    let mut current: Option<(&str, NaiveDate)> = None;
    for step in history {
        let step_reference = step.mandate_reference.as_deref();
        match (step.kind.as_str(), step_reference) {
            ("signed", Some(r)) => current = Some((r, step.effective_on)),
            ("amended", Some(r)) if current.is_none_or(|(c, _)| c != r) => {
                current = Some((r, step.effective_on));
            }
            ("revoked", _) => current = None,
            _ => {}
        }
    }
    current.filter(|(r, _)| *r == reference).map(|(_, on)| on)
}

/// `RCUR` when an earlier collection used the mandate: the customer has a contract
/// invoice of an earlier month issued on or after the mandate took effect (every
/// cycle invoice is issued by the collection that debits it, on its date, so that
/// invoice went out in a file under this mandate); `FRST` otherwise.
#[must_use]
pub fn sequence_type(mandate_since: NaiveDate, earlier_invoices: &[NaiveDate]) -> SequenceType {
    if earlier_invoices.iter().any(|on| *on >= mandate_since) {
        SequenceType::Recurring
    } else {
        SequenceType::First
    }
}

/// What importing a status report did, transaction by transaction.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct StatusImport {
    /// The report's `MsgId`.
    pub message_id: String,
    /// Transactions in the report.
    pub transactions: usize,
    /// Transactions with another status than `RJCT` (accepted, pending…): nothing to record.
    pub not_rejected: usize,
    /// Rejections recorded now.
    pub recorded: Vec<ImportedRejection>,
    /// Rejections already recorded (an earlier import): skipped.
    pub already_recorded: Vec<ImportedRejection>,
    /// Rejections the invoice refused (paid or cancelled since, date before issue…).
    pub refused: Vec<RefusedRejection>,
    /// `OrgnlEndToEndId`s that name no invoice: when there is one, nothing is recorded.
    pub unknown: Vec<UnknownTransaction>,
}

impl StatusImport {
    /// Whether everything the report asked was recorded (or had been).
    #[must_use]
    pub fn complete(&self) -> bool {
        self.refused.is_empty() && self.unknown.is_empty()
    }
}

/// A rejection, by invoice.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImportedRejection {
    pub invoice_id: Uuid,
    /// The ISO 20022 reason code (`StsRsnInf/Rsn/Cd`): the event's `reason_code`, and
    /// the head of its `reason`.
    pub reason_code: Option<String>,
}

/// A rejection the invoice refused.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RefusedRejection {
    pub invoice_id: Uuid,
    pub code: String,
    pub detail: String,
}

/// A transaction of the report that names no invoice.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnknownTransaction {
    /// Its position in the report, from 1.
    pub position: usize,
    pub end_to_end_id: String,
}

/// The French label of the common SEPA reason codes.
#[must_use]
pub fn reason_label(code: &str) -> &'static str {
    match code {
        "AC01" => "IBAN incorrect",
        "AC04" => "compte clôturé",
        "AC06" => "compte bloqué",
        "AC13" => "compte de consommateur non autorisé",
        "AG01" => "prélèvement interdit sur ce compte",
        "AG02" => "code opération incorrect",
        "AM04" => "provision insuffisante",
        "AM05" => "prélèvement en double",
        "BE05" => "créancier non reconnu",
        "FF01" => "format de fichier invalide",
        "MD01" => "absence de mandat",
        "MD02" => "données du mandat manquantes ou erronées",
        "MD06" => "remboursement demandé par le débiteur",
        "MD07" => "débiteur décédé",
        "MS02" => "refus du débiteur",
        "MS03" => "motif non communiqué par la banque",
        "RC01" => "BIC incorrect",
        "RR01" | "RR02" | "RR03" | "RR04" => "motif réglementaire",
        "SL01" => "service spécifique de la banque du débiteur",
        _ => "motif bancaire",
    }
}

fn rejection_reason(code: Option<&str>) -> Result<Reason, ApiError> {
    let text = match code {
        Some(code) => format!("{code} : {}", reason_label(code)),
        None => "Rejet bancaire sans code motif".to_owned(),
    };
    text.parse().map_err(|e: lae_domain::TextError| {
        ApiError::invalid("reason_code", "reason_code", e.to_string())
    })
}

/// Records each `RJCT` transaction of a `pain.002` report as a payment rejection of
/// its invoice (`EndToEndId` = invoice id), dated the report's creation day, with
/// the reason code at the head of the reason (`AM04 : provision insuffisante`).
///
/// Every `EndToEndId` is checked before anything is recorded: when one names no
/// invoice, nothing is, and the report names it. A rejection already recorded is
/// skipped and counted, so a second import changes nothing.
pub async fn import_status(
    state: &AppState,
    metadata: &EventMetadata,
    xml: &str,
) -> Result<StatusImport, ApiError> {
    let report = pain002::parse(xml).map_err(|e| ApiError::invalid("pain002", "file", e.0))?;
    let mut outcome = StatusImport {
        message_id: report.message_id.clone(),
        transactions: report.transactions.len(),
        ..StatusImport::default()
    };
    let mut rejections = Vec::new();
    for tx in &report.transactions {
        if tx.status != "RJCT" {
            outcome.not_rejected += 1;
            continue;
        }
        let invoice = match Uuid::parse_str(tx.original_end_to_end_id.trim()) {
            Ok(id) => {
                let (invoice, _) = state.invoices.load(&id.hyphenated().to_string()).await?;
                invoice.status().map(|_| id)
            }
            Err(_) => None,
        };
        match invoice {
            Some(id) => rejections.push((id, tx.reason_code.clone())),
            None => outcome.unknown.push(UnknownTransaction {
                position: tx.position,
                end_to_end_id: tx.original_end_to_end_id.clone(),
            }),
        }
    }
    if !outcome.unknown.is_empty() {
        return Ok(outcome);
    }
    for (id, code) in rejections {
        let command = InvoiceCommand::RecordPaymentRejection {
            rejected_on: report.created_on,
            reason: rejection_reason(code.as_deref())?,
            reason_code: code
                .as_deref()
                .and_then(|c| lae_domain::RejectionCode::parse(c).ok()),
        };
        let entry = ImportedRejection {
            invoice_id: id,
            reason_code: code,
        };
        match state
            .invoices
            .execute(&id.hyphenated().to_string(), command, metadata)
            .await
        {
            Ok(_) => outcome.recorded.push(entry),
            Err(CommandError::Rejected(InvoiceError::PaymentAlreadyRejected)) => {
                outcome.already_recorded.push(entry);
            }
            Err(CommandError::Rejected(refusal)) => {
                use lae_domain::Rejection as _;
                outcome.refused.push(RefusedRejection {
                    invoice_id: id,
                    code: refusal.code().to_owned(),
                    detail: refusal.to_string(),
                });
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test value")
    }

    fn step(kind: &str, reference: &str, on: NaiveDate) -> MandateStep {
        MandateStep {
            customer_id: Uuid::nil(),
            kind: kind.to_owned(),
            mandate_reference: Some(reference.to_owned()),
            effective_on: on,
        }
    }

    #[test]
    fn a_mandate_is_first_until_an_earlier_collection_used_it() {
        let since = d(2026, 10, 20);
        assert_eq!(sequence_type(since, &[]), SequenceType::First);
        assert_eq!(
            sequence_type(since, &[d(2026, 10, 5)]),
            SequenceType::First,
            "an invoice from before the mandate was not collected under it"
        );
        assert_eq!(
            sequence_type(since, &[d(2026, 10, 5), d(2026, 10, 25)]),
            SequenceType::Recurring
        );
    }

    #[test]
    fn a_new_reference_or_signature_starts_a_new_mandate() {
        let history = [
            step("signed", "RUM-1", d(2026, 1, 10)),
            step("amended", "RUM-1", d(2026, 3, 1)),
        ];
        assert_eq!(mandate_since(&history, "RUM-1"), Some(d(2026, 1, 10)));
        let history = [
            step("signed", "RUM-1", d(2026, 1, 10)),
            step("amended", "RUM-2", d(2026, 3, 1)),
        ];
        assert_eq!(mandate_since(&history, "RUM-2"), Some(d(2026, 3, 1)));
        let history = [
            step("signed", "RUM-1", d(2026, 1, 10)),
            step("revoked", "RUM-1", d(2026, 2, 1)),
            step("signed", "RUM-1", d(2026, 5, 1)),
        ];
        assert_eq!(mandate_since(&history, "RUM-1"), Some(d(2026, 5, 1)));
    }

    #[test]
    fn reasons_keep_the_code_first() {
        assert_eq!(
            rejection_reason(Some("AM04")).expect("test value").as_str(),
            "AM04 : provision insuffisante"
        );
        assert_eq!(
            rejection_reason(Some("ZZ99")).expect("test value").as_str(),
            "ZZ99 : motif bancaire"
        );
    }
}
