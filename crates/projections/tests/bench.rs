//! The benchmarks of `lae_projections::bench`: a small smoke run in every test run, the
//! full run on demand:
//! `cargo test -p lae-projections --release --test bench -- --ignored --nocapture`
//! (`LAE_BENCH_EVENTS` sets the size of the store to rebuild, 1,000,000 by default;
//! `LAE_BENCH_ONLY=lag` or `rebuild` runs one of the two; `LAE_BENCH_LINGER_MS` sets the
//! projectors' batch linger; `LAE_BENCH_SEALED=0` skips the encryption-on rebuilds, which
//! otherwise alternate with the encryption-off ones on the same events;
//! `LAE_BENCH_REPS` sets how many rebuilds of each are run, the fastest kept, 3 by
//! default).

use std::time::Duration;

use lae_projections::bench::{BenchOptions, LagOptions, run_benchmarks};

const SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmarks_run_on_a_small_scale() {
    let options = BenchOptions {
        lag: Some(LagOptions {
            rate: 100,
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(500),
            ..LagOptions::default()
        }),
        rebuild_events: 5_000,
        rebuild_batch: 1_000,
        ..BenchOptions::default()
    };
    let report = run_benchmarks(SERVER, &options)
        .await
        .expect("benchmarks run");
    let (lag, rebuild) = (
        report.lag.as_ref().expect("lag"),
        report.rebuild.as_ref().expect("rebuild"),
    );
    assert!(lag.events > 50, "{report:?}");
    assert_eq!(rebuild.events, 5_000);
    assert_eq!(rebuild.rebuilds.len(), 5);
    for r in &rebuild.rebuilds {
        // The store also holds the lag benchmark's registrations.
        assert!(r.events_replayed >= 5_000, "{r:?}");
    }
    // Encryption on: the same events, sealed, in a store of their own.
    let sealed = rebuild.sealed.as_ref().expect("encryption-on rebuilds");
    assert_eq!(sealed.rebuilds.len(), 5);
    for r in &sealed.rebuilds {
        assert_eq!(r.events_replayed, 5_000, "{r:?}");
        assert_eq!(r.events_redacted, 0, "{r:?}");
    }
    assert_eq!(rebuild.encryption_ratios().len(), 5);
    println!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn projections_benchmark() {
    let events = std::env::var("LAE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::var("LAE_BENCH_ONLY").unwrap_or_default();
    let defaults = BenchOptions::default();
    let linger = std::env::var("LAE_BENCH_LINGER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    let lag = defaults.lag.clone().map(|lag| LagOptions {
        batch_linger: linger.unwrap_or(lag.batch_linger),
        ..lag
    });
    let options = BenchOptions {
        lag: if only == "rebuild" { None } else { lag },
        rebuild_events: if only == "lag" { 0 } else { events },
        rebuild_sealed: std::env::var("LAE_BENCH_SEALED").map_or(true, |v| v != "0"),
        rebuild_reps: std::env::var("LAE_BENCH_REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
        ..defaults
    };
    let report = run_benchmarks(SERVER, &options)
        .await
        .expect("benchmarks run");
    println!("{report}");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
