//! The `Ticket` aggregate: the log of one customer-service call or mail,
//! its actions, its hand-overs between departments and its resolution.
//!
//! The aggregate id is the [`TicketId`](crate::values::TicketId).

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::TicketCommand;
pub use error::TicketError;
#[cfg(test)]
pub(crate) use event::build_examples;
pub use event::{TicketEvent, example_events};

use crate::values::{Channel, CustomerId, Department, Reason, Satisfaction};

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Being handled.
    Open,
    /// Closed; nothing more can be recorded.
    Resolved,
}

/// How a ticket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketOpening {
    /// The customer, if identified.
    pub customer_id: Option<CustomerId>,
    /// How the customer got in touch.
    pub channel: Channel,
    /// When the contact happened.
    pub opened_at: DateTime<Utc>,
}

/// The state of one ticket, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    opening: Option<TicketOpening>,
    /// Why the customer got in touch: handed over with the ticket when it is routed,
    /// so that the receiving department reads it from the routing event alone.
    reason: Option<Reason>,
    department: Department,
    action_count: usize,
    resolved_at: Option<DateTime<Utc>>,
    satisfaction: Option<Satisfaction>,
}

impl Ticket {
    /// Where the ticket stands; `None` until it is opened.
    #[must_use]
    pub fn status(&self) -> Option<TicketStatus> {
        match (&self.opening, self.resolved_at) {
            (None, _) => None,
            (Some(_), None) => Some(TicketStatus::Open),
            (Some(_), Some(_)) => Some(TicketStatus::Resolved),
        }
    }

    /// How the ticket was opened, once opened.
    #[must_use]
    pub fn opening(&self) -> Option<&TicketOpening> {
        self.opening.as_ref()
    }

    /// The department the ticket sits with; a new ticket sits with customer service.
    #[must_use]
    pub fn department(&self) -> Department {
        self.department
    }

    /// How many actions were recorded.
    #[must_use]
    pub fn action_count(&self) -> usize {
        self.action_count
    }

    /// When the ticket was resolved, if it was.
    #[must_use]
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.resolved_at
    }

    /// The customer's satisfaction, once rated.
    #[must_use]
    pub fn satisfaction(&self) -> Option<Satisfaction> {
        self.satisfaction
    }

    /// The opening of a ticket still being handled, after checking that `at`
    /// does not precede it.
    fn open_at(&self, at: DateTime<Utc>) -> Result<&TicketOpening, TicketError> {
        let Some(opening) = &self.opening else {
            return Err(TicketError::NotFound);
        };
        if self.resolved_at.is_some() {
            return Err(TicketError::Resolved);
        }
        if at < opening.opened_at {
            return Err(TicketError::BeforeOpening {
                opened_at: opening.opened_at,
            });
        }
        Ok(opening)
    }

    /// Decides which events a command produces, without changing the state.
    fn decide(&self, command: TicketCommand) -> Result<Vec<TicketEvent>, TicketError> {
        match command {
            TicketCommand::OpenTicket {
                channel,
                reason,
                opened_at,
                operator,
                customer_id,
                category,
            } => {
                if self.opening.is_some() {
                    return Err(TicketError::AlreadyOpened);
                }
                Ok(vec![TicketEvent::TicketOpened {
                    customer_id,
                    channel,
                    reason,
                    opened_at,
                    operator,
                    category,
                }])
            }
            TicketCommand::RecordAction {
                action,
                at,
                operator,
            } => {
                let opening = self.open_at(at)?;
                Ok(vec![TicketEvent::ActionRecorded {
                    customer_id: opening.customer_id,
                    action,
                    at,
                    operator,
                }])
            }
            TicketCommand::RouteTicket {
                department,
                at,
                note,
            } => {
                let opening = self.open_at(at)?;
                if department == self.department {
                    return Err(TicketError::AlreadyRoutedThere { department });
                }
                Ok(vec![TicketEvent::TicketRouted {
                    customer_id: opening.customer_id,
                    previous_department: self.department,
                    department,
                    at,
                    note,
                    reason: self.reason.clone(),
                    channel: Some(opening.channel),
                    opened_at: Some(opening.opened_at),
                }])
            }
            TicketCommand::IdentifyCaller { customer_id, at } => {
                let opening = self.open_at(at)?;
                if opening.customer_id.is_some() {
                    return Err(TicketError::AlreadyIdentified);
                }
                Ok(vec![TicketEvent::CallerIdentified {
                    customer_id: Some(customer_id),
                    at,
                }])
            }
            TicketCommand::ResolveTicket { resolution, at } => {
                let opening = self.open_at(at)?;
                Ok(vec![TicketEvent::TicketResolved {
                    customer_id: opening.customer_id,
                    resolution,
                    at,
                }])
            }
            TicketCommand::RateSatisfaction { score, at } => {
                let Some(opening) = &self.opening else {
                    return Err(TicketError::NotFound);
                };
                let Some(resolved_at) = self.resolved_at else {
                    return Err(TicketError::NotResolved);
                };
                if opening.channel == Channel::Internal {
                    return Err(TicketError::NotACustomerContact);
                }
                if self.satisfaction.is_some() {
                    return Err(TicketError::AlreadyRated);
                }
                Ok(vec![TicketEvent::SatisfactionRated {
                    customer_id: opening.customer_id,
                    score,
                    channel: opening.channel,
                    // A rating is given after the resolution: a clock running late
                    // cannot date it before.
                    at: at.max(resolved_at),
                }])
            }
        }
    }
}

impl Aggregate for Ticket {
    const TYPE: &'static str = "Ticket";
    type Command = TicketCommand;
    type Event = TicketEvent;
    type Error = TicketError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            TicketEvent::TicketOpened {
                customer_id,
                channel,
                reason,
                opened_at,
                ..
            } => {
                self.reason = Some(reason);
                self.opening = Some(TicketOpening {
                    customer_id,
                    channel,
                    opened_at,
                });
                self.department = Department::CustomerService;
            }
            TicketEvent::ActionRecorded { .. } => self.action_count += 1,
            TicketEvent::CallerIdentified { customer_id, .. } => {
                if let Some(opening) = &mut self.opening {
                    opening.customer_id = customer_id;
                }
            }
            TicketEvent::TicketRouted { department, .. } => self.department = department,
            TicketEvent::TicketResolved { at, .. } => self.resolved_at = Some(at),
            TicketEvent::SatisfactionRated { score, .. } => self.satisfaction = Some(score),
        }
    }
}
