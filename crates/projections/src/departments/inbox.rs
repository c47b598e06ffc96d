//! A department's ticket inbox (legal, sales, billing): the tickets customer service
//! (or another department) routed to it, while it holds them.
//!
//! A ticket enters with the `TicketRouted` event that names the department: the
//! event carries what the receiver needs (reason, channel, date of the contact, the
//! routing note), so no department reads another's records. While it is held, the
//! actions recorded on it are kept as its history. It leaves the inbox when it is
//! resolved or routed elsewhere: the row stays with `held = false` (ids, dates,
//! channel: the sequence bookkeeping needs nothing more), its free texts and its
//! history are deleted, so that a department keeps the words of a ticket only while
//! it works on it.

use chrono::{DateTime, Utc};
use lae_domain::ticket::TicketEvent;
use lae_store::crypto::ERASED;
use lae_store::db::quote_ident;
use sqlx::PgConnection;
use std::collections::HashSet;
use uuid::Uuid;

use crate::decode::{Decoded, Event};
use crate::table::{Touched, history, table};

table! {
    /// A row of `<department>.tickets`: `held` while the ticket is in the inbox;
    /// `left_at` and `left_as` (`resolved`, `routed` elsewhere) once it has left.
    InboxRow in "tickets" key ticket_id {
        ticket_id: Uuid => "uuid",
        customer_id: Option<Uuid> => "uuid",
        held: bool => "boolean",
        channel: Option<String> => "text",
        reason: Option<String> => "text",
        opened_at: Option<DateTime<Utc>> => "timestamptz",
        routed_from: Option<String> => "text",
        routed_at: Option<DateTime<Utc>> => "timestamptz",
        routing_note: Option<String> => "text",
        actions: i32 => "integer",
        last_activity_at: Option<DateTime<Utc>> => "timestamptz",
        left_at: Option<DateTime<Utc>> => "timestamptz",
        left_as: Option<String> => "text",
        version: i64 => "bigint",
        updated_at: DateTime<Utc> => "timestamptz",
    }
}

history! {
    /// A row of `<department>.ticket_history`: an action recorded while held.
    InboxHistoryRow in "ticket_history" key (ticket_id, sequence) {
        ticket_id: Uuid => "uuid",
        sequence: i64 => "bigint",
        at: DateTime<Utc> => "timestamptz",
        operator: Option<String> => "text",
        text: Option<String> => "text",
    }
}

/// The ticket events an inbox reads: the routing (to know whether it concerns the
/// department), and actions and resolutions (to follow a ticket it holds).
pub(crate) fn uses(aggregate_type: &str, event_type: &str) -> bool {
    aggregate_type == "Ticket"
        && matches!(
            event_type,
            "TicketRouted" | "ActionRecorded" | "CallerIdentified" | "TicketResolved"
        )
}

/// Applies the batch's ticket events to `department`'s inbox (`department` as the
/// domain spells it in `TicketRouted`: `legal`, `sales`, `billing`).
pub(crate) async fn write(
    conn: &mut PgConnection,
    schema: &str,
    department: lae_domain::Department,
    events: &[Decoded<'_>],
) -> Result<(), sqlx::Error> {
    let keys = events
        .iter()
        .filter(|d| matches!(d.event, Event::Ticket(_)))
        .map(|d| d.id);
    let mut tickets = Touched::<InboxRow>::load(conn, schema, keys).await?;
    let mut history: Vec<InboxHistoryRow> = Vec::new();
    let mut left: HashSet<Uuid> = HashSet::new();
    for d in events {
        let Event::Ticket(event) = &d.event else {
            continue;
        };
        match event {
            TicketEvent::TicketRouted {
                customer_id,
                previous_department,
                department: to,
                at,
                note,
                reason,
                channel,
                opened_at,
            } if *to == department => {
                tickets.update(d.id, |row| {
                    let mut row = row.unwrap_or_else(|| empty(d.id, d.envelope.recorded_at));
                    row.customer_id = customer_id.map(|c| *c.as_uuid());
                    row.held = true;
                    row.channel = channel.map(|c| c.as_str().to_owned());
                    row.reason = reason.as_ref().map(|r| r.as_str().to_owned());
                    row.opened_at = *opened_at;
                    row.routed_from = Some(previous_department.as_str().to_owned());
                    row.routed_at = Some(*at);
                    row.routing_note = note.as_ref().map(|n| n.as_str().to_owned());
                    row.actions = 0;
                    row.last_activity_at = Some(*at);
                    row.left_at = None;
                    row.left_as = None;
                    stamp(row, d)
                });
            }
            TicketEvent::TicketRouted { at, .. } => {
                leave(&mut tickets, &mut history, &mut left, d, *at, "routed");
            }
            TicketEvent::TicketResolved { at, .. } => {
                leave(&mut tickets, &mut history, &mut left, d, *at, "resolved");
            }
            // Rated after the resolution, when the ticket has left every inbox.
            TicketEvent::SatisfactionRated { .. } => {}
            TicketEvent::ActionRecorded {
                action,
                at,
                operator,
                ..
            } => {
                let mut held = false;
                tickets.update(d.id, |row| {
                    let mut row = row.unwrap_or_else(|| empty(d.id, d.envelope.recorded_at));
                    held = row.held;
                    if row.held {
                        row.actions = row.actions.saturating_add(1);
                        row.last_activity_at = Some(*at);
                    }
                    stamp(row, d)
                });
                if held {
                    history.push(InboxHistoryRow {
                        ticket_id: d.id,
                        sequence: d.envelope.sequence,
                        at: *at,
                        operator: Some(operator.as_str().to_owned()),
                        text: Some(action.as_str().to_owned()),
                    });
                }
            }
            TicketEvent::CallerIdentified { customer_id, .. } => {
                tickets.update(d.id, |row| {
                    let mut row = row.unwrap_or_else(|| empty(d.id, d.envelope.recorded_at));
                    if row.held {
                        row.customer_id = customer_id.map(|c| *c.as_uuid());
                    }
                    stamp(row, d)
                });
            }
            TicketEvent::TicketOpened { .. } => {}
        }
    }
    tickets.store(conn, schema).await?;
    if !left.is_empty() {
        let left: Vec<Uuid> = left.into_iter().collect();
        sqlx::query(&format!(
            "DELETE FROM {}.ticket_history WHERE ticket_id = ANY($1)",
            quote_ident(schema)
        ))
        .bind(&left)
        .execute(&mut *conn)
        .await?;
    }
    InboxHistoryRow::insert(conn, schema, &history).await
}

/// A ticket the department does not hold (yet): only its id.
fn empty(ticket_id: Uuid, recorded_at: DateTime<Utc>) -> InboxRow {
    InboxRow {
        ticket_id,
        customer_id: None,
        held: false,
        channel: None,
        reason: None,
        opened_at: None,
        routed_from: None,
        routed_at: None,
        routing_note: None,
        actions: 0,
        last_activity_at: None,
        left_at: None,
        left_as: None,
        version: 0,
        updated_at: recorded_at,
    }
}

fn stamp(mut row: InboxRow, d: &Decoded<'_>) -> InboxRow {
    row.version = d.envelope.sequence;
    row.updated_at = d.envelope.recorded_at;
    row
}

/// The ticket leaves the inbox (if it was in it): its texts and history go.
fn leave(
    tickets: &mut Touched<InboxRow>,
    history: &mut Vec<InboxHistoryRow>,
    left: &mut HashSet<Uuid>,
    d: &Decoded<'_>,
    at: DateTime<Utc>,
    how: &str,
) {
    let mut was_held = false;
    tickets.update(d.id, |row| {
        let mut row = row.unwrap_or_else(|| empty(d.id, d.envelope.recorded_at));
        if row.held {
            was_held = true;
            row.held = false;
            row.reason = None;
            row.routing_note = None;
            row.left_at = Some(at);
            row.left_as = Some(how.to_owned());
        }
        stamp(row, d)
    });
    if was_held {
        history.retain(|h| h.ticket_id != d.id);
        left.insert(d.id);
    }
}

/// Purges an erased customer's tickets from the inbox: their free texts read
/// `[erased]`, as the sealed texts of those events read once the keys are destroyed
/// (absent ones included: a rebuild reads an absent sealed note as `[erased]` too).
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
        "UPDATE {quoted}.tickets SET reason = $2, routing_note = $2 \
          WHERE customer_id = $1 AND held"
    ))
    .bind(customer)
    .bind(ERASED)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
