//! End-to-end tests against the real headless Chromium (`/usr/bin/chromium`, or
//! `$CHROME`). They fail, never skip, when it is missing.

mod support;

use std::time::Duration;

use lae_browser::{Browser, BrowserError, LaunchOptions, Page};

async fn setup() -> (String, Browser, Page) {
    let base = support::serve().await;
    // Display, not Debug: the error says which binary and how to fix it.
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e}"));
    let page = browser.new_page().await.expect("open a page");
    (base, browser, page)
}

/// Polls `console_errors()` (log entries may arrive just after the load event).
async fn console_errors_after(page: &Page, wait: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let errors = page.console_errors();
        if !errors.is_empty() || tokio::time::Instant::now() >= deadline {
            return errors;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn goto_reports_the_document_status() {
    let (base, _browser, page) = setup().await;
    assert_eq!(page.goto(&format!("{base}/")).await.expect("goto /"), 200);
    assert_eq!(page.url().await.expect("url"), format!("{base}/"));
    assert_eq!(page.text("h1").await.expect("h1"), "Home");
    assert_eq!(
        page.goto(&format!("{base}/missing"))
            .await
            .expect("goto /missing"),
        404
    );
    assert_eq!(page.text("h1").await.expect("h1"), "Not found");
    assert_eq!(page.goto("about:blank").await.expect("about:blank"), 200);
    assert_eq!(
        page.goto("data:text/html,<p id=x>data</p>")
            .await
            .expect("data:"),
        200
    );
    assert_eq!(page.text("#x").await.expect("#x"), "data");
    // A closed port is a navigation error, not a status.
    let refused = page.goto("http://127.0.0.1:9/").await;
    assert!(
        matches!(refused, Err(BrowserError::Navigation { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn fill_types_real_keys_that_an_external_script_sees() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/")).await.expect("goto /");
    page.fill("#name", "Hello").await.expect("fill");
    assert_eq!(page.value("#name").await.expect("value"), "Hello");
    // The keyup listener comes from /app.js, allowed by `script-src 'self'`.
    page.wait_until("document.getElementById('echo').textContent === 'Hello'")
        .await
        .expect("the keyup listener saw the text");
    // One keyup for the Backspace that cleared the field, one per character.
    assert_eq!(page.text("#keyups").await.expect("keyups"), "6");
    // fill replaces what was there.
    page.fill("#name", "Ab 1").await.expect("fill again");
    assert_eq!(page.value("#name").await.expect("value"), "Ab 1");
    page.wait_until("document.getElementById('echo').textContent === 'Ab 1'")
        .await
        .expect("the listener saw the new text");
    assert!(
        page.console_errors().is_empty(),
        "{:?}",
        page.console_errors()
    );
}

#[tokio::test]
async fn enter_submits_the_form() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/")).await.expect("goto /");
    page.fill("#q", "rust & cdp").await.expect("fill");
    let status = page
        .with_navigation(page.press("Enter"))
        .await
        .expect("Enter submits");
    assert_eq!(status, 200);
    assert_eq!(
        page.url().await.expect("url"),
        format!("{base}/search?q=rust+%26+cdp")
    );
    assert_eq!(page.text("#result").await.expect("result"), "rust & cdp");
}

#[tokio::test]
async fn tab_moves_focus_and_click_clicks() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/")).await.expect("goto /");
    page.focus("#first").await.expect("focus");
    page.press("Tab").await.expect("Tab");
    let active = page.eval("document.activeElement.id").await.expect("eval");
    assert_eq!(active, "second");

    page.click("#btn").await.expect("click");
    page.click("#btn").await.expect("click again");
    assert_eq!(page.text("#clicks").await.expect("clicks"), "2");

    let status = page.click_and_wait("#next").await.expect("follow link");
    assert_eq!(status, 200);
    assert_eq!(page.url().await.expect("url"), format!("{base}/next"));
    page.wait_for("#title").await.expect("title");
}

#[tokio::test]
async fn errors_are_clear() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/")).await.expect("goto /");
    let thrown = page.eval("throw new Error('boom')").await;
    match thrown {
        Err(BrowserError::JavaScript(text)) => assert!(text.contains("boom"), "{text}"),
        other => panic!("expected a JavaScript error, got {other:?}"),
    }
    assert_eq!(
        page.eval("Promise.resolve(40 + 2)").await.expect("eval"),
        42
    );
    let missing = page.text("#nope").await;
    assert!(matches!(missing, Err(BrowserError::NotFound(ref s)) if s == "#nope"));
    let mut page = page;
    page.set_timeouts(Duration::from_secs(5), Duration::from_millis(300));
    let err = page.wait_for("#never").await.expect_err("times out");
    assert!(err.to_string().contains("#never"), "{err}");
    assert!(matches!(
        page.press("F42").await,
        Err(BrowserError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn screenshot_writes_a_png() {
    let (base, _browser, page) = setup().await;
    page.set_viewport(1024, 700).await.expect("viewport");
    page.goto(&format!("{base}/")).await.expect("goto /");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/dir/home.png");
    page.screenshot(&path).await.expect("screenshot");
    let png = std::fs::read(&path).expect("read the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Full page: taller than the viewport (the page has a 2000px spacer).
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert!(height > 2000, "height {height}");
}

#[tokio::test]
async fn axe_finds_serious_violations() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/a11y-bad")).await.expect("goto");
    let report = page.axe().await.expect("axe");
    let serious = report.serious_or_critical();
    let ids: Vec<&str> = serious.iter().map(|v| v.id.as_str()).collect();
    assert!(ids.contains(&"image-alt"), "{report}");
    assert!(
        ids.iter()
            .any(|id| *id == "label" || *id == "label-title-only"),
        "{report}"
    );
    let shown = report.to_string();
    assert!(shown.contains("image-alt [critical]"), "{shown}");
    assert!(shown.contains("img"), "{shown}");
}

#[tokio::test]
async fn axe_passes_a_clean_page_under_a_strict_csp() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/a11y-good")).await.expect("goto");
    let report = page.axe().await.expect("axe");
    assert!(report.serious_or_critical().is_empty(), "{report}");
    // Injecting axe through DevTools is not subject to the page's CSP: no violation.
    assert!(
        page.console_errors().is_empty(),
        "{:?}",
        page.console_errors()
    );
    // Running it twice reuses the injected copy.
    page.axe().await.expect("axe again");
}

#[tokio::test]
async fn an_inline_script_under_the_strict_csp_is_reported() {
    let (base, _browser, page) = setup().await;
    page.goto(&format!("{base}/")).await.expect("goto /");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        page.console_errors().is_empty(),
        "{:?}",
        page.console_errors()
    );
    page.goto(&format!("{base}/inline"))
        .await
        .expect("goto /inline");
    let errors = console_errors_after(&page, Duration::from_secs(5)).await;
    assert!(
        errors.iter().any(|e| e.contains("Content Security Policy")),
        "{errors:?}"
    );
    // And the script did not run.
    assert_eq!(page.eval("document.title").await.expect("title"), "Inline");
}

#[tokio::test]
async fn pages_do_not_share_cookies() {
    let (base, browser, alice) = setup().await;
    let bob = browser.new_page().await.expect("second page");
    let (login_alice, login_bob) = (
        format!("{base}/login?user=alice"),
        format!("{base}/login?user=bob"),
    );
    let (a, b) = tokio::join!(alice.goto(&login_alice), bob.goto(&login_bob));
    assert_eq!(
        (a.expect("alice logs in"), b.expect("bob logs in")),
        (200, 200)
    );
    alice.goto(&format!("{base}/whoami")).await.expect("whoami");
    bob.goto(&format!("{base}/whoami")).await.expect("whoami");
    assert_eq!(alice.text("#user").await.expect("user"), "alice");
    assert_eq!(bob.text("#user").await.expect("user"), "bob");
    let carol = browser.new_page().await.expect("third page");
    carol.goto(&format!("{base}/whoami")).await.expect("whoami");
    assert_eq!(carol.text("#user").await.expect("user"), "anonymous");
    carol.close().await.expect("close");
    bob.close().await.expect("close");
    browser.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_missing_chromium_is_an_error() {
    let err = Browser::launch_with(LaunchOptions::default().chrome("/nonexistent/chromium"))
        .await
        .expect_err("no such binary");
    assert!(matches!(err, BrowserError::Launch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("/nonexistent/chromium"), "{text}");
    assert!(text.contains("CHROME"), "{text}");
}
