//! Typed read-model tables, read and written in bulk.
//!
//! Every row of a read model belongs to exactly one aggregate (it is keyed by the
//! aggregate id, or by the aggregate id and sequence for history rows), so the lock a
//! batch takes on that aggregate's bookkeeping row also protects the row. A batch
//! loads the rows its events touch in one query per table, folds the events into them
//! in memory (pure functions, in event order), and writes them back with one
//! `INSERT ... SELECT FROM unnest(...) ON CONFLICT` per table: a handful of
//! statements whatever the batch size, for the live projector and the rebuild alike.

use std::collections::{HashMap, HashSet};

use lae_store::db::quote_ident;
use sqlx::PgConnection;
use uuid::Uuid;

/// A table whose rows are loaded, changed in memory and written back whole.
pub(crate) trait Row: Sized + Send + Unpin {
    /// Loads the rows with these keys from `schema`.
    fn load(
        conn: &mut PgConnection,
        schema: &str,
        keys: &[Uuid],
    ) -> impl Future<Output = Result<Vec<Self>, sqlx::Error>> + Send;

    /// Writes rows to `schema`, each replacing the stored row with the same key.
    fn store(
        conn: &mut PgConnection,
        schema: &str,
        rows: &[Self],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The row's key.
    fn key(&self) -> Uuid;
}

/// The `INSERT` of rows given as one array per column.
///
/// `update` false keeps the stored row (history rows are written once and never change).
pub(crate) fn insert_sql(
    schema: &str,
    table: &str,
    conflict: &str,
    columns: &[&str],
    types: &[&str],
    update: bool,
) -> String {
    let arrays: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", i + 1))
        .collect();
    let action = if update {
        let sets: Vec<String> = columns
            .iter()
            .filter(|c| !conflict.split(',').any(|k| k.trim() == **c))
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        format!("DO UPDATE SET {}", sets.join(", "))
    } else {
        "DO NOTHING".to_owned()
    };
    format!(
        "INSERT INTO {}.{table} ({}) SELECT * FROM unnest({}) ON CONFLICT ({conflict}) {action}",
        quote_ident(schema),
        columns.join(", "),
        arrays.join(", "),
    )
}

/// The `SELECT` of the rows whose key is in `$1`.
pub(crate) fn select_sql(schema: &str, table: &str, key: &str, columns: &[&str]) -> String {
    format!(
        "SELECT {} FROM {}.{table} WHERE {key} = ANY($1)",
        columns.join(", "),
        quote_ident(schema),
    )
}

/// Declares a row struct of a read-model table, with its bulk load and store.
///
/// Each field names its PostgreSQL array element type, used to `unnest` the columns.
macro_rules! table {
    (
        $(#[$meta:meta])*
        $name:ident in $table:literal key $key:ident {
            $( $field:ident : $ty:ty => $sqltype:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
        pub(crate) struct $name {
            $( pub(crate) $field: $ty ),+
        }

        impl $name {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            const TYPES: &'static [&'static str] = &[$($sqltype),+];
        }

        impl $crate::table::Row for $name {
            async fn load(
                conn: &mut sqlx::PgConnection,
                schema: &str,
                keys: &[uuid::Uuid],
            ) -> Result<Vec<Self>, sqlx::Error> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = $crate::table::select_sql(schema, $table, stringify!($key), Self::COLUMNS);
                sqlx::query_as(&sql).bind(keys).fetch_all(conn).await
            }

            async fn store(
                conn: &mut sqlx::PgConnection,
                schema: &str,
                rows: &[Self],
            ) -> Result<(), sqlx::Error> {
                if rows.is_empty() {
                    return Ok(());
                }
                let sql = $crate::table::insert_sql(
                    schema, $table, stringify!($key), Self::COLUMNS, Self::TYPES, true,
                );
                let query = sqlx::query(&sql)
                    $( .bind(rows.iter().map(|r| r.$field.clone()).collect::<Vec<$ty>>()) )+;
                query.execute(conn).await?;
                Ok(())
            }

            fn key(&self) -> uuid::Uuid {
                self.$key
            }
        }
    };
}

/// Declares an append-only history row (key: aggregate id and sequence), with its bulk
/// insert; a row already there (a replayed event) is left as it is.
macro_rules! history {
    (
        $(#[$meta:meta])*
        $name:ident in $table:literal key ($($key:ident),+) {
            $( $field:ident : $ty:ty => $sqltype:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub(crate) struct $name {
            $( pub(crate) $field: $ty ),+
        }

        impl $name {
            /// Inserts history rows, skipping those already present.
            pub(crate) async fn insert(
                conn: &mut sqlx::PgConnection,
                schema: &str,
                rows: &[Self],
            ) -> Result<(), sqlx::Error> {
                if rows.is_empty() {
                    return Ok(());
                }
                let conflict = [$(stringify!($key)),+].join(", ");
                let sql = $crate::table::insert_sql(
                    schema,
                    $table,
                    &conflict,
                    &[$(stringify!($field)),+],
                    &[$($sqltype),+],
                    false,
                );
                let query = sqlx::query(&sql)
                    $( .bind(rows.iter().map(|r| r.$field.clone()).collect::<Vec<$ty>>()) )+;
                query.execute(conn).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use {history, table};

/// The rows of one table that a batch touches: loaded once, changed in memory in event
/// order, written back once.
#[derive(Debug)]
pub(crate) struct Touched<R> {
    rows: HashMap<Uuid, R>,
    changed: Vec<Uuid>,
    changed_set: HashSet<Uuid>,
}

impl<R: Row> Touched<R> {
    /// Loads the stored rows for `keys` (duplicates are fine).
    pub(crate) async fn load(
        conn: &mut PgConnection,
        schema: &str,
        keys: impl IntoIterator<Item = Uuid>,
    ) -> Result<Self, sqlx::Error> {
        let mut unique: Vec<Uuid> = keys.into_iter().collect();
        unique.sort_unstable();
        unique.dedup();
        let rows = R::load(conn, schema, &unique).await?;
        Ok(Self {
            rows: rows.into_iter().map(|r| (r.key(), r)).collect(),
            changed: Vec::new(),
            changed_set: HashSet::new(),
        })
    }

    /// Replaces the row `key` by `f(current row)`.
    pub(crate) fn update(&mut self, key: Uuid, f: impl FnOnce(Option<R>) -> R) {
        let next = f(self.rows.remove(&key));
        self.rows.insert(key, next);
        if self.changed_set.insert(key) {
            self.changed.push(key);
        }
    }

    /// Replaces the row `key` by `f(current row)` if there is one.
    pub(crate) fn update_existing(&mut self, key: Uuid, f: impl FnOnce(R) -> R) {
        if let Some(row) = self.rows.remove(&key) {
            self.rows.insert(key, f(row));
            if self.changed_set.insert(key) {
                self.changed.push(key);
            }
        }
    }

    /// Writes the changed rows back.
    pub(crate) async fn store(
        mut self,
        conn: &mut PgConnection,
        schema: &str,
    ) -> Result<(), sqlx::Error> {
        let rows: Vec<R> = self
            .changed
            .iter()
            .filter_map(|key| self.rows.remove(key))
            .collect();
        R::store(conn, schema, &rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_updates_every_column_but_the_key() {
        let sql = insert_sql(
            "sales",
            "offers",
            "offer_id",
            &["offer_id", "status"],
            &["uuid", "text"],
            true,
        );
        assert_eq!(
            sql,
            "INSERT INTO \"sales\".offers (offer_id, status) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT (offer_id) DO UPDATE SET status = EXCLUDED.status"
        );
        let sql = insert_sql(
            "billing",
            "invoice_history",
            "invoice_id, sequence",
            &["invoice_id", "sequence", "kind"],
            &["uuid", "bigint", "text"],
            false,
        );
        assert!(
            sql.ends_with("ON CONFLICT (invoice_id, sequence) DO NOTHING"),
            "{sql}"
        );
    }
}
