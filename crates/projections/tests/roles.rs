//! Each department's roles reach their own schema and nothing else.

mod support;

use lae_projections::Department;
use sqlx::PgConnection;
use support::TestDb;

/// A table of each schema to probe.
fn probe_table(department: Department) -> &'static str {
    match department {
        Department::CustomerService => "customer_service.tickets",
        Department::Legal => "legal.health_declarations",
        Department::Sales => "sales.profiles",
        Department::Billing => "billing.mandates",
        Department::Management => "management.counters",
    }
}

/// The SQLSTATE of a statement's failure, or `None` when it succeeded.
async fn sqlstate(conn: &mut PgConnection, sql: &str) -> Option<String> {
    match sqlx::query(sql).execute(conn).await {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => Some(e.code().map(|c| c.into_owned()).unwrap_or_default()),
        Err(e) => panic!("{sql}: {e}"),
    }
}

const REFUSED: Option<&str> = Some("42501");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_is_refused_every_other_schema_and_the_event_store() {
    let db = TestDb::new().await;
    for own in Department::ALL {
        for role in [own.writer_role(), own.reader_role()] {
            let mut conn = db.connect_as(&role).await;
            // Its own schema: readable.
            let sql = format!("SELECT * FROM {} LIMIT 1", probe_table(own));
            assert_eq!(sqlstate(&mut conn, &sql).await, None, "{role}: {sql}");
            // Every other department's schema: refused.
            for other in Department::ALL.into_iter().filter(|d| *d != own) {
                let sql = format!("SELECT * FROM {} LIMIT 1", probe_table(other));
                assert_eq!(
                    sqlstate(&mut conn, &sql).await.as_deref(),
                    REFUSED,
                    "{role}: {sql}"
                );
                let sql = format!(
                    "SELECT * FROM {}.applied{} LIMIT 1",
                    other.schema(),
                    if other == Department::Management {
                        "_positions"
                    } else {
                        ""
                    }
                );
                assert_eq!(
                    sqlstate(&mut conn, &sql).await.as_deref(),
                    REFUSED,
                    "{role}: {sql}"
                );
            }
            // The event store and the relay's tables: refused.
            for sql in [
                "SELECT * FROM events LIMIT 1",
                "SELECT * FROM snapshots LIMIT 1",
                "SELECT * FROM relay_checkpoints LIMIT 1",
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ('x', 'x', 1, 'x', '1', '{}', '{}')",
            ] {
                assert_eq!(
                    sqlstate(&mut conn, sql).await.as_deref(),
                    REFUSED,
                    "{role}: {sql}"
                );
            }
            // Signed documents are legal's, for its API.
            let documents =
                sqlstate(&mut conn, "SELECT sha256 FROM contract_documents LIMIT 1").await;
            let allowed = role == Department::Legal.reader_role();
            assert_eq!(
                documents.as_deref(),
                if allowed { None } else { REFUSED },
                "{role}: contract_documents"
            );
        }
        // The reader cannot write its own schema; the writer can.
        let table = probe_table(own);
        let mut reader = db.connect_as(&own.reader_role()).await;
        assert_eq!(
            sqlstate(&mut reader, &format!("DELETE FROM {table}"))
                .await
                .as_deref(),
            REFUSED,
            "{own} reader writes"
        );
        let mut writer = db.connect_as(&own.writer_role()).await;
        assert_eq!(
            sqlstate(&mut writer, &format!("DELETE FROM {table}")).await,
            None,
            "{own} writer"
        );
        // Neither may change the schema.
        assert_eq!(
            sqlstate(
                &mut writer,
                &format!("CREATE TABLE {}.intruder (x int)", own.schema())
            )
            .await
            .as_deref(),
            REFUSED,
            "{own} writer DDL"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_has_no_grant_on_the_event_store_or_the_read_models() {
    let db = TestDb::new().await;
    let mut conn = db.owner().await;
    let public_grants: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text, privilege_type::text FROM information_schema.role_table_grants \
         WHERE grantee = 'PUBLIC' AND (table_schema = ANY($1) OR table_name IN ('events', 'snapshots', 'relay_checkpoints', 'contract_documents'))",
    )
    .bind(Department::ALL.map(|d| d.schema()).to_vec())
    .fetch_all(&mut conn)
    .await
    .expect("grants");
    assert!(public_grants.is_empty(), "{public_grants:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_role_has_any_privilege_outside_its_own_schema() {
    let db = TestDb::new().await;
    let mut conn = db.owner().await;
    for d in Department::ALL {
        for role in [d.writer_role(), d.reader_role()] {
            let reachable: Vec<String> = sqlx::query_scalar(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') \
                   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname <> $2 \
                   AND (has_table_privilege($1, c.oid, 'SELECT') OR has_table_privilege($1, c.oid, 'INSERT') \
                        OR has_table_privilege($1, c.oid, 'UPDATE') OR has_table_privilege($1, c.oid, 'DELETE') \
                        OR has_table_privilege($1, c.oid, 'TRUNCATE')) \
                 ORDER BY 1",
            )
            .bind(&role)
            .bind(d.schema())
            .fetch_all(&mut conn)
            .await
            .expect("privileges");
            // Beyond its schema: legal's reader reads contract documents, and each
            // writer reads the data keys of the categories its department may see
            // (migration 0007) — keys only, which open nothing without the master key.
            let mut expected: Vec<String> = if role == Department::Legal.reader_role() {
                vec!["public.contract_documents".to_owned()]
            } else if role == d.writer_role() {
                d.categories()
                    .iter()
                    .map(|c| format!("keys.{}", c.as_str()))
                    .collect()
            } else {
                Vec::new()
            };
            expected.sort();
            assert_eq!(reachable, expected, "{role}");
        }
    }
}
