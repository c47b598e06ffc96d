//! The departments' query routes: search and pagination over each read model, entity
//! tags, IBAN masking and the access log, bad parameters, and the database role every
//! department reads with.
//!
//! Most tests write read-model rows directly as the owner (what a projector would
//! write) to control names and orders exactly; one drives the whole chain, from
//! commands through the relay and the projectors to every department's routes.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::TestApp;
use lae_projections::Department;
use serde_json::{Value, json};
use uuid::Uuid;

/// A contact card written straight into a department's read model.
struct Card<'a> {
    last: &'a str,
    first: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    number: &'a str,
}

async fn insert(app: &TestApp, schema: &str, card: &Card<'_>) -> Uuid {
    let id = Uuid::new_v4();
    insert_with_id(app, schema, id, card).await;
    id
}

async fn insert_with_id(app: &TestApp, schema: &str, id: Uuid, card: &Card<'_>) {
    sqlx::query(&format!(
        "INSERT INTO {schema}.customers (customer_id, customer_number, last_name, first_name, \
           email, phone, availability, registered_at, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, '', now(), 1, now())"
    ))
    .bind(id)
    .bind(card.number)
    .bind(card.last)
    .bind(card.first)
    .bind(card.email)
    .bind(card.phone)
    .execute(&app.pool)
    .await
    .expect("insert a contact card");
}

fn card<'a>(last: &'a str, first: &'a str, number: &'a str) -> Card<'a> {
    Card {
        last,
        first,
        email: None,
        phone: None,
        number,
    }
}

async fn get(app: &TestApp, path: &str, role: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(app.token(role))
        .send()
        .await
        .expect("sent")
}

async fn get_json(app: &TestApp, path: &str, role: &str) -> (u16, Value) {
    let response = get(app, path, role).await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn last_names(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["last_name"].as_str().expect("last name"))
        .collect()
}

/// Polls a query route until `done` holds for its answer (the projectors are
/// asynchronous), and returns it.
async fn eventually(app: &TestApp, path: &str, role: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get_json(app, path, role).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The names of these tests, folded as `public.lae_fold` (migration 0008) folds them.
fn fold(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

#[tokio::test]
async fn customers_are_found_by_each_criterion() {
    let app = TestApp::spawn("qsearch").await;
    let dupont = insert(
        &app,
        "sales",
        &Card {
            email: Some("jean.dupont@exemple.fr"),
            phone: Some("+33612345678"),
            ..card("Dupont", "Jean", "LAE-000101")
        },
    )
    .await;
    insert(&app, "sales", &card("DUPUIS", "Élodie", "LAE-000102")).await;
    insert(&app, "sales", &card("Dupont", "Anne", "LAE-000103")).await;
    insert(&app, "sales", &card("Martin", "Hélène", "LAE-000104")).await;
    insert(&app, "sales", &card("Éluard", "Paul", "LAE-000105")).await;
    // Only legal knows this one: sales never sees it.
    insert(&app, "legal", &card("Dupré", "Louis", "LAE-000106")).await;

    let search = |query: &'static str| {
        let app = &app;
        async move {
            let (status, page) =
                get_json(app, &format!("/api/v1/sales/customers?{query}"), "sales").await;
            assert_eq!(status, 200, "{query}: {page}");
            page
        }
    };
    let page = search("name=dup").await;
    assert_eq!(last_names(&page), ["Dupont", "Dupont", "DUPUIS"], "{page}");
    assert_eq!(page["items"][0]["first_name"], "Anne", "then by first name");
    assert!(page["next_cursor"].is_null());
    assert_eq!(last_names(&search("name=%C3%A9lu").await), ["Éluard"]);
    assert_eq!(
        last_names(&search("name=DUPONT&first_name=j").await),
        ["Dupont"]
    );
    let by_email = search("email=Jean.Dupont%40EXEMPLE.fr").await;
    assert_eq!(by_email["items"][0]["id"], dupont.to_string());
    assert_eq!(by_email["items"].as_array().map(Vec::len), Some(1));
    // French national format, normalised to E.164 as the domain stores it.
    let by_phone = search("phone=06%2012%2034%2056%2078").await;
    assert_eq!(by_phone["items"][0]["id"], dupont.to_string());
    assert_eq!(
        last_names(&search("customer_number=lae-000104").await),
        ["Martin"]
    );
    // Free text: a number, an e-mail, a phone, else a name prefix.
    assert_eq!(last_names(&search("q=LAE-000102").await), ["DUPUIS"]);
    assert_eq!(
        last_names(&search("q=jean.dupont%40exemple.fr").await),
        ["Dupont"]
    );
    assert_eq!(last_names(&search("q=%2B33612345678").await), ["Dupont"]);
    assert_eq!(last_names(&search("q=mar").await), ["Martin"]);
    assert!(last_names(&search("name=zz").await).is_empty());
    assert_eq!(
        search("").await["items"].as_array().map(Vec::len),
        Some(5),
        "no criterion: every customer of the department"
    );

    // The same search in legal sees legal's customers only.
    let (status, legal) = get_json(&app, "/api/v1/legal/customers?name=dup", "legal").await;
    assert_eq!(status, 200);
    assert_eq!(last_names(&legal), ["Dupré"]);
    // And a department's customer view does not know another department's customer.
    let (status, problem) =
        get_json(&app, &format!("/api/v1/legal/customers/{dupont}"), "legal").await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["code"], "customer_not_found");
}

#[tokio::test]
async fn pages_keep_a_stable_order_with_no_row_twice_or_missing() {
    let app = TestApp::spawn("qpages").await;
    let mut inserted = HashSet::new();
    // Many equal last names and first names: the customer id breaks the ties.
    for i in 0..137 {
        let last = ["Martin", "martin", "Bernard", "Thomas", "Petit", "Éluard"][i % 6];
        let first = ["Anne", "Louis", "Zoé"][i % 3];
        let number = format!("LAE-{:06}", 200 + i);
        inserted.insert(insert(&app, "customer_service", &card(last, first, &number)).await);
    }
    let mut seen = Vec::new();
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/customer-service/customers?limit=20&cursor={c}"),
            None => "/api/v1/customer-service/customers?limit=20".to_owned(),
        };
        let (status, page) = get_json(&app, &path, "customer_service").await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        if pages == 2 {
            // A customer registered meanwhile, sorting before this page: the following
            // pages neither repeat nor skip anything because of it.
            insert(
                &app,
                "customer_service",
                &card("Aaron", "Anne", "LAE-000999"),
            )
            .await;
        }
        for item in page["items"].as_array().expect("items") {
            seen.push(Uuid::parse_str(item["id"].as_str().expect("id")).expect("uuid"));
            // The order is on names folded as lae_fold does (no accents, no capitals).
            keys.push((
                fold(item["last_name"].as_str().expect("last")),
                fold(item["first_name"].as_str().expect("first")),
                item["id"].as_str().expect("id").to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 7, "137 rows by 20");
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a row came twice");
    assert_eq!(unique, inserted, "rows missing or foreign");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "pages follow (last name, first name, id)");

    // A cursor opens only the list it came from, unchanged.
    let (_, first) = get_json(
        &app,
        "/api/v1/customer-service/customers?name=mar&limit=5",
        "customer_service",
    )
    .await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (status, _) = get_json(
        &app,
        &format!("/api/v1/customer-service/customers?name=mar&limit=5&cursor={cursor}"),
        "customer_service",
    )
    .await;
    assert_eq!(status, 200);
    let mut tampered = cursor.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for (case, path, role) in [
        (
            "tampered",
            format!("/api/v1/customer-service/customers?name=mar&cursor={tampered}"),
            "customer_service",
        ),
        (
            "another search",
            format!("/api/v1/customer-service/customers?name=pet&cursor={cursor}"),
            "customer_service",
        ),
        (
            "another department",
            format!("/api/v1/sales/customers?name=mar&cursor={cursor}"),
            "sales",
        ),
        (
            "garbage",
            "/api/v1/customer-service/customers?cursor=bm9wZQ.bm9wZQ".to_owned(),
            "customer_service",
        ),
    ] {
        let (status, problem) = get_json(&app, &path, role).await;
        assert_eq!(status, 400, "{case}: {problem}");
        assert_eq!(problem["code"], "invalid_cursor", "{case}");
        assert_eq!(problem["field"], "cursor", "{case}");
    }
}

#[tokio::test]
async fn bad_parameters_are_400_problems_naming_the_parameter() {
    let app = TestApp::spawn("qbad").await;
    let id = insert(&app, "billing", &card("Moreau", "Léa", "LAE-000301")).await;
    let cases = [
        (
            "/api/v1/billing/customers?limit=0",
            "limit",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?limit=201",
            "limit",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?limit=beaucoup",
            "limit",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?phone=12",
            "phone",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?email=pas-un-mail",
            "email",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?customer_number=42",
            "customer_number",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?name=a%00b",
            "name",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?nom=Moreau",
            "nom",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?name=a&name=b",
            "name",
            "invalid_parameter",
        ),
        (
            "/api/v1/billing/customers?q=Moreau&email=a%40b.fr",
            "q",
            "conflicting_parameters",
        ),
        (
            "/api/v1/billing/customers?cursor=x",
            "cursor",
            "invalid_cursor",
        ),
        (
            &format!("/api/v1/billing/customers/{id}?x=1"),
            "x",
            "invalid_parameter",
        ),
        (
            &format!("/api/v1/billing/customers/{id}/mandate?reveal=all"),
            "reveal",
            "invalid_parameter",
        ),
        (
            &format!("/api/v1/billing/customers/{id}/mandate?reveal=iban"),
            "purpose",
            "purpose_required",
        ),
        (
            &format!("/api/v1/billing/customers/{id}/mandate?reveal=iban&purpose=%20"),
            "purpose",
            "purpose_required",
        ),
    ];
    for (path, field, code) in cases {
        let response = get(&app, path, "billing").await;
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(status, 400, "{path}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{path}");
        assert_eq!(problem["field"], field, "{path}: {problem}");
        assert_eq!(problem["code"], code, "{path}: {problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{path}"
        );
    }
    let (status, problem) = get_json(
        &app,
        "/api/v1/legal/customers/{id}/health-declaration",
        "legal",
    )
    .await;
    assert_eq!(status, 404, "not an id: {problem}");
    let (status, problem) = get_json(
        &app,
        &format!("/api/v1/legal/customers/{id}/health-declaration"),
        "legal",
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "purpose");
    let unknown = Uuid::new_v4();
    for (path, role) in [
        (format!("/api/v1/billing/customers/{unknown}"), "billing"),
        (
            format!("/api/v1/billing/customers/{unknown}/invoices"),
            "billing",
        ),
        (format!("/api/v1/sales/customers/{unknown}/offers"), "sales"),
        (
            format!("/api/v1/customer-service/customers/{unknown}/tickets"),
            "customer_service",
        ),
        (
            format!("/api/v1/legal/customers/{unknown}/health-declaration?purpose=x"),
            "legal",
        ),
    ] {
        let (status, problem) = get_json(&app, &path, role).await;
        assert_eq!(status, 404, "{path}: {problem}");
        assert_eq!(problem["code"], "customer_not_found", "{path}");
    }
    let (status, problem) = get_json(
        &app,
        &format!("/api/v1/billing/customers/{id}/mandate"),
        "billing",
    )
    .await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["code"], "mandate_not_found");
    assert_eq!(app.event_count().await, 0, "queries append nothing");
}

#[tokio::test]
async fn etags_answer_304_until_the_answer_changes() {
    let app = TestApp::spawn("qetag").await;
    let id = insert(
        &app,
        "customer_service",
        &card("Leroy", "Paul", "LAE-000401"),
    )
    .await;
    for path in [
        format!("/api/v1/customer-service/customers/{id}"),
        "/api/v1/customer-service/customers?name=ler".to_owned(),
        format!("/api/v1/customer-service/customers/{id}/tickets"),
    ] {
        let first = get(&app, &path, "customer_service").await;
        assert_eq!(first.status(), 200, "{path}");
        assert_eq!(first.headers()["cache-control"], "no-store", "{path}");
        let etag = first.headers()["etag"].to_str().expect("ascii").to_owned();
        let again = app
            .client
            .get(app.url(&path))
            .bearer_auth(app.token("customer_service"))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("sent");
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.expect("body").is_empty());

        // A ticket opened for the customer, then a contact change: new answers, new tags.
        sqlx::query(
            "INSERT INTO customer_service.tickets (ticket_id, customer_id, channel, reason, status, \
               opened_at, version, updated_at) VALUES ($1, $2, 'phone', 'Question', 'open', now(), 1, now())",
        )
        .bind(Uuid::new_v4())
        .bind(id)
        .execute(&app.pool)
        .await
        .expect("ticket");
        sqlx::query(
            "UPDATE customer_service.customers SET email = $2, version = version + 1 \
              WHERE customer_id = $1",
        )
        .bind(id)
        .bind(format!("paul.{}@exemple.fr", Uuid::new_v4().simple()))
        .execute(&app.pool)
        .await
        .expect("change");
        let changed = app
            .client
            .get(app.url(&path))
            .bearer_auth(app.token("customer_service"))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("sent");
        assert_eq!(changed.status(), 200, "{path}");
        assert_ne!(changed.headers()["etag"], etag.as_str(), "{path}");
    }
    let (_, view) = get_json(
        &app,
        &format!("/api/v1/customer-service/customers/{id}"),
        "customer_service",
    )
    .await;
    assert_eq!(view["open_tickets"], 3, "{view}");
    assert_eq!(view["customer"]["version"], 4);
}

#[tokio::test]
async fn every_department_reads_through_its_own_reader_role() {
    let app = TestApp::spawn("qroles").await;
    for department in [
        Department::CustomerService,
        Department::Legal,
        Department::Sales,
        Department::Billing,
        Department::Management,
    ] {
        let readers = &app.state.queries.readers;
        let mut conn = readers.acquire(department).await.expect("a reader");
        let (user, pid): (String, i32) =
            sqlx::query_as("SELECT current_user::text, pg_backend_pid()")
                .fetch_one(&mut *conn)
                .await
                .expect("the reader role connects");
        assert_eq!(user, department.reader_role());
        conn.release();
        // A released connection serves the next request; one dropped unreleased (its
        // request failed or was cancelled) is closed, never reused.
        let mut conn = readers.acquire(department).await.expect("a reader");
        let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .expect("query");
        assert_eq!(again, pid, "released connections are reused");
        let foreign = if department == Department::Legal {
            "sales"
        } else {
            "legal"
        };
        let refused = sqlx::query(&format!("SELECT 1 FROM {foreign}.customers LIMIT 1"))
            .fetch_optional(&mut *conn)
            .await;
        drop(conn);
        let mut conn = readers.acquire(department).await.expect("a reader");
        let fresh: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .expect("query");
        assert_ne!(fresh, pid, "a connection dropped unreleased is not reused");
        conn.release();
        assert!(refused.is_err(), "{department} read {foreign}");
    }
    // The route's answer depends on the reader's privileges, and on nothing else's:
    // take SELECT away from customer service's reader in this database, and its search
    // fails while sales' goes on.
    insert(
        &app,
        "customer_service",
        &card("Roux", "Lina", "LAE-000501"),
    )
    .await;
    let path = "/api/v1/customer-service/customers?name=roux";
    assert_eq!(get(&app, path, "customer_service").await.status(), 200);
    sqlx::query("REVOKE SELECT ON customer_service.customers FROM lae_customer_service_reader")
        .execute(&app.pool)
        .await
        .expect("revoke");
    assert_eq!(get(&app, path, "customer_service").await.status(), 500);
    assert_eq!(
        get(&app, "/api/v1/sales/customers", "sales").await.status(),
        200
    );
}

#[tokio::test]
async fn every_department_reads_what_the_commands_did_and_sensitive_reads_are_logged() {
    let app = TestApp::spawn_with_pipeline("qpipeline").await;
    let id = app.register_customer("Garnier").await;
    let iban = "FR7630006000011234567890189";
    let commands = [
        (
            reqwest::Method::POST,
            format!("/api/v1/customers/{id}/mandate"),
            "billing",
            json!({"iban": "FR76 3000 6000 0112 3456 7890 189", "mandate_reference": "RUM-1"}),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/v1/customers/{id}/health-declaration"),
            "legal",
            json!({"tobacco": "smoker", "alcohol": "none", "illnesses": ["zz-maladie-témoin"]}),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/v1/customers/{id}/sales-profile"),
            "sales",
            json!({"age_band": "36-45", "profession": "Boulangère", "sex": "female"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/offers".to_owned(),
            "sales",
            json!({"customer_id": id, "product": "Prévoyance Plus", "monthly_premium": 2500}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/invoices".to_owned(),
            "billing",
            json!({"customer_id": id, "number": "F2025-000001-01", "amount": 4599,
                   "issued_on": "2025-03-01", "due_on": "2025-03-31"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/tickets".to_owned(),
            "customer_service",
            json!({"channel": "phone", "reason": "Réclamation facture", "customer_id": id}),
        ),
    ];
    for (method, path, role, body) in commands {
        let (status, answer) = app.send(method, &path, role, &body).await;
        assert!(status == 201 || status == 202, "{path}: {status} {answer}");
    }

    // Customer service: the card, the open ticket and its history.
    let view = eventually(
        &app,
        &format!("/api/v1/customer-service/customers/{id}"),
        "customer_service",
        |v| v["open_tickets"] == 1,
    )
    .await;
    assert_eq!(view["customer"]["last_name"], "Garnier");
    assert_eq!(view["customer"]["phone"], "+33612345678");
    let (_, tickets) = get_json(
        &app,
        &format!("/api/v1/customer-service/customers/{id}/tickets"),
        "customer_service",
    )
    .await;
    assert_eq!(
        tickets["items"][0]["history"][0]["kind"], "opened",
        "{tickets}"
    );

    // Sales: profile, offer; no invoice amount anywhere.
    let sales = eventually(
        &app,
        &format!("/api/v1/sales/customers/{id}"),
        "sales",
        |v| v["profile"].is_object() && v["has_unpaid_invoices"] == true,
    )
    .await;
    assert_eq!(sales["profile"]["profession"], "Boulangère");
    let offers = eventually(
        &app,
        &format!("/api/v1/sales/customers/{id}/offers"),
        "sales",
        |v| v["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    assert_eq!(offers["items"][0]["status"], "proposed");
    assert!(!sales.to_string().contains("4599"));

    // Billing: the IBAN is masked everywhere unless revealed.
    let billing = eventually(
        &app,
        &format!("/api/v1/billing/customers/{id}"),
        "billing",
        |v| v["mandate"].is_object(),
    )
    .await;
    assert_eq!(
        billing["mandate"]["iban"],
        "FR76 **** **** **** **** ***0 189"
    );
    assert_eq!(billing["mandate"]["iban_revealed"], false);
    let invoices = eventually(
        &app,
        &format!("/api/v1/billing/customers/{id}/invoices"),
        "billing",
        |v| v["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    assert_eq!(invoices["items"][0]["amount_cents"], 4599);
    assert_eq!(invoices["items"][0]["history"][0]["kind"], "issued");
    let mandate_path = format!("/api/v1/billing/customers/{id}/mandate");
    let masked = get(&app, &mandate_path, "billing").await;
    assert!(masked.headers().contains_key("etag"));
    let masked = masked.text().await.expect("body");
    assert!(
        !masked.contains(iban) && !masked.contains("0112"),
        "{masked}"
    );
    let (status, _) = get_json(&app, &format!("{mandate_path}?reveal=iban"), "billing").await;
    assert_eq!(status, 400, "no purpose, no reveal");
    assert_eq!(access_log(&app, &id).await.len(), 0, "nothing was shown");

    let revealed = get(
        &app,
        &format!("{mandate_path}?reveal=iban&purpose=Rejet%20de%20pr%C3%A9l%C3%A8vement"),
        "billing",
    )
    .await;
    assert_eq!(revealed.status(), 200);
    assert_eq!(revealed.headers()["cache-control"], "no-store");
    assert!(
        revealed.headers().get("etag").is_none(),
        "logged reads are never 304"
    );
    let revealed: Value = revealed.json().await.expect("json");
    assert_eq!(revealed["iban"], iban);
    assert_eq!(revealed["iban_revealed"], true);
    assert_eq!(revealed["history"][0]["iban"], iban);

    // Legal: whether a declaration is on file; the declaration itself only with a purpose.
    eventually(
        &app,
        &format!("/api/v1/legal/customers/{id}"),
        "legal",
        |v| v["health_declaration"] == true,
    )
    .await;
    let health_path = format!("/api/v1/legal/customers/{id}/health-declaration");
    let (status, _) = get_json(&app, &health_path, "legal").await;
    assert_eq!(status, 400);
    let (status, health) = get_json(
        &app,
        &format!("{health_path}?purpose=Souscription"),
        "legal",
    )
    .await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["illnesses"], json!(["zz-maladie-témoin"]));

    // Both reads are in the access log, as the auditor reads it.
    let records = access_log(&app, &id).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let health_record = &records[0];
    assert_eq!(health_record["what"], "health");
    assert_eq!(health_record["user"], "legal");
    assert_eq!(health_record["purpose"], "Souscription");
    let iban_record = &records[1];
    assert_eq!(iban_record["what"], "iban");
    assert_eq!(iban_record["user"], "billing");
    assert_eq!(iban_record["role"], "billing");
    assert_eq!(iban_record["purpose"], "Rejet de prélèvement");

    // Management: figures only.
    let kpis = eventually(&app, "/api/v1/management/kpis", "management", |v| {
        v["customers"] == 1 && v["tickets_open"] == 1
    })
    .await;
    assert_eq!(kpis["invoices_unpaid"], 1);
    assert!(!kpis.to_string().contains(&id));
}

/// The access log about a customer, newest first, as the auditor reads it.
async fn access_log(app: &TestApp, customer: &str) -> Vec<Value> {
    let (status, log) = get_json(
        app,
        &format!("/api/v1/audit/access-log?customer_id={customer}"),
        "auditor",
    )
    .await;
    assert_eq!(status, 200, "{log}");
    log["records"].as_array().expect("records").clone()
}
