//! Rejections of ticket commands.

use chrono::{DateTime, Utc};

use crate::error::{Rejection, RejectionKind, french_datetime};
use crate::values::Department;

/// Why a ticket command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The ticket was never opened.
    #[error("ce ticket n'existe pas")]
    NotFound,
    /// `OpenTicket` on an existing ticket.
    #[error("ce ticket a déjà été ouvert")]
    AlreadyOpened,
    /// Any command on a resolved ticket.
    #[error("le ticket est résolu : ouvrez un nouveau ticket")]
    Resolved,
    /// Routing to the department that already holds the ticket.
    #[error("le ticket est déjà au service {}", department_label(.department))]
    AlreadyRoutedThere {
        /// The department holding the ticket.
        department: Department,
    },
    /// `IdentifyCaller` on a ticket whose caller is known.
    #[error("l'appelant de ce ticket est déjà identifié")]
    AlreadyIdentified,
    /// `RateSatisfaction` on a ticket still being handled.
    #[error("le ticket n'est pas encore résolu : la satisfaction se recueille après la résolution")]
    NotResolved,
    /// `RateSatisfaction` on a ticket already rated.
    #[error("la satisfaction du client a déjà été enregistrée pour ce ticket")]
    AlreadyRated,
    /// `RateSatisfaction` on a notice the platform opened itself: no customer to ask.
    #[error("un avis interne de la plateforme ne reçoit pas de note de satisfaction")]
    NotACustomerContact,
    /// A time earlier than the opening of the ticket.
    #[error("l'horodatage ne peut pas précéder l'ouverture du ticket ({})", french_datetime(.opened_at))]
    BeforeOpening {
        /// When the ticket was opened.
        opened_at: DateTime<Utc>,
    },
}

/// The French name of a department, for messages.
fn department_label(department: &Department) -> &'static str {
    match department {
        Department::CustomerService => "relation client",
        Department::Legal => "juridique",
        Department::Sales => "commercial",
        Department::Billing => "facturation",
    }
}

impl Rejection for TicketError {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotFound => RejectionKind::NotFound,
            Self::AlreadyOpened
            | Self::Resolved
            | Self::AlreadyRoutedThere { .. }
            | Self::AlreadyIdentified
            | Self::NotResolved
            | Self::AlreadyRated
            | Self::NotACustomerContact => RejectionKind::Conflict,
            Self::BeforeOpening { .. } => RejectionKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "ticket_not_found",
            Self::AlreadyOpened => "ticket_already_opened",
            Self::Resolved => "ticket_resolved",
            Self::AlreadyRoutedThere { .. } => "already_routed_there",
            Self::AlreadyIdentified => "caller_already_identified",
            Self::BeforeOpening { .. } => "time_before_opening",
            Self::NotResolved => "ticket_not_resolved",
            Self::AlreadyRated => "satisfaction_already_rated",
            Self::NotACustomerContact => "not_a_customer_contact",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::BeforeOpening { .. } => Some("at"),
            Self::NotFound
            | Self::AlreadyOpened
            | Self::Resolved
            | Self::AlreadyRoutedThere { .. }
            | Self::NotResolved
            | Self::AlreadyRated
            | Self::NotACustomerContact => None,
            Self::AlreadyIdentified => Some("customer_id"),
        }
    }
}
