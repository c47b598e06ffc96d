//! `lae audit seal` and `lae audit verify` with the anchors published outside the
//! database, run as the real `lae` binary against the real PostgreSQL and NATS: the last
//! ten events removed together with their seals and checkpoints are named.
//!
//! A binary of its own, not a test of `cli_audit`: that file's restore test rebuilds
//! the read models at once after the restore, and a test writing events beside it in
//! the same binary made it fail intermittently (empty read models after the restore).

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, lae, lae_with};
use serde_json::Value;

/// Runs `statements` as the owner with every trigger off: what a superuser can do.
async fn as_superuser(pool: &sqlx::PgPool, statements: &[&str]) {
    let mut conn = pool.acquire().await.expect("owner connection");
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("bypass triggers");
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn truncations(out: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter(|p| p["kind"] == "chain_truncated")
        .cloned()
        .collect()
}

#[tokio::test]
async fn verify_with_anchors_names_the_last_ten_events_removed_with_their_seals() {
    let db = TestDb::new("clianchors");
    let database = db.settings.database().to_owned();
    let file = std::env::temp_dir().join(format!("{database}.anchors.jsonl"));
    let file_arg = file.to_str().expect("path").to_owned();
    let env = [("LAE_AUDIT_ANCHOR_FILE", file_arg.as_str())];
    // Creates and migrates the database; nothing to seal yet, nothing to anchor.
    let (code, out, err) = lae_with(&database, &["audit", "seal"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = lae(&database, &["audit", "verify"]);
    assert_eq!(code, 0, "no anchor yet is not a failure: {out}{err}");
    assert!(out.contains("no anchor in the NATS bucket"), "{out}");

    let owner = db.owner_pool().await;
    for n in 0..20 {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('Ticket', $1, 1, 'TicketOpened', '1.0', '{\"type\":\"TicketOpened\",\"customer_id\":null}', '{}')",
        )
        .bind(format!("ticket-{n}"))
        .execute(&owner)
        .await
        .expect("event");
    }
    // Another test's open transaction can hold the sealer back for a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, out, err) = lae_with(&database, &["audit", "seal"], &env);
        assert_eq!(code, 0, "{out}{err}");
        let sealed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit.event_seals")
            .fetch_one(&owner)
            .await
            .expect("count");
        if sealed == 20 {
            assert!(out.contains("published 1 anchors"), "{out}");
            break;
        }
        assert!(Instant::now() < deadline, "only {sealed} sealed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, out, err) = lae(&database, &["audit", "verify"]);
    assert_eq!(code, 0, "untouched, anchored: {out}{err}");
    let (code, out, err) = lae(&database, &["audit", "verify", "--anchors", &file_arg]);
    assert_eq!(code, 0, "untouched, anchored in the file: {out}{err}");

    as_superuser(
        &owner,
        &[
            "DELETE FROM events WHERE global_position IN
               (SELECT global_position FROM audit.event_seals WHERE chain_index > 10)",
            "DELETE FROM audit.event_seals WHERE chain_index > 10",
            "DELETE FROM audit.seal_checkpoints WHERE events_count > 10",
        ],
    )
    .await;
    for args in [
        vec!["audit", "verify"],
        vec!["audit", "verify", "--anchors", &file_arg],
    ] {
        let (code, out, err) = lae(&database, &args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        let truncated = truncations(&out);
        assert_eq!(truncated.len(), 1, "{args:?}: {out}");
        assert_eq!(truncated[0]["chain_index"], 20, "{args:?}: {out}");
        let detail = truncated[0]["detail"].as_str().expect("detail");
        assert!(
            detail.contains("at least 10 sealed events were removed"),
            "{args:?}: {detail}"
        );
    }
    let (code, out, err) = lae(&database, &["audit", "verify", "--no-anchors"]);
    assert_eq!(
        code, 0,
        "without the anchors the shortened chain looks whole: {out}{err}"
    );
    assert!(out.contains("--no-anchors"), "{out}");
    let (code, _, err) = lae(
        &database,
        &["audit", "verify", "--anchors", "/nonexistent/anchors.jsonl"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/anchors.jsonl"), "{err}");
    let _ = std::fs::remove_file(&file);
}
