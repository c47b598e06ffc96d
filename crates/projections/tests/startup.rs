//! A projector starts without NATS and stops on request; once running it reports how far
//! behind it is.

mod support;

use std::sync::Arc;
use std::time::Duration;

use lae_projections::{Department, ProjectionMetrics, ProjectorConfig, run_all, run_projector};
use support::scenario::{Writer, populate};
use support::{TestDb, TestNats, shutdown_signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_starts_while_nats_is_unreachable_and_stops_on_request() {
    let db = TestDb::new().await;
    let config = ProjectorConfig {
        // Nothing listens there.
        nats_url: "nats://127.0.0.1:1".into(),
        ..ProjectorConfig::default()
    };
    let metrics = Arc::new(ProjectionMetrics::new());
    let (stop, signal) = shutdown_signal();
    let task = tokio::spawn(run_projector(
        Department::Legal,
        db.writer_pool(Department::Legal),
        config,
        metrics.clone(),
        signal(),
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!task.is_finished(), "the projector keeps retrying");
    assert!(!metrics.department(Department::Legal).connected());
    let _ = stop.send(true);
    let stopped = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly");
    stopped.expect("joins").expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_progress_and_lag() {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let mut w = Writer::new(&db).await;
    let population = populate(&mut w, 5, 0).await;
    nats.relay(&db).await;
    let metrics = Arc::new(ProjectionMetrics::new());
    let (stop, signal) = shutdown_signal();
    let task = tokio::spawn({
        let (settings, config, metrics) = (
            db.settings.clone(),
            nats.projector_config("m"),
            metrics.clone(),
        );
        let signal = signal();
        async move { run_all(&settings, config, metrics, signal).await }
    });
    nats.wait_caught_up("m", Duration::from_secs(60)).await;
    let management = metrics.department(Department::Management);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while management.events_behind() != 0 || !management.connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lag never reported as zero"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(management.applied() as usize, population.events);
    assert!(management.last_applied_position() > 0);
    assert_eq!(management.lag_seconds(chrono::Utc::now()), 0.0);
    let text = metrics.render_prometheus();
    assert!(
        text.contains(&format!(
            "lae_projection_events_applied_total{{department=\"management\"}} {}\n",
            population.events
        )),
        "{text}"
    );
    assert!(
        text.contains("lae_projection_connected{department=\"sales\"} 1\n"),
        "{text}"
    );
    let status = serde_json::to_value(metrics.status()).expect("status");
    assert_eq!(status["departments"][4]["department"], "management");
    assert_eq!(status["departments"][4]["events_behind"], 0);
    let _ = stop.send(true);
    task.await.expect("joins").expect("stops");
}
