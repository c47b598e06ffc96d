//! The access log: who read a customer's health data or IBAN, when, and why.
//!
//! The application (`lae_app`) may only append to it; auditors (`lae_auditor`) may
//! only read it. The log holds no personal value, only the fact of the read.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};

use crate::error::{AuditError, Result};

/// Records per page unless asked otherwise, and the most a page may hold.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1_000;

/// What was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    Health,
    Iban,
    /// A signed contract document.
    ContractDocument,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Iban => "iban",
            Self::ContractDocument => "contract_document",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "health" => Ok(Self::Health),
            "iban" => Ok(Self::Iban),
            "contract_document" => Ok(Self::ContractDocument),
            other => Err(AuditError::BackupFormat(format!(
                "unknown access kind {other:?}"
            ))),
        }
    }
}

/// One read to record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessEntry {
    /// The user who read.
    pub user: String,
    /// Their role at the time.
    pub role: String,
    /// Whose data.
    pub customer_id: String,
    pub what: AccessKind,
    /// Why (the caller's stated purpose, or the route).
    pub purpose: String,
    /// The request id, to find the request in the logs.
    pub request_id: Option<String>,
}

/// Appends one record (as `lae_app`).
pub async fn log_access(pool: &PgPool, entry: &AccessEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit.access_log (user_name, role, customer_id, what, purpose, request_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&entry.user)
    .bind(&entry.role)
    .bind(&entry.customer_id)
    .bind(entry.what.as_str())
    .bind(&entry.purpose)
    .bind(&entry.request_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Which records to list; every set field must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccessFilter {
    pub customer_id: Option<String>,
    pub user: Option<String>,
    pub what: Option<AccessKind>,
    /// `[from, to)` on `at`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page request: newest first, strictly older than the record `before` (the
/// `next_before` of the previous page).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct AccessPageRequest {
    pub before: Option<i64>,
    pub limit: Option<usize>,
}

/// One recorded read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user: String,
    pub role: String,
    pub customer_id: String,
    pub what: AccessKind,
    pub purpose: String,
    pub request_id: Option<String>,
}

/// A page of records, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct AccessLogPage {
    pub records: Vec<AccessRecord>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next_before: Option<i64>,
}

/// Lists records (as `lae_auditor`), newest first, by keyset on the record id.
pub async fn access_log(
    pool: &PgPool,
    filter: &AccessFilter,
    page: AccessPageRequest,
) -> Result<AccessLogPage> {
    let limit = page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let mut rows = sqlx::query(
        "SELECT id, at, user_name, role, customer_id, what, purpose, request_id
           FROM audit.access_log
          WHERE ($1::bigint IS NULL OR id < $1)
            AND ($2::text IS NULL OR customer_id = $2)
            AND ($3::text IS NULL OR user_name = $3)
            AND ($4::text IS NULL OR what = $4)
            AND ($5::timestamptz IS NULL OR at >= $5)
            AND ($6::timestamptz IS NULL OR at < $6)
          ORDER BY id DESC
          LIMIT $7",
    )
    .bind(page.before)
    .bind(&filter.customer_id)
    .bind(&filter.user)
    .bind(filter.what.map(AccessKind::as_str))
    .bind(filter.from)
    .bind(filter.to)
    // One more than asked, to know whether another page follows.
    .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
    .fetch(pool);
    let mut records = Vec::with_capacity(limit + 1);
    while let Some(row) = rows.try_next().await? {
        records.push(AccessRecord {
            id: row.try_get(0)?,
            at: row.try_get(1)?,
            user: row.try_get(2)?,
            role: row.try_get(3)?,
            customer_id: row.try_get(4)?,
            what: AccessKind::parse(row.try_get(5)?)?,
            purpose: row.try_get(6)?,
            request_id: row.try_get(7)?,
        });
    }
    let next_before = if records.len() > limit {
        records.truncate(limit);
        records.last().map(|r| r.id)
    } else {
        None
    };
    Ok(AccessLogPage {
        records,
        next_before,
    })
}
