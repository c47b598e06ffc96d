//! The contact card every department but management holds, written by the same code
//! into each schema's `customers` table: contact details changed once at customer
//! service show up in every department's read model with no further action.

use chrono::{DateTime, Utc};
use lae_domain::customer::CustomerEvent;
use lae_store::db::quote_ident;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::decode::{Decoded, Event};
use crate::table::{Touched, table};

table! {
    /// A row of `<schema>.customers`.
    CustomerRow in "customers" key customer_id {
        customer_id: Uuid => "uuid",
        customer_number: Option<String> => "text",
        last_name: Option<String> => "text",
        first_name: Option<String> => "text",
        email: Option<String> => "text",
        phone: Option<String> => "text",
        availability: Option<String> => "text",
        registered_at: Option<DateTime<Utc>> => "timestamptz",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

/// Whether the contact card needs this event's payload.
pub(crate) fn uses(aggregate_type: &str, event_type: &str) -> bool {
    aggregate_type == "Customer"
        && matches!(event_type, "CustomerRegistered" | "ContactDetailsChanged")
}

/// The customers a batch's contact events touch.
pub(crate) fn keys<'a>(events: &'a [Decoded<'a>]) -> impl Iterator<Item = Uuid> + 'a {
    events.iter().filter_map(|d| match &d.event {
        Event::Customer(
            CustomerEvent::CustomerRegistered { .. } | CustomerEvent::ContactDetailsChanged { .. },
        ) => Some(d.id),
        _ => None,
    })
}

/// Deletes an erased customer's contact card: it is personal data through and
/// through (the customer number alone is kept nowhere, it serves only to find a
/// person).
pub(crate) async fn erase(
    conn: &mut PgConnection,
    schema: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    delete_customer_rows(conn, schema, "customers", customer).await
}

/// Deletes the rows of `schema.table` keyed by `customer_id` = `customer`.
pub(crate) async fn delete_customer_rows(
    conn: &mut PgConnection,
    schema: &str,
    table: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "DELETE FROM {}.{} WHERE customer_id = $1",
        quote_ident(schema),
        quote_ident(table)
    );
    sqlx::query(&sql).bind(customer).execute(conn).await?;
    Ok(())
}

/// Folds one event into the contact cards; events other than a registration or a
/// contact change leave them alone.
pub(crate) fn apply(customers: &mut Touched<CustomerRow>, d: &Decoded<'_>) {
    let Event::Customer(event) = &d.event else {
        return;
    };
    let (number, last_name, first_name, email, phone, availability) = match event {
        CustomerEvent::CustomerRegistered {
            customer_number,
            last_name,
            first_name,
            email,
            phone,
            availability,
        } => (
            Some(customer_number.as_str()),
            last_name,
            first_name,
            email,
            phone,
            availability,
        ),
        CustomerEvent::ContactDetailsChanged {
            last_name,
            first_name,
            email,
            phone,
            availability,
        } => (None, last_name, first_name, email, phone, availability),
        _ => return,
    };
    let at = d.envelope.recorded_at;
    customers.update(d.id, |row| {
        let previous = row.unwrap_or(CustomerRow {
            customer_id: d.id,
            customer_number: None,
            last_name: None,
            first_name: None,
            email: None,
            phone: None,
            availability: None,
            registered_at: None,
            version: 0,
            updated_at: at,
        });
        CustomerRow {
            customer_id: d.id,
            // A contact change replaces the five contact fields, never the number.
            customer_number: number.map(str::to_owned).or(previous.customer_number),
            last_name: Some(last_name.as_str().to_owned()),
            first_name: Some(first_name.as_str().to_owned()),
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            phone: phone.as_ref().map(|p| p.as_str().to_owned()),
            availability: Some(availability.as_str().to_owned()),
            registered_at: if number.is_some() {
                Some(at)
            } else {
                previous.registered_at
            },
            version: d.envelope.sequence,
            updated_at: at,
        }
    });
}
