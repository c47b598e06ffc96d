//! Test support: drives Debian's headless Chromium over the Chrome DevTools Protocol
//! (CDP) for end-to-end tests of server-rendered pages, from `cargo test`.
//!
//! No browser is ever downloaded: the binary is `/usr/bin/chromium` (Debian's
//! `chromium` package), or whatever the `CHROME` environment variable names. When it
//! is missing, [`Browser::launch`] returns [`BrowserError::Launch`], so tests fail
//! instead of silently skipping.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lae_browser::BrowserError> {
//! let browser = lae_browser::Browser::launch().await?;
//! let page = browser.new_page().await?;
//! assert_eq!(page.goto("http://127.0.0.1:8080/").await?, 200);
//! page.fill("#q", "hello").await?;
//! let status = page.with_navigation(page.press("Enter")).await?;
//! assert_eq!(status, 200);
//! assert!(page.axe().await?.serious_or_critical().is_empty());
//! # Ok(()) }
//! ```

mod axe;
mod browser;
mod conn;
mod error;
mod keys;
mod page;

pub use axe::{AXE_CORE_VERSION, AxeReport, AxeViolation};
pub use browser::{
    Browser, DEFAULT_CHROME, DEFAULT_COMMAND_TIMEOUT, DEFAULT_LAUNCH_TIMEOUT,
    DEFAULT_NAVIGATION_TIMEOUT, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, LaunchOptions,
};
pub use error::BrowserError;
pub use page::Page;
