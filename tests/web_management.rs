//! The management desk and `GET /api/v1/management/kpis`: the plan's indicators per
//! period from the events (offers declined ÷ proposed, churn, payment rejections ÷
//! invoices, tickets handled), as JSON, CSV and a dashboard of server-drawn charts in a
//! real headless Chromium; nothing personal on it.
//!
//! `LAE_SCREENSHOTS=docs/screens` also writes a PNG of every screen.

mod common;

use base64::Engine;
use chrono::Utc;
use common::TestApp;
use common::web::{accessible, eventually, login, register, shoot};
use lae_browser::Browser;
use serde_json::json;

async fn offer(app: &TestApp, customer: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/offers",
            "sales",
            json!({"customer_id": customer, "product": "Vie Horizon", "monthly_premium": 4990}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("offer id").to_owned()
}

#[tokio::test]
async fn management_sees_the_indicators_of_the_period_as_charts_tables_and_csv() {
    let app = TestApp::spawn_with_pipeline("web_mg").await;
    let a = register(
        &app,
        "Zébulon",
        "Marthe",
        "+33644556677",
        "marthe@exemple.fr",
    )
    .await;
    let b = app.register_customer("Quentin").await;
    // Two offers, one declined; the other accepted, signed, then terminated.
    let declined = offer(&app, &a).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/offers/{declined}/decline"),
            "sales",
            json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let accepted = offer(&app, &b).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/offers/{accepted}/acceptance"),
            "sales",
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let contract = body["contract_id"].as_str().expect("contract").to_owned();
    app.wait_for_event(&contract, "ContractRequested").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/contracts/{contract}/signature"),
            "legal",
            json!({"reference": "CT-MG-1", "document": {"name": "c.pdf",
                   "content_base64": base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4\n%%EOF\n")}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/contracts/{contract}/termination"),
            "legal",
            json!({"reason": "Rachat total"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // Two invoices, one payment rejected; a ticket opened and resolved.
    let today = Utc::now().date_naive();
    let due = (today + chrono::Duration::days(30)).to_string();
    let mut invoices = Vec::new();
    for number in ["F-MG-1", "F-MG-2"] {
        let (status, body) = app
            .post(
                "/api/v1/invoices",
                "billing",
                json!({"customer_id": b, "number": number, "amount": 4990, "due_on": due}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        invoices.push(body["id"].as_str().expect("invoice").to_owned());
    }
    let (status, _) = app
        .post(
            &format!("/api/v1/invoices/{}/payment-rejection", invoices[0]),
            "billing",
            json!({"reason": "AM04"}),
        )
        .await;
    assert_eq!(status, 202);
    let (status, ticket) = app
        .post(
            "/api/v1/tickets",
            "customer_service",
            json!({"channel": "phone", "reason": "Question", "customer_id": a}),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    let ticket = ticket["id"].as_str().expect("ticket").to_owned();
    let (status, _) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/resolution"),
            "customer_service",
            json!({"resolution": "Répondu"}),
        )
        .await;
    assert_eq!(status, 202);
    let (status, body) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/satisfaction"),
            "customer_service",
            json!({"score": "good"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");

    // Today, by day: every figure of the period, from the events.
    let path = format!("/api/v1/management/kpis?from={today}&to={today}&granularity=day");
    let kpis = eventually(&app, &path, "management", |k| {
        k["series"][0]["tickets_resolved"] == 1
            && k["series"][0]["satisfaction_good"] == 1
            && k["series"][0]["tickets_opened"] == 4
            && k["series"][0]["payment_rejections"] == 1
    })
    .await;
    let day = &kpis["series"][0];
    assert_eq!(kpis["series"].as_array().map(Vec::len), Some(1));
    assert_eq!(day["start"], today.to_string());
    assert_eq!(day["offers_proposed"], 2);
    assert_eq!(day["offers_declined"], 1);
    assert_eq!(day["offer_decline_rate"], 0.5);
    assert_eq!(day["contracts_signed"], 1);
    assert_eq!(day["contracts_terminated"], 1);
    assert_eq!(day["contracts_in_force_at_start"], 0);
    assert_eq!(
        day["churn_rate"],
        json!(null),
        "nothing was in force at the start"
    );
    assert_eq!(day["invoices_issued"], 2);
    assert_eq!(day["payment_rejection_rate"], 0.5);
    // The customer's ticket, and the three notices the reactors opened for sales (the
    // signature, the rejected payment, the termination): the counter counts every
    // `TicketOpened`, the platform's included.
    assert_eq!(day["tickets_opened"], 4);
    assert!(!kpis.to_string().contains("Zébulon"));
    // Tomorrow's churn counts today's contracts in force (none left: terminated).
    let tomorrow = today + chrono::Duration::days(1);
    let (_, next) = app
        .get(
            &format!("/api/v1/management/kpis?from={tomorrow}&to={tomorrow}&granularity=day"),
            "management",
        )
        .await;
    assert_eq!(next["series"][0]["contracts_in_force_at_start"], 0);
    assert_eq!(next["series"][0]["offers_proposed"], 0);

    // CSV, by the same route.
    let response = app
        .client
        .get(app.url(&path))
        .bearer_auth(app.token("management"))
        .header("accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let csv = response.text().await.expect("body");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("start,end,customers_registered,offers_proposed"));
    assert!(
        lines[1].starts_with(&format!("{today},{today},2,2,1,0.500000")),
        "{csv}"
    );

    // A period the wrong way round is a 400 naming `from`.
    let (status, problem) = app
        .get(
            &format!("/api/v1/management/kpis?from={tomorrow}&to={today}"),
            "management",
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "from");
    let (status, _) = app.get("/api/v1/management/kpis", "sales").await;
    assert_eq!(status, 403);

    // --- The dashboard: management's landing page.
    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");
    assert_eq!(login(&page, &app, "management").await, 200);
    assert!(page.url().await.expect("url").ends_with("/desk/management"));
    assert_eq!(
        page.eval("document.querySelectorAll('svg.chart').length")
            .await
            .expect("charts"),
        11,
        "satisfaction 2, churn 3, productivity 5, incidents 1"
    );
    page.goto(&app.url(&format!(
        "/desk/management?from={today}&to={today}&granularity=day"
    )))
    .await
    .expect("today");
    assert_eq!(
        page.text("#offres-titre .headline")
            .await
            .expect("headline"),
        "50,0 %"
    );
    assert_eq!(
        page.text("#rejets-titre .headline")
            .await
            .expect("headline"),
        "50,0 %"
    );
    assert_eq!(
        page.text("#csat-titre .headline").await.expect("headline"),
        "100,0 %",
        "the one rating of the day: satisfied"
    );
    assert_eq!(
        page.text("#premier-contact-titre .headline")
            .await
            .expect("headline"),
        "100,0 %"
    );
    assert!(!page.text("main").await.expect("main").contains("Zébulon"));
    accessible(&page, "management dashboard").await;
    page.goto(&app.url("/desk/management?granularity=month"))
        .await
        .expect("months");
    accessible(&page, "management dashboard, months").await;
    shoot(&page, "50-direction-indicateurs").await;
    // A bad date is said in French, the period kept.
    let status = page
        .goto(&app.url(&format!("/desk/management?from={tomorrow}&to={today}")))
        .await
        .expect("refused");
    assert_eq!(status, 400);
    assert!(
        page.text(".alert")
            .await
            .expect("alert")
            .contains("date de début")
    );
    assert_eq!(
        page.value("#from").await.expect("kept"),
        tomorrow.to_string()
    );
}
