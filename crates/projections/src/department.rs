//! The departments that have a read model, and the names derived from them.

use std::fmt;
use std::str::FromStr;

use lae_domain::DataCategory;
use serde::{Deserialize, Serialize};

use crate::error::ProjectionError;

/// A department with its own read model (its own schema and its own two roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    /// Contact details and tickets.
    CustomerService,
    /// Contact details, health declarations, contracts and their documents.
    Legal,
    /// Contact details, sales profile, offers, contract status, unpaid flag.
    Sales,
    /// Contact details, mandate and IBAN, invoices and billing history.
    Billing,
    /// Counts only.
    Management,
}

impl Department {
    /// Every department, in a fixed order (also the order of metrics and status).
    pub const ALL: [Department; 5] = [
        Department::CustomerService,
        Department::Legal,
        Department::Sales,
        Department::Billing,
        Department::Management,
    ];

    /// The department's code, which is also the name of its live schema.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerService => "customer_service",
            Self::Legal => "legal",
            Self::Sales => "sales",
            Self::Billing => "billing",
            Self::Management => "management",
        }
    }

    /// The live schema of the read model.
    #[must_use]
    pub fn schema(self) -> &'static str {
        self.as_str()
    }

    /// The role the projector writes with (created by migration 0003).
    #[must_use]
    pub fn writer_role(self) -> String {
        format!("lae_{}_writer", self.as_str())
    }

    /// The role the department's API reads with (created by migration 0003).
    #[must_use]
    pub fn reader_role(self) -> String {
        format!("lae_{}_reader", self.as_str())
    }

    /// The aggregate types whose events the department follows. It receives every
    /// event of these types, including those it does not use, so that it can check
    /// that each aggregate's sequence has no hole.
    #[must_use]
    pub fn aggregate_types(self) -> &'static [&'static str] {
        match self {
            Self::CustomerService => &["Customer", "Ticket"],
            Self::Legal => &["Customer", "Contract", "Ticket"],
            Self::Sales => &["Customer", "Offer", "Contract", "Invoice", "Ticket"],
            Self::Billing => &["Customer", "Invoice", "Contract", "Ticket"],
            Self::Management => &["Contract", "Customer", "Invoice", "Offer", "Ticket"],
        }
    }

    /// The categories of personal data the department may read: its projector is
    /// given the keys of these and no others (and PostgreSQL's grants on `keys.*`
    /// narrow it further, see migration 0007).
    #[must_use]
    pub fn categories(self) -> &'static [DataCategory] {
        match self {
            Self::CustomerService => &[DataCategory::Contact],
            Self::Legal => &[DataCategory::Contact, DataCategory::Health],
            Self::Sales => &[DataCategory::Contact, DataCategory::Profile],
            Self::Billing => &[DataCategory::Contact, DataCategory::Bank],
            Self::Management => &[],
        }
    }

    /// Whether the department follows events of this aggregate type.
    #[must_use]
    pub fn follows(self, aggregate_type: &str) -> bool {
        self.aggregate_types().contains(&aggregate_type)
    }

    /// The position of the department in [`Department::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            Self::CustomerService => 0,
            Self::Legal => 1,
            Self::Sales => 2,
            Self::Billing => 3,
            Self::Management => 4,
        }
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Department {
    type Err = ProjectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == code)
            .ok_or_else(|| ProjectionError::UnknownDepartment(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_department_code() {
        assert_eq!(Department::CustomerService.schema(), "customer_service");
        assert_eq!(
            Department::Sales.writer_role(),
            "lae_sales_writer".to_owned()
        );
        assert_eq!(Department::Legal.reader_role(), "lae_legal_reader");
        for (i, d) in Department::ALL.into_iter().enumerate() {
            assert_eq!(d.index(), i);
            assert_eq!(d.as_str().parse::<Department>().ok(), Some(d));
        }
        assert_eq!(
            "customer-service".parse::<Department>().ok(),
            Some(Department::CustomerService)
        );
        assert!("hr".parse::<Department>().is_err());
    }

    #[test]
    fn each_department_may_read_the_categories_of_its_data() {
        use DataCategory::{Bank, Contact, Health, Profile};
        assert_eq!(Department::CustomerService.categories(), [Contact]);
        assert_eq!(Department::Legal.categories(), [Contact, Health]);
        assert_eq!(Department::Sales.categories(), [Contact, Profile]);
        assert_eq!(Department::Billing.categories(), [Contact, Bank]);
        assert!(Department::Management.categories().is_empty());
        // Health, bank and profile data each reach one department only.
        for category in [Health, Bank, Profile] {
            let readers = Department::ALL
                .into_iter()
                .filter(|d| d.categories().contains(&category))
                .count();
            assert_eq!(readers, 1, "{category:?}");
        }
    }

    #[test]
    fn tickets_are_followed_by_customer_service_the_inboxes_and_management() {
        let following: Vec<_> = Department::ALL
            .into_iter()
            .filter(|d| d.follows("Ticket"))
            .collect();
        // Legal, sales and billing for their inboxes (what is routed to them).
        assert_eq!(following, Department::ALL);
    }
}
