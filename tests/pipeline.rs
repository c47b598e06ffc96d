//! The whole chain, as `lae serve` runs it: a command over HTTP, the event store, the
//! relay to NATS JetStream, every department's projector, its read model.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use serde_json::json;

/// Waits until `sql` (one text column, one `$1` bind) returns `expected`.
async fn eventually(app: &TestApp, sql: &str, id: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Option<String> = sqlx::query_scalar(sql)
            .bind(uuid::Uuid::parse_str(id).expect("uuid"))
            .fetch_optional(&app.pool)
            .await
            .expect("query");
        if found.as_deref() == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}: {found:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_contact_change_made_once_reaches_every_department() {
    let app = TestApp::spawn_with_pipeline("pipeline").await;
    let id = app.register_customer("Martin").await;
    let (status, _) = app
        .put(&format!("/api/v1/customers/{id}/contact-details"), "customer_service",
             json!({"last_name": "Martin", "first_name": "Hélène", "email": "nouvelle.adresse@exemple.fr",
                    "phone": "0698765432"}))
        .await;
    assert_eq!(status, 202);
    for department in ["customer_service", "legal", "sales", "billing"] {
        eventually(
            &app,
            &format!("SELECT email FROM {department}.customers WHERE customer_id = $1"),
            &id,
            "nouvelle.adresse@exemple.fr",
        )
        .await;
    }
    // Lag and progress are visible to operators.
    let metrics = app.metrics().await;
    assert!(metrics.contains("lae_relay_events_published"), "{metrics}");
    assert!(metrics.contains("lae_projection_"), "{metrics}");
    let status: serde_json::Value = app
        .client
        .get(app.url("/api/v1/status"))
        .bearer_auth(app.token("management"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(
        status["relay"]["events_published"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "{status}"
    );
}
