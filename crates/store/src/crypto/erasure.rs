//! Destroying a subject's keys (crypto-shredding) and re-wrapping every key under a
//! new master key (rotation). Neither touches an event.

use lae_domain::DataCategory;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::KeyError;
use super::keyring::{MasterKeys, table};

/// What an erasure destroyed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Shredded {
    /// The categories whose key existed and was destroyed.
    pub categories: Vec<DataCategory>,
    /// Whether the subject was already recorded as erased (a re-run).
    pub already_erased: bool,
}

/// Destroys every key of `subject` and records the erasure (`keys.erased`), in one
/// transaction. Idempotent: a re-run destroys nothing more and says so. From then on
/// [`super::Keyring::provision`] refuses to create keys for the subject.
///
/// Deleted rows stay in the table's files until PostgreSQL vacuums them; the owner's
/// tools (`lae customers erase`) vacuum the key tables right after. They are wrapped
/// by the master key in any case.
pub async fn shred(
    conn: &mut PgConnection,
    subject: Uuid,
    reason: &str,
    erased_by: &str,
) -> Result<Shredded, KeyError> {
    let mut tx = conn.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO keys.erased (subject_id, reason, erased_by) VALUES ($1, $2, $3) \
         ON CONFLICT (subject_id) DO NOTHING",
    )
    .bind(subject)
    .bind(reason)
    .bind(erased_by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let mut categories = Vec::new();
    for category in DataCategory::ALL {
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE subject_id = $1",
            table(category)
        ))
        .bind(subject)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted > 0 {
            categories.push(category);
        }
    }
    tx.commit().await?;
    Ok(Shredded {
        categories,
        already_erased: inserted == 0,
    })
}

/// Whether `subject` was erased.
pub async fn is_erased(conn: &mut PgConnection, subject: Uuid) -> Result<bool, KeyError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM keys.erased WHERE subject_id = $1)")
            .bind(subject)
            .fetch_one(conn)
            .await?,
    )
}

/// Re-wraps, under the current master key, every data key wrapped by another
/// (previous) one, `batch` keys per transaction; returns how many were re-wrapped.
/// Events are not touched: they are sealed with the data keys, which do not change.
/// Safe to interrupt and re-run; the previous master key may be retired once it
/// returns 0 and [`wrapped_by_others`] is 0.
pub async fn rotate(
    conn: &mut PgConnection,
    masters: &MasterKeys,
    batch: i64,
) -> Result<u64, KeyError> {
    let current = masters.current();
    let mut total = 0;
    for category in DataCategory::ALL {
        let table = table(category);
        loop {
            let mut tx = conn.begin().await?;
            let rows: Vec<(Uuid, String, Vec<u8>)> = sqlx::query_as(&format!(
                "SELECT subject_id, master_key_id, wrapped FROM {table} \
                 WHERE master_key_id <> $1 ORDER BY subject_id LIMIT $2 FOR UPDATE"
            ))
            .bind(current.id())
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                break;
            }
            let mut ids = Vec::with_capacity(rows.len());
            let mut wrapped = Vec::with_capacity(rows.len());
            for (subject, kek_id, old) in rows {
                let key = masters.by_id(&kek_id)?.unwrap(subject, category, &old)?;
                ids.push(subject);
                wrapped.push(current.wrap(subject, category, &key));
            }
            let updated = sqlx::query(&format!(
                "UPDATE {table} k SET master_key_id = $1, wrapped = u.wrapped \
                 FROM unnest($2::uuid[], $3::bytea[]) AS u(subject_id, wrapped) \
                 WHERE k.subject_id = u.subject_id"
            ))
            .bind(current.id())
            .bind(&ids)
            .bind(&wrapped)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            total += updated;
        }
    }
    Ok(total)
}

/// How many data keys are wrapped by a master key other than the current one.
pub async fn wrapped_by_others(
    conn: &mut PgConnection,
    masters: &MasterKeys,
) -> Result<i64, KeyError> {
    let mut total = 0;
    for category in DataCategory::ALL {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE master_key_id <> $1",
            table(category)
        ))
        .bind(masters.current().id())
        .fetch_one(&mut *conn)
        .await?;
        total += n;
    }
    Ok(total)
}
