//! The import of a generated legacy sample (`make_legacy.py --customers 2000`):
//! counts, re-runs, crashes, dry runs.

mod common;

use std::time::Duration;

use common::{TestDb, count_events, events, generate, options};
use lae_migrator::{MigrateError, migrate};
use sqlx::PgPool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_imports_with_counts_that_add_up_and_a_rerun_appends_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), 2000);
    let db = TestDb::new().await;
    let pool = db.app_pool().await;

    let report = migrate(options(dir.path()), pool.clone())
        .await
        .expect("import");
    report.check().expect("counts add up");
    assert_eq!(report.tables.len(), 8);
    for (table, counts) in &report.tables {
        assert!(counts.read > 0, "{table} read nothing");
        assert_eq!(
            counts.read,
            counts.imported + counts.merged + counts.quarantined,
            "{table}"
        );
    }
    assert!(report.set_aside.iter().all(|s| !s.reason.trim().is_empty()));
    assert_eq!(count_events(&pool).await as u64, report.events_appended);

    let again = migrate(options(dir.path()), pool.clone())
        .await
        .expect("second import");
    again.check().expect("counts add up");
    assert_eq!(again.events_appended, 0, "a second run appends nothing");
    assert_eq!(
        again.tables.values().map(|c| c.quarantined).sum::<u64>(),
        report.tables.values().map(|c| c.quarantined).sum::<u64>()
    );
}

async fn documents(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT sha256 FROM contract_documents ORDER BY sha256")
        .fetch_all(pool)
        .await
        .expect("documents")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_halfway_then_run_again_ends_like_an_uninterrupted_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), 2000);
    let small_batches = || {
        let mut o = options(dir.path());
        o.batch_events = 2_000;
        o
    };

    // The reference: one uninterrupted run.
    let clean = TestDb::new().await;
    let clean_pool = clean.app_pool().await;
    let reference = migrate(small_batches(), clean_pool.clone())
        .await
        .expect("clean import");
    let expected = events(&clean_pool).await;
    assert_eq!(expected.len() as u64, reference.events_appended);

    // Stopped between two batches (the test hook), then run again.
    let hooked = TestDb::new().await;
    let pool = hooked.app_pool().await;
    let mut stopping = small_batches();
    stopping.stop_after_batches = Some(3);
    let stopped = migrate(stopping, pool.clone()).await.expect_err("stopped");
    assert!(
        matches!(stopped, MigrateError::Interrupted { batches: 3 }),
        "{stopped}"
    );
    let partial = count_events(&pool).await;
    assert!(
        partial > 0 && (partial as usize) < expected.len(),
        "{partial}"
    );
    let resumed = migrate(small_batches(), pool.clone())
        .await
        .expect("resumed");
    resumed.check().expect("counts add up");
    assert_eq!(
        resumed.events_appended as usize,
        expected.len() - partial as usize
    );
    assert_eq!(events(&pool).await, expected);
    assert_eq!(documents(&pool).await, documents(&clean_pool).await);

    // Cancelled at an arbitrary point, in the middle of whatever it was doing (as a
    // kill -9 would), then run again on a fresh connection pool.
    let killed = TestDb::new().await;
    let pool = killed.app_pool().await;
    let task = tokio::spawn(migrate(small_batches(), pool.clone()));
    let half = expected.len() as i64 / 2;
    while count_events(&pool).await < half {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
    let partial = count_events(&pool).await;
    assert!(partial < expected.len() as i64, "killed before the end");
    pool.close().await;
    let pool = killed.app_pool().await;
    let resumed = migrate(small_batches(), pool.clone())
        .await
        .expect("resumed after the kill");
    resumed.check().expect("counts add up");
    assert_eq!(events(&pool).await, expected);
    assert_eq!(documents(&pool).await, documents(&clean_pool).await);

    // Two imports started at once on the same store: they collide on the primary key,
    // the loser of each collision decides its batch again, and every event is
    // appended exactly once.
    let twice = TestDb::new().await;
    let (first, second) = (twice.app_pool().await, twice.app_pool().await);
    let (a, b) = tokio::join!(
        migrate(small_batches(), first.clone()),
        migrate(small_batches(), second.clone())
    );
    let (a, b) = (a.expect("first import"), b.expect("second import"));
    a.check().expect("counts add up");
    b.check().expect("counts add up");
    assert_eq!(
        (a.events_appended + b.events_appended) as usize,
        expected.len()
    );
    assert_eq!(events(&first).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_the_sample_announces_exactly_what_the_import_appends() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), 300);
    let db = TestDb::new().await;
    let pool = db.app_pool().await;
    let mut dry = options(dir.path());
    dry.dry_run = true;
    let planned = migrate(dry, pool.clone()).await.expect("dry run");
    assert_eq!(count_events(&pool).await, 0);
    let real = migrate(options(dir.path()), pool.clone())
        .await
        .expect("import");
    assert_eq!(planned.events_by_type, real.events_by_type);
    assert_eq!(planned.tables, real.tables);
}
