//! The auditors' HTTP API: timeline (with health reads logged), point-in-time state,
//! streamed export, verification, access log.

mod common;

use common::TestApp;
use serde_json::{Value, json};

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token("auditor"))
        .send()
        .await
        .expect("sent");
    (
        response.status().as_u16(),
        response.text().await.expect("text"),
    )
}

#[tokio::test]
async fn auditors_read_the_history_and_health_reads_are_logged() {
    let app = TestApp::spawn("apiaudit").await;
    let id = app.register_customer("Martin").await;
    let (status, _) = app
        .put(
            &format!("/api/v1/customers/{id}/health-declaration"),
            "legal",
            json!({"tobacco": "smoker", "alcohol": "none", "illnesses": ["zz-maladie-témoin"]}),
        )
        .await;
    assert_eq!(status, 202);

    let (status, body) = get(&app, &format!("/api/v1/audit/customers/{id}/timeline")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("zz-maladie-témoin"),
        "health is masked unless asked: {body}"
    );
    let page: Value = serde_json::from_str(&body).expect("json");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["event_type"], "HealthDeclared", "newest first");

    let (status, body) = get(
        &app,
        &format!("/api/v1/audit/customers/{id}/timeline?include_health=true&purpose=contr%C3%B4le"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("zz-maladie-témoin"), "{body}");
    let (status, body) = get(&app, &format!("/api/v1/audit/access-log?customer_id={id}")).await;
    assert_eq!(status, 200, "{body}");
    let log: Value = serde_json::from_str(&body).expect("json");
    let records = log["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{body}");
    assert_eq!(records[0]["what"], "health");
    assert_eq!(records[0]["purpose"], "contrôle");

    let (status, body) = get(
        &app,
        &format!("/api/v1/audit/aggregates/Customer/{id}?version=1"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":1"), "{body}");
    let (status, _) = get(&app, "/api/v1/audit/aggregates/Nothing/x").await;
    assert_eq!(status, 404);
    let (status, body) = get(&app, "/api/v1/audit/aggregates/Customer/x?version=abc").await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = get(&app, "/api/v1/audit/export").await;
    assert_eq!(status, 200);
    assert_eq!(body.lines().count() as i64, app.event_count().await);
    for line in body.lines() {
        let event: Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(event["event_id"].is_string());
    }

    let (status, body) = get(&app, "/api/v1/audit/verify").await;
    assert_eq!(status, 200, "{body}");
}
