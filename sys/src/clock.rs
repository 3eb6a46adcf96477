//! The server's clock: monotonic time less the time spent waiting for
//! stdout.
//!
//! A server whose stdout is full waits in its write, and meanwhile no
//! client is heard. That wait is nobody's silence: a client must not be
//! taken for gone because the server's reader was slow. So the receiver's
//! clock stops while a write waits ([`StallClock`]).

use minitalk_protocol::{Duration, Instant};

/// A clock that leaves out the stalls it is told of.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::{Duration, Instant};
/// use minitalk_sys::StallClock;
///
/// let ms = |n: u64| Instant::ZERO + Duration::from_millis(n);
/// let mut clock = StallClock::new();
/// assert_eq!(clock.at(ms(100)), ms(100));
/// clock.stalled(ms(100), ms(400)); // a write waited 300 ms
/// assert_eq!(clock.at(ms(500)), ms(200));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StallClock {
    /// The stalls so far, added up.
    stalled: Duration,
}

impl StallClock {
    /// No stall yet.
    pub const fn new() -> Self {
        StallClock {
            stalled: Duration::ZERO,
        }
    }

    /// The clock at monotonic time `monotonic`.
    pub fn at(&self, monotonic: Instant) -> Instant {
        monotonic.saturating_sub(self.stalled)
    }

    /// The clock now ([`crate::now`] less the stalls).
    pub fn now(&self) -> Instant {
        self.at(crate::now())
    }

    /// A stall from `started` to `ended`, both monotonic times.
    pub fn stalled(&mut self, started: Instant, ended: Instant) {
        self.stalled += ended.saturating_duration_since(started);
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
    fn stalls_add_up_and_are_left_out() {
        let mut clock = StallClock::new();
        clock.stalled(ms(10), ms(30));
        clock.stalled(ms(50), ms(55));
        assert_eq!(clock.at(ms(100)), ms(75));
    }

    #[test]
    fn the_clock_never_goes_below_zero_nor_back() {
        let mut clock = StallClock::new();
        // A stall whose end reads before its start counts as none.
        clock.stalled(ms(30), ms(10));
        assert_eq!(clock.at(ms(40)), ms(40));
        clock.stalled(ms(40), ms(100));
        assert_eq!(clock.at(ms(20)), Instant::ZERO);
        // Between two stalls the clock moves with monotonic time.
        assert!(clock.at(ms(200)) > clock.at(ms(150)));
    }

    #[test]
    fn now_leaves_out_the_stalls() {
        let mut clock = StallClock::new();
        let started = crate::now();
        clock.stalled(started, started + Duration::from_secs(60));
        assert!(clock.now() < started, "a minute left out");
    }
}
