//! The `--progress` bar.

use minitalk_protocol::Duration;
use minitalk_sys::{self as sys, Line, STDERR};

use crate::PROGRESS;

/// The `--progress` bar, redrawn in place on stderr.
pub(crate) struct Progress {
    on: bool,
    total: Option<u64>,
    started: Duration,
    drawn: Duration,
}

impl Progress {
    /// Messages at least this long get a bar by themselves on a terminal.
    pub(crate) const AUTO_BYTES: u64 = 4096;
    const EVERY: Duration = Duration::from_millis(100);

    pub(crate) fn new(wanted: Option<bool>, total: Option<u64>, started: Duration) -> Self {
        let on = PROGRESS
            && wanted.unwrap_or_else(|| {
                sys::isatty(STDERR) && total.is_none_or(|t| t >= Self::AUTO_BYTES)
            });
        Progress {
            on,
            total,
            started,
            drawn: Duration::ZERO,
        }
    }

    pub(crate) fn update(&mut self, bytes: u64, now: Duration) {
        if !self.on || now < self.drawn + Self::EVERY {
            return;
        }
        self.drawn = now;
        Line::new()
            .str("\r\x1b[K")
            .progress(bytes, self.total, now - self.started)
            .print(STDERR);
    }

    pub(crate) fn clear(&self) {
        if self.on && self.drawn > Duration::ZERO {
            sys::write_all(STDERR, b"\r\x1b[K");
        }
    }
}
