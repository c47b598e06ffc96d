use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use crate::BrowserError;
use crate::axe::{AXE_RUN, AXE_SOURCE, AxeReport, AxeViolation};
use crate::browser::{LaunchOptions, string_field};
use crate::conn::{Connection, Event, SessionState};
use crate::keys::{self, Key};

/// Chromium's error text when a navigation got an HTTP error status: the document
/// still loads (and its status is what [`Page::goto`] reports).
const HTTP_ERROR_STATUS: &str = "net::ERR_HTTP_RESPONSE_CODE_FAILURE";

/// One tab, in its own browser context (cookie jar), attached as a flat CDP session.
///
/// Dropping it closes the tab and its context without waiting; [`Page::close`] waits.
#[derive(Debug)]
pub struct Page {
    conn: Arc<Connection>,
    session_id: String,
    target_id: String,
    context_id: String,
    main_frame: String,
    state: Arc<SessionState>,
    navigation_timeout: Duration,
    wait_timeout: Duration,
    poll_interval: Duration,
    closed: bool,
}

impl Page {
    pub(crate) async fn init(
        conn: Arc<Connection>,
        session_id: String,
        target_id: String,
        context_id: String,
        options: &LaunchOptions,
    ) -> Result<Self, BrowserError> {
        let state = conn.register(&session_id);
        let mut page = Self {
            conn,
            session_id,
            target_id,
            context_id,
            main_frame: String::new(),
            state,
            navigation_timeout: options.navigation_timeout,
            wait_timeout: options.wait_timeout,
            poll_interval: options.poll_interval,
            closed: false,
        };
        futures::try_join!(
            page.call("Page.enable", json!({})),
            page.call("Runtime.enable", json!({})),
            page.call("Network.enable", json!({})),
            page.call("Log.enable", json!({})),
            // Several pages run at once, each in its own window: each must behave as
            // the focused one, or focus/blur and :focus would depend on the others.
            page.call(
                "Emulation.setFocusEmulationEnabled",
                json!({ "enabled": true })
            ),
        )?;
        let tree = page.call("Page.getFrameTree", json!({})).await?;
        page.main_frame = string_field(&tree["frameTree"]["frame"], "id", "Page.getFrameTree")?;
        page.state.set_main_frame(page.main_frame.clone());
        Ok(page)
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.conn.call(method, params, Some(&self.session_id)).await
    }

    /// Sets the timeouts of this page's navigations and of its polling waits.
    pub fn set_timeouts(&mut self, navigation: Duration, wait: Duration) {
        self.navigation_timeout = navigation;
        self.wait_timeout = wait;
    }

    /// Navigates to `url`, waits for the load event, and returns the HTTP status of
    /// the main document (404 pages load too: their status is returned, not an error).
    /// Documents that come from no HTTP response (`about:blank`, `data:`) report 200.
    pub async fn goto(&self, url: &str) -> Result<u16, BrowserError> {
        let mut events = self.state.events.subscribe();
        let nav = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = nav["errorText"].as_str()
            && !error.is_empty()
            && error != HTTP_ERROR_STATUS
        {
            return Err(BrowserError::Navigation {
                url: url.to_owned(),
                error: error.to_owned(),
            });
        }
        match nav["loaderId"].as_str() {
            Some(loader) => {
                self.wait_navigation(
                    &mut events,
                    Some(loader),
                    &format!("the load event of {url}"),
                )
                .await
            }
            // Same-document navigation (only the fragment changed): no new document.
            None => self
                .state
                .last_status()
                .ok_or_else(|| BrowserError::Unexpected {
                    method: "Page.navigate".to_owned(),
                    detail: format!("same-document navigation to {url} before any document loaded"),
                }),
        }
    }

    /// Runs `action` (e.g. `page.click("a")` or `page.press("Enter")`), then waits for
    /// the main frame's next document to reach its load event, and returns its HTTP
    /// status.
    ///
    /// ```no_run
    /// # async fn demo(page: &lae_browser::Page) -> Result<(), lae_browser::BrowserError> {
    /// let status = page.with_navigation(page.press("Enter")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_navigation<F>(&self, action: F) -> Result<u16, BrowserError>
    where
        F: Future<Output = Result<(), BrowserError>>,
    {
        let mut events = self.state.events.subscribe();
        action.await?;
        self.wait_navigation(&mut events, None, "a navigation of the main frame")
            .await
    }

    /// Clicks `css` and waits for the navigation it starts; returns the new
    /// document's HTTP status.
    pub async fn click_and_wait(&self, css: &str) -> Result<u16, BrowserError> {
        self.with_navigation(self.click(css)).await
    }

    /// Waits for the main-frame document response (of `loader` when known), then for
    /// the load event that follows it.
    async fn wait_navigation(
        &self,
        events: &mut broadcast::Receiver<Arc<Event>>,
        loader: Option<&str>,
        what: &str,
    ) -> Result<u16, BrowserError> {
        let timeout = || BrowserError::Timeout {
            what: what.to_owned(),
            after: self.navigation_timeout,
        };
        let deadline = Instant::now() + self.navigation_timeout;
        let ours = |params: &Value| match loader {
            Some(loader) => params["loaderId"] == loader,
            None => params["frameId"] == self.main_frame.as_str(),
        };
        let mut status = None;
        let mut committed = false;
        loop {
            let event = match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => return Err(timeout()),
                Ok(Err(RecvError::Closed)) => return Err(BrowserError::Disconnected),
                Ok(Err(RecvError::Lagged(_))) => continue,
                Ok(Ok(event)) => event,
            };
            let params = &event.params;
            match event.method.as_str() {
                "Network.responseReceived" if params["type"] == "Document" && ours(params) => {
                    let code = params["response"]["status"].as_u64().unwrap_or(0);
                    status = Some(u16::try_from(code).unwrap_or(0));
                }
                "Network.loadingFailed"
                    if params["type"] == "Document"
                        && ours(params)
                        && status.is_none()
                        && params["canceled"] != true =>
                {
                    return Err(BrowserError::Navigation {
                        url: self.url().await.unwrap_or_default(),
                        error: params["errorText"].as_str().unwrap_or("failed").to_owned(),
                    });
                }
                "Page.frameNavigated"
                    if params["frame"].get("parentId").is_none()
                        && loader.is_none_or(|l| params["frame"]["loaderId"] == l) =>
                {
                    committed = true;
                }
                "Page.loadEventFired" => {
                    if let Some(status) = status {
                        return Ok(status);
                    }
                    // A document that came from no HTTP response (about:blank, data:).
                    if committed {
                        return Ok(200);
                    }
                }
                _ => {}
            }
        }
    }

    /// Evaluates `js` in the page (promises are awaited) and returns its value as
    /// JSON (`undefined` is `null`). A thrown exception is [`BrowserError::JavaScript`].
    pub async fn eval(&self, js: &str) -> Result<Value, BrowserError> {
        self.evaluate(js, true).await
    }

    async fn evaluate(&self, js: &str, by_value: bool) -> Result<Value, BrowserError> {
        let reply = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": by_value,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(details) = reply.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or_else(|| details["exception"]["value"].as_str())
                .or_else(|| details["text"].as_str())
                .unwrap_or("exception")
                .to_owned();
            return Err(BrowserError::JavaScript(text));
        }
        let result = &reply["result"];
        if let Some(value) = result.get("value") {
            return Ok(value.clone());
        }
        Ok(match result["unserializableValue"].as_str() {
            Some(special) => Value::from(special),
            None => Value::Null,
        })
    }

    /// Evaluates `body` with `el` bound to `document.querySelector(css)`; `null`
    /// (returned when there is no such element) becomes [`BrowserError::NotFound`].
    async fn on_element(&self, css: &str, body: &str) -> Result<Value, BrowserError> {
        let js = format!(
            "(() => {{ const el = document.querySelector({}); if (!el) return null; {body} }})()",
            js_string(css)
        );
        match self.eval(&js).await? {
            Value::Null => Err(BrowserError::NotFound(css.to_owned())),
            value => Ok(value),
        }
    }

    /// Polls until an element matches `css` and is visible (has a box, not
    /// `visibility: hidden`).
    pub async fn wait_for(&self, css: &str) -> Result<(), BrowserError> {
        let js = format!(
            "(() => {{ const el = document.querySelector({}); if (!el) return false; \
             const r = el.getBoundingClientRect(); const s = getComputedStyle(el); \
             return (r.width > 0 || r.height > 0) && s.visibility !== 'hidden' && s.display !== 'none'; }})()",
            js_string(css)
        );
        self.poll(
            &js,
            &format!("the selector {css:?} to match a visible element"),
        )
        .await
    }

    /// Polls until the JavaScript expression `js_predicate` is truthy.
    pub async fn wait_until(&self, js_predicate: &str) -> Result<(), BrowserError> {
        let js = format!("!!({js_predicate})");
        self.poll(&js, &format!("`{js_predicate}` to be truthy"))
            .await
    }

    async fn poll(&self, js: &str, what: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + self.wait_timeout;
        let mut last_error = None;
        loop {
            match self.eval(js).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(_) => {}
                // An invalid selector will never become valid.
                Err(BrowserError::JavaScript(e)) if e.contains("is not a valid selector") => {
                    return Err(BrowserError::JavaScript(e));
                }
                // Anything else (e.g. the context is being replaced by a navigation)
                // may pass: keep polling, and say what it was if time runs out.
                Err(e) => last_error = Some(e.to_string()),
            }
            if Instant::now() >= deadline {
                let what = match last_error {
                    Some(e) => format!("{what} (last error: {e})"),
                    None => what.to_owned(),
                };
                return Err(BrowserError::Timeout {
                    what,
                    after: self.wait_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// Waits for `css` to be visible, scrolls it into view, and clicks the centre of
    /// its box with real mouse events (moved, pressed, released).
    pub async fn click(&self, css: &str) -> Result<(), BrowserError> {
        self.wait_for(css).await?;
        let point = self
            .on_element(
                css,
                "el.scrollIntoView({ block: 'center', inline: 'center' }); \
                 const r = el.getBoundingClientRect(); \
                 return { x: r.left + r.width / 2, y: r.top + r.height / 2 };",
            )
            .await?;
        let (Some(x), Some(y)) = (point["x"].as_f64(), point["y"].as_f64()) else {
            return Err(BrowserError::Unexpected {
                method: "Runtime.evaluate".to_owned(),
                detail: format!("no box for {css:?}: {point}"),
            });
        };
        let mouse = |kind: &str, buttons: u8| json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1 });
        self.call("Input.dispatchMouseEvent", mouse("mouseMoved", 0))
            .await?;
        self.call("Input.dispatchMouseEvent", mouse("mousePressed", 1))
            .await?;
        self.call("Input.dispatchMouseEvent", mouse("mouseReleased", 0))
            .await?;
        Ok(())
    }

    /// Sets the files of the `<input type="file">` matching `css`, as if the user had
    /// chosen them (`DOM.setFileInputFiles`); `change` and `input` fire.
    pub async fn set_input_files(&self, css: &str, files: &[&Path]) -> Result<(), BrowserError> {
        self.wait_for(css).await?;
        let document = self.call("DOM.getDocument", json!({ "depth": 0 })).await?;
        let root = document["root"]["nodeId"].clone();
        let found = self
            .call(
                "DOM.querySelector",
                json!({ "nodeId": root, "selector": css }),
            )
            .await?;
        let node = found["nodeId"]
            .as_i64()
            .filter(|id| *id > 0)
            .ok_or_else(|| BrowserError::Unexpected {
                method: "DOM.querySelector".to_owned(),
                detail: format!("no element for {css:?}"),
            })?;
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({ "nodeId": node, "files": files }),
        )
        .await?;
        Ok(())
    }

    /// Focuses the element matching `css`.
    pub async fn focus(&self, css: &str) -> Result<(), BrowserError> {
        self.on_element(css, "el.focus(); return true;").await?;
        Ok(())
    }

    /// Types `text` into the focused element as real key events, one character at a
    /// time (`rawKeyDown`, `char` carrying the text, `keyUp`), so that keydown, input
    /// and keyup listeners fire. `'\n'` presses Enter.
    pub async fn type_text(&self, text: &str) -> Result<(), BrowserError> {
        for c in text.chars() {
            if c == '\n' {
                self.press("Enter").await?;
            } else {
                self.key_stroke(&keys::for_char(c)).await?;
            }
        }
        Ok(())
    }

    /// Focuses `css`, selects and deletes its current value (with a real Backspace),
    /// then types `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), BrowserError> {
        self.wait_for(css).await?;
        self.on_element(
            css,
            "el.focus(); \
             if (typeof el.select === 'function') el.select(); \
             else if (el.isContentEditable) document.execCommand('selectAll'); \
             return true;",
        )
        .await?;
        self.press("Backspace").await?;
        self.type_text(text).await
    }

    /// Presses and releases a named key: `Enter` (submits a form), `Tab` (moves
    /// focus), `Escape`, `Backspace`, `Delete`, the arrows, `Home`, `End`, `PageUp`,
    /// `PageDown`, `Space`.
    pub async fn press(&self, key: &str) -> Result<(), BrowserError> {
        let key = keys::named(key).ok_or_else(|| BrowserError::UnknownKey(key.to_owned()))?;
        self.key_stroke(&key).await
    }

    async fn key_stroke(&self, key: &Key) -> Result<(), BrowserError> {
        let base = json!({
            "key": key.key,
            "code": key.code,
            "windowsVirtualKeyCode": key.virtual_key,
            "nativeVirtualKeyCode": key.virtual_key,
        });
        let with = |kind: &str, text: Option<&str>| {
            let mut event = base.clone();
            event["type"] = Value::from(kind);
            if let Some(text) = text {
                event["text"] = Value::from(text);
                event["unmodifiedText"] = Value::from(text);
            }
            event
        };
        self.call("Input.dispatchKeyEvent", with("rawKeyDown", None))
            .await?;
        if let Some(text) = key.text.as_deref() {
            self.call("Input.dispatchKeyEvent", with("char", Some(text)))
                .await?;
        }
        self.call("Input.dispatchKeyEvent", with("keyUp", None))
            .await?;
        Ok(())
    }

    /// The `innerText` of the element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String, BrowserError> {
        let v = self.on_element(css, "return String(el.innerText);").await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The `value` of the element matching `css` (empty when it has none).
    pub async fn value(&self, css: &str) -> Result<String, BrowserError> {
        let v = self
            .on_element(css, "return String(el.value ?? '');")
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The page's current URL (`location.href`).
    pub async fn url(&self) -> Result<String, BrowserError> {
        let v = self.eval("location.href").await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Saves a PNG of the whole page (beyond the viewport) to `path`, creating its
    /// parent directories.
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(800.0).ceil().max(1.0);
        let height = size["height"].as_f64().unwrap_or(600.0).ceil().max(1.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await?;
        let data = shot["data"].as_str().unwrap_or_default();
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Unexpected {
                method: "Page.captureScreenshot".to_owned(),
                detail: format!("data is not base64: {e}"),
            })?;
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| BrowserError::Io { path, source }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io_err(dir))?;
        }
        tokio::fs::write(path, png).await.map_err(io_err(path))
    }

    /// Emulates a viewport of `width` × `height` CSS pixels (device scale 1, desktop).
    pub async fn set_viewport(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
        Ok(())
    }

    /// Runs the vendored axe-core on the current document and returns its violations.
    ///
    /// axe is injected with `Runtime.evaluate`, which the page's
    /// Content-Security-Policy does not govern: it works (and reports no CSP
    /// violation) on pages served with `script-src 'self'`.
    pub async fn axe(&self) -> Result<AxeReport, BrowserError> {
        let present = self.eval("typeof window.axe === 'object'").await?;
        if present != Value::Bool(true) {
            self.evaluate(&format!("{AXE_SOURCE}\n;undefined"), false)
                .await?;
        }
        let violations = self.eval(AXE_RUN).await?;
        let violations: Vec<AxeViolation> =
            serde_json::from_value(violations).map_err(|e| BrowserError::Unexpected {
                method: "Runtime.evaluate".to_owned(),
                detail: format!("axe.run results: {e}"),
            })?;
        Ok(AxeReport { violations })
    }

    /// Console errors (`console.error`), uncaught exceptions, and browser log errors
    /// (which include Content-Security-Policy violations and failed loads) seen on
    /// this page so far.
    #[must_use]
    pub fn console_errors(&self) -> Vec<String> {
        self.state.console_errors()
    }

    /// Closes the tab and disposes of its browser context (cookies and all).
    pub async fn close(mut self) -> Result<(), BrowserError> {
        self.closed = true;
        self.conn.unregister(&self.session_id);
        self.conn
            .call(
                "Target.closeTarget",
                json!({ "targetId": self.target_id }),
                None,
            )
            .await?;
        self.conn
            .call(
                "Target.disposeBrowserContext",
                json!({ "browserContextId": self.context_id }),
                None,
            )
            .await?;
        Ok(())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        if !self.closed {
            self.conn.unregister(&self.session_id);
            self.conn.send_and_forget(
                "Target.closeTarget",
                json!({ "targetId": self.target_id }),
                None,
            );
            self.conn.send_and_forget(
                "Target.disposeBrowserContext",
                json!({ "browserContextId": self.context_id }),
                None,
            );
        }
    }
}

/// A JavaScript string literal for `s` (JSON strings are JavaScript strings).
fn js_string(s: &str) -> String {
    Value::from(s).to_string()
}
