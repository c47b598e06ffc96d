//! Authentication and authorization: every route × every role, tokens that must be
//! refused, login, lock-out and revocation.

mod common;

use base64::Engine;
use common::{TEST_PASSWORD, TestApp};
use lae_api::auth::Role;
use lae_api::auth::rules::{Access, RULES};
use serde_json::{Value, json};

fn concrete(path: &str) -> String {
    path.replace("{id}", "6f1c8a9e-2b7d-4c3e-9a1f-5d6e7f8a9b0c")
        .replace("{sha256}", &"0".repeat(64))
}

async fn call(app: &TestApp, method: &axum::http::Method, path: &str, token: Option<&str>) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method");
    let mut request = app.client.request(method, app.url(&concrete(path)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_route_allows_exactly_its_roles() {
    let app = TestApp::spawn("authz").await;
    let mut failures = Vec::new();
    for rule in RULES {
        // Logging out revokes the caller's tokens: it is checked on its own below.
        if rule.path == "/api/v1/auth/logout" {
            continue;
        }
        let anonymous = call(&app, &rule.method, rule.path, None).await;
        let expected_anonymous_refusal = rule.access != Access::Public;
        if expected_anonymous_refusal && anonymous != 401 {
            failures.push(format!(
                "{} {} without a token: {anonymous}, expected 401",
                rule.method, rule.path
            ));
        }
        for role in Role::ALL {
            let status = call(&app, &rule.method, rule.path, Some(&app.tokens[&role])).await;
            let allowed = rule.access.allows(role);
            let refused = status == 401 || status == 403;
            if allowed == refused {
                failures.push(format!(
                    "{} {} as {role}: {status}, expected {}",
                    rule.method,
                    rule.path,
                    if allowed { "access" } else { "403" }
                ));
            }
            if !allowed && status != 403 {
                failures.push(format!(
                    "{} {} as {role}: {status}, expected 403",
                    rule.method, rule.path
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        app.event_count().await,
        0,
        "refused or empty calls appended events"
    );
}

#[tokio::test]
async fn a_sales_token_on_a_legal_route_is_forbidden() {
    let app = TestApp::spawn("sales403").await;
    let customer = app.register_customer("Martin").await;
    let (status, problem) = app
        .put(
            &format!("/api/v1/customers/{customer}/health-declaration"),
            "sales",
            json!({"tobacco": "smoker", "alcohol": "none"}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "forbidden");
}

#[tokio::test]
async fn expired_tampered_foreign_and_unsigned_tokens_are_refused() {
    let app = TestApp::spawn("badtokens").await;
    let valid = app.token("customer_service").to_owned();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = valid.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("b64")).expect("json");
    claims["role"] = json!("legal");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let mut expired_claims: Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("b64")).expect("json");
    expired_claims["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &expired_claims,
        // Signed with another key: without the server's secret an attacker cannot
        // produce a valid expired token either; expiry itself is unit-tested in
        // auth::token with the real key.
        &jsonwebtoken::EncodingKey::from_secret(&[1u8; 32]),
    )
    .expect("encode");
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&[1u8; 32]),
    )
    .expect("encode");
    for (case, token) in [
        ("tampered", tampered),
        ("alg none", unsigned),
        ("expired", expired),
        ("other algorithm", hs512),
        ("garbage", "not-a-token".into()),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/customers"))
            .bearer_auth(&token)
            .json(&json!({"last_name": "A", "first_name": "B"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 401, "{case}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
    }
    assert_eq!(app.event_count().await, 0);
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn login_gives_a_token_and_a_secure_cookie_that_both_work() {
    let app = TestApp::spawn("login").await;
    let response = login(&app, "sales", TEST_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    for attribute in [
        "lae_session=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(
            cookie.contains(attribute),
            "cookie lacks {attribute}: {cookie}"
        );
    }
    let body: Value = response.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(body["role"], "sales");
    let me: Value = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], "sales");
    let session = cookie.split(';').next().expect("pair");
    let by_cookie = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", session)
        .send()
        .await
        .expect("sent");
    assert_eq!(by_cookie.status(), 200);
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_unknown_users_look_the_same() {
    let app = TestApp::spawn("lockout").await;
    let unknown = login(&app, "nobody", "whatever-password").await;
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.expect("json");
    for attempt in 1..=5 {
        let response = login(&app, "billing", "wrong-password-123").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(
            problem["code"], unknown["code"],
            "a wrong password must look like an unknown user"
        );
    }
    let locked = login(&app, "billing", TEST_PASSWORD).await;
    assert_eq!(
        locked.status(),
        429,
        "even the right password waits for the lock"
    );
    assert!(locked.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn disabling_a_user_or_logging_out_revokes_tokens() {
    let app = TestApp::spawn("revoke").await;
    let me = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/api/v1/auth/me"))
                .bearer_auth(token)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    };
    let sales = app.token("sales").to_owned();
    assert_eq!(me(sales.clone()).await, 200);
    let users: Value = app
        .client
        .get(app.url("/api/v1/admin/users"))
        .bearer_auth(app.token("admin"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let sales_id = users
        .as_array()
        .expect("list")
        .iter()
        .find(|u| u["username"] == "sales")
        .expect("sales user")["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let disabled = app
        .client
        .post(app.url(&format!("/api/v1/admin/users/{sales_id}/disable")))
        .bearer_auth(app.token("admin"))
        .send()
        .await
        .expect("sent");
    assert_eq!(disabled.status(), 204);
    assert_eq!(
        me(sales).await,
        401,
        "a disabled user's token is revoked at once"
    );
    assert_eq!(login(&app, "sales", TEST_PASSWORD).await.status(), 401);

    let legal = app.token("legal").to_owned();
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&legal)
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), 204);
    assert_eq!(me(legal).await, 401, "logout revokes the token");
}

#[tokio::test]
async fn an_admin_creates_a_user_who_can_log_in() {
    let app = TestApp::spawn("admin").await;
    let response = app.client.post(app.url("/api/v1/admin/users")).bearer_auth(app.token("admin"))
        .json(&json!({"username": "Camille.D", "display_name": "Camille Dupont", "role": "customer_service",
                      "password": "un mot de passe assez long"}))
        .send().await.expect("sent");
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["username"], "camille.d");
    assert!(created.get("password_hash").is_none());
    assert_eq!(
        login(&app, "camille.d", "un mot de passe assez long")
            .await
            .status(),
        200
    );
    let weak = app
        .client
        .post(app.url("/api/v1/admin/users"))
        .bearer_auth(app.token("admin"))
        .json(&json!({"username": "x2", "display_name": "X", "role": "sales", "password": "short"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(weak.status(), 422);
    let changes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM auth.user_changes WHERE actor = 'admin'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(changes, 1, "the creation is recorded with its author");
}

/// `lae serve --department legal`, on the database of `app` (its users), on a free
/// port: the instance and its base URL.
async fn serve_legal_only(app: &TestApp) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lae"))
        .args(["serve", "--department", "legal"])
        .env(
            "DATABASE_URL",
            format!(
                "postgres://postgres@127.0.0.1:5432/{}",
                app.db.settings.database()
            ),
        )
        .env("LAE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("LAE_MASTER_KEY", "5a".repeat(32))
        .env("LAE_RUN_RELAY", "false")
        .env("LAE_RUN_PROJECTORS", "false")
        .env("LAE_RUN_REACTORS", "false")
        .env("LAE_RUN_SEALER", "false")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("lae serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app
        .client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "lae serve --department legal never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (child, base)
}

#[tokio::test]
async fn a_legal_instance_serves_legal_and_answers_404_on_customer_service() {
    let app = TestApp::spawn("authz_dept").await;
    let (mut instance, base) = serve_legal_only(&app).await;
    let token = |username: &str| {
        let client = app.client.clone();
        let url = format!("{base}/api/v1/auth/login");
        let username = username.to_owned();
        async move {
            let body: Value = client
                .post(url)
                .json(&json!({"username": username, "password": TEST_PASSWORD}))
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            body["access_token"].as_str().expect("a token").to_owned()
        }
    };
    let get = |path: &str, token: String| {
        let request = app.client.get(format!("{base}{path}")).bearer_auth(token);
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    // Login works on every instance, for every role.
    let legal = token("legal").await;
    let customer_service = token("customer-service").await;
    let admin = token("admin").await;

    assert_eq!(
        get("/api/v1/legal/contracts/requested", legal.clone())
            .await
            .0,
        200
    );
    assert_eq!(get("/api/v1/legal/tickets", legal.clone()).await.0, 200);
    let (status, page) = get("/desk/legal", legal.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(get("/api/v1/admin/users", admin).await.0, 200);
    assert_eq!(get("/health", legal.clone()).await.0, 200);
    let (status, body) = get("/api/v1/status", legal.clone()).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["departments"], json!(["legal"]), "{body}");

    // Customer service's routes and desk are not here, for anyone: as if they did not
    // exist (a load balancer sends them to customer service's instance).
    let (status, problem) = get("/api/v1/customer-service/tickets", customer_service.clone()).await;
    assert_eq!(status, 404, "{problem}");
    assert!(problem.contains("route_not_found"), "{problem}");
    let (status, _) = get("/desk/customer-service", customer_service.clone()).await;
    assert_eq!(status, 404);
    assert_eq!(get("/api/v1/billing/invoices/unpaid", legal).await.0, 404);

    // The whole platform, in-process, still serves customer service.
    assert_eq!(
        app.get("/api/v1/customer-service/tickets", "customer_service")
            .await
            .0,
        200
    );
    instance.kill().await.expect("stopped");
}
