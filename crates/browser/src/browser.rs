use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::conn::Connection;
use crate::{BrowserError, Page};

/// The Chromium binary used when neither [`LaunchOptions::chrome`] nor `CHROME` is set.
pub const DEFAULT_CHROME: &str = "/usr/bin/chromium";
/// How long Chromium may take to print its DevTools URL.
pub const DEFAULT_LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one CDP command may take to be answered.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a navigation may take to reach its load event.
pub const DEFAULT_NAVIGATION_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`Page::wait_for`] and [`Page::wait_until`] poll.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`Page::wait_for`] and [`Page::wait_until`] poll.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The flags every launch uses (besides `--remote-debugging-port=0`, `--user-data-dir`).
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    // As on an agent's machine at LAE: French interface, so date inputs read JJ/MM/AAAA.
    "--lang=fr-FR",
    // Several pages (one window each) run at once in tests: none may be throttled.
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
];

/// How to launch Chromium, and the timeouts its pages use.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The binary; `None` means `$CHROME`, else [`DEFAULT_CHROME`].
    pub chrome: Option<PathBuf>,
    /// Extra command-line flags, appended after the built-in ones.
    pub args: Vec<String>,
    /// See [`DEFAULT_LAUNCH_TIMEOUT`].
    pub launch_timeout: Duration,
    /// See [`DEFAULT_COMMAND_TIMEOUT`].
    pub command_timeout: Duration,
    /// See [`DEFAULT_NAVIGATION_TIMEOUT`].
    pub navigation_timeout: Duration,
    /// See [`DEFAULT_WAIT_TIMEOUT`].
    pub wait_timeout: Duration,
    /// See [`DEFAULT_POLL_INTERVAL`].
    pub poll_interval: Duration,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        Self {
            chrome: None,
            args: Vec::new(),
            launch_timeout: DEFAULT_LAUNCH_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            navigation_timeout: DEFAULT_NAVIGATION_TIMEOUT,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

impl LaunchOptions {
    /// Uses this binary instead of `$CHROME` / [`DEFAULT_CHROME`].
    #[must_use]
    pub fn chrome(mut self, path: impl Into<PathBuf>) -> Self {
        self.chrome = Some(path.into());
        self
    }

    /// Appends a command-line flag.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets the navigation timeout ([`Page::goto`], [`Page::with_navigation`]).
    #[must_use]
    pub fn navigation_timeout(mut self, timeout: Duration) -> Self {
        self.navigation_timeout = timeout;
        self
    }

    /// Sets the polling timeout ([`Page::wait_for`], [`Page::wait_until`], ...).
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets the per-command timeout.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets how long Chromium may take to start.
    #[must_use]
    pub fn launch_timeout(mut self, timeout: Duration) -> Self {
        self.launch_timeout = timeout;
        self
    }

    /// The binary that will be started: the explicit one, else `$CHROME`, else
    /// [`DEFAULT_CHROME`].
    #[must_use]
    pub fn chrome_path(&self) -> PathBuf {
        if let Some(path) = &self.chrome {
            return path.clone();
        }
        match std::env::var_os("CHROME") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => PathBuf::from(DEFAULT_CHROME),
        }
    }
}

/// A headless Chromium process and its DevTools connection.
///
/// Dropping it kills the process and removes its temporary profile.
#[derive(Debug)]
pub struct Browser {
    conn: Arc<Connection>,
    child: Child,
    options: LaunchOptions,
    /// Removed by `Drop`, once the process is gone.
    profile: Option<tempfile::TempDir>,
}

impl Browser {
    /// Launches Chromium with [`LaunchOptions::default`].
    pub async fn launch() -> Result<Self, BrowserError> {
        Self::launch_with(LaunchOptions::default()).await
    }

    /// Launches Chromium with these options.
    pub async fn launch_with(options: LaunchOptions) -> Result<Self, BrowserError> {
        let path = options.chrome_path();
        let profile = tempfile::Builder::new()
            .prefix("lae-browser-")
            .tempdir()
            .map_err(BrowserError::Profile)?;
        let mut child = Command::new(&path)
            .args(FLAGS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(&options.args)
            .arg("about:blank")
            // Chromium on Linux takes its interface language from the environment
            // (`--lang` alone is not enough): French, with Debian's chromium-l10n.
            .env("LANGUAGE", "fr")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BrowserError::Launch {
                path: path.clone(),
                source,
            })?;
        let Some(stderr) = child.stderr.take() else {
            return Err(BrowserError::NoDevToolsUrl {
                path,
                reason: "its stderr could not be read".to_owned(),
                stderr: String::new(),
            });
        };
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let found = tokio::time::timeout(options.launch_timeout, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("DevTools listening on ").nth(1) {
                    return Some(rest.trim().to_owned());
                }
                seen.push(line);
            }
            None
        })
        .await;
        let url = match found {
            Ok(Some(url)) => url,
            Ok(None) => {
                return Err(BrowserError::NoDevToolsUrl {
                    path,
                    reason: "it exited".to_owned(),
                    stderr: seen.join("\n"),
                });
            }
            Err(_) => {
                return Err(BrowserError::NoDevToolsUrl {
                    path,
                    reason: format!("timed out after {:?}", options.launch_timeout),
                    stderr: seen.join("\n"),
                });
            }
        };
        // Keep draining stderr, or Chromium blocks once the pipe is full.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let conn = Connection::connect(&url, options.command_timeout).await?;
        Ok(Self {
            conn: Arc::new(conn),
            child,
            options,
            profile: Some(profile),
        })
    }

    /// Opens a page in a fresh browser context: its own cookies, storage and cache,
    /// so that pages opened by several calls can be logged in as different users.
    pub async fn new_page(&self) -> Result<Page, BrowserError> {
        let context = self
            .conn
            .call("Target.createBrowserContext", json!({}), None)
            .await?;
        let context_id = string_field(&context, "browserContextId", "Target.createBrowserContext")?;
        let target = self
            .conn
            .call(
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context_id }),
                None,
            )
            .await?;
        let target_id = string_field(&target, "targetId", "Target.createTarget")?;
        let attached = self
            .conn
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                None,
            )
            .await?;
        let session_id = string_field(&attached, "sessionId", "Target.attachToTarget")?;
        Page::init(
            Arc::clone(&self.conn),
            session_id,
            target_id,
            context_id,
            &self.options,
        )
        .await
    }

    /// Closes Chromium cleanly and waits for it to exit (dropping also works, by
    /// killing it).
    pub async fn close(mut self) -> Result<(), BrowserError> {
        let _ = self.conn.call("Browser.close", json!({}), None).await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // kill_on_drop would also kill it, but without waiting: wait a little so the
        // profile directory is not in use any more when it is removed.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.start_kill();
            for _ in 0..200 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Chromium's helper processes may still write to the profile for a moment
        // after the main one exits: retry instead of leaving it behind.
        if let Some(profile) = self.profile.take() {
            let path = profile.keep();
            for _ in 0..100 {
                match std::fs::remove_dir_all(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => break,
                }
            }
        }
    }
}

pub(crate) fn string_field(
    value: &Value,
    field: &str,
    method: &str,
) -> Result<String, BrowserError> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BrowserError::Unexpected {
            method: method.to_owned(),
            detail: format!("no string field {field:?} in {value}"),
        })
}
