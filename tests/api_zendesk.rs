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
    // The satisfaction trigger records the customer's rating, once; a survey merely
    // offered is not a rating.
    let rating = |id: &str, score: &str| {
        json!({"type": "lae:ticket.satisfaction_rated", "id": id,
            "detail": {"id": "123", "satisfaction_rating": {"score": score}}})
    };
    assert_eq!(
        signed(&app, &rating("sat-1", "offered")).await.1["status"],
        "ignored"
    );
    assert_eq!(
        signed(&app, &rating("sat-2", "Good")).await.1["status"],
        "applied"
    );
    assert_eq!(
        signed(&app, &rating("sat-3", "bad")).await.1["status"],
        "duplicate"
    );

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
            ("SatisfactionRated".to_owned(), "zendesk".to_owned()),
        ]
    );
    let score: Option<String> = sqlx::query_scalar(
        "SELECT payload->>'score' FROM events WHERE aggregate_id = $1 AND event_type = 'SatisfactionRated'",
    )
    .bind(&ticket)
    .fetch_one(&app.pool)
    .await
    .expect("the rating");
    assert_eq!(score.as_deref(), Some("good"));
    eventually(
        &app,
        "/api/v1/customer-service/tickets?to_identify=true",
        "customer_service",
        |b| b["items"].as_array().is_some_and(Vec::is_empty),
    )
    .await;

    let metrics = app.metrics().await;
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

/// A local server speaking the part of Zendesk's Support API the platform uses: it
/// checks the API-token authentication, answers 503 (with `Retry-After: 1`) as many
/// times as told, honours `Idempotency-Key` on creations, and records every ticket
/// created and every update it accepted.
mod fake_zendesk {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use base64::Engine as _;
    use serde_json::{Value, json};

    pub const EMAIL: &str = "agent@lae.fr";
    pub const TOKEN: &str = "zendesk-api-token";
    pub const REASON_FIELD: u64 = 4242;

    #[derive(Default)]
    pub struct Recorded {
        /// 503s still to answer to creations, then to updates.
        pub fail_creations: usize,
        pub fail_updates: usize,
        pub refused: usize,
        /// (idempotency key, Zendesk id, body) of each ticket created.
        pub created: Vec<(String, u64, Value)>,
        /// (Zendesk id, body) of each update accepted.
        pub updates: Vec<(u64, Value)>,
        /// The requester of the tickets created in "Zendesk" (read back by the webhook).
        pub requester_email: String,
    }

    pub type Shared = Arc<Mutex<Recorded>>;

    pub async fn start(recorded: Shared) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().fallback(handle).with_state(recorded);
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn unavailable() -> Response {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "{\"error\":\"Service unavailable\"}",
        )
            .into_response()
    }

    async fn handle(
        State(recorded): State<Shared>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"))
        );
        let mut state = recorded.lock().expect("lock");
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
            state.refused += 1;
            return (
                StatusCode::UNAUTHORIZED,
                "{\"error\":\"Couldn't authenticate you\"}",
            )
                .into_response();
        }
        let path = uri.path();
        let id = path
            .strip_prefix("/api/v2/tickets/")
            .and_then(|rest| rest.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok());
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match (method, path, id) {
            (Method::POST, "/api/v2/tickets.json", _) => {
                if state.fail_creations > 0 {
                    state.fail_creations -= 1;
                    return unavailable();
                }
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let id = match state.created.iter().find(|(k, _, _)| *k == key) {
                    Some((_, id, _)) => *id,
                    None => {
                        let id = 7000 + state.created.len() as u64;
                        state.created.push((key, id, body));
                        id
                    }
                };
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"ticket": {"id": id}})),
                )
                    .into_response()
            }
            (Method::PUT, _, Some(id)) => {
                if state.fail_updates > 0 {
                    state.fail_updates -= 1;
                    return unavailable();
                }
                state.updates.push((id, body));
                axum::Json(json!({"ticket": {"id": id}})).into_response()
            }
            (Method::GET, _, Some(id)) => axum::Json(json!({
                "ticket": {"id": id, "requester_id": 90001,
                           "custom_fields": [{"id": REASON_FIELD, "value": "complaint"}]},
                "users": [{"id": 90001, "email": state.requester_email, "phone": null}]
            }))
            .into_response(),
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

fn lae_reactors(app: &TestApp, zendesk: &str, prefix: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_lae"))
        .arg("reactors")
        .env(
            "DATABASE_URL",
            format!(
                "postgres://postgres@127.0.0.1:5432/{}",
                app.db.settings.database()
            ),
        )
        .env("NATS_URL", "nats://127.0.0.1:4222")
        .env("LAE_NATS_STREAM", app.stream.as_deref().expect("pipeline"))
        .env(
            "LAE_NATS_SUBJECT_PREFIX",
            app.subjects.as_deref().expect("pipeline"),
        )
        .env("LAE_REACTOR_CONSUMER_PREFIX", prefix)
        .env("LAE_REACTOR_ACK_WAIT_MS", "1000")
        .env("LAE_MASTER_KEY", "5a".repeat(32))
        .env("LAE_ZENDESK_URL", zendesk)
        .env("LAE_ZENDESK_EMAIL", fake_zendesk::EMAIL)
        .env("LAE_ZENDESK_API_TOKEN", fake_zendesk::TOKEN)
        .env("LAE_ZENDESK_MAX_BACKOFF_MS", "1000")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("lae reactors starts")
}

async fn until(
    what: &str,
    recorded: &fake_zendesk::Shared,
    done: impl Fn(&fake_zendesk::Recorded) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while !done(&recorded.lock().expect("lock")) {
        assert!(
            std::time::Instant::now() < deadline,
            "Zendesk never saw {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn zendesk_both_ways_once_each_through_outages_and_a_kill() {
    use std::sync::{Arc, Mutex};

    let recorded: fake_zendesk::Shared = Arc::new(Mutex::new(fake_zendesk::Recorded {
        fail_creations: 2,
        requester_email: "OCEANE.Fontaine@exemple.fr".into(),
        ..Default::default()
    }));
    let zendesk = fake_zendesk::start(recorded.clone()).await;
    let config = {
        let mut config = lae_reactors::zendesk::ZendeskConfig::new(
            &zendesk,
            fake_zendesk::EMAIL,
            fake_zendesk::TOKEN,
        )
        .expect("config");
        config.reason_field = Some(fake_zendesk::REASON_FIELD);
        config
    };
    let app = TestApp::spawn_configured("zdboth", true, |s| {
        s.zendesk_webhook_secret = Some(Secret::new(SECRET.to_vec()));
        s.zendesk = Some(config);
        s.reactors = None;
    })
    .await;
    let customer = common::web::register(
        &app,
        "Fontaine",
        "Océane",
        "+33633445566",
        "oceane.fontaine@exemple.fr",
    )
    .await;

    // Inbound: a mail ticket created in Zendesk, its requester read back and found by
    // e-mail (another case), lands on the customer's card with the mapped reason code.
    let (status, answer) = signed(
        &app,
        &created("01HZK4ZDBOTH00000000000001", 501, &an_hour_ago()),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let from_zendesk = ticket_id("501").to_string();
    let card = eventually(
        &app,
        &format!("/api/v1/customer-service/customers/{customer}/tickets"),
        "customer_service",
        |b| b["items"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    assert_eq!(card["items"][0]["id"], from_zendesk.as_str(), "{card}");
    assert_eq!(card["items"][0]["channel"], "mail", "{card}");
    let category: Option<String> = sqlx::query_scalar(
        "SELECT payload->>'category' FROM events WHERE aggregate_id = $1 AND sequence = 1",
    )
    .bind(&from_zendesk)
    .fetch_one(&app.pool)
    .await
    .expect("the opening");
    assert_eq!(category.as_deref(), Some("complaint"));

    // Outbound: a ticket opened on the platform is created in Zendesk once, through
    // two 503s.
    let mut reactors = lae_reactors(&app, &zendesk, "zdboth");
    let (status, opened) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "phone", "reason": "Changement de RIB", "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let ticket = opened["id"].as_str().expect("ticket id").to_owned();
    until("the creation", &recorded, |r| !r.created.is_empty()).await;

    // Killed between two deliveries: what is done meanwhile waits on the stream.
    reactors.start_kill().expect("SIGKILL");
    reactors.wait().await.expect("killed");
    recorded.lock().expect("lock").fail_updates = 2;
    let (status, acted) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/actions"),
            "customer_service",
            json!({"action": "Nouveau RIB reçu par courrier"}),
        )
        .await;
    assert_eq!(status, 202, "{acted}");
    let (status, resolved) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/resolution"),
            "customer_service",
            json!({"resolution": "RIB mis à jour"}),
        )
        .await;
    assert_eq!(status, 202, "{resolved}");
    // Zendesk's own comment comes back as an action here, and is not echoed to it;
    // an action the platform records on Zendesk's ticket goes to that ticket.
    let comment = json!({
        "type": "zen:event-type:ticket.comment_added",
        "id": "01HZK4ZDBOTH00000000000002",
        "time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "detail": {"id": "501"},
        "event": {"comment": {"body": "Réponse envoyée depuis Zendesk"}}
    });
    assert_eq!(signed(&app, &comment).await.0, 200);
    let (status, acted) = app
        .post(
            &format!("/api/v1/tickets/{from_zendesk}/actions"),
            "customer_service",
            json!({"action": "Rappel de la cliente"}),
        )
        .await;
    assert_eq!(status, 202, "{acted}");

    let mut reactors = lae_reactors(&app, &zendesk, "zdboth");
    until(
        "the action, the resolution and the comment",
        &recorded,
        |r| r.updates.len() >= 3,
    )
    .await;
    // Time for anything that would come twice.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    reactors.start_kill().expect("stop");

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("lae_zendesk_webhooks_total{outcome=\"accepted\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("lae_zendesk_deliveries_pending"));
    assert!(metrics.contains("lae_zendesk_oldest_pending_seconds"));
    let delivered: i64 = sqlx::query_scalar("SELECT count(*) FROM zendesk_deliveries")
        .fetch_one(&app.pool)
        .await
        .expect("deliveries");
    assert_eq!(
        delivered, 4,
        "the creation, two updates of it, one of Zendesk's ticket"
    );
    let recorded = recorded.lock().expect("lock");
    assert_eq!(recorded.refused, 0, "every call authenticated");
    assert_eq!(recorded.created.len(), 1, "one creation");
    let (key, id, body) = &recorded.created[0];
    assert!(!key.is_empty(), "an Idempotency-Key");
    assert_eq!(body["ticket"]["external_id"], ticket.as_str());
    assert_eq!(body["ticket"]["subject"], "Changement de RIB");
    assert_eq!(
        body["ticket"]["requester"]["email"],
        "oceane.fontaine@exemple.fr"
    );
    let mine: Vec<&Value> = recorded
        .updates
        .iter()
        .filter(|(z, _)| z == id)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        mine.len(),
        2,
        "the action and the resolution, once each: {mine:?}"
    );
    assert!(
        mine[0]["ticket"]["comment"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("Nouveau RIB reçu par courrier")),
        "{mine:?}"
    );
    assert_eq!(mine[0]["ticket"]["comment"]["public"], false);
    assert_eq!(mine[1]["ticket"]["status"], "solved", "{mine:?}");
    let theirs: Vec<&Value> = recorded
        .updates
        .iter()
        .filter(|(z, _)| *z == 501)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        theirs.len(),
        1,
        "the platform's action only, no echo: {theirs:?}"
    );
    assert!(
        theirs[0]["ticket"]["comment"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("Rappel de la cliente"))
    );
}
