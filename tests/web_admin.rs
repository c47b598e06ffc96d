//! User administration, through the JSON API and through the desk in a real headless
//! Chromium: an admin creates an account (its initial password shown once), the new
//! user logs in with it and changes their own password, the admin changes the role,
//! resets the password, disables the account (login refused), the history shows who
//! did what, the last active administrator can be neither disabled nor demoted, and
//! every other role is refused the desk.
//!
//! `LAE_SCREENSHOTS=docs/screens` also writes a PNG of every screen.

mod common;

use common::web::{accessible, login, shoot};
use common::{TEST_PASSWORD, TestApp};
use lae_browser::{Browser, Page};
use serde_json::{Value, json};

/// Sends `body` (or nothing for `Null`) with a bearer token.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if !body.is_null() {
        request = request.json(body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

async fn api_login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn token_of(logged_in: &Value) -> String {
    logged_in["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// The changes of an account's history, newest first: (change, actor).
fn changes(account: &Value) -> Vec<(String, String)> {
    account["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap_or_default().to_owned(),
                c["actor"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pair(change: &str, actor: &str) -> (String, String) {
    (change.to_owned(), actor.to_owned())
}

#[tokio::test]
async fn the_admin_api_creates_changes_roles_guards_admins_and_users_change_their_own_password() {
    use reqwest::Method;
    let app = TestApp::spawn("admin_api").await;
    let admin = app.token("admin").to_owned();

    // Bad input is refused naming the field; nothing is created.
    for (body, field, status) in [
        (
            json!({"username": "a", "display_name": "A", "role": "sales"}),
            "username",
            422,
        ),
        (
            json!({"username": "camille d", "display_name": "A", "role": "sales"}),
            "username",
            422,
        ),
        (
            json!({"username": "camille.d", "display_name": "   ", "role": "sales"}),
            "display_name",
            422,
        ),
        (
            json!({"username": "camille.d", "display_name": "A", "role": "pirate"}),
            "role",
            422,
        ),
        (
            json!({"username": "camille.d", "display_name": "A", "role": "sales", "password": "court"}),
            "password",
            422,
        ),
        (
            json!({"username": "Sales", "display_name": "A", "role": "sales"}),
            "username",
            409,
        ),
    ] {
        let (got, problem) = call(&app, Method::POST, "/api/v1/admin/users", &admin, &body).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }

    // Created without a password: one is generated and answered once.
    let response = app
        .client
        .post(app.url("/api/v1/admin/users"))
        .bearer_auth(&admin)
        .json(
            &json!({"username": "Camille.D", "display_name": "Camille Dupont", "role": "billing"}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["username"], "camille.d");
    assert_eq!(created["role"], "billing");
    assert!(created.get("password_hash").is_none());
    let initial = created["initial_password"]
        .as_str()
        .expect("an initial password")
        .to_owned();
    assert!(initial.len() >= 12, "{initial}");
    let id = created["user_id"].as_str().expect("id").to_owned();
    let (status, logged_in) = api_login(&app, "camille.d", &initial).await;
    assert_eq!(status, 200, "{logged_in}");
    assert_eq!(logged_in["role"], "billing");
    let camille = token_of(&logged_in);

    // The account and its history; other roles may not read it.
    let account_path = format!("/api/v1/admin/users/{id}");
    let (status, account) = call(&app, Method::GET, &account_path, &admin, &Value::Null).await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["display_name"], "Camille Dupont");
    assert_eq!(changes(&account), [pair("created", "admin")]);
    assert!(!account["last_change_at"].is_null());
    for role in [
        "billing",
        "sales",
        "customer_service",
        "auditor",
        "management",
    ] {
        let (status, _) = call(
            &app,
            Method::GET,
            &account_path,
            app.token(role),
            &Value::Null,
        )
        .await;
        assert_eq!(status, 403, "{role}");
        let (status, _) = call(
            &app,
            Method::POST,
            &format!("{account_path}/role"),
            app.token(role),
            &json!({"role": "admin"}),
        )
        .await;
        assert_eq!(status, 403, "{role}");
    }
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/admin/users/6f1c8a9e-2b7d-4c3e-9a1f-5d6e7f8a9b0c",
        &admin,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 404);

    // A role change revokes the tokens (they carry the role) and is recorded with both
    // roles; the same role again changes and records nothing.
    let role_path = format!("{account_path}/role");
    let (status, body) = call(
        &app,
        Method::POST,
        &role_path,
        &admin,
        &json!({"role": "sales"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["user"]["role"], "sales");
    let (status, _) = call(&app, Method::GET, "/api/v1/auth/me", &camille, &Value::Null).await;
    assert_eq!(status, 401, "the old role's token is revoked");
    let (status, body) = call(
        &app,
        Method::POST,
        &role_path,
        &admin,
        &json!({"role": "sales"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], false);
    let (status, body) = call(
        &app,
        Method::POST,
        &role_path,
        &admin,
        &json!({"role": "pirate"}),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (422, json!("role")),
        "{body}"
    );
    let (_, account) = call(&app, Method::GET, &account_path, &admin, &Value::Null).await;
    assert_eq!(
        changes(&account),
        [pair("role_changed", "admin"), pair("created", "admin")]
    );
    assert_eq!(account["history"][0]["old_role"], "billing");
    assert_eq!(account["history"][0]["new_role"], "sales");

    // The user changes their own password: the current one is checked, the new one
    // must be strong and different; their other tokens end, the answer is a new one.
    let (_, logged_in) = api_login(&app, "camille.d", &initial).await;
    let camille = token_of(&logged_in);
    let (_, other_session) = api_login(&app, "camille.d", &initial).await;
    let other_session = token_of(&other_session);
    let strong = "une phrase de passe assez longue";
    for (current, new, field, why) in [
        (
            "pas le bon mot de passe",
            strong,
            "current_password",
            "incorrect",
        ),
        (initial.as_str(), "court", "new_password", "entre 12"),
        (
            initial.as_str(),
            "aaaaaaaaaaaaaaaa",
            "new_password",
            "différents",
        ),
        (
            initial.as_str(),
            "moi-camille.d-2026",
            "new_password",
            "identifiant",
        ),
        (
            initial.as_str(),
            initial.as_str(),
            "new_password",
            "différent de l'actuel",
        ),
    ] {
        let (status, problem) = call(
            &app,
            Method::POST,
            "/api/v1/auth/password",
            &camille,
            &json!({"current_password": current, "new_password": new}),
        )
        .await;
        assert_eq!(status, 422, "{new}: {problem}");
        assert_eq!(problem["field"], field, "{new}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap_or_default().contains(why),
            "{new}: {problem}"
        );
    }
    let (status, changed) = call(
        &app,
        Method::POST,
        "/api/v1/auth/password",
        &camille,
        &json!({"current_password": initial, "new_password": strong}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let renewed = token_of(&changed);
    let me = |token: String| {
        let app = &app;
        async move {
            call(app, Method::GET, "/api/v1/auth/me", &token, &Value::Null)
                .await
                .0
        }
    };
    assert_eq!(me(renewed).await, 200, "the session that asked continues");
    assert_eq!(me(camille).await, 401);
    assert_eq!(me(other_session).await, 401, "the other sessions end");
    assert_eq!(api_login(&app, "camille.d", &initial).await.0, 401);
    assert_eq!(api_login(&app, "camille.d", strong).await.0, 200);

    // A reset answers the generated password, once; the old one stops working.
    let response = app
        .client
        .post(app.url(&format!("{account_path}/password")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let reset: Value = response.json().await.expect("json");
    let provisional = reset["password"].as_str().expect("a password").to_owned();
    assert_ne!(provisional, initial);
    assert_eq!(api_login(&app, "camille.d", strong).await.0, 401);
    assert_eq!(api_login(&app, "camille.d", &provisional).await.0, 200);

    // Disabled, the user cannot log in; enabled again, they can.
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("{account_path}/disable"),
        &admin,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(api_login(&app, "camille.d", &provisional).await.0, 401);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("{account_path}/enable"),
        &admin,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(api_login(&app, "camille.d", &provisional).await.0, 200);
    let (_, account) = call(&app, Method::GET, &account_path, &admin, &Value::Null).await;
    assert_eq!(
        changes(&account),
        [
            pair("enabled", "admin"),
            pair("disabled", "admin"),
            pair("password_reset", "admin"),
            pair("password_changed", "camille.d"),
            pair("role_changed", "admin"),
            pair("created", "admin"),
        ]
    );

    // The last active administrator can be neither disabled nor demoted.
    let (_, users) = call(
        &app,
        Method::GET,
        "/api/v1/admin/users",
        &admin,
        &Value::Null,
    )
    .await;
    let admin_id = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "admin")
        .expect("the admin")["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let admin_path = format!("/api/v1/admin/users/{admin_id}");
    let (status, problem) = call(
        &app,
        Method::POST,
        &format!("{admin_path}/disable"),
        &admin,
        &Value::Null,
    )
    .await;
    assert_eq!(
        (status, problem["code"].clone()),
        (409, json!("last_admin")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("dernier administrateur"),
        "{problem}"
    );
    let (status, problem) = call(
        &app,
        Method::POST,
        &format!("{admin_path}/role"),
        &admin,
        &json!({"role": "sales"}),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["field"], "role", "{problem}");
    assert_eq!(me(admin.clone()).await, 200, "the refusals changed nothing");

    // With a second administrator, two admins disabling each other at once: one wins,
    // one administrator remains.
    let (status, _) = call(
        &app,
        Method::POST,
        &role_path,
        &admin,
        &json!({"role": "admin"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, second) = api_login(&app, "camille.d", &provisional).await;
    let second = token_of(&second);
    let (disable_admin, disable_camille) = (
        format!("{admin_path}/disable"),
        format!("{account_path}/disable"),
    );
    let (one, two) = tokio::join!(
        call(&app, Method::POST, &disable_admin, &second, &Value::Null),
        call(&app, Method::POST, &disable_camille, &admin, &Value::Null),
    );
    let mut outcomes = [one.0, two.0];
    outcomes.sort_unstable();
    assert!(
        outcomes == [204, 409] || outcomes == [204, 401],
        "exactly one disable succeeds: {one:?} {two:?}"
    );
    let active_admins: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth.users WHERE role = 'admin' AND disabled_at IS NULL",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(active_admins, 1);
}

/// Logs in through the login page with a password of one's own.
async fn login_with(page: &Page, app: &TestApp, username: &str, password: &str) -> u16 {
    assert_eq!(page.goto(&app.url("/login")).await.expect("login"), 200);
    page.fill("#username", username).await.expect("username");
    page.fill("#password", password).await.expect("password");
    page.with_navigation(page.press("Enter"))
        .await
        .expect("logged in")
}

/// Logs out from the user's own desk (a refusal page has no user bar).
async fn logout(page: &Page, app: &TestApp) {
    page.goto(&app.url("/desk")).await.expect("own desk");
    page.click_and_wait("form[action='/logout'] button")
        .await
        .expect("logged out");
}

/// Whether the login page accepts these credentials (a client of its own).
async fn login_status(app: &TestApp, username: &str, password: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(app.url("/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_admin_creates_a_billing_user_who_logs_in_changes_their_password_and_is_then_managed() {
    let app = TestApp::spawn("web_admin").await;
    // The harness names every test user "Test"; the screenshots read better with the
    // names of people (fixture data, set directly: no history line is expected).
    sqlx::query(
        "UPDATE auth.users SET display_name = CASE username
             WHEN 'admin' THEN 'Agnès Moreau' WHEN 'auditor' THEN 'Paul Girard'
             WHEN 'billing' THEN 'Nadia Benali' WHEN 'customer-service' THEN 'Julien Petit'
             WHEN 'legal' THEN 'Claire Lambert' WHEN 'management' THEN 'Henri Roux'
             WHEN 'sales' THEN 'Sophie Garnier' ELSE display_name END",
    )
    .execute(&app.pool)
    .await
    .expect("names");
    let browser = Browser::launch().await.expect("Chromium starts");
    let page = browser.new_page().await.expect("a page");
    page.set_viewport(1280, 900).await.expect("viewport");

    // --- The admin's desk: the users.
    assert_eq!(login(&page, &app, "admin").await, 200);
    assert!(page.url().await.expect("url").ends_with("/desk/admin"));
    let list = page.text("#liste-titre + table").await.expect("users");
    assert!(list.contains("customer-service"), "{list}");
    assert!(list.contains("Service client"), "{list}");
    assert!(list.contains("Actif"), "{list}");
    accessible(&page, "users").await;
    shoot(&page, "40-utilisateurs").await;

    // A login with a space and no role: refused beside the fields, the input kept.
    page.fill("#username", "Camille Dupont")
        .await
        .expect("type");
    page.fill("#display_name", "Camille Dupont")
        .await
        .expect("type");
    let status = page
        .click_and_wait("form[action='/desk/admin/users'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(
        page.text("#username-erreur")
            .await
            .expect("message")
            .contains("Identifiant invalide")
    );
    assert!(
        page.text("#role-erreur")
            .await
            .expect("message")
            .contains("Choisissez un rôle")
    );
    assert_eq!(
        page.value("#username").await.expect("kept"),
        "Camille Dupont"
    );
    assert_eq!(
        page.value("#display_name").await.expect("kept"),
        "Camille Dupont"
    );
    accessible(&page, "creation refused").await;
    shoot(&page, "41-creation-refusee").await;

    // Corrected: created, the provisional password shown once.
    page.fill("#username", "camille.dupont")
        .await
        .expect("type");
    page.eval("document.querySelector('#role').value = 'billing'")
        .await
        .expect("choose");
    let status = page
        .click_and_wait("form[action='/desk/admin/users'] button[type=submit]")
        .await
        .expect("created");
    assert_eq!(status, 200);
    let provisional = page
        .text("#mot-de-passe-provisoire")
        .await
        .expect("the password")
        .trim()
        .to_owned();
    assert!(provisional.len() >= 12, "{provisional}");
    let banner = page.text(".secret-panel").await.expect("banner");
    assert!(banner.contains("ne sera plus jamais affiché"), "{banner}");
    assert!(banner.contains("Facturation"), "{banner}");
    accessible(&page, "provisional password").await;
    shoot(&page, "42-mot-de-passe-provisoire").await;
    page.goto(&app.url("/desk/admin")).await.expect("users");
    let html = page
        .eval("document.documentElement.outerHTML")
        .await
        .expect("html");
    assert!(
        !html.to_string().contains(&provisional),
        "the password is shown once only"
    );
    assert!(
        page.text("#liste-titre + table")
            .await
            .expect("users")
            .contains("camille.dupont")
    );
    logout(&page, &app).await;

    // --- The new user logs in with it and changes their own password.
    assert_eq!(
        login_with(&page, &app, "camille.dupont", &provisional).await,
        200
    );
    assert!(page.url().await.expect("url").ends_with("/desk/billing"));
    let status = page
        .click_and_wait("a[href='/desk/password']")
        .await
        .expect("password page");
    assert_eq!(status, 200);
    accessible(&page, "own password").await;
    shoot(&page, "43-mon-mot-de-passe").await;
    page.fill("#current_password", &provisional)
        .await
        .expect("type");
    page.fill("#new_password", "court").await.expect("type");
    page.fill("#confirmation", "cour").await.expect("type");
    let status = page
        .click_and_wait("form[action='/desk/password'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(
        page.text("#new_password-erreur")
            .await
            .expect("message")
            .contains("12")
    );
    assert!(
        page.text("#confirmation-erreur")
            .await
            .expect("message")
            .contains("ne correspond pas")
    );
    assert_eq!(
        page.value("#current_password").await.expect("field"),
        "",
        "passwords are not sent back"
    );
    accessible(&page, "own password refused").await;
    shoot(&page, "44-mot-de-passe-refuse").await;
    let chosen = "ma phrase de passe du lundi";
    page.fill("#current_password", "pas le bon")
        .await
        .expect("type");
    page.fill("#new_password", chosen).await.expect("type");
    page.fill("#confirmation", chosen).await.expect("type");
    let status = page
        .click_and_wait("form[action='/desk/password'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 422);
    assert!(
        page.text("#current_password-erreur")
            .await
            .expect("message")
            .contains("incorrect")
    );
    page.fill("#current_password", &provisional)
        .await
        .expect("type");
    page.fill("#new_password", chosen).await.expect("type");
    page.fill("#confirmation", chosen).await.expect("type");
    let status = page
        .click_and_wait("form[action='/desk/password'] button[type=submit]")
        .await
        .expect("changed");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Mot de passe changé")
    );
    assert!(page.url().await.expect("url").contains("/desk/password"));
    accessible(&page, "own password changed").await;
    assert_eq!(
        login_status(&app, "camille.dupont", &provisional).await,
        401
    );
    assert_eq!(login_status(&app, "camille.dupont", chosen).await, 303);
    logout(&page, &app).await;

    // --- The admin opens the account: changes the role, resets the password.
    assert_eq!(login(&page, &app, "admin").await, 200);
    let camille_id: String = sqlx::query_scalar(
        "SELECT user_id::text FROM auth.users WHERE username = 'camille.dupont'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("id");
    let status = page
        .click_and_wait(&format!("a[href='/desk/admin/users/{camille_id}']"))
        .await
        .expect("the card");
    assert_eq!(status, 200);
    accessible(&page, "account").await;
    page.eval("document.querySelector('#role').value = 'sales'")
        .await
        .expect("choose");
    let status = page
        .click_and_wait("form[action$='/role'] button[type=submit]")
        .await
        .expect("changed");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Rôle changé")
    );
    let card = page.text("#compte-titre + dl").await.expect("card");
    assert!(card.contains("Commercial"), "{card}");
    let history = page
        .text("#historique-titre + table")
        .await
        .expect("history");
    for expected in [
        "Changement de rôle",
        "Facturation → Commercial",
        "Mot de passe changé par l'utilisateur",
        "camille.dupont",
        "Création du compte",
        "admin",
    ] {
        assert!(history.contains(expected), "{expected}: {history}");
    }
    accessible(&page, "account after the role change").await;
    shoot(&page, "45-fiche-compte").await;
    let status = page
        .click_and_wait("form[action$='/password'] button[type=submit]")
        .await
        .expect("reset");
    assert_eq!(status, 200);
    let reset = page
        .text("#mot-de-passe-provisoire")
        .await
        .expect("the password")
        .trim()
        .to_owned();
    assert!(
        page.text(".secret-panel")
            .await
            .expect("banner")
            .contains("ne sera plus jamais affiché")
    );
    assert_eq!(login_status(&app, "camille.dupont", chosen).await, 401);
    assert_eq!(login_status(&app, "camille.dupont", &reset).await, 303);
    accessible(&page, "password reset").await;
    shoot(&page, "46-mot-de-passe-reinitialise").await;

    // Disabled: the login is refused; the history names the admin.
    let status = page
        .click_and_wait("form[action$='/disable'] button[type=submit]")
        .await
        .expect("disabled");
    assert_eq!(status, 200);
    assert!(
        page.text(".notice")
            .await
            .expect("notice")
            .contains("Compte désactivé")
    );
    assert_eq!(login_status(&app, "camille.dupont", &reset).await, 401);
    let history = page
        .text("#historique-titre + table")
        .await
        .expect("history");
    assert!(history.contains("Désactivation"), "{history}");
    assert!(history.contains("Mot de passe réinitialisé"), "{history}");
    let actors: Vec<(String, String)> = sqlx::query_as(
        "SELECT change, actor FROM auth.user_changes c JOIN auth.users u USING (user_id)
          WHERE u.username = 'camille.dupont' ORDER BY change_id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("history");
    assert_eq!(
        actors,
        [
            pair("created", "admin"),
            pair("password_changed", "camille.dupont"),
            pair("role_changed", "admin"),
            pair("password_reset", "admin"),
            pair("disabled", "admin"),
        ]
    );
    accessible(&page, "account disabled").await;

    // --- The last active administrator: neither disabled nor demoted.
    let admin_id: String =
        sqlx::query_scalar("SELECT user_id::text FROM auth.users WHERE username = 'admin'")
            .fetch_one(&app.pool)
            .await
            .expect("id");
    page.goto(&app.url(&format!("/desk/admin/users/{admin_id}")))
        .await
        .expect("own card");
    let status = page
        .click_and_wait("form[action$='/disable'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 409);
    assert!(
        page.text("#state-erreur")
            .await
            .expect("message")
            .contains("dernier administrateur actif")
    );
    accessible(&page, "last admin").await;
    shoot(&page, "47-dernier-administrateur").await;
    page.eval("document.querySelector('#role').value = 'sales'")
        .await
        .expect("choose");
    let status = page
        .click_and_wait("form[action$='/role'] button[type=submit]")
        .await
        .expect("refused");
    assert_eq!(status, 409);
    assert!(
        page.text("#role-erreur")
            .await
            .expect("message")
            .contains("dernier administrateur actif")
    );
    accessible(&page, "last admin, demotion").await;
    let still: (String, bool) =
        sqlx::query_as("SELECT role, disabled_at IS NULL FROM auth.users WHERE username = 'admin'")
            .fetch_one(&app.pool)
            .await
            .expect("admin");
    assert_eq!(still, ("admin".to_owned(), true));
    logout(&page, &app).await;

    // --- Every other role is refused the desk, with a French page.
    assert_eq!(login_with(&page, &app, "sales", TEST_PASSWORD).await, 200);
    let status = page.goto(&app.url("/desk/admin")).await.expect("refused");
    assert_eq!(status, 403);
    assert!(
        page.text("h1")
            .await
            .expect("heading")
            .contains("Accès refusé")
    );
    accessible(&page, "admin desk refused").await;
    shoot(&page, "48-acces-refuse-administration").await;
    logout(&page, &app).await;
    for user in [
        "customer-service",
        "legal",
        "billing",
        "auditor",
        "management",
    ] {
        assert_eq!(login(&page, &app, user).await, 200, "{user}");
        for path in [
            "/desk/admin".to_owned(),
            format!("/desk/admin/users/{admin_id}"),
        ] {
            let status = page.goto(&app.url(&path)).await.expect("refused");
            assert_eq!(status, 403, "{user} on {path}");
        }
        logout(&page, &app).await;
    }
}
