//! Events of the `Ticket` aggregate, their privacy classification and examples.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::examples::{CUSTOMER, ExampleError, at};
use crate::privacy::{Classified, DataCategory, PersonalField, personal};
use crate::values::{
    ActionText, Channel, CustomerId, Department, Note, OperatorName, Reason, ReasonCode,
    Satisfaction,
};

/// What happened to a customer-service ticket. The aggregate id is the ticket id.
///
/// Every event repeats the ticket's `customer_id` (when the caller was
/// identified): the free texts are personal data encrypted with the
/// customer's key, and the store must find that key from the event alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum TicketEvent {
    /// A call or mail was logged.
    TicketOpened {
        /// The customer, if identified.
        customer_id: Option<CustomerId>,
        /// How the customer got in touch.
        channel: Channel,
        /// Why the customer got in touch.
        reason: Reason,
        /// When the contact happened.
        opened_at: DateTime<Utc>,
        /// Who took the call or mail.
        operator: OperatorName,
        /// The code of the reason picked from the list (`complaint`, ...), not personal:
        /// management counts tickets by it. Absent before version 1.1 of this event and
        /// from tickets opened with a free reason only (read as `None`).
        #[serde(default)]
        category: Option<ReasonCode>,
    },
    /// Something was done for the customer.
    ActionRecorded {
        /// The ticket's customer, if identified.
        customer_id: Option<CustomerId>,
        /// What was done.
        action: ActionText,
        /// When.
        at: DateTime<Utc>,
        /// Who did it.
        operator: OperatorName,
    },
    /// The ticket was handed over to another department.
    TicketRouted {
        /// The ticket's customer, if identified.
        customer_id: Option<CustomerId>,
        /// The department that held the ticket until now.
        previous_department: Department,
        /// The department that holds the ticket from now on.
        department: Department,
        /// When.
        at: DateTime<Utc>,
        /// A note for the receiving department, if any.
        note: Option<Note>,
        /// What the receiving department needs to take the ticket over without reading
        /// anybody else's records: why the customer got in touch, how and when.
        /// Absent from tickets routed before version 1.1 of this event (read as `None`).
        #[serde(default)]
        reason: Option<Reason>,
        #[serde(default)]
        channel: Option<Channel>,
        #[serde(default)]
        opened_at: Option<DateTime<Utc>>,
    },
    /// The caller of a ticket opened without a customer was identified: the ticket and
    /// its later events belong to that customer.
    CallerIdentified {
        /// The customer the caller turned out to be.
        customer_id: Option<CustomerId>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The ticket was closed.
    TicketResolved {
        /// The ticket's customer, if identified.
        customer_id: Option<CustomerId>,
        /// How the request was resolved.
        resolution: Note,
        /// When.
        at: DateTime<Utc>,
    },
    /// The customer said how satisfied they were with the handling of a resolved ticket
    /// (asked after the resolution, as Zendesk's satisfaction survey does).
    SatisfactionRated {
        /// The ticket's customer, if identified.
        customer_id: Option<CustomerId>,
        /// Satisfied or not.
        score: Satisfaction,
        /// How the customer had got in touch, repeated so that satisfaction is
        /// counted per channel from this event alone.
        channel: Channel,
        /// When the rating was given.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for TicketEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TicketOpened { .. } => "TicketOpened",
            Self::ActionRecorded { .. } => "ActionRecorded",
            Self::TicketRouted { .. } => "TicketRouted",
            Self::CallerIdentified { .. } => "CallerIdentified",
            Self::TicketResolved { .. } => "TicketResolved",
            Self::SatisfactionRated { .. } => "SatisfactionRated",
        }
        .to_owned()
    }

    /// `TicketRouted` is at 1.1: it hands over the reason, channel and date of the
    /// contact to the receiving department. A 1.0 payload (without them) reads as 1.1
    /// with the hand-over absent: its new fields default to `None`. `TicketOpened` is
    /// at 1.1: it carries the reason's code; a 1.0 payload reads with no code.
    fn event_version(&self) -> String {
        match self {
            Self::TicketRouted { .. } | Self::TicketOpened { .. } => "1.1",
            _ => "1.0",
        }
        .to_owned()
    }
}

// Free texts written during a call routinely quote the customer's situation
// ("son mari est décédé…"), so they are personal data. Operator names are the
// employees' own data, not the customer's, and stay clear.
const OPENED: &[PersonalField] = &[personal("reason", DataCategory::Contact)];
const ACTION: &[PersonalField] = &[personal("action", DataCategory::Contact)];
const ROUTED: &[PersonalField] = &[
    personal("note", DataCategory::Contact),
    personal("reason", DataCategory::Contact),
];
const RESOLVED: &[PersonalField] = &[personal("resolution", DataCategory::Contact)];

impl Classified for TicketEvent {
    fn subject_field(event_type: &str) -> Option<&'static str> {
        match event_type {
            "TicketOpened" | "ActionRecorded" | "TicketRouted" | "CallerIdentified"
            | "TicketResolved" | "SatisfactionRated" => Some("customer_id"),
            _ => None,
        }
    }

    fn personal_fields(event_type: &str) -> &'static [PersonalField] {
        match event_type {
            "TicketOpened" => OPENED,
            "ActionRecorded" => ACTION,
            "TicketRouted" => ROUTED,
            "TicketResolved" => RESOLVED,
            _ => &[],
        }
    }
}

/// One realistic example of every ticket event, for the event catalog.
#[must_use]
pub fn example_events() -> Vec<TicketEvent> {
    build_examples().unwrap_or_default()
}

pub(crate) fn build_examples() -> Result<Vec<TicketEvent>, ExampleError> {
    let customer_id = Some(CustomerId::new(CUSTOMER));
    let operator: OperatorName = "Karim Benali".parse()?;
    Ok(vec![
        TicketEvent::TicketOpened {
            customer_id,
            channel: Channel::Phone,
            reason: "Demande de changement de RIB pour le prélèvement".parse()?,
            opened_at: at(2024, 9, 2, 9, 14)?,
            operator: operator.clone(),
            category: Some(ReasonCode::parse("payment_issue")?),
        },
        TicketEvent::ActionRecorded {
            customer_id,
            action: "Formulaire de mandat SEPA envoyé par e-mail".parse()?,
            at: at(2024, 9, 2, 9, 20)?,
            operator,
        },
        TicketEvent::TicketRouted {
            customer_id,
            previous_department: Department::CustomerService,
            department: Department::Billing,
            at: at(2024, 9, 2, 9, 25)?,
            note: Some("Mandat signé reçu, à enregistrer".parse()?),
            reason: Some("Demande de changement de RIB pour le prélèvement".parse()?),
            channel: Some(Channel::Phone),
            opened_at: Some(at(2024, 9, 2, 9, 14)?),
        },
        TicketEvent::CallerIdentified {
            customer_id,
            at: at(2024, 9, 2, 9, 30)?,
        },
        TicketEvent::TicketResolved {
            customer_id,
            resolution: "Mandat modifié, nouveau RIB pris en compte".parse()?,
            at: at(2024, 9, 3, 14, 5)?,
        },
        TicketEvent::SatisfactionRated {
            customer_id,
            score: Satisfaction::Good,
            channel: Channel::Phone,
            at: at(2024, 9, 4, 10, 0)?,
        },
    ])
}
