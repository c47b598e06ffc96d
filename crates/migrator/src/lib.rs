//! The legacy import: LAE's four department databases (SQLite) into the event store.
//!
//! ```text
//! lae migrate --legacy DIR [--report FILE] [--dry-run] [--departments customer_service,legal,sales,billing]
//! ```
//! is [`migrate`] with [`MigrateOptions`]; `lae bench migrate` is [`bench::run`].
//! `Ok(report)` is exit code 0, even with rows set aside (the report lists them);
//! `Err` is [`MigrateError::exit_code`].
//!
//! # What becomes what
//!
//! | legacy | commands (through the aggregates' `handle`) | events |
//! | --- | --- | --- |
//! | `service_client.clients` | `RegisterCustomer`, or `ChangeContactDetails` when customer service changed them since the last run | `CustomerRegistered`, `ContactDetailsChanged` |
//! | `service_client.appels` | `OpenTicket`, `RecordAction` (the `actions` text, whole), `ResolveTicket` (legacy calls are closed) | `TicketOpened`, `ActionRecorded`, `TicketResolved` |
//! | `juridique.clients` | `DeclareHealth` (when it differs from the latest declaration) | `HealthDeclared` |
//! | `juridique.contrats` | `RequestContract`, `SignContract` (PDF stored first), `TerminateContract` if `résilié` | `ContractRequested`, `ContractSigned`, `ContractTerminated` |
//! | `vente.clients` | `SetSalesProfile` | `SalesProfileSet` |
//! | `vente.offres` | `ProposeOffer`, then `AcceptOffer` / `DeclineOffer` | `OfferProposed`, `OfferAccepted`, `OfferDeclined` |
//! | `facturation.clients` | `SignMandate`, or `AmendMandate` when the IBAN/RUM changed with a later mandate date | `MandateSigned`, `MandateAmended` |
//! | `facturation.factures` | `IssueInvoice`, then `RecordPayment` (`payée`) / `RecordPaymentRejection` (`impayée`) | `InvoiceIssued`, `InvoicePaid`, `PaymentRejected` |
//!
//! Every event carries `source = legacy-migration`, `user = lae-migrator`, the
//! department that kept the file, `occurred_at` from the legacy row, a correlation id
//! derived from the row, and `file`, `table`, `row_id`. Where the legacy data is silent
//! and the domain needs a value (a due date, a payment date, a contract premium), the
//! rule applied is stamped as `assumption.<field>` and counted in the report.
//!
//! # Reconciliation
//!
//! One customer per legacy customer number (`num_client`, normalised: `lae-000123`,
//! `LAE 000123` are `LAE-000123`), with the id derived from it. Customer service is the
//! source of truth for contact details: another file's differing copy is reported as a
//! conflict, never imported. A department row without a number is matched on its mail,
//! then its phone, or set aside; a customer entered twice in one file is merged when the
//! copies agree once normalised, and the later copy is set aside otherwise.
//!
//! `--departments` without `customer_service`: no customer is registered and no contact
//! detail changes; the departments' rows are matched against the customers already in
//! the store (from an earlier run), and a row of a customer the store does not know is
//! set aside.
//!
//! # Re-runs and crashes
//!
//! Ids derive from legacy keys, and each run decides, per aggregate, the commands that
//! take the store's current state to what the legacy row says. A second run appends
//! nothing; a run after a crash appends what is missing; a change made in a legacy file
//! since the last run becomes only the events that express it. Changes the domain
//! cannot express (an accepted offer now refused) are set aside with the reason. Note
//! that a re-run also re-asserts legacy values over changes made on the platform since:
//! stop importing a department once it works on the platform.
//!
//! # Layout
//! - `legacy`: the files, tables and columns; streaming read-only rows.
//! - `normalise`: one legacy value at a time, to a domain value or a reason.
//! - `reconcile`: customers across files (matching, duplicates, conflicts).
//! - `passes`: one per file, rows to plans.
//! - `plan`: what a row wants, the commands that get there, the batch decision.
//! - `pipeline`: batching, appending, retrying on concurrent writers.
//! - `store`: bulk loads, documents, appends.
//! - [`report`], `progress`, [`bench`](mod@bench).

mod error;
mod ids;
mod legacy;
mod normalise;
mod options;
mod passes;
mod pipeline;
mod plan;
mod progress;
mod reconcile;
pub mod report;
mod run;
mod store;

pub mod bench;

pub use error::{MigrateError, exit_code};
pub use options::{MigrateOptions, ProgressMode, parse_departments};
pub use report::{Assumption, Conflict, Report, Scope, SetAside, TableCounts};
pub use run::migrate;

/// The deterministic ids the import gives legacy rows, for tools and tests that need
/// to find an imported aggregate.
pub mod legacy_ids {
    pub use crate::ids::{contract, customer, invoice, offer, ticket};
}
