//! The billing desk in a real headless Chromium, against the real application with
//! its relay and projectors: an IBAN refused as it is typed (server-side check, French
//! message naming what is wrong) and on submit (the input kept), then a valid one,
//! shown masked; the reveal asks for a purpose and is written to the access log. A
//! signed contract is in the "to invoice" list until billing issues its invoice; the
//! invoice goes to the unpaid list, its rejection to the rejected list, its payment
//! out of both. The lists' sort and keyset pages are checked over the JSON API.
//!
//! `LAE_SCREENSHOTS=docs/screens` also writes a PNG of every screen.

mod common;

use base64::Engine as _;
use common::TestApp;
use common::web::{accessible, eventually, login, register, shoot};
use lae_browser::Browser;
use serde_json::{Value, json};

const IBAN: &str = "FR76 3000 6000 0112 3456 7890 189";

async fn access_log(app: &TestApp, customer: &str) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT what, purpose FROM audit.access_log WHERE customer_id = $1 ORDER BY id",
    )
    .bind(customer)
    .fetch_all(&app.pool)
    .await
    .expect("access log")
}

#[tokio::test]
async fn billing_checks_the_iban_reveals_it_for_a_purpose_and_follows_an_invoice() {
    let app = TestApp::spawn_configured("web_bi", true, |settings| {
        settings.sepa_creditor = Some(
            lae_api::billing_cycle::SepaCreditor::new(
                "LAE Assurances & Prévoyance".to_owned(),
                "FR14 2004 1010 0505 0001 3M02 606",
                "PSSTFRPPXXX".to_owned(),
                "FR12ZZZ123456".to_owned(),
            )
            .expect("creditor"),
        );
    })
    .await;
    let customer = register(
        &app,
        "Lemaître",
        "Hélène",
        "+33622334455",
        "helene@exemple.fr",
    )
    .await;
    let contract = app
        .signed_contract(&customer, "Prévoyance Sérénité", 3990)
        .await;
    eventually(
        &app,
        "/api/v1/billing/contracts/uninvoiced",
        "billing",
        |b| {
            b["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|k| k["id"] == contract.as_str()))
        },
    )
    .await;

    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");

    // --- The signed contract waits in the list of contracts to invoice.
    assert_eq!(login(&page, &app, "billing").await, 200);
    assert!(page.url().await.expect("url").ends_with("/desk/billing"));
    accessible(&page, "billing search").await;
    page.goto(&app.url("/desk/billing/uninvoiced"))
        .await
        .expect("uninvoiced");
    let listed = page.text("table tbody").await.expect("list");
    assert!(listed.contains("LEMAÎTRE Hélène"), "{listed}");
    assert!(listed.contains("Prévoyance Sérénité"), "{listed}");
    assert!(listed.contains("Aucun mandat"), "{listed}");
    accessible(&page, "contracts to invoice").await;
    shoot(&page, "30-facturation-contrats-a-facturer").await;

    // --- The customer, found typed without accents.
    page.goto(&app.url("/desk/billing")).await.expect("home");
    page.fill("#q", "lemaitre").await.expect("type");
    page.wait_until("document.querySelectorAll('#resultats a.result').length === 1")
        .await
        .expect("one result");
    let status = page
        .click_and_wait("#resultats a.result")
        .await
        .expect("customer");
    assert_eq!(status, 200);
    assert!(
        page.text("#mandat-titre + p")
            .await
            .expect("no mandate")
            .contains("Aucun mandat")
    );

    // --- An IBAN with a typing mistake: refused as it is typed...
    page.fill("#iban", "FR76 3000 6000 0112 3456 7890 188")
        .await
        .expect("type the IBAN");
    page.wait_until("document.querySelector('#iban-etat').textContent.includes('clé de contrôle')")
        .await
        .expect("the live check names the check digits");
    page.fill("#mandate_reference", "LAE-MANDAT-0001")
        .await
        .expect("reference");
    accessible(&page, "iban refused live").await;
    shoot(&page, "31-facturation-iban-refuse").await;
    // ... and on submit, the input kept beside the French message.
    let status = page
        .click_and_wait("form[action$='/mandate'] button[type=submit]")
        .await
        .expect("submitted");
    assert_eq!(status, 422);
    assert_eq!(
        page.value("#iban").await.expect("kept"),
        "FR76 3000 6000 0112 3456 7890 188"
    );
    assert_eq!(
        page.value("#mandate_reference").await.expect("kept"),
        "LAE-MANDAT-0001"
    );
    assert!(
        page.text("#iban-etat")
            .await
            .expect("message")
            .contains("la clé de contrôle ne correspond pas")
    );
    // An incomplete one says how much is missing.
    page.fill("#iban", "FR76 3000 6000").await.expect("type");
    page.wait_until("document.querySelector('#iban-etat').textContent.includes('incomplet')")
        .await
        .expect("incomplete");
    assert!(
        page.text("#iban-etat")
            .await
            .expect("message")
            .contains("12 caractères sur les 27")
    );

    // --- The right IBAN: valid as typed, then recorded and shown masked.
    page.fill("#iban", IBAN).await.expect("type");
    page.wait_until("document.querySelector('#iban-etat').textContent.includes('IBAN valide')")
        .await
        .expect("valid");
    let status = page
        .click_and_wait("form[action$='/mandate'] button[type=submit]")
        .await
        .expect("signed");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Mandat de prélèvement enregistré")
    );
    assert_eq!(
        page.text("dd.iban").await.expect("iban"),
        "FR76 **** **** **** **** ***0 189"
    );
    let html = page
        .eval("document.documentElement.outerHTML")
        .await
        .expect("html");
    assert!(
        !html.as_str().unwrap_or_default().contains("3456 7890"),
        "the full IBAN is nowhere on the page"
    );
    accessible(&page, "mandate masked").await;
    shoot(&page, "32-facturation-mandat-masque").await;

    // --- The reveal: refused without a purpose, logged with one.
    let status = page
        .click_and_wait("form[action$='/consultation'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(
        page.text("#purpose-erreur")
            .await
            .expect("error")
            .contains("motif")
    );
    assert!(access_log(&app, &customer).await.is_empty());
    page.fill("#purpose", "Vérification avec le client au téléphone")
        .await
        .expect("purpose");
    let status = page
        .click_and_wait("form[action$='/consultation'] button[type=submit]")
        .await
        .expect("revealed");
    assert_eq!(status, 200);
    assert!(page.text("dd.iban").await.expect("iban").contains(IBAN));
    assert_eq!(
        access_log(&app, &customer).await,
        [(
            "iban".to_owned(),
            "Vérification avec le client au téléphone".to_owned()
        )]
    );
    accessible(&page, "iban revealed").await;
    shoot(&page, "33-facturation-iban-affiche").await;

    // --- An invoice for the contract: refused without a number (input kept), issued.
    page.goto(&app.url(&format!("/desk/billing/customers/{customer}")))
        .await
        .expect("customer");
    assert_eq!(
        page.value("#contract").await.expect("contract chosen"),
        contract,
        "the contract never invoiced is proposed"
    );
    assert_eq!(page.value("#amount").await.expect("amount"), "39,90");
    page.fill("#amount", "39,9O").await.expect("amount");
    let status = page
        .click_and_wait("form[action$='/invoices'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(page.text("#number-erreur").await.is_ok());
    assert!(page.text("#amount-erreur").await.is_ok());
    assert_eq!(page.value("#amount").await.expect("kept"), "39,9O");
    accessible(&page, "invoice refused").await;
    page.fill("#number", "FAC-2026-00042")
        .await
        .expect("number");
    page.fill("#amount", "39,90").await.expect("amount");
    let status = page
        .click_and_wait("form[action$='/invoices'] button[type=submit]")
        .await
        .expect("issued");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Facture émise")
    );
    let invoices = page
        .text("#factures-titre + table")
        .await
        .expect("invoices");
    assert!(invoices.contains("FAC-2026-00042"), "{invoices}");
    assert!(invoices.contains("À payer"), "{invoices}");
    assert!(invoices.contains("39,90"), "{invoices}");

    // Out of the list of contracts to invoice, into the unpaid invoices.
    page.goto(&app.url("/desk/billing/uninvoiced"))
        .await
        .expect("uninvoiced");
    assert!(
        page.text("main")
            .await
            .expect("list")
            .contains("Tous les contrats signés ont au moins une facture")
    );
    page.goto(&app.url("/desk/billing/unpaid"))
        .await
        .expect("unpaid");
    assert!(
        page.text("table tbody")
            .await
            .expect("unpaid")
            .contains("FAC-2026-00042")
    );
    accessible(&page, "unpaid list").await;
    shoot(&page, "34-facturation-impayes").await;

    // --- The bank rejects the debit: the rejection, with its reason, then the payment.
    page.goto(&app.url(&format!("/desk/billing/customers/{customer}")))
        .await
        .expect("customer");
    page.click("#factures-titre + table tr.sub summary")
        .await
        .expect("open the history");
    page.fill("input[id^='reason-']", "AM04 : provision insuffisante")
        .await
        .expect("reason");
    let status = page
        .click_and_wait("form[action$='/payment-rejection'] button[type=submit]")
        .await
        .expect("rejected");
    assert_eq!(status, 200);
    assert!(
        page.text("#factures-titre + table")
            .await
            .expect("invoices")
            .contains("Prélèvement rejeté")
    );
    page.goto(&app.url("/desk/billing/rejected"))
        .await
        .expect("rejected");
    let rejected = page.text("table tbody").await.expect("rejected");
    assert!(rejected.contains("FAC-2026-00042"), "{rejected}");
    assert!(rejected.contains("AM04"), "{rejected}");
    accessible(&page, "rejected list").await;
    shoot(&page, "35-facturation-prelevements-rejetes").await;

    page.goto(&app.url(&format!("/desk/billing/customers/{customer}")))
        .await
        .expect("customer");
    page.click("#factures-titre + table tr.sub summary")
        .await
        .expect("open the history");
    // A payment of another amount is refused, in French, and changes nothing.
    page.fill("input[id^='paid-amount-']", "10,00")
        .await
        .expect("amount");
    let status = page
        .click_and_wait("form[action$='/payment'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(
        page.text(".alert")
            .await
            .expect("alert")
            .contains("ne correspond pas")
    );
    page.click("#factures-titre + table tr.sub summary")
        .await
        .expect("open the history");
    let status = page
        .click_and_wait("form[action$='/payment'] button[type=submit]")
        .await
        .expect("paid");
    assert_eq!(status, 200);
    assert!(
        page.text("#factures-titre + table")
            .await
            .expect("invoices")
            .contains("Payée")
    );
    page.click("#factures-titre + table tr.sub summary")
        .await
        .expect("open the history");
    let history = page.text("ol.history").await.expect("history");
    assert!(history.contains("Émission"), "{history}");
    assert!(history.contains("Rejet du prélèvement"), "{history}");
    assert!(history.contains("Paiement"), "{history}");
    accessible(&page, "invoice paid").await;
    shoot(&page, "36-facturation-fiche-client").await;
    page.goto(&app.url("/desk/billing/rejected"))
        .await
        .expect("rejected");
    assert!(
        page.text("main")
            .await
            .expect("list")
            .contains("Aucun prélèvement rejeté")
    );

    // --- The month's SEPA collection, from its page: the signed contract is invoiced
    // and its debit is in the file offered for download.
    page.goto(&app.url("/desk/billing/collections"))
        .await
        .expect("collections");
    accessible(&page, "SEPA collection form").await;
    let status = page
        .click_and_wait("form[action='/desk/billing/collections'] button[type=submit]")
        .await
        .expect("collect");
    assert_eq!(status, 200);
    let summary = page.text("[role=status]").await.expect("summary");
    assert!(summary.contains("Contrats en vigueur : 1"), "{summary}");
    assert!(
        summary.contains("Factures émises par cette collecte : 1"),
        "{summary}"
    );
    accessible(&page, "SEPA collection done").await;
    shoot(&page, "39-facturation-prelevements-sepa").await;
}

/// Issues an invoice over the API: its id.
async fn invoice(app: &TestApp, customer: &str, number: &str, amount: i64, due: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/invoices",
            "billing",
            json!({"customer_id": customer, "number": number, "amount": amount,
                   "issued_on": "2026-11-01", "due_on": due}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("invoice id").to_owned()
}

fn numbers(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["number"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn billing_lists_sort_both_ways_and_page_with_sealed_cursors() {
    let app = TestApp::spawn_with_pipeline("bi_lists").await;
    let a = app.register_customer("Arnaud").await;
    let b = app.register_customer("Bénard").await;
    invoice(&app, &a, "F-1", 5000, "2026-12-15").await;
    invoice(&app, &b, "F-2", 1000, "2026-12-01").await;
    invoice(&app, &a, "F-3", 3000, "2026-12-10").await;
    let rejected = invoice(&app, &b, "F-4", 2000, "2026-11-20").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/invoices/{rejected}/payment-rejection"),
            "billing",
            json!({"on": "2026-11-21", "reason": "AM04"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let unpaid = eventually(&app, "/api/v1/billing/invoices/unpaid", "billing", |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 3)
    })
    .await;
    // By due date, oldest first: the default.
    assert_eq!(numbers(&unpaid), ["F-2", "F-3", "F-1"]);
    assert_eq!(unpaid["sort"], "due_on");
    assert_eq!(unpaid["order"], "asc");
    assert_eq!(unpaid["items"][0]["last_name"], "Bénard");
    let (_, by_amount) = app
        .get(
            "/api/v1/billing/invoices/unpaid?sort=amount&order=desc",
            "billing",
        )
        .await;
    assert_eq!(numbers(&by_amount), ["F-1", "F-3", "F-2"]);

    // A page at a time: the cursors chain to the same rows, nothing twice.
    let mut seen = Vec::new();
    let mut path = "/api/v1/billing/invoices/unpaid?sort=amount&order=asc&limit=1".to_owned();
    loop {
        let (status, page) = app.get(&path, "billing").await;
        assert_eq!(status, 200, "{page}");
        seen.extend(numbers(&page));
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        // Opaque: no invoice number in it, as text or once decoded. ("F-" alone is
        // two characters of the base64url alphabet: a sealed cursor shows them by
        // chance in about one run in seventy.)
        assert!(
            ["F-1", "F-2", "F-3"].iter().all(|n| !cursor.contains(n)),
            "the cursor is opaque: {cursor}"
        );
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .expect("base64url");
        assert!(
            !sealed.windows(2).any(|w| w == b"F-"),
            "the cursor is sealed: {cursor}"
        );
        path = format!(
            "/api/v1/billing/invoices/unpaid?sort=amount&order=asc&limit=1&cursor={cursor}"
        );
    }
    assert_eq!(seen, ["F-2", "F-3", "F-1"]);

    // A cursor is valid for its own list, key and direction only.
    let (_, first) = app
        .get("/api/v1/billing/invoices/unpaid?limit=1", "billing")
        .await;
    let cursor = first["next_cursor"].as_str().expect("a next page");
    for other in [
        format!("/api/v1/billing/invoices/unpaid?sort=amount&cursor={cursor}"),
        format!("/api/v1/billing/invoices/unpaid?order=desc&cursor={cursor}"),
        format!("/api/v1/billing/invoices/rejected?cursor={cursor}"),
    ] {
        let (status, problem) = app.get(&other, "billing").await;
        assert_eq!(status, 400, "{other}: {problem}");
        assert_eq!(problem["code"], "invalid_cursor", "{problem}");
    }
    let (status, problem) = app
        .get("/api/v1/billing/invoices/unpaid?sort=name", "billing")
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "sort", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("due_on ou amount"),
        "{problem}"
    );

    let rejected_list = eventually(&app, "/api/v1/billing/invoices/rejected", "billing", |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;
    assert_eq!(numbers(&rejected_list), ["F-4"]);
    assert_eq!(rejected_list["items"][0]["rejection_reason"], "AM04");
    assert_eq!(rejected_list["order"], "desc");

    // Contracts: the one invoiced leaves the list; the other stays, sortable by premium.
    let first = app.signed_contract(&a, "Vie Horizon", 4990).await;
    let second = app.signed_contract(&b, "Prévoyance", 1990).await;
    let both = eventually(
        &app,
        "/api/v1/billing/contracts/uninvoiced?sort=premium",
        "billing",
        |b| b["items"].as_array().is_some_and(|i| i.len() == 2),
    )
    .await;
    assert_eq!(both["items"][0]["id"], second.as_str());
    assert_eq!(both["items"][0]["monthly_premium_cents"], 1990);
    let (status, body) = app
        .post(
            "/api/v1/invoices",
            "billing",
            json!({"customer_id": a, "contract_id": first, "number": "F-5", "amount": 4990,
                   "issued_on": "2026-11-02", "due_on": "2026-12-02"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let left = eventually(
        &app,
        "/api/v1/billing/contracts/uninvoiced",
        "billing",
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    assert_eq!(left["items"][0]["id"], second.as_str());
    let (_, contracts) = app
        .get(
            &format!("/api/v1/billing/customers/{a}/contracts"),
            "billing",
        )
        .await;
    assert_eq!(contracts["items"][0]["first_invoiced_on"], "2026-11-02");

    // Other roles are refused billing's lists.
    let (status, _) = app.get("/api/v1/billing/invoices/unpaid", "sales").await;
    assert_eq!(status, 403);
}
