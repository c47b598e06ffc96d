//! Sales' invoice requests ("demandes de facture") against the real pipeline: sales
//! asks, billing sees the request in its pending list, issues it (an invoice for the
//! requested amount) or refuses it (the reason kept); sales hears of either in its
//! inbox; each side is refused the other's commands.

mod common;

use common::TestApp;
use common::web::eventually;
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
