//! Sales: contact details, sales profile, offers, contract status, and one unpaid flag
//! per invoice. Invoice events are decoded only to read their customer and state: the
//! invoice number and amount are never stored here.

use chrono::{DateTime, NaiveDate, Utc};
use lae_domain::contract::ContractEvent;
use lae_domain::customer::CustomerEvent;
use lae_domain::invoice::InvoiceEvent;
use lae_domain::offer::OfferEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use super::contact::{self, CustomerRow};
use super::inbox;
use crate::decode::{Decoded, Event};
use crate::table::{Touched, table};

table! {
    /// A row of `sales.profiles`.
    ProfileRow in "profiles" key customer_id {
        customer_id: Uuid => "uuid",
        age_band: Option<String> => "text",
        profession: Option<String> => "text",
        sex: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `sales.offers`.
    OfferRow in "offers" key offer_id {
        offer_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        product: Option<String> => "text",
        monthly_premium_cents: Option<i64> => "bigint",
        status: Option<String> => "text",
        proposed_on: Option<NaiveDate> => "date",
        decided_on: Option<NaiveDate> => "date",
        reason: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `sales.contracts`.
    ContractRow in "contracts" key contract_id {
        contract_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        offer_id: Option<Uuid> => "uuid",
        product: Option<String> => "text",
        status: Option<String> => "text",
        requested_on: Option<NaiveDate> => "date",
        signed_on: Option<NaiveDate> => "date",
        terminated_on: Option<NaiveDate> => "date",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

table! {
    /// A row of `sales.invoice_flags`.
    InvoiceFlagRow in "invoice_flags" key invoice_id {
        invoice_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        unpaid: bool => "boolean",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

/// Whether sales needs this event's payload.
pub(crate) fn uses(aggregate_type: &str, event_type: &str) -> bool {
    contact::uses(aggregate_type, event_type)
        || (aggregate_type == "Customer" && event_type == "SalesProfileSet")
        || matches!(aggregate_type, "Offer" | "Contract" | "Invoice")
        || inbox::uses(aggregate_type, event_type)
}

fn keys_of<'a>(
    events: &'a [Decoded<'a>],
    pick: fn(&Event) -> bool,
) -> impl Iterator<Item = Uuid> + 'a {
    events.iter().filter(move |d| pick(&d.event)).map(|d| d.id)
}

/// Writes a batch of decoded events (in order) to the schema.
pub(crate) async fn write(
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    let mut customers = Touched::<CustomerRow>::load(conn, schema, contact::keys(events)).await?;
    let mut profiles = Touched::<ProfileRow>::load(
        conn,
        schema,
        keys_of(events, |e| {
            matches!(e, Event::Customer(CustomerEvent::SalesProfileSet { .. }))
        }),
    )
    .await?;
    let mut offers = Touched::<OfferRow>::load(
        conn,
        schema,
        keys_of(events, |e| matches!(e, Event::Offer(_))),
    )
    .await?;
    let mut contracts = Touched::<ContractRow>::load(
        conn,
        schema,
        keys_of(events, |e| matches!(e, Event::Contract(_))),
    )
    .await?;
    let mut flags = Touched::<InvoiceFlagRow>::load(
        conn,
        schema,
        keys_of(events, |e| matches!(e, Event::Invoice(_))),
    )
    .await?;
    for d in events {
        contact::apply(&mut customers, d);
        let (sequence, at) = (d.envelope.sequence, d.envelope.recorded_at);
        match &d.event {
            Event::Customer(CustomerEvent::SalesProfileSet {
                age_band,
                profession,
                sex,
            }) => profiles.update(d.id, |_| ProfileRow {
                customer_id: d.id,
                age_band: age_band.map(|a| a.as_str().to_owned()),
                profession: profession.as_ref().map(|p| p.as_str().to_owned()),
                sex: Some(sex.as_str().to_owned()),
                version: sequence,
                updated_at: at,
            }),
            Event::Offer(event) => offers.update(d.id, |row| apply_offer(row, d, event)),
            Event::Contract(event) => contracts.update(d.id, |row| apply_contract(row, d, event)),
            // A request bills nothing: its invoice counts once issued.
            Event::Invoice(
                InvoiceEvent::InvoiceRequested { .. } | InvoiceEvent::InvoiceRequestRefused { .. },
            ) => {}
            Event::Invoice(event) => flags.update(d.id, |row| {
                let (customer_id, unpaid) = match event {
                    InvoiceEvent::InvoiceIssued { customer_id, .. } => {
                        (Some(*customer_id.as_uuid()), true)
                    }
                    // A rejected payment makes the invoice due again.
                    InvoiceEvent::PaymentRejected { .. } => {
                        (row.as_ref().and_then(|r| r.customer_id), true)
                    }
                    InvoiceEvent::InvoicePaid { .. }
                    | InvoiceEvent::InvoiceCancelled { .. }
                    | InvoiceEvent::InvoiceRequested { .. }
                    | InvoiceEvent::InvoiceRequestRefused { .. } => {
                        (row.as_ref().and_then(|r| r.customer_id), false)
                    }
                };
                InvoiceFlagRow {
                    invoice_id: d.id,
                    customer_id,
                    unpaid,
                    version: sequence,
                    updated_at: at,
                }
            }),
            _ => {}
        }
    }
    customers.store(conn, schema).await?;
    profiles.store(conn, schema).await?;
    offers.store(conn, schema).await?;
    contracts.store(conn, schema).await?;
    flags.store(conn, schema).await?;
    inbox::write(conn, schema, lae_domain::Department::Sales, events).await
}

/// Purges an erased customer: the contact card and the sales profile go; offers,
/// contract statuses and unpaid flags stay (ids, products, premiums, statuses, dates:
/// no personal column).
pub(crate) async fn erase(
    conn: &mut PgConnection,
    schema: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    contact::delete_customer_rows(conn, schema, "profiles", customer).await?;
    inbox::erase(conn, schema, customer).await?;
    contact::erase(conn, schema, customer).await
}

fn apply_offer(row: Option<OfferRow>, d: &Decoded<'_>, event: &OfferEvent) -> OfferRow {
    let mut row = row.unwrap_or(OfferRow {
        offer_id: d.id,
        customer_id: None,
        product: None,
        monthly_premium_cents: None,
        status: None,
        proposed_on: None,
        decided_on: None,
        reason: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    });
    match event {
        OfferEvent::OfferProposed {
            customer_id,
            product,
            monthly_premium,
            proposed_on,
        } => {
            row.customer_id = Some(*customer_id.as_uuid());
            row.product = Some(product.as_str().to_owned());
            row.monthly_premium_cents = Some(monthly_premium.value());
            row.status = Some("proposed".to_owned());
            row.proposed_on = Some(*proposed_on);
        }
        OfferEvent::OfferAccepted { accepted_on, .. } => {
            row.status = Some("accepted".to_owned());
            row.decided_on = Some(*accepted_on);
        }
        OfferEvent::OfferDeclined {
            declined_on,
            reason,
        } => {
            row.status = Some("declined".to_owned());
            row.decided_on = Some(*declined_on);
            row.reason = reason.as_ref().map(|r| r.as_str().to_owned());
        }
        OfferEvent::OfferWithdrawn {
            withdrawn_on,
            reason,
        } => {
            row.status = Some("withdrawn".to_owned());
            row.decided_on = Some(*withdrawn_on);
            row.reason = reason.as_ref().map(|r| r.as_str().to_owned());
        }
    }
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}

fn apply_contract(row: Option<ContractRow>, d: &Decoded<'_>, event: &ContractEvent) -> ContractRow {
    let mut row = row.unwrap_or(ContractRow {
        contract_id: d.id,
        customer_id: None,
        offer_id: None,
        product: None,
        status: None,
        requested_on: None,
        signed_on: None,
        terminated_on: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    });
    match event {
        ContractEvent::ContractRequested {
            customer_id,
            product,
            offer_id,
            requested_on,
            ..
        } => {
            row.customer_id = Some(*customer_id.as_uuid());
            row.offer_id = offer_id.map(|o| *o.as_uuid());
            row.product = Some(product.as_str().to_owned());
            row.status = Some("requested".to_owned());
            row.requested_on = Some(*requested_on);
        }
        ContractEvent::ContractSigned { signed_on, .. } => {
            row.status = Some("signed".to_owned());
            row.signed_on = Some(*signed_on);
        }
        ContractEvent::ContractTerminated { terminated_on, .. } => {
            row.status = Some("terminated".to_owned());
            row.terminated_on = Some(*terminated_on);
        }
    }
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}
