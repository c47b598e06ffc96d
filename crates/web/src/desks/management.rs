//! The management desk: the plan's indicators over a chosen period, each as a chart
//! drawn on the server (SVG, readable without JavaScript) with its figures in a table
//! beside it, and the series as CSV. Read through `GET /api/v1/management/kpis`'s
//! function, as `lae_management_reader`: counts and rates, never a customer.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use lae_api::AppState;
use lae_api::problem::ApiError;
use lae_api::routes::queries::management::{
    self as reads, ChannelSatisfactionView, DepartmentProductivityView, GranularityParam,
    KpiParams, KpisView, PeriodView,
};

use super::{Layout, render};
use crate::session::PageUser;

const HOME: &str = "/desk/management";
const CSV: &str = "/desk/management/indicateurs.csv";

/// The desk's navigation: (address, French label).
pub const NAV: &[(&str, &str)] = &[(HOME, "Indicateurs")];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(HOME, get(dashboard))
        .route(CSV, get(export))
}

/// One row of an indicator's table.
#[derive(Debug)]
struct Row {
    period: String,
    cells: Vec<String>,
}

/// One indicator: its chart and its figures.
#[derive(Debug)]
struct Indicator {
    id: &'static str,
    title: &'static str,
    definition: &'static str,
    /// The latest period's value, as shown in the headline.
    headline: String,
    chart: String,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "management.html")]
struct Dashboard {
    layout: Layout,
    from: String,
    to: String,
    granularity: &'static str,
    granularities: &'static [(&'static str, &'static str)],
    error: Option<String>,
    csv_href: String,
    families: Vec<Family>,
}

const GRANULARITIES: &[(&str, &str)] = &[("day", "Jour"), ("week", "Semaine"), ("month", "Mois")];

/// The period of the address (`from`, `to`, `granularity`), kept as typed.
fn params(query: Option<&str>) -> (KpiParams, String, String, &'static str, Option<String>) {
    let mut p = KpiParams::default();
    let (mut from, mut to, mut granularity) = (String::new(), String::new(), "month");
    let mut error = None;
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("from", v)) if !v.is_empty() => {
                from = v.to_owned();
                match v.parse::<NaiveDate>() {
                    Ok(d) => p.from = Some(d),
                    Err(_) => {
                        error = Some("Date de début invalide : choisissez une date.".to_owned())
                    }
                }
            }
            Some(("to", v)) if !v.is_empty() => {
                to = v.to_owned();
                match v.parse::<NaiveDate>() {
                    Ok(d) => p.to = Some(d),
                    Err(_) => {
                        error = Some("Date de fin invalide : choisissez une date.".to_owned())
                    }
                }
            }
            Some(("granularity", "day")) => {
                granularity = "day";
                p.granularity = Some(GranularityParam::Day);
            }
            Some(("granularity", "week")) => {
                granularity = "week";
                p.granularity = Some(GranularityParam::Week);
            }
            Some(("granularity", "month")) => {
                granularity = "month";
                p.granularity = Some(GranularityParam::Month);
            }
            _ => {}
        }
    }
    (p, from, to, granularity, error)
}

/// `GET /desk/management`.
async fn dashboard(
    State(state): State<AppState>,
    user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (p, from, to, granularity, mut error) = params(query.as_deref());
    let view = if error.is_some() {
        None
    } else {
        match reads::kpis_view(&state, &p).await {
            Ok(view) => Some(view),
            Err(ApiError::BadParameter { detail, .. }) => {
                error = Some(detail);
                None
            }
            Err(other) => return Err(other),
        }
    };
    let (from, to) = match &view {
        Some(v) => (v.from.to_string(), v.to.to_string()),
        None => (from, to),
    };
    let families = view.as_ref().map(families).unwrap_or_default();
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &Dashboard {
            layout: Layout::desk("Indicateurs", &user, HOME),
            csv_href: format!("{CSV}?from={from}&to={to}&granularity={granularity}"),
            from,
            to,
            granularity,
            granularities: GRANULARITIES,
            error,
            families,
        },
    )
}

/// `GET /desk/management/indicateurs.csv`: the same series as CSV.
async fn export(
    State(state): State<AppState>,
    _user: PageUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (p, ..) = params(query.as_deref());
    let view = reads::kpis_view(&state, &p).await?;
    let mut response = (StatusCode::OK, reads::csv(&view)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"lae-indicateurs-{}-{}.csv\"",
        view.from, view.to
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(
        || "—".to_owned(),
        |r| format!("{:.1} %", r * 100.0).replace('.', ","),
    )
}

fn label(start: Option<NaiveDate>, granularity: GranularityParam) -> String {
    let Some(d) = start else {
        return String::new();
    };
    match granularity {
        GranularityParam::Month => d.format("%m/%Y").to_string(),
        _ => d.format("%d/%m").to_string(),
    }
}

/// One of the plan's four indicators and the measures that make it up.
#[derive(Debug)]
struct Family {
    id: &'static str,
    title: &'static str,
    indicators: Vec<Indicator>,
}

/// What the chart of an indicator draws.
#[derive(Clone, Copy)]
enum Scale {
    /// A rate, drawn in percent.
    Rate,
    /// A count or a ratio of counts.
    Number,
    /// A duration in seconds (drawn in hours).
    Hours,
    /// A duration in days.
    Days,
}

/// Builds one indicator: its headline is the last period's value, its chart the
/// series of `value`, its table the `cells` of each period.
fn indicator(
    view: &KpisView,
    (id, title, definition): (&'static str, &'static str, &'static str),
    scale: Scale,
    value: impl Fn(&PeriodView) -> Option<f64>,
    columns: Vec<&'static str>,
    cells: impl Fn(&PeriodView) -> Vec<String>,
) -> Indicator {
    let g = view.granularity;
    let labels: Vec<String> = view.series.iter().map(|p| label(p.start, g)).collect();
    let values: Vec<Option<f64>> = view
        .series
        .iter()
        .map(|p| {
            value(p).map(|v| match scale {
                Scale::Hours => v / 3600.0,
                _ => v,
            })
        })
        .collect();
    let headline = view
        .series
        .last()
        .and_then(&value)
        .map_or_else(|| "—".to_owned(), |v| shown(v, scale));
    Indicator {
        id,
        title,
        definition,
        headline,
        chart: chart(
            &labels,
            &values,
            &format!("{title} par période"),
            matches!(scale, Scale::Rate),
        ),
        columns,
        rows: view
            .series
            .iter()
            .map(|p| Row {
                period: period_label(p),
                cells: cells(p),
            })
            .collect(),
    }
}

fn period_label(p: &PeriodView) -> String {
    match (p.start, p.end) {
        (Some(s), Some(e)) if s == e => s.format("%d/%m/%Y").to_string(),
        (Some(s), Some(e)) => format!("{} – {}", s.format("%d/%m/%Y"), e.format("%d/%m/%Y")),
        _ => String::new(),
    }
}

fn shown(v: f64, scale: Scale) -> String {
    match scale {
        Scale::Rate => percent(Some(v)),
        Scale::Number => decimal(Some(v)),
        Scale::Hours => duration(Some(v)),
        Scale::Days => days(Some(v)),
    }
}

/// A number in French (decimal comma, one decimal when not whole).
fn decimal(v: Option<f64>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |v| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}").replace('.', ",")
            }
        },
    )
}

/// A duration in seconds, as a French reader says it: "45 min", "2 h 05", "3 j 4 h".
fn duration(seconds: Option<f64>) -> String {
    let Some(s) = seconds else {
        return "—".to_owned();
    };
    // Durations are positive and far below i64::MAX seconds.
    #[allow(clippy::cast_possible_truncation)]
    let minutes = (s / 60.0).round() as i64;
    match minutes {
        m if m < 60 => format!("{} min", m.max(1)),
        m if m < 24 * 60 => format!("{} h {:02}", m / 60, m % 60),
        m => format!("{} j {} h", m / (24 * 60), (m % (24 * 60)) / 60),
    }
}

fn days(v: Option<f64>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |d| match d {
            d if d < 1.5 => format!("{} jour", decimal(Some(d))),
            d => format!("{} jours", decimal(Some(d))),
        },
    )
}

#[allow(clippy::cast_precision_loss)]
fn whole(v: Option<i64>) -> Option<f64> {
    v.map(|v| v as f64)
}

fn department_label(code: &str) -> &'static str {
    match code {
        "customer_service" => "Relation client",
        "legal" => "Juridique",
        "sales" => "Commercial",
        "billing" => "Facturation",
        _ => "Autre",
    }
}

fn department<'a>(p: &'a PeriodView, code: &str) -> Option<&'a DepartmentProductivityView> {
    p.departments.iter().find(|d| d.department == code)
}

fn channel<'a>(p: &'a PeriodView, code: &str) -> Option<&'a ChannelSatisfactionView> {
    p.satisfaction_by_channel.iter().find(|c| c.channel == code)
}

#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
fn families(view: &KpisView) -> Vec<Family> {
    let n = |v: i64| v.to_string();
    let satisfaction = Family {
        id: "satisfaction",
        title: "Satisfaction client",
        indicators: vec![
            indicator(
                view,
                (
                    "csat",
                    "Clients satisfaits (CSAT)",
                    "Notes « satisfait » ÷ toutes les notes données pendant la période, après la résolution d'un ticket.",
                ),
                Scale::Rate,
                |p| p.csat,
                vec![
                    "Satisfaits",
                    "Insatisfaits",
                    "CSAT",
                    "Téléphone",
                    "Courrier / e-mail",
                ],
                |p| {
                    let by = |c: &str| percent(channel(p, c).and_then(|c| c.csat));
                    vec![
                        n(p.satisfaction_good),
                        n(p.satisfaction_bad),
                        percent(p.csat),
                        by("phone"),
                        by("mail"),
                    ]
                },
            ),
            indicator(
                view,
                (
                    "reclamations",
                    "Réclamations pour 1 000 clients",
                    "Tickets ouverts avec le motif « Réclamation » × 1 000 ÷ clients enregistrés (et non effacés) en fin de période.",
                ),
                Scale::Number,
                |p| p.complaints_per_1000_customers,
                vec!["Réclamations", "Clients", "Pour 1 000"],
                |p| {
                    vec![
                        n(p.complaints),
                        n(p.customers_at_end),
                        decimal(p.complaints_per_1000_customers),
                    ]
                },
            ),
        ],
    };
    let churn = Family {
        id: "perte",
        title: "Perte de clients",
        indicators: vec![
            indicator(
                view,
                (
                    "resiliations",
                    "Taux de résiliation",
                    "Contrats résiliés pendant la période ÷ contrats en vigueur au premier jour de la période.",
                ),
                Scale::Rate,
                |p| p.churn_rate,
                vec!["En vigueur au début", "Résiliés", "Taux"],
                |p| {
                    vec![
                        n(p.contracts_in_force_at_start),
                        n(p.contracts_terminated),
                        percent(p.churn_rate),
                    ]
                },
            ),
            indicator(
                view,
                (
                    "clients-perdus",
                    "Clients partis",
                    "Clients dont le dernier contrat en vigueur a été résilié pendant la période.",
                ),
                Scale::Number,
                |p| Some(p.customers_left as f64),
                vec!["Clients partis"],
                |p| vec![n(p.customers_left)],
            ),
            indicator(
                view,
                (
                    "offres",
                    "Offres refusées",
                    "Offres refusées par le client ÷ offres proposées pendant la période.",
                ),
                Scale::Rate,
                |p| p.offer_decline_rate,
                vec!["Proposées", "Refusées", "Taux"],
                |p| {
                    vec![
                        n(p.offers_proposed),
                        n(p.offers_declined),
                        percent(p.offer_decline_rate),
                    ]
                },
            ),
        ],
    };
    let per_department = |p: &PeriodView| -> Vec<String> {
        ["customer_service", "legal", "sales", "billing"]
            .iter()
            .map(|d| decimal(department(p, d).and_then(|d| d.tickets_per_operator_day)))
            .collect()
    };
    let productivity = Family {
        id: "productivite",
        title: "Productivité",
        indicators: vec![
            indicator(
                view,
                (
                    "operateur-jour",
                    "Tickets traités par opérateur et par jour",
                    "Tickets résolus ÷ journées travaillées (un utilisateur actif sur la plateforme un jour donné), par service.",
                ),
                Scale::Number,
                |p| {
                    let resolved: i64 = p.departments.iter().map(|d| d.tickets_resolved).sum();
                    let days: i64 = p.departments.iter().map(|d| d.operator_days).sum();
                    (days > 0).then(|| resolved as f64 / days as f64)
                },
                ["customer_service", "legal", "sales", "billing"]
                    .iter()
                    .map(|d| department_label(d))
                    .collect(),
                per_department,
            ),
            indicator(
                view,
                (
                    "delai-resolution",
                    "Délai de résolution des tickets (médiane)",
                    "Temps entre l'ouverture d'un ticket et sa résolution, tickets résolus pendant la période : médiane et 9 tickets sur 10 (à 9 % près).",
                ),
                Scale::Hours,
                |p| p.resolution_median_seconds,
                vec!["Résolus", "Médiane", "9 sur 10 en moins de"],
                |p| {
                    vec![
                        n(p.tickets_resolved),
                        duration(p.resolution_median_seconds),
                        duration(p.resolution_p90_seconds),
                    ]
                },
            ),
            indicator(
                view,
                (
                    "premier-contact",
                    "Résolution au premier contact",
                    "Demandes de clients résolues sans être transmises à un autre service ÷ demandes de clients résolues (avis internes de la plateforme exclus).",
                ),
                Scale::Rate,
                |p| p.first_contact_resolution_rate,
                vec!["Résolues", "Au premier contact", "Taux"],
                |p| {
                    vec![
                        n(p.contacts_resolved),
                        n(p.first_contact_resolutions),
                        percent(p.first_contact_resolution_rate),
                    ]
                },
            ),
            indicator(
                view,
                (
                    "acceptation-signature",
                    "De l'acceptation de l'offre à la signature",
                    "Jours entre l'acceptation d'une offre et la signature de son contrat, contrats signés pendant la période.",
                ),
                Scale::Days,
                |p| whole(p.acceptance_to_signature_median_days),
                vec!["Médiane", "9 sur 10 en moins de"],
                |p| {
                    vec![
                        days(whole(p.acceptance_to_signature_median_days)),
                        days(whole(p.acceptance_to_signature_p90_days)),
                    ]
                },
            ),
            indicator(
                view,
                (
                    "signature-facture",
                    "De la signature à la première facture",
                    "Jours entre la signature d'un contrat et sa première facture, premières factures émises pendant la période.",
                ),
                Scale::Days,
                |p| whole(p.signature_to_first_invoice_median_days),
                vec!["Médiane", "9 sur 10 en moins de"],
                |p| {
                    vec![
                        days(whole(p.signature_to_first_invoice_median_days)),
                        days(whole(p.signature_to_first_invoice_p90_days)),
                    ]
                },
            ),
        ],
    };
    let incidents = Family {
        id: "incidents",
        title: "Incidents",
        indicators: vec![indicator(
            view,
            (
                "rejets",
                "Prélèvements rejetés",
                "Rejets de prélèvement ÷ factures émises pendant la période.",
            ),
            Scale::Rate,
            |p| p.payment_rejection_rate,
            vec!["Factures émises", "Rejets", "Taux"],
            |p| {
                vec![
                    n(p.invoices_issued),
                    n(p.payment_rejections),
                    percent(p.payment_rejection_rate),
                ]
            },
        )],
    };
    vec![satisfaction, churn, productivity, incidents]
}

/// A bar chart as inline SVG (presentation attributes only: the page's CSP allows no
/// inline style). `None` values (an undefined rate) are gaps. Labels are dates,
/// escaped all the same.
fn chart(labels: &[String], values: &[Option<f64>], title: &str, rate: bool) -> String {
    const W: f64 = 560.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 24.0;
    let max = values
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(if rate { 0.05 } else { 1.0 });
    let n = values.len().max(1) as f64;
    let slot = (W - LEFT - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let scale = |v: f64| (H - BOTTOM - 8.0) * v / max;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" focusable=\"false\">",
        escape(title)
    );
    let axis = H - BOTTOM;
    svg.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{axis}\" x2=\"{W}\" y2=\"{axis}\" stroke=\"#5b6470\" stroke-width=\"1\"/>"
    ));
    let top = if rate {
        format!("{:.0} %", max * 100.0)
    } else {
        format!("{max:.0}")
    };
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"14\" font-size=\"11\" text-anchor=\"end\" fill=\"#3b4450\">{}</text>\
         <text x=\"{}\" y=\"{axis}\" font-size=\"11\" text-anchor=\"end\" fill=\"#3b4450\">0</text>",
        LEFT - 4.0,
        escape(&top),
        LEFT - 4.0
    ));
    let every = (values.len() / 12).max(1);
    for (i, value) in values.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        if let Some(v) = value {
            let h = scale(*v).max(if *v > 0.0 { 1.0 } else { 0.0 });
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"#0b4f8a\"/>",
                axis - h
            ));
        }
        if i % every == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#3b4450\">{}</text>",
                x + bar / 2.0,
                H - 8.0,
                escape(labels.get(i).map_or("", String::as_str))
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_one_bar_per_defined_value_and_escapes_its_text() {
        let labels = vec!["11/2026".to_owned(), "12/2026".to_owned(), "<x>".to_owned()];
        let svg = chart(&labels, &[Some(0.1), None, Some(0.0)], "Taux & \"x\"", true);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("Taux &amp; &quot;x&quot;"));
        assert!(svg.contains("&lt;x&gt;"));
        assert!(!svg.contains("style="));
        assert_eq!(percent(Some(0.125)), "12,5 %");
        assert_eq!(percent(None), "—");
        assert_eq!(duration(Some(2_700.0)), "45 min");
        assert_eq!(duration(Some(7_500.0)), "2 h 05");
        assert_eq!(duration(Some(273_600.0)), "3 j 4 h");
        assert_eq!(days(Some(1.0)), "1 jour");
        assert_eq!(days(Some(12.0)), "12 jours");
        assert_eq!(decimal(Some(2.5)), "2,5");
    }
}
