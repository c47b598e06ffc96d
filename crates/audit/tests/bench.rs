//! The audit benchmark over a million events (ignored: minutes, and meant for release
//! builds): `cargo test -p lae-audit --release --test bench -- --ignored --nocapture`.
//! `LAE_AUDIT_BENCH_EVENTS` changes the number of events.

mod common;

use lae_audit::bench::{AuditBenchConfig, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn audit_bench() {
    common::init_tracing();
    let mut config = AuditBenchConfig::default();
    if let Some(events) = std::env::var("LAE_AUDIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.events = events;
        config.aggregates = (events / 5).max(1);
    }
    let report = run(&config).await.expect("benchmark");
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    println!(
        "verify: {:.0} events/s = {:.0} % of raw COPY ({:.0} events/s); export: {:.0} events/s = {:.0} %; sealer: {:.0} events/s",
        report.verify.median,
        100.0 * report.verify_ratio(),
        report.copy.median,
        report.export.median,
        100.0 * report.export_ratio(),
        report.seal_rate
    );
    for (what, ratio) in [
        ("verify", report.verify_ratio()),
        ("export", report.export_ratio()),
    ] {
        if ratio < 0.4 {
            println!("{what}: below the 40 % target");
        }
    }
}
