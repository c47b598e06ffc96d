//! Who may do what: users and roles, passwords, tokens, and the one table of rules
//! every route is checked against.
//!
//! A request is authenticated by a short-lived signed token (JWT, HS256 pinned,
//! `aud`/`iss`/`exp` checked), sent as `Authorization: Bearer …` by API clients or as
//! the `lae_session` cookie by browsers. Each token carries its user's token
//! generation: logout, disabling a user and resetting a password bump it, which
//! revokes every token issued before.

pub mod password;
pub mod rules;
pub mod session;
pub mod token;
pub mod users;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user's role: a department, or one of the roles outside the departments.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CustomerService,
    Legal,
    Sales,
    Billing,
    /// Reads the event history, read-only.
    Auditor,
    /// Manages users and roles; no access to customer data.
    Admin,
    /// KPI figures only.
    Management,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::CustomerService,
        Role::Legal,
        Role::Sales,
        Role::Billing,
        Role::Auditor,
        Role::Admin,
        Role::Management,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerService => "customer_service",
            Self::Legal => "legal",
            Self::Sales => "sales",
            Self::Billing => "billing",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
            Self::Management => "management",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name a role.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown role {0:?} (expected one of customer_service, legal, sales, billing, auditor, admin, management)"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
}
