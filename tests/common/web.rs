//! What the desks' browser tests share: logging in through the login page, waiting for
//! a read model, screenshots (`LAE_SCREENSHOTS`), and the accessibility check run on
//! every screen.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lae_browser::Page;
use serde_json::{Value, json};

use super::{TEST_PASSWORD, TestApp};

/// Where screenshots go, when asked.
pub fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("LAE_SCREENSHOTS").map(PathBuf::from)
}

pub async fn shoot(page: &Page, name: &str) {
    if let Some(dir) = screenshot_dir() {
        page.screenshot(&dir.join(format!("{name}.png")))
            .await
            .expect("screenshot");
    }
}

/// No serious or critical axe-core violation, and no CSP or script error so far.
pub async fn accessible(page: &Page, what: &str) {
    let report = page.axe().await.expect("axe runs");
    let bad = report.serious_or_critical();
    assert!(bad.is_empty(), "{what}: axe-core violations:\n{report}");
    // A refused page's own status (403, 422) is logged as a failed load: expected.
    let errors: Vec<String> = page
        .console_errors()
        .into_iter()
        .filter(|e| {
            !e.starts_with(
                "network: Failed to load resource: the server responded with a status of 4",
            )
        })
        .collect();
    assert!(errors.is_empty(), "{what}: console errors: {errors:?}");
}

pub async fn login(page: &Page, app: &TestApp, username: &str) -> u16 {
    assert_eq!(page.goto(&app.url("/")).await.expect("home"), 200);
    page.fill("#username", username).await.expect("username");
    page.fill("#password", TEST_PASSWORD)
        .await
        .expect("password");
    page.with_navigation(page.press("Enter"))
        .await
        .expect("logged in")
}

/// Waits until `GET path` as `role` answers 200 with a body `done` accepts.
pub async fn eventually(
    app: &TestApp,
    path: &str,
    role: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = app
            .send(reqwest::Method::GET, path, role, &Value::Null)
            .await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never matched: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reloads the page at `url` until the text of `css` is one `done` accepts (a read
/// model the page shows catching up), and returns that text.
pub async fn page_eventually(
    page: &Page,
    url: &str,
    css: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        page.goto(url).await.expect("page");
        let text = page.text(css).await.expect("text");
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{url} never matched: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn register(app: &TestApp, last: &str, first: &str, phone: &str, email: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/customers",
            "customer_service",
            json!({"last_name": last, "first_name": first, "phone": phone, "email": email,
                   "availability": "en semaine après 18 h"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    eventually(
        app,
        &format!("/api/v1/customer-service/customers/{id}"),
        "customer_service",
        |_| true,
    )
    .await;
    id
}

/// A browser-less client with the session cookie of a user, as the login page sets it.
pub async fn cookie_session(app: &TestApp, username: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client
        .post(app.url("/login"))
        .form(&[("username", username), ("password", TEST_PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let pair = cookie.split(';').next().expect("pair").to_owned();
    (client, pair)
}

pub fn form_token(html: &str) -> String {
    let start = html.find("name=\"_csrf\" value=\"").expect("a form token") + 20;
    html[start..].split('"').next().expect("token").to_owned()
}
