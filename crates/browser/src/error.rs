use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while driving Chromium.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// The Chromium binary could not be started (usually: it is not installed).
    #[error(
        "could not start Chromium at {}: {source} (install Debian's `chromium` package, or set CHROME to the path of a Chromium/Chrome binary; nothing is ever downloaded)",
        path.display()
    )]
    Launch {
        /// The binary that was tried.
        path: PathBuf,
        /// Why spawning it failed.
        source: std::io::Error,
    },
    /// Chromium started but never printed `DevTools listening on ws://...`.
    #[error("Chromium at {} did not print its DevTools URL ({reason}); its stderr was:\n{stderr}", path.display())]
    NoDevToolsUrl {
        /// The binary that was started.
        path: PathBuf,
        /// Exited, or timed out.
        reason: String,
        /// What it printed on stderr until then.
        stderr: String,
    },
    /// The temporary profile directory could not be created.
    #[error("could not create a temporary Chromium profile directory: {0}")]
    Profile(#[source] std::io::Error),
    /// The DevTools websocket could not be opened.
    #[error("could not connect to the DevTools websocket {url}: {message}")]
    Connect {
        /// The `ws://` URL Chromium printed.
        url: String,
        /// The websocket client's error.
        message: String,
    },
    /// The DevTools connection closed (Chromium exited or crashed).
    #[error("the DevTools connection to Chromium is closed (did the browser exit or crash?)")]
    Disconnected,
    /// Chromium answered a CDP command with an error.
    #[error("CDP command {method} failed: {message} (code {code})")]
    Protocol {
        /// The CDP method, e.g. `Page.navigate`.
        method: String,
        /// CDP error code.
        code: i64,
        /// CDP error message.
        message: String,
    },
    /// Chromium answered a CDP command with something this crate did not expect.
    #[error("unexpected reply to CDP command {method}: {detail}")]
    Unexpected {
        /// The CDP method.
        method: String,
        /// What was wrong with it.
        detail: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// A navigation failed at the network level (connection refused, DNS, aborted...).
    #[error("navigation to {url} failed: {error}")]
    Navigation {
        /// Where the page was going.
        url: String,
        /// Chromium's error text, e.g. `net::ERR_CONNECTION_REFUSED`.
        error: String,
    },
    /// Evaluated JavaScript threw.
    #[error("JavaScript exception: {0}")]
    JavaScript(String),
    /// No element matches a CSS selector.
    #[error("no element matches the CSS selector {0:?}")]
    NotFound(String),
    /// [`Page::press`](crate::Page::press) was given a key it does not know.
    #[error(
        "unknown key {0:?} (known: Enter, Tab, Escape, Backspace, Delete, ArrowUp, ArrowDown, ArrowLeft, ArrowRight, Home, End, PageUp, PageDown, Space)"
    )]
    UnknownKey(String),
    /// A file (screenshot) could not be written.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
