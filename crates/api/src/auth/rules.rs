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

/// What a route answers: JSON for programs, or an HTML page of a desk (`crates/web`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// JSON (`application/problem+json` on error); in the OpenAPI document.
    Api,
    /// An HTML page (refusals are French pages); not in the OpenAPI document.
    Page,
}

/// One route and who may call it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: Method,
    /// The route as axum matches it (`{id}` for path parameters).
    pub path: &'static str,
    pub access: Access,
    /// One line for the OpenAPI document (or, for a page, what it is for).
    pub summary: &'static str,
    pub surface: Surface,
}

impl Rule {
    pub fn is_page(&self) -> bool {
        self.surface == Surface::Page
    }
}

const fn rule(method: Method, path: &'static str, access: Access, summary: &'static str) -> Rule {
    Rule {
        method,
        path,
        access,
        summary,
        surface: Surface::Api,
    }
}

/// A desk page (served by `crates/web`, from the same read models and commands).
const fn page(method: Method, path: &'static str, access: Access, summary: &'static str) -> Rule {
    Rule {
        method,
        path,
        access,
        summary,
        surface: Surface::Page,
    }
}

use Access::{Authenticated, Public, Roles};
use Role::{Admin, Billing, CustomerService, Legal, Sales};

const CUSTOMER_SERVICE: Access = Roles(&[CustomerService]);
/// Customer service on any ticket; legal, sales and billing on those in their inbox
/// (checked by the handler, `routes::tickets::require_holder`).
const TICKET_HOLDERS: Access = Roles(&[CustomerService, Legal, Sales, Billing]);
const LEGAL: Access = Roles(&[Legal]);
const SALES: Access = Roles(&[Sales]);
const BILLING: Access = Roles(&[Billing]);
const ADMIN: Access = Roles(&[Admin]);
const AUDITOR: Access = Roles(&[Role::Auditor]);
const MANAGEMENT: Access = Roles(&[Role::Management]);

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
    // Authenticated by Zendesk's signature, not by a user token (routes::zendesk).
    rule(
        Method::POST,
        "/api/v1/integrations/zendesk/webhook",
        Public,
        "Zendesk event webhooks (signed by Zendesk; 404 unless LAE_ZENDESK_WEBHOOK_SECRET is set)",
    ),
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
    rule(
        Method::POST,
        "/api/v1/auth/password",
        Authenticated,
        "Change one's own password (ends the other sessions; a new token)",
    ),
    rule(Method::GET, "/api/v1/admin/users", ADMIN, "List users"),
    rule(
        Method::POST,
        "/api/v1/admin/users",
        ADMIN,
        "Create a user (a generated initial password, answered once, unless one is given)",
    ),
    rule(
        Method::GET,
        "/api/v1/admin/users/{id}",
        ADMIN,
        "A user and the history of their account",
    ),
    rule(
        Method::POST,
        "/api/v1/admin/users/{id}/role",
        ADMIN,
        "Change a user's role (revokes their tokens; never the last active admin)",
    ),
    rule(
        Method::POST,
        "/api/v1/admin/users/{id}/disable",
        ADMIN,
        "Disable a user (revokes their tokens; never the last active admin)",
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
        "Reset a user's password: a generated one, answered once (revokes their tokens)",
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
        "A signed contract document by digest (?purpose= required; written to the access log)",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/contracts/{id}/document",
        LEGAL,
        "A contract's signed document (?purpose= required; written to the access log)",
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
        "/api/v1/sales/invoice-requests",
        SALES,
        "Ask billing for a one-off invoice (amount, label, optional contract)",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/invoice-requests",
        BILLING,
        "Invoice requests from sales awaiting billing's decision, oldest first",
    ),
    rule(
        Method::POST,
        "/api/v1/billing/invoice-requests/{id}/issue",
        BILLING,
        "Issue a requested invoice, for the requested amount",
    ),
    rule(
        Method::POST,
        "/api/v1/billing/invoice-requests/{id}/refuse",
        BILLING,
        "Refuse a requested invoice, with the reason sales is told",
    ),
    rule(
        Method::POST,
        "/api/v1/billing/collections",
        BILLING,
        "Issue a month's invoices for the contracts in force and prepare their SEPA Direct Debit file",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/collections/{date}/file",
        BILLING,
        "A collection's SEPA Direct Debit file (pain.008.001.02; the IBAN reads are logged)",
    ),
    rule(
        Method::POST,
        "/api/v1/billing/payment-status",
        BILLING,
        "Record the rejections of a bank status report (pain.002.001.03, application/xml)",
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
        TICKET_HOLDERS,
        "Record an operator action (legal, sales, billing: tickets in their inbox)",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/routing",
        TICKET_HOLDERS,
        "Route a ticket to a department (legal, sales, billing: tickets in their inbox)",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/resolution",
        TICKET_HOLDERS,
        "Resolve a ticket (legal, sales, billing: tickets in their inbox)",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/identification",
        CUSTOMER_SERVICE,
        "Link the ticket of an unidentified caller to a customer",
    ),
    rule(
        Method::POST,
        "/api/v1/tickets/{id}/satisfaction",
        CUSTOMER_SERVICE,
        "Record the customer's satisfaction with a resolved ticket (good or bad, once)",
    ),
    rule(
        Method::GET,
        "/api/v1/customer-service/customers",
        CUSTOMER_SERVICE,
        "Search customers (name prefix, e-mail, phone, number), a page at a time",
    ),
    rule(
        Method::POST,
        "/api/v1/customer-service/customers/search",
        CUSTOMER_SERVICE,
        "The same search, its criteria in a JSON body (kept out of URLs and logs)",
    ),
    rule(
        Method::GET,
        "/api/v1/customer-service/customers/{id}",
        CUSTOMER_SERVICE,
        "A customer's contact card and open tickets count",
    ),
    rule(
        Method::GET,
        "/api/v1/customer-service/customers/{id}/tickets",
        CUSTOMER_SERVICE,
        "A customer's tickets with their history",
    ),
    rule(
        Method::GET,
        "/api/v1/customer-service/tickets",
        CUSTOMER_SERVICE,
        "The queue of open tickets, oldest first (?channel=, ?reason=, ?department=)",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/customers",
        LEGAL,
        "Search customers (name prefix, e-mail, phone, number), a page at a time",
    ),
    rule(
        Method::POST,
        "/api/v1/legal/customers/search",
        LEGAL,
        "The same search, its criteria in a JSON body (kept out of URLs and logs)",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/customers/{id}",
        LEGAL,
        "A customer's contact card, whether a health declaration is on file, contracts count",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/customers/{id}/contracts",
        LEGAL,
        "A customer's contracts",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/customers/{id}/health-declaration",
        LEGAL,
        "A customer's health declaration (?purpose= required; written to the access log)",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/contracts/requested",
        LEGAL,
        "Contracts requested and not yet signed, across customers, oldest first, a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/contracts/{id}",
        LEGAL,
        "A contract with its customer's contact card",
    ),
    rule(
        Method::GET,
        "/api/v1/sales/customers",
        SALES,
        "Search customers (name prefix, e-mail, phone, number), a page at a time",
    ),
    rule(
        Method::POST,
        "/api/v1/sales/customers/search",
        SALES,
        "The same search, its criteria in a JSON body (kept out of URLs and logs)",
    ),
    rule(
        Method::GET,
        "/api/v1/sales/customers/{id}",
        SALES,
        "A customer's contact card, sales profile and unpaid flag",
    ),
    rule(
        Method::GET,
        "/api/v1/sales/customers/{id}/offers",
        SALES,
        "A customer's offers",
    ),
    rule(
        Method::GET,
        "/api/v1/sales/customers/{id}/contracts",
        SALES,
        "A customer's contracts (status only)",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/customers",
        BILLING,
        "Search customers (name prefix, e-mail, phone, number), a page at a time",
    ),
    rule(
        Method::POST,
        "/api/v1/billing/customers/search",
        BILLING,
        "The same search, its criteria in a JSON body (kept out of URLs and logs)",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/customers/{id}",
        BILLING,
        "A customer's contact card and mandate (IBAN masked)",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/customers/{id}/invoices",
        BILLING,
        "A customer's invoices with their history",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/customers/{id}/mandate",
        BILLING,
        "A customer's mandate and its history (IBAN masked; ?reveal=iban&purpose= in full, logged)",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/customers/{id}/contracts",
        BILLING,
        "A customer's contracts as billing invoices them (premium, status, first invoice)",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/invoices/unpaid",
        BILLING,
        "Unpaid invoices across customers, sortable (due_on, amount), a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/invoices/rejected",
        BILLING,
        "Rejected payments across customers, sortable (rejected_on, amount), a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/contracts/uninvoiced",
        BILLING,
        "Signed contracts never invoiced, sortable (signed_on, premium), a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/tickets",
        LEGAL,
        "Legal's ticket inbox, oldest hand-over first, a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/legal/tickets/{id}",
        LEGAL,
        "A ticket of legal's inbox with its actions",
    ),
    rule(
        Method::GET,
        "/api/v1/sales/tickets",
        SALES,
        "Sales' ticket inbox, oldest hand-over first, a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/sales/tickets/{id}",
        SALES,
        "A ticket of sales' inbox with its actions",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/tickets",
        BILLING,
        "Billing's ticket inbox, oldest hand-over first, a page at a time",
    ),
    rule(
        Method::GET,
        "/api/v1/billing/tickets/{id}",
        BILLING,
        "A ticket of billing's inbox with its actions",
    ),
    rule(
        Method::GET,
        "/api/v1/management/kpis",
        MANAGEMENT,
        "Management indicators: counts and rates, no customer data",
    ),
    // The desks (crates/web): HTML pages over the same read models and commands.
    page(
        Method::GET,
        "/",
        Public,
        "Home: the login page signed out, the user's own desk signed in",
    ),
    page(Method::GET, "/login", Public, "Login page"),
    page(
        Method::POST,
        "/login",
        Public,
        "Login form: sets the session cookie",
    ),
    page(
        Method::POST,
        "/logout",
        Authenticated,
        "Logout form: revokes the user's tokens",
    ),
    page(
        Method::GET,
        "/assets/{file}",
        Public,
        "Embedded CSS, scripts and icons",
    ),
    page(
        Method::GET,
        "/desk",
        Authenticated,
        "The desk of the user's role",
    ),
    page(
        Method::GET,
        "/desk/customer-service",
        CUSTOMER_SERVICE,
        "Call screen: one search box",
    ),
    page(
        Method::POST,
        "/desk/customer-service/search",
        CUSTOMER_SERVICE,
        "Search results (whole page, or the list alone for htmx)",
    ),
    page(
        Method::GET,
        "/desk/customer-service/customers/new",
        CUSTOMER_SERVICE,
        "Register a customer: the form",
    ),
    page(
        Method::POST,
        "/desk/customer-service/customers",
        CUSTOMER_SERVICE,
        "Register a customer",
    ),
    page(
        Method::GET,
        "/desk/customer-service/customers/{id}",
        CUSTOMER_SERVICE,
        "Customer card: contact details, log a call, tickets",
    ),
    page(
        Method::POST,
        "/desk/customer-service/customers/{id}/contact-details",
        CUSTOMER_SERVICE,
        "Change contact details",
    ),
    page(
        Method::POST,
        "/desk/customer-service/customers/{id}/tickets",
        CUSTOMER_SERVICE,
        "Log a call or a mail (and route or resolve it)",
    ),
    page(
        Method::GET,
        "/desk/customer-service/tickets",
        CUSTOMER_SERVICE,
        "The team's queue of open tickets",
    ),
    page(
        Method::POST,
        "/desk/customer-service/tickets/{id}/actions",
        CUSTOMER_SERVICE,
        "Record an action on a ticket",
    ),
    page(
        Method::POST,
        "/desk/customer-service/tickets/{id}/routing",
        CUSTOMER_SERVICE,
        "Route a ticket to a department",
    ),
    page(
        Method::POST,
        "/desk/customer-service/tickets/{id}/resolution",
        CUSTOMER_SERVICE,
        "Resolve a ticket",
    ),
    page(
        Method::POST,
        "/desk/customer-service/tickets/{id}/satisfaction",
        CUSTOMER_SERVICE,
        "Record the customer's satisfaction with a resolved ticket",
    ),
    page(
        Method::GET,
        "/desk/customer-service/tickets/{id}/identification",
        CUSTOMER_SERVICE,
        "Identify the caller of a ticket: search the customer",
    ),
    page(
        Method::POST,
        "/desk/customer-service/tickets/{id}/identification",
        CUSTOMER_SERVICE,
        "Link the ticket to the chosen customer",
    ),
    page(
        Method::POST,
        "/desk/customer-service/tickets/{id}/identification/search",
        CUSTOMER_SERVICE,
        "Customer search on the identification page",
    ),
    // The legal desk (crates/web/src/desks/legal.rs).
    page(
        Method::GET,
        "/desk/legal",
        LEGAL,
        "Legal desk: contracts to sign, oldest first, and the customer search",
    ),
    page(Method::POST, "/desk/legal/search", LEGAL, "Customer search"),
    page(
        Method::GET,
        "/desk/legal/customers/{id}",
        LEGAL,
        "A customer's contracts and health declaration",
    ),
    page(
        Method::POST,
        "/desk/legal/customers/{id}/health-declaration",
        LEGAL,
        "Record a health declaration",
    ),
    page(
        Method::POST,
        "/desk/legal/customers/{id}/health-declaration/consultation",
        LEGAL,
        "Read the health declaration for a purpose (access-logged)",
    ),
    page(
        Method::GET,
        "/desk/legal/contracts/{id}",
        LEGAL,
        "A contract: its offer, customer, status and document",
    ),
    page(
        Method::POST,
        "/desk/legal/contracts/{id}/signature",
        LEGAL,
        "Sign a contract with its signed PDF (multipart)",
    ),
    page(
        Method::POST,
        "/desk/legal/contracts/{id}/termination",
        LEGAL,
        "Terminate a contract with a reason",
    ),
    page(
        Method::POST,
        "/desk/legal/contracts/{id}/document",
        LEGAL,
        "The signed PDF of a contract, read for a purpose (access-logged; download=1 to save it)",
    ),
    page(
        Method::GET,
        "/desk/legal/tickets",
        LEGAL,
        "The ticket inbox",
    ),
    page(
        Method::GET,
        "/desk/legal/tickets/{id}",
        LEGAL,
        "A ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/legal/tickets/{id}/actions",
        LEGAL,
        "Record an action on a ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/legal/tickets/{id}/resolution",
        LEGAL,
        "Resolve a ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/legal/tickets/{id}/routing",
        LEGAL,
        "Route a ticket of the inbox on",
    ),
    // End of the legal desk.
    //
    // The sales desk (crates/web/src/desks/sales.rs).
    page(
        Method::GET,
        "/desk/sales",
        SALES,
        "Sales desk: the customer search",
    ),
    page(Method::POST, "/desk/sales/search", SALES, "Customer search"),
    page(
        Method::GET,
        "/desk/sales/customers/{id}",
        SALES,
        "A customer's profile, offers, contracts and unpaid flag",
    ),
    page(
        Method::POST,
        "/desk/sales/customers/{id}/profile",
        SALES,
        "Set the sales profile",
    ),
    page(
        Method::POST,
        "/desk/sales/customers/{id}/offers",
        SALES,
        "Propose an offer",
    ),
    page(
        Method::POST,
        "/desk/sales/offers/{id}/acceptance",
        SALES,
        "Record the acceptance (requests the contract from legal)",
    ),
    page(
        Method::POST,
        "/desk/sales/offers/{id}/decline",
        SALES,
        "Record that the customer declined",
    ),
    page(
        Method::POST,
        "/desk/sales/offers/{id}/withdrawal",
        SALES,
        "Withdraw the offer",
    ),
    page(
        Method::GET,
        "/desk/sales/tickets",
        SALES,
        "The ticket inbox",
    ),
    page(
        Method::GET,
        "/desk/sales/tickets/{id}",
        SALES,
        "A ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/sales/tickets/{id}/actions",
        SALES,
        "Record an action on a ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/sales/tickets/{id}/resolution",
        SALES,
        "Resolve a ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/sales/tickets/{id}/routing",
        SALES,
        "Route a ticket of the inbox on",
    ),
    page(
        Method::POST,
        "/desk/sales/customers/{id}/invoice-requests",
        SALES,
        "Ask billing for a one-off invoice",
    ),
    // End of the sales desk.
    //
    // The billing desk (crates/web/src/desks/billing.rs).
    page(
        Method::GET,
        "/desk/billing/invoice-requests",
        BILLING,
        "Invoice requests from sales awaiting a decision",
    ),
    page(
        Method::POST,
        "/desk/billing/invoice-requests/{id}/issue",
        BILLING,
        "Issue a requested invoice",
    ),
    page(
        Method::POST,
        "/desk/billing/invoice-requests/{id}/refuse",
        BILLING,
        "Refuse a requested invoice, with a reason",
    ),
    page(
        Method::GET,
        "/desk/billing",
        BILLING,
        "Billing desk: the customer search",
    ),
    page(
        Method::GET,
        "/desk/billing/collections",
        BILLING,
        "The month's SEPA collection: the form",
    ),
    page(
        Method::POST,
        "/desk/billing/collections",
        BILLING,
        "Run the month's SEPA collection (invoices and pain.008 file)",
    ),
    page(
        Method::POST,
        "/desk/billing/search",
        BILLING,
        "Customer search",
    ),
    page(
        Method::POST,
        "/desk/billing/iban-check",
        BILLING,
        "Check an IBAN as it is typed (nothing stored)",
    ),
    page(
        Method::GET,
        "/desk/billing/unpaid",
        BILLING,
        "Unpaid invoices, all customers",
    ),
    page(
        Method::GET,
        "/desk/billing/rejected",
        BILLING,
        "Rejected payments, all customers",
    ),
    page(
        Method::GET,
        "/desk/billing/uninvoiced",
        BILLING,
        "Signed contracts never invoiced",
    ),
    page(
        Method::GET,
        "/desk/billing/customers/{id}",
        BILLING,
        "A customer's mandate (masked), contracts and invoices",
    ),
    page(
        Method::POST,
        "/desk/billing/customers/{id}/mandate",
        BILLING,
        "Sign a mandate, or amend the active one",
    ),
    page(
        Method::POST,
        "/desk/billing/customers/{id}/mandate/revocation",
        BILLING,
        "Revoke the mandate",
    ),
    page(
        Method::POST,
        "/desk/billing/customers/{id}/mandate/consultation",
        BILLING,
        "Show the IBAN in full for a purpose (access-logged)",
    ),
    page(
        Method::POST,
        "/desk/billing/customers/{id}/invoices",
        BILLING,
        "Issue an invoice",
    ),
    page(
        Method::POST,
        "/desk/billing/invoices/{id}/payment",
        BILLING,
        "Record a payment",
    ),
    page(
        Method::POST,
        "/desk/billing/invoices/{id}/payment-rejection",
        BILLING,
        "Record the rejection of a payment",
    ),
    page(
        Method::POST,
        "/desk/billing/invoices/{id}/cancellation",
        BILLING,
        "Cancel an invoice",
    ),
    page(
        Method::GET,
        "/desk/billing/tickets",
        BILLING,
        "The ticket inbox",
    ),
    page(
        Method::GET,
        "/desk/billing/tickets/{id}",
        BILLING,
        "A ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/billing/tickets/{id}/actions",
        BILLING,
        "Record an action on a ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/billing/tickets/{id}/resolution",
        BILLING,
        "Resolve a ticket of the inbox",
    ),
    page(
        Method::POST,
        "/desk/billing/tickets/{id}/routing",
        BILLING,
        "Route a ticket of the inbox on",
    ),
    // End of the billing desk.
    //
    // User administration (crates/web/src/desks/admin.rs).
    page(
        Method::GET,
        "/desk/admin",
        ADMIN,
        "User administration: the users and the creation form",
    ),
    page(
        Method::POST,
        "/desk/admin/users",
        ADMIN,
        "Create a user (shows the initial password once)",
    ),
    page(
        Method::GET,
        "/desk/admin/users/{id}",
        ADMIN,
        "An account: role, state, password reset and history",
    ),
    page(
        Method::POST,
        "/desk/admin/users/{id}/role",
        ADMIN,
        "Change the role",
    ),
    page(
        Method::POST,
        "/desk/admin/users/{id}/disable",
        ADMIN,
        "Disable the account",
    ),
    page(
        Method::POST,
        "/desk/admin/users/{id}/enable",
        ADMIN,
        "Enable the account",
    ),
    page(
        Method::POST,
        "/desk/admin/users/{id}/password",
        ADMIN,
        "Reset the password (shows the provisional one once)",
    ),
    page(
        Method::GET,
        "/desk/password",
        Authenticated,
        "Change one's own password: the form",
    ),
    page(
        Method::POST,
        "/desk/password",
        Authenticated,
        "Change one's own password",
    ),
    // End of user administration.
    //
    // The management desk (crates/web/src/desks/management.rs).
    page(
        Method::GET,
        "/desk/management",
        MANAGEMENT,
        "Management desk: the indicators over a period",
    ),
    page(
        Method::GET,
        "/desk/management/indicateurs.csv",
        MANAGEMENT,
        "The indicators' series as CSV",
    ),
    // End of the management desk.
    page(Method::GET, "/desk/audit", AUDITOR, "Auditors' desk"),
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

/// Past this age a cached standing is still used, but the request that sees it reads
/// it again in the background: under a steady load a user's standing is refreshed
/// before it expires, and the requests in flight never all miss it at once.
pub const STANDING_REFRESH: Duration = Duration::from_secs(1);

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
    // A department this instance does not serve: as if the route did not exist.
    if !state.deployment.serves(rule.access) {
        return crate::routes::not_found_response();
    }
    if rule.access == Access::Public {
        return next.run(req).await;
    }
    let (actor, claims) = match authenticate_claims(&state, req.headers()).await {
        Ok(found) => found,
        Err(problem) => return problem.into_response(),
    };
    if !rule.access.allows(actor.role) {
        return forbidden();
    }
    req.extensions_mut().insert(actor);
    // The desks renew the session and bind their forms to it (crates/web).
    req.extensions_mut().insert(claims);
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
    authenticate_claims(state, headers)
        .await
        .map(|(actor, _)| actor)
}

/// [`authenticate`], with the claims of the token.
pub async fn authenticate_claims(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<(Actor, Claims), ApiError> {
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
    Ok((
        Actor {
            user_id: claims.sub,
            username: claims.name.clone(),
            role: claims.role,
        },
        claims,
    ))
}

async fn standing(state: &AppState, claims: &Claims) -> Result<Standing, ApiError> {
    match state.auth.standing_cache.get(claims.sub) {
        Cached::Fresh(standing) => return Ok(standing),
        Cached::Ageing(standing) => {
            let (state, user) = (state.clone(), claims.sub);
            tokio::spawn(async move {
                match users::standing(&state.pool, user).await {
                    Ok(Some(standing)) => state.auth.standing_cache.refreshed(user, standing),
                    // Unknown now, or unreadable: the next request past the TTL reads it
                    // itself, and answers accordingly.
                    Ok(None) => state.auth.standing_cache.forget(user),
                    Err(e) => {
                        tracing::warn!(error = %e, "refreshing a user's standing");
                        state.auth.standing_cache.refresh_failed(user);
                    }
                }
            });
            return Ok(standing);
        }
        Cached::Missing => {}
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

pub(crate) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
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
pub struct StandingCache(std::sync::Mutex<lru::LruCache<uuid::Uuid, Entry>>);

#[derive(Debug, Clone, Copy)]
struct Entry {
    read_at: Instant,
    standing: Standing,
    /// A request is reading it again in the background.
    refreshing: bool,
}

/// What the cache knows of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cached {
    Fresh(Standing),
    /// Still valid, and this caller is the one to refresh it.
    Ageing(Standing),
    Missing,
}

impl Default for StandingCache {
    fn default() -> Self {
        Self(std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::MIN.saturating_add(9_999),
        )))
    }
}

impl StandingCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<uuid::Uuid, Entry>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, user: uuid::Uuid) -> Cached {
        let mut cache = self.lock();
        match cache.get_mut(&user) {
            Some(entry) if entry.read_at.elapsed() < STANDING_REFRESH => {
                Cached::Fresh(entry.standing)
            }
            Some(entry) if entry.read_at.elapsed() < STANDING_TTL => {
                if entry.refreshing {
                    Cached::Fresh(entry.standing)
                } else {
                    entry.refreshing = true;
                    Cached::Ageing(entry.standing)
                }
            }
            _ => Cached::Missing,
        }
    }

    fn put(&self, user: uuid::Uuid, standing: Standing) {
        self.lock().put(
            user,
            Entry {
                read_at: Instant::now(),
                standing,
                refreshing: false,
            },
        );
    }

    /// A background refresh read this; kept only if the user was not forgotten since
    /// (a revocation on this instance wins over a read that may predate it).
    fn refreshed(&self, user: uuid::Uuid, standing: Standing) {
        let mut cache = self.lock();
        if let Some(entry) = cache.get_mut(&user).filter(|e| e.refreshing) {
            *entry = Entry {
                read_at: Instant::now(),
                standing,
                refreshing: false,
            };
        }
    }

    fn refresh_failed(&self, user: uuid::Uuid) {
        if let Some(entry) = self.lock().get_mut(&user) {
            entry.refreshing = false;
        }
    }

    /// Forgets a user at once (this instance revoked their tokens).
    pub fn forget(&self, user: uuid::Uuid) {
        self.lock().pop(&user);
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
                && !r.path.starts_with("/api/v1/management/")
                // Authenticated by the integration's own signature, whoever the
                // caller: it answers what it did, never customer data.
                && !r.path.starts_with("/api/v1/integrations/")
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
    fn management_reads_figures_only_and_nobody_else_does() {
        let management: Vec<_> = RULES
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/management/"))
            .collect();
        assert!(!management.is_empty());
        for r in management {
            assert_eq!(r.method, Method::GET, "{}", r.path);
            assert_eq!(r.access, MANAGEMENT, "{}", r.path);
        }
    }

    #[test]
    fn department_queries_belong_to_their_department_only() {
        for (prefix, role) in [
            ("/api/v1/customer-service/", Role::CustomerService),
            ("/api/v1/legal/", Role::Legal),
            ("/api/v1/sales/", Role::Sales),
            ("/api/v1/billing/", Role::Billing),
            ("/desk/customer-service", Role::CustomerService),
            ("/desk/legal", Role::Legal),
            ("/desk/sales", Role::Sales),
            ("/desk/billing", Role::Billing),
        ] {
            for r in RULES.iter().filter(|r| r.path.starts_with(prefix)) {
                assert!(
                    matches!(r.access, Roles(roles) if roles == [role]),
                    "{}",
                    r.path
                );
            }
        }
    }

    #[test]
    fn an_ageing_standing_is_refreshed_by_one_request_and_never_outlives_the_ttl() {
        let cache = StandingCache::default();
        let user = uuid::Uuid::new_v4();
        let standing = Standing {
            token_generation: 3,
            disabled: false,
        };
        assert_eq!(cache.get(user), Cached::Missing);
        cache.put(user, standing);
        assert_eq!(cache.get(user), Cached::Fresh(standing));
        let age = |by: Duration| {
            if let Some(entry) = cache.lock().get_mut(&user) {
                entry.read_at = Instant::now().checked_sub(by).unwrap_or_else(Instant::now);
            }
        };
        age(STANDING_REFRESH + Duration::from_millis(10));
        assert_eq!(cache.get(user), Cached::Ageing(standing), "one refreshes");
        assert_eq!(
            cache.get(user),
            Cached::Fresh(standing),
            "the others wait for it"
        );
        let revoked = Standing {
            token_generation: 4,
            disabled: false,
        };
        cache.refreshed(user, revoked);
        assert_eq!(cache.get(user), Cached::Fresh(revoked));
        age(STANDING_TTL);
        assert_eq!(cache.get(user), Cached::Missing, "never past the TTL");
        // A refresh that lands after the user was forgotten is dropped.
        cache.put(user, standing);
        age(STANDING_REFRESH + Duration::from_millis(10));
        assert_eq!(cache.get(user), Cached::Ageing(standing));
        cache.forget(user);
        cache.refreshed(user, standing);
        assert_eq!(cache.get(user), Cached::Missing);
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
