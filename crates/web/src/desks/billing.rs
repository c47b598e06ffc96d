//! The billing desk: a customer search, three cross-customer lists (unpaid invoices,
//! rejected payments, signed contracts not yet invoiced: sortable, a page at a time),
//! and the customer's page: the SEPA mandate (IBAN checked as it is typed, shown
//! masked, revealed for a purpose written to the access log; sign, amend, revoke), the
//! contracts billing invoices, and the invoices with their history (issue one; record
//! a payment, a rejection, a cancellation).
//!
//! Reads go through billing's read model and reader role, by the functions of
//! `GET /api/v1/billing/…`; commands through the same executors as the JSON commands.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate, Utc};
use lae_api::AppState;
use lae_api::extract::RequestId;
use lae_api::problem::ApiError;
use lae_api::routes::metadata;
use lae_api::routes::queries::billing::{self as reads, BillingList, ListParams, Order};
use lae_domain::customer::CustomerCommand;
use lae_domain::invoice::{InvoiceCommand, InvoiceError};
use lae_domain::{
    Cents, ContractId, CustomerId, Iban, IbanError, InvoiceId, InvoiceNumber, MandateReference,
    Reason,
};
use lae_projections::Department;
use lae_store::CommandError;
use uuid::Uuid;

use super::lookup::{
    self, Results, await_version, customer_label, date_field, days, full_name, path_id,
};
use super::{Layout, render, see_other};
use crate::format;
use crate::forms::{FieldErrors, Fields};
use crate::session::PageUser;

const HOME: &str = "/desk/billing";
const UNPAID: &str = "/desk/billing/unpaid";
const REJECTED: &str = "/desk/billing/rejected";
const UNINVOICED: &str = "/desk/billing/uninvoiced";
const COLLECTIONS: &str = "/desk/billing/collections";
const DEPARTMENT: Department = Department::Billing;
/// Rows per page of a list.
const LIST_PAGE: u32 = 25;

/// The desk's navigation: (address, French label).
pub const NAV: &[(&str, &str)] = &[
    (HOME, "Recherche client"),
    (UNPAID, "Impayés"),
    (REJECTED, "Prélèvements rejetés"),
    (UNINVOICED, "Contrats à facturer"),
    (COLLECTIONS, "Prélèvements SEPA"),
    (super::billing_requests::REQUESTS, "Demandes de facture"),
    ("/desk/billing/tickets", "Tickets reçus"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(home))
        .route("/desk/billing/search", post(search))
        .route("/desk/billing/iban-check", post(iban_check))
        .route(UNPAID, get(unpaid))
        .route(REJECTED, get(rejected))
        .route(UNINVOICED, get(uninvoiced))
        .route(COLLECTIONS, get(collections).post(collect))
        .route("/desk/billing/customers/{id}", get(customer))
        .route("/desk/billing/customers/{id}/mandate", post(sign_or_amend))
        .route(
            "/desk/billing/customers/{id}/mandate/revocation",
            post(revoke),
        )
        .route(
            "/desk/billing/customers/{id}/mandate/consultation",
            post(reveal),
        )
        .route("/desk/billing/customers/{id}/invoices", post(issue))
        .route("/desk/billing/invoices/{id}/payment", post(pay))
        .route(
            "/desk/billing/invoices/{id}/payment-rejection",
            post(reject),
        )
        .route("/desk/billing/invoices/{id}/cancellation", post(cancel))
}

// ---------------------------------------------------------------------------------
// The search

#[derive(Template)]
#[template(path = "billing_home.html")]
struct HomePage {
    layout: Layout,
    results: Results,
}

#[derive(Template)]
#[template(path = "desk_results.html")]
struct ResultsPartial {
    results: Results,
}

/// `GET /desk/billing`.
async fn home(user: PageUser) -> Result<Response, ApiError> {
    render(
        StatusCode::OK,
        &HomePage {
            layout: Layout::desk("Recherche client", &user, HOME),
            results: Results::empty(HOME, &user.form_token),
        },
    )
}

/// `POST /desk/billing/search`.
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
// The IBAN, checked as it is typed

/// The length of an IBAN in the SEPA countries LAE's customers bank in most.
fn iban_length(country: &str) -> Option<(usize, &'static str)> {
    Some(match country {
        "FR" => (27, "France"),
        "MC" => (27, "Monaco"),
        "DE" => (22, "Allemagne"),
        "BE" => (16, "Belgique"),
        "LU" => (20, "Luxembourg"),
        "CH" => (21, "Suisse"),
        "ES" => (24, "Espagne"),
        "IT" => (27, "Italie"),
        "PT" => (25, "Portugal"),
        "NL" => (18, "Pays-Bas"),
        "GB" => (22, "Royaume-Uni"),
        _ => return None,
    })
}

/// What the IBAN field says of what was typed: `Ok(masked)` when the IBAN is valid,
/// the French reason otherwise (`None` when nothing was typed).
fn iban_verdict(raw: &str) -> Option<Result<Iban, String>> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if compact.is_empty() {
        return None;
    }
    if let Some(c) = compact.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Some(Err(format!(
            "IBAN invalide : le caractère « {c} » n'est pas admis (lettres et chiffres seulement)."
        )));
    }
    let country: String = compact.chars().take(2).collect();
    if country.len() == 2 && !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some(Err(
            "IBAN invalide : il commence par le code du pays en deux lettres (FR pour la France)."
                .to_owned(),
        ));
    }
    if let Some((expected, name)) = iban_length(&country) {
        let typed = compact.chars().count();
        if typed < expected {
            return Some(Err(format!(
                "IBAN incomplet : {typed} caractères sur les {expected} d'un IBAN ({name})."
            )));
        }
        if typed > expected {
            return Some(Err(format!(
                "IBAN trop long : {typed} caractères pour {expected} attendus ({name})."
            )));
        }
    }
    Some(Iban::parse(&compact).map_err(|e: IbanError| format!("{e}.")))
}

#[derive(Template)]
#[template(path = "billing_iban_check.html")]
struct IbanCheck {
    verdict: Option<Result<String, String>>,
}

/// `POST /desk/billing/iban-check`: the IBAN field's live check (htmx), server-side,
/// with the same rules as the command; nothing is stored or logged.
async fn iban_check(
    State(state): State<AppState>,
    user: PageUser,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let verdict = iban_verdict(form.get("iban")).map(|v| v.map(|iban| iban.masked()));
    render(StatusCode::OK, &IbanCheck { verdict })
}

// ---------------------------------------------------------------------------------
// The cross-customer lists

/// A column header of a sortable list.
#[derive(Debug)]
struct SortLink {
    label: &'static str,
    href: String,
    /// `ascending`, `descending` or `none` (`aria-sort`).
    aria: &'static str,
    arrow: &'static str,
}

#[derive(Debug)]
struct ListLine {
    href: Option<String>,
    customer: String,
    first: String,
    second: String,
    third: String,
    amount: String,
    extra: String,
}

#[derive(Template)]
#[template(path = "billing_list.html")]
struct ListPage {
    layout: Layout,
    heading: &'static str,
    caption: &'static str,
    empty: &'static str,
    columns: [&'static str; 3],
    amount_sort: SortLink,
    date_sort: SortLink,
    lines: Vec<ListLine>,
    error: Option<String>,
    first_page: Option<String>,
    next_page: Option<String>,
}

/// `sort`, `order` and `cursor` of a list's address.
fn list_params(query: Option<&str>) -> ListParams {
    let mut p = ListParams {
        limit: Some(LIST_PAGE),
        ..ListParams::default()
    };
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("sort", v)) => p.sort = Some(v.to_owned()),
            Some(("order", "asc")) => p.order = Some(Order::Asc),
            Some(("order", "desc")) => p.order = Some(Order::Desc),
            Some(("cursor", v)) => p.cursor = Some(v.to_owned()),
            _ => {}
        }
    }
    p
}

/// The header link that sorts `list` on `key`: the other direction when it is the
/// current key, the key's natural direction otherwise.
fn sort_link(
    base: &str,
    list: BillingList,
    label: &'static str,
    key: &str,
    sort: &str,
    order: Order,
) -> SortLink {
    let current = key == sort;
    let next = match (current, order) {
        (true, Order::Asc) => Order::Desc,
        (true, Order::Desc) => Order::Asc,
        (false, _) if key == list.default_sort() => list.default_order(),
        (false, _) => Order::Desc,
    };
    SortLink {
        label,
        href: format!("{base}?sort={key}&order={}", next.as_str()),
        aria: match (current, order) {
            (false, _) => "none",
            (true, Order::Asc) => "ascending",
            (true, Order::Desc) => "descending",
        },
        arrow: match (current, order) {
            (false, _) => "",
            (true, Order::Asc) => " ▲",
            (true, Order::Desc) => " ▼",
        },
    }
}

fn or_dash(value: Option<NaiveDate>) -> String {
    value.map(format::date).unwrap_or_else(|| "—".to_owned())
}

struct ListSpec {
    list: BillingList,
    base: &'static str,
    title: &'static str,
    caption: &'static str,
    empty: &'static str,
    columns: [&'static str; 3],
    date_label: &'static str,
    amount_label: &'static str,
    amount_key: &'static str,
}

const UNPAID_SPEC: ListSpec = ListSpec {
    list: BillingList::Unpaid,
    base: UNPAID,
    title: "Factures impayées",
    caption: "Factures émises ni payées ni annulées, de l'échéance la plus ancienne à la plus récente par défaut.",
    empty: "Aucune facture impayée.",
    columns: ["Facture", "Émise le", "Retard"],
    date_label: "Échéance",
    amount_label: "Montant",
    amount_key: "amount",
};

const REJECTED_SPEC: ListSpec = ListSpec {
    list: BillingList::Rejected,
    base: REJECTED,
    title: "Prélèvements rejetés",
    caption: "Factures dont le prélèvement a été rejeté par la banque, les rejets les plus récents d'abord par défaut.",
    empty: "Aucun prélèvement rejeté en attente.",
    columns: ["Facture", "Échéance", "Motif du rejet"],
    date_label: "Rejeté le",
    amount_label: "Montant",
    amount_key: "amount",
};

const UNINVOICED_SPEC: ListSpec = ListSpec {
    list: BillingList::Uninvoiced,
    base: UNINVOICED,
    title: "Contrats signés à facturer",
    caption: "Contrats signés et en vigueur pour lesquels aucune facture n'a encore été émise, les plus anciennement signés d'abord par défaut.",
    empty: "Tous les contrats signés ont au moins une facture.",
    columns: ["Produit", "Attente", "Mandat"],
    date_label: "Signé le",
    amount_label: "Prime mensuelle",
    amount_key: "premium",
};

async fn list(
    state: &AppState,
    user: &PageUser,
    spec: &ListSpec,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let params = list_params(query);
    let later = params.cursor.is_some();
    let today = Utc::now().date_naive();
    let fetched = match spec.list {
        BillingList::Uninvoiced => {
            reads::list_page::<reads::ListedContract>(state, spec.list, &params)
                .await
                .map(|page| {
                    let lines = page
                        .items
                        .into_iter()
                        .map(|k| ListLine {
                            href: k.customer_id.map(customer_url),
                            customer: customer_label(
                                k.customer_number.as_deref(),
                                k.last_name.as_deref(),
                                k.first_name.as_deref(),
                            ),
                            first: k.product.unwrap_or_default(),
                            second: k.signed_on.map(|d| days(today, d)).unwrap_or_default(),
                            third: mandate_status(k.mandate_status.as_deref()).to_owned(),
                            amount: k
                                .monthly_premium_cents
                                .map(format::amount)
                                .unwrap_or_default(),
                            extra: or_dash(k.signed_on),
                        })
                        .collect::<Vec<_>>();
                    (lines, page.sort, page.order, page.next_cursor)
                })
        }
        list => reads::list_page::<reads::ListedInvoice>(state, list, &params)
            .await
            .map(|page| {
                let lines = page
                    .items
                    .into_iter()
                    .map(|i| {
                        let (second, third, date) = if list == BillingList::Rejected {
                            (
                                or_dash(i.due_on),
                                i.rejection_reason.unwrap_or_default(),
                                or_dash(i.rejected_on),
                            )
                        } else {
                            (
                                or_dash(i.issued_on),
                                i.due_on
                                    .filter(|d| *d < today)
                                    .map(|d| days(today, d))
                                    .unwrap_or_else(|| "à échoir".to_owned()),
                                or_dash(i.due_on),
                            )
                        };
                        ListLine {
                            href: i.customer_id.map(customer_url),
                            customer: customer_label(
                                i.customer_number.as_deref(),
                                i.last_name.as_deref(),
                                i.first_name.as_deref(),
                            ),
                            first: i.number.unwrap_or_default(),
                            second,
                            third,
                            amount: i.amount_cents.map(format::amount).unwrap_or_default(),
                            extra: date,
                        }
                    })
                    .collect::<Vec<_>>();
                (lines, page.sort, page.order, page.next_cursor)
            }),
    };
    let (lines, sort, order, next, error) = match fetched {
        Ok((lines, sort, order, next)) => (lines, sort, order, next, None),
        Err(ApiError::BadParameter { detail, .. }) => (
            Vec::new(),
            spec.list.default_sort(),
            spec.list.default_order(),
            None,
            Some(detail),
        ),
        Err(other) => return Err(other),
    };
    let date_key = spec.list.default_sort();
    let next_page = next.map(|cursor| {
        format!(
            "{}?sort={sort}&order={}&cursor={cursor}",
            spec.base,
            order.as_str()
        )
    });
    let first_page = later.then(|| format!("{}?sort={sort}&order={}", spec.base, order.as_str()));
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &ListPage {
            layout: Layout::desk(spec.title, user, spec.base),
            heading: spec.title,
            caption: spec.caption,
            empty: spec.empty,
            columns: spec.columns,
            date_sort: sort_link(spec.base, spec.list, spec.date_label, date_key, sort, order),
            amount_sort: sort_link(
                spec.base,
                spec.list,
                spec.amount_label,
                spec.amount_key,
                sort,
                order,
            ),
            lines,
            error,
            first_page,
            next_page,
        },
    )
}

/// `GET /desk/billing/unpaid`.
async fn unpaid(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(&state, &user, &UNPAID_SPEC, query.as_deref()).await
}

/// `GET /desk/billing/rejected`.
async fn rejected(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(&state, &user, &REJECTED_SPEC, query.as_deref()).await
}

/// `GET /desk/billing/uninvoiced`.
async fn uninvoiced(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(&state, &user, &UNINVOICED_SPEC, query.as_deref()).await
}

fn mandate_status(code: Option<&str>) -> &'static str {
    match code {
        Some("active") => "Actif",
        Some("revoked") => "Révoqué",
        Some(_) => "Inconnu",
        None => "Aucun mandat",
    }
}

// ---------------------------------------------------------------------------------
// The customer's page

#[derive(Debug)]
struct MandateView {
    status_code: String,
    status: &'static str,
    iban: String,
    revealed: bool,
    reference: String,
    signed: String,
    amended: String,
    revoked: String,
    revocation_reason: String,
    active: bool,
}

#[derive(Debug)]
struct MandateStepLine {
    label: &'static str,
    date: String,
    iban: String,
    reference: String,
    previous: String,
    reason: String,
    recorded: String,
}

#[derive(Debug)]
struct InvoiceStepLine {
    label: &'static str,
    date: String,
    amount: String,
    reason: String,
}

#[derive(Debug)]
struct InvoiceLine {
    id: Uuid,
    number: String,
    amount: String,
    amount_input: String,
    issued: String,
    due: String,
    overdue: bool,
    status: &'static str,
    status_code: String,
    payable: bool,
    rejectable: bool,
    contract: String,
    version: i64,
    history: Vec<InvoiceStepLine>,
}

#[derive(Debug)]
struct ContractLine {
    id: Uuid,
    product: String,
    premium: String,
    status: &'static str,
    status_code: String,
    signed: String,
    invoiced: String,
}

/// The mandate form's values (a signature, or an amendment of the active one).
#[derive(Debug, Default)]
struct MandateForm {
    iban: String,
    mandate_reference: String,
    date: String,
}

/// The revocation form's values.
#[derive(Debug, Default)]
struct RevokeForm {
    reason: String,
    date: String,
}

/// The new invoice form's values.
#[derive(Debug, Default)]
struct InvoiceForm {
    id: String,
    number: String,
    amount: String,
    contract: String,
    issued_on: String,
    due_on: String,
}

#[derive(Template)]
#[template(path = "billing_customer.html")]
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
    mandate: Option<MandateView>,
    mandate_active: bool,
    mandate_history: Vec<MandateStepLine>,
    mandate_form: MandateForm,
    mandate_errors: FieldErrors,
    iban_ok: Option<String>,
    revoke_form: RevokeForm,
    revoke_errors: FieldErrors,
    purpose: String,
    purpose_error: Option<String>,
    contracts: Vec<ContractLine>,
    invoices: Vec<InvoiceLine>,
    invoice_form: InvoiceForm,
    invoice_errors: FieldErrors,
    unpaid_total: String,
}

#[derive(Default)]
struct CustomerState {
    notice: Option<String>,
    alert: Option<String>,
    mandate_form: Option<MandateForm>,
    mandate_errors: FieldErrors,
    revoke_form: Option<RevokeForm>,
    revoke_errors: FieldErrors,
    purpose: String,
    purpose_error: Option<String>,
    /// The mandate read in full for a purpose (already written to the access log).
    revealed: Option<reads::MandateWithHistory>,
    invoice_form: Option<InvoiceForm>,
    invoice_errors: FieldErrors,
}

fn customer_url(id: Uuid) -> String {
    format!("{HOME}/customers/{id}")
}

/// `GET /desk/billing/customers/{id}`.
async fn customer(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    let notice = lookup::notice(
        query.as_deref().unwrap_or_default(),
        &[
            ("signed", "Mandat de prélèvement enregistré."),
            ("amended", "Mandat modifié."),
            ("revoked", "Mandat révoqué."),
            ("issued", "Facture émise."),
            ("paid", "Paiement enregistré."),
            ("rejected", "Rejet du prélèvement enregistré."),
            ("cancelled", "Facture annulée."),
        ],
    );
    let page = CustomerState {
        notice,
        ..CustomerState::default()
    };
    customer_page(&state, &user, request, id, page, StatusCode::OK).await
}

async fn customer_page(
    state: &AppState,
    user: &PageUser,
    request: RequestId,
    id: Uuid,
    page: CustomerState,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = reads::customer_view(state, id).await?;
    let (mandate_full, revealed) = match page.revealed {
        Some(full) => (Some(full), true),
        None => (
            reads::mandate_view(state, &user.actor, request, id, false, None).await?,
            false,
        ),
    };
    let invoices = reads::customer_invoices(state, id).await?;
    let contracts = reads::customer_contracts(state, id).await?;
    let today = Utc::now().date_naive();

    let mandate = mandate_full.as_ref().map(|m| {
        let code = m.mandate.status.clone().unwrap_or_default();
        MandateView {
            status: mandate_status(Some(&code)),
            active: code == "active",
            status_code: code,
            iban: m
                .mandate
                .iban
                .as_deref()
                .map(|iban| {
                    if revealed {
                        Iban::parse(iban).map_or_else(|_| iban.to_owned(), |i| spaced(i.as_str()))
                    } else {
                        iban.to_owned()
                    }
                })
                .unwrap_or_default(),
            revealed,
            reference: m.mandate.mandate_reference.clone().unwrap_or_default(),
            signed: m.mandate.signed_on.map(format::date).unwrap_or_default(),
            amended: m.mandate.amended_on.map(format::date).unwrap_or_default(),
            revoked: m.mandate.revoked_on.map(format::date).unwrap_or_default(),
            revocation_reason: m.mandate.revocation_reason.clone().unwrap_or_default(),
        }
    });
    let shown = |iban: Option<&str>| match iban {
        Some(i) if revealed => spaced(i),
        Some(i) => i.to_owned(),
        None => String::new(),
    };
    let mandate_history = mandate_full
        .as_ref()
        .map(|m| {
            m.history
                .iter()
                .rev()
                .map(|step| MandateStepLine {
                    label: match step.kind.as_str() {
                        "signed" => "Signature",
                        "amended" => "Modification",
                        "revoked" => "Révocation",
                        _ => "Autre",
                    },
                    date: format::date(step.effective_on),
                    iban: shown(step.iban.as_deref()),
                    reference: step.mandate_reference.clone().unwrap_or_default(),
                    previous: match (&step.previous_iban, &step.previous_mandate_reference) {
                        (Some(iban), Some(reference)) => {
                            format!("{} · {reference}", shown(Some(iban)))
                        }
                        _ => String::new(),
                    },
                    reason: step.reason.clone().unwrap_or_default(),
                    recorded: format::date_time(step.recorded_at),
                })
                .collect()
        })
        .unwrap_or_default();

    let product_of = |contract: Option<Uuid>| {
        contract
            .and_then(|k| contracts.iter().find(|c| c.id == k))
            .and_then(|c| c.product.clone())
            .unwrap_or_default()
    };
    let mut unpaid_cents = 0_i64;
    let invoice_lines: Vec<InvoiceLine> = invoices
        .iter()
        .map(|i| {
            let code = i.status.clone().unwrap_or_default();
            let open = code == "issued" || code == "payment_rejected";
            if open {
                unpaid_cents += i.amount_cents.unwrap_or(0);
            }
            InvoiceLine {
                id: i.id,
                number: i.number.clone().unwrap_or_default(),
                amount: i.amount_cents.map(format::amount).unwrap_or_default(),
                amount_input: i.amount_cents.map(euros_input).unwrap_or_default(),
                issued: or_dash(i.issued_on),
                due: or_dash(i.due_on),
                overdue: open && i.due_on.is_some_and(|d| d < today),
                status: invoice_status(&code),
                payable: open,
                rejectable: code == "issued",
                status_code: code,
                contract: product_of(i.contract_id),
                version: i.version,
                history: i
                    .history
                    .iter()
                    .map(|s| InvoiceStepLine {
                        label: invoice_step(&s.kind),
                        date: format::date(s.on_date),
                        amount: s.amount_cents.map(format::amount).unwrap_or_default(),
                        reason: s.reason.clone().unwrap_or_default(),
                    })
                    .collect(),
            }
        })
        .collect();
    let contract_lines = contracts
        .iter()
        .map(|k| {
            let code = k.status.clone().unwrap_or_default();
            ContractLine {
                id: k.id,
                product: k.product.clone().unwrap_or_default(),
                premium: k
                    .monthly_premium_cents
                    .map(format::amount)
                    .unwrap_or_default(),
                status: contract_status(&code),
                status_code: code,
                signed: k.signed_on.map(format::date).unwrap_or_default(),
                invoiced: k
                    .first_invoiced_on
                    .map(|d| format!("depuis le {}", format::date(d)))
                    .unwrap_or_else(|| "jamais facturé".to_owned()),
            }
        })
        .collect();

    let mandate_form = page.mandate_form.unwrap_or_else(|| MandateForm {
        mandate_reference: match &mandate {
            Some(m) if m.active => m.reference.clone(),
            _ => String::new(),
        },
        date: today.to_string(),
        ..MandateForm::default()
    });
    let iban_ok = match iban_verdict(&mandate_form.iban) {
        Some(Ok(iban)) if page.mandate_errors.of("iban").is_none() => Some(iban.masked()),
        _ => None,
    };
    let revoke_form = page.revoke_form.unwrap_or_else(|| RevokeForm {
        date: today.to_string(),
        ..RevokeForm::default()
    });
    // A signed contract never invoiced is the likeliest invoice to issue.
    let suggested = contracts
        .iter()
        .find(|k| k.status.as_deref() == Some("signed") && k.first_invoiced_on.is_none());
    let invoice_form = page.invoice_form.unwrap_or_else(|| InvoiceForm {
        id: Uuid::new_v4().to_string(),
        amount: suggested
            .and_then(|k| k.monthly_premium_cents)
            .map(euros_input)
            .unwrap_or_default(),
        contract: suggested.map(|k| k.id.to_string()).unwrap_or_default(),
        issued_on: today.to_string(),
        due_on: (today + Duration::days(30)).to_string(),
        ..InvoiceForm::default()
    });

    let c = view.customer;
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
            mandate_active: mandate.as_ref().is_some_and(|m| m.active),
            mandate,
            mandate_history,
            mandate_form,
            mandate_errors: page.mandate_errors,
            iban_ok,
            revoke_form,
            revoke_errors: page.revoke_errors,
            purpose: page.purpose,
            purpose_error: page.purpose_error,
            contracts: contract_lines,
            invoices: invoice_lines,
            invoice_form,
            invoice_errors: page.invoice_errors,
            unpaid_total: if unpaid_cents > 0 {
                format::amount(unpaid_cents)
            } else {
                String::new()
            },
        },
    )
}

/// `FR76 3000 6000 0112 3456 7890 189`: an IBAN in groups of four, as printed.
fn spaced(electronic: &str) -> String {
    let mut out = String::with_capacity(electronic.len() + electronic.len() / 4);
    for (i, c) in electronic
        .chars()
        .filter(|c| !c.is_whitespace())
        .enumerate()
    {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// `49,90`: an amount as the amount field takes it back.
fn euros_input(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{},{:02}", abs / 100, abs % 100)
}

fn invoice_status(code: &str) -> &'static str {
    match code {
        "issued" => "À payer",
        "paid" => "Payée",
        "payment_rejected" => "Prélèvement rejeté",
        "cancelled" => "Annulée",
        _ => "Inconnu",
    }
}

fn invoice_step(kind: &str) -> &'static str {
    match kind {
        "issued" => "Émission",
        "paid" => "Paiement",
        "payment_rejected" => "Rejet du prélèvement",
        "cancelled" => "Annulation",
        _ => "Autre",
    }
}

fn contract_status(code: &str) -> &'static str {
    match code {
        "requested" => "En cours de signature",
        "signed" => "Signé",
        "terminated" => "Résilié",
        _ => "Inconnu",
    }
}

const MANDATE_VERSION: &str = "SELECT version FROM billing.mandates WHERE customer_id = $1";
const INVOICE_VERSION: &str = "SELECT version FROM billing.invoices WHERE invoice_id = $1";

/// `POST /desk/billing/customers/{id}/mandate`: signs a mandate, or amends the
/// active one (`mode=amend`): the same commands as `POST /api/v1/customers/{id}/mandate`
/// and `PUT …/mandate`.
async fn sign_or_amend(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let amend = form.get("mode") == "amend";
    let typed = MandateForm {
        iban: form.get("iban").to_owned(),
        mandate_reference: form.get("mandate_reference").to_owned(),
        date: form.get("date").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let iban = match iban_verdict(form.get("iban")) {
        None => {
            errors.add("iban", "Saisissez l'IBAN du compte à prélever.");
            None
        }
        Some(Err(message)) => {
            errors.add("iban", message);
            None
        }
        Some(Ok(iban)) => Some(iban),
    };
    let reference = errors.check(
        "mandate_reference",
        MandateReference::parse(form.get("mandate_reference")),
    );
    let date = date_field(&form, "date", &mut errors, Some(Utc::now().date_naive()));
    let refused = |errors: FieldErrors, typed: MandateForm| {
        customer_page(
            &state,
            &user,
            request,
            id,
            CustomerState {
                mandate_form: Some(typed),
                mandate_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(iban), Some(mandate_reference), Some(date)) = (iban, reference, date) else {
        return refused(errors, typed).await;
    };
    let command = if amend {
        CustomerCommand::AmendMandate {
            iban,
            mandate_reference,
            amended_on: date,
        }
    } else {
        CustomerCommand::SignMandate {
            iban,
            mandate_reference,
            signed_on: date,
        }
    };
    let executed = state
        .customers
        .execute(&id.to_string(), command, &metadata(&user.actor, request))
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            let shown = committed.events.is_empty()
                || await_version(&state, DEPARTMENT, MANDATE_VERSION, id, committed.version).await;
            let key = if amend { "amended" } else { "signed" };
            Ok(see_other(&lookup::after(&customer_url(id), key, shown)))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "iban") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

/// `POST /desk/billing/customers/{id}/mandate/revocation`.
async fn revoke(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let typed = RevokeForm {
        reason: form.get("revocation_reason").to_owned(),
        date: form.get("revocation_date").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let reason = errors.check_optional(
        "revocation_reason",
        form.optional("revocation_reason"),
        Reason::parse,
    );
    let date = date_field(
        &form,
        "revocation_date",
        &mut errors,
        Some(Utc::now().date_naive()),
    );
    let refused = |errors: FieldErrors, typed: RevokeForm| {
        customer_page(
            &state,
            &user,
            request,
            id,
            CustomerState {
                revoke_form: Some(typed),
                revoke_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(reason), Some(revoked_on)) = (reason, date) else {
        return refused(errors, typed).await;
    };
    let executed = state
        .customers
        .execute(
            &id.to_string(),
            CustomerCommand::RevokeMandate { revoked_on, reason },
            &metadata(&user.actor, request),
        )
        .await
        .map_err(ApiError::from);
    match executed {
        Ok(committed) => {
            let shown =
                await_version(&state, DEPARTMENT, MANDATE_VERSION, id, committed.version).await;
            Ok(see_other(&lookup::after(
                &customer_url(id),
                "revoked",
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "revocation_reason") {
            Some(errors) => refused(errors, typed).await,
            None => Err(e),
        },
    }
}

/// `POST /desk/billing/customers/{id}/mandate/consultation`: the IBAN in full, for the
/// purpose typed (required), written to the access log before the page is rendered,
/// as `GET /api/v1/billing/customers/{id}/mandate?reveal=iban&purpose=…` does. The
/// page answers this post (nothing to reload: a reload asks again).
async fn reveal(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let purpose = form.get("purpose").to_owned();
    match reads::mandate_view(
        &state,
        &user.actor,
        request,
        id,
        true,
        Some(purpose.as_str()),
    )
    .await
    {
        Ok(revealed) => {
            let notice = revealed.as_ref().map(|_| {
                "IBAN affiché en entier : la consultation est inscrite au journal des accès."
                    .to_owned()
            });
            let alert = revealed.is_none().then(|| {
                "Aucun mandat pour ce client : il n'y a pas d'IBAN à afficher.".to_owned()
            });
            customer_page(
                &state,
                &user,
                request,
                id,
                CustomerState {
                    notice,
                    alert,
                    purpose,
                    revealed,
                    ..CustomerState::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(ApiError::BadParameter { detail, .. }) => {
            let message = if purpose.trim().is_empty() {
                "Indiquez le motif de la consultation : elle est inscrite au journal des accès."
                    .to_owned()
            } else {
                detail
            };
            customer_page(
                &state,
                &user,
                request,
                id,
                CustomerState {
                    purpose,
                    purpose_error: Some(message),
                    ..CustomerState::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// `POST /desk/billing/customers/{id}/invoices`: issues an invoice (the same command
/// as `POST /api/v1/invoices`). The form carries the new invoice's id: sent twice, it
/// is one invoice.
async fn issue(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let customer = path_id(&id, "customer_not_found", "client")?;
    user.check_form(&state, &form)?;
    let typed = InvoiceForm {
        id: form.get("id").to_owned(),
        number: form.get("number").to_owned(),
        amount: form.get("amount").to_owned(),
        contract: form.get("contract").to_owned(),
        issued_on: form.get("issued_on").to_owned(),
        due_on: form.get("due_on").to_owned(),
    };
    let mut errors = FieldErrors::default();
    let number = errors.check("number", InvoiceNumber::parse(form.get("number")));
    let amount = errors.check("amount", Cents::parse_eur(form.get("amount")));
    let contract = match form.optional("contract") {
        None => Some(None),
        Some(raw) => {
            let known = reads::customer_contracts(&state, customer)
                .await?
                .into_iter()
                .any(|k| k.id.to_string() == raw);
            match raw.parse::<Uuid>() {
                Ok(k) if known => Some(Some(ContractId::new(k))),
                _ => {
                    errors.add(
                        "contract",
                        "Choisissez un contrat de ce client dans la liste.",
                    );
                    None
                }
            }
        }
    };
    let issued_on = date_field(
        &form,
        "issued_on",
        &mut errors,
        Some(Utc::now().date_naive()),
    );
    let due_on = date_field(&form, "due_on", &mut errors, None);
    let invoice_id = form
        .get("id")
        .parse::<Uuid>()
        .map(InvoiceId::new)
        .unwrap_or_else(|_| InvoiceId::new(Uuid::new_v4()));
    let refused = |errors: FieldErrors, typed: InvoiceForm| {
        customer_page(
            &state,
            &user,
            request,
            customer,
            CustomerState {
                invoice_form: Some(typed),
                invoice_errors: errors,
                ..CustomerState::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(number), Some(amount), Some(contract_id), Some(issued_on), Some(due_on)) =
        (number, amount, contract, issued_on, due_on)
    else {
        return refused(errors, typed).await;
    };
    let command = InvoiceCommand::IssueInvoice {
        customer_id: CustomerId::new(customer),
        contract_id,
        number,
        amount,
        issued_on,
        due_on,
    };
    let executed = state
        .invoices
        .execute(
            &invoice_id.to_string(),
            command,
            &metadata(&user.actor, request),
        )
        .await;
    match executed {
        Ok(committed) => {
            let shown = await_version(
                &state,
                DEPARTMENT,
                INVOICE_VERSION,
                *invoice_id.as_uuid(),
                committed.version,
            )
            .await;
            Ok(see_other(&lookup::after(
                &customer_url(customer),
                "issued",
                shown,
            )))
        }
        // The same form sent twice: the invoice exists, as asked.
        Err(CommandError::Rejected(InvoiceError::AlreadyIssued)) => Ok(see_other(&lookup::after(
            &customer_url(customer),
            "issued",
            true,
        ))),
        Err(e) => {
            let e = ApiError::from(e);
            let fallback = match &e {
                ApiError::Invalid { .. } | ApiError::Conflict { .. } => "amount",
                _ => "number",
            };
            match FieldErrors::from_refusal(&e, fallback) {
                Some(errors) => refused(errors, typed).await,
                None => Err(e),
            }
        }
    }
}

/// The invoice and customer of an invoice action's form.
fn invoice_action(raw: &str, form: &Fields) -> Result<(InvoiceId, Uuid, Option<usize>), ApiError> {
    let invoice = path_id(raw, "invoice_not_found", "facture")?;
    let customer = form
        .get("customer")
        .parse::<Uuid>()
        .map_err(|_| ApiError::invalid("invalid_customer", "customer", "Client inconnu."))?;
    let expected = form.get("version").parse::<usize>().ok().filter(|v| *v > 0);
    Ok((InvoiceId::new(invoice), customer, expected))
}

/// Runs an invoice action, then back to the customer's page (or the refusal on it).
async fn invoice_command(
    state: &AppState,
    user: &PageUser,
    request: RequestId,
    raw: &str,
    form: &Fields,
    command: impl FnOnce(&mut FieldErrors) -> Option<InvoiceCommand>,
    ok: &str,
) -> Result<Response, ApiError> {
    user.check_form(state, form)?;
    let (invoice, customer, expected) = invoice_action(raw, form)?;
    let mut errors = FieldErrors::default();
    let result = match command(&mut errors) {
        Some(command) => state
            .invoices
            .execute_expecting(
                &invoice.to_string(),
                command,
                &metadata(&user.actor, request),
                expected,
            )
            .await
            .map(|c| c.version)
            .map_err(ApiError::from),
        None => Err(ApiError::invalid(
            "invalid_form",
            "invoice",
            errors
                .of("amount")
                .or(errors.of("reason"))
                .or(errors.of("on"))
                .unwrap_or("saisie invalide")
                .to_owned(),
        )),
    };
    match result {
        Ok(version) => {
            let shown = await_version(
                state,
                DEPARTMENT,
                INVOICE_VERSION,
                *invoice.as_uuid(),
                version,
            )
            .await;
            Ok(see_other(&lookup::after(
                &customer_url(customer),
                ok,
                shown,
            )))
        }
        Err(e) => match FieldErrors::from_refusal(&e, "invoice") {
            Some(errors) => {
                let message = errors
                    .of("invoice")
                    .or(errors.of("amount"))
                    .or(errors.of("reason"))
                    .unwrap_or("La demande a été refusée.")
                    .to_owned();
                let number = form.get("number");
                customer_page(
                    state,
                    user,
                    request,
                    customer,
                    CustomerState {
                        alert: Some(format!("Facture {number} non modifiée : {message}")),
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

/// `POST /desk/billing/invoices/{id}/payment`: the amount paid (the invoice's).
async fn pay(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let command = |errors: &mut FieldErrors| {
        let amount = errors.check("amount", Cents::parse_eur(form.get("amount")));
        let paid_on = date_field(&form, "on", errors, Some(Utc::now().date_naive()));
        Some(InvoiceCommand::RecordPayment {
            paid_on: paid_on?,
            amount: amount?,
        })
    };
    invoice_command(&state, &user, request, &id, &form, command, "paid").await
}

/// `POST /desk/billing/invoices/{id}/payment-rejection`: the bank's rejection, with
/// its reason (required).
async fn reject(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let command = |errors: &mut FieldErrors| {
        let reason = errors.check("reason", Reason::parse(form.get("reason")));
        let rejected_on = date_field(&form, "on", errors, Some(Utc::now().date_naive()));
        Some(InvoiceCommand::RecordPaymentRejection {
            rejected_on: rejected_on?,
            reason: reason?,
            reason_code: None,
        })
    };
    invoice_command(&state, &user, request, &id, &form, command, "rejected").await
}

/// `POST /desk/billing/invoices/{id}/cancellation`: cancels the invoice, with a reason
/// (required).
async fn cancel(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, ApiError> {
    let command = |errors: &mut FieldErrors| {
        let reason = errors.check("reason", Reason::parse(form.get("reason")));
        let cancelled_on = date_field(&form, "on", errors, Some(Utc::now().date_naive()));
        Some(InvoiceCommand::CancelInvoice {
            cancelled_on: cancelled_on?,
            reason: reason?,
        })
    };
    invoice_command(&state, &user, request, &id, &form, command, "cancelled").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iban_field_names_what_is_wrong() {
        assert!(iban_verdict("  ").is_none());
        let verdict = |raw: &str| match iban_verdict(raw) {
            Some(Err(message)) => message,
            other => panic!("{raw}: {other:?}"),
        };
        assert_eq!(
            verdict("FR76 3000 6000 0112"),
            "IBAN incomplet : 16 caractères sur les 27 d'un IBAN (France)."
        );
        assert!(verdict("FR76 3000 6000 0112 3456 7890 1891").starts_with("IBAN trop long"));
        assert!(verdict("FR76-3000").contains("« - »"));
        assert!(verdict("FR77 3000 6000 0112 3456 7890 189").contains("clé de contrôle"));
        assert!(verdict("1234").contains("code du pays"));
        assert!(matches!(
            iban_verdict("fr76 3000 6000 0112 3456 7890 189"),
            Some(Ok(_))
        ));
    }

    #[test]
    fn ibans_print_in_groups_of_four_and_amounts_as_typed() {
        assert_eq!(
            spaced("FR7630006000011234567890189"),
            "FR76 3000 6000 0112 3456 7890 189"
        );
        assert_eq!(euros_input(4990), "49,90");
        assert_eq!(euros_input(5), "0,05");
        assert_eq!(euros_input(-1250), "-12,50");
    }

    #[test]
    fn a_sort_header_turns_the_current_key_around() {
        let link = sort_link(
            UNPAID,
            BillingList::Unpaid,
            "Échéance",
            "due_on",
            "due_on",
            Order::Asc,
        );
        assert_eq!(link.href, "/desk/billing/unpaid?sort=due_on&order=desc");
        assert_eq!(link.aria, "ascending");
        let other = sort_link(
            UNPAID,
            BillingList::Unpaid,
            "Montant",
            "amount",
            "due_on",
            Order::Asc,
        );
        assert_eq!(other.href, "/desk/billing/unpaid?sort=amount&order=desc");
        assert_eq!(other.aria, "none");
    }
}

// ---------------------------------------------------------------------------------
// The month's SEPA collection

/// What the page shows of a collection (`lae_api::billing_cycle::collect`).
struct CollectionView {
    date_label: String,
    period: String,
    contracts_in_force: usize,
    invoices_issued: usize,
    invoices_already_issued: usize,
    transactions: usize,
    first_collections: usize,
    recurring_collections: usize,
    total: String,
    without_mandate: usize,
    message_id: String,
    file: Option<String>,
}

#[derive(Template)]
#[template(path = "billing_collections.html")]
struct CollectionsPage {
    layout: Layout,
    form_token: String,
    date: String,
    date_error: Option<String>,
    summary: Option<CollectionView>,
}

fn collections_page(
    user: &PageUser,
    date: String,
    date_error: Option<String>,
    summary: Option<CollectionView>,
) -> CollectionsPage {
    CollectionsPage {
        layout: Layout::desk("Prélèvements SEPA", user, COLLECTIONS),
        form_token: user.form_token.clone(),
        date,
        date_error,
        summary,
    }
}

/// `GET /desk/billing/collections`: the form, today's date proposed.
async fn collections(user: PageUser) -> Result<Response, ApiError> {
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    render(StatusCode::OK, &collections_page(&user, today, None, None))
}

/// `POST /desk/billing/collections`: issues the month's invoices and prepares the
/// file (the same use case as `lae billing collect`), then shows the summary.
async fn collect(
    State(state): State<AppState>,
    user: PageUser,
    request: RequestId,
    form: Fields,
) -> Result<Response, ApiError> {
    user.check_form(&state, &form)?;
    let mut errors = FieldErrors::default();
    let typed = form.get("date").to_owned();
    let Some(date) = date_field(&form, "date", &mut errors, None) else {
        let message = errors.of("date").map(str::to_owned);
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &collections_page(&user, typed, message, None),
        );
    };
    let requester = lae_api::billing_cycle::Requester {
        user: user.actor.username.clone(),
        role: user.actor.role.as_str().into(),
        request_id: Some(request.0.to_string()),
    };
    let collection =
        lae_api::billing_cycle::collect(&state, &metadata(&user.actor, request), &requester, date)
            .await?;
    let s = collection.summary;
    let view = CollectionView {
        date_label: format::date(s.date),
        period: s.period,
        contracts_in_force: s.contracts_in_force,
        invoices_issued: s.invoices_issued,
        invoices_already_issued: s.invoices_already_issued,
        transactions: s.transactions,
        first_collections: s.first_collections,
        recurring_collections: s.recurring_collections,
        total: format::amount(s.control_sum_cents),
        without_mandate: s.without_mandate.len(),
        message_id: s.message_id,
        file: s.file,
    };
    render(
        StatusCode::OK,
        &collections_page(&user, date.format("%Y-%m-%d").to_string(), None, Some(view)),
    )
}
