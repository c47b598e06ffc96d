//! The customer list every department but management has: search by name prefix,
//! e-mail, phone or customer number over its own contact cards, in a stable order,
//! a page at a time.
//!
//! The order is (last name, first name, customer id), folded (no accents, no capitals) and byte-wise, the
//! expressions of the `customers_search_order` index (migration 0008): a name prefix is
//! one range of that index and the next page starts after the last row's key, so deep
//! pages cost what the first one does and a row changed between two pages is neither
//! repeated nor skipped by the rows that did not change.

use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use lae_domain::{CustomerNumber, Email, PhoneNumber};
use lae_projections::Department;
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{conditional, params};
use crate::problem::ApiError;
use crate::state::AppState;

/// Rows per page unless asked otherwise, and the most a page may hold.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
/// The longest cursor accepted (the longest names make one of about 1,200 characters).
const MAX_CURSOR: usize = 2048;

/// The contact columns of `<schema>.customers c`, in [`ContactCard`]'s order.
macro_rules! contact_columns {
    () => {
        "c.customer_id, c.customer_number, c.last_name, c.first_name, c.email, c.phone, \
         c.availability, c.registered_at, c.version"
    };
}
pub(crate) use contact_columns;

/// A customer's contact card, as every department but management holds it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct ContactCard {
    #[sqlx(rename = "customer_id")]
    pub id: Uuid,
    /// `LAE-` and 6 to 9 digits.
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub email: Option<String>,
    /// E.164 (`+33612345678`).
    pub phone: Option<String>,
    pub availability: Option<String>,
    pub registered_at: Option<DateTime<Utc>>,
    /// The sequence of the customer's last event that changed this card.
    pub version: i64,
}

/// The query string of `GET /api/v1/{department}/customers`, and the JSON body of
/// `POST /api/v1/{department}/customers/search` (the same criteria, kept out of the URL
/// and so out of proxy and access logs). Criteria combine (all must match); `q` stands
/// alone.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Anything a caller types: a customer number, an e-mail, a phone number, otherwise
    /// the beginning of a last name.
    #[schemars(length(max = 200))]
    q: Option<String>,
    /// The beginning of the last name, in any case.
    #[schemars(length(max = 200))]
    name: Option<String>,
    /// The beginning of the first name, in any case.
    #[schemars(length(max = 200))]
    first_name: Option<String>,
    /// The e-mail address, in any case.
    #[schemars(length(max = 200))]
    email: Option<String>,
    /// The phone number, in any accepted format (`06 12 34 56 78`, `+33612345678`;
    /// `+` encoded as `%2B` in a query string).
    #[schemars(length(max = 200))]
    phone: Option<String>,
    /// `LAE-` and 6 to 9 digits.
    #[schemars(length(max = 200))]
    customer_number: Option<String>,
    /// Rows per page (50 unless given).
    #[schemars(range(min = 1, max = 200))]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same criteria.
    #[schemars(length(max = 2048))]
    cursor: Option<String>,
}

/// What to look for, normalised as the domain stores it.
#[derive(Debug, Default, Serialize)]
struct Criteria {
    last_name: Option<String>,
    first_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    customer_number: Option<String>,
}

impl Criteria {
    fn from_params(p: &SearchParams) -> Result<Self, ApiError> {
        let mut criteria = Self {
            last_name: params::text("name", p.name.as_deref())?,
            first_name: params::text("first_name", p.first_name.as_deref())?,
            email: params::text("email", p.email.as_deref())?
                .map(|e| parsed("email", Email::parse(&e)))
                .transpose()?,
            phone: params::text("phone", p.phone.as_deref())?
                .map(|v| parsed("phone", PhoneNumber::parse(&v)))
                .transpose()?,
            customer_number: params::text("customer_number", p.customer_number.as_deref())?
                .map(|v| parsed("customer_number", CustomerNumber::parse(&v)))
                .transpose()?,
        };
        if let Some(q) = params::text("q", p.q.as_deref())? {
            if criteria.any() {
                return Err(ApiError::bad_parameter(
                    "conflicting_parameters",
                    "q",
                    "« q » se suffit à lui-même : ne le combinez pas avec name, first_name, email, phone ou customer_number.",
                ));
            }
            criteria = Self::guess(&q)?;
        }
        Ok(criteria)
    }

    /// What free text most likely is.
    fn guess(q: &str) -> Result<Self, ApiError> {
        let mut criteria = Self::default();
        if let Ok(number) = CustomerNumber::parse(q) {
            criteria.customer_number = Some(number.to_string());
        } else if q.contains('@') {
            criteria.email = Some(parsed("q", Email::parse(q))?);
        } else if let Ok(phone) = PhoneNumber::parse(q) {
            criteria.phone = Some(phone.to_string());
        } else {
            criteria.last_name = Some(q.to_owned());
        }
        Ok(criteria)
    }

    fn any(&self) -> bool {
        self.last_name.is_some()
            || self.first_name.is_some()
            || self.email.is_some()
            || self.phone.is_some()
            || self.customer_number.is_some()
    }
}

/// A parameter parsed by the domain, normalised as it stores it; 400 naming it otherwise.
pub(super) fn parsed<T: ToString, E: std::fmt::Display>(
    field: &'static str,
    value: Result<T, E>,
) -> Result<String, ApiError> {
    value.map(|v| v.to_string()).map_err(|e| {
        ApiError::bad_parameter(
            "invalid_parameter",
            field,
            format!("Paramètre « {field} » invalide : {e}."),
        )
    })
}

/// A page of customers.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CustomerPage {
    pub items: Vec<ContactCard>,
    /// Pass as `cursor` (with the same criteria) for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Where a page starts: the sort key of the previous page's last row.
#[derive(Debug, Serialize, Deserialize)]
struct After(String, String, Uuid);

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    card: ContactCard,
    sort_last: String,
    sort_first: String,
}

/// The order key, as indexed by `customers_search_order` (migration 0008): names
/// folded by `lae_fold` (no accents, no capitals), compared byte-wise.
const SORT_LAST: &str = r#"public.lae_fold(coalesce(c.last_name, '')) COLLATE "C""#;
const SORT_FIRST: &str = r#"public.lae_fold(coalesce(c.first_name, '')) COLLATE "C""#;
/// The last character of Unicode: `prefix || chr(1114111)` bounds every text that
/// starts with `prefix`, byte-wise.
const PREFIX_END: &str = "chr(1114111)";

impl SearchParams {
    /// What a search box sends: free text, a page size, the cursor of the previous page.
    pub fn free_text(q: &str, limit: u32, cursor: Option<String>) -> Self {
        Self {
            q: Some(q.to_owned()),
            limit: Some(limit),
            cursor,
            ..Self::default()
        }
    }
}

/// `GET /api/v1/{department}/customers`: a page of the department's customers.
pub async fn list(
    state: &AppState,
    department: Department,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let p: SearchParams = params::parse(query)?;
    let page = page(state, department, &p).await?;
    conditional::personal(headers, &page)
}

/// `POST /api/v1/{department}/customers/search`: the same page as the `GET`, the
/// criteria in a JSON body (names, e-mails and phone numbers stay out of URLs).
pub async fn search(
    state: &AppState,
    department: Department,
    body: &SearchParams,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let page = page(state, department, body).await?;
    conditional::personal(headers, &page)
}

/// A page of the department's customers matching `p`, read with its reader role: what
/// the JSON list answers and the desks' search shows.
pub async fn page(
    state: &AppState,
    department: Department,
    p: &SearchParams,
) -> Result<CustomerPage, ApiError> {
    let criteria = Criteria::from_params(p)?;
    let limit = params::limit(p.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    // A cursor belongs to one department's list under one set of criteria.
    let scope =
        serde_json::to_vec(&(department.as_str(), &criteria)).map_err(ApiError::internal)?;
    let key = &state.queries.cursor_key;
    // An empty cursor is the first page, as no cursor is.
    let after: Option<After> = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) if cursor.len() > MAX_CURSOR => return Err(invalid_cursor()),
        Some(cursor) => Some(key.open(&scope, cursor).map_err(|_| invalid_cursor())?),
    };

    let mut conn = state.queries.readers.acquire(department).await?;
    let mut rows: Vec<Row> = search_sql(department, &criteria, after.as_ref(), limit)
        .build_query_as()
        .fetch_all(&mut *conn)
        .await?;
    conn.release();
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| {
                key.seal(
                    &scope,
                    &After(r.sort_last.clone(), r.sort_first.clone(), r.card.id),
                )
            })
            .transpose()
            .map_err(ApiError::internal)?
    } else {
        None
    };
    Ok(CustomerPage {
        items: rows.into_iter().map(|r| r.card).collect(),
        next_cursor,
    })
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_parameter(
        "invalid_cursor",
        "cursor",
        "Curseur de pagination invalide : reprenez la recherche depuis la première page.",
    )
}

/// The statement of one page: the criteria's conditions, then the keyset.
fn search_sql<'a>(
    department: Department,
    criteria: &Criteria,
    after: Option<&After>,
    limit: u32,
) -> QueryBuilder<'a, Postgres> {
    let mut sql = QueryBuilder::new(format!(
        "SELECT {}, {SORT_LAST} AS sort_last, {SORT_FIRST} AS sort_first FROM {}.customers c WHERE true",
        contact_columns!(),
        department.schema()
    ));
    if let Some(prefix) = &criteria.last_name {
        push_prefix(&mut sql, SORT_LAST, prefix);
    }
    if let Some(prefix) = &criteria.first_name {
        push_prefix(&mut sql, SORT_FIRST, prefix);
    }
    if let Some(email) = &criteria.email {
        sql.push(" AND lower(c.email) = lower(")
            .push_bind(email.clone())
            .push(")");
    }
    if let Some(phone) = &criteria.phone {
        sql.push(" AND c.phone = ").push_bind(phone.clone());
    }
    if let Some(number) = &criteria.customer_number {
        sql.push(" AND c.customer_number = ")
            .push_bind(number.clone());
    }
    if let Some(After(last, first, id)) = after {
        sql.push(format!(
            " AND ({SORT_LAST}, {SORT_FIRST}, c.customer_id) > ("
        ))
        .push_bind(last.clone())
        .push(", ")
        .push_bind(first.clone())
        .push(", ")
        .push_bind(*id)
        .push(")");
    }
    // One row more than the page, to know whether another page follows.
    sql.push(format!(
        " ORDER BY {SORT_LAST}, {SORT_FIRST}, c.customer_id LIMIT "
    ))
    .push_bind(i64::from(limit) + 1);
    sql
}

/// `column` starts with `prefix`, whatever its accents and case: a range of the index.
fn push_prefix(sql: &mut QueryBuilder<'_, Postgres>, column: &str, prefix: &str) {
    sql.push(format!(" AND {column} >= public.lae_fold("))
        .push_bind(prefix.to_owned())
        .push(format!(") AND {column} < public.lae_fold("))
        .push_bind(prefix.to_owned())
        .push(format!(") || {PREFIX_END}"));
}

/// A department's row for one customer (`sql` binds the id as `$1`), read with the
/// department's reader role; 404 when the department has no such customer.
pub async fn customer_row<R>(
    state: &AppState,
    department: Department,
    sql: &'static str,
    id: Uuid,
) -> Result<R, ApiError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut conn = state.queries.readers.acquire(department).await?;
    let row: Option<R> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    conn.release();
    row.ok_or_else(|| customer_not_found(id))
}

/// A department's rows about one customer it knows (`sql` binds the id as `$1`), read
/// with the department's reader role; 404 when the department has no such customer.
pub async fn customer_rows<R>(
    state: &AppState,
    department: Department,
    sql: &'static str,
    id: Uuid,
) -> Result<Vec<R>, ApiError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    require_customer(state, department, id).await?;
    let mut conn = state.queries.readers.acquire(department).await?;
    let rows: Vec<R> = sqlx::query_as(sql).bind(id).fetch_all(&mut *conn).await?;
    conn.release();
    Ok(rows)
}

/// The 404 of a customer the department does not know.
pub fn customer_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound {
        code: "customer_not_found",
        detail: format!("Aucun client n'a l'identifiant {id}."),
    }
}

/// Whether the department knows the customer (sub-lists answer 404 otherwise).
pub async fn require_customer(
    state: &AppState,
    department: Department,
    id: Uuid,
) -> Result<(), ApiError> {
    let sql = match department {
        Department::CustomerService => {
            "SELECT EXISTS (SELECT 1 FROM customer_service.customers WHERE customer_id = $1)"
        }
        Department::Legal => "SELECT EXISTS (SELECT 1 FROM legal.customers WHERE customer_id = $1)",
        Department::Sales => "SELECT EXISTS (SELECT 1 FROM sales.customers WHERE customer_id = $1)",
        Department::Billing => {
            "SELECT EXISTS (SELECT 1 FROM billing.customers WHERE customer_id = $1)"
        }
        Department::Management => return Err(customer_not_found(id)),
    };
    let mut conn = state.queries.readers.acquire(department).await?;
    let exists: bool = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    conn.release();
    if exists {
        Ok(())
    } else {
        Err(customer_not_found(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria(query: &str) -> Result<Criteria, ApiError> {
        let p: SearchParams = params::parse(Some(query))?;
        Criteria::from_params(&p)
    }

    #[test]
    fn criteria_are_normalised_as_the_domain_stores_them() {
        let c = criteria(
            "phone=06%2012%2034%2056%2078&email=H%40Exemple.FR&customer_number=lae-000123",
        )
        .expect("valid");
        assert_eq!(c.phone.as_deref(), Some("+33612345678"));
        assert_eq!(c.email.as_deref(), Some("h@exemple.fr"));
        assert_eq!(c.customer_number.as_deref(), Some("LAE-000123"));
        assert_eq!(
            criteria("q=LAE-1000001")
                .expect("valid")
                .customer_number
                .as_deref(),
            Some("LAE-1000001")
        );
        assert_eq!(
            criteria("q=a%40b.fr").expect("valid").email.as_deref(),
            Some("a@b.fr")
        );
        assert_eq!(
            criteria("q=0612345678").expect("valid").phone.as_deref(),
            Some("+33612345678")
        );
        assert_eq!(
            criteria("q=D%27Art").expect("valid").last_name.as_deref(),
            Some("D'Art")
        );
        assert!(!criteria("").expect("valid").any());
    }

    #[test]
    fn bad_criteria_name_their_parameter() {
        for (query, field) in [
            ("phone=12", "phone"),
            ("email=pas-un-mail", "email"),
            ("customer_number=123", "customer_number"),
            ("q=x%40", "q"),
            ("q=Dupont&name=Martin", "q"),
            ("name=a%00b", "name"),
            ("limit=x", "limit"),
            ("unknown=1", "unknown"),
        ] {
            match criteria(query) {
                Err(ApiError::BadParameter { field: f, .. }) => assert_eq!(f, field, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }
}
