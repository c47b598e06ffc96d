//! What the legal, sales and billing desks share: the customer search box (posted, so
//! that nothing personal ends up in an address), a customer's name as shown, date
//! fields and waiting times, and waiting for a read model to show a command just sent.

use std::time::Duration;

use chrono::NaiveDate;
use lae_api::AppState;
use lae_api::problem::ApiError;
use lae_api::routes::queries::search::{self, SearchParams};
use lae_projections::Department;
use uuid::Uuid;

use crate::format;
use crate::forms::{FieldErrors, Fields};

/// Results per page of a search.
const PAGE_SIZE: u32 = 20;
/// How long a page waits for the read model to show a command it just sent.
const READ_YOUR_WRITE: Duration = Duration::from_secs(3);

/// One line of the search results.
#[derive(Debug)]
pub struct ResultLine {
    pub id: Uuid,
    pub name: String,
    pub number: String,
    pub phone: String,
    pub email: String,
}

/// The results region of a desk's search (`desk_results.html`).
#[derive(Debug, Default)]
pub struct Results {
    /// The desk's address (`/desk/legal`): the form posts to `{base}/search`, a result
    /// opens `{base}/customers/{id}`.
    pub base: &'static str,
    pub q: String,
    pub searched: bool,
    pub error: Option<String>,
    pub items: Vec<ResultLine>,
    pub next_cursor: Option<String>,
    pub form_token: String,
}

impl Results {
    pub fn empty(base: &'static str, form_token: &str) -> Self {
        Self {
            base,
            form_token: form_token.to_owned(),
            ..Self::default()
        }
    }
}

/// Runs the search typed in the form (`q`, `cursor`) against `department`'s read model.
pub async fn search(
    state: &AppState,
    department: Department,
    base: &'static str,
    form_token: &str,
    form: &Fields,
) -> Result<Results, ApiError> {
    let q = form.get("q").trim().to_owned();
    let mut results = Results {
        q: q.clone(),
        ..Results::empty(base, form_token)
    };
    if q.is_empty() {
        return Ok(results);
    }
    results.searched = true;
    let params = SearchParams::free_text(&q, PAGE_SIZE, form.optional("cursor").map(str::to_owned));
    match search::page(state, department, &params).await {
        Ok(page) => {
            results.items = page
                .items
                .into_iter()
                .map(|c| ResultLine {
                    id: c.id,
                    name: full_name(c.last_name.as_deref(), c.first_name.as_deref()),
                    number: c.customer_number.unwrap_or_default(),
                    phone: c.phone.as_deref().map(format::phone).unwrap_or_default(),
                    email: c.email.unwrap_or_default(),
                })
                .collect();
            results.next_cursor = page.next_cursor;
        }
        Err(ApiError::BadParameter { detail, .. }) => {
            results.searched = false;
            results.error = Some(match detail.split_once(" : ") {
                Some((_, why)) => format!("Recherche impossible : {}.", why.trim_end_matches('.')),
                None => detail,
            });
        }
        Err(other) => return Err(other),
    }
    Ok(results)
}

/// `DUPONT Jeanne`, or what is left of an erased name.
pub fn full_name(last: Option<&str>, first: Option<&str>) -> String {
    match (last, first) {
        (Some(l), Some(f)) => format!("{} {f}", l.to_uppercase()),
        (Some(l), None) => l.to_uppercase(),
        (None, Some(f)) => f.to_owned(),
        (None, None) => "(nom effacé)".to_owned(),
    }
}

/// `DUPONT Jeanne · LAE-1000042` (the number when known).
pub fn customer_label(number: Option<&str>, last: Option<&str>, first: Option<&str>) -> String {
    match number {
        Some(n) => format!("{} · {n}", full_name(last, first)),
        None => full_name(last, first),
    }
}

/// A date field (`AAAA-MM-JJ`, as a date input sends it, or `JJ/MM/AAAA`). Left
/// empty, it is `when_empty`, or refused when there is none.
pub fn date_field(
    form: &Fields,
    name: &str,
    errors: &mut FieldErrors,
    when_empty: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let raw = form.get(name).trim();
    if raw.is_empty() {
        if when_empty.is_none() {
            errors.add(name, "Indiquez la date.");
        }
        return when_empty;
    }
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d/%m/%Y"));
    match parsed {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(name, "Date invalide : saisissez-la au format JJ/MM/AAAA.");
            None
        }
    }
}

/// `aujourd'hui`, `1 jour`, `12 jours`: how long since `since`.
pub fn days(today: NaiveDate, since: NaiveDate) -> String {
    match (today - since).num_days() {
        n if n <= 0 => "aujourd'hui".to_owned(),
        1 => "1 jour".to_owned(),
        n => format!("{n} jours"),
    }
}

/// A customer or contract address's id; anything else is "not found", in French.
pub fn path_id(raw: &str, code: &'static str, what: &str) -> Result<Uuid, ApiError> {
    raw.parse::<Uuid>().map_err(|_| ApiError::NotFound {
        code,
        detail: format!("Aucun {what} à cette adresse."),
    })
}

/// Waits until `department`'s read model answers `sql` (one `$1` id, returning a
/// version) with at least `version`, or [`READ_YOUR_WRITE`] passed; whether it did.
pub async fn await_version(
    state: &AppState,
    department: Department,
    sql: &'static str,
    id: Uuid,
    version: usize,
) -> bool {
    let wanted = i64::try_from(version).unwrap_or(i64::MAX);
    let deadline = tokio::time::Instant::now() + READ_YOUR_WRITE;
    loop {
        let seen = match state.queries.readers.acquire(department).await {
            Ok(mut conn) => {
                let seen: Option<i64> = sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .ok()
                    .flatten();
                conn.release();
                seen
            }
            Err(_) => None,
        };
        if seen.is_some_and(|v| v >= wanted) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// The notice of a page reached after a command (`?ok=<key>`, `&pending=1` when the
/// read model had not caught up yet).
pub fn notice(query: &str, notices: &[(&str, &str)]) -> Option<String> {
    let pending = query.split('&').any(|p| p == "pending=1");
    notices
        .iter()
        .find(|(key, _)| query.split('&').any(|p| p.strip_prefix("ok=") == Some(key)))
        .map(|(_, text)| {
            if pending {
                format!("{text} L'affichage sera à jour dans quelques instants.")
            } else {
                (*text).to_owned()
            }
        })
}

/// `{page}?ok={key}` (with `&pending=1` unless `shown`).
pub fn after(page: &str, key: &str, shown: bool) -> String {
    if shown {
        format!("{page}?ok={key}")
    } else {
        format!("{page}?ok={key}&pending=1")
    }
}
