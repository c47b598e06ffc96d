//! A projector killed mid-stream, then restarted, ends where an uninterrupted one does;
//! replaying the whole stream again changes nothing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use lae_projections::{Department, ProjectionMetrics, run_all, run_projector};
use support::scenario::{Writer, populate};
use support::{TestDb, TestNats, assert_same, shutdown_signal, snapshot_all};

/// Runs every projector of `db` with consumers `prefix` until they have caught up.
async fn run_to_end(db: &TestDb, nats: &TestNats, prefix: &str) -> Arc<ProjectionMetrics> {
    let (stop, signal) = shutdown_signal();
    let metrics = Arc::new(ProjectionMetrics::new());
    let settings = db.settings.clone();
    let config = nats.projector_config(prefix);
    let task = tokio::spawn({
        let metrics = metrics.clone();
        async move { run_all(&settings, config, metrics, signal()).await }
    });
    nats.wait_caught_up(prefix, Duration::from_secs(120)).await;
    let _ = stop.send(true);
    task.await.expect("joins").expect("projectors stop cleanly");
    metrics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_projector_resumes_to_the_same_state_and_replays_change_nothing() {
    // The events live in `a`; `b` only receives the same stream.
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    let nats = TestNats::new().await;
    let mut w = Writer::new(&a).await;
    let population = populate(&mut w, 30, 0).await;
    let published = nats.relay(&a).await;
    assert_eq!(published, population.events);

    // Uninterrupted, into `b`.
    run_to_end(&b, &nats, "full").await;

    // Killed mid-stream, into `a`: small batches, aborted once some are applied.
    let metrics = Arc::new(ProjectionMetrics::new());
    let (_stop, signal) = shutdown_signal();
    let mut config = nats.projector_config("kill");
    config.batch_size = 5;
    let tasks: Vec<_> = Department::ALL
        .into_iter()
        .map(|d| {
            tokio::spawn(run_projector(
                d,
                a.writer_pool(d),
                config.clone(),
                metrics.clone(),
                signal(),
            ))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while metrics.department(Department::Management).applied() < 150 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the projectors did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    let applied = metrics.department(Department::Management).applied() as usize;
    assert!(
        applied < population.events,
        "killed too late to mean anything ({applied})"
    );

    // Restarted on the same durable consumers.
    run_to_end(&a, &nats, "kill").await;
    let incremental = snapshot_all(&a).await;
    assert_same(&incremental, &snapshot_all(&b).await);
    assert!(incremental["sales"]["customers"].len() == 30);

    // Everything delivered again to new consumers: every event is a duplicate.
    let again = run_to_end(&a, &nats, "again").await;
    for d in Department::ALL {
        assert_eq!(again.department(d).applied(), 0, "{d}");
        assert!(again.department(d).duplicates() > 0, "{d}");
    }
    assert_same(&incremental, &snapshot_all(&a).await);
}
