//! The sales and legal desks in a real headless Chromium, against the real
//! application with its relay and projectors: sales sets a profile, proposes an
//! offer and records its acceptance; legal's queue shows the contract request;
//! legal uploads the signed PDF and signs; sales then sees the contract signed.
//! The health declaration is recorded and read with a purpose, and the read is in
//! the access log. Each role is refused the other desks.
//!
//! `LAE_SCREENSHOTS=docs/screens` also writes a PNG of every screen.

mod common;

use common::TestApp;
use common::web::{
    accessible, cookie_session, eventually, form_token, login, page_eventually, register, shoot,
};
use lae_browser::Browser;

/// A small but well-formed PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n\
trailer << /Root 1 0 R >>\n%%EOF\n";

#[tokio::test]
async fn sales_offers_legal_signs_and_sales_sees_the_contract_signed() {
    let app = TestApp::spawn_with_pipeline("web_ls").await;
    let customer = register(
        &app,
        "Lefèvre",
        "Amélie",
        "+33611223344",
        "amelie@exemple.fr",
    )
    .await;
    eventually(
        &app,
        &format!("/api/v1/sales/customers/{customer}"),
        "sales",
        |_| true,
    )
    .await;
    eventually(
        &app,
        &format!("/api/v1/legal/customers/{customer}"),
        "legal",
        |_| true,
    )
    .await;

    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");

    // --- Sales: finds the customer typed without accent.
    assert_eq!(login(&page, &app, "sales").await, 200);
    assert!(page.url().await.expect("url").ends_with("/desk/sales"));
    accessible(&page, "sales search").await;
    page.fill("#q", "lefevre").await.expect("type");
    page.wait_until("document.querySelectorAll('#resultats a.result').length === 1")
        .await
        .expect("one result");
    shoot(&page, "20-commercial-recherche").await;
    let status = page
        .click_and_wait("#resultats a.result")
        .await
        .expect("card");
    assert_eq!(status, 200);
    assert!(page.url().await.expect("url").contains(&customer));
    accessible(&page, "sales customer").await;

    // The profile form.
    page.eval("document.querySelector('#age_band').value = '36-45'; document.querySelector('#sex').value = 'female'")
        .await
        .expect("choose");
    page.fill("#profession", "Infirmière").await.expect("type");
    let status = page
        .click_and_wait("form[action$='/profile'] button[type=submit]")
        .await
        .expect("saved");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Profil commercial enregistré")
    );
    let profile = eventually(
        &app,
        &format!("/api/v1/sales/customers/{customer}"),
        "sales",
        |b| !b["profile"].is_null(),
    )
    .await;
    assert_eq!(profile["profile"]["age_band"], "36-45");
    assert_eq!(profile["profile"]["profession"], "Infirmière");
    assert_eq!(profile["has_unpaid_invoices"], false);

    // A premium that is not an amount is refused beside its field, the product kept.
    let events_before = app.event_count().await;
    page.fill("#product", "Assurance vie Horizon")
        .await
        .expect("type");
    page.fill("#premium", "quarante").await.expect("type");
    let status = page
        .click_and_wait("form[action$='/offers'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert_eq!(
        page.value("#product").await.expect("kept"),
        "Assurance vie Horizon"
    );
    let message = page.text("#premium-erreur").await.expect("message");
    assert!(!message.is_empty(), "a French message beside the premium");
    assert_eq!(
        app.event_count().await,
        events_before,
        "a refused offer wrote events"
    );
    accessible(&page, "refused offer").await;
    shoot(&page, "22-commercial-offre-refusee").await;

    // A valid offer, then the customer's acceptance.
    page.fill("#premium", "49,90").await.expect("type");
    let status = page
        .click_and_wait("form[action$='/offers'] button[type=submit]")
        .await
        .expect("proposed");
    assert_eq!(status, 200);
    let offers = page.text("#offres-titre + table").await.expect("offers");
    assert!(offers.contains("Assurance vie Horizon"), "{offers}");
    assert!(offers.contains("49,90"), "{offers}");
    assert!(offers.contains("Proposée"), "{offers}");
    shoot(&page, "21-commercial-fiche").await;
    let status = page
        .click_and_wait("form[action$='/acceptance'] button[type=submit]")
        .await
        .expect("accepted");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("transmise au juridique")
    );
    accessible(&page, "sales after acceptance").await;

    // --- Legal: the request is in the queue, oldest first.
    page.click_and_wait("form[action='/logout'] button")
        .await
        .expect("logged out");
    assert_eq!(login(&page, &app, "legal").await, 200);
    assert!(page.url().await.expect("url").ends_with("/desk/legal"));
    let queued = eventually(&app, "/api/v1/legal/contracts/requested", "legal", |b| {
        b["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    assert_eq!(queued["items"][0]["customer_id"], customer.as_str());
    assert_eq!(queued["items"][0]["monthly_premium_cents"], 4990);
    let contract = queued["items"][0]["id"]
        .as_str()
        .expect("contract id")
        .to_owned();
    page.goto(&app.url("/desk/legal")).await.expect("queue");
    let queue = page.text("#file-titre + table").await.expect("queue");
    assert!(queue.contains("LEFÈVRE Amélie"), "{queue}");
    assert!(queue.contains("Assurance vie Horizon"), "{queue}");
    accessible(&page, "legal queue").await;
    shoot(&page, "10-juridique-contrats-a-signer").await;

    // The contract's page; a file that is not a PDF is refused with a French message.
    let status = page
        .click_and_wait(&format!("a[href='/desk/legal/contracts/{contract}']"))
        .await
        .expect("contract");
    assert_eq!(status, 200);
    accessible(&page, "contract to sign").await;
    let dir = std::env::temp_dir().join(format!("lae-web-ls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let not_pdf = dir.join("scan.pdf");
    std::fs::write(&not_pdf, b"GIF89a not a pdf").expect("file");
    let pdf = dir.join("contrat-signe.pdf");
    std::fs::write(&pdf, PDF).expect("file");
    page.fill("#reference", "CT-2026-0042").await.expect("type");
    page.set_input_files("#document", &[&not_pdf])
        .await
        .expect("file chosen");
    page.wait_until("document.querySelector('.file-status').textContent.includes('scan.pdf')")
        .await
        .expect("the file is announced");
    let status = page
        .click_and_wait("form[action$='/signature'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    let message = page.text("#document-erreur").await.expect("message");
    assert!(message.contains("n'est pas un PDF"), "{message}");
    assert_eq!(
        page.value("#reference").await.expect("kept"),
        "CT-2026-0042"
    );
    accessible(&page, "refused signature").await;
    shoot(&page, "12-juridique-pdf-refuse").await;

    // The signed PDF: the contract is signed, the document viewable and downloadable.
    page.set_input_files("#document", &[&pdf])
        .await
        .expect("file chosen");
    shoot(&page, "11-juridique-contrat").await;
    let status = page
        .click_and_wait("form[action$='/signature'] button[type=submit]")
        .await
        .expect("signed");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Contrat signé")
    );
    let main = page.text("main").await.expect("main");
    assert!(main.contains("contrat-signe.pdf"), "{main}");
    assert!(main.contains("CT-2026-0042"), "{main}");
    accessible(&page, "signed contract").await;
    shoot(&page, "13-juridique-contrat-signe").await;
    // The PDF opens for a purpose only, written to the access log first.
    assert!(main.contains("Motif de la consultation"), "{main}");
    let (client, cookie) = cookie_session(&app, "legal").await;
    let contract_page = client
        .get(app.url(&format!("/desk/legal/contracts/{contract}")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("contract page");
    let token = form_token(&contract_page.text().await.expect("html"));
    let document_url = app.url(&format!("/desk/legal/contracts/{contract}/document"));
    let without_purpose = client
        .post(&document_url)
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("purpose", " "),
            ("download", "1"),
        ])
        .send()
        .await
        .expect("document");
    assert_eq!(without_purpose.status(), 400);
    assert!(
        without_purpose
            .text()
            .await
            .expect("html")
            .contains("journal des accès")
    );
    let document = client
        .post(&document_url)
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("purpose", "Contrôle de la signature"),
            ("download", "1"),
        ])
        .send()
        .await
        .expect("document");
    assert_eq!(document.status(), 200);
    let headers = document.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment; filename=\"contrat-CT-2026-0042.pdf\"")
    );
    let logged: Vec<(String, String)> = sqlx::query_as(
        "SELECT what, purpose FROM audit.access_log WHERE what = 'contract_document'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("access log");
    assert_eq!(
        logged,
        vec![(
            "contract_document".to_owned(),
            "Contrôle de la signature".to_owned()
        )]
    );
    assert_eq!(document.bytes().await.expect("bytes").as_ref(), PDF);

    // The health declaration: recorded, then read with a purpose, access-logged.
    page.goto(&app.url(&format!("/desk/legal/customers/{customer}")))
        .await
        .expect("customer");
    accessible(&page, "legal customer").await;
    page.click("input[name=tobacco][value=non_smoker]")
        .await
        .expect("tobacco");
    page.click("input[name=alcohol][value=occasional]")
        .await
        .expect("alcohol");
    page.fill("#illnesses", "Asthme").await.expect("type");
    let status = page
        .click_and_wait("form[action$='/health-declaration'] button[type=submit]")
        .await
        .expect("declared");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Déclaration de santé enregistrée")
    );
    let logged = |pool: sqlx::PgPool, customer: String| async move {
        sqlx::query_as::<_, (String, String)>(
            "SELECT what, purpose FROM audit.access_log \
             WHERE customer_id = $1 AND what = 'health' ORDER BY id",
        )
        .bind(customer)
        .fetch_all(&pool)
        .await
        .expect("access log")
    };
    let status = page
        .click_and_wait("form[action$='/consultation'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422, "a read without a purpose");
    assert!(
        page.text("#purpose-erreur")
            .await
            .expect("message")
            .contains("journal des accès")
    );
    assert!(logged(app.pool.clone(), customer.clone()).await.is_empty());
    accessible(&page, "purpose required").await;
    shoot(&page, "14-juridique-client").await;
    page.fill("#purpose", "Instruction de la demande de contrat")
        .await
        .expect("type");
    let status = page
        .click_and_wait("form[action$='/consultation'] button[type=submit]")
        .await
        .expect("read");
    assert_eq!(status, 200);
    let shown = page.text(".sensitive").await.expect("declaration");
    assert!(shown.contains("Non-fumeur"), "{shown}");
    assert!(shown.contains("Occasionnelle"), "{shown}");
    assert!(shown.contains("Asthme"), "{shown}");
    assert_eq!(
        logged(app.pool.clone(), customer.clone()).await,
        [(
            "health".to_owned(),
            "Instruction de la demande de contrat".to_owned()
        )]
    );
    accessible(&page, "declaration read").await;
    shoot(&page, "15-juridique-declaration-de-sante").await;

    // --- Sales sees the contract signed, once its read model has applied the
    // signature (the browser's logout revoked the sales API token, so the page
    // itself is polled).
    page.click_and_wait("form[action='/logout'] button")
        .await
        .expect("logged out");
    assert_eq!(login(&page, &app, "sales").await, 200);
    let contracts = page_eventually(
        &page,
        &app.url(&format!("/desk/sales/customers/{customer}")),
        "#contrats-titre + ul",
        |c| c.contains("Signé"),
    )
    .await;
    assert!(contracts.contains("Assurance vie Horizon"), "{contracts}");
    let offers = page.text("#offres-titre + table").await.expect("offers");
    assert!(offers.contains("Acceptée"), "{offers}");
    accessible(&page, "sales sees the contract signed").await;
    shoot(&page, "23-commercial-contrat-signe").await;

    // --- Sales is also told, in its inbox: the platform's notice of the signature.
    let inbox = page_eventually(&page, &app.url("/desk/sales/tickets"), "main", |i| {
        i.contains("signé le")
    })
    .await;
    assert!(inbox.contains("Interne (plateforme)"), "{inbox}");
    assert!(inbox.contains("Plateforme (automatique)"), "{inbox}");
    assert!(
        inbox.contains("Informer le département Vente : le contrat"),
        "{inbox}"
    );
    accessible(&page, "sales inbox with the platform's notice").await;
    shoot(&page, "24-commercial-information-contrat-signe").await;

    // --- Sales asks billing for a one-off invoice: a zero amount is refused beside
    // the field with what was typed kept, then the request goes through.
    page.goto(&app.url(&format!("/desk/sales/customers/{customer}")))
        .await
        .expect("customer");
    page.fill("#amount", "0").await.expect("type");
    page.fill("#label", "Frais de duplicata du certificat")
        .await
        .expect("type");
    assert_eq!(
        page.click_and_wait("form[action$='/invoice-requests'] button[type=submit]")
            .await
            .expect("refused"),
        422
    );
    let error = page.text("#amount-erreur").await.expect("amount error");
    assert!(error.contains("supérieur à zéro"), "{error}");
    assert_eq!(
        page.value("#label").await.expect("label"),
        "Frais de duplicata du certificat"
    );
    accessible(&page, "invoice request refused").await;
    shoot(&page, "25-commercial-demande-facture-refusee").await;
    page.fill("#amount", "25,00").await.expect("type");
    assert_eq!(
        page.click_and_wait("form[action$='/invoice-requests'] button[type=submit]")
            .await
            .expect("requested"),
        200
    );
    let notice = page.text("[role=status]").await.expect("notice");
    assert!(notice.contains("transmise à la facturation"), "{notice}");

    // --- Billing finds it in "Demandes de facture" and issues it; sales is told.
    page.click_and_wait("form[action='/logout'] button")
        .await
        .expect("logged out");
    assert_eq!(login(&page, &app, "billing").await, 200);
    let listed = page_eventually(
        &page,
        &app.url("/desk/billing/invoice-requests"),
        "main",
        |l| l.contains("Frais de duplicata du certificat"),
    )
    .await;
    assert!(listed.contains("25,00"), "{listed}");
    accessible(&page, "billing's invoice requests").await;
    shoot(&page, "43-facturation-demandes-de-facture").await;
    assert_eq!(
        page.click_and_wait("form[action$='/issue'] button[type=submit]")
            .await
            .expect("issued"),
        200
    );
    let notice = page.text("[role=status]").await.expect("notice");
    assert!(notice.contains("Facture émise"), "{notice}");
    // The only invoice of this customer: the one billing just issued.
    page_eventually(
        &page,
        &app.url(&format!("/desk/billing/customers/{customer}")),
        "main",
        |card| card.contains("25,00"),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn each_role_is_refused_the_other_desks() {
    let app = TestApp::spawn("web_ls_refused").await;
    let desks = [
        ("/desk/customer-service", "customer-service"),
        ("/desk/legal", "legal"),
        ("/desk/sales", "sales"),
        ("/desk/billing", "billing"),
        ("/desk/admin", "admin"),
        ("/desk/management", "management"),
        ("/desk/audit", "auditor"),
    ];
    for (_, user) in desks {
        let (client, cookie) = cookie_session(&app, user).await;
        for (desk, owner) in desks {
            let response = client
                .get(app.url(desk))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("desk");
            let status = response.status().as_u16();
            let body = response.text().await.expect("body");
            if owner == user {
                assert_eq!(status, 200, "{user} on {desk}");
            } else {
                assert_eq!(status, 403, "{user} on {desk}");
                assert!(body.contains("Accès refusé"), "{user} on {desk}: {body}");
            }
        }
    }
    // A legal page under another desk's session is refused too, and a sales form post.
    let (client, cookie) = cookie_session(&app, "sales").await;
    let refused = client
        .get(app.url("/desk/legal/contracts/00000000-0000-0000-0000-000000000000"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(refused.status(), 403);
    let (client, cookie) = cookie_session(&app, "legal").await;
    let refused = client
        .post(app.url("/desk/sales/search"))
        .header("cookie", &cookie)
        .form(&[("q", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 403);
}
