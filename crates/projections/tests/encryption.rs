//! Sealed personal fields (issue 8): projected with the department's keys they give the
//! same read models as clear payloads; a role that may not read a category's keys
//! builds its read model without that category, and without error.

mod support;

use std::sync::Arc;
use std::time::Duration;

use lae_projections::store_reader::{CommitPosition, read_after};
use lae_projections::{
    Decoder, Department, Envelope, ProjectionMetrics, ProjectorConfig, RebuildOptions, Verdict,
    apply, rebuild, run_projector,
};
use support::scenario::{Writer, plant_witness, populate};
use support::{
    TestDb, TestNats, assert_same, shutdown_signal, snapshot, snapshot_all, test_masters,
};

/// Every event of the store, in commit order, as the rebuild reads them.
async fn stored_envelopes(db: &TestDb) -> Vec<Envelope> {
    let owner = db.owner_pool(2).await;
    let types = ["Customer", "Offer", "Contract", "Invoice", "Ticket"];
    let (envelopes, _) = read_after(&owner, &types, CommitPosition::default(), 100_000)
        .await
        .expect("read the store");
    owner.close().await;
    envelopes
}

/// Applies `envelopes` to `schema` as the department's writer, in batches of 40, and
/// returns every verdict.
async fn apply_all(
    db: &TestDb,
    decoder: &Decoder,
    schema: &str,
    envelopes: &[Envelope],
) -> Vec<Verdict> {
    let pool = db.writer_pool(decoder.department());
    let mut verdicts = Vec::new();
    for batch in envelopes.chunks(40) {
        let mut tx = pool.begin().await.expect("begin");
        verdicts.extend(apply(&mut tx, decoder, schema, batch).await.expect("apply"));
        tx.commit().await.expect("commit");
    }
    pool.close().await;
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_events_build_the_same_read_models_as_their_clear_payloads() {
    let db = TestDb::new().await;
    let masters = test_masters();
    let mut w = Writer::sealed(&db, masters.clone()).await;
    populate(&mut w, 8, 0).await;
    let witness = plant_witness(&mut w).await;

    let sealed = stored_envelopes(&db).await;
    assert!(
        sealed.iter().any(|e| e.payload.contains("\"$sealed\"")),
        "the store holds sealed payloads"
    );
    // The same envelopes (ids, positions, record times) with the payloads as written.
    let clear: Vec<Envelope> = sealed
        .iter()
        .map(|e| Envelope {
            payload: w
                .clear_payload(&e.aggregate_type, &e.aggregate_id, e.sequence)
                .to_owned(),
            ..e.clone()
        })
        .collect();
    assert!(clear.iter().all(|e| !e.payload.contains("\"$sealed\"")));
    assert!(
        clear.iter().any(
            |e| e.payload.contains("Zz-Nom-Témoin") && e.aggregate_id == witness.id.to_string()
        )
    );

    let mut owner = db.owner().await;
    for department in Department::ALL {
        // A second copy of the department's schema, with the same grants, for the clear run.
        let copy = format!("{}__clear", department.schema());
        sqlx::query("SELECT lae_read_model_clone($1, $2), lae_read_model_grant($3, $2)")
            .bind(department.schema())
            .bind(&copy)
            .bind(department.as_str())
            .execute(&mut owner)
            .await
            .expect("copy of the schema");
        let with_keys = apply_all(
            &db,
            &Decoder::with_keys(department, masters.clone()),
            department.schema(),
            &sealed,
        )
        .await;
        let without = apply_all(&db, &Decoder::new(department), &copy, &clear).await;
        assert_eq!(with_keys, without, "{department}: verdicts");
        assert!(
            with_keys
                .iter()
                .all(|v| matches!(v, Verdict::Applied | Verdict::Ignored)),
            "{department}: {with_keys:?}"
        );
        let (a, b) = (
            snapshot(&mut owner, department.schema()).await,
            snapshot(&mut owner, &copy).await,
        );
        assert!(a.values().any(|rows| !rows.is_empty()), "{department}");
        let wrap = |s| [("schema".to_owned(), s)].into_iter().collect();
        assert_same(&wrap(a), &wrap(b));
    }
    let name: String =
        sqlx::query_scalar("SELECT last_name FROM legal.customers WHERE customer_id = $1")
            .bind(witness.id)
            .fetch_one(&mut owner)
            .await
            .expect("the witness");
    assert_eq!(name, "Zz-Nom-Témoin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legal_role_without_health_keys_builds_its_model_without_health_data() {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let masters = test_masters();
    // Grants are per database: this one alone loses legal's health keys.
    let mut owner = db.owner().await;
    sqlx::query("REVOKE SELECT ON keys.health FROM lae_legal_writer")
        .execute(&mut owner)
        .await
        .expect("revoke");
    let mut w = Writer::sealed(&db, masters.clone()).await;
    populate(&mut w, 5, 0).await;
    let witness = plant_witness(&mut w).await;
    nats.relay(&db).await;

    let (stop, signal) = shutdown_signal();
    let metrics = Arc::new(ProjectionMetrics::new());
    let config = ProjectorConfig {
        master_keys: Some(masters.clone()),
        ..nats.projector_config("nohealth")
    };
    let task = tokio::spawn({
        let (pool, metrics) = (db.writer_pool(Department::Legal), metrics.clone());
        async move { run_projector(Department::Legal, pool, config, metrics, signal()).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !nats.caught_up("nohealth_legal").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "legal did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    task.await
        .expect("joins")
        .expect("the projector stops cleanly");

    let m = metrics.department(Department::Legal);
    // One health declaration per customer, each redacted; nothing held back or failed.
    assert_eq!(m.redacted(), 6);
    assert_eq!((m.undecodable(), m.gaps(), m.batch_failures()), (0, 0, 0));
    assert!(
        metrics
            .render_prometheus()
            .contains("lae_projection_redacted_total{department=\"legal\"} 6\n")
    );
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM legal.customers), (SELECT count(*) FROM legal.health_declarations), \
                (SELECT count(*) FROM legal.contracts)",
    )
    .fetch_one(&mut owner)
    .await
    .expect("counts");
    assert_eq!(counts.0, 6, "every customer, contact details included");
    assert_eq!(counts.1, 0, "no health declaration");
    assert!(counts.2 > 0, "contracts");
    let (name, version): (String, i64) =
        sqlx::query_as("SELECT last_name, version FROM legal.customers WHERE customer_id = $1")
            .bind(witness.id)
            .fetch_one(&mut owner)
            .await
            .expect("the witness");
    assert_eq!(name, "Zz-Nom-Témoin");
    assert_eq!(version, 1);
    // Every sequence is recorded: later events of the customers were not held back.
    let behind: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e LEFT JOIN legal.applied a USING (aggregate_type, aggregate_id) \
          WHERE e.aggregate_type IN ('Customer', 'Contract') AND (a.last_sequence IS NULL OR a.last_sequence < e.sequence)",
    )
    .fetch_one(&mut owner)
    .await
    .expect("bookkeeping");
    assert_eq!(behind, 0);

    // A rebuild under the same grants agrees, and says what it skipped. Small batches:
    // each is decoded ahead, keys loaded under the writer's grants, while the previous
    // one is written.
    let before = snapshot_all(&db).await;
    let owner_pool = db.owner_pool(4).await;
    let writer = db.writer_pool(Department::Legal);
    let options = RebuildOptions {
        master_keys: Some(masters),
        batch_size: 3,
        ..RebuildOptions::default()
    };
    let report = rebuild(Department::Legal, &owner_pool, &writer, &options, None)
        .await
        .expect("rebuild");
    assert_eq!(report.events_redacted, 6, "{report:?}");
    assert!(report.batches_decoded_ahead > 1, "{report:?}");
    assert_same(&before, &snapshot_all(&db).await);
}
