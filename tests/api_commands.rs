//! Commands over HTTP against the real PostgreSQL: every aggregate's happy path,
//! the metadata stamped on events, and the offer → contract policy.

mod common;

use base64::Engine;
use common::TestApp;
use serde_json::{Value, json};

async fn events_of(app: &TestApp, aggregate_id: &str) -> Vec<(String, i64, Value, Value)> {
    let rows: Vec<(
        String,
        i64,
        sqlx::types::Json<Value>,
        sqlx::types::Json<Value>,
    )> = sqlx::query_as(
        "SELECT event_type, sequence, payload::jsonb, metadata::jsonb FROM events
             WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(aggregate_id)
    .fetch_all(&app.pool)
    .await
    .expect("events");
    rows.into_iter()
        .map(|(t, s, p, m)| (t, s, p.0, m.0))
        .collect()
}

#[tokio::test]
async fn registering_a_customer_answers_201_with_id_version_and_number() {
    let app = TestApp::spawn("register").await;
    let response = app
        .client
        .post(app.url("/api/v1/customers"))
        .bearer_auth(app.token("customer_service"))
        .header("x-request-id", "0b9f3c52-6a3e-4a55-9c4e-0d2f1f0f6a11")
        .json(&json!({"last_name": "D'Artagnan", "first_name": "Hélène",
                      "email": " Helene.DArtagnan@Exemple.fr ", "phone": "06.12.34.56.78"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    let id = body["id"].as_str().expect("id");
    assert_eq!(location, format!("/api/v1/customers/{id}"));
    assert_eq!(body["version"], 1);
    assert!(
        body["customer_number"]
            .as_str()
            .expect("number")
            .starts_with("LAE-")
    );

    let events = events_of(&app, id).await;
    assert_eq!(events.len(), 1);
    let (event_type, sequence, payload, metadata) = &events[0];
    assert_eq!(event_type, "CustomerRegistered");
    assert_eq!(*sequence, 1);
    // Personal fields are stored sealed; the aggregate reads them back in clear.
    let contact = &payload["$sealed"]["contact"];
    assert!(contact["data"].is_string(), "{payload}");
    assert!(payload.get("email").is_none(), "{payload}");
    assert_eq!(
        contact["fields"],
        json!(["last_name", "first_name", "email", "phone", "availability"]),
        "{payload}"
    );
    assert!(!payload.to_string().contains("dartagnan"), "{payload}");
    let (customer, _) = app.state.customers.load(id).await.expect("loads");
    let contact = customer.contact().expect("registered");
    assert_eq!(
        contact.email.as_ref().map(ToString::to_string).as_deref(),
        Some("helene.dartagnan@exemple.fr")
    );
    assert_eq!(
        contact.phone.as_ref().map(ToString::to_string).as_deref(),
        Some("+33612345678")
    );
    assert_eq!(metadata["user"], "customer-service");
    assert!(metadata["user_id"].as_str().is_some_and(|u| u.len() == 36));
    assert_eq!(metadata["department"], "customer_service");
    assert_eq!(metadata["source"], "api");
    assert_eq!(
        metadata["correlation_id"],
        "0b9f3c52-6a3e-4a55-9c4e-0d2f1f0f6a11"
    );
    assert_eq!(
        metadata["causation_id"],
        "0b9f3c52-6a3e-4a55-9c4e-0d2f1f0f6a11"
    );
    assert!(
        metadata["occurred_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[tokio::test]
async fn every_department_commands_its_part_of_the_customer() {
    let app = TestApp::spawn("customer").await;
    let id = app.register_customer("Martin").await;
    let base = format!("/api/v1/customers/{id}");
    let steps = [
        (
            "PUT",
            "/contact-details",
            "customer_service",
            json!({"last_name": "Martin", "first_name": "Hélène", "email": "h.martin@exemple.fr",
                "phone": "+33698765432", "availability": "soir"}),
        ),
        (
            "PUT",
            "/health-declaration",
            "legal",
            json!({"tobacco": "smoker", "alcohol": "occasional", "illnesses": ["asthme"],
                "declared_on": "2024-05-02"}),
        ),
        (
            "PUT",
            "/sales-profile",
            "sales",
            json!({"age_band": "36-45", "profession": "Boulangère", "sex": "female"}),
        ),
        (
            "POST",
            "/mandate",
            "billing",
            json!({"iban": "FR76 3000 6000 0112 3456 7890 189", "mandate_reference": "RUM-LAE-00000001",
                "date": "2024-06-01"}),
        ),
        (
            "PUT",
            "/mandate",
            "billing",
            json!({"iban": "FR1420041010050500013M02606", "mandate_reference": "RUM-LAE-00000001",
                "date": "2024-07-01"}),
        ),
        (
            "POST",
            "/mandate/revocation",
            "billing",
            json!({"revoked_on": "2024-08-01"}),
        ),
    ];
    for (i, (method, path, department, body)) in steps.into_iter().enumerate() {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let (status, answer) = app
            .send(method, &format!("{base}{path}"), department, &body)
            .await;
        assert_eq!(status, 202, "{path}: {answer}");
        assert_eq!(answer["version"], i + 2, "{path}");
    }
    let types: Vec<String> = events_of(&app, &id)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        types,
        [
            "CustomerRegistered",
            "ContactDetailsChanged",
            "HealthDeclared",
            "SalesProfileSet",
            "MandateSigned",
            "MandateAmended",
            "MandateRevoked"
        ]
    );
}

#[tokio::test]
async fn unchanged_contact_details_append_nothing() {
    let app = TestApp::spawn("idempotent").await;
    let id = app.register_customer("Leroy").await;
    let same = json!({"last_name": "Leroy", "first_name": "Hélène", "email": "leroy@exemple.fr",
                      "phone": "0612345678", "availability": "matin"});
    let (status, body) = app
        .put(
            &format!("/api/v1/customers/{id}/contact-details"),
            "customer_service",
            same,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn an_accepted_offer_has_its_contract_requested_by_the_reactor() {
    let app = TestApp::spawn_with_pipeline("offer").await;
    let customer = app.register_customer("Dubois").await;
    let (status, offer) = app
        .post("/api/v1/offers", "sales", json!({"customer_id": customer, "product": "Vie Sérénité",
                                               "monthly_premium": 3150, "proposed_on": "2025-01-10"}))
        .await;
    assert_eq!(status, 201, "{offer}");
    let offer_id = offer["id"].as_str().expect("offer id");
    let (status, accepted) = app
        .post(
            &format!("/api/v1/offers/{offer_id}/acceptance"),
            "sales",
            json!({"accepted_on": "2025-01-15"}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let contract_id = accepted["contract_id"].as_str().expect("contract id");
    // The contract-requests reactor requests it once the acceptance is on the stream.
    app.wait_for_event(contract_id, "ContractRequested").await;

    let contract_events = events_of(&app, contract_id).await;
    assert_eq!(contract_events.len(), 1);
    let (event_type, _, payload, metadata) = &contract_events[0];
    assert_eq!(event_type, "ContractRequested");
    assert_eq!(payload["customer_id"], customer.as_str());
    assert_eq!(payload["product"], "Vie Sérénité");
    assert_eq!(payload["monthly_premium"], 3150);
    assert_eq!(payload["offer_id"], offer_id);
    assert_eq!(metadata["source"], "policy");
    let offer_events = events_of(&app, offer_id).await;
    assert_eq!(
        metadata["correlation_id"],
        offer_events[1].3["correlation_id"]
    );
    assert_ne!(metadata["causation_id"], offer_events[1].3["causation_id"]);

    // Legal signs it with the document; the bytes are kept sealed, the event holds the
    // digest of the clear document.
    let pdf = b"%PDF-1.4\n% contrat CT-000001-1\n%%EOF\n";
    let (status, signed) = app
        .post(
            &format!("/api/v1/contracts/{contract_id}/signature"),
            "legal",
            json!({
            "reference": "CT-000001-1", "signed_on": "2025-02-01",
            "document": {"name": "CT-000001-1.pdf",
                         "content_base64": base64::engine::general_purpose::STANDARD.encode(pdf)}}),
        )
        .await;
    assert_eq!(status, 202, "{signed}");
    let signed_payload = &events_of(&app, contract_id).await[1].2;
    let digest = signed_payload["document"]["sha256"]
        .as_str()
        .expect("digest")
        .to_owned();
    assert_eq!(signed_payload["document"]["size_bytes"], pdf.len());
    // Kept sealed with the customer's key, under a key of its own: never in clear.
    let subject: uuid::Uuid = customer.parse().expect("customer id");
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT content FROM contract_documents WHERE sha256 = $1")
            .bind(lae_store::documents::storage_key(subject, &digest))
            .fetch_one(&app.pool)
            .await
            .expect("document stored");
    assert!(stored.len() > pdf.len(), "sealed: nonce and tag");
    assert!(
        !stored.windows(16).any(|w| pdf.windows(16).any(|p| p == w)),
        "no run of the clear bytes in the sealed row"
    );
    let clear: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contract_documents WHERE sha256 = $1")
            .bind(&digest)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(clear, 0, "no clear row");
    // Reading it needs a purpose (the read itself: tests/privacy_documents.rs).
    let response = app
        .client
        .get(app.url(&format!("/api/v1/contracts/documents/{digest}")))
        .bearer_auth(app.token("legal"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["field"], "purpose", "{problem}");

    let (status, _) = app
        .post(
            &format!("/api/v1/contracts/{contract_id}/termination"),
            "legal",
            json!({"terminated_on": "2026-02-01", "reason": "Demande du client"}),
        )
        .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn invoices_are_issued_paid_and_tickets_routed() {
    let app = TestApp::spawn("billing").await;
    let customer = app.register_customer("Petit").await;
    let (status, invoice) = app
        .post(
            "/api/v1/invoices",
            "billing",
            json!({"customer_id": customer, "number": "F2025-000001-01",
              "amount": 4599, "issued_on": "2025-03-01", "due_on": "2025-03-31"}),
        )
        .await;
    assert_eq!(status, 201, "{invoice}");
    let invoice_id = invoice["id"].as_str().expect("id");
    let (status, body) = app
        .post(
            &format!("/api/v1/invoices/{invoice_id}/payment-rejection"),
            "billing",
            json!({"on": "2025-04-02", "reason": "Provision insuffisante"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/invoices/{invoice_id}/payment"),
            "billing",
            json!({"paid_on": "2025-04-10", "amount": 4599}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["version"], 3);

    let (status, ticket) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "phone",
              "reason": "Réclamation facture", "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    let ticket_id = ticket["id"].as_str().expect("id");
    for (path, body) in [
        (
            "actions",
            json!({"action": "Informations données au client"}),
        ),
        (
            "routing",
            json!({"department": "billing", "note": "Prélèvement rejeté"}),
        ),
        ("resolution", json!({"resolution": "Facture régularisée"})),
    ] {
        let (status, answer) = app
            .post(
                &format!("/api/v1/tickets/{ticket_id}/{path}"),
                "customer_service",
                body,
            )
            .await;
        assert_eq!(status, 202, "{path}: {answer}");
    }
    let opened = &events_of(&app, ticket_id).await[0];
    assert_eq!(opened.2["operator"], "customer-service");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn("health").await;
    for path in ["/health", "/ready"] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 200, "{path}");
    }
}
