//! Anchors: the chain's checkpoints published outside the database show a tail removed
//! together with its seals and checkpoints, which the database alone cannot show.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{TestDb, key, small_history, tamper};
use lae_audit::{
    Anchor, AnchorConfig, AnchorPublisher, ProblemKind, SealerConfig, VerifyOptions, VerifyReport,
};
use uuid::Uuid;

const NATS_URL: &str = "nats://127.0.0.1:4222";

/// A bucket and a file of the test's own, removed when it ends.
struct Anchors {
    config: AnchorConfig,
}

impl Anchors {
    fn new() -> Self {
        let name = format!("test_anchors_{}", Uuid::new_v4().simple());
        Self {
            config: AnchorConfig {
                nats_url: Some(NATS_URL.to_owned()),
                file: Some(std::env::temp_dir().join(format!("{name}.jsonl"))),
                bucket: name,
            },
        }
    }

    fn file(&self) -> PathBuf {
        self.config.file.clone().expect("a file")
    }

    async fn latest_in_nats(&self) -> Option<Anchor> {
        lae_audit::latest_from_nats(NATS_URL, &self.config.bucket)
            .await
            .expect("read the bucket")
    }

    async fn remove(&self) {
        let _ = std::fs::remove_file(self.file());
        if let Ok(client) = async_nats::connect(NATS_URL).await {
            let _ = async_nats::jetstream::new(client)
                .delete_key_value(&self.config.bucket)
                .await;
        }
    }
}

async fn verify(db: &TestDb, anchor: Option<&Anchor>) -> VerifyReport {
    lae_audit::verify_against(&db.auditor, &key(), &VerifyOptions::default(), anchor)
        .await
        .expect("verify")
}

/// Twenty events, sealed with a checkpoint every four seals.
async fn twenty_sealed_events(db: &TestDb) {
    small_history(db).await;
    small_history(db).await;
    let config = SealerConfig {
        checkpoint_every: 4,
        ..SealerConfig::default()
    };
    db.seal_all_with(&key(), &config).await;
}

#[tokio::test]
async fn the_last_ten_events_removed_with_their_seals_are_named_through_nats_and_the_file() {
    let (db, _guard) = TestDb::new().await;
    let anchors = Anchors::new();
    twenty_sealed_events(&db).await;
    let mut publisher = AnchorPublisher::new(anchors.config.clone());
    let published = publisher
        .publish_pending(&db.sealer)
        .await
        .expect("publish");
    assert_eq!(published, 5, "checkpoints 4, 8, 12, 16 and 20");
    assert_eq!(
        publisher
            .publish_pending(&db.sealer)
            .await
            .expect("publish"),
        0,
        "what is anchored is not anchored twice"
    );

    let from_nats = anchors.latest_in_nats().await.expect("an anchor in NATS");
    let from_file = lae_audit::latest_from_file(&anchors.file())
        .expect("read the file")
        .expect("an anchor in the file");
    assert_eq!(from_nats, from_file);
    assert_eq!(from_nats.events_count, 20);
    let report = verify(&db, Some(&from_nats)).await;
    assert!(report.ok(), "untouched: {:#?}", report.problems);

    // The superuser removes the last ten events, their seals and their checkpoints.
    tamper(
        &db,
        &[
            "DELETE FROM events WHERE global_position IN
               (SELECT global_position FROM audit.event_seals WHERE chain_index > 10)"
                .into(),
            "DELETE FROM audit.event_seals WHERE chain_index > 10".into(),
            "DELETE FROM audit.seal_checkpoints WHERE events_count > 10".into(),
        ],
    )
    .await;
    let unanchored = verify(&db, None).await;
    assert!(
        unanchored.ok(),
        "inside the database the shortened chain is consistent: {:#?}",
        unanchored.problems
    );
    for (source, anchor) in [("NATS", &from_nats), ("file", &from_file)] {
        let report = verify(&db, Some(anchor)).await;
        assert!(!report.ok(), "{source}: truncation not detected");
        let truncated: Vec<_> = report.of_kind(ProblemKind::ChainTruncated).collect();
        assert_eq!(truncated.len(), 1, "{source}: {:#?}", report.problems);
        let problem = truncated[0];
        assert_eq!(problem.chain_index, Some(20), "{source}");
        assert_eq!(
            problem.global_position,
            Some(from_nats.upto_global_position),
            "{source}"
        );
        assert!(
            problem.detail.contains("ends at seal 10")
                && problem
                    .detail
                    .contains("at least 10 sealed events were removed")
                && problem.detail.contains("seals 11 to 20"),
            "{source}: {}",
            problem.detail
        );
    }
    anchors.remove().await;
}

#[tokio::test]
async fn a_chain_rewritten_at_the_anchored_seal_does_not_match_the_anchor() {
    let (db, _guard) = TestDb::new().await;
    let anchors = Anchors::new();
    twenty_sealed_events(&db).await;
    AnchorPublisher::new(anchors.config.clone())
        .publish_pending(&db.sealer)
        .await
        .expect("publish");
    let anchor = anchors.latest_in_nats().await.expect("an anchor");
    // The last seals recomputed by someone who removed events in the middle and
    // rebuilt the chain's tail: the seal at the anchored place carries another hash.
    tamper(
        &db,
        &[
            "UPDATE audit.event_seals SET chain_hash = sha256(chain_hash) WHERE chain_index = 20"
                .into(),
        ],
    )
    .await;
    let report = verify(&db, Some(&anchor)).await;
    assert_eq!(
        report.of_kind(ProblemKind::AnchorMismatch).count(),
        1,
        "{:#?}",
        report.problems
    );
    anchors.remove().await;
}

#[tokio::test]
async fn without_an_anchor_nothing_is_published_and_nothing_fails() {
    let (db, _guard) = TestDb::new().await;
    let anchors = Anchors::new();
    small_history(&db).await;
    db.seal_all().await;
    // Ten seals, no checkpoint yet (one every 10,000): nothing to anchor, no bucket.
    let published = AnchorPublisher::new(anchors.config.clone())
        .publish_pending(&db.sealer)
        .await
        .expect("publish");
    assert_eq!(published, 0);
    assert_eq!(anchors.latest_in_nats().await, None);
    assert!(!anchors.file().exists());
    assert!(verify(&db, None).await.ok());
    anchors.remove().await;
}

#[tokio::test]
async fn the_background_sealer_publishes_each_checkpoint_after_it_commits() {
    let (db, _guard) = TestDb::new().await;
    let anchors = Anchors::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = SealerConfig {
        checkpoint_every: 5,
        poll_interval: Duration::from_millis(100),
        anchors: Some(anchors.config.clone()),
        ..SealerConfig::default()
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
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if anchors
            .latest_in_nats()
            .await
            .is_some_and(|a| a.events_count == 10)
        {
            break;
        }
        assert!(Instant::now() < deadline, "checkpoint 10 never anchored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    sealer.await.expect("joined").expect("clean stop");
    let in_file = lae_audit::latest_from_file(&anchors.file())
        .expect("read the file")
        .expect("an anchor in the file");
    assert_eq!(in_file.events_count, 10);
    let lines = std::fs::read_to_string(anchors.file()).expect("the file");
    assert_eq!(lines.lines().count(), 2, "checkpoints 5 and 10, once each");
    anchors.remove().await;
}

#[tokio::test]
async fn nats_down_holds_back_neither_sealing_nor_the_file() {
    let (db, _guard) = TestDb::new().await;
    let mut anchors = Anchors::new();
    // Nothing listens on port 9: every publish to NATS fails.
    anchors.config.nats_url = Some("nats://127.0.0.1:9".to_owned());
    twenty_sealed_events(&db).await;
    let mut publisher = AnchorPublisher::new(anchors.config.clone());
    let failed = publisher.publish_pending(&db.sealer).await;
    assert!(
        matches!(&failed, Err(lae_audit::AuditError::Anchor(m)) if m.contains("127.0.0.1:9")),
        "{failed:?}"
    );
    let in_file = lae_audit::latest_from_file(&anchors.file())
        .expect("read the file")
        .expect("the file is written all the same");
    assert_eq!(in_file.events_count, 20);

    // The background sealer keeps sealing while its anchors fail.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = SealerConfig {
        checkpoint_every: 4,
        poll_interval: Duration::from_millis(100),
        anchors: Some(anchors.config.clone()),
        ..SealerConfig::default()
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
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sealed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit.event_seals")
            .fetch_one(&db.owner)
            .await
            .expect("count");
        if sealed == 30 {
            break;
        }
        assert!(Instant::now() < deadline, "only {sealed} sealed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    sealer.await.expect("joined").expect("clean stop");
    anchors.remove().await;
}
