//! Ticket commands, from a `service_client.appels` row.
//!
//! A legacy call is over: it is imported as a ticket opened at the call's time, with
//! the legacy `actions` recorded as one action (the text is kept whole rather than
//! split on `;`, which is punctuation as often as a separator), and resolved at the
//! same time with a fixed resolution saying where it comes from. Leaving 150,000
//! historical calls open would flood customer service's queue.

use chrono::{DateTime, Utc};
use lae_domain::ticket::{Ticket, TicketCommand};
use lae_domain::{ActionText, Channel, CustomerId, Note, OperatorName, Reason, ReasonCode};

/// The resolution of every imported call.
pub const RESOLUTION: &str =
    "Appel clos dans l'ancien outil du service client (reprise des données)";

/// What a `service_client.appels` row describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCall {
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub reason: Reason,
    pub at: DateTime<Utc>,
    pub operator: OperatorName,
    pub action: Option<ActionText>,
}

/// The reason code of a legacy call: the legacy application had no list of reasons,
/// only a free "motif"; one that starts with "Réclamation" is a complaint (so that
/// management counts the complaints of the imported history), any other has no code.
fn legacy_category(reason: &Reason) -> Option<ReasonCode> {
    let first = reason.as_str().split_whitespace().next()?.to_lowercase();
    matches!(first.as_str(), "réclamation" | "reclamation")
        .then(|| ReasonCode::parse(ReasonCode::COMPLAINT).ok())
        .flatten()
}

/// The commands that bring `current` to what the legacy row describes.
pub fn commands(current: &Ticket, call: &LegacyCall) -> Result<Vec<TicketCommand>, String> {
    let resolve = || -> Result<TicketCommand, String> {
        Ok(TicketCommand::ResolveTicket {
            resolution: Note::parse(RESOLUTION).map_err(|e| e.to_string())?,
            at: call.at,
        })
    };
    let Some(opening) = current.opening() else {
        let mut out = vec![TicketCommand::OpenTicket {
            channel: call.channel,
            reason: call.reason.clone(),
            opened_at: call.at,
            operator: call.operator.clone(),
            customer_id: Some(call.customer_id),
            category: legacy_category(&call.reason),
        }];
        if let Some(action) = &call.action {
            out.push(TicketCommand::RecordAction {
                action: action.clone(),
                at: call.at,
                operator: call.operator.clone(),
            });
        }
        out.push(resolve()?);
        return Ok(out);
    };
    let mut changed = Vec::new();
    if opening.customer_id != Some(call.customer_id) {
        changed.push("client_id");
    }
    if opening.channel != call.channel {
        changed.push("canal");
    }
    if opening.opened_at != call.at {
        changed.push("date_appel");
    }
    if !changed.is_empty() {
        return Err(format!(
            "changed in the legacy file since it was imported ({}): a logged call cannot change",
            changed.join(", ")
        ));
    }
    // Imported already. Whatever happened to it on the platform since is the platform's.
    Ok(vec![])
}
