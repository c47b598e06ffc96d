//! The one table of who may call what, and the middleware that enforces it.
//!
//! Every route of the application has exactly one rule here. A matched route without
//! a rule is refused to everyone (fail closed); `tests/api_authz.rs` walks every rule
//! with every role and checks the allowed set exactly. The OpenAPI document is
//! generated from the same table.

use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::token::Claims;
use super::users::{self, Standing};
use super::{Actor, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Any authenticated user.
    Authenticated,
    /// Only these roles.
    Roles(&'static [Role]),
}

impl Access {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Self::Public | Self::Authenticated => true,
            Self::Roles(roles) => roles.contains(&role),
        }
    }
}

/// One route and who may call it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: Method,
    /// The route as axum matches it (`{id}` for path parameters).
    pub path: &'static str,
    pub access: Access,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
}

const fn rule(method: Method, path: &'static str, access: Access, summary: &'static str) -> Rule {
    Rule {
        method,
        path,
        access,
        summary,
    }
}

use Access::{Authenticated, Public, Roles};
use Role::{Admin, Billing, CustomerService, Legal, Sales};

const CUSTOMER_SERVICE: Access = Roles(&[CustomerService]);
const LEGAL: Access = Roles(&[Legal]);
const SALES: Access = Roles(&[Sales]);
const BILLING: Access = Roles(&[Billing]);
const ADMIN: Access = Roles(&[Admin]);
const AUDITOR: Access = Roles(&[Role::Auditor]);

/// Every route of the application.
pub static RULES: &[Rule] = &[
    rule(
        Method::GET,
        "/api/v1/audit/customers/{id}/timeline",
        AUDITOR,
        "A customer's history across aggregates, newest first",
    ),
    rule(
        Method::GET,
        "/api/v1/audit/aggregates/{type}/{id}",
        AUDITOR,
        "An aggregate's state at a version (?version=) or a time (?at=)",
    ),
    rule(
        Method::GET,
        "/api/v1/audit/verify",
        AUDITOR,
        "Verify the hash chains of the whole store",
    ),
    rule(
        Method::GET,
        "/api/v1/audit/export",
        AUDITOR,
        "The history (or ?from=&to=) as NDJSON, streamed",
    ),
    rule(
        Method::GET,
        "/api/v1/audit/access-log",
        AUDITOR,
        "Who read health data or an unmasked IBAN",
    ),
    rule(Method::GET, "/health", Public, "Liveness"),
    rule(
        Method::GET,
        "/ready",
        Public,
        "Readiness (database reachable)",
    ),
    rule(
        Method::GET,
        "/openapi.json",
        Public,
        "This API's OpenAPI 3.1 document",
    ),
    rule(
        Method::GET,
        "/docs",
        Public,
        "Interactive API documentation",
    ),
    rule(
        Method::GET,
        "/metrics",
        Public,
        "Prometheus metrics: relay and projection lag (no personal data)",
    ),
    rule(
        Method::GET,
        "/api/v1/status",
        Authenticated,
        "How far the relay and each read model are behind",
    ),
    rule(
        Method::POST,
        "/api/v1/auth/login",
        Public,
        "Log in: a token and a session cookie",
    ),
    rule(
        Method::POST,
        "/api/v1/auth/logout",
        Authenticated,
        "Log out: revokes all of the user's tokens",
    ),
    rule(
        Method::GET,
        "/api/v1/auth/me",
        Authenticated,
        "The authenticated user",
    ),
    rule(Method::GET, "/api/v1/admin/users", ADMIN, "List users"),
    rule(Method::POST, "/api/v1/admin/users", ADMIN, "Create a user"),
    rule(
        Method::POST,
        "/api/v1/admin/users/{id}/disable",
        ADMIN,
        "Disable a user (revokes their tokens)",
    ),
    rule(
        Method::POST,
        "/api/v1/admin/users/{id}/enable",
        ADMIN,
        "Enable a user",
    ),
    rule(
        Method::POST,
        "/api/v1/admin/users/{id}/password",
        ADMIN,
        "Reset a user's password (revokes their tokens)",
    ),
    rule(
        Method::POST,
        "/api/v1/customers",
        CUSTOMER_SERVICE,
        "Register a customer",
    ),
    rule(
        Method::PUT,
        "/api/v1/customers/{id}/contact-details",
        CUSTOMER_SERVICE,
        "Change contact details",
    ),
    rule(
        Method::PUT,
        "/api/v1/customers/{id}/health-declaration",
        LEGAL,
        "Record a health declaration",
    ),
    rule(
        Method::POST,
        "/api/v1/customers/{id}/erasure",
        LEGAL,
        "Erase the customer's personal data (GDPR art. 17): keys destroyed, facts kept",
    ),
    rule(
        Method::PUT,
        "/api/v1/customers/{id}/sales-profile",
        SALES,
        "Set the sales profile",
    ),
    rule(
        Method::POST,
        "/api/v1/customers/{id}/mandate",
        BILLING,
        "Sign a SEPA mandate",
    ),
    rule(
        Method::PUT,
        "/api/v1/customers/{id}/mandate",
        BILLING,
        "Amend the SEPA mandate",
    ),
    rule(
        Method::POST,
        "/api/v1/customers/{id}/mandate/revocation",
        BILLING,
        "Revoke the SEPA mandate",
    ),
    rule(Method::POST, "/api/v1/offers", SALES, "Propose an offer"),
    rule(
        Method::POST,
        "/api/v1/offers/{id}/acceptance",
        SALES,
        "Accept an offer (requests the contract)",
    ),
    rule(
        Method::POST,
        "/api/v1/offers/{id}/decline",
        SALES,
        "Decline an offer",
    ),
    rule(
        Method::POST,
        "/api/v1/offers/{id}/withdrawal",
        SALES,
        "Withdraw an offer",
    ),
    rule(
        Method::POST,
        "/api/v1/contracts",
        LEGAL,
        "Request a contract",
    ),
    rule(
        Method::POST,
        "/api/v1/contracts/{id}/signature",
        LEGAL,
        "Sign a contract with its document",
    ),
    rule(
        Method::POST,
        "/api/v1/contracts/{id}/termination",
        LEGAL,
        "Terminate a contract",
    ),
    rule(
        Method::GET,
        "/api/v1/contracts/documents/{sha256}",
        LEGAL,
        "A signed contract document",
    ),
    rule(
        Method::POST,
        "/api/v1/invoices",
        BILLING,
        "Issue an invoice",
    ),
    rule(
        Method::POST,
        "/api/v1/invoices/{id}/payment",
        BILLING,
        "Record a payment",
    ),
    rule(
        Method::POST,
        "/api/v1/invoices/{id}/payment-rejection",
        BILLING,
        "Record a payment rejection",
    ),
    rule(
        Method::POST,
        "/api/v1/invoices/{id}/cancellation",
        BILLING,
        "Cancel an invoice",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets",
        CUSTOMER_SERVICE,
        "Log a call or mail as a ticket",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/actions",
        CUSTOMER_SERVICE,
        "Record an operator action",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/routing",
        CUSTOMER_SERVICE,
        "Route a ticket to a department",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/resolution",
        CUSTOMER_SERVICE,
        "Resolve a ticket",
    ),
];

/// The rule of a matched route, if it has one.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method == *method && r.path == path)
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lae_session";

/// How long a user's standing (token generation, disabled) is trusted before it is
/// read again: the longest a revoked token can still be used on another instance.
pub const STANDING_TTL: Duration = Duration::from_secs(2);

/// Authenticates and authorizes every request against [`RULES`].
pub async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let Some(rule) = rule_for(req.method(), &path) else {
        // A route that exists for other methods answers 405 as usual; a route with no
        // rule at all is refused to everyone.
        if RULES.iter().any(|r| r.path == path) {
            return next.run(req).await;
        }
        tracing::error!(%path, "route without an authorization rule");
        return forbidden();
    };
    if rule.access == Access::Public {
        return next.run(req).await;
    }
    let actor = match authenticate(&state, req.headers()).await {
        Ok(actor) => actor,
        Err(problem) => return problem.into_response(),
    };
    if !rule.access.allows(actor.role) {
        return forbidden();
    }
    req.extensions_mut().insert(actor);
    next.run(req).await
}

fn forbidden() -> Response {
    ApiError::Forbidden.into_response()
}

/// The caller named by the request's token (bearer header first, then cookie).
pub async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Actor, ApiError> {
    let token = bearer(headers).or_else(|| cookie(headers, SESSION_COOKIE));
    let Some(token) = token else {
        return Err(ApiError::Unauthenticated {
            detail: "Authentification requise : connectez-vous (POST /api/v1/auth/login).",
        });
    };
    let claims = state
        .auth
        .keys
        .verify(token)
        .ok_or(ApiError::Unauthenticated {
            detail: "Jeton invalide ou expiré : reconnectez-vous.",
        })?;
    let standing = standing(state, &claims).await?;
    if standing.disabled || standing.token_generation != claims.generation {
        return Err(ApiError::Unauthenticated {
            detail: "Jeton révoqué : reconnectez-vous.",
        });
    }
    Ok(Actor {
        user_id: claims.sub,
        username: claims.name,
        role: claims.role,
    })
}

async fn standing(state: &AppState, claims: &Claims) -> Result<Standing, ApiError> {
    if let Some(standing) = state.auth.standing_cache.get(claims.sub) {
        return Ok(standing);
    }
    let standing =
        users::standing(&state.pool, claims.sub)
            .await?
            .ok_or(ApiError::Unauthenticated {
                detail: "Utilisateur inconnu : reconnectez-vous.",
            })?;
    state.auth.standing_cache.put(claims.sub, standing);
    Ok(standing)
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Recently read standings, so that a request costs no extra round trip.
#[derive(Debug)]
pub struct StandingCache(std::sync::Mutex<lru::LruCache<uuid::Uuid, (Instant, Standing)>>);

impl Default for StandingCache {
    fn default() -> Self {
        Self(std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::MIN.saturating_add(9_999),
        )))
    }
}

impl StandingCache {
    fn get(&self, user: uuid::Uuid) -> Option<Standing> {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.get(&user) {
            Some((at, standing)) if at.elapsed() < STANDING_TTL => Some(*standing),
            _ => None,
        }
    }

    fn put(&self, user: uuid::Uuid, standing: Standing) {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.put(user, (Instant::now(), standing));
    }

    /// Forgets a user at once (this instance revoked their tokens).
    pub fn forget(&self, user: uuid::Uuid) {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.pop(&user);
    }
}

/// The authenticated caller, as the middleware established it.
impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or(ApiError::Unauthenticated {
                detail: "Authentification requise.",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_unique() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} twice",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn admin_and_management_touch_no_customer_data() {
        for r in RULES.iter().filter(|r| {
            r.path.starts_with("/api/v1/")
                && !r.path.starts_with("/api/v1/auth")
                && !r.path.starts_with("/api/v1/admin")
                && r.path != "/api/v1/status"
                && !r.path.starts_with("/api/v1/audit")
        }) {
            assert!(
                !r.access.allows(Role::Admin) || r.access == Access::Authenticated,
                "{}",
                r.path
            );
            assert!(!r.access.allows(Role::Management), "{}", r.path);
            assert!(!r.access.allows(Role::Auditor), "{}", r.path);
        }
    }

    #[test]
    fn cookies_and_bearers_are_read() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; lae_session=tok; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().expect("header"));
        assert_eq!(bearer(&headers), Some("abc"));
    }
}
