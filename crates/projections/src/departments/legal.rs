//! Legal: contact details, the latest health declaration, contracts and their signed
//! documents (the bytes stay in `public.contract_documents`, which legal's reader may
//! read).

use chrono::{DateTime, NaiveDate, Utc};
use lae_domain::contract::ContractEvent;
use lae_domain::customer::CustomerEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use super::contact::{self, CustomerRow};
use super::inbox;
use crate::decode::{Decoded, Event};
use crate::table::{Touched, table};

table! {
    /// A row of `legal.health_declarations`.
    HealthRow in "health_declarations" key customer_id {
        customer_id: Uuid => "uuid",
        tobacco: Option<String> => "text",
        alcohol: Option<String> => "text",
        illnesses: Option<serde_json::Value> => "jsonb",
        declared_on: Option<NaiveDate> => "date",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `legal.contracts`.
    ContractRow in "contracts" key contract_id {
        contract_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        offer_id: Option<Uuid> => "uuid",
        product: Option<String> => "text",
        monthly_premium_cents: Option<i64> => "bigint",
        status: Option<String> => "text",
        requested_on: Option<NaiveDate> => "date",
        reference: Option<String> => "text",
        signed_on: Option<NaiveDate> => "date",
        document_sha256: Option<String> => "text",
        document_name: Option<String> => "text",
        document_size_bytes: Option<i64> => "bigint",
        terminated_on: Option<NaiveDate> => "date",
        termination_reason: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

/// Whether legal needs this event's payload.
pub(crate) fn uses(aggregate_type: &str, event_type: &str) -> bool {
    contact::uses(aggregate_type, event_type)
        || (aggregate_type == "Customer" && event_type == "HealthDeclared")
        || aggregate_type == "Contract"
        || inbox::uses(aggregate_type, event_type)
}

/// Writes a batch of decoded events (in order) to the schema.
pub(crate) async fn write(
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    let mut customers = Touched::<CustomerRow>::load(conn, schema, contact::keys(events)).await?;
    let health_keys = events
        .iter()
        .filter(|d| {
            matches!(
                d.event,
                Event::Customer(CustomerEvent::HealthDeclared { .. })
            )
        })
        .map(|d| d.id);
    let mut health = Touched::<HealthRow>::load(conn, schema, health_keys).await?;
    let contract_keys = events
        .iter()
        .filter(|d| matches!(d.event, Event::Contract(_)))
        .map(|d| d.id);
    let mut contracts = Touched::<ContractRow>::load(conn, schema, contract_keys).await?;
    for d in events {
        contact::apply(&mut customers, d);
        match &d.event {
            Event::Customer(CustomerEvent::HealthDeclared {
                tobacco,
                alcohol,
                illnesses,
                declared_on,
            }) => health.update(d.id, |_| HealthRow {
                customer_id: d.id,
                tobacco: Some(tobacco.as_str().to_owned()),
                alcohol: Some(alcohol.as_str().to_owned()),
                illnesses: Some(serde_json::Value::from(
                    illnesses
                        .iter()
                        .map(|i| i.as_str().to_owned())
                        .collect::<Vec<_>>(),
                )),
                declared_on: Some(*declared_on),
                version: d.envelope.sequence,
                updated_at: d.envelope.recorded_at,
            }),
            Event::Contract(event) => contracts.update(d.id, |row| apply_contract(row, d, event)),
            _ => {}
        }
    }
    customers.store(conn, schema).await?;
    health.store(conn, schema).await?;
    contracts.store(conn, schema).await?;
    inbox::write(conn, schema, lae_domain::Department::Legal, events).await
}

/// Purges an erased customer: the contact card and the health declaration go; the
/// contracts stay whole (references, dates, premiums, status, signed document): they
/// hold nothing personal beyond the customer's id and must be kept.
pub(crate) async fn erase(
    conn: &mut PgConnection,
    schema: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    contact::delete_customer_rows(conn, schema, "health_declarations", customer).await?;
    inbox::erase(conn, schema, customer).await?;
    contact::erase(conn, schema, customer).await
}

fn apply_contract(row: Option<ContractRow>, d: &Decoded<'_>, event: &ContractEvent) -> ContractRow {
    let mut row = row.unwrap_or(ContractRow {
        contract_id: d.id,
        customer_id: None,
        offer_id: None,
        product: None,
        monthly_premium_cents: None,
        status: None,
        requested_on: None,
        reference: None,
        signed_on: None,
        document_sha256: None,
        document_name: None,
        document_size_bytes: None,
        terminated_on: None,
        termination_reason: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    });
    match event {
        ContractEvent::ContractRequested {
            customer_id,
            product,
            monthly_premium,
            offer_id,
            requested_on,
        } => {
            row.customer_id = Some(*customer_id.as_uuid());
            row.offer_id = offer_id.map(|o| *o.as_uuid());
            row.product = Some(product.as_str().to_owned());
            row.monthly_premium_cents = Some(monthly_premium.value());
            row.status = Some("requested".to_owned());
            row.requested_on = Some(*requested_on);
        }
        ContractEvent::ContractSigned {
            reference,
            signed_on,
            document,
        } => {
            row.status = Some("signed".to_owned());
            row.reference = Some(reference.as_str().to_owned());
            row.signed_on = Some(*signed_on);
            row.document_sha256 = Some(document.sha256.as_str().to_owned());
            row.document_name = Some(document.name.as_str().to_owned());
            row.document_size_bytes = Some(i64::try_from(document.size_bytes).unwrap_or(i64::MAX));
        }
        ContractEvent::ContractTerminated {
            terminated_on,
            reason,
        } => {
            row.status = Some("terminated".to_owned());
            row.terminated_on = Some(*terminated_on);
            row.termination_reason = Some(reason.as_str().to_owned());
        }
    }
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}
