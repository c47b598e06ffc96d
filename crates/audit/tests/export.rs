//! NDJSON export: every event once, in commit order, payload and metadata as stored.

mod common;

use chrono::{DateTime, Utc};
use common::{TestDb, small_history};
use lae_audit::ExportRange;
use serde_json::Value;

#[tokio::test]
async fn the_export_is_the_store_in_commit_order_with_texts_as_stored() {
    let (db, _guard) = TestDb::new().await;
    small_history(&db).await;
    let stored: Vec<(i64, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT global_position, payload::text, metadata::text, recorded_at FROM events ORDER BY transaction_id, global_position",
    )
    .fetch_all(&db.owner)
    .await
    .expect("events");

    let mut out = Vec::new();
    let report = lae_audit::export_ndjson(&db.auditor, &ExportRange::default(), &mut out)
        .await
        .expect("export");
    assert_eq!(report.events, stored.len() as u64);
    assert_eq!(report.bytes, out.len() as u64);
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), stored.len());
    for (line, (position, payload, metadata, _)) in lines.iter().zip(&stored) {
        let envelope: Value = serde_json::from_str(line).expect("one JSON object per line");
        assert_eq!(envelope["global_position"], *position);
        for field in [
            "event_id",
            "aggregate_type",
            "aggregate_id",
            "sequence",
            "event_type",
            "event_version",
            "recorded_at",
        ] {
            assert!(!envelope[field].is_null(), "{field}");
        }
        // Spliced, not re-encoded.
        assert!(
            line.ends_with(&format!(",\"payload\":{payload},\"metadata\":{metadata}}}")),
            "{line}"
        );
    }

    // A time range: from the sixth event on.
    let from = stored[5].3;
    let mut out = Vec::new();
    let range = ExportRange {
        from: Some(from),
        to: None,
    };
    let report = lae_audit::export_ndjson(&db.auditor, &range, &mut out)
        .await
        .expect("export");
    let expected = stored.iter().filter(|e| e.3 >= from).count() as u64;
    assert_eq!(report.events, expected);
    let nothing = ExportRange {
        from: Some(Utc::now()),
        to: None,
    };
    let report = lae_audit::export_ndjson(&db.auditor, &nothing, &mut Vec::new())
        .await
        .expect("export");
    assert_eq!(report.events, 0);
}
