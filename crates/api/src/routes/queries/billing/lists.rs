//! Billing's cross-customer lists: unpaid invoices, rejected payments, and signed
//! contracts not yet invoiced. Each is sortable on two keys, ascending or descending,
//! and read a page at a time with a keyset cursor: every (list, key) pair has its own
//! partial index whose expression is the list's order exactly (migration 0011), so a
//! page is one index range whatever its depth, and the cursor (sealed, like every
//! cursor of the API: nothing of a row is readable in an address) is one row
//! comparison on it.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::super::{conditional, params, search};
use super::DEPARTMENT;
use crate::problem::ApiError;
use crate::state::AppState;

/// The query string of a list.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// The key the list is sorted on: `due_on` (default) or `amount` for unpaid
    /// invoices, `rejected_on` (default) or `amount` for rejected payments,
    /// `signed_on` (default) or `premium` for contracts not yet invoiced. Ties are
    /// broken by id.
    #[schemars(length(max = 20))]
    pub sort: Option<String>,
    /// `asc` or `desc`; by default the most urgent first: the oldest due date, the
    /// latest rejection, the contract signed longest ago.
    pub order: Option<Order>,
    /// Rows per page (50 unless given).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (with the same `sort` and `order`).
    #[schemars(length(max = 512))]
    pub cursor: Option<String>,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    /// `asc` or `desc`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// One of the three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Invoices issued and not paid, cancelled or rejected yet.
    Unpaid,
    /// Invoices whose payment was rejected (and not settled since).
    Rejected,
    /// Contracts signed, in force, for which no invoice was ever issued.
    Uninvoiced,
}

/// What a key's values are: how the cursor carries them and how NULL sorts (last, as
/// the index expressions put it).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Date,
    Cents,
}

/// A key a list can be sorted on.
#[derive(Debug)]
struct Sort {
    /// Its name in `sort=`.
    name: &'static str,
    /// The column, as the row struct names it.
    column: &'static str,
    /// The ordering expression: exactly an index's.
    expr: &'static str,
    kind: Kind,
}

const NO_DATE: &str = "'infinity'::date";
const NO_CENTS: &str = "9223372036854775807";

const INVOICE_COLUMNS: &str = "SELECT i.invoice_id, i.customer_id, c.customer_number, \
    c.last_name, c.first_name, i.contract_id, i.number, i.amount_cents, i.issued_on, \
    i.due_on, i.rejected_on, i.rejection_reason, i.version \
    FROM billing.invoices i LEFT JOIN billing.customers c ON c.customer_id = i.customer_id";

impl List {
    fn sorts(self) -> &'static [Sort] {
        const AMOUNT: Sort = Sort {
            name: "amount",
            column: "amount_cents",
            expr: "coalesce(i.amount_cents, 9223372036854775807)",
            kind: Kind::Cents,
        };
        match self {
            Self::Unpaid => &[
                Sort {
                    name: "due_on",
                    column: "due_on",
                    expr: "coalesce(i.due_on, 'infinity'::date)",
                    kind: Kind::Date,
                },
                AMOUNT,
            ],
            Self::Rejected => &[
                Sort {
                    name: "rejected_on",
                    column: "rejected_on",
                    expr: "coalesce(i.rejected_on, 'infinity'::date)",
                    kind: Kind::Date,
                },
                AMOUNT,
            ],
            Self::Uninvoiced => &[
                Sort {
                    name: "signed_on",
                    column: "signed_on",
                    expr: "coalesce(k.signed_on, 'infinity'::date)",
                    kind: Kind::Date,
                },
                Sort {
                    name: "premium",
                    column: "monthly_premium_cents",
                    expr: "coalesce(k.monthly_premium_cents, 9223372036854775807)",
                    kind: Kind::Cents,
                },
            ],
        }
    }

    /// The most urgent first.
    #[must_use]
    pub fn default_order(self) -> Order {
        match self {
            Self::Unpaid | Self::Uninvoiced => Order::Asc,
            Self::Rejected => Order::Desc,
        }
    }

    /// The default key's name.
    #[must_use]
    pub fn default_sort(self) -> &'static str {
        self.sorts()[0].name
    }

    /// The keys' names, default first.
    #[must_use]
    pub fn sort_names(self) -> Vec<&'static str> {
        self.sorts().iter().map(|s| s.name).collect()
    }

    fn scope(self) -> &'static [u8] {
        match self {
            Self::Unpaid => b"billing_unpaid_invoices",
            Self::Rejected => b"billing_rejected_payments",
            Self::Uninvoiced => b"billing_uninvoiced_contracts",
        }
    }

    fn select(self) -> String {
        match self {
            Self::Unpaid => format!("{INVOICE_COLUMNS} WHERE i.status = 'issued'"),
            Self::Rejected => format!("{INVOICE_COLUMNS} WHERE i.status = 'payment_rejected'"),
            Self::Uninvoiced => "SELECT k.contract_id, k.customer_id, c.customer_number, \
                 c.last_name, c.first_name, k.product, k.monthly_premium_cents, k.signed_on, \
                 m.status AS mandate_status, k.version \
                 FROM billing.contracts k \
                 LEFT JOIN billing.customers c ON c.customer_id = k.customer_id \
                 LEFT JOIN billing.mandates m ON m.customer_id = k.customer_id \
                 WHERE k.status = 'signed' AND k.first_invoiced_on IS NULL"
                .to_owned(),
        }
    }

    fn id_column(self) -> &'static str {
        match self {
            Self::Unpaid | Self::Rejected => "i.invoice_id",
            Self::Uninvoiced => "k.contract_id",
        }
    }
}

/// A key's value in a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Key {
    Date(Option<NaiveDate>),
    Cents(Option<i64>),
}

/// A row of a list: its id and its value of each key.
pub trait Listed: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {
    fn id(&self) -> Uuid;
    /// The value of the key whose column is `column`.
    fn key(&self, column: &str) -> Key;
}

/// An invoice in the unpaid or the rejected list, with whom it is for.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingListedInvoice")]
pub struct ListedInvoice {
    #[sqlx(rename = "invoice_id")]
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub contract_id: Option<Uuid>,
    pub number: Option<String>,
    pub amount_cents: Option<i64>,
    pub issued_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    pub rejected_on: Option<NaiveDate>,
    pub rejection_reason: Option<String>,
    pub version: i64,
}

impl Listed for ListedInvoice {
    fn id(&self) -> Uuid {
        self.id
    }

    fn key(&self, column: &str) -> Key {
        match column {
            "due_on" => Key::Date(self.due_on),
            "rejected_on" => Key::Date(self.rejected_on),
            _ => Key::Cents(self.amount_cents),
        }
    }
}

/// A signed contract never invoiced, with whom it is for and their mandate's status.
#[derive(Debug, Serialize, schemars::JsonSchema, sqlx::FromRow)]
#[schemars(rename = "BillingListedContract")]
pub struct ListedContract {
    #[sqlx(rename = "contract_id")]
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub customer_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub product: Option<String>,
    pub monthly_premium_cents: Option<i64>,
    pub signed_on: Option<NaiveDate>,
    /// `active`, `revoked`, or `null` when the customer never signed a mandate.
    pub mandate_status: Option<String>,
    pub version: i64,
}

impl Listed for ListedContract {
    fn id(&self) -> Uuid {
        self.id
    }

    fn key(&self, column: &str) -> Key {
        match column {
            "signed_on" => Key::Date(self.signed_on),
            _ => Key::Cents(self.monthly_premium_cents),
        }
    }
}

/// A page of an invoice list.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BillingInvoicePage")]
pub struct InvoicePage {
    pub items: Vec<ListedInvoice>,
    /// The key and direction the page is sorted by.
    pub sort: String,
    pub order: Order,
    /// Pass as `cursor` (with the same `sort` and `order`) for the next page; `null` on
    /// the last.
    pub next_cursor: Option<String>,
}

/// A page of the contracts not yet invoiced.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "BillingContractPage")]
pub struct ContractPage {
    pub items: Vec<ListedContract>,
    pub sort: String,
    pub order: Order,
    pub next_cursor: Option<String>,
}

/// A page of any list, before it is named for the API.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub sort: &'static str,
    pub order: Order,
    pub next_cursor: Option<String>,
}

/// Where a page starts: the previous page's last row under the same order.
#[derive(Debug, Serialize, Deserialize)]
struct After {
    sort: String,
    order: Order,
    key: Key,
    id: Uuid,
}

/// A page of `list` as `p` asks (sort key and direction checked first; the cursor must
/// come from the same list, key and direction).
pub async fn list_page<T: Listed>(
    state: &AppState,
    list: List,
    p: &ListParams,
) -> Result<Page<T>, ApiError> {
    let limit = params::limit(p.limit, search::DEFAULT_LIMIT, search::MAX_LIMIT)?;
    let wanted = p.sort.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let sort = match wanted {
        None => &list.sorts()[0],
        Some(name) => list
            .sorts()
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "invalid_sort",
                    "sort",
                    format!(
                        "Tri « {name} » inconnu pour cette liste : {}.",
                        list.sort_names().join(" ou ")
                    ),
                )
            })?,
    };
    let order = p.order.unwrap_or_else(|| list.default_order());
    let key = &state.queries.cursor_key;
    let after: Option<After> = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) if cursor.len() > 512 => return Err(invalid_cursor()),
        Some(cursor) => {
            let after: After = key
                .open(list.scope(), cursor)
                .map_err(|_| invalid_cursor())?;
            if after.sort != sort.name || after.order != order {
                return Err(invalid_cursor());
            }
            Some(after)
        }
    };
    let (direction, comparison) = match order {
        Order::Asc => ("ASC", ">"),
        Order::Desc => ("DESC", "<"),
    };
    let id = list.id_column();
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(list.select());
    if let Some(after) = &after {
        sql.push(format!(
            " AND ({}, {id}) {comparison} (coalesce(",
            sort.expr
        ));
        match (sort.kind, after.key) {
            (Kind::Date, Key::Date(on)) => sql.push_bind(on).push(format!("::date, {NO_DATE})")),
            (Kind::Cents, Key::Cents(cents)) => {
                sql.push_bind(cents).push(format!("::bigint, {NO_CENTS})"))
            }
            _ => return Err(invalid_cursor()),
        };
        sql.push(", ").push_bind(after.id).push(")");
    }
    sql.push(format!(
        " ORDER BY {} {direction}, {id} {direction} LIMIT ",
        sort.expr
    ))
    .push_bind(i64::from(limit) + 1);
    let mut conn = state.queries.readers.acquire(DEPARTMENT).await?;
    let mut items: Vec<T> = sql.build_query_as().fetch_all(&mut *conn).await?;
    conn.release();
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|row| {
                key.seal(
                    list.scope(),
                    &After {
                        sort: sort.name.to_owned(),
                        order,
                        key: row.key(sort.column),
                        id: row.id(),
                    },
                )
            })
            .transpose()
            .map_err(ApiError::internal)?
    } else {
        None
    };
    Ok(Page {
        items,
        sort: sort.name,
        order,
        next_cursor,
    })
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_parameter(
        "invalid_cursor",
        "cursor",
        "Curseur de pagination invalide : reprenez la liste depuis la première page (avec le même tri).",
    )
}

/// A page of an invoice list, as the API names it.
pub async fn invoice_page(
    state: &AppState,
    list: List,
    p: &ListParams,
) -> Result<InvoicePage, ApiError> {
    let page: Page<ListedInvoice> = list_page(state, list, p).await?;
    Ok(InvoicePage {
        items: page.items,
        sort: page.sort.to_owned(),
        order: page.order,
        next_cursor: page.next_cursor,
    })
}

/// A page of the contracts not yet invoiced, as the API names it.
pub async fn contract_page(state: &AppState, p: &ListParams) -> Result<ContractPage, ApiError> {
    let page: Page<ListedContract> = list_page(state, List::Uninvoiced, p).await?;
    Ok(ContractPage {
        items: page.items,
        sort: page.sort.to_owned(),
        order: page.order,
        next_cursor: page.next_cursor,
    })
}

/// `GET /api/v1/billing/invoices/unpaid`.
pub(super) async fn unpaid(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: ListParams = params::parse(query.as_deref())?;
    conditional::personal(&headers, &invoice_page(&state, List::Unpaid, &p).await?)
}

/// `GET /api/v1/billing/invoices/rejected`.
pub(super) async fn rejected(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: ListParams = params::parse(query.as_deref())?;
    conditional::personal(&headers, &invoice_page(&state, List::Rejected, &p).await?)
}

/// `GET /api/v1/billing/contracts/uninvoiced`.
pub(super) async fn uninvoiced(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p: ListParams = params::parse(query.as_deref())?;
    conditional::personal(&headers, &contract_page(&state, &p).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_defaults_to_its_first_key_and_the_most_urgent_first() {
        assert_eq!(List::Unpaid.default_sort(), "due_on");
        assert_eq!(List::Unpaid.default_order(), Order::Asc);
        assert_eq!(List::Rejected.default_sort(), "rejected_on");
        assert_eq!(List::Rejected.default_order(), Order::Desc);
        assert_eq!(List::Uninvoiced.sort_names(), ["signed_on", "premium"]);
    }
}
