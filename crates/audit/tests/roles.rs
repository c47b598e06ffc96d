//! Who may do what in the audit schema, and the access log.

mod common;

use common::{TestDb, small_history};
use lae_audit::access_log::AccessPageRequest;
use lae_audit::{AccessEntry, AccessFilter, AccessKind};
use sqlx::PgPool;

async fn refused(pool: &PgPool, statement: &str) -> bool {
    sqlx::query(statement).execute(pool).await.is_err()
}

#[tokio::test]
async fn each_role_has_exactly_what_it_needs() {
    let (db, _guard) = TestDb::new().await;
    small_history(&db).await;
    db.seal_all().await;

    // The application: no reading or writing of seals.
    assert!(refused(&db.app, "SELECT 1 FROM audit.event_seals LIMIT 1").await);
    assert!(refused(&db.app, "SELECT 1 FROM audit.seal_checkpoints LIMIT 1").await);
    assert!(refused(&db.app, "DELETE FROM audit.event_seals").await);
    assert!(refused(&db.app, "SELECT 1 FROM audit.access_log LIMIT 1").await);

    // The sealer: appends seals, edits nothing, writes no event.
    assert!(refused(&db.sealer, "UPDATE audit.event_seals SET sealed_at = now()").await);
    assert!(refused(&db.sealer, "DELETE FROM audit.seal_checkpoints").await);
    assert!(refused(&db.sealer, "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ('x', 'y', 1, 'z', '1', '{}', '{}')").await);
    assert!(refused(&db.sealer, "SELECT 1 FROM contract_documents LIMIT 1").await);

    // The auditor: reads events and the audit schema, nothing else.
    assert!(!refused(&db.auditor, "SELECT 1 FROM events LIMIT 1").await);
    assert!(!refused(&db.auditor, "SELECT 1 FROM audit.event_seals LIMIT 1").await);
    assert!(refused(&db.auditor, "INSERT INTO audit.access_log (user_name, role, customer_id, what, purpose) VALUES ('a', 'b', 'c', 'iban', 'd')").await);
    assert!(refused(&db.auditor, "SELECT 1 FROM contract_documents LIMIT 1").await);
    assert!(refused(&db.auditor, "SELECT 1 FROM auth.users LIMIT 1").await);

    // Not even the owner edits a seal while the triggers are on.
    assert!(refused(&db.owner, "UPDATE audit.event_seals SET sealed_at = now()").await);
    assert!(refused(&db.owner, "TRUNCATE audit.access_log").await);
}

#[tokio::test]
async fn the_application_logs_reads_and_auditors_page_through_them() {
    let (db, _guard) = TestDb::new().await;
    for (i, what) in [
        AccessKind::Health,
        AccessKind::Iban,
        AccessKind::Health,
        AccessKind::Health,
    ]
    .into_iter()
    .enumerate()
    {
        lae_audit::log_access(
            &db.app,
            &AccessEntry {
                user: format!("user{i}"),
                role: "legal".into(),
                customer_id: if i == 1 { "other".into() } else { "c1".into() },
                what,
                purpose: "instruction du dossier".into(),
                request_id: Some(format!("req-{i}")),
            },
        )
        .await
        .expect("logged");
    }
    let filter = AccessFilter {
        customer_id: Some("c1".into()),
        ..AccessFilter::default()
    };
    let first = lae_audit::access_log(
        &db.auditor,
        &filter,
        AccessPageRequest {
            before: None,
            limit: Some(2),
        },
    )
    .await
    .expect("page");
    assert_eq!(
        first
            .records
            .iter()
            .map(|r| r.user.as_str())
            .collect::<Vec<_>>(),
        ["user3", "user2"]
    );
    let second = lae_audit::access_log(
        &db.auditor,
        &filter,
        AccessPageRequest {
            before: first.next_before,
            limit: Some(2),
        },
    )
    .await
    .expect("page");
    assert_eq!(
        second
            .records
            .iter()
            .map(|r| r.user.as_str())
            .collect::<Vec<_>>(),
        ["user0"]
    );
    assert!(second.next_before.is_none());
    let iban = AccessFilter {
        what: Some(AccessKind::Iban),
        ..AccessFilter::default()
    };
    let page = lae_audit::access_log(&db.auditor, &iban, AccessPageRequest::default())
        .await
        .expect("page");
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].customer_id, "other");
}
