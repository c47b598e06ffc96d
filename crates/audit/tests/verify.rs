//! Tamper evidence: an untouched store verifies clean; each kind of edit made by a
//! superuser who bypasses the append-only triggers is found and located.

mod common;

use std::time::Duration;

use common::{History, Platform, TestDb, key, small_history, tamper};
use lae_audit::{AuditError, AuditKey, ProblemKind, VerifyOptions, VerifyReport};

fn located(report: &VerifyReport, kind: ProblemKind, aggregate_id: &str, sequence: i64) -> bool {
    report.of_kind(kind).any(|p| {
        p.aggregate_type.as_deref() == Some("Customer")
            && p.aggregate_id.as_deref() == Some(aggregate_id)
            && p.sequence == Some(sequence)
    })
}

async fn sealed_history() -> (TestDb, common::DropGuard, History) {
    let (db, guard) = TestDb::new().await;
    let history = small_history(&db).await;
    db.seal_all().await;
    (db, guard, history)
}

#[tokio::test]
async fn an_untouched_store_verifies_clean() {
    let (db, _guard, _history) = sealed_history().await;
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert!(report.keyed);
    assert_eq!(report.events, 10);
    assert_eq!(report.seals, 10);
    assert_eq!(report.pending, 0);
    // The report is what the API and the CLI print.
    let json = serde_json::to_value(&report).expect("serializable");
    assert_eq!(json["problems"], serde_json::json!([]));
}

/// One case of tampering: what is done, and the problem that must name it.
struct Case {
    name: &'static str,
    statements: fn(&History) -> Vec<String>,
    expected: fn(&History) -> Vec<(ProblemKind, String, i64)>,
}

fn customer(id: &str, sequence: i64) -> String {
    format!("aggregate_type = 'Customer' AND aggregate_id = '{id}' AND sequence = {sequence}")
}

const CASES: &[Case] = &[
    Case {
        name: "payload edited",
        statements: |h| {
            vec![format!(
                "UPDATE events SET payload = replace(payload::text, 'alice.martin@', 'mallory@')::json WHERE {}",
                customer(&h.alice, 2)
            )]
        },
        expected: |h| vec![(ProblemKind::EventAltered, h.alice.clone(), 2)],
    },
    Case {
        name: "metadata edited",
        statements: |h| {
            vec![format!(
                "UPDATE events SET metadata = replace(metadata::text, 'camille', 'mallory')::json WHERE {}",
                customer(&h.bob, 2)
            )]
        },
        expected: |h| vec![(ProblemKind::EventAltered, h.bob.clone(), 2)],
    },
    Case {
        name: "event deleted",
        statements: |h| {
            vec![format!(
                "DELETE FROM events WHERE {}",
                customer(&h.alice, 2)
            )]
        },
        expected: |h| vec![(ProblemKind::EventDeleted, h.alice.clone(), 2)],
    },
    Case {
        name: "two sequences swapped",
        statements: |h| {
            vec![
                format!(
                    "UPDATE events SET sequence = 1000 WHERE {}",
                    customer(&h.alice, 2)
                ),
                format!(
                    "UPDATE events SET sequence = 2 WHERE {}",
                    customer(&h.alice, 3)
                ),
                format!(
                    "UPDATE events SET sequence = 3 WHERE {}",
                    customer(&h.alice, 1000)
                ),
            ]
        },
        expected: |h| {
            vec![
                (ProblemKind::EventReordered, h.alice.clone(), 2),
                (ProblemKind::EventReordered, h.alice.clone(), 3),
            ]
        },
    },
    Case {
        // A forged event slipped in behind the sealer, dated like its neighbours:
        // written with the transaction id of an old event, so that commit-order readers
        // place it in the past.
        name: "forged event inserted",
        statements: |h| {
            vec![format!(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                                     metadata, transaction_id, recorded_at)
                 SELECT aggregate_type, aggregate_id, 3, 'ContactDetailsChanged', event_version,
                        replace(payload::text, 'b.durand@', 'mallory@')::json, metadata, transaction_id, recorded_at
                   FROM events WHERE {}",
                customer(&h.bob, 2)
            )]
        },
        expected: |h| vec![(ProblemKind::EventInserted, h.bob.clone(), 3)],
    },
    Case {
        name: "seal rewritten",
        statements: |h| {
            vec![format!(
                "UPDATE audit.event_seals SET aggregate_hash = sha256(aggregate_hash) WHERE {}",
                customer(&h.carol, 2)
            )]
        },
        expected: |h| vec![(ProblemKind::SealAltered, h.carol.clone(), 2)],
    },
    Case {
        name: "event and seal deleted together",
        statements: |h| {
            vec![
                format!("DELETE FROM events WHERE {}", customer(&h.alice, 2)),
                format!(
                    "DELETE FROM audit.event_seals WHERE {}",
                    customer(&h.alice, 2)
                ),
            ]
        },
        expected: |h| vec![(ProblemKind::SequenceGap, h.alice.clone(), 2)],
    },
];

#[tokio::test]
async fn every_kind_of_tampering_is_found_and_located() {
    for case in CASES {
        let (db, _guard, history) = sealed_history().await;
        tamper(&db, &(case.statements)(&history)).await;
        let report = lae_audit::verify(&db.auditor, &key())
            .await
            .expect("verify");
        assert!(!report.ok(), "{}: not detected", case.name);
        for (kind, aggregate_id, sequence) in (case.expected)(&history) {
            assert!(
                located(&report, kind, &aggregate_id, sequence),
                "{}: expected {kind:?} at {aggregate_id}#{sequence}, got {:#?}",
                case.name,
                report.problems
            );
        }
        // Nothing else is blamed on the untouched customers.
        let untouched: Vec<&str> = [&history.alice, &history.bob, &history.carol]
            .into_iter()
            .filter(|c| !(case.expected)(&history).iter().any(|(_, id, _)| id == *c))
            .map(String::as_str)
            .collect();
        for p in &report.problems {
            let blamed = p.aggregate_id.as_deref().unwrap_or_default();
            assert!(
                !untouched.contains(&blamed),
                "{}: untouched {blamed} blamed: {p:?}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn recent_unsealed_events_are_pending_and_old_ones_are_problems() {
    let (db, _guard, history) = sealed_history().await;
    Platform::new(&db)
        .change_email(&history.bob, "Durand", "bob.d@exemple.fr")
        .await;
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.pending, 1);

    let strict = VerifyOptions {
        pending_grace: Duration::ZERO,
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = lae_audit::verify_with(&db.auditor, &key(), &strict)
        .await
        .expect("verify");
    assert!(
        located(&report, ProblemKind::EventUnsealedTooLong, &history.bob, 3),
        "{:#?}",
        report.problems
    );
}

#[tokio::test]
async fn an_unkeyed_chain_verifies_but_says_so() {
    let (db, _guard) = TestDb::new().await;
    small_history(&db).await;
    db.seal_all_with(&AuditKey::unkeyed(), &lae_audit::SealerConfig::default())
        .await;
    let report = lae_audit::verify(&db.auditor, &AuditKey::unkeyed())
        .await
        .expect("verify");
    assert!(!report.keyed);
    assert!(
        report.notes.iter().any(|n| n.contains("unkeyed")),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn another_key_is_refused_by_the_sealer_and_reported_by_the_verifier() {
    let (db, _guard, history) = sealed_history().await;
    let other = AuditKey::hmac(b"another key, also at least 32 bytes long").expect("key");
    Platform::new(&db)
        .change_email(&history.bob, "Durand", "bob.d@exemple.fr")
        .await;
    let refused = lae_audit::seal_pending(&db.sealer, &other, 100).await;
    assert!(
        matches!(refused, Err(AuditError::KeyMismatch { .. })),
        "{refused:?}"
    );
    let report = lae_audit::verify(&db.auditor, &other)
        .await
        .expect("verify");
    assert!(
        report.of_kind(ProblemKind::WrongKey).count() == 1,
        "{:#?}",
        report.problems
    );
}

#[tokio::test]
async fn checkpoints_are_written_and_checked() {
    let (db, _guard) = TestDb::new().await;
    small_history(&db).await;
    let config = lae_audit::SealerConfig {
        batch: 5,
        checkpoint_every: 4,
        ..lae_audit::SealerConfig::default()
    };
    db.seal_all_with(&key(), &config).await;
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.checkpoints, 2);

    // Removing the last seals (and their events) leaves the chain consistent, but not
    // with the checkpoint that covered them.
    tamper(
        &db,
        &[
            "DELETE FROM events WHERE global_position IN (SELECT global_position FROM audit.event_seals WHERE chain_index > 6)".into(),
            "DELETE FROM audit.event_seals WHERE chain_index > 6".into(),
        ],
    )
    .await;
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(
        report.of_kind(ProblemKind::CheckpointMismatch).count() >= 1,
        "{:#?}",
        report.problems
    );
}

#[tokio::test]
async fn the_background_sealer_follows_appends_and_stops_on_shutdown() {
    let (db, _guard) = TestDb::new().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = lae_audit::SealerConfig {
        poll_interval: Duration::from_millis(200),
        ..lae_audit::SealerConfig::default()
    };
    let sealer = tokio::spawn(lae_audit::run_sealer_with(
        db.sealer.clone(),
        key(),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    small_history(&db).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let sealed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit.event_seals")
            .fetch_one(&db.owner)
            .await
            .expect("count");
        if sealed == 10 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {sealed} sealed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    sealer.await.expect("joined").expect("clean stop");
}

#[tokio::test]
async fn the_sealer_waits_for_a_late_commit_instead_of_skipping_it() {
    let (db, _guard) = TestDb::new().await;
    // A transaction takes its id and an event position, and stays open...
    let mut slow = db.owner.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Ticket', 'slow', 1, 'TicketOpened', '1.0', '{\"type\":\"TicketOpened\",\"customer_id\":null}', '{}')",
    )
    .execute(&mut *slow)
    .await
    .expect("insert");
    // ...while a later one commits.
    Platform::new(&db)
        .register("Martin", "alice@exemple.fr")
        .await;
    let sealed = lae_audit::seal_pending(&db.sealer, &key(), 100)
        .await
        .expect("seal");
    assert_eq!(
        sealed, 0,
        "nothing may be sealed past a transaction still running"
    );

    slow.commit().await.expect("commit");
    db.seal_all().await;
    let first: String =
        sqlx::query_scalar("SELECT aggregate_id FROM audit.event_seals WHERE chain_index = 1")
            .fetch_one(&db.owner)
            .await
            .expect("first seal");
    assert_eq!(
        first, "slow",
        "the chain follows commit order (transaction id, then position)"
    );
    let report = lae_audit::verify(&db.auditor, &key())
        .await
        .expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
}
