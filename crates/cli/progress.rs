//! Progress for long work: a bar on a terminal, plain lines otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::log::Log;

/// A bar of bytes to read with a running row count, or nothing when stderr is not a terminal.
pub(crate) struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub(crate) fn new(log: &Log) -> Self {
        let show = !log.is_quiet() && std::io::stderr().is_terminal();
        Bar { bar: show.then(ProgressBar::hidden) }
    }

    /// Starts the bar at `total` bytes.
    pub(crate) fn start(&self, total: u64, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {prefix} ({eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(message.to_owned());
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    pub(crate) fn update(&self, bytes: u64, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_prefix(format!("{rows} rows"));
        }
    }

    /// Prints a line above the bar (or plainly, without one).
    pub(crate) fn line(&self, log: &Log, text: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => log.info(text),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
