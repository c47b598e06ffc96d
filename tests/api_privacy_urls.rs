//! Nothing personal in a URL, and the headers of every answer.
//!
//! Customers with distinctive names, e-mails, phone numbers and an IBAN are searched
//! through every department's JSON routes (`GET` with a query string, `POST …/search`
//! with a JSON body) and desks; every cursor, `Location` and link the answers hold is
//! decoded every way a reader of a log could (percent-decoding, base64, base64url, hex)
//! and must show none of those values. A control cursor in the old readable format is
//! caught by the same check, so the check itself can fail.

mod common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::TestApp;
use common::web::{cookie_session, form_token};
use serde_json::{Value, json};
use uuid::Uuid;

const LAST: &str = "Quetzalcoatlès";
const FIRST: &str = "Xochiquetzalia";
const EMAIL: &str = "xochi.quetzal@exemple-rare.fr";
const PHONE: &str = "+33698761234";
const IBAN: &str = "FR7630006000011234567890189";

/// What must never show, as it is stored and as it is folded for sorting.
const NEEDLES: [&str; 7] = [
    "quetzalcoatl",
    "xochiquetzal",
    "xochi.quetzal",
    "exemple-rare",
    "698761234",
    "0698761234",
    "30006000011234567890189",
];

const DEPARTMENTS: [(&str, &str, &str); 4] = [
    ("customer_service", "customer-service", "customer_service"),
    ("legal", "legal", "legal"),
    ("sales", "sales", "sales"),
    ("billing", "billing", "billing"),
];

/// Every reading of `text` a log reader could try.
fn readings(text: &str) -> Vec<String> {
    let mut out = vec![text.to_owned()];
    let decoded = percent_decoded(text);
    out.push(decoded.clone());
    for candidate in [text, decoded.as_str()] {
        for part in candidate.split(['.', '&', '=', '/', '?', '#']) {
            for engine in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD_NO_PAD, &STANDARD] {
                if let Ok(bytes) = engine.decode(part.trim_end_matches('=')) {
                    out.push(String::from_utf8_lossy(&bytes).into_owned());
                }
                if let Ok(bytes) = engine.decode(part) {
                    out.push(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
            if let Some(bytes) = hex_decoded(part) {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    out
}

/// `%40` as `@`, `+` as a space, as a query string is read.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_decoded(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The personal value `text` reveals, if any.
fn reveals(text: &str) -> Option<&'static str> {
    let readings: Vec<String> = readings(text)
        .into_iter()
        .map(|r| r.to_lowercase().replace(['è', 'é'], "e"))
        .collect();
    NEEDLES
        .into_iter()
        .find(|needle| readings.iter().any(|r| r.contains(needle)))
}

fn assert_opaque(what: &str, text: &str) {
    assert_eq!(reveals(text), None, "{what} reveals personal data: {text}");
}

async fn insert_card(app: &TestApp, schema: &str, i: usize) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(&format!(
        "INSERT INTO {schema}.customers (customer_id, customer_number, last_name, first_name, \
           email, phone, availability, registered_at, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, '', now(), 1, now())"
    ))
    .bind(id)
    .bind(format!("LAE-{:06}", 500 + i))
    .bind(LAST)
    .bind(format!("{FIRST}{i:02}"))
    .bind(EMAIL)
    .bind(PHONE)
    .execute(&app.pool)
    .await
    .expect("insert a contact card");
    id
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    role: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(app.token(role));
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("sent")
}

/// Checks every header of an answer, then its JSON body.
async fn checked_json(what: &str, response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    for (name, value) in response.headers() {
        assert_opaque(
            &format!("{what}: header {name}"),
            value.to_str().unwrap_or_default(),
        );
    }
    let body: Value = response.json().await.expect("json");
    (status, body)
}

#[test]
fn the_check_catches_a_readable_cursor() {
    // The cursor format this replaced: the last row's sort key, base64url, and a tag.
    let position = serde_json::to_vec(&json!(["quetzalcoatles", "xochiquetzalia00", Uuid::nil()]))
        .expect("json");
    let old = format!(
        "{}.AAAAAAAAAAAAAAAAAAAAAA",
        URL_SAFE_NO_PAD.encode(position)
    );
    assert_eq!(reveals(&old), Some("quetzalcoatl"));
    assert_eq!(
        reveals(&format!("/x?email={}", "xochi.quetzal%40exemple-rare.fr")),
        Some("xochi.quetzal")
    );
    let hex: String = "0698761234".bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(reveals(&hex), Some("698761234"));
    assert_eq!(
        reveals("/api/v1/customers/4d9c6e0e-97b1-4f3a-8a43-0a1f0c1b2d3e"),
        None
    );
}

#[tokio::test]
async fn no_cursor_location_or_link_holds_personal_data() {
    let app = TestApp::spawn("privacy_urls").await;

    // A registration answers with a `Location`: the id only.
    let response = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/customers",
        "customer_service",
        Some(&json!({
            "last_name": LAST, "first_name": FIRST, "email": EMAIL,
            "phone": PHONE, "availability": "matin",
        })),
    )
    .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a Location")
        .to_owned();
    let (status, accepted) = checked_json("registration", response).await;
    assert_eq!(status, 201, "{accepted}");
    assert_opaque("Location", &location);
    let customer = accepted["id"].as_str().expect("id").to_owned();
    // A mandate with an IBAN: its answer holds no IBAN in a header either.
    let response = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/customers/{customer}/mandate"),
        "billing",
        Some(&json!({ "iban": IBAN, "mandate_reference": "RUM-1" })),
    )
    .await;
    let (status, body) = checked_json("mandate", response).await;
    assert_eq!(status, 202, "{body}");

    for (schema, _, _) in DEPARTMENTS {
        for i in 0..25 {
            insert_card(&app, schema, i).await;
        }
    }

    let mut cursors = Vec::new();
    for (_, segment, role) in DEPARTMENTS {
        let list = format!("/api/v1/{segment}/customers");
        let search = format!("{list}/search");
        let encoded_email = "xochi.quetzal%40exemple-rare.fr";
        // Each way of asking, then its next page with the cursor it gave.
        let gets = [
            format!("{list}?name=quetz&limit=2"),
            format!("{list}?q={encoded_email}&limit=2"),
            format!("{list}?phone=%2B33698761234&limit=2"),
        ];
        for path in &gets {
            let (status, page) = checked_json(
                path,
                send(&app, reqwest::Method::GET, path, role, None).await,
            )
            .await;
            assert_eq!(status, 200, "{path}: {page}");
            assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{path}");
            let cursor = page["next_cursor"]
                .as_str()
                .expect("a next page")
                .to_owned();
            let next = format!("{path}&cursor={cursor}");
            let (status, second) = checked_json(
                &next,
                send(&app, reqwest::Method::GET, &next, role, None).await,
            )
            .await;
            assert_eq!(status, 200, "{next}: {second}");
            assert_ne!(second["items"][0]["id"], page["items"][0]["id"], "{next}");
            cursors.push(cursor);
        }
        for criteria in [
            json!({ "name": "Quetz", "limit": 3 }),
            json!({ "q": EMAIL, "limit": 3 }),
            json!({ "phone": "06 98 76 12 34", "first_name": "xochi", "limit": 3 }),
            json!({ "email": EMAIL, "customer_number": null, "limit": 3 }),
        ] {
            let response = send(&app, reqwest::Method::POST, &search, role, Some(&criteria)).await;
            let (status, page) = checked_json(&search, response).await;
            assert_eq!(status, 200, "{search} {criteria}: {page}");
            assert_eq!(
                page["items"].as_array().map(Vec::len),
                Some(3),
                "{criteria}"
            );
            let cursor = page["next_cursor"]
                .as_str()
                .expect("a next page")
                .to_owned();
            let mut next = criteria.clone();
            next["cursor"] = json!(cursor);
            let response = send(&app, reqwest::Method::POST, &search, role, Some(&next)).await;
            let (status, second) = checked_json(&search, response).await;
            assert_eq!(status, 200, "{next}: {second}");
            assert_ne!(second["items"][0]["id"], page["items"][0]["id"], "{next}");
            cursors.push(cursor);
        }
        // The body is checked as strictly as the query string, naming the field.
        // (A body that does not parse is a 422, as for commands; criteria that parse
        // but do not hold are the GET's 400.)
        for (body, field, expected) in [
            (json!({ "nom": "Quetz" }), "nom", 422),
            (json!({ "limit": "deux" }), "limit", 422),
            (json!({ "phone": "12" }), "phone", 400),
            (json!({ "q": EMAIL, "name": "x" }), "q", 400),
            (json!({ "limit": 0 }), "limit", 400),
            (
                json!({ "name": "Quetz", "cursor": "bm9wZQ" }),
                "cursor",
                400,
            ),
        ] {
            let response = send(&app, reqwest::Method::POST, &search, role, Some(&body)).await;
            let (status, problem) = checked_json(&search, response).await;
            assert_eq!(status, expected, "{body}: {problem}");
            assert_eq!(problem["field"], field, "{body}: {problem}");
        }
        // The first cursor (customer service's, same criteria) does not open elsewhere.
        if segment != "customer-service" {
            let body = json!({ "name": "quetz", "limit": 2, "cursor": cursors[0] });
            let response = send(&app, reqwest::Method::POST, &search, role, Some(&body)).await;
            let (status, problem) = checked_json(&search, response).await;
            assert_eq!(status, 400, "{problem}");
            assert_eq!(problem["code"], "invalid_cursor", "{problem}");
        }
    }
    assert_eq!(cursors.len(), 4 * 7);
    for cursor in &cursors {
        assert_opaque("a cursor", cursor);
    }

    // The desks: posted searches, links to customers by id, cursors in hidden fields.
    for (_, segment, role) in DEPARTMENTS {
        let username = role.replace('_', "-");
        let (client, cookie) = cookie_session(&app, &username).await;
        let home = client
            .get(app.url(&format!("/desk/{segment}")))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("home");
        assert_eq!(home.status(), 200, "{segment}");
        let token = form_token(&home.text().await.expect("html"));
        let mut form = vec![("_csrf", token.clone()), ("q", "Quetzalcoatlès".to_owned())];
        let mut pages = 0;
        loop {
            let response = client
                .post(app.url(&format!("/desk/{segment}/search")))
                .header("cookie", &cookie)
                .form(&form)
                .send()
                .await
                .expect("search");
            for (name, value) in response.headers() {
                assert_opaque(
                    &format!("{segment} desk: header {name}"),
                    value.to_str().unwrap_or_default(),
                );
            }
            assert_eq!(response.status(), 200, "{segment}");
            let html = response.text().await.expect("html");
            assert!(
                html.to_lowercase().contains("xochiquetzalia"),
                "{segment}: no result"
            );
            pages += 1;
            let mut next = None;
            for attribute in ["href=\"", "action=\"", "src=\"", "name=\"cursor\" value=\""] {
                for piece in html.split(attribute).skip(1) {
                    let value = piece.split('"').next().unwrap_or_default();
                    assert_opaque(&format!("{segment} desk: {attribute}"), value);
                    if attribute.starts_with("name=\"cursor\"") {
                        next = Some(value.to_owned());
                    }
                }
            }
            match next {
                Some(cursor) => {
                    form = vec![
                        ("_csrf", token.clone()),
                        ("q", "Quetzalcoatlès".to_owned()),
                        ("cursor", cursor),
                    ];
                }
                None => break,
            }
        }
        assert!(pages >= 2, "{segment}: 25 results take more than one page");
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn("security_headers").await;
    let (client, cookie) = cookie_session(&app, "legal").await;
    let cases: [(&str, Option<&str>, u16, &str); 8] = [
        ("/api/v1/legal/customers", Some("legal"), 200, "json"),
        (
            "/api/v1/legal/customers?limit=x",
            Some("legal"),
            400,
            "json",
        ),
        ("/api/v1/legal/customers", None, 401, "json"),
        ("/api/v1/nowhere", Some("legal"), 404, "json"),
        ("/login", None, 200, "page"),
        ("/desk/legal", Some("cookie"), 200, "page"),
        ("/desk/nowhere", Some("cookie"), 404, "page"),
        ("/assets/htmx.min.js", None, 200, "asset"),
    ];
    for (path, auth, status, kind) in cases {
        let mut request = client.get(app.url(path));
        match auth {
            Some("cookie") => request = request.header("cookie", &cookie),
            Some(role) => request = request.bearer_auth(app.token(role)),
            None => {}
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status().as_u16(), status, "{path}");
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        let csp = header("content-security-policy");
        let content_type = header("content-type");
        match kind {
            "json" => {
                assert!(content_type.contains("json"), "{path}: {content_type}");
                assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
            }
            "page" => {
                assert!(
                    content_type.starts_with("text/html"),
                    "{path}: {content_type}"
                );
                assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
                assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
                assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            }
            _ => assert!(csp.contains("default-src 'none'"), "{path}: {csp}"),
        }
    }
    // A page's form posted as a browser does under `no-referrer` (`Origin: null`,
    // `Sec-Fetch-Site: same-origin`) is taken; the same from another site is refused.
    let home = client
        .get(app.url("/desk/legal"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("home");
    let token = form_token(&home.text().await.expect("html"));
    for (site, status) in [("same-origin", 200), ("cross-site", 409)] {
        let response = client
            .post(app.url("/desk/legal/search"))
            .header("cookie", &cookie)
            .header("origin", "null")
            .header("sec-fetch-site", site)
            .form(&[("_csrf", token.as_str()), ("q", "Martin")])
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), status, "{site}");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    }
}
