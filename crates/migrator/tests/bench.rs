//! The import benchmark on ≈1M legacy rows (100,000 customers). Ignored by default:
//! `cargo test -p lae-migrator --release -- --ignored --nocapture`.
//! The sample is generated once into /tmp/lae_legacy_100k and reused.

mod common;

use lae_migrator::bench::{BenchOptions, run};
use lae_store::db::DbSettings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes minutes: run with --release -- --ignored --nocapture"]
async fn import_one_million_legacy_rows() {
    let db = DbSettings::from_url(&format!("{}/lae_bench", common::SERVER), "lae_app", None, 8)
        .expect("settings");
    let customers = std::env::var("LAE_BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let report = run(BenchOptions {
        legacy_dir: format!("/tmp/lae_legacy_{}k", customers / 1000).into(),
        customers,
        generator: Some(common::generator()),
        db,
        batch_events: 5_000,
    })
    .await
    .expect("benchmark");
    println!("{report}");
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}
