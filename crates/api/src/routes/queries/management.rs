//! Management's figures, as `lae_management_reader`: counts and rates, no customer.
//!
//! `GET /api/v1/management/kpis` answers the totals and, per period of the asked range
//! (`from`, `to`, `granularity=day|week|month`), the indicators computed from the daily
//! buckets of the management read model (`lae_projections::kpi_series`). With
//! `Accept: text/csv` the same route exports the series as CSV.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Datelike, Months, NaiveDate, Utc};
use lae_projections::{Department, Granularity, KpiPeriod, Kpis};
use serde::{Deserialize, Serialize};

use super::conditional;
use super::params;
use crate::openapi::ApiDoc;
use crate::problem::ApiError;
use crate::state::AppState;

/// At most this many periods in one answer (about three years of weeks).
const MAX_PERIODS: i64 = 160;

pub fn router() -> Router<AppState> {
    Router::new().route("/management/kpis", get(kpis))
}

pub(super) fn describe(doc: &mut ApiDoc) {
    doc.read::<KpiParams, KpisView>("/api/v1/management/kpis", true);
}

/// The period of the series.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiParams {
    /// First day (`YYYY-MM-DD`); by default the first day of the month eleven months
    /// before `to` (twelve months in all).
    pub from: Option<NaiveDate>,
    /// Last day (`YYYY-MM-DD`), today (UTC) by default.
    pub to: Option<NaiveDate>,
    /// `day`, `week` (ISO, Monday first) or `month` (default).
    pub granularity: Option<GranularityParam>,
}

/// How periods are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GranularityParam {
    Day,
    Week,
    Month,
}

impl From<GranularityParam> for Granularity {
    fn from(g: GranularityParam) -> Self {
        match g {
            GranularityParam::Day => Self::Day,
            GranularityParam::Week => Self::Week,
            GranularityParam::Month => Self::Month,
        }
    }
}

/// The management indicators (see `lae_projections::Kpis`) and their series.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ManagementKpis")]
pub struct KpisView {
    /// Customers registered.
    pub customers: i64,
    /// Offers proposed.
    pub offers_proposed: i64,
    /// Offers accepted.
    pub offers_accepted: i64,
    /// Accepted ÷ decided (accepted, declined or withdrawn) offers; `null` until one is decided.
    pub offer_acceptance_rate: Option<f64>,
    /// Contracts signed and not terminated.
    pub contracts_in_force: i64,
    /// Invoices issued.
    pub invoices_issued: i64,
    /// Invoices neither paid nor cancelled.
    pub invoices_unpaid: i64,
    /// Rejected payments ÷ invoices issued; `null` until one is issued.
    pub payment_rejection_rate: Option<f64>,
    /// Tickets opened and not resolved.
    pub tickets_open: i64,
    /// The range of `series`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: GranularityParam,
    /// One entry per period, in order.
    pub series: Vec<PeriodView>,
}

/// The indicators of one period (a day is the UTC date an event was recorded). Rates
/// are `null` when their denominator is zero.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ManagementKpiPeriod")]
pub struct PeriodView {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub customers_registered: i64,
    pub offers_proposed: i64,
    pub offers_declined: i64,
    /// Offers declined ÷ proposed in the period.
    pub offer_decline_rate: Option<f64>,
    pub contracts_signed: i64,
    pub contracts_terminated: i64,
    /// Contracts in force on the period's first day.
    pub contracts_in_force_at_start: i64,
    /// Churn: contracts terminated ÷ contracts in force at the start.
    pub churn_rate: Option<f64>,
    pub invoices_issued: i64,
    pub payment_rejections: i64,
    /// Payment rejections ÷ invoices issued.
    pub payment_rejection_rate: Option<f64>,
    pub tickets_opened: i64,
    pub tickets_resolved: i64,
    /// Satisfaction ratings given in the period (satisfied, not satisfied).
    pub satisfaction_good: i64,
    pub satisfaction_bad: i64,
    /// CSAT: satisfied ÷ all ratings.
    pub csat: Option<f64>,
    /// The same per channel (`phone`, `mail`).
    pub satisfaction_by_channel: Vec<ChannelSatisfactionView>,
    /// Tickets opened with the reason code `complaint`.
    pub complaints: i64,
    /// Customers registered and not erased at the period's end.
    pub customers_at_end: i64,
    /// Complaints × 1,000 ÷ customers at the period's end.
    pub complaints_per_1000_customers: Option<f64>,
    /// Churn: customers whose last contract in force was terminated in the period.
    pub customers_left: i64,
    /// Customer contacts (tickets not opened by the platform) resolved.
    pub contacts_resolved: i64,
    /// Of those, resolved without being routed to another department.
    pub first_contact_resolutions: i64,
    /// First-contact resolutions ÷ customer contacts resolved.
    pub first_contact_resolution_rate: Option<f64>,
    /// Time from a ticket's opening to its resolution, median and 90th percentile, in
    /// seconds (the upper bound of a bucket at most 9 % wide).
    pub resolution_median_seconds: Option<f64>,
    pub resolution_p90_seconds: Option<f64>,
    /// Days from an offer's acceptance to its contract's signature (contracts signed
    /// in the period), median and 90th percentile.
    pub acceptance_to_signature_median_days: Option<i64>,
    pub acceptance_to_signature_p90_days: Option<i64>,
    /// Days from a contract's signature to its first invoice (first invoices of the
    /// period), median and 90th percentile.
    pub signature_to_first_invoice_median_days: Option<i64>,
    pub signature_to_first_invoice_p90_days: Option<i64>,
    /// Productivity per department.
    pub departments: Vec<DepartmentProductivityView>,
}

/// Satisfaction of one channel in one period.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ManagementChannelSatisfaction")]
pub struct ChannelSatisfactionView {
    pub channel: String,
    pub good: i64,
    pub bad: i64,
    pub csat: Option<f64>,
}

/// One department's productivity in one period.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "ManagementDepartmentProductivity")]
pub struct DepartmentProductivityView {
    /// `customer_service`, `legal`, `sales` or `billing`.
    pub department: String,
    /// Tickets resolved while the department held them.
    pub tickets_resolved: i64,
    /// Distinct (user, day) pairs of its users with at least one event.
    pub operator_days: i64,
    /// Tickets resolved ÷ operator-days.
    pub tickets_per_operator_day: Option<f64>,
    pub resolution_median_seconds: Option<f64>,
    pub resolution_p90_seconds: Option<f64>,
}

impl From<KpiPeriod> for PeriodView {
    fn from(p: KpiPeriod) -> Self {
        Self {
            start: p.start,
            end: p.end,
            customers_registered: p.customers_registered,
            offers_proposed: p.offers_proposed,
            offers_declined: p.offers_declined,
            offer_decline_rate: p.offer_decline_rate,
            contracts_signed: p.contracts_signed,
            contracts_terminated: p.contracts_terminated,
            contracts_in_force_at_start: p.contracts_in_force_at_start,
            churn_rate: p.churn_rate,
            invoices_issued: p.invoices_issued,
            payment_rejections: p.payment_rejections,
            payment_rejection_rate: p.payment_rejection_rate,
            tickets_opened: p.tickets_opened,
            tickets_resolved: p.tickets_resolved,
            satisfaction_good: p.satisfaction_good,
            satisfaction_bad: p.satisfaction_bad,
            csat: p.csat,
            satisfaction_by_channel: p
                .satisfaction_by_channel
                .into_iter()
                .map(|c| ChannelSatisfactionView {
                    channel: c.channel,
                    good: c.good,
                    bad: c.bad,
                    csat: c.csat,
                })
                .collect(),
            complaints: p.complaints,
            customers_at_end: p.customers_at_end,
            complaints_per_1000_customers: p.complaints_per_1000_customers,
            customers_left: p.customers_left,
            contacts_resolved: p.contacts_resolved,
            first_contact_resolutions: p.first_contact_resolutions,
            first_contact_resolution_rate: p.first_contact_resolution_rate,
            resolution_median_seconds: p.resolution_median_seconds,
            resolution_p90_seconds: p.resolution_p90_seconds,
            acceptance_to_signature_median_days: p.acceptance_to_signature_median_days,
            acceptance_to_signature_p90_days: p.acceptance_to_signature_p90_days,
            signature_to_first_invoice_median_days: p.signature_to_first_invoice_median_days,
            signature_to_first_invoice_p90_days: p.signature_to_first_invoice_p90_days,
            departments: p
                .departments
                .into_iter()
                .map(|d| DepartmentProductivityView {
                    department: d.department,
                    tickets_resolved: d.tickets_resolved,
                    operator_days: d.operator_days,
                    tickets_per_operator_day: d.tickets_per_operator_day,
                    resolution_median_seconds: d.resolution_median_seconds,
                    resolution_p90_seconds: d.resolution_p90_seconds,
                })
                .collect(),
        }
    }
}

/// The range and granularity `p` asks, checked (`from` ≤ `to`, at most
/// [`MAX_PERIODS`] periods).
pub fn period(p: &KpiParams) -> Result<(NaiveDate, NaiveDate, GranularityParam), ApiError> {
    let to = p.to.unwrap_or_else(|| Utc::now().date_naive());
    let granularity = p.granularity.unwrap_or(GranularityParam::Month);
    let from = p.from.unwrap_or_else(|| {
        to.with_day(1)
            .and_then(|first| first.checked_sub_months(Months::new(11)))
            .unwrap_or(to)
    });
    if from > to {
        return Err(ApiError::bad_parameter(
            "invalid_period",
            "from",
            "Période invalide : la date de début (« from ») suit la date de fin (« to »).",
        ));
    }
    let days = (to - from).num_days() + 1;
    let periods = match granularity {
        GranularityParam::Day => days,
        GranularityParam::Week => days / 7 + 2,
        GranularityParam::Month => days / 28 + 1,
    };
    if periods > MAX_PERIODS {
        return Err(ApiError::bad_parameter(
            "period_too_long",
            "from",
            format!(
                "Période trop longue : {MAX_PERIODS} périodes au plus ; choisissez une granularité plus large ou un début plus récent."
            ),
        ));
    }
    Ok((from, to, granularity))
}

/// The totals and the series of `p`'s period.
pub async fn kpis_view(state: &AppState, p: &KpiParams) -> Result<KpisView, ApiError> {
    let (from, to, granularity) = period(p)?;
    let mut conn = state
        .queries
        .readers
        .acquire(Department::Management)
        .await?;
    let totals: Kpis = lae_projections::kpis(&mut conn).await?;
    let series = lae_projections::kpi_series(&mut conn, from, to, granularity.into()).await?;
    conn.release();
    Ok(KpisView {
        customers: totals.customers,
        offers_proposed: totals.offers_proposed,
        offers_accepted: totals.offers_accepted,
        offer_acceptance_rate: totals.offer_acceptance_rate,
        contracts_in_force: totals.contracts_in_force,
        invoices_issued: totals.invoices_issued,
        invoices_unpaid: totals.invoices_unpaid,
        payment_rejection_rate: totals.payment_rejection_rate,
        tickets_open: totals.tickets_open,
        from,
        to,
        granularity,
        series: series.into_iter().map(PeriodView::from).collect(),
    })
}

async fn kpis(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: KpiParams = params::parse(query.as_deref())?;
    let view = kpis_view(&state, &p).await?;
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if csv {
        return Ok(csv_answer(&view));
    }
    conditional::figures(&headers, &view)
}

/// The series as CSV (one line per period, rates as decimals, empty when undefined).
pub fn csv(view: &KpisView) -> String {
    let mut out = String::from(
        "start,end,customers_registered,offers_proposed,offers_declined,offer_decline_rate,\
         contracts_signed,contracts_terminated,contracts_in_force_at_start,churn_rate,\
         invoices_issued,payment_rejections,payment_rejection_rate,tickets_opened,tickets_resolved,\
         satisfaction_good,satisfaction_bad,csat,complaints,customers_at_end,\
         complaints_per_1000_customers,customers_left,contacts_resolved,first_contact_resolutions,\
         first_contact_resolution_rate,resolution_median_seconds,resolution_p90_seconds,\
         acceptance_to_signature_median_days,acceptance_to_signature_p90_days,\
         signature_to_first_invoice_median_days,signature_to_first_invoice_p90_days",
    );
    for d in DEPARTMENT_COLUMNS {
        out.push_str(&format!(
            ",{d}_tickets_resolved,{d}_operator_days,{d}_tickets_per_operator_day"
        ));
    }
    out.push('\n');
    let rate = |r: Option<f64>| r.map(|r| format!("{r:.6}")).unwrap_or_default();
    let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    for p in &view.series {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            day(p.start),
            day(p.end),
            p.customers_registered,
            p.offers_proposed,
            p.offers_declined,
            rate(p.offer_decline_rate),
            p.contracts_signed,
            p.contracts_terminated,
            p.contracts_in_force_at_start,
            rate(p.churn_rate),
            p.invoices_issued,
            p.payment_rejections,
            rate(p.payment_rejection_rate),
            p.tickets_opened,
            p.tickets_resolved,
        ));
        let number = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        let whole = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        // The line so far ends with a newline: the new columns go before it.
        out.pop();
        out.push_str(&format!(
            ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            p.satisfaction_good,
            p.satisfaction_bad,
            rate(p.csat),
            p.complaints,
            p.customers_at_end,
            rate(p.complaints_per_1000_customers),
            p.customers_left,
            p.contacts_resolved,
            p.first_contact_resolutions,
            rate(p.first_contact_resolution_rate),
            number(p.resolution_median_seconds),
            number(p.resolution_p90_seconds),
            whole(p.acceptance_to_signature_median_days),
            whole(p.acceptance_to_signature_p90_days),
            whole(p.signature_to_first_invoice_median_days),
            whole(p.signature_to_first_invoice_p90_days),
        ));
        for d in DEPARTMENT_COLUMNS {
            match p.departments.iter().find(|x| x.department == *d) {
                Some(x) => out.push_str(&format!(
                    ",{},{},{}",
                    x.tickets_resolved,
                    x.operator_days,
                    rate(x.tickets_per_operator_day)
                )),
                None => out.push_str(",0,0,"),
            }
        }
        out.push('\n');
    }
    out
}

/// The departments of the CSV's productivity columns, in order.
const DEPARTMENT_COLUMNS: &[&str] = &["customer_service", "legal", "sales", "billing"];

fn csv_answer(view: &KpisView) -> Response {
    let mut response = (StatusCode::OK, csv(view)).into_response();
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
    response
}
