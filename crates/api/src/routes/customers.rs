//! Customer commands: registration and contact details (customer service), health
//! (legal), sales profile (sales), bank details and SEPA mandate (billing).

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use chrono::NaiveDate;
use lae_domain::customer::CustomerCommand;
use lae_domain::{
    AgeBand, AlcoholUse, Availability, CustomerId, CustomerNumber, Email, Iban, Illness,
    MandateReference, PersonName, PhoneNumber, Profession, Reason, Sex, TobaccoUse,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, CommandAccepted, PathId, created, execute, metadata, today};
use crate::auth::Actor;
use crate::extract::{RequestId, ValidJson};
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", post(register))
        .route(
            "/customers/{id}/contact-details",
            put(change_contact_details),
        )
        .route("/customers/{id}/health-declaration", put(declare_health))
        .route("/customers/{id}/sales-profile", put(set_sales_profile))
        .route(
            "/customers/{id}/mandate",
            post(sign_mandate).put(amend_mandate),
        )
        .route("/customers/{id}/mandate/revocation", post(revoke_mandate))
        .route("/customers/{id}/erasure", post(erase))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Register {
    /// Lets a client retry a registration safely: the same id twice is a conflict,
    /// never a second customer.
    id: Option<CustomerId>,
    last_name: PersonName,
    first_name: PersonName,
    email: Option<Email>,
    phone: Option<PhoneNumber>,
    #[serde(default)]
    availability: Availability,
}

async fn register(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    ValidJson(body): ValidJson<Register>,
) -> Result<Response, ApiError> {
    let customer_id = body.id.unwrap_or_else(|| CustomerId::new(Uuid::new_v4()));
    let registration = Registration {
        customer_id,
        last_name: body.last_name,
        first_name: body.first_name,
        email: body.email,
        phone: body.phone,
        availability: body.availability,
    };
    let (committed, customer_number) =
        register_customer(&state, registration, &metadata(&actor, request)).await?;
    let mut response = CommandAccepted::from(&committed);
    response.customer_number = Some(customer_number.to_string());
    Ok(created("customers", response))
}

/// A new customer's contact details, checked.
#[derive(Debug, Clone)]
pub struct Registration {
    pub customer_id: CustomerId,
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
    pub availability: Availability,
}

/// Registers a customer under the next customer number: what `POST
/// /api/v1/customers` and the customer service desk's registration form both do.
pub async fn register_customer(
    state: &AppState,
    registration: Registration,
    metadata: &lae_store::EventMetadata,
) -> Result<
    (
        lae_store::Committed<lae_domain::customer::Customer>,
        CustomerNumber,
    ),
    ApiError,
> {
    let number: i64 = sqlx::query_scalar("SELECT nextval('customer_number_seq')")
        .fetch_one(&state.pool)
        .await?;
    let customer_number: CustomerNumber = format!("LAE-{number:06}")
        .parse()
        .map_err(ApiError::internal)?;
    let command = CustomerCommand::RegisterCustomer {
        customer_id: registration.customer_id,
        customer_number: customer_number.clone(),
        last_name: registration.last_name,
        first_name: registration.first_name,
        email: registration.email,
        phone: registration.phone,
        availability: registration.availability,
    };
    let committed = state
        .customers
        .execute(&registration.customer_id.to_string(), command, metadata)
        .await?;
    Ok((committed, customer_number))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContactDetails {
    last_name: PersonName,
    first_name: PersonName,
    email: Option<Email>,
    phone: Option<PhoneNumber>,
    #[serde(default)]
    availability: Availability,
}

async fn change_contact_details(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<ContactDetails>,
) -> Result<Response, ApiError> {
    let command = CustomerCommand::ChangeContactDetails {
        last_name: body.last_name,
        first_name: body.first_name,
        email: body.email,
        phone: body.phone,
        availability: body.availability,
    };
    execute(&state.customers, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct HealthDeclaration {
    tobacco: TobaccoUse,
    alcohol: AlcoholUse,
    #[serde(default)]
    illnesses: Vec<Illness>,
    declared_on: Option<NaiveDate>,
}

async fn declare_health(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<HealthDeclaration>,
) -> Result<Response, ApiError> {
    let command = CustomerCommand::DeclareHealth {
        tobacco: body.tobacco,
        alcohol: body.alcohol,
        illnesses: body.illnesses,
        declared_on: body.declared_on.unwrap_or_else(today),
    };
    execute(&state.customers, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SalesProfile {
    age_band: Option<AgeBand>,
    profession: Option<Profession>,
    sex: Sex,
}

async fn set_sales_profile(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<SalesProfile>,
) -> Result<Response, ApiError> {
    let command = CustomerCommand::SetSalesProfile {
        age_band: body.age_band,
        profession: body.profession,
        sex: body.sex,
    };
    execute(&state.customers, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Mandate {
    iban: Iban,
    mandate_reference: MandateReference,
    /// Signature date for a new mandate, amendment date for a changed one.
    date: Option<NaiveDate>,
}

async fn sign_mandate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<Mandate>,
) -> Result<Response, ApiError> {
    let command = CustomerCommand::SignMandate {
        iban: body.iban,
        mandate_reference: body.mandate_reference,
        signed_on: body.date.unwrap_or_else(today),
    };
    execute(&state.customers, id, command, caller).await
}

async fn amend_mandate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<Mandate>,
) -> Result<Response, ApiError> {
    let command = CustomerCommand::AmendMandate {
        iban: body.iban,
        mandate_reference: body.mandate_reference,
        amended_on: body.date.unwrap_or_else(today),
    };
    execute(&state.customers, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Revocation {
    revoked_on: Option<NaiveDate>,
    reason: Option<Reason>,
}

async fn revoke_mandate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<Revocation>,
) -> Result<Response, ApiError> {
    let command = CustomerCommand::RevokeMandate {
        revoked_on: body.revoked_on.unwrap_or_else(today),
        reason: body.reason,
    };
    execute(&state.customers, id, command, caller).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ErasureRequest {
    /// The legal basis and the request's reference, e.g. "RGPD art. 17, demande
    /// n° 2026-114". Kept in clear in the history: never the person's data.
    reason: Reason,
}

/// Erases the customer's personal data (see [`crate::erasure`]).
async fn erase(
    State(state): State<AppState>,
    actor: Actor,
    request: RequestId,
    PathId(id): PathId<CustomerId>,
    ValidJson(body): ValidJson<ErasureRequest>,
) -> Result<Response, ApiError> {
    let erasure = crate::erasure::erase_customer(
        &state.customers,
        &state.events,
        &state.pool,
        &state.key_announcements,
        id,
        body.reason,
        &metadata(&actor, request),
    )
    .await?;
    Ok((axum::http::StatusCode::ACCEPTED, axum::Json(erasure)).into_response())
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.op::<ErasureRequest, crate::erasure::Erasure>(
        Method::POST,
        "/api/v1/customers/{id}/erasure",
        202,
    );
    doc.op::<Register, CommandAccepted>(Method::POST, "/api/v1/customers", 201);
    doc.op::<ContactDetails, CommandAccepted>(
        Method::PUT,
        "/api/v1/customers/{id}/contact-details",
        202,
    );
    doc.op::<HealthDeclaration, CommandAccepted>(
        Method::PUT,
        "/api/v1/customers/{id}/health-declaration",
        202,
    );
    doc.op::<SalesProfile, CommandAccepted>(
        Method::PUT,
        "/api/v1/customers/{id}/sales-profile",
        202,
    );
    doc.op::<Mandate, CommandAccepted>(Method::POST, "/api/v1/customers/{id}/mandate", 202);
    doc.op::<Mandate, CommandAccepted>(Method::PUT, "/api/v1/customers/{id}/mandate", 202);
    doc.op::<Revocation, CommandAccepted>(
        Method::POST,
        "/api/v1/customers/{id}/mandate/revocation",
        202,
    );
}
