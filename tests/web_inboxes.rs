//! The department inboxes: a ticket customer service routes to billing appears in
//! billing's read model (its own table, its own role) with what was handed over, and
//! nowhere else; billing records an action and routes it on to sales in a real
//! headless Chromium; it leaves billing's inbox (its texts and history with it) and
//! enters sales', which resolves it. A department cannot act on a ticket it does not
//! hold, nor read another department's inbox.
//!
//! `LAE_SCREENSHOTS=docs/screens` also writes a PNG of every screen.

mod common;

use common::TestApp;
use common::web::{accessible, eventually, login, register, shoot};
use lae_browser::Browser;
use serde_json::json;

#[tokio::test]
async fn a_ticket_routed_to_billing_is_worked_there_then_sales_resolves_it() {
    let app = TestApp::spawn_with_pipeline("web_ib").await;
    let customer = register(
        &app,
        "Fontaine",
        "Océane",
        "+33633445566",
        "oceane@exemple.fr",
    )
    .await;
    let (status, opened) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "phone", "reason": "Contestation d'un prélèvement de novembre",
                   "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let ticket = opened["id"].as_str().expect("ticket id").to_owned();
    let (status, routed) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/routing"),
            "customer_service",
            json!({"department": "billing", "note": "Prélèvement en double, à vérifier"}),
        )
        .await;
    assert_eq!(status, 202, "{routed}");

    // Billing's inbox has it, with what customer service handed over.
    let inbox = eventually(&app, "/api/v1/billing/tickets", "billing", |b| {
        b["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    let item = &inbox["items"][0];
    assert_eq!(item["id"], ticket.as_str());
    assert_eq!(item["customer_id"], customer.as_str());
    assert_eq!(item["last_name"], "Fontaine");
    assert_eq!(item["reason"], "Contestation d'un prélèvement de novembre");
    assert_eq!(item["channel"], "phone");
    assert_eq!(item["routed_from"], "customer_service");
    assert_eq!(item["routing_note"], "Prélèvement en double, à vérifier");
    // Nobody else's: legal's inbox is empty, legal may not act on it, sales may not
    // read billing's inbox.
    let (status, legal) = app.get("/api/v1/legal/tickets", "legal").await;
    assert_eq!(status, 200);
    assert_eq!(legal["items"], json!([]));
    let (status, problem) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/actions"),
            "legal",
            json!({"action": "Lu"}),
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["code"], "ticket_not_in_inbox");
    let (status, _) = app.get("/api/v1/billing/tickets", "sales").await;
    assert_eq!(status, 403);
    // And in the database: billing's reader role reads billing's inbox table, legal's
    // is refused it.
    let readers = &app.state.queries.readers;
    let mut billing = readers
        .acquire(lae_projections::Department::Billing)
        .await
        .expect("billing's reader");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM billing.tickets WHERE ticket_id = $1::uuid")
            .bind(&ticket)
            .fetch_one(&mut *billing)
            .await
            .expect("billing reads its inbox");
    assert_eq!(rows, 1);
    billing.release();
    let mut legal = readers
        .acquire(lae_projections::Department::Legal)
        .await
        .expect("legal's reader");
    let refused = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM billing.tickets")
        .fetch_one(&mut *legal)
        .await
        .expect_err("legal may not read billing's inbox");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("42501"),
        "{refused}"
    );

    // --- Billing works it in the browser.
    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");
    assert_eq!(login(&page, &app, "billing").await, 200);
    page.goto(&app.url("/desk/billing/tickets"))
        .await
        .expect("inbox");
    let rows = page.text("table tbody").await.expect("inbox rows");
    assert!(rows.contains("FONTAINE Océane"), "{rows}");
    assert!(rows.contains("Contestation d'un prélèvement"), "{rows}");
    assert!(rows.contains("Service client"), "{rows}");
    accessible(&page, "billing inbox").await;
    shoot(&page, "37-facturation-tickets-recus").await;
    let status = page
        .click_and_wait("table tbody a.button")
        .await
        .expect("ticket");
    assert_eq!(status, 200);
    assert!(
        page.text(".sensitive")
            .await
            .expect("note")
            .contains("Prélèvement en double")
    );
    // An empty action is refused beside its field.
    let status = page
        .click_and_wait("form[action$='/actions'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(page.text("#action-erreur").await.is_ok());
    page.fill(
        "#action",
        "Remboursement du second prélèvement demandé à la banque",
    )
    .await
    .expect("action");
    let status = page
        .click_and_wait("form[action$='/actions'] button[type=submit]")
        .await
        .expect("recorded");
    assert_eq!(status, 200);
    assert!(
        page.text("ol.history")
            .await
            .expect("history")
            .contains("Remboursement du second prélèvement")
    );
    accessible(&page, "billing ticket").await;
    shoot(&page, "38-facturation-ticket").await;

    // Routed on to sales: out of billing's inbox, texts and history gone from billing.
    page.eval("document.querySelector('#department').value = 'sales'")
        .await
        .expect("choose sales");
    page.fill("#note", "Client mécontent : proposer un geste commercial")
        .await
        .expect("note");
    let status = page
        .click_and_wait("form[action$='/routing'] button[type=submit]")
        .await
        .expect("routed");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Ticket transmis")
    );
    assert!(
        page.text("main")
            .await
            .expect("inbox")
            .contains("Aucun ticket en attente")
    );
    let left: (bool, Option<String>, Option<String>, i64) = sqlx::query_as(
        "SELECT held, reason, left_as, \
                (SELECT count(*) FROM billing.ticket_history WHERE ticket_id = $1) \
           FROM billing.tickets WHERE ticket_id = $1",
    )
    .bind(uuid::Uuid::parse_str(&ticket).expect("uuid"))
    .fetch_one(&app.pool)
    .await
    .expect("billing's row");
    assert_eq!(left, (false, None, Some("routed".to_owned()), 0));

    // --- Sales has it, from billing, with billing's note; sales resolves it.
    let inbox = eventually(&app, "/api/v1/sales/tickets", "sales", |b| {
        b["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    assert_eq!(inbox["items"][0]["routed_from"], "billing");
    assert_eq!(
        inbox["items"][0]["reason"],
        "Contestation d'un prélèvement de novembre"
    );
    assert_eq!(
        inbox["items"][0]["routing_note"],
        "Client mécontent : proposer un geste commercial"
    );
    let (_, view) = app
        .get(&format!("/api/v1/sales/tickets/{ticket}"), "sales")
        .await;
    assert_eq!(
        view["history"],
        json!([]),
        "billing's actions stay billing's"
    );
    let (status, problem) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/actions"),
            "billing",
            json!({"action": "Encore là ?"}),
        )
        .await;
    assert_eq!(status, 404, "billing no longer holds it: {problem}");
    let (status, resolved) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/resolution"),
            "sales",
            json!({"resolution": "Geste commercial accordé : un mois de prime offert"}),
        )
        .await;
    assert_eq!(status, 202, "{resolved}");
    eventually(&app, "/api/v1/sales/tickets", "sales", |b| {
        b["items"].as_array().is_some_and(|i| i.is_empty())
    })
    .await;
    let (_, gone) = app
        .get(&format!("/api/v1/sales/tickets/{ticket}"), "sales")
        .await;
    assert_eq!(gone["code"], "ticket_not_in_inbox");
    // Customer service's full queue shows it resolved.
    eventually(
        &app,
        &format!("/api/v1/customer-service/customers/{customer}/tickets"),
        "customer_service",
        |b| b["items"][0]["status"] == "resolved",
    )
    .await;
}

#[tokio::test]
async fn an_unidentified_caller_is_found_and_the_ticket_joins_their_card() {
    let app = TestApp::spawn_with_pipeline("web_id").await;
    let customer = register(
        &app,
        "Rousseau",
        "Émile",
        "+33655667788",
        "emile@exemple.fr",
    )
    .await;
    let (status, opened) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "mail", "reason": "Demande de documentation sans référence client"}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let ticket = opened["id"].as_str().expect("ticket id").to_owned();
    let queue = eventually(
        &app,
        "/api/v1/customer-service/tickets?to_identify=true",
        "customer_service",
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    assert_eq!(queue["items"][0]["id"], ticket.as_str());
    assert_eq!(queue["items"][0]["customer_id"], json!(null));

    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");
    assert_eq!(login(&page, &app, "customer-service").await, 200);
    page.goto(&app.url("/desk/customer-service/tickets?to_identify=true"))
        .await
        .expect("queue");
    let status = page
        .click_and_wait("table tbody a.tag")
        .await
        .expect("identification page");
    assert_eq!(status, 200);
    assert!(
        page.text("h1")
            .await
            .expect("title")
            .contains("Demande de documentation")
    );
    page.fill("#q", "rousseau").await.expect("type");
    let status = page
        .click_and_wait("form[role=search] button[type=submit]")
        .await
        .expect("searched");
    assert_eq!(status, 200);
    assert!(
        page.text("ul.results")
            .await
            .expect("results")
            .contains("ROUSSEAU Émile")
    );
    accessible(&page, "identification").await;
    shoot(&page, "08-identifier-appelant").await;
    let status = page
        .click_and_wait("ul.results button[type=submit]")
        .await
        .expect("linked");
    assert_eq!(status, 200);
    assert!(
        page.url()
            .await
            .expect("url")
            .contains(&format!("/desk/customer-service/customers/{customer}"))
    );
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Ticket rattaché")
    );
    assert!(
        page.text("main")
            .await
            .expect("card")
            .contains("Demande de documentation sans référence client")
    );
    accessible(&page, "card after identification").await;

    // Out of the "to identify" queue; a second identification is refused.
    eventually(
        &app,
        "/api/v1/customer-service/tickets?to_identify=true",
        "customer_service",
        |b| b["items"].as_array().is_some_and(Vec::is_empty),
    )
    .await;
    let (status, problem) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/identification"),
            "customer_service",
            json!({"customer_id": customer}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "caller_already_identified");
}
