//! Shared test harness: each test gets its own database and its own running app.
#![allow(dead_code)]

pub mod web;

use std::time::Duration;

use std::collections::HashMap;

use lae_api::auth::{Role, password, users};
use lae_api::{Application, Settings};
use lae_store::db::{self, DbSettings};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// A database of one test's own, dropped when the guard is.
pub struct TestDb {
    pub settings: DbSettings,
}

impl TestDb {
    /// Settings for a fresh database named after the test (`DATABASE_URL` points at the
    /// server; its database name is replaced).
    pub fn new(prefix: &str) -> Self {
        let base = Settings::from_env().expect("test configuration");
        let name = format!("lae_test_{prefix}_{}", Uuid::new_v4().simple());
        let mut settings = base.db.with_database(&name);
        settings.max_connections = 8;
        Self { settings }
    }

    /// A pool connected as the owner (superuser on developer machines).
    pub async fn owner_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(self.settings.owner.clone())
            .await
            .expect("owner connection")
    }

    /// A pool connected as the application role.
    pub async fn app_pool(&self) -> PgPool {
        db::connect_app(&self.settings)
            .await
            .expect("app connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: do the
        // async cleanup on a thread of its own.
        let settings = self.settings.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async {
                if let Err(e) = db::drop_database(&settings).await {
                    eprintln!("could not drop test database {}: {e}", settings.database());
                }
                // The anchor bucket `lae` used for this database, if it made one.
                if let Ok(client) = async_nats::connect(NATS_TEST_URL).await {
                    let _ = async_nats::jetstream::new(client)
                        .delete_key_value(anchor_bucket(settings.database()))
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// The real application, serving on a free port, against its own database.
pub struct TestApp {
    /// The test's own JetStream stream, when the pipeline runs.
    pub stream: Option<String>,
    /// Its subject prefix (`<prefix>.<Aggregate>.<EventType>`), when the pipeline runs.
    pub subjects: Option<String>,
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub pool: PgPool,
    pub state: lae_api::AppState,
    /// A valid token per role, for a user named after the role.
    pub tokens: HashMap<Role, String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The password of every test user.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// The Argon2id hash of [`TEST_PASSWORD`] at a low cost (verification reads the cost
/// from the hash, so logins in tests stay fast).
pub fn test_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let cheap = argon2::Params::new(1024, 1, 1, None).expect("params");
        password::hash_with(TEST_PASSWORD, cheap).expect("hash")
    })
}

impl TestApp {
    /// The application without its background components (relay, projectors): most
    /// tests look at the event store only, and must not share a NATS stream.
    pub async fn spawn(prefix: &str) -> Self {
        Self::spawn_with(prefix, false).await
    }

    /// The application with the relay and the projectors, on a NATS stream, subjects
    /// and consumers of this test's own (deleted when the app is dropped).
    pub async fn spawn_with_pipeline(prefix: &str) -> Self {
        Self::spawn_with(prefix, true).await
    }

    async fn spawn_with(prefix: &str, pipeline: bool) -> Self {
        Self::spawn_configured(prefix, pipeline, |_| {}).await
    }

    /// The application with settings of this test's (`configure` runs last).
    pub async fn spawn_configured(
        prefix: &str,
        pipeline: bool,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let db = TestDb::new(prefix);
        let mut settings = Settings::from_env().expect("test configuration");
        settings.db = db.settings.clone();
        // Personal fields are sealed in every test, as in production.
        settings.master_keys = Some(test_master_keys());
        let mut stream = None;
        let mut subject_prefix = None;
        if pipeline {
            let unique = Uuid::new_v4().simple().to_string();
            let name = format!("LAE_TEST_{}", &unique[..12]).to_uppercase();
            let subjects = format!("lae.test.{}", &unique[..12]);
            if let Some(relay) = settings.relay.as_mut() {
                relay.stream = name.clone();
                relay.subject_prefix = subjects.clone();
                relay.name = format!("relay-{unique}");
            }
            if let Some(projectors) = settings.projectors.as_mut() {
                projectors.master_keys = settings.master_keys.clone();
                projectors.stream = name.clone();
                projectors.subject_prefix = subjects.clone();
                projectors.consumer_prefix = format!("test_{}", &unique[..12]);
            }
            if let Some(reactors) = settings.reactors.as_mut() {
                reactors.stream = name.clone();
                reactors.subject_prefix = subjects.clone();
                reactors.consumer_prefix = format!("test_reactor_{}", &unique[..12]);
            }
            subject_prefix = Some(subjects);
            stream = Some(name);
        } else {
            settings.relay = None;
            settings.projectors = None;
            settings.reactors = None;
            settings.sealer = false;
        }
        settings.http_addr = "127.0.0.1:0".parse().expect("address");
        configure(&mut settings);
        let app = Application::build(&settings)
            .await
            .expect("application starts")
            .with_router(lae_web::app);
        let addr = app.local_addr().expect("bound address");
        let state = app.state().clone();
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let user = users::create_hashed(
                &state.pool,
                "test",
                role.as_str().replace('_', "-").as_str(),
                "Test",
                role,
                test_password_hash(),
            )
            .await
            .expect("test user");
            let (token, _) = state
                .auth
                .keys
                .issue(user.user_id, &user.username, role, 0)
                .expect("token");
            tokens.insert(role, token);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        let pool = db.owner_pool().await;
        Self {
            stream,
            subjects: subject_prefix,
            base_url: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            db,
            pool,
            state,
            tokens,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The platform's Prometheus exposition (`GET /metrics`), as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The token of the test user of a role (`"sales"`, `"customer_service"`, ...).
    pub fn token(&self, role: &str) -> &str {
        let role: Role = role.parse().expect("a role");
        &self.tokens[&role]
    }

    /// Sends a JSON command as `user` of `department`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        department: &str,
        body: &Value,
    ) -> (u16, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .bearer_auth(self.token(department))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, department: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, department, &Value::Null)
            .await
    }

    pub async fn post(&self, path: &str, department: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, department, &body)
            .await
    }

    pub async fn put(&self, path: &str, department: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, department, &body)
            .await
    }

    /// Registers a customer and returns its id.
    pub async fn register_customer(&self, last_name: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/customers",
                "customer_service",
                serde_json::json!({
                    "last_name": last_name,
                    "first_name": "Hélène",
                    "email": format!("{}@exemple.fr", last_name.to_lowercase()),
                    "phone": "06 12 34 56 78",
                    "availability": "matin",
                }),
            )
            .await;
        assert_eq!(status, 201, "registration failed: {body}");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Proposes `product` at `premium` cents a month to `customer` (1 October 2026) and
    /// records its acceptance (5 October): the offer's id and the contract's the
    /// acceptance will have requested.
    pub async fn accepted_offer(
        &self,
        customer: &str,
        product: &str,
        premium: i64,
    ) -> (String, String) {
        let (status, offer) = self
            .post(
                "/api/v1/offers",
                "sales",
                serde_json::json!({"customer_id": customer, "product": product,
                                   "monthly_premium": premium, "proposed_on": "2026-10-01"}),
            )
            .await;
        assert_eq!(status, 201, "{offer}");
        let offer = offer["id"].as_str().expect("offer id").to_owned();
        let (status, accepted) = self
            .post(
                &format!("/api/v1/offers/{offer}/acceptance"),
                "sales",
                serde_json::json!({"accepted_on": "2026-10-05"}),
            )
            .await;
        assert_eq!(status, 202, "{accepted}");
        let contract = accepted["contract_id"]
            .as_str()
            .expect("contract id")
            .to_owned();
        (offer, contract)
    }

    /// A contract for `customer` from an accepted offer, requested by the reactor and
    /// signed by legal on 20 October 2026 (pipeline only): its id.
    pub async fn signed_contract(&self, customer: &str, product: &str, premium: i64) -> String {
        use base64::Engine as _;
        let (_, contract) = self.accepted_offer(customer, product, premium).await;
        // The contract-requests reactor requests it once the acceptance is on the stream.
        self.wait_for_event(&contract, "ContractRequested").await;
        let pdf = format!("%PDF-1.4\n% contrat {contract}\n%%EOF\n");
        let (status, signed) = self
            .post(
                &format!("/api/v1/contracts/{contract}/signature"),
                "legal",
                serde_json::json!({"reference": format!("CT-{}", &contract[..8]), "signed_on": "2026-10-20",
                       "document": {"name": "contrat.pdf",
                                    "content_base64": base64::engine::general_purpose::STANDARD
                                        .encode(pdf.as_bytes())}}),
            )
            .await;
        assert_eq!(status, 202, "{signed}");
        contract
    }

    /// Waits (up to 20 s) until the store holds an event of `event_type` on aggregate
    /// `aggregate_id`: what a reactor commands arrives after the relay and the reactor
    /// carried the cause (pipeline only).
    pub async fn wait_for_event(&self, aggregate_id: &str, event_type: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_id = $1 AND event_type = $2)",
            )
            .bind(aggregate_id)
            .bind(event_type)
            .fetch_one(&self.pool)
            .await
            .expect("look for the event");
            if found {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {event_type} on {aggregate_id} after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Number of events in the store.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .expect("count events")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(stream) = self.stream.take() {
            // The stream (and its consumers) go with the test, on a thread of their own
            // as Drop cannot await.
            let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
            let cleanup = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cleanup runtime");
                runtime.block_on(async {
                    if let Ok(client) = async_nats::connect(url).await {
                        let js = async_nats::jetstream::new(client);
                        let _ = js.delete_stream(&stream).await;
                    }
                });
            });
            let _ = cleanup.join();
        }
    }
}

/// The master key of every test (a fixed value: tests may need to open what another
/// component of the same test sealed).
pub fn test_master_keys() -> std::sync::Arc<lae_store::crypto::MasterKeys> {
    std::sync::Arc::new(lae_store::crypto::MasterKeys::new(
        lae_store::crypto::MasterKey::parse(&"5a".repeat(32)).expect("test master key"),
    ))
}

/// Where the tests' NATS runs.
pub const NATS_TEST_URL: &str = "nats://127.0.0.1:4222";

/// The anchor bucket of a test database: each anchors its chain in one of its own.
pub fn anchor_bucket(database: &str) -> String {
    format!("anchors_{database}")
}

/// Runs the real `lae` binary against a test database, with the tests' master key and
/// no audit key; returns the exit code, standard output and standard error.
pub fn lae(database: &str, args: &[&str]) -> (i32, String, String) {
    lae_with(database, args, &[])
}

/// [`lae`] with more environment variables.
pub fn lae_with(database: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lae"));
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env("LAE_AUDIT_ANCHOR_BUCKET", anchor_bucket(database))
        .env_remove("LAE_AUDIT_ANCHOR_FILE")
        .env_remove("LAE_AUDIT_CHECKPOINT_EVERY")
        .env("RUST_LOG", "warn")
        .env("LAE_MASTER_KEY", "5a".repeat(32))
        .env_remove("LAE_AUDIT_KEY")
        .env_remove("LAE_AUDIT_KEY_FILE");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("lae runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
