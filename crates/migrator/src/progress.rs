//! Progress: a bar on a terminal, periodic log lines otherwise (a CI log or a file
//! would fill up with a bar's redraws).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::options::ProgressMode;

/// How often a log line is written in log mode.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    total: u64,
    done: u64,
    stage: &'static str,
    last_log: Instant,
    started: Instant,
}

impl Progress {
    pub fn new(mode: ProgressMode, total: u64) -> Self {
        let (bar, log) = match mode {
            ProgressMode::Off => (false, false),
            ProgressMode::Log => (false, true),
            ProgressMode::Bar => (true, false),
            ProgressMode::Auto if std::io::stderr().is_terminal() => (true, false),
            ProgressMode::Auto => (false, true),
        };
        let bar = bar.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:28} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            log,
            total,
            done: 0,
            stage: "",
            last_log: Instant::now(),
            started: Instant::now(),
        }
    }

    /// Names what is being imported (e.g. `vente.offres`).
    pub fn stage(&mut self, stage: &'static str) {
        self.stage = stage;
        if let Some(bar) = &self.bar {
            bar.set_message(stage);
        }
        if self.log {
            tracing::info!(stage, done = self.done, total = self.total, "importing");
        }
    }

    /// One more legacy row read.
    pub fn row(&mut self) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            // Redrawing per row would cost more than reading it.
            if self.done.is_multiple_of(256) {
                bar.set_position(self.done);
            }
        }
        if self.log && self.done.is_multiple_of(1024) && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                stage = self.stage,
                done = self.done,
                total = self.total,
                rows_per_second = rate.round(),
                "import progress"
            );
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.set_position(self.done);
            bar.finish_with_message("done");
        }
    }
}
