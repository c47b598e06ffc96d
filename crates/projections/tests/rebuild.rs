//! A rebuild from the event store, while the live projector runs, writes continue and
//! readers query in a loop, swaps in a read model equal to the incremental one, and no
//! query fails.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lae_projections::{Department, ProjectionMetrics, RebuildOptions, rebuild, run_all};
use lae_relay::RelayMetrics;
use support::scenario::{Writer, populate};
use support::{TestDb, TestNats, assert_same, shutdown_signal, snapshot_all};

/// Waits until the stream holds every event of `db`, then until both sets of consumers
/// have caught up.
async fn settle(db: &TestDb, nats: &TestNats, prefixes: &[&str]) {
    let mut conn = db.owner().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let in_stream = match nats.context.get_stream(&nats.stream).await {
            Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
            Err(_) => 0,
        };
        if in_stream >= u64::try_from(stored).unwrap_or(0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay fell behind"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for prefix in prefixes {
        nats.wait_caught_up(prefix, Duration::from_secs(120)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_in_the_same_read_model_while_queries_keep_answering() {
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    let nats = TestNats::new().await;
    let mut w = Writer::new(&a).await;
    populate(&mut w, 20, 0).await;

    let (stop, signal) = shutdown_signal();
    let relay = tokio::spawn(lae_relay::run(
        a.app_pool().await,
        nats.relay_config(),
        Arc::new(RelayMetrics::new()),
        signal(),
    ));
    let live_metrics = Arc::new(ProjectionMetrics::new());
    let live = tokio::spawn({
        let (settings, config, metrics, signal) = (
            a.settings.clone(),
            nats.projector_config("live"),
            live_metrics.clone(),
            signal(),
        );
        async move { run_all(&settings, config, metrics, signal).await }
    });
    let reference = tokio::spawn({
        let (settings, config, signal) =
            (b.settings.clone(), nats.projector_config("ref"), signal());
        async move {
            run_all(
                &settings,
                config,
                Arc::new(ProjectionMetrics::new()),
                signal,
            )
            .await
        }
    });
    settle(&a, &nats, &["live", "ref"]).await;

    // Readers query every table of their schema they may read in a loop, as their API
    // would (management's working state, `work_*`, is its projector's alone).
    let reading = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for d in Department::ALL {
        let pool = a.reader_pool(d, 2).await;
        let tables: Vec<String> =
            sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 \
                    AND has_table_privilege('lae_' || $1 || '_reader', \
                                            quote_ident(schemaname) || '.' || quote_ident(tablename), 'SELECT')",
            )
                .bind(d.schema())
                .fetch_all(&mut a.owner().await)
                .await
                .expect("tables");
        let (reading, answered) = (reading.clone(), answered.clone());
        readers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while reading.load(Ordering::Relaxed) {
                for table in &tables {
                    let sql = format!("SELECT count(*) FROM {}.{table}", d.schema());
                    match sqlx::query_scalar::<_, i64>(&sql).fetch_one(&pool).await {
                        Ok(_) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.push(format!("{sql}: {e}")),
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            failures
        }));
    }

    // Writes go on during the rebuilds.
    let writing = tokio::spawn(async move {
        populate(&mut w, 10, 100).await;
        w
    });

    let owner = a.owner_pool(4).await;
    let options = RebuildOptions {
        batch_size: 64,
        ..RebuildOptions::default()
    };
    for d in Department::ALL {
        let writer = a.writer_pool(d);
        let report = rebuild(d, &owner, &writer, &options, Some(&live_metrics))
            .await
            .expect("rebuild");
        assert!(report.events_replayed > 0, "{d}: {report:?}");
        assert!(!live_metrics.department(d).rebuilding());
    }

    // After the swaps, the live projectors write to the swapped-in schemas.
    let mut w = writing.await.expect("writer");
    populate(&mut w, 3, 200).await;
    settle(&a, &nats, &["live", "ref"]).await;

    reading.store(false, Ordering::Relaxed);
    for reader in readers {
        let failures = reader.await.expect("reader");
        assert!(
            failures.is_empty(),
            "queries failed during the rebuild: {failures:?}"
        );
    }
    assert!(answered.load(Ordering::Relaxed) > 100);

    let _ = stop.send(true);
    for task in [live, reference] {
        task.await.expect("joins").expect("projectors stop");
    }
    relay.await.expect("joins").expect("relay stops");

    assert_same(&snapshot_all(&a).await, &snapshot_all(&b).await);
    let leftovers: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\\_\\_rebuild' OR nspname LIKE '%\\_\\_old'")
        .fetch_one(&mut a.owner().await)
        .await
        .expect("schemas");
    assert_eq!(leftovers, 0);
    let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM sales.customers")
        .fetch_one(&a.reader_pool(Department::Sales, 1).await)
        .await
        .expect("the reader still reads the swapped-in schema");
    assert_eq!(customers, 33);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rebuilds_of_one_department_do_not_run_at_once() {
    let db = TestDb::new().await;
    let owner = db.owner_pool(4).await;
    let mut holder = owner.acquire().await.expect("connection");
    sqlx::query("SELECT pg_advisory_lock(hashtext('lae_rebuild:legal'))")
        .execute(&mut *holder)
        .await
        .expect("lock");
    let writer = db.writer_pool(Department::Legal);
    let result = rebuild(
        Department::Legal,
        &owner,
        &writer,
        &RebuildOptions::default(),
        None,
    )
    .await;
    assert!(
        matches!(
            result,
            Err(lae_projections::ProjectionError::RebuildRunning(
                Department::Legal
            ))
        ),
        "{result:?}"
    );
}
