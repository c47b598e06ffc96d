//! Commands of the `Ticket` aggregate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::{
    ActionText, Channel, CustomerId, Department, Note, OperatorName, Reason, ReasonCode,
    Satisfaction,
};

/// What customer service can do with a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command")]
pub enum TicketCommand {
    /// Logs an incoming call or mail.
    OpenTicket {
        /// How the customer got in touch.
        channel: Channel,
        /// Why the customer got in touch.
        reason: Reason,
        /// When the contact happened.
        opened_at: DateTime<Utc>,
        /// Who took the call or mail.
        operator: OperatorName,
        /// The customer, if identified.
        customer_id: Option<CustomerId>,
        /// The code of the reason picked from the list, if one was.
        category: Option<ReasonCode>,
    },
    /// Logs something done for the customer.
    RecordAction {
        /// What was done.
        action: ActionText,
        /// When.
        at: DateTime<Utc>,
        /// Who did it.
        operator: OperatorName,
    },
    /// Hands the ticket over to another department.
    RouteTicket {
        /// The department that takes the ticket over.
        department: Department,
        /// When.
        at: DateTime<Utc>,
        /// A note for the receiving department, if any.
        note: Option<Note>,
    },
    /// Links the ticket of a caller who was not identified when it was opened (a
    /// prospect, an unknown mail) to the customer they turned out to be.
    IdentifyCaller {
        /// The customer.
        customer_id: CustomerId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Closes the ticket.
    ResolveTicket {
        /// How the request was resolved.
        resolution: Note,
        /// When.
        at: DateTime<Utc>,
    },
    /// Records the customer's satisfaction with a resolved ticket, once.
    RateSatisfaction {
        /// Satisfied or not.
        score: Satisfaction,
        /// When the rating was given.
        at: DateTime<Utc>,
    },
}
