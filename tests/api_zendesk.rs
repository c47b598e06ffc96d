//! Zendesk, inbound: signed event webhooks become tickets on the platform. A mail
//! ticket created in Zendesk reaches customer service's queue (to identify), its
//! comment becomes an action and `solved` its resolution; a bad or missing signature,
//! a stale timestamp and a replayed webhook id are refused or absorbed; without a
//! configured secret the route does not exist.

mod common;

use chrono::{Duration, SecondsFormat, Utc};
use common::TestApp;
use common::web::eventually;
use lae_api::Secret;
use lae_api::routes::zendesk::{WEBHOOK, sign, ticket_id};
use serde_json::{Value, json};

const SECRET: &[u8] = b"zendesk-test-signing-secret";

async fn post(
    app: &TestApp,
    body: &Value,
    signature: Option<String>,
    timestamp: &str,
) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).expect("json");
    let mut request = app
        .client
        .post(app.url(WEBHOOK))
        .header("content-type", "application/json")
        .header("x-zendesk-webhook-id", "whatever")
        .body(bytes.clone());
    if let Some(signature) = signature {
        request = request
            .header("x-zendesk-webhook-signature", signature)
            .header("x-zendesk-webhook-signature-timestamp", timestamp);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn signed(app: &TestApp, body: &Value) -> (u16, Value) {
    let timestamp = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let bytes = serde_json::to_vec(body).expect("json");
    post(
        app,
        body,
        Some(sign(SECRET, &timestamp, &bytes)),
        &timestamp,
    )
    .await
}

/// An hour ago, to the second, as Zendesk writes dates.
fn an_hour_ago() -> String {
    (Utc::now() - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn created(webhook: &str, ticket: u64, opened_at: &str) -> Value {
    json!({
        "type": "zen:event-type:ticket.created",
        "account_id": 10001,
        "id": webhook,
        "time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "zendesk_event_version": "2022-11-06",
        "subject": format!("zen:ticket:{ticket}"),
        "detail": {
            "id": ticket.to_string(),
            "status": "NEW",
            "subject": "Résiliation de mon contrat prévoyance",
            "description": "Bonjour, je souhaite résilier…",
            "requester_id": "90001",
            "via": {"channel": "email"},
            "created_at": opened_at
        },
        "event": {}
    })
}

#[tokio::test]
async fn signed_zendesk_webhooks_become_a_ticket_its_action_and_its_resolution() {
    let app = TestApp::spawn_configured("zd", true, |s| {
        s.zendesk_webhook_secret = Some(Secret::new(SECRET.to_vec()));
    })
    .await;
    let opened_at = an_hour_ago();
    let body = created("01HZK4ZD0000000000000000A1", 123, &opened_at);
    let bytes = serde_json::to_vec(&body).expect("json");
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);

    // Refused: no signature, a signature of other bytes, one flipped character, a
    // timestamp ten minutes old (correctly signed).
    assert_eq!(post(&app, &body, None, &now).await.0, 401);
    let mut other = bytes.clone();
    other[20] ^= 1;
    assert_eq!(
        post(&app, &body, Some(sign(SECRET, &now, &other)), &now)
            .await
            .0,
        401
    );
    let mut forged = sign(SECRET, &now, &bytes).into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    assert_eq!(post(&app, &body, Some(forged), &now).await.0, 401);
    let stale = (Utc::now() - Duration::minutes(10)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (status, problem) = post(&app, &body, Some(sign(SECRET, &stale, &bytes)), &stale).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(
        app.event_count().await,
        0,
        "nothing refused appends anything"
    );

    // The creation: a ticket, once, however often it is delivered.
    let (status, answer) = signed(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "applied");
    let ticket = ticket_id("123").to_string();
    assert_eq!(answer["ticket_id"], ticket.as_str());
    assert_eq!(app.event_count().await, 1);
    let (status, again) = signed(&app, &body).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("duplicate")));
    let (status, retried) = signed(
        &app,
        &created("01HZK4ZD0000000000000000A2", 123, &opened_at),
    )
    .await;
    assert_eq!(
        (status, retried["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.event_count().await, 1);

    // It waits in customer service's queue, to identify, as a mail.
    let queue = eventually(
        &app,
        "/api/v1/customer-service/tickets?to_identify=true",
        "customer_service",
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    assert_eq!(queue["items"][0]["id"], ticket.as_str());
    assert_eq!(queue["items"][0]["channel"], "mail");
    assert_eq!(
        queue["items"][0]["reason"],
        "Résiliation de mon contrat prévoyance"
    );
    assert_eq!(queue["items"][0]["operator"], "Zendesk");
    assert_eq!(queue["items"][0]["opened_at"], opened_at.as_str());

    // A comment becomes an action; a status other than solved changes nothing;
    // solved resolves the ticket.
    let comment = json!({"type": "zen:event-type:ticket.comment_added", "id": "wh-comment-1",
        "time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "detail": {"id": "123"}, "event": {"comment": {"body": "Formulaire de résiliation envoyé", "public": true}}});
    assert_eq!(signed(&app, &comment).await.1["status"], "applied");
    let pending = json!({"type": "zen:event-type:ticket.status_changed", "id": "wh-status-1",
        "detail": {"id": "123"}, "event": {"previous": "new", "current": "pending"}});
    assert_eq!(signed(&app, &pending).await.1["status"], "ignored");
    let solved = json!({"type": "zen:event-type:ticket.status_changed", "id": "wh-status-2",
        "detail": {"id": "123"}, "event": {"previous": "pending", "current": "solved"}});
    assert_eq!(signed(&app, &solved).await.1["status"], "applied");
    assert_eq!(signed(&app, &solved).await.1["status"], "duplicate");
    let unknown = json!({"type": "zen:event-type:ticket.priority_changed", "id": "wh-prio-1",
        "detail": {"id": "123"}, "event": {}});
    assert_eq!(signed(&app, &unknown).await.1["status"], "ignored");

    let kinds: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_type, metadata->>'source' FROM events \
          WHERE aggregate_type = 'Ticket' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&ticket)
    .fetch_all(&app.pool)
    .await
    .expect("events");
    assert_eq!(
        kinds,
        [
            ("TicketOpened".to_owned(), "zendesk".to_owned()),
            ("ActionRecorded".to_owned(), "zendesk".to_owned()),
            ("TicketResolved".to_owned(), "zendesk".to_owned()),
        ]
    );
    eventually(
        &app,
        "/api/v1/customer-service/tickets?to_identify=true",
        "customer_service",
        |b| b["items"].as_array().is_some_and(Vec::is_empty),
    )
    .await;

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("lae_zendesk_webhooks_total{outcome=\"refused\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_a_secret_the_webhook_does_not_exist() {
    let app = TestApp::spawn("zd_off").await;
    let body = created("wh-1", 1, &an_hour_ago());
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let bytes = serde_json::to_vec(&body).expect("json");
    let (status, _) = post(&app, &body, Some(sign(SECRET, &now, &bytes)), &now).await;
    assert_eq!(status, 404);
    assert_eq!(app.event_count().await, 0);
}
