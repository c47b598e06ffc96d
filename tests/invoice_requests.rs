//! Sales' invoice requests ("demandes de facture") against the real pipeline: sales
//! asks, billing sees the request in its pending list, issues it (an invoice for the
//! requested amount) or refuses it (the reason kept); sales hears of either in its
//! inbox; each side is refused the other's commands. The same on the desks: the
//! sales customer page's "Demander une facture" form and billing's "Demandes de
//! facture" list with Émettre / Refuser, French errors beside the field, input kept.

mod common;

use common::TestApp;
use common::web::{cookie_session, eventually, form_token};
use serde_json::{Value, json};

fn pending_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn sales_requests_an_invoice_billing_issues_one_and_refuses_another_and_sales_hears_of_both()
{
    let app = TestApp::spawn_with_pipeline("invreq").await;
    let customer = app.register_customer("Roussel").await;
    let contract = app.signed_contract(&customer, "Vie Sérénité", 3150).await;
    let other = app.register_customer("Mercier").await;

    // Only sales asks; bad input is named.
    let body = json!({"customer_id": customer, "contract_id": contract, "amount": 2500,
                      "label": "Frais de duplicata", "requested_on": "2026-11-02"});
    let (status, _) = app
        .post("/api/v1/sales/invoice-requests", "billing", body.clone())
        .await;
    assert_eq!(status, 403, "billing cannot request an invoice");
    for (bad, field) in [
        (json!({"amount": 0}), "amount"),
        (json!({"label": "  "}), "label"),
        (json!({"customer_id": other}), "contract_id"),
    ] {
        let mut input = body.clone();
        for (k, v) in bad.as_object().expect("object") {
            input[k] = v.clone();
        }
        let (status, problem) = app
            .post("/api/v1/sales/invoice-requests", "sales", input)
            .await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let (status, first) = app
        .post("/api/v1/sales/invoice-requests", "sales", body.clone())
        .await;
    assert_eq!(status, 201, "{first}");
    let first = first["id"].as_str().expect("id").to_owned();
    let (status, second) = app
        .post(
            "/api/v1/sales/invoice-requests",
            "sales",
            json!({"customer_id": customer, "amount": 4000,
                   "label": "Frais de relance", "requested_on": "2026-11-03"}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_str().expect("id").to_owned();

    // Billing's pending list, oldest first; sales does not read it.
    let list = eventually(&app, "/api/v1/billing/invoice-requests", "billing", |b| {
        pending_ids(b).len() == 2
    })
    .await;
    assert_eq!(pending_ids(&list), [first.clone(), second.clone()]);
    let item = &list["items"][0];
    assert_eq!(item["amount_cents"], 2500, "{item}");
    assert_eq!(item["label"], "Frais de duplicata", "{item}");
    assert_eq!(item["last_name"], "Roussel", "{item}");
    assert_eq!(item["contract_id"], contract.as_str(), "{item}");
    let (status, _) = app.get("/api/v1/billing/invoice-requests", "sales").await;
    assert_eq!(status, 403);

    // Sales cannot decide; billing issues the first.
    let issue = format!("/api/v1/billing/invoice-requests/{first}/issue");
    let (status, _) = app
        .post(&issue, "sales", json!({"issued_on": "2026-11-04"}))
        .await;
    assert_eq!(status, 403, "sales cannot issue");
    let (status, body) = app
        .post(&issue, "billing", json!({"issued_on": "2026-11-01"}))
        .await;
    assert_eq!(status, 422, "not before the request: {body}");
    assert_eq!(body["field"], "issued_on", "{body}");
    let (status, body) = app
        .post(
            &issue,
            "billing",
            json!({"issued_on": "2026-11-04", "due_on": "2026-11-14"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app
        .post(&issue, "billing", json!({"issued_on": "2026-11-04"}))
        .await;
    assert_eq!(status, 409, "issued once: {body}");
    let invoices = eventually(
        &app,
        &format!("/api/v1/billing/customers/{customer}/invoices"),
        "billing",
        |b| {
            b["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|x| x["id"] == first.as_str()))
        },
    )
    .await;
    let invoice = invoices["items"]
        .as_array()
        .and_then(|i| i.iter().find(|x| x["id"] == first.as_str()))
        .expect("the invoice");
    assert_eq!(invoice["amount_cents"], 2500, "{invoice}");
    assert_eq!(invoice["status"], "issued", "{invoice}");
    assert_eq!(invoice["due_on"], "2026-11-14", "{invoice}");
    assert_eq!(invoice["contract_id"], contract.as_str(), "{invoice}");
    assert!(
        invoice["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("FD-2026-11-")),
        "{invoice}"
    );
    // The request is not itself an invoice: one invoice for the customer so far.
    assert_eq!(invoices["items"].as_array().map(Vec::len), Some(1));

    // The second is refused, with its reason, once.
    let refuse = format!("/api/v1/billing/invoice-requests/{second}/refuse");
    let (status, _) = app.post(&refuse, "sales", json!({"reason": "x"})).await;
    assert_eq!(status, 403, "sales cannot refuse");
    let (status, body) = app
        .post(
            &refuse,
            "billing",
            json!({"reason": "Relance offerte ce trimestre", "refused_on": "2026-11-05"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app
        .post(&refuse, "billing", json!({"reason": "encore"}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/billing/invoice-requests/{second}/issue"),
            "billing",
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "a refused request is not issued: {body}");
    eventually(&app, "/api/v1/billing/invoice-requests", "billing", |b| {
        pending_ids(b).is_empty()
    })
    .await;
    let (status, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT status, refusal_reason FROM billing.invoice_requests WHERE invoice_id = $1::uuid",
    )
    .bind(&second)
    .fetch_one(&app.pool)
    .await
    .expect("the refused request");
    assert_eq!(status, "refused");
    assert_eq!(reason.as_deref(), Some("Relance offerte ce trimestre"));

    // Sales hears of both outcomes (and of the signature) in its inbox.
    let inbox = eventually(&app, "/api/v1/sales/tickets", "sales", |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 3)
    })
    .await;
    let items = inbox["items"].as_array().expect("items");
    let find = |prefix: &str| {
        items
            .iter()
            .find(|i| i["reason"].as_str().is_some_and(|r| r.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no notice {prefix:?} in {items:?}"))
    };
    let issued = find("Demande de facture émise : facture FD-2026-11-");
    assert!(
        issued["routing_note"]
            .as_str()
            .is_some_and(|n| n.contains("25,00 €") && n.contains("Frais de duplicata")),
        "{issued}"
    );
    let refused = find("Demande de facture refusée : Frais de relance (40,00 €)");
    assert!(
        refused["routing_note"]
            .as_str()
            .is_some_and(|n| n.contains("Motif : Relance offerte ce trimestre")),
        "{refused}"
    );
    assert_eq!(refused["customer_id"], customer.as_str());
}

/// A desk form post with the session cookie, from the site itself.
async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let response = client
        .post(app.url(path))
        .header("cookie", cookie)
        .header("origin", app.url(""))
        .form(fields)
        .send()
        .await
        .expect("form sent");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, response.text().await.expect("page"))
}

async fn page(app: &TestApp, client: &reqwest::Client, cookie: &str, path: &str) -> String {
    let response = client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.expect("page")
}

#[tokio::test]
async fn the_desks_request_refuse_and_issue_invoices_with_errors_beside_the_field() {
    let app = TestApp::spawn_with_pipeline("invreqdesk").await;
    let customer = app.register_customer("Fontaine").await;
    let (sales, sales_cookie) = cookie_session(&app, "sales").await;
    let customer_page = format!("/desk/sales/customers/{customer}");
    // The sales read model knows the customer (its page reads it).
    eventually(
        &app,
        &format!("/api/v1/sales/customers/{customer}"),
        "sales",
        |_| true,
    )
    .await;
    let html = page(&app, &sales, &sales_cookie, &customer_page).await;
    assert!(
        html.contains("Demander une facture"),
        "the form is on the page"
    );
    let token = form_token(&html);
    let action = format!("{customer_page}/invoice-requests");

    // Refused in French beside the field, what was typed kept.
    let (status, _, html) = post_form(
        &app,
        &sales,
        &sales_cookie,
        &action,
        &[
            ("_csrf", &token),
            ("amount", "douze"),
            ("label", "Frais de duplicata"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains(r#"id="amount-erreur""#),
        "the error is beside the amount"
    );
    assert!(
        html.contains(r#"value="douze""#),
        "the amount typed is kept"
    );
    assert!(
        html.contains(r#"value="Frais de duplicata""#),
        "the label typed is kept"
    );
    assert!(
        html.contains("pas été transmise"),
        "the refusal is said above the form"
    );

    for label in ["Frais de duplicata", "Frais de dossier"] {
        let (status, location, _) = post_form(
            &app,
            &sales,
            &sales_cookie,
            &action,
            &[("_csrf", &token), ("amount", "25,00"), ("label", label)],
        )
        .await;
        assert_eq!(status, 303);
        assert!(location.contains("ok=invoice_requested"), "{location}");
    }

    // Billing's list shows both; a refusal without a reason is refused beside it.
    let (billing, billing_cookie) = cookie_session(&app, "billing").await;
    let list = eventually(&app, "/api/v1/billing/invoice-requests", "billing", |b| {
        pending_ids(b).len() == 2
    })
    .await;
    let ids = pending_ids(&list);
    let html = page(
        &app,
        &billing,
        &billing_cookie,
        "/desk/billing/invoice-requests",
    )
    .await;
    assert!(html.contains("Frais de duplicata") && html.contains("Frais de dossier"));
    assert!(html.contains("25,00"), "the amount in French");
    let token = form_token(&html);
    let refuse = format!("/desk/billing/invoice-requests/{}/refuse", ids[1]);
    let (status, _, html) = post_form(
        &app,
        &billing,
        &billing_cookie,
        &refuse,
        &[("_csrf", &token), ("reason", " ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains(&format!(r#"id="reason-{}-erreur""#, ids[1])),
        "the error is beside its reason"
    );
    let (status, location, _) = post_form(
        &app,
        &billing,
        &billing_cookie,
        &refuse,
        &[("_csrf", &token), ("reason", "Frais de dossier offerts")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.contains("ok=refused"), "{location}");
    let issue = format!("/desk/billing/invoice-requests/{}/issue", ids[0]);
    let (status, location, _) = post_form(
        &app,
        &billing,
        &billing_cookie,
        &issue,
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.contains("ok=issued"), "{location}");
    let html = page(
        &app,
        &billing,
        &billing_cookie,
        "/desk/billing/invoice-requests",
    )
    .await;
    assert!(html.contains("Aucune demande en attente"), "both decided");
    // The issued one is the customer's invoice, for the amount asked.
    let invoices = eventually(
        &app,
        &format!("/api/v1/billing/customers/{customer}/invoices"),
        "billing",
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    assert_eq!(invoices["items"][0]["amount_cents"], 2500);
    assert_eq!(invoices["items"][0]["id"], ids[0].as_str());

    // Each desk refuses the other role.
    let (status, _, _) = post_form(
        &app,
        &billing,
        &billing_cookie,
        &action,
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(status, 403);
    let response = sales
        .get(app.url("/desk/billing/invoice-requests"))
        .header("cookie", &sales_cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), 403);
}
