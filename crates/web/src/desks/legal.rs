//! The legal desk: the queue of contracts requested and not yet signed (oldest
//! first), a customer search, the customer's page (contracts, health declaration
//! recorded and read with a purpose, access-logged), and the contract's page (its
//! offer, its customer, its status; the signed PDF uploaded, viewed, downloaded; the
//! termination with a reason).
//!
//! Reads go through legal's read model and reader role, by the functions of
//! `GET /api/v1/legal/…`; commands through the same executors and use cases as the
//! JSON commands.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use lae_api::AppState;
use lae_api::extract::RequestId;
use lae_api::problem::ApiError;
use lae_api::routes::contracts::{MAX_DOCUMENT_BYTES, Signature, read_document, sign_contract};
use lae_api::routes::metadata;
use lae_api::routes::queries::legal::{self as reads, RequestedParams};
use lae_domain::contract::ContractCommand;
use lae_domain::customer::{CustomerCommand, MAX_ILLNESSES};
use lae_domain::{
    AlcoholUse, ContractId, ContractReference, DocumentName, Illness, Reason, TobaccoUse,
};
use lae_projections::Department;
use uuid::Uuid;

use super::lookup::{self, Results, await_version, date_field, days, full_name, path_id};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

const HOME: &str = "/desk/legal";
const DEPARTMENT: Department = Department::Legal;
/// Requested contracts per page of the queue.
const QUEUE_PAGE: u32 = 50;

/// The desk's navigation: (address, French label).
pub const NAV: &[(&str, &str)] = &[
    (HOME, "Contrats à signer"),
    ("/desk/legal/tickets", "Tickets reçus"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(home))
        .route("/desk/legal/search", post(search))
        .route("/desk/legal/customers/{id}", get(customer))
        .route(
            "/desk/legal/customers/{id}/health-declaration",
            post(declare_health),
        )
        .route(
            "/desk/legal/customers/{id}/health-declaration/consultation",
            post(read_health),
        )
        .route("/desk/legal/contracts/{id}", get(contract))
        .route(
            "/desk/legal/contracts/{id}/signature",
            post(sign).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 256 * 1024)),
        )
        .route("/desk/legal/contracts/{id}/termination", post(terminate))
        .route("/desk/legal/contracts/{id}/document", post(document))
}

// ---------------------------------------------------------------------------------
// The queue and the search

#[derive(Debug)]
struct QueueLine {
    id: Uuid,
    requested: String,
    waiting: String,
    customer: String,
    customer_href: Option<String>,
    product: String,
    premium: String,
}

#[derive(Template)]
#[template(path = "legal_home.html")]
struct HomePage {
    layout: Layout,
    queue: Vec<QueueLine>,
    next_cursor: Option<String>,
    later_page: bool,
    queue_error: Option<String>,
    results: Results,
}

#[derive(Template)]
#[template(path = "desk_results.html")]
struct ResultsPartial {
    results: Results,
}

/// `GET /desk/legal`: the contracts waiting for a signature, oldest first.
async fn home(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let cursor = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("cursor="))
        .map(str::to_owned);
    home_page(
        &state,
        &user,
        cursor,
        Results::empty(HOME, &user.form_token),
    )
    .await
}

async fn home_page(
    state: &AppState,
    user: &PageUser,
    cursor: Option<String>,
    results: Results,
) -> Result<Response, ApiError> {
    let later_page = cursor.is_some();
    let params = RequestedParams {
        limit: Some(QUEUE_PAGE),
        cursor,
    };
    let (items, next_cursor, queue_error) = match reads::requested_contracts(state, &params).await {
        Ok(page) => (page.items, page.next_cursor, None),
        Err(ApiError::BadParameter { detail, .. }) => (Vec::new(), None, Some(detail)),
        Err(other) => return Err(other),
    };
    let today = Utc::now().date_naive();
    let queue = items
        .into_iter()
        .map(|k| QueueLine {
            id: k.id,
            requested: k.requested_on.map(format::date).unwrap_or_default(),
            waiting: k
                .requested_on
                .map(|d| days(today, d))
                .unwrap_or_else(|| "—".to_owned()),
            customer: lookup::customer_label(
                k.customer_number.as_deref(),
                k.last_name.as_deref(),
                k.first_name.as_deref(),
            ),
            customer_href: k.customer_id.map(|c| format!("{HOME}/customers/{c}")),
            product: k.product.unwrap_or_default(),
            premium: k
                .monthly_premium_cents
                .map(format::amount)
                .unwrap_or_default(),
        })
        .collect();
    let status = if queue_error.is_some() || results.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &HomePage {
            layout: Layout::desk("Contrats à signer", user, HOME),
            queue,
            next_cursor,
            later_page,
            queue_error,
            results,
        },
    )
}

/// `POST /desk/legal/search`.
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
    home_page(&state, &user, None, results).await
}

// ---------------------------------------------------------------------------------
// The customer's page

#[derive(Debug)]
struct ContractLine {
    id: Uuid,
    product: String,
    premium: String,
    status: &'static str,
    status_code: String,
    requested: String,
    signed: String,
    terminated: String,
}

/// The health declaration form's values.
#[derive(Debug, Default)]
struct HealthForm {
    tobacco: String,
    alcohol: String,
    illnesses: String,
    declared_on: String,
}

/// A declaration read with a purpose.
#[derive(Debug)]
struct HealthView {
    tobacco: &'static str,
    alcohol: &'static str,
    illnesses: Vec<String>,
    declared_on: String,
    purpose: String,
}

#[derive(Template)]
#[template(path = "legal_customer.html")]
struct CustomerPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    id: Uuid,
    name: String,
    number: String,
    phone: String,
    email: String,
    on_file: bool,
    contracts: Vec<ContractLine>,
    health: HealthForm,
    health_errors: FieldErrors,
    purpose: String,
    purpose_error: Option<String>,
    declaration: Option<HealthView>,
    tobacco_choices: &'static [(&'static str, &'static str)],
    alcohol_choices: &'static [(&'static str, &'static str)],
}

const TOBACCO: &[(&str, &str)] = &[
    ("non_smoker", "Non-fumeur"),
    ("smoker", "Fumeur"),
    ("unknown", "Non renseigné"),
];
const ALCOHOL: &[(&str, &str)] = &[
    ("none", "Aucune"),
    ("occasional", "Occasionnelle"),
    ("regular", "Régulière"),
    ("unknown", "Non renseignée"),
];

fn label_of(choices: &'static [(&'static str, &'static str)], code: &str) -> &'static str {
    choices
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Non renseigné", |(_, label)| label)
}

/// What a customer page shows besides the customer: a notice, a refused form, a
/// declaration read.
#[derive(Default)]
struct CustomerState {
    notice: Option<String>,
    health: Option<HealthForm>,
    health_errors: FieldErrors,
    purpose: String,
    purpose_error: Option<String>,
    declaration: Option<HealthView>,
}

/// `GET /desk/legal/customers/{id}`.
async fn customer(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[("health", "Déclaration de santé enregistrée.")],
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
    let contracts = reads::customer_contracts(state, id).await?;
    let c = view.customer;
    let contracts = contracts
        .into_iter()
        .map(|k| {
            let code = k.status.unwrap_or_default();
            ContractLine {
                id: k.id,
                product: k.product.unwrap_or_default(),
                premium: k
                    .monthly_premium_cents
                    .map(format::amount)
                    .unwrap_or_default(),
                status: contract_status(&code),
                status_code: code,
                requested: k.requested_on.map(format::date).unwrap_or_default(),
                signed: k.signed_on.map(format::date).unwrap_or_default(),
                terminated: k.terminated_on.map(format::date).unwrap_or_default(),
            }
        })
        .collect();
    let name = full_name(c.last_name.as_deref(), c.first_name.as_deref());
    render(
        status,
        &CustomerPage {
            layout: Layout::desk(name.clone(), user, ""),
            form_token: user.form_token.clone(),
            notice: page.notice,
            id,
            name,
            number: c.customer_number.unwrap_or_default(),
            phone: c.phone.as_deref().map(format::phone).unwrap_or_default(),
            email: c.email.unwrap_or_default(),
            on_file: view.health_declaration,
            contracts,
            health: page.health.unwrap_or_else(|| HealthForm {
                declared_on: Utc::now().date_naive().to_string(),
                ..HealthForm::default()
            }),
            health_errors: page.health_errors,
            purpose: page.purpose,
            purpose_error: page.purpose_error,
            declaration: page.declaration,
            tobacco_choices: TOBACCO,
            alcohol_choices: ALCOHOL,
        },
    )
}

/// A contract's status in French.
fn contract_status(code: &str) -> &'static str {
    match code {
        "requested" => "À signer",
        "signed" => "Signé",
        "terminated" => "Résilié",
        _ => "Inconnu",
    }
}

/// `POST /desk/legal/customers/{id}/health-declaration`: records a declaration (the
/// same command as `POST /api/v1/customers/{id}/health-declaration`); it replaces
/// the previous one.
async fn declare_health(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let typed = HealthForm {
        tobacco: form.get("tobacco").to_owned(),
        alcohol: form.get("alcohol").to_owned(),
        illnesses: form.get("illnesses").to_owned(),
        declared_on: form.get("declared_on").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let tobacco = match form.get("tobacco").parse::<TobaccoUse>() {
        Ok(t) => Some(t),
        Err(_) => {
            errors.add("tobacco", "Indiquez la consommation de tabac déclarée.");
            None
        }
    };
    let alcohol = match form.get("alcohol").parse::<AlcoholUse>() {
        Ok(a) => Some(a),
        Err(_) => {
            errors.add("alcohol", "Indiquez la consommation d'alcool déclarée.");
            None
        }
    };
    let illnesses = illnesses(form.get("illnesses"), &mut errors);
    let declared_on = date_field(&form, "declared_on", &mut errors, None);
    let refused = |errors: FieldErrors, typed: HealthForm| {
        customer_page(
            &state,
            &user,
            id,
            CustomerState {
                health: Some(typed),
                health_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(tobacco), Some(alcohol), Some(illnesses), Some(declared_on)) =
        (tobacco, alcohol, illnesses, declared_on)
    else {
        return refused(errors, typed).await;
    };
    let command = CustomerCommand::DeclareHealth {
        tobacco,
        alcohol,
        illnesses,
        declared_on,
    };
    let executed = state
        .customers
        .execute(&id.to_string(), command, &metadata(&user.actor, request))
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            let shown = await_version(
                &state,
                DEPARTMENT,
                "SELECT version FROM legal.health_declarations WHERE customer_id = $1",
                id,
                committed.version,
            )
            .await;
            Ok(see_other(&lookup::after(
                &format!("{HOME}/customers/{id}"),
                "health",
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "illnesses") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

/// One illness per line; blank lines ignored.
fn illnesses(raw: &str, errors: &mut FieldErrors) -> Option<Vec<Illness>> {
    let lines: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > MAX_ILLNESSES {
        errors.add(
            "illnesses",
            format!(
                "Au plus {MAX_ILLNESSES} affections par déclaration ({} saisies).",
                lines.len()
            ),
        );
        return None;
    }
    let mut parsed = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        match Illness::parse(line) {
            Ok(illness) => parsed.push(illness),
            Err(e) => {
                errors.add("illnesses", format!("Ligne {} : {e}.", n + 1));
                return None;
            }
        }
    }
    Some(parsed)
}

/// `POST …/health-declaration/consultation`: reads the declaration for the purpose
/// given (posted: never in an address), written to the access log first, by the
/// same function as `GET /api/v1/legal/customers/{id}/health-declaration`.
async fn read_health(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let purpose = form.get("purpose").trim().to_owned();
    let refused = |message: String| {
        customer_page(
            &state,
            &user,
            id,
            CustomerState {
                purpose: purpose.clone(),
                purpose_error: Some(message),
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if purpose.is_empty() {
        return refused(
            "Indiquez pourquoi vous consultez la déclaration : le motif est inscrit au journal des accès."
                .to_owned(),
        )
        .await;
    }
    if purpose.chars().count() > 200 {
        return refused("Le motif tient en 200 caractères au plus.".to_owned()).await;
    }
    match reads::health_declaration(&state, &user.actor, request, id, Some(&purpose)).await {
        Ok(d) => {
            let declaration = HealthView {
                tobacco: label_of(TOBACCO, d.tobacco.as_deref().unwrap_or("unknown")),
                alcohol: label_of(ALCOHOL, d.alcohol.as_deref().unwrap_or("unknown")),
                illnesses: d.illnesses.0,
                declared_on: d.declared_on.map(format::date).unwrap_or_default(),
                purpose: purpose.clone(),
            };
            customer_page(
                &state,
                &user,
                id,
                CustomerState {
                    declaration: Some(declaration),
                    ..CustomerState::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(ApiError::NotFound {
            code: "health_declaration_not_found",
            ..
        }) => {
            refused("Aucune déclaration de santé n'est enregistrée pour ce client.".to_owned())
                .await
        }
        Err(ApiError::BadParameter { detail, .. }) => refused(detail).await,
        Err(other) => Err(other),
    }
}

// ---------------------------------------------------------------------------------
// The contract's page

#[derive(Debug)]
struct ContractView {
    id: Uuid,
    product: String,
    premium: String,
    offer: String,
    status: &'static str,
    status_code: String,
    requested: String,
    reference: String,
    signed: String,
    document_name: String,
    document_size: String,
    has_document: bool,
    terminated: String,
    termination_reason: String,
    version: i64,
}

#[derive(Debug)]
struct CustomerLine {
    href: String,
    name: String,
    number: String,
    phone: String,
    email: String,
}

/// The signature form's values.
#[derive(Debug, Default)]
struct SignForm {
    reference: String,
    signed_on: String,
}

/// The termination form's values.
#[derive(Debug, Default)]
struct TerminateForm {
    terminated_on: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "legal_contract.html")]
struct ContractPage {
    layout: Layout,
    form_token: String,
    notice: Option<String>,
    contract: ContractView,
    customer: Option<CustomerLine>,
    sign: SignForm,
    sign_errors: FieldErrors,
    terminate: TerminateForm,
    terminate_errors: FieldErrors,
    max_megabytes: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct ContractState {
    notice: Option<String>,
    sign: Option<SignForm>,
    sign_errors: FieldErrors,
    terminate: Option<TerminateForm>,
    terminate_errors: FieldErrors,
}

/// `GET /desk/legal/contracts/{id}`.
async fn contract(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "contract_not_found", "contrat")?;
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[
            (
                "signed",
                "Contrat signé : le document est enregistré, le commercial et la facturation en sont informés.",
            ),
            ("terminated", "Contrat résilié."),
        ],
    );
    let page = ContractState {
        notice,
        ..ContractState::default()
    };
    contract_page(&state, &user, id, page, StatusCode::OK).await
}

async fn contract_page(
    state: &AppState,
    user: &PageUser,
    id: Uuid,
    page: ContractState,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let found = reads::contract(state, id).await?;
    let k = found.contract;
    let code = k.status.clone().unwrap_or_default();
    let today = Utc::now().date_naive().to_string();
    let view = ContractView {
        id: k.id,
        product: k.product.unwrap_or_default(),
        premium: k
            .monthly_premium_cents
            .map(format::amount)
            .unwrap_or_default(),
        offer: k
            .offer_id
            .map_or_else(|| "Sans offre (demande directe)".to_owned(), short_id),
        status: contract_status(&code),
        status_code: code,
        requested: k.requested_on.map(format::date).unwrap_or_default(),
        reference: k.reference.unwrap_or_default(),
        signed: k.signed_on.map(format::date).unwrap_or_default(),
        document_name: k.document_name.unwrap_or_default(),
        document_size: k.document_size_bytes.map(size).unwrap_or_default(),
        has_document: k.document_sha256.is_some(),
        terminated: k.terminated_on.map(format::date).unwrap_or_default(),
        termination_reason: k.termination_reason.unwrap_or_default(),
        version: k.version,
    };
    let customer = found.customer.map(|c| CustomerLine {
        href: format!("{HOME}/customers/{}", c.id),
        name: full_name(c.last_name.as_deref(), c.first_name.as_deref()),
        number: c.customer_number.unwrap_or_default(),
        phone: c.phone.as_deref().map(format::phone).unwrap_or_default(),
        email: c.email.unwrap_or_default(),
    });
    let title = format!("Contrat {}", view.product);
    render(
        status,
        &ContractPage {
            layout: Layout::desk(title, user, ""),
            form_token: user.form_token.clone(),
            notice: page.notice,
            contract: view,
            customer,
            sign: page.sign.unwrap_or_else(|| SignForm {
                signed_on: today.clone(),
                ..SignForm::default()
            }),
            sign_errors: page.sign_errors,
            terminate: page.terminate.unwrap_or_else(|| TerminateForm {
                terminated_on: today,
                ..TerminateForm::default()
            }),
            terminate_errors: page.terminate_errors,
            max_megabytes: MAX_DOCUMENT_BYTES / (1024 * 1024),
            max_bytes: MAX_DOCUMENT_BYTES,
        },
    )
}

/// The first block of an id, enough to tell two offers apart on a screen.
fn short_id(id: Uuid) -> String {
    let s = id.to_string();
    format!("n° {}", &s[..8])
}

/// `12,5 Ko`, `2,3 Mo`.
fn size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 * 1024.0 {
        format!("{:.1} Ko", b / 1024.0).replace('.', ",")
    } else {
        format!("{:.1} Mo", b / (1024.0 * 1024.0)).replace('.', ",")
    }
}

const CONTRACT_VERSION: &str = "SELECT version FROM legal.contracts WHERE contract_id = $1";

/// The signature form, read from its multipart body: the text fields and the file.
struct SignatureUpload {
    fields: std::collections::BTreeMap<String, String>,
    file_name: Option<String>,
    content: Option<Result<Vec<u8>, String>>,
}

impl SignatureUpload {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    async fn read(mut multipart: Multipart) -> Result<Self, ApiError> {
        let mut upload = Self {
            fields: std::collections::BTreeMap::new(),
            file_name: None,
            content: None,
        };
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                // A body cut by the size limit: what was read is kept, the file is refused.
                Err(_) => {
                    upload.content = Some(Err(too_big()));
                    break;
                }
            };
            let name = field.name().unwrap_or_default().to_owned();
            if name == "document" {
                upload.file_name = field
                    .file_name()
                    .map(str::to_owned)
                    .filter(|n| !n.is_empty());
                upload.content = Some(match field.bytes().await {
                    Ok(bytes) => Ok(bytes.to_vec()),
                    Err(_) => Err(too_big()),
                });
            } else {
                let value = field.text().await.map_err(|_| ApiError::Malformed {
                    detail: "Formulaire illisible : rechargez la page et recommencez.".into(),
                    field: None,
                })?;
                if value.len() > crate::forms::MAX_FIELD {
                    return Err(ApiError::invalid(
                        "field_too_long",
                        name,
                        "Ce champ est beaucoup trop long.",
                    ));
                }
                upload.fields.entry(name).or_insert(value);
            }
        }
        Ok(upload)
    }
}

fn too_big() -> String {
    format!(
        "Le fichier dépasse {} Mo : numérisez le contrat en résolution plus basse.",
        MAX_DOCUMENT_BYTES / (1024 * 1024)
    )
}

/// `POST /desk/legal/contracts/{id}/signature` (multipart): stores the signed PDF and
/// signs the contract, by the same use case as `POST /api/v1/contracts/{id}/signature`.
/// Every field is checked before anything is stored.
async fn sign(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "contract_not_found", "contrat")?;
    crate::session::same_origin(&headers)?;
    let mut upload = SignatureUpload::read(multipart).await?;
    user.check_token(&state, upload.get("_csrf"))?;
    let typed = SignForm {
        reference: upload.get("reference").to_owned(),
        signed_on: upload.get("signed_on").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let reference = errors.check(
        "reference",
        ContractReference::parse(upload.get("reference")),
    );
    let mut dates = Fields::default();
    dates.insert("signed_on", upload.get("signed_on"));
    let signed_on = date_field(&dates, "signed_on", &mut errors, None);
    let content = match upload.content.take() {
        None => {
            errors.add("document", "Joignez le contrat signé (un fichier PDF).");
            None
        }
        Some(Err(message)) => {
            errors.add("document", message);
            None
        }
        Some(Ok(bytes)) if bytes.is_empty() => {
            errors.add("document", "Joignez le contrat signé (un fichier PDF).");
            None
        }
        Some(Ok(bytes)) if bytes.len() > MAX_DOCUMENT_BYTES => {
            errors.add("document", too_big());
            None
        }
        Some(Ok(bytes)) if !bytes.starts_with(b"%PDF-") => {
            errors.add(
                "document",
                "Ce fichier n'est pas un PDF : enregistrez le contrat numérisé au format PDF.",
            );
            None
        }
        Some(Ok(bytes)) => Some(bytes),
    };
    let name = match &upload.file_name {
        Some(n) => errors.check("document", DocumentName::parse(file_name_only(n))),
        None => DocumentName::parse("contrat-signe.pdf").ok(),
    };
    let refused = |errors: FieldErrors, typed: SignForm| {
        contract_page(
            &state,
            &user,
            id,
            ContractState {
                sign: Some(typed),
                sign_errors: errors,
                ..ContractState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(reference), Some(signed_on), Some(content), Some(name)) =
        (reference, signed_on, content, name)
    else {
        return refused(errors, typed).await;
    };
    let expected = upload
        .get("version")
        .parse::<usize>()
        .ok()
        .filter(|v| *v > 0);
    let signature = Signature {
        reference,
        signed_on,
        name,
        media_type: "application/pdf".to_owned(),
        content,
    };
    let meta = metadata(&user.actor, request);
    match sign_contract(&state, ContractId::new(id), signature, &meta, expected).await {
        Ok(committed) => {
            let shown =
                await_version(&state, DEPARTMENT, CONTRACT_VERSION, id, committed.version).await;
            Ok(see_other(&lookup::after(
                &format!("{HOME}/contracts/{id}"),
                "signed",
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "document") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

/// The last component of a file name as a browser may send it (`C:\…\contrat.pdf`).
fn file_name_only(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// `POST /desk/legal/contracts/{id}/termination`.
async fn terminate(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "contract_not_found", "contrat")?;
    user.check_form(&state, &form)?;
    let typed = TerminateForm {
        terminated_on: form.get("terminated_on").to_owned(),
        reason: form.get("reason").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let terminated_on = date_field(&form, "terminated_on", &mut errors, None);
    let reason = if form.optional("reason").is_none() {
        errors.add(
            "reason",
            "Indiquez le motif de la résiliation (demande du client, décès, impayés…).",
        );
        None
    } else {
        errors.check("reason", Reason::parse(form.get("reason")))
    };
    let refused = |errors: FieldErrors, typed: TerminateForm| {
        contract_page(
            &state,
            &user,
            id,
            ContractState {
                terminate: Some(typed),
                terminate_errors: errors,
                ..ContractState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(terminated_on), Some(reason)) = (terminated_on, reason) else {
        return refused(errors, typed).await;
    };
    let expected = form.get("version").parse::<usize>().ok().filter(|v| *v > 0);
    let executed = state
        .contracts
        .execute_expecting(
            &id.to_string(),
            ContractCommand::TerminateContract {
                terminated_on,
                reason,
            },
            &metadata(&user.actor, request),
            expected,
        )
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            let shown =
                await_version(&state, DEPARTMENT, CONTRACT_VERSION, id, committed.version).await;
            Ok(see_other(&lookup::after(
                &format!("{HOME}/contracts/{id}"),
                "terminated",
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "terminated_on") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

/// `POST /desk/legal/contracts/{id}/document` (`purpose`, and `download=1` to save
/// it): the signed PDF of a contract legal holds, read for a purpose written to the
/// access log, never cached, never sniffed.
async fn document(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "contract_not_found", "contrat")?;
    user.check_form(&state, &form)?;
    let purpose = form.get("purpose").trim().to_owned();
    let download = form.get("download") == "1";
    // The same read as the JSON route: purpose required, access-logged first, opened
    // with the customer's key; a French refusal page otherwise (`refusals`).
    read_document(&state, &user.actor, request, id, Some(&purpose))
        .await?
        .into_response(download)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn illnesses_are_one_per_line_and_checked() {
        let mut errors = FieldErrors::default();
        let parsed = illnesses("Asthme\n\n  Diabète de type 2 \r\n", &mut errors).expect("read");
        assert_eq!(
            parsed.iter().map(Illness::as_str).collect::<Vec<_>>(),
            ["Asthme", "Diabète de type 2"]
        );
        assert!(errors.is_empty());
        let mut errors = FieldErrors::default();
        assert!(illnesses("Asthme\nbad\u{1b}", &mut errors).is_none());
        assert!(
            errors
                .of("illnesses")
                .is_some_and(|m| m.starts_with("Ligne 2"))
        );
    }

    #[test]
    fn waiting_reads_in_days_and_sizes_in_french_units() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("a date");
        assert_eq!(days(d("2026-12-06"), d("2026-12-06")), "aujourd'hui");
        assert_eq!(days(d("2026-12-06"), d("2026-12-05")), "1 jour");
        assert_eq!(days(d("2026-12-06"), d("2026-11-06")), "30 jours");
        assert_eq!(size(12_800), "12,5 Ko");
        assert_eq!(size(3 * 1024 * 1024), "3,0 Mo");
        assert_eq!(file_name_only("C:\\Scans\\contrat.pdf"), "contrat.pdf");
    }
}
