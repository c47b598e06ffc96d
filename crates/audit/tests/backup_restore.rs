//! Backup while the platform runs, restore into a fresh database: the same history,
//! byte for byte, in the same commit order, with the same seals, verifying clean.

mod common;

use std::io::{Read, Write};

use common::{DropGuard, Platform, TestDb, key, new_name, settings_for, small_history};
use lae_audit::AuditError;
use sqlx::PgPool;

type EventRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    uuid::Uuid,
    chrono::DateTime<chrono::Utc>,
);

/// Every column but `transaction_id`, in commit order.
async fn events(pool: &PgPool) -> Vec<EventRow> {
    sqlx::query_as(
        "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, event_version,
                payload::text, metadata::text, event_id, recorded_at
           FROM events ORDER BY transaction_id, global_position",
    )
    .fetch_all(pool)
    .await
    .expect("events")
}

async fn rows_as_text(pool: &PgPool, table: &str, order: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT t::text FROM {table} AS t ORDER BY {order}"
    ))
    .fetch_all(pool)
    .await
    .expect("rows")
}

/// Two events committed in the opposite order of their global positions: the first
/// transaction takes its id, the second inserts and commits, then the first inserts
/// and commits. Commit order is (transaction id, position), so the restore must keep
/// that inversion.
async fn commit_out_of_position_order(db: &TestDb, customer: &str) {
    let mut early = db.owner.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *early)
        .await
        .expect("take an id");
    let mut late = db.owner.begin().await.expect("begin");
    let insert = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                  VALUES ('Ticket', $1, 1, 'TicketOpened', '1.0', $2::json, '{\"user\":\"x\"}')";
    sqlx::query(insert)
        .bind(format!("late-{customer}"))
        .bind(format!(
            r#"{{"type":"TicketOpened","customer_id":"{customer}"}}"#
        ))
        .execute(&mut *late)
        .await
        .expect("insert");
    late.commit().await.expect("commit");
    sqlx::query(insert)
        .bind(format!("early-{customer}"))
        .bind(r#"{"type":"TicketOpened",  "customer_id": null }"#)
        .execute(&mut *early)
        .await
        .expect("insert");
    early.commit().await.expect("commit");
}

#[tokio::test]
async fn a_restored_store_is_the_same_history_and_verifies_clean() {
    let (source, _source_guard) = TestDb::new().await;
    let history = small_history(&source).await;
    let platform = Platform::new(&source);
    platform
        .request_and_sign_contract(&source, &history.alice)
        .await;
    commit_out_of_position_order(&source, &history.bob).await;
    lae_audit::log_access(
        &source.app,
        &lae_audit::AccessEntry {
            user: "auditrice".into(),
            role: "auditor".into(),
            customer_id: history.carol.clone(),
            what: lae_audit::AccessKind::Health,
            purpose: "contrôle annuel".into(),
            request_id: Some("req-1".into()),
        },
    )
    .await
    .expect("access logged");
    let config = lae_audit::SealerConfig {
        checkpoint_every: 4,
        ..lae_audit::SealerConfig::default()
    };
    source.seal_all_with(&key(), &config).await;
    // One event the sealer has not reached: it travels unsealed and is sealed later.
    platform
        .change_email(&history.bob, "Durand", "bob.last@exemple.fr")
        .await;
    assert!(
        lae_audit::verify(&source.auditor, &key())
            .await
            .expect("verify")
            .ok()
    );

    let dir = std::env::temp_dir().join(new_name());
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lae.backup.gz");
    let backup = lae_audit::backup(&source.settings, &file)
        .await
        .expect("backup");
    assert_eq!(backup.counts.events, 15);
    assert_eq!(backup.counts.documents, 1);
    assert!(!dir.join("lae.backup.gz.partial").exists());

    let target_settings = settings_for(&new_name());
    let _target_guard = DropGuard(target_settings.clone());
    let restored = lae_audit::restore(&target_settings, &file, &key())
        .await
        .expect("restore");
    assert!(restored.ok(), "{:#?}", restored.verify.problems);
    assert_eq!(restored.restored, backup.counts);
    assert_eq!(restored.verify.pending, 1);
    let target = TestDb::connect(target_settings.clone()).await;

    // Events, identical column by column and in the same commit order, which here is
    // not the order of global positions.
    let source_events = events(&source.owner).await;
    assert!(
        !source_events.is_sorted_by_key(|e| e.0),
        "the scenario commits out of position order"
    );
    assert_eq!(events(&target.owner).await, source_events);
    for (table, order) in [
        ("contract_documents", "sha256"),
        ("audit.seal_checkpoints", "events_count"),
        ("audit.seal_keys", "from_chain_index"),
        ("audit.access_log", "id"),
        (
            "audit.subject_aggregates",
            "customer_id, aggregate_type, aggregate_id",
        ),
    ] {
        assert_eq!(
            rows_as_text(&target.owner, table, order).await,
            rows_as_text(&source.owner, table, order).await,
            "{table}"
        );
    }
    // Seals: every column but the transaction id, which a restore renumbers.
    let seals =
        "SELECT row(global_position, chain_index, aggregate_type, aggregate_id, sequence, event_id,
                           aggregate_hash, chain_hash, sealed_at)::text
                   FROM audit.event_seals ORDER BY chain_index";
    let source_seals: Vec<String> = sqlx::query_scalar(seals)
        .fetch_all(&source.owner)
        .await
        .expect("seals");
    let target_seals: Vec<String> = sqlx::query_scalar(seals)
        .fetch_all(&target.owner)
        .await
        .expect("seals");
    assert_eq!(target_seals, source_seals);
    assert_eq!(source_seals.len(), 14);
    let numbering = "SELECT last_value FROM customer_number_seq";
    let last: i64 = sqlx::query_scalar(numbering)
        .fetch_one(&target.owner)
        .await
        .expect("sequence");
    assert_eq!(
        last,
        sqlx::query_scalar::<_, i64>(numbering)
            .fetch_one(&source.owner)
            .await
            .expect("sequence")
    );

    // The restored store goes on: new events get new positions and are sealed onto the
    // same chain.
    let restored_platform = Platform::new(&target);
    restored_platform
        .change_email(&history.alice, "Martin", "alice.after@exemple.fr")
        .await;
    target.seal_all().await;
    let report = lae_audit::verify(&target.auditor, &key())
        .await
        .expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.seals, 16);

    // Restoring again into the now non-empty store is refused.
    let refused = lae_audit::restore(&target_settings, &file, &key()).await;
    assert!(
        matches!(refused, Err(AuditError::NotEmpty { .. })),
        "{refused:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_damaged_backup_is_refused_before_anything_is_written() {
    let (source, _guard) = TestDb::new().await;
    small_history(&source).await;
    source.seal_all().await;
    let dir = std::env::temp_dir().join(new_name());
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lae.backup.gz");
    lae_audit::backup(&source.settings, &file)
        .await
        .expect("backup");

    // Change one character of one payload and compress again: still a valid file, but
    // not the content the trailer vouches for.
    let mut content = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&file).expect("open"))
        .read_to_string(&mut content)
        .expect("gunzip");
    let forged = content.replacen("alice.martin@", "mallory.xx@", 1);
    assert_ne!(forged, content);
    let damaged = dir.join("damaged.gz");
    let mut gzip = flate2::write::GzEncoder::new(
        std::fs::File::create(&damaged).expect("create"),
        flate2::Compression::fast(),
    );
    gzip.write_all(forged.as_bytes()).expect("write");
    gzip.finish().expect("finish");

    let target_settings = settings_for(&new_name());
    let _target_guard = DropGuard(target_settings.clone());
    let refused = lae_audit::restore(&target_settings, &damaged, &key()).await;
    assert!(
        matches!(refused, Err(AuditError::BackupChecksum { .. })),
        "{refused:?}"
    );
    let target = TestDb::connect(target_settings).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&target.owner)
        .await
        .expect("count");
    assert_eq!(count, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
