//! One module per department: which payloads it reads and how it writes its tables.
//!
//! Each department's `write(conn, schema, events)` takes a batch of decoded events in
//! order and applies them to the tables of `schema` (the live schema, or the copy a
//! rebuild fills). It does no bookkeeping: [`crate::apply`] decides which events are
//! new, decodes them and records their sequences in the same transaction.
//!
//! # Erasure
//! `CustomerErased` purges the customer's personal data from every department's read
//! model (each module's `erase`), keeping the facts the insurer must keep: contracts,
//! invoices, offers and tickets stay with their ids, dates, amounts and statuses. A
//! purge reaches rows of other aggregates (a customer's tickets), so it runs after
//! the batch's earlier events are written and before its later ones: the batch is
//! written in runs that end at each erasure. Replayed by a rebuild, the customer's
//! earlier events arrive redacted (skipped, or with free texts reading `[erased]`),
//! and the same purge leaves the same rows as the incremental path.

pub(crate) mod billing;
pub(crate) mod contact;
pub(crate) mod customer_service;
pub(crate) mod inbox;
pub mod indicators;
pub(crate) mod legal;
pub mod management;
pub(crate) mod sales;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::decode::Decoded;
use crate::department::Department;

/// Whether `department` reads the payload of this event type; for the other event types
/// of the aggregates it follows, it only records the sequence.
pub(crate) fn uses(department: Department, aggregate_type: &str, event_type: &str) -> bool {
    if is_erasure(aggregate_type, event_type) {
        return department != Department::Management;
    }
    match department {
        Department::CustomerService => customer_service::uses(aggregate_type, event_type),
        Department::Legal => legal::uses(aggregate_type, event_type),
        Department::Sales => sales::uses(aggregate_type, event_type),
        Department::Billing => billing::uses(aggregate_type, event_type),
        // Management reads the clear fields of every payload but the customers' (dates,
        // channel, reason code, score; see `indicators`): a customer event is dated by
        // its recording and counted from its type alone.
        Department::Management => aggregate_type != "Customer",
    }
}

/// The event types (as `Aggregate:EventType`) of the catalog whose payload
/// `department` reads: what a rebuild needs to bring back from the store.
pub(crate) fn used_event_types(department: Department) -> Vec<String> {
    lae_domain::catalog::entries()
        .into_iter()
        .filter(|e| uses(department, e.aggregate_type, &e.event_type))
        .map(|e| format!("{}:{}", e.aggregate_type, e.event_type))
        .collect()
}

/// Whether an event erases a customer's personal data.
fn is_erasure(aggregate_type: &str, event_type: &str) -> bool {
    aggregate_type == "Customer" && event_type == "CustomerErased"
}

/// Applies decoded events to the department's tables in `schema`, in order: each
/// erasure purges what the events before it wrote (see the module docs).
pub(crate) async fn write(
    department: Department,
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    let mut rest = events;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|d| d.erased_customer().is_some())
            .map_or(rest.len(), |i| i + 1);
        let (run, tail) = rest.split_at(end);
        write_run(department, conn, schema, run).await?;
        if let Some(customer) = run.last().and_then(Decoded::erased_customer) {
            erase(department, conn, schema, customer).await?;
        }
        rest = tail;
    }
    Ok(())
}

/// Writes a run of events with no erasure but (perhaps) its last, which the
/// department modules ignore.
async fn write_run(
    department: Department,
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    if events.iter().all(|d| d.erased_customer().is_some()) {
        return Ok(());
    }
    match department {
        Department::CustomerService => customer_service::write(conn, schema, events).await,
        Department::Legal => legal::write(conn, schema, events).await,
        Department::Sales => sales::write(conn, schema, events).await,
        Department::Billing => billing::write(conn, schema, events).await,
        // Management counts envelopes and never decodes (see `apply`).
        Department::Management => Ok(()),
    }
}

/// Purges a customer's personal data from the department's tables in `schema`.
async fn erase(
    department: Department,
    conn: &mut PgConnection,
    schema: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    match department {
        Department::CustomerService => customer_service::erase(conn, schema, customer).await,
        Department::Legal => legal::erase(conn, schema, customer).await,
        Department::Sales => sales::erase(conn, schema, customer).await,
        Department::Billing => billing::erase(conn, schema, customer).await,
        // Counts only: the erasure is counted like any event.
        Department::Management => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_reads_the_payloads_its_department_uses_and_no_other() {
        let cs = used_event_types(Department::CustomerService);
        for wanted in [
            "Customer:CustomerRegistered",
            "Customer:CustomerErased",
            "Ticket:TicketOpened",
        ] {
            assert!(cs.iter().any(|t| t == wanted), "{wanted}: {cs:?}");
        }
        assert!(!cs.iter().any(|t| t == "Customer:HealthDeclared"), "{cs:?}");
        let management = used_event_types(Department::Management);
        assert!(management.iter().any(|t| t == "Ticket:SatisfactionRated"));
        assert!(!management.iter().any(|t| t.starts_with("Customer:")));
        let legal = used_event_types(Department::Legal);
        assert!(
            legal.iter().any(|t| t == "Contract:ContractSigned"),
            "{legal:?}"
        );
    }

    #[test]
    fn each_department_reads_only_the_payloads_it_may_see() {
        let health = |d| uses(d, "Customer", "HealthDeclared");
        let bank = |d| uses(d, "Customer", "MandateSigned");
        let profile = |d| uses(d, "Customer", "SalesProfileSet");
        let contact = |d| uses(d, "Customer", "ContactDetailsChanged");
        for d in Department::ALL {
            assert_eq!(health(d), d == Department::Legal, "{d} health");
            assert_eq!(bank(d), d == Department::Billing, "{d} bank");
            assert_eq!(profile(d), d == Department::Sales, "{d} profile");
            assert_eq!(contact(d), d != Department::Management, "{d} contact");
            assert_eq!(
                uses(d, "Customer", "CustomerErased"),
                d != Department::Management,
                "{d} erasure"
            );
        }
    }
}
