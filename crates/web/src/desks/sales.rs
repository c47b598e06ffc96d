//! The sales desk: a customer search, and the customer's page: the sales profile
//! (age band, profession, sex) as a form, the offers with their actions (accept,
//! decline, withdraw), a new offer, the contracts' status, and the "has unpaid
//! invoices" flag billing feeds.
//!
//! Reads go through sales' read model and reader role, by the functions of
//! `GET /api/v1/sales/…`; commands through the same executors and use cases as the
//! JSON commands (accepting an offer requests the contract from legal, as
//! `POST /api/v1/offers/{id}/acceptance` does).

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use lae_api::AppState;
use lae_api::extract::RequestId;
use lae_api::problem::ApiError;
use lae_api::routes::invoice_requests::{self, InvoiceRequestInput};
use lae_api::routes::metadata;
use lae_api::routes::offers::accept_offer;
use lae_api::routes::queries::sales as reads;
use lae_domain::customer::CustomerCommand;
use lae_domain::offer::{OfferCommand, OfferError};
use lae_domain::{
    AgeBand, Cents, CustomerId, InvoiceLabel, OfferId, ProductName, Profession, Reason, Sex,
};
use lae_projections::Department;
use lae_store::CommandError;
use uuid::Uuid;

use super::lookup::{self, Results, await_version, date_field, full_name, path_id};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

const HOME: &str = "/desk/sales";
const DEPARTMENT: Department = Department::Sales;

/// The desk's navigation: (address, French label).
pub const NAV: &[(&str, &str)] = &[
    (HOME, "Recherche client"),
    ("/desk/sales/tickets", "Tickets reçus"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(home))
        .route("/desk/sales/search", post(search))
        .route("/desk/sales/customers/{id}", get(customer))
        .route("/desk/sales/customers/{id}/profile", post(set_profile))
        .route("/desk/sales/customers/{id}/offers", post(propose))
        .route("/desk/sales/offers/{id}/acceptance", post(accept))
        .route("/desk/sales/offers/{id}/decline", post(decline))
        .route("/desk/sales/offers/{id}/withdrawal", post(withdraw))
        .route(
            "/desk/sales/customers/{id}/invoice-requests",
            post(request_invoice),
        )
}

// ---------------------------------------------------------------------------------
// The search

#[derive(Template)]
#[template(path = "sales_home.html")]
struct HomePage {
    layout: Layout,
    results: Results,
}

#[derive(Template)]
#[template(path = "desk_results.html")]
struct ResultsPartial {
    results: Results,
}

/// `GET /desk/sales`.
async fn home(user: PageUser) -> Result<Response, ApiError> {
    let results = Results::empty(HOME, &user.form_token);
    render(
        StatusCode::OK,
        &HomePage {
            layout: Layout::desk("Recherche client", &user, HOME),
            results,
        },
    )
}

/// `POST /desk/sales/search`.
async fn search(
    State(state): State<AppState>,
    user: PageUser,
    headers: HeaderMap,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let results = lookup::search(&state, DEPARTMENT, HOME, &user.form_token, &form).await?;
    if headers.contains_key("hx-request") {
        return render(StatusCode::OK, &ResultsPartial { results });
    }
    let status = if results.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &HomePage {
            layout: Layout::desk("Recherche client", &user, HOME),
            results,
        },
    )
}

// ---------------------------------------------------------------------------------
// The customer's page

#[derive(Debug)]
struct OfferLine {
    id: Uuid,
    product: String,
    premium: String,
    status: &'static str,
    status_code: String,
    proposed: String,
    decided: String,
    reason: String,
    open: bool,
    version: i64,
}

#[derive(Debug)]
struct ContractLine {
    product: String,
    status: &'static str,
    status_code: String,
    requested: String,
    signed: String,
    terminated: String,
}

/// The profile form's values.
#[derive(Debug, Default)]
struct ProfileForm {
    age_band: String,
    profession: String,
    sex: String,
}

/// The new offer form's values.
#[derive(Debug, Default)]
struct OfferForm {
    id: String,
    product: String,
    premium: String,
    proposed_on: String,
}

/// The "Demander une facture" form's values.
#[derive(Debug, Default)]
struct InvoiceRequestForm {
    amount: String,
    label: String,
}

#[derive(Template)]
#[template(path = "sales_customer.html")]
struct CustomerPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    alert: Option<String>,
    id: Uuid,
    name: String,
    number: String,
    phone: String,
    email: String,
    availability: String,
    unpaid: bool,
    has_profile: bool,
    profile: ProfileForm,
    profile_errors: FieldErrors,
    offer: OfferForm,
    offer_errors: FieldErrors,
    invoice_request: InvoiceRequestForm,
    invoice_request_errors: FieldErrors,
    offers: Vec<OfferLine>,
    contracts: Vec<ContractLine>,
    age_bands: &'static [(&'static str, &'static str)],
    sexes: &'static [(&'static str, &'static str)],
}

const AGE_BANDS: &[(&str, &str)] = &[
    ("18-25", "18 à 25 ans"),
    ("26-35", "26 à 35 ans"),
    ("36-45", "36 à 45 ans"),
    ("46-55", "46 à 55 ans"),
    ("56-65", "56 à 65 ans"),
    ("65+", "Plus de 65 ans"),
];
const SEXES: &[(&str, &str)] = &[
    ("female", "Femme"),
    ("male", "Homme"),
    ("unspecified", "Non précisé"),
];

#[derive(Default)]
struct CustomerState {
    notice: Option<String>,
    alert: Option<String>,
    profile: Option<ProfileForm>,
    profile_errors: FieldErrors,
    offer: Option<OfferForm>,
    offer_errors: FieldErrors,
    invoice_request: Option<InvoiceRequestForm>,
    invoice_request_errors: FieldErrors,
}

/// `GET /desk/sales/customers/{id}`.
async fn customer(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[
            ("profile", "Profil commercial enregistré."),
            ("proposed", "Offre proposée."),
            (
                "accepted",
                "Offre acceptée : la demande de contrat est transmise au juridique.",
            ),
            ("declined", "Refus de l'offre enregistré."),
            ("withdrawn", "Offre retirée."),
            (
                "invoice_requested",
                "Demande de facture transmise à la facturation : sa décision arrivera dans les tickets reçus.",
            ),
        ],
    );
    let page = CustomerState {
        notice,
        ..CustomerState::default()
    };
    customer_page(&state, &user, id, page, StatusCode::OK).await
}

async fn customer_page(
    state: &AppState,
    user: &PageUser,
    id: Uuid,
    page: CustomerState,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = reads::customer_view(state, id).await?;
    let offers = reads::customer_offers(state, id).await?;
    let contracts = reads::customer_contracts(state, id).await?;
    let c = view.customer;
    let offers = offers
        .into_iter()
        .map(|o| {
            let code = o.status.unwrap_or_default();
            OfferLine {
                id: o.id,
                product: o.product.unwrap_or_default(),
                premium: o
                    .monthly_premium_cents
                    .map(format::amount)
                    .unwrap_or_default(),
                status: offer_status(&code),
                open: code == "proposed",
                status_code: code,
                proposed: o.proposed_on.map(format::date).unwrap_or_default(),
                decided: o.decided_on.map(format::date).unwrap_or_default(),
                reason: o.reason.unwrap_or_default(),
                version: o.version,
            }
        })
        .collect();
    let contracts = contracts
        .into_iter()
        .map(|k| {
            let code = k.status.unwrap_or_default();
            ContractLine {
                product: k.product.unwrap_or_default(),
                status: contract_status(&code),
                status_code: code,
                requested: k.requested_on.map(format::date).unwrap_or_default(),
                signed: k.signed_on.map(format::date).unwrap_or_default(),
                terminated: k.terminated_on.map(format::date).unwrap_or_default(),
            }
        })
        .collect();
    let has_profile = view.profile.is_some();
    let profile = page.profile.unwrap_or_else(|| match view.profile {
        Some(p) => ProfileForm {
            age_band: p.age_band.unwrap_or_default(),
            profession: p.profession.unwrap_or_default(),
            sex: p.sex.unwrap_or_else(|| "unspecified".to_owned()),
        },
        None => ProfileForm {
            sex: "unspecified".to_owned(),
            ..ProfileForm::default()
        },
    });
    let offer = page.offer.unwrap_or_else(|| OfferForm {
        id: Uuid::new_v4().to_string(),
        proposed_on: Utc::now().date_naive().to_string(),
        ..OfferForm::default()
    });
    let name = full_name(c.last_name.as_deref(), c.first_name.as_deref());
    render(
        status,
        &CustomerPage {
            layout: Layout::desk(name.clone(), user, ""),
            form_token: user.form_token.clone(),
            notice: page.notice,
            alert: page.alert,
            id,
            name,
            number: c.customer_number.unwrap_or_default(),
            phone: c.phone.as_deref().map(format::phone).unwrap_or_default(),
            email: c.email.unwrap_or_default(),
            availability: c.availability.unwrap_or_default(),
            unpaid: view.has_unpaid_invoices,
            has_profile,
            profile,
            profile_errors: page.profile_errors,
            offer,
            offer_errors: page.offer_errors,
            invoice_request: page.invoice_request.unwrap_or_default(),
            invoice_request_errors: page.invoice_request_errors,
            offers,
            contracts,
            age_bands: AGE_BANDS,
            sexes: SEXES,
        },
    )
}

fn offer_status(code: &str) -> &'static str {
    match code {
        "proposed" => "Proposée",
        "accepted" => "Acceptée",
        "declined" => "Refusée",
        "withdrawn" => "Retirée",
        _ => "Inconnu",
    }
}

fn contract_status(code: &str) -> &'static str {
    match code {
        "requested" => "En cours de signature (juridique)",
        "signed" => "Signé",
        "terminated" => "Résilié",
        _ => "Inconnu",
    }
}

fn customer_url(id: Uuid) -> String {
    format!("{HOME}/customers/{id}")
}

/// `POST /desk/sales/customers/{id}/profile`: the same command as
/// `PUT /api/v1/customers/{id}/sales-profile`.
async fn set_profile(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let typed = ProfileForm {
        age_band: form.get("age_band").to_owned(),
        profession: form.get("profession").to_owned(),
        sex: form.get("sex").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let age_band = match form.optional("age_band") {
        None => Some(None),
        Some(raw) => match raw.parse::<AgeBand>() {
            Ok(band) => Some(Some(band)),
            Err(_) => {
                errors.add("age_band", "Choisissez une tranche d'âge dans la liste.");
                None
            }
        },
    };
    let profession = errors.check_optional("profession", form.optional("profession"), |p| {
        Profession::parse(p)
    });
    let sex = match form.optional("sex").unwrap_or("unspecified").parse::<Sex>() {
        Ok(sex) => Some(sex),
        Err(_) => {
            errors.add("sex", "Choisissez une valeur dans la liste.");
            None
        }
    };
    let refused = |errors: FieldErrors, typed: ProfileForm| {
        customer_page(
            &state,
            &user,
            id,
            CustomerState {
                profile: Some(typed),
                profile_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(age_band), Some(profession), Some(sex)) = (age_band, profession, sex) else {
        return refused(errors, typed).await;
    };
    let command = CustomerCommand::SetSalesProfile {
        age_band,
        profession,
        sex,
    };
    let executed = state
        .customers
        .execute(&id.to_string(), command, &metadata(&user.actor, request))
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            // A profile identical to the one on file changes nothing: nothing to wait for.
            let shown = committed.events.is_empty()
                || await_version(
                    &state,
                    DEPARTMENT,
                    "SELECT version FROM sales.profiles WHERE customer_id = $1",
                    id,
                    committed.version,
                )
                .await;
            Ok(see_other(&lookup::after(
                &customer_url(id),
                "profile",
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "profession") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

/// `POST /desk/sales/customers/{id}/invoice-requests`: asks billing for a one-off
/// invoice (the same use case as `POST /api/v1/sales/invoice-requests`).
async fn request_invoice(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let customer = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let typed = InvoiceRequestForm {
        amount: form.get("amount").to_owned(),
        label: form.get("label").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let amount = errors.check("amount", Cents::parse_eur(form.get("amount")));
    let amount = amount.filter(|a| {
        let positive = a.is_positive();
        if !positive {
            errors.add("amount", "Le montant doit être supérieur à zéro.");
        }
        positive
    });
    let label = errors.check("label", InvoiceLabel::parse(form.get("label")));
    let refused = |errors: FieldErrors, typed: InvoiceRequestForm| {
        customer_page(
            &state,
            &user,
            customer,
            CustomerState {
                invoice_request: Some(typed),
                invoice_request_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(amount), Some(label)) = (amount, label) else {
        return refused(errors, typed).await;
    };
    let input = InvoiceRequestInput {
        customer_id: CustomerId::new(customer),
        contract_id: None,
        amount,
        label,
        requested_on: Utc::now().date_naive(),
    };
    match invoice_requests::request_invoice(&state, &metadata(&user.actor, request), input).await {
        // Sales has no read model of its requests: the notice says where the answer comes.
        Ok(_) => Ok(see_other(&lookup::after(
            &customer_url(customer),
            "invoice_requested",
            true,
        ))),
        Err(e) => match FieldErrors::from_refusal(&e, "label") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

const OFFER_VERSION: &str = "SELECT version FROM sales.offers WHERE offer_id = $1";

/// `POST /desk/sales/customers/{id}/offers`: proposes an offer (the same command as
/// `POST /api/v1/offers`). The form carries the new offer's id: sent twice, it is
/// one offer.
async fn propose(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let customer = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let typed = OfferForm {
        id: form.get("id").to_owned(),
        product: form.get("product").to_owned(),
        premium: form.get("premium").to_owned(),
        proposed_on: form.get("proposed_on").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let product = errors.check("product", ProductName::parse(form.get("product")));
    let premium = errors.check("premium", Cents::parse_eur(form.get("premium")));
    let premium = premium.filter(|p| {
        let positive = p.is_positive();
        if !positive {
            errors.add("premium", "La prime mensuelle doit être supérieure à zéro.");
        }
        positive
    });
    let proposed_on = date_field(
        &form,
        "proposed_on",
        &mut errors,
        Some(Utc::now().date_naive()),
    );
    let offer_id = form
        .get("id")
        .parse::<Uuid>()
        .map(OfferId::new)
        .unwrap_or_else(|_| OfferId::new(Uuid::new_v4()));
    let refused = |errors: FieldErrors, typed: OfferForm| {
        customer_page(
            &state,
            &user,
            customer,
            CustomerState {
                offer: Some(typed),
                offer_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(product), Some(monthly_premium), Some(proposed_on)) = (product, premium, proposed_on)
    else {
        return refused(errors, typed).await;
    };
    let command = OfferCommand::ProposeOffer {
        offer_id,
        customer_id: CustomerId::new(customer),
        product,
        monthly_premium,
        proposed_on,
    };
    let executed = state
        .offers
        .execute(
            &offer_id.to_string(),
            command,
            &metadata(&user.actor, request),
        )
        .await;
    match executed {
        Ok(committed) => {
            let shown = await_version(
                &state,
                DEPARTMENT,
                OFFER_VERSION,
                *offer_id.as_uuid(),
                committed.version,
            )
            .await;
            Ok(see_other(&lookup::after(
                &customer_url(customer),
                "proposed",
                shown,
            )))
        }
        // The same form sent twice: the offer exists, as asked.
        Err(CommandError::Rejected(OfferError::AlreadyProposed)) => Ok(see_other(&lookup::after(
            &customer_url(customer),
            "proposed",
            true,
        ))),
        Err(e) => {
            let e = ApiError::from(e);
            match FieldErrors::from_refusal(&e, "product") {
                Some(errors) => refused(errors, typed).await,
                None => Err(e),
            }
        }
    }
}

/// The offer and customer of an offer action's form.
fn offer_action(raw: &str, form: &Fields) -> Result<(OfferId, Uuid, Option<usize>), ApiError> {
    let offer = path_id(raw, "offer_not_found", "offre")?;
    let customer = form
        .get("customer")
        .parse::<Uuid>()
        .map_err(|_| ApiError::invalid("invalid_customer", "customer", "Client inconnu."))?;
    let expected = form.get("version").parse::<usize>().ok().filter(|v| *v > 0);
    Ok((OfferId::new(offer), customer, expected))
}

/// After an offer action: back to the customer's page, or the refusal beside it.
async fn after_offer(
    state: &AppState,
    user: &PageUser,
    offer: OfferId,
    customer: Uuid,
    result: Result<usize, ApiError>,
    ok: &str,
) -> Result<Response, ApiError> {
    match result {
        Ok(version) => {
            let shown =
                await_version(state, DEPARTMENT, OFFER_VERSION, *offer.as_uuid(), version).await;
            Ok(see_other(&lookup::after(
                &customer_url(customer),
                ok,
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "offer") {
            Some(errors) => {
                let message = errors
                    .of("offer")
                    .or(errors.of("reason"))
                    .unwrap_or("La demande a été refusée.")
                    .to_owned();
                customer_page(
                    state,
                    user,
                    customer,
                    CustomerState {
                        alert: Some(format!("Offre non modifiée : {message}")),
                        ..CustomerState::default()
                    },
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => Err(e),
        },
    }
}

/// `POST /desk/sales/offers/{id}/acceptance`: the customer's acceptance, which
/// requests the contract from legal (the same use case as the JSON route).
async fn accept(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let (offer, customer, expected) = offer_action(&id, &form)?;
    let meta = metadata(&user.actor, request);
    let result = accept_offer(&state, offer, Utc::now().date_naive(), &meta, expected)
        .await
        .map(|(committed, _)| committed.version);
    after_offer(&state, &user, offer, customer, result, "accepted").await
}

/// An optional reason (declining, withdrawing).
fn optional_reason(form: &Fields) -> Result<Option<Reason>, ApiError> {
    form.optional("reason")
        .map(Reason::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("invalid_reason", "reason", e.to_string()))
}

/// `POST /desk/sales/offers/{id}/decline`: the customer declined.
async fn decline(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let (offer, customer, expected) = offer_action(&id, &form)?;
    let result = match optional_reason(&form) {
        Ok(reason) => state
            .offers
            .execute_expecting(
                &offer.to_string(),
                OfferCommand::DeclineOffer {
                    declined_on: Utc::now().date_naive(),
                    reason,
                },
                &metadata(&user.actor, request),
                expected,
            )
            .await
            .map(|c| c.version)
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    after_offer(&state, &user, offer, customer, result, "declined").await
}

/// `POST /desk/sales/offers/{id}/withdrawal`: LAE withdraws its offer.
async fn withdraw(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let (offer, customer, expected) = offer_action(&id, &form)?;
    let result = match optional_reason(&form) {
        Ok(reason) => state
            .offers
            .execute_expecting(
                &offer.to_string(),
                OfferCommand::WithdrawOffer {
                    withdrawn_on: Utc::now().date_naive(),
                    reason,
                },
                &metadata(&user.actor, request),
                expected,
            )
            .await
            .map(|c| c.version)
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    after_offer(&state, &user, offer, customer, result, "withdrawn").await
}
