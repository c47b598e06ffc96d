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
use lae_api::routes::queries::management::{self as reads, GranularityParam, KpiParams, KpisView};

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
    indicators: Vec<Indicator>,
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
    let indicators = view.as_ref().map(indicators).unwrap_or_default();
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
            indicators,
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

fn indicators(view: &KpisView) -> Vec<Indicator> {
    let g = view.granularity;
    let labels: Vec<String> = view.series.iter().map(|p| label(p.start, g)).collect();
    let last = view.series.last();
    let churn: Vec<Option<f64>> = view.series.iter().map(|p| p.churn_rate).collect();
    let declines: Vec<Option<f64>> = view.series.iter().map(|p| p.offer_decline_rate).collect();
    let rejections: Vec<Option<f64>> = view
        .series
        .iter()
        .map(|p| p.payment_rejection_rate)
        .collect();
    let resolved: Vec<Option<f64>> = view
        .series
        .iter()
        .map(|p| Some(p.tickets_resolved as f64))
        .collect();
    let period = |i: usize| {
        let p = &view.series[i];
        match (p.start, p.end) {
            (Some(s), Some(e)) if s == e => s.format("%d/%m/%Y").to_string(),
            (Some(s), Some(e)) => format!("{} – {}", s.format("%d/%m/%Y"), e.format("%d/%m/%Y")),
            _ => String::new(),
        }
    };
    vec![
        Indicator {
            id: "perte",
            title: "Perte de clients (churn)",
            definition: "Contrats résiliés pendant la période ÷ contrats en vigueur au premier jour de la période.",
            headline: percent(last.and_then(|p| p.churn_rate)),
            chart: chart(&labels, &churn, "Taux de résiliation par période", true),
            columns: vec!["En vigueur au début", "Résiliés", "Taux"],
            rows: view
                .series
                .iter()
                .enumerate()
                .map(|(i, p)| Row {
                    period: period(i),
                    cells: vec![
                        p.contracts_in_force_at_start.to_string(),
                        p.contracts_terminated.to_string(),
                        percent(p.churn_rate),
                    ],
                })
                .collect(),
        },
        Indicator {
            id: "offres",
            title: "Offres refusées",
            definition: "Offres refusées par le client ÷ offres proposées pendant la période.",
            headline: percent(last.and_then(|p| p.offer_decline_rate)),
            chart: chart(
                &labels,
                &declines,
                "Taux de refus des offres par période",
                true,
            ),
            columns: vec!["Proposées", "Refusées", "Taux"],
            rows: view
                .series
                .iter()
                .enumerate()
                .map(|(i, p)| Row {
                    period: period(i),
                    cells: vec![
                        p.offers_proposed.to_string(),
                        p.offers_declined.to_string(),
                        percent(p.offer_decline_rate),
                    ],
                })
                .collect(),
        },
        Indicator {
            id: "productivite",
            title: "Productivité : tickets traités",
            definition: "Tickets résolus pendant la période (tous services), à côté des tickets ouverts.",
            headline: last.map_or_else(String::new, |p| p.tickets_resolved.to_string()),
            chart: chart(&labels, &resolved, "Tickets résolus par période", false),
            columns: vec!["Ouverts", "Résolus"],
            rows: view
                .series
                .iter()
                .enumerate()
                .map(|(i, p)| Row {
                    period: period(i),
                    cells: vec![p.tickets_opened.to_string(), p.tickets_resolved.to_string()],
                })
                .collect(),
        },
        Indicator {
            id: "incidents",
            title: "Incidents : prélèvements rejetés",
            definition: "Rejets de prélèvement ÷ factures émises pendant la période.",
            headline: percent(last.and_then(|p| p.payment_rejection_rate)),
            chart: chart(
                &labels,
                &rejections,
                "Taux de rejet des prélèvements par période",
                true,
            ),
            columns: vec!["Factures émises", "Rejets", "Taux"],
            rows: view
                .series
                .iter()
                .enumerate()
                .map(|(i, p)| Row {
                    period: period(i),
                    cells: vec![
                        p.invoices_issued.to_string(),
                        p.payment_rejections.to_string(),
                        percent(p.payment_rejection_rate),
                    ],
                })
                .collect(),
        },
    ]
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
    }
}
