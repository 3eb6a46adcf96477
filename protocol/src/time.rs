//! [`Instant`] and [`Duration`]: the protocol's points in time and
//! intervals, each one `u64` of nanoseconds.

use core::fmt;
use core::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

/// An interval in nanoseconds (a point in time is an [`Instant`]).
///
/// This type has the subset of [`core::time::Duration`]'s
/// API that minitalk uses, with the same names, but it is one `u64` of
/// nanoseconds (584 years) instead of seconds plus nanoseconds. That spares
/// every comparison and sum the carry between the two fields, which is
/// about 1.2 KB of each static binary (docs/size.md).
///
/// Arithmetic saturates instead of panicking or wrapping: `Duration::MAX`
/// stands for "forever", and `a - b` with `b > a` is zero.
///
/// ```
/// use minitalk_protocol::Duration;
/// let t = Duration::from_millis(1500);
/// assert_eq!(t.as_secs(), 1);
/// assert_eq!(t.subsec_nanos(), 500_000_000);
/// assert_eq!(t - Duration::from_secs(2), Duration::ZERO);
/// assert_eq!(Duration::MAX + t, Duration::MAX);
/// assert_eq!(core::time::Duration::from(t), core::time::Duration::from_millis(1500));
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration(0);
    /// The largest value: "forever".
    pub const MAX: Duration = Duration(u64::MAX);

    /// `secs` seconds and `nanos` nanoseconds (saturating).
    pub const fn new(secs: u64, nanos: u32) -> Duration {
        Duration(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(nanos as u64),
        )
    }

    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Duration {
        Duration::new(secs, 0)
    }

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms.saturating_mul(1_000_000))
    }

    /// `us` microseconds.
    pub const fn from_micros(us: u64) -> Duration {
        Duration(us.saturating_mul(1_000))
    }

    /// `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Duration {
        Duration(ns)
    }

    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// The nanoseconds beyond the whole seconds.
    pub const fn subsec_nanos(self) -> u32 {
        (self.0 % NANOS_PER_SEC) as u32
    }

    /// Whole milliseconds.
    pub const fn as_millis(self) -> u128 {
        (self.0 / 1_000_000) as u128
    }

    /// Whole microseconds.
    pub const fn as_micros(self) -> u128 {
        (self.0 / 1_000) as u128
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> u128 {
        self.0 as u128
    }

    /// `self - other`, or zero if `other` is larger.
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }

    /// `self + other`, or [`Duration::MAX`] if that overflows.
    pub const fn saturating_add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }

    /// `self - other`, or `None` if `other` is larger.
    pub const fn checked_sub(self, other: Duration) -> Option<Duration> {
        match self.0.checked_sub(other.0) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }

    /// `self + other`, or `None` if that overflows.
    pub const fn checked_add(self, other: Duration) -> Option<Duration> {
        match self.0.checked_add(other.0) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }
}

impl Add for Duration {
    type Output = Duration;
    /// Saturating.
    fn add(self, other: Duration) -> Duration {
        self.saturating_add(other)
    }
}

impl Sub for Duration {
    type Output = Duration;
    /// Saturating: zero if `other` is larger.
    fn sub(self, other: Duration) -> Duration {
        self.saturating_sub(other)
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, other: Duration) {
        *self = *self + other;
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, other: Duration) {
        *self = *self - other;
    }
}

impl Mul<u32> for Duration {
    type Output = Duration;
    /// Saturating.
    fn mul(self, n: u32) -> Duration {
        Duration(self.0.saturating_mul(n as u64))
    }
}

impl Div<u32> for Duration {
    type Output = Duration;
    /// Rounds down; panics if `n` is zero, as integer division does.
    fn div(self, n: u32) -> Duration {
        Duration(self.0 / n as u64)
    }
}

impl From<core::time::Duration> for Duration {
    /// Saturating at [`Duration::MAX`].
    fn from(d: core::time::Duration) -> Duration {
        Duration::new(d.as_secs(), d.subsec_nanos())
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> core::time::Duration {
        core::time::Duration::from_nanos(d.0)
    }
}

impl fmt::Debug for Duration {
    /// As [`core::time::Duration`] shows itself: `1.5s`, `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&core::time::Duration::from(*self), f)
    }
}

/// A point in time: nanoseconds since a fixed origin.
///
/// The state machines take the time as an argument (they never read a
/// clock), as an offset from any fixed origin: the monotonic clock, or a
/// simulation's own. Like [`Duration`] it is one `u64` of nanoseconds, and
/// it has the subset of `std::time::Instant`'s API that minitalk uses, with
/// the same names; unlike `std`'s, it has an origin ([`Instant::ZERO`]) and
/// a "never" ([`Instant::MAX`]), and its arithmetic saturates.
///
/// ```
/// use minitalk_protocol::{Duration, Instant};
/// let start = Instant::from_nanos(1_000);
/// let later = start + Duration::from_micros(3);
/// assert_eq!(later - start, Duration::from_nanos(3_000));
/// assert_eq!(start - later, Duration::ZERO);
/// assert_eq!(later.saturating_duration_since(start), Duration::from_micros(3));
/// assert_eq!(start.checked_duration_since(later), None);
/// assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
/// assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
/// assert!(start < later);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Instant = Instant(0);
    /// The latest point in time: "never" as a deadline.
    pub const MAX: Instant = Instant(u64::MAX);

    /// `ns` nanoseconds after the origin.
    ///
    /// ```
    /// use minitalk_protocol::{Duration, Instant};
    /// assert_eq!(Instant::from_nanos(5) - Instant::ZERO, Duration::from_nanos(5));
    /// ```
    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// The time since the origin.
    ///
    /// ```
    /// use minitalk_protocol::{Duration, Instant};
    /// let t = Instant::ZERO + Duration::from_millis(2);
    /// assert_eq!(t.since_zero(), Duration::from_millis(2));
    /// ```
    pub const fn since_zero(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(n) => Some(Duration(n)),
            None => None,
        }
    }

    /// `d` after `self`, or [`Instant::MAX`] if that overflows.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// `d` before `self`, or [`Instant::ZERO`] if that is before the origin.
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0))
    }

    /// `d` after `self`, or `None` if that overflows.
    pub const fn checked_add(self, d: Duration) -> Option<Instant> {
        match self.0.checked_add(d.0) {
            Some(n) => Some(Instant(n)),
            None => None,
        }
    }

    /// `d` before `self`, or `None` if that is before the origin.
    pub const fn checked_sub(self, d: Duration) -> Option<Instant> {
        match self.0.checked_sub(d.0) {
            Some(n) => Some(Instant(n)),
            None => None,
        }
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// Saturating: zero if `earlier` is later.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating at [`Instant::MAX`].
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturating at [`Instant::ZERO`].
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl fmt::Debug for Instant {
    /// The time since the origin, as [`Duration`] shows itself: `1.5s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.since_zero(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_core_duration() {
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_500_000_001,
            u64::MAX / 3,
        ] {
            let ours = Duration::from_nanos(ns);
            let core = core::time::Duration::from_nanos(ns);
            assert_eq!(ours.as_secs(), core.as_secs());
            assert_eq!(ours.subsec_nanos(), core.subsec_nanos());
            assert_eq!(ours.as_millis(), core.as_millis());
            assert_eq!(ours.as_micros(), core.as_micros());
            assert_eq!(Duration::from(core), ours);
            assert_eq!(core::time::Duration::from(ours), core);
        }
        assert_eq!(Duration::from_millis(1500), Duration::new(1, 500_000_000));
        assert_eq!(Duration::from_micros(7), Duration::from_nanos(7_000));
        assert_eq!(Duration::from_millis(3) / 2, Duration::from_micros(1500));
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let one = Duration::from_secs(1);
        assert_eq!(Duration::ZERO - one, Duration::ZERO);
        assert_eq!(Duration::MAX + one, Duration::MAX);
        assert_eq!(Duration::MAX * 2, Duration::MAX);
        assert_eq!(Duration::ZERO.checked_sub(one), None);
        assert_eq!(Duration::MAX.checked_add(one), None);
        assert_eq!(Duration::new(u64::MAX, 0), Duration::MAX);
        assert_eq!(Duration::from(core::time::Duration::MAX), Duration::MAX);
        let mut t = one;
        t -= one * 3;
        assert_eq!(t, Duration::ZERO);
        t += one;
        assert_eq!(t, one);
    }

    #[test]
    fn instants_and_durations_combine_and_saturate() {
        let t = Instant::from_nanos(10);
        let d = Duration::from_nanos(4);
        assert_eq!((t + d) - t, d);
        assert_eq!(t - d, Instant::from_nanos(6));
        assert_eq!(Instant::ZERO - d, Instant::ZERO);
        assert_eq!(Instant::MAX + d, Instant::MAX);
        assert_eq!(Instant::ZERO.checked_sub(d), None);
        assert_eq!(t.checked_sub(d), Some(Instant::from_nanos(6)));
        assert_eq!(t.checked_add(d), Some(Instant::from_nanos(14)));
        assert_eq!(t.checked_duration_since(t + d), None);
        assert_eq!((t + d).checked_duration_since(t), Some(d));
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
        let mut u = t;
        u += d;
        u -= d * 2;
        assert_eq!(u, Instant::from_nanos(6));
    }

    #[test]
    fn shows_itself_like_core_duration() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", Duration::from_millis(1500)), "1.5s");
        assert_eq!(format!("{:?}", Duration::from_millis(250)), "250ms");
        assert_eq!(
            format!("{:?}", Instant::ZERO + Duration::from_millis(250)),
            "250ms"
        );
    }
}
