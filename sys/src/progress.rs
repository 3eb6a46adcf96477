//! The client's `--progress` bar: when it is drawn, and what clears it.
//!
//! The bar itself is [`Line::progress`]; here is the rest of it: whether a
//! bar is wanted at all, and a redraw at most every [`ProgressBar::EVERY`].

use minitalk_protocol::{Duration, Instant};

use crate::{write_all, Line, STDERR};

/// What moves the cursor back to the start of the line and clears it.
const CLEAR: &[u8] = b"\r\x1b[K";

/// A progress bar redrawn in place on stderr.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::{Duration, Instant};
/// use minitalk_sys::ProgressBar;
///
/// let ms = |n: u64| Instant::ZERO + Duration::from_millis(n);
/// let mut bar = ProgressBar::new(Some(true), || false, Some(1000), ms(0));
/// assert!(bar.frame(500, ms(50)).is_none(), "not yet: at most every 100 ms");
/// let line = bar.frame(500, ms(150)).unwrap();
/// assert!(line.as_bytes().starts_with(b"\r\x1b[K[###"));
/// assert!(bar.frame(600, ms(200)).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressBar {
    on: bool,
    total: Option<u64>,
    started: Instant,
    /// When it was last drawn ([`Instant::ZERO`]: never).
    drawn: Instant,
}

impl ProgressBar {
    /// Messages at least this long get a bar by themselves on a terminal.
    pub const AUTO_BYTES: u64 = 4096;
    /// The least time between two redraws.
    pub const EVERY: Duration = Duration::from_millis(100);

    /// A bar for a message of `total` bytes (if known) started at
    /// `started`. `wanted`: `--progress` (`Some(true)`), `--no-progress`
    /// (`Some(false)`), or neither: then a bar is drawn on a terminal
    /// (`tty`, asked only then) for a message of [`Self::AUTO_BYTES`] or
    /// more, or of unknown size.
    pub fn new(
        wanted: Option<bool>,
        tty: impl FnOnce() -> bool,
        total: Option<u64>,
        started: Instant,
    ) -> Self {
        let on = wanted.unwrap_or_else(|| tty() && total.is_none_or(|t| t >= Self::AUTO_BYTES));
        ProgressBar {
            on,
            total,
            started,
            drawn: Instant::ZERO,
        }
    }

    /// Whether a bar is drawn at all.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The line to draw with `bytes` sent at `now`, if a redraw is due.
    pub fn frame(&mut self, bytes: u64, now: Instant) -> Option<Line> {
        if !self.on || now < self.drawn + Self::EVERY {
            return None;
        }
        self.drawn = now;
        let mut l = Line::new();
        l.bytes(CLEAR)
            .progress(bytes, self.total, now - self.started);
        Some(l)
    }

    /// Draws the bar on stderr if a redraw is due.
    pub fn update(&mut self, bytes: u64, now: Instant) {
        if let Some(mut l) = self.frame(bytes, now) {
            l.print(STDERR);
        }
    }

    /// What clears the bar, if one was drawn.
    pub fn clearing(&self) -> Option<&'static [u8]> {
        (self.on && self.drawn > Instant::ZERO).then_some(CLEAR)
    }

    /// Clears the bar from stderr, if one was drawn.
    pub fn clear(&self) {
        if let Some(clear) = self.clearing() {
            write_all(STDERR, clear);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The point in time `n` ms after the origin.
    const fn ms(n: u64) -> Instant {
        Instant::ZERO.saturating_add(Duration::from_millis(n))
    }

    #[test]
    fn asked_for_or_not_the_terminal_does_not_count() {
        let never = || -> bool { panic!("the terminal is not asked") };
        assert!(ProgressBar::new(Some(true), never, Some(1), ms(0)).is_on());
        assert!(!ProgressBar::new(Some(false), never, None, ms(0)).is_on());
    }

    #[test]
    fn by_itself_on_a_terminal_for_long_or_unknown_messages() {
        let on = |tty: bool, total| ProgressBar::new(None, || tty, total, ms(0)).is_on();
        assert!(on(true, None));
        assert!(on(true, Some(ProgressBar::AUTO_BYTES)));
        assert!(!on(true, Some(ProgressBar::AUTO_BYTES - 1)));
        assert!(!on(false, None));
    }

    #[test]
    fn redrawn_at_most_every_100_ms_and_cleared_only_if_drawn() {
        let mut bar = ProgressBar::new(Some(true), || true, Some(100), ms(0));
        assert_eq!(bar.clearing(), None, "nothing drawn yet");
        assert!(bar.frame(10, ms(99)).is_none());
        assert!(bar.frame(10, ms(100)).is_some());
        assert!(bar.frame(20, ms(199)).is_none());
        let line = bar.frame(50, ms(200)).unwrap();
        assert!(line.as_bytes().starts_with(CLEAR));
        assert!(
            core::str::from_utf8(line.as_bytes())
                .unwrap()
                .contains(" 50%"),
            "{:?}",
            line.as_bytes()
        );
        assert_eq!(bar.clearing(), Some(CLEAR));
        let mut off = ProgressBar::new(Some(false), || true, Some(100), ms(0));
        assert!(off.frame(10, ms(500)).is_none());
        assert_eq!(off.clearing(), None);
    }
}
