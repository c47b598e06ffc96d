//! Which departments one `lae serve` serves: `--department legal --department sales`
//! (or `LAE_DEPARTMENTS=legal,sales`), everything by default.
//!
//! LAE rolls the departments out one after the other, so each can run in processes of
//! its own. A limited instance serves the routes and desks of its departments only,
//! and runs only their projectors. Every instance keeps what every user needs: login
//! and logout, the home page, health, readiness and metrics, password changes and the
//! administrators' user management. A route belongs to the departments of the roles
//! its rule admits (`auth::rules`), so the one table of who may call what is also the
//! table of where it is served: a ticket action, open to customer service, legal,
//! sales and billing, is served by each of their instances.
//!
//! A route an instance does not serve answers 404 `route_not_found`, exactly as an
//! address that does not exist: a load balancer routes by path prefix
//! (`/api/v1/legal/…`, `/desk/legal/…`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use lae_projections::Department;

use crate::auth::Role;
use crate::auth::rules::Access;

/// A part of the platform an instance can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    CustomerService,
    Legal,
    Sales,
    Billing,
    Management,
    /// The auditors' routes and desk.
    Audit,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::CustomerService,
        Part::Legal,
        Part::Sales,
        Part::Billing,
        Part::Management,
        Part::Audit,
    ];

    /// The name on the command line and in `LAE_DEPARTMENTS`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerService => "customer-service",
            Self::Legal => "legal",
            Self::Sales => "sales",
            Self::Billing => "billing",
            Self::Management => "management",
            Self::Audit => "audit",
        }
    }

    /// The part a role works in; `None` for the administrators, whose user management
    /// is on every instance.
    #[must_use]
    pub fn of(role: Role) -> Option<Self> {
        match role {
            Role::CustomerService => Some(Self::CustomerService),
            Role::Legal => Some(Self::Legal),
            Role::Sales => Some(Self::Sales),
            Role::Billing => Some(Self::Billing),
            Role::Management => Some(Self::Management),
            Role::Auditor => Some(Self::Audit),
            Role::Admin => None,
        }
    }

    /// The read model the part's projector maintains (the auditors read the store).
    #[must_use]
    pub fn read_model(self) -> Option<Department> {
        match self {
            Self::CustomerService => Some(Department::CustomerService),
            Self::Legal => Some(Department::Legal),
            Self::Sales => Some(Department::Sales),
            Self::Billing => Some(Department::Billing),
            Self::Management => Some(Department::Management),
            Self::Audit => None,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Part::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown department {0:?}: expected customer-service, legal, sales, billing, management or audit"
)]
pub struct UnknownPart(pub String);

impl FromStr for Part {
    type Err = UnknownPart;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name || p.as_str().replace('-', "_") == name)
            .ok_or_else(|| UnknownPart(name.to_owned()))
    }
}

/// The parts one instance serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// `None`: everything (the default, one process for the whole platform).
    only: Option<BTreeSet<Part>>,
}

impl Deployment {
    /// Every department (the default).
    #[must_use]
    pub fn everything() -> Self {
        Self { only: None }
    }

    /// These parts only; no part at all means everything.
    #[must_use]
    pub fn only(parts: impl IntoIterator<Item = Part>) -> Self {
        let parts: BTreeSet<Part> = parts.into_iter().collect();
        Self {
            only: (!parts.is_empty()).then_some(parts),
        }
    }

    /// A comma-separated list (`LAE_DEPARTMENTS`); empty means everything.
    pub fn parse_list(list: &str) -> Result<Self, UnknownPart> {
        let parts = list
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Part::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::only(parts))
    }

    #[must_use]
    pub fn is_everything(&self) -> bool {
        self.only.is_none()
    }

    /// Whether this instance serves `part`.
    #[must_use]
    pub fn includes(&self, part: Part) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(&part))
    }

    /// Whether this instance serves a route open to `access`: routes open to anyone or
    /// to any authenticated user (login, home, health, password) and the
    /// administrators' routes everywhere; a department's routes where that department
    /// is served.
    #[must_use]
    pub fn serves(&self, access: Access) -> bool {
        match access {
            Access::Public | Access::Authenticated => true,
            Access::Roles(roles) => roles
                .iter()
                .any(|role| Part::of(*role).is_none_or(|part| self.includes(part))),
        }
    }

    /// The read models whose projectors this instance runs, in [`Department::ALL`]'s
    /// order (which [`Part::ALL`] follows).
    #[must_use]
    pub fn read_models(&self) -> Vec<Department> {
        Part::ALL
            .into_iter()
            .filter(|p| self.includes(*p))
            .filter_map(Part::read_model)
            .collect()
    }

    /// The parts, for logs and `/health` (`["all"]` for everything).
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        match &self.only {
            None => vec!["all"],
            Some(only) => only.iter().map(|p| p.as_str()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rules::RULES;

    #[test]
    fn names_parse_with_dashes_or_underscores_and_unknown_ones_are_named() {
        assert_eq!("customer-service".parse(), Ok(Part::CustomerService));
        assert_eq!(" customer_service ".parse(), Ok(Part::CustomerService));
        assert_eq!(
            "juridique".parse::<Part>(),
            Err(UnknownPart("juridique".into()))
        );
        assert_eq!(
            Deployment::parse_list("legal, sales"),
            Ok(Deployment::only([Part::Sales, Part::Legal]))
        );
        assert!(Deployment::parse_list(" ").expect("empty").is_everything());
        assert!(Deployment::parse_list("legal,x").is_err());
    }

    #[test]
    fn a_legal_instance_serves_legal_and_shared_routes_only() {
        let legal = Deployment::only([Part::Legal]);
        let served = |path: &str| {
            let rules: Vec<_> = RULES.iter().filter(|r| r.path == path).collect();
            assert!(!rules.is_empty(), "no route {path}");
            rules.iter().all(|r| legal.serves(r.access))
        };
        assert!(served("/api/v1/legal/customers"));
        assert!(served("/desk/legal"));
        assert!(
            served("/api/v1/tickets/{id}/actions"),
            "legal acts on its inbox"
        );
        assert!(served("/api/v1/auth/login"));
        assert!(served("/api/v1/admin/users"));
        assert!(!served("/api/v1/customer-service/customers/{id}"));
        assert!(!served("/desk/customer-service"));
        assert!(!served("/api/v1/billing/invoices/unpaid"));
        assert!(!served("/api/v1/audit/verify"));
        assert_eq!(legal.read_models(), vec![Department::Legal]);
        assert!(Deployment::only([Part::Audit]).read_models().is_empty());
        assert_eq!(Deployment::everything().read_models(), Department::ALL);
    }

    #[test]
    fn everything_serves_every_route() {
        let all = Deployment::everything();
        assert!(RULES.iter().all(|r| all.serves(r.access)));
    }

    #[test]
    fn every_department_route_is_served_by_some_part_alone() {
        for rule in RULES {
            assert!(
                Part::ALL
                    .into_iter()
                    .any(|p| Deployment::only([p]).serves(rule.access)),
                "{} {} is served by no department",
                rule.method,
                rule.path
            );
        }
    }
}
