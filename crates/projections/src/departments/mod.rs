//! One module per department: which payloads it reads and how it writes its tables.
//!
//! Each department's `write(conn, schema, events)` takes a batch of decoded events in
//! order and applies them to the tables of `schema` (the live schema, or the copy a
//! rebuild fills). It does no bookkeeping: [`crate::apply`] decides which events are
//! new, decodes them and records their sequences in the same transaction.

pub(crate) mod billing;
pub(crate) mod contact;
pub(crate) mod customer_service;
pub(crate) mod legal;
pub mod management;
pub(crate) mod sales;

use sqlx::PgConnection;

use crate::decode::Decoded;
use crate::department::Department;

/// Whether `department` reads the payload of this event type; for the other event types
/// of the aggregates it follows, it only records the sequence.
pub(crate) fn uses(department: Department, aggregate_type: &str, event_type: &str) -> bool {
    match department {
        Department::CustomerService => customer_service::uses(aggregate_type, event_type),
        Department::Legal => legal::uses(aggregate_type, event_type),
        Department::Sales => sales::uses(aggregate_type, event_type),
        Department::Billing => billing::uses(aggregate_type, event_type),
        Department::Management => false,
    }
}

/// Applies decoded events to the department's tables in `schema`.
pub(crate) async fn write(
    department: Department,
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }
}
