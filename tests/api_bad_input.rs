//! Bad input gets a 4xx problem+json naming the field, and appends no event.

mod common;

use common::TestApp;
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    path: String,
    department: &'static str,
    body: Result<Value, &'static str>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

#[tokio::test]
async fn bad_commands_are_refused_with_a_problem_and_leave_no_event() {
    let app = TestApp::spawn("badinput").await;
    let customer = app.register_customer("Moreau").await;
    let (_, offer) = app
        .post(
            "/api/v1/offers",
            "sales",
            json!({"customer_id": customer, "product": "Prévoyance Plus",
              "monthly_premium": 2500, "proposed_on": "2025-01-01"}),
        )
        .await;
    let offer_id = offer["id"].as_str().expect("offer id").to_owned();
    let (status, _) = app
        .post(
            &format!("/api/v1/offers/{offer_id}/acceptance"),
            "sales",
            json!({"accepted_on": "2025-01-05"}),
        )
        .await;
    assert_eq!(status, 202);
    let unknown = "6f1c8a9e-2b7d-4c3e-9a1f-5d6e7f8a9b0c";
    let customers = "/api/v1/customers".to_owned();
    let mandate = format!("/api/v1/customers/{customer}/mandate");
    let cases = [
        Case {
            name: "malformed JSON",
            path: customers.clone(),
            department: "customer_service",
            body: Err("{\"last_name\": \"Martin\", "),
            status: 400,
            code: "malformed_request",
            field: None,
        },
        Case {
            name: "not JSON at all",
            path: customers.clone(),
            department: "customer_service",
            body: Err("last_name=Martin"),
            status: 400,
            code: "malformed_request",
            field: None,
        },
        Case {
            name: "missing field",
            path: customers.clone(),
            department: "customer_service",
            body: Ok(json!({"first_name": "Jean"})),
            status: 422,
            code: "invalid_field",
            field: Some("last_name"),
        },
        Case {
            name: "unknown field",
            path: customers.clone(),
            department: "customer_service",
            body: Ok(json!({"last_name": "A", "first_name": "B", "iban": "FR76"})),
            status: 422,
            code: "invalid_field",
            field: Some("iban"),
        },
        Case {
            name: "invalid email",
            path: customers.clone(),
            department: "customer_service",
            body: Ok(json!({"last_name": "A", "first_name": "B", "email": "pas-un-mail"})),
            status: 422,
            code: "invalid_field",
            field: Some("email"),
        },
        Case {
            name: "invalid phone",
            path: customers.clone(),
            department: "customer_service",
            body: Ok(json!({"last_name": "A", "first_name": "B", "phone": "12"})),
            status: 422,
            code: "invalid_field",
            field: Some("phone"),
        },
        Case {
            name: "empty name",
            path: customers.clone(),
            department: "customer_service",
            body: Ok(json!({"last_name": "   ", "first_name": "B"})),
            status: 422,
            code: "invalid_field",
            field: Some("last_name"),
        },
        Case {
            name: "IBAN with a wrong checksum",
            path: mandate.clone(),
            department: "billing",
            body: Ok(
                json!({"iban": "FR76 3000 6000 0112 3456 7890 188", "mandate_reference": "RUM-1"}),
            ),
            status: 422,
            code: "invalid_field",
            field: Some("iban"),
        },
        Case {
            name: "unknown customer for an offer",
            path: "/api/v1/offers".into(),
            department: "sales",
            body: Ok(json!({"customer_id": unknown, "product": "Vie", "monthly_premium": 100})),
            status: 422,
            code: "unknown_customer",
            field: Some("customer_id"),
        },
        Case {
            name: "command on an unknown customer",
            path: format!("/api/v1/customers/{unknown}/mandate"),
            department: "billing",
            body: Ok(json!({"iban": "FR7630006000011234567890189", "mandate_reference": "RUM-1"})),
            status: 404,
            code: "customer_not_found",
            field: None,
        },
        Case {
            name: "offer accepted twice",
            path: format!("/api/v1/offers/{offer_id}/acceptance"),
            department: "sales",
            body: Ok(json!({})),
            status: 409,
            code: "offer_already_accepted",
            field: None,
        },
        Case {
            name: "zero premium",
            path: "/api/v1/offers".into(),
            department: "sales",
            body: Ok(json!({"customer_id": customer, "product": "Vie", "monthly_premium": 0})),
            status: 422,
            code: "",
            field: Some("monthly_premium"),
        },
        Case {
            name: "invalid id in the path",
            path: "/api/v1/offers/not-a-uuid/acceptance".into(),
            department: "sales",
            body: Ok(json!({})),
            status: 404,
            code: "invalid_identifier",
            field: None,
        },
        Case {
            name: "money as a float",
            path: "/api/v1/offers".into(),
            department: "sales",
            body: Ok(json!({"customer_id": customer, "product": "Vie", "monthly_premium": 31.5})),
            status: 422,
            code: "invalid_field",
            field: Some("monthly_premium"),
        },
        Case {
            name: "unknown route",
            path: "/api/v1/nowhere".into(),
            department: "sales",
            body: Ok(json!({})),
            status: 404,
            code: "route_not_found",
            field: None,
        },
    ];
    let before = app.event_count().await;
    for case in cases {
        let mut request = app
            .client
            .post(app.url(&case.path))
            .bearer_auth(app.token(case.department))
            .header("content-type", "application/json");
        request = match &case.body {
            Ok(json) => request.body(json.to_string()),
            Err(raw) => request.body(raw.to_string()),
        };
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let problem: Value = response.json().await.expect("problem body is JSON");
        assert_eq!(status, case.status, "{}: {problem}", case.name);
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{}",
            case.name
        );
        assert_eq!(problem["status"], case.status, "{}", case.name);
        if !case.code.is_empty() {
            assert_eq!(problem["code"], case.code, "{}: {problem}", case.name);
        }
        assert_eq!(
            problem["field"].as_str(),
            case.field,
            "{}: {problem}",
            case.name
        );
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            case.name
        );
        assert_eq!(
            app.event_count().await,
            before,
            "{} appended an event",
            case.name
        );
    }
}

#[tokio::test]
async fn requests_without_identity_or_json_are_refused() {
    let app = TestApp::spawn("noauth").await;
    let response = app
        .client
        .post(app.url("/api/v1/customers"))
        .json(&json!({"last_name": "A", "first_name": "B"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401);
    let response = app
        .client
        .post(app.url("/api/v1/customers"))
        .bearer_auth(app.token("customer_service"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415);
    assert_eq!(app.event_count().await, 0);
}
