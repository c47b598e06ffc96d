//! Customer service: contact details and tickets (with what happened on them).

use chrono::{DateTime, Utc};
use lae_domain::ticket::TicketEvent;
use lae_store::crypto::ERASED;
use lae_store::db::quote_ident;
use sqlx::PgConnection;
use uuid::Uuid;

use super::contact::{self, CustomerRow};
use crate::decode::{Decoded, Event};
use crate::table::{Touched, history, table};

table! {
    /// A row of `customer_service.tickets`.
    TicketRow in "tickets" key ticket_id {
        ticket_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        channel: Option<String> => "text",
        reason: Option<String> => "text",
        operator: Option<String> => "text",
        opened_at: Option<DateTime<Utc>> => "timestamptz",
        department: Option<String> => "text",
        status: Option<String> => "text",
        actions: i32 => "integer",
        resolution: Option<String> => "text",
        resolved_at: Option<DateTime<Utc>> => "timestamptz",
        last_activity_at: Option<DateTime<Utc>> => "timestamptz",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

history! {
    /// A row of `customer_service.ticket_history`.
    TicketHistoryRow in "ticket_history" key (ticket_id, sequence) {
        ticket_id: Uuid => "uuid",
        sequence: i64 => "bigint",
        kind: String => "text",
        at: DateTime<Utc> => "timestamptz",
        operator: Option<String> => "text",
        text: Option<String> => "text",
        previous_department: Option<String> => "text",
        department: Option<String> => "text",
    }
}

/// Whether customer service needs this event's payload.
pub(crate) fn uses(aggregate_type: &str, event_type: &str) -> bool {
    contact::uses(aggregate_type, event_type) || aggregate_type == "Ticket"
}

/// Writes a batch of decoded events (in order) to the schema.
pub(crate) async fn write(
    conn: &mut PgConnection,
    schema: &str,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    let mut customers = Touched::<CustomerRow>::load(conn, schema, contact::keys(events)).await?;
    let ticket_keys = events
        .iter()
        .filter(|d| matches!(d.event, Event::Ticket(_)))
        .map(|d| d.id);
    let mut tickets = Touched::<TicketRow>::load(conn, schema, ticket_keys).await?;
    let mut history = Vec::new();
    for d in events {
        contact::apply(&mut customers, d);
        if let Event::Ticket(event) = &d.event {
            tickets.update(d.id, |row| apply_ticket(row, d, event));
            history.push(history_row(d, event));
        }
    }
    customers.store(conn, schema).await?;
    tickets.store(conn, schema).await?;
    TicketHistoryRow::insert(conn, schema, &history).await
}

/// Purges an erased customer: the contact card goes; the customer's tickets and their
/// history keep their ids, dates, channel, operator, status and department routing, and
/// every free text about the customer (reason, action, note, resolution) reads
/// `[erased]`, as the sealed texts of those events read once the keys are destroyed.
/// Every history row's text is replaced, absent ones included: a rebuild reads an
/// absent note, sealed too, as `[erased]`.
pub(crate) async fn erase(
    conn: &mut PgConnection,
    schema: &str,
    customer: Uuid,
) -> Result<(), sqlx::Error> {
    let quoted = quote_ident(schema);
    sqlx::query(&format!(
        "UPDATE {quoted}.ticket_history h SET text = $2 \
           FROM {quoted}.tickets t \
          WHERE t.ticket_id = h.ticket_id AND t.customer_id = $1"
    ))
    .bind(customer)
    .bind(ERASED)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "UPDATE {quoted}.tickets \
            SET reason = CASE WHEN reason IS NULL THEN NULL ELSE $2 END, \
                resolution = CASE WHEN resolution IS NULL THEN NULL ELSE $2 END \
          WHERE customer_id = $1"
    ))
    .bind(customer)
    .bind(ERASED)
    .execute(&mut *conn)
    .await?;
    contact::erase(conn, schema, customer).await
}

fn apply_ticket(row: Option<TicketRow>, d: &Decoded<'_>, event: &TicketEvent) -> TicketRow {
    let mut row = row.unwrap_or(TicketRow {
        ticket_id: d.id,
        customer_id: None,
        channel: None,
        reason: None,
        operator: None,
        opened_at: None,
        department: None,
        status: None,
        actions: 0,
        resolution: None,
        resolved_at: None,
        last_activity_at: None,
        version: 0,
        updated_at: d.envelope.recorded_at,
    });
    match event {
        TicketEvent::TicketOpened {
            customer_id,
            channel,
            reason,
            opened_at,
            operator,
            ..
        } => {
            row.customer_id = customer_id.map(|c| *c.as_uuid());
            row.channel = Some(channel.as_str().to_owned());
            row.reason = Some(reason.as_str().to_owned());
            row.operator = Some(operator.as_str().to_owned());
            row.opened_at = Some(*opened_at);
            row.department = Some(lae_domain::Department::CustomerService.as_str().to_owned());
            row.status = Some("open".to_owned());
            row.last_activity_at = Some(*opened_at);
        }
        TicketEvent::ActionRecorded { at, .. } => {
            row.actions = row.actions.saturating_add(1);
            row.last_activity_at = Some(*at);
        }
        TicketEvent::TicketRouted { department, at, .. } => {
            row.department = Some(department.as_str().to_owned());
            row.last_activity_at = Some(*at);
        }
        TicketEvent::CallerIdentified { customer_id, at } => {
            row.customer_id = customer_id.map(|c| *c.as_uuid());
            row.last_activity_at = Some(*at);
        }
        TicketEvent::TicketResolved { resolution, at, .. } => {
            row.status = Some("resolved".to_owned());
            row.resolution = Some(resolution.as_str().to_owned());
            row.resolved_at = Some(*at);
            row.last_activity_at = Some(*at);
        }
        // The rating comes after the resolution; it is in the ticket's history.
        TicketEvent::SatisfactionRated { .. } => {}
    }
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}

fn history_row(d: &Decoded<'_>, event: &TicketEvent) -> TicketHistoryRow {
    let base = |kind: &str, at: DateTime<Utc>| TicketHistoryRow {
        ticket_id: d.id,
        sequence: d.envelope.sequence,
        kind: kind.to_owned(),
        at,
        operator: None,
        text: None,
        previous_department: None,
        department: None,
    };
    match event {
        TicketEvent::TicketOpened {
            reason,
            opened_at,
            operator,
            ..
        } => TicketHistoryRow {
            operator: Some(operator.as_str().to_owned()),
            text: Some(reason.as_str().to_owned()),
            ..base("opened", *opened_at)
        },
        TicketEvent::ActionRecorded {
            action,
            at,
            operator,
            ..
        } => TicketHistoryRow {
            operator: Some(operator.as_str().to_owned()),
            text: Some(action.as_str().to_owned()),
            ..base("action", *at)
        },
        TicketEvent::TicketRouted {
            previous_department,
            department,
            at,
            note,
            ..
        } => TicketHistoryRow {
            text: note.as_ref().map(|n| n.as_str().to_owned()),
            previous_department: Some(previous_department.as_str().to_owned()),
            department: Some(department.as_str().to_owned()),
            ..base("routed", *at)
        },
        TicketEvent::CallerIdentified { at, .. } => base("identified", *at),
        TicketEvent::TicketResolved { resolution, at, .. } => TicketHistoryRow {
            text: Some(resolution.as_str().to_owned()),
            ..base("resolved", *at)
        },
        TicketEvent::SatisfactionRated { score, at, .. } => TicketHistoryRow {
            text: Some(score.as_str().to_owned()),
            ..base("rated", *at)
        },
    }
}
