//! The desks in a real headless Chromium (Debian's `chromium`, driven over the DevTools
//! protocol by `lae-browser`), against the real application with its relay and
//! projectors: the customer service desk end to end, accessibility (axe-core), the
//! strict CSP, refusals as French pages, and bad input through the forms.
//!
//! `LAE_SCREENSHOTS=docs/screens` also writes a PNG of every screen (`scripts/screens`).

mod common;

use common::TestApp;
use common::web::{accessible, cookie_session, eventually, form_token, login, register, shoot};
use lae_browser::Browser;
use serde_json::{Value, json};

#[tokio::test]
async fn customer_service_finds_a_caller_edits_the_card_logs_a_call_and_routes_it_to_legal() {
    let app = TestApp::spawn_with_pipeline("web_cs").await;
    let zebulon = register(
        &app,
        "Zébulon",
        "Hélène",
        "+33612345678",
        "helene@exemple.fr",
    )
    .await;
    register(
        &app,
        "DUPONT",
        "Marc",
        "0798765432",
        "marc.dupont@exemple.fr",
    )
    .await;
    register(&app, "Zeller", "Anne", "0102030405", "anne@exemple.fr").await;

    // The JSON search matches the same way: `name=zeb` finds Zébulon.
    let (status, found) = app
        .send(
            reqwest::Method::GET,
            "/api/v1/customer-service/customers?name=zeb",
            "customer_service",
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["items"][0]["last_name"], "Zébulon");

    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");

    // Signed out, `/` is the login page; it passes the accessibility rules.
    assert_eq!(page.goto(&app.url("/")).await.expect("home"), 200);
    assert!(page.url().await.expect("url").ends_with("/login"));
    assert_eq!(
        page.eval("document.documentElement.lang")
            .await
            .expect("lang"),
        json!("fr")
    );
    accessible(&page, "login").await;
    shoot(&page, "01-connexion").await;

    // Logging in opens the customer service desk; the session cookie is HttpOnly.
    assert_eq!(login(&page, &app, "customer-service").await, 200);
    assert!(
        page.url()
            .await
            .expect("url")
            .ends_with("/desk/customer-service"),
        "{}",
        page.url().await.expect("url")
    );
    let cookies = page.eval("document.cookie").await.expect("cookies");
    assert!(!cookies.to_string().contains("lae_session"), "{cookies}");
    accessible(&page, "search page").await;

    // A name typed without accent or capital, results as the agent types (htmx).
    page.fill("#q", "zebulon").await.expect("type");
    page.wait_until("document.querySelectorAll('#resultats a.result').length === 1")
        .await
        .expect("one result as the agent types");
    let results = page.text("#resultats").await.expect("results");
    assert!(results.contains("ZÉBULON Hélène"), "{results}");
    assert!(results.contains("06 12 34 56 78"), "{results}");
    accessible(&page, "search results").await;
    shoot(&page, "02-recherche").await;

    // A prefix matches every name that starts with it, whatever the accents.
    page.fill("#q", "ze").await.expect("type");
    page.wait_until("document.querySelectorAll('#resultats a.result').length === 2")
        .await
        .expect("Zébulon and Zeller");
    page.fill("#q", "dupont").await.expect("type");
    page.wait_until("document.querySelector('#resultats').innerText.includes('DUPONT Marc')")
        .await
        .expect("DUPONT found by dupont");

    // A phone in another format; the keyboard goes down to the result and opens it.
    page.fill("#q", "06.12.34.56.78").await.expect("type");
    page.wait_until("document.querySelector('#resultats').innerText.includes('ZÉBULON')")
        .await
        .expect("found by phone");
    page.focus("#q").await.expect("focus");
    page.press("ArrowDown").await.expect("down");
    assert_eq!(
        page.eval("document.activeElement.classList.contains('result')")
            .await
            .expect("focus"),
        json!(true)
    );
    assert_eq!(
        page.with_navigation(page.press("Enter"))
            .await
            .expect("card"),
        200
    );
    assert!(page.url().await.expect("url").contains(&zebulon));
    accessible(&page, "customer card").await;
    shoot(&page, "03-fiche-client").await;

    // The e-mail changed in place reaches the card, and every department.
    page.click("details summary").await.expect("open the form");
    page.fill("#email", "helene.zebulon@exemple.fr")
        .await
        .expect("email");
    let status = page
        .click_and_wait("form[action$='/contact-details'] button[type=submit]")
        .await
        .expect("saved");
    assert_eq!(status, 200);
    let card = page.text("dl.card").await.expect("card");
    assert!(card.contains("helene.zebulon@exemple.fr"), "{card}");
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Coordonnées enregistrées")
    );
    eventually(
        &app,
        &format!("/api/v1/legal/customers/{zebulon}"),
        "legal",
        |b| b.to_string().contains("helene.zebulon@exemple.fr"),
    )
    .await;

    // A call in three actions: the reason, the actions taken, "transmettre au juridique".
    page.eval("document.querySelector('#reason').value = 'contract_question'")
        .await
        .expect("reason");
    page.fill("#action", "Garanties du contrat expliquées")
        .await
        .expect("action");
    let status = page
        .click_and_wait("button[value='route:legal']")
        .await
        .expect("logged");
    assert_eq!(status, 200);
    let history = page.text("#hist-titre + table").await.expect("history");
    assert!(history.contains("Question sur un contrat"), "{history}");
    assert!(history.contains("Juridique"), "{history}");
    accessible(&page, "card after a call").await;

    // The ticket is in the team's queue, filtered on legal.
    let status = page
        .goto(&app.url("/desk/customer-service/tickets?department=legal"))
        .await
        .expect("queue");
    assert_eq!(status, 200);
    let queue = page.text("table").await.expect("queue");
    assert!(queue.contains("ZÉBULON"), "{queue}");
    assert!(queue.contains("Question sur un contrat"), "{queue}");
    accessible(&page, "queue").await;
    shoot(&page, "04-file-des-tickets").await;
    let billing_only = page
        .goto(&app.url("/desk/customer-service/tickets?department=billing"))
        .await
        .expect("queue");
    assert_eq!(billing_only, 200);
    assert!(!page.text("main").await.expect("main").contains("ZÉBULON"));

    // The same ticket through the JSON API: routed to legal, one action, open.
    let tickets = eventually(
        &app,
        &format!("/api/v1/customer-service/customers/{zebulon}/tickets"),
        "customer_service",
        |b| b["items"].as_array().is_some_and(|t| !t.is_empty()),
    )
    .await;
    assert_eq!(tickets["items"][0]["department"], "legal");
    assert_eq!(tickets["items"][0]["actions"], 1);
    assert_eq!(tickets["items"][0]["status"], "open");
    // The reason's code travels with the event (management counts by it), its text sealed.
    let category: Option<String> = sqlx::query_scalar(
        "SELECT payload->>'category' FROM events WHERE event_type = 'TicketOpened' LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("opening");
    assert_eq!(category.as_deref(), Some("contract_question"));

    // A second call, answered and closed at once; then the customer says they are
    // satisfied: one click, shown in the ticket's history, and the buttons are gone.
    page.goto(&app.url(&format!("/desk/customer-service/customers/{zebulon}")))
        .await
        .expect("card");
    page.eval("document.querySelector('#reason').value = 'invoice_question'")
        .await
        .expect("reason");
    let status = page
        .click_and_wait("button[value='resolve']")
        .await
        .expect("closed");
    assert_eq!(status, 200);
    let status = page
        .click_and_wait("form[action$='/satisfaction'] button[value='good']")
        .await
        .expect("rated");
    assert_eq!(status, 200);
    assert!(
        page.text("main")
            .await
            .expect("main")
            .contains("Satisfaction du client enregistrée"),
        "notice"
    );
    let history = page
        .eval("document.querySelector('#hist-titre + table').textContent")
        .await
        .expect("history");
    assert!(
        history
            .as_str()
            .is_some_and(|h| h.contains("client satisfait")),
        "{history}"
    );
    assert_eq!(
        page.eval("document.querySelectorAll(\"form[action$='/satisfaction']\").length")
            .await
            .expect("forms"),
        0,
        "rated once"
    );
    accessible(&page, "card after a rating").await;

    // A new caller: bad input is refused beside its field, kept, and writes nothing.
    assert_eq!(
        page.goto(&app.url("/desk/customer-service/customers/new"))
            .await
            .expect("form"),
        200
    );
    accessible(&page, "registration form").await;
    shoot(&page, "05-nouveau-client").await;
    let before = app.event_count().await;
    page.fill("#last_name", "<script>alert(1)</script>")
        .await
        .expect("name");
    page.fill("#first_name", "Zoé").await.expect("first name");
    page.fill("#email", "pas-un-mail").await.expect("email");
    page.fill("#phone", "12").await.expect("phone");
    let status = page
        .click_and_wait("main form button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert_eq!(
        page.value("#last_name").await.expect("kept"),
        "<script>alert(1)</script>"
    );
    assert_eq!(page.value("#first_name").await.expect("kept"), "Zoé");
    assert_eq!(page.value("#email").await.expect("kept"), "pas-un-mail");
    assert!(
        page.text("#last_name-erreur")
            .await
            .expect("message")
            .contains("ne peut pas contenir")
    );
    assert!(
        page.text("#email-erreur")
            .await
            .expect("message")
            .contains("@")
    );
    assert!(
        page.text("#phone-erreur")
            .await
            .expect("message")
            .contains("Numéro de téléphone invalide")
    );
    assert_eq!(
        page.eval("document.querySelectorAll('script:not([src])').length")
            .await
            .expect("no inline script"),
        json!(0)
    );
    accessible(&page, "refused registration").await;
    shoot(&page, "06-saisie-refusee").await;
    assert_eq!(
        app.event_count().await,
        before,
        "a refused form wrote events"
    );
    page.fill("#last_name", "Ödegaard").await.expect("name");
    page.fill("#email", "zoe@exemple.fr").await.expect("email");
    page.fill("#phone", "06-11-22-33-44").await.expect("phone");
    let status = page
        .click_and_wait("main form button[type=submit]")
        .await
        .expect("registered");
    assert_eq!(status, 200);
    assert!(page.text("h1").await.expect("h1").contains("ÖDEGAARD Zoé"));
    assert!(
        page.text("dl.card")
            .await
            .expect("card")
            .contains("06 11 22 33 44")
    );

    // Logging out ends the session: the desk asks for a login again.
    page.click_and_wait("form[action='/logout'] button")
        .await
        .expect("logged out");
    assert!(page.url().await.expect("url").contains("/login"));
    assert_eq!(
        page.goto(&app.url("/desk/customer-service"))
            .await
            .expect("desk"),
        401
    );

    // Sales is refused the customer service desk, with a French page.
    let sales = browser.new_page().await.expect("a page");
    assert_eq!(login(&sales, &app, "sales").await, 200);
    assert!(sales.url().await.expect("url").ends_with("/desk/sales"));
    let status = sales
        .goto(&app.url(&format!("/desk/customer-service/customers/{zebulon}")))
        .await
        .expect("refused");
    assert_eq!(status, 403);
    let refusal = sales.text("main").await.expect("text");
    assert!(refusal.contains("Accès refusé"), "{refusal}");
    assert!(!refusal.contains("ZÉBULON"), "{refusal}");
    accessible(&sales, "403 page").await;
    shoot(&sales, "07-acces-refuse").await;
}

#[tokio::test]
async fn pages_are_guarded_headed_and_refuse_bad_input_without_writing() {
    let app = TestApp::spawn_with_pipeline("web_guard").await;
    let id = register(&app, "Martin", "Paul", "0611111111", "paul@exemple.fr").await;
    let (client, cookie) = cookie_session(&app, "customer-service").await;

    // The cookie of the login page opens the JSON API too: one session.
    let me = client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);

    // Security headers on pages, assets, JSON and refusals.
    let page = client
        .get(app.url("/desk/customer-service"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    for must in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "default-src 'none'",
    ] {
        assert!(csp.contains(must), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.expect("html");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "a page loads from elsewhere"
    );
    let token = form_token(&html);
    for path in [
        "/api/v1/auth/me",
        "/assets/htmx.min.js",
        "/docs",
        "/nowhere",
    ] {
        let r = client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("sent");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(
            r.headers().contains_key("content-security-policy"),
            "{path}"
        );
    }
    let docs = client.get(app.url("/docs")).send().await.expect("docs");
    let docs = docs.text().await.expect("docs");
    assert!(
        docs.contains("/api/v1/customers") && !docs.contains("https://"),
        "/docs loads from elsewhere"
    );

    // A session that is no longer valid gets the French "session expirée" page.
    let expired = client
        .get(app.url("/desk/customer-service"))
        .header("cookie", "lae_session=eyJhbGciOiJIUzI1NiJ9.e30.invalid")
        .send()
        .await
        .expect("sent");
    assert_eq!(expired.status(), 401);
    assert!(
        expired
            .text()
            .await
            .expect("html")
            .contains("Session expirée")
    );

    // Posts without this session's form token, or from another site, are refused.
    let before = app.event_count().await;
    let contact = |csrf: &str| {
        vec![
            ("_csrf", csrf.to_owned()),
            ("version", "1".to_owned()),
            ("last_name", "Martin".to_owned()),
            ("first_name", "Paul".to_owned()),
            ("email", "paul@exemple.fr".to_owned()),
            ("phone", "".to_owned()),
            ("availability", "".to_owned()),
        ]
    };
    let path = format!("/desk/customer-service/customers/{id}/contact-details");
    let forged = client
        .post(app.url(&path))
        .header("cookie", &cookie)
        .form(&contact("forged"))
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), 409);
    assert!(
        forged
            .text()
            .await
            .expect("html")
            .contains("formulaire a expiré")
    );
    let foreign = client
        .post(app.url(&path))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&contact(&token))
        .send()
        .await
        .expect("sent");
    assert_eq!(foreign.status(), 409);
    assert_eq!(app.event_count().await, before);

    // Bad input: control characters, an oversized value, a wrong type, a script tag.
    // (field at fault, values sent, what its message says)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "first_name",
            vec![("first_name", "Pa\u{7}ul".into())],
            "caractère de contrôle",
        ),
        (
            "last_name",
            vec![("last_name", "x".repeat(300))],
            "ne peut pas dépasser",
        ),
        (
            "version",
            vec![("version", "abc".into())],
            "version de la fiche",
        ),
        (
            "last_name",
            vec![("last_name", "<img src=x onerror=alert(1)>".into())],
            "ne peut pas contenir",
        ),
        ("email", vec![("email", "a@b@c".into())], "@"),
    ];
    for (field, overrides, message) in cases {
        let mut body = contact(&token);
        for (name, value) in &overrides {
            if let Some(slot) = body.iter_mut().find(|(n, _)| n == name) {
                slot.1 = value.clone();
            }
        }
        let r = client
            .post(app.url(&path))
            .header("cookie", &cookie)
            .form(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 422, "{field}");
        let html = r.text().await.expect("html");
        let at = html
            .find(&format!("id=\"{field}-erreur\""))
            .unwrap_or_else(|| panic!("no message beside {field}"));
        assert!(
            html[at..at + 300].contains(message),
            "{field}: {}",
            &html[at..at + 300]
        );
        assert!(!html.contains("<img src=x"), "unescaped input reflected");
        assert!(
            !html.contains("panicked") && !html.contains("sqlx"),
            "a trace shown"
        );
    }
    let huge = client
        .post(app.url(&path))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={token}&last_name={}", "a".repeat(40_000)))
        .send()
        .await
        .expect("sent");
    assert_eq!(huge.status(), 413);
    assert!(
        huge.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    assert_eq!(
        app.event_count().await,
        before,
        "refused forms wrote events"
    );

    // A valid change at a stale version is refused and keeps what was typed.
    let mut stale = contact(&token);
    stale[1].1 = "7".into();
    stale[3].1 = "Paulette".into();
    let r = client
        .post(app.url(&path))
        .header("cookie", &cookie)
        .form(&stale)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("html");
    assert!(html.contains("modifiée par quelqu"), "{html}");
    assert!(html.contains("value=\"Paulette\""));
    assert_eq!(app.event_count().await, before);

    // And the same form, correct, at the current version, is one event.
    let r = client
        .post(app.url(&path))
        .header("cookie", &cookie)
        .form(&contact(&token))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);
    assert_eq!(app.event_count().await, before + 1);
}
