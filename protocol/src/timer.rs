//! Named timers: each deadline has a name, and the next one is the
//! earliest set, in the manner of quinn-proto's `TimerTable`.

use core::marker::PhantomData;

use crate::Instant;

/// A set of named timers, `K` of them.
pub trait Timer: Copy + 'static {
    /// Every timer, in the order of their indexes.
    const ALL: &'static [Self];
    /// Its place in a [`TimerTable`], below `K`.
    fn index(self) -> usize;
}

/// The deadlines of timers `T`, each set or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerTable<T, const K: usize> {
    /// Each timer's deadline, [`Instant::MAX`] (a "never") if it is not
    /// set: plain values are less code to compare than `Option`s.
    at: [Instant; K],
    timers: PhantomData<T>,
}

impl<T: Timer, const K: usize> TimerTable<T, K> {
    /// No timer set.
    pub const fn new() -> Self {
        TimerTable {
            at: [Instant::MAX; K],
            timers: PhantomData,
        }
    }

    /// Sets `timer` to expire at `at` (at [`Instant::MAX`]: never, as if
    /// stopped).
    pub fn set(&mut self, timer: T, at: Instant) {
        self.at[timer.index()] = at;
    }

    /// Stops `timer`.
    pub fn stop(&mut self, timer: T) {
        self.at[timer.index()] = Instant::MAX;
    }

    /// When `timer` expires, if it is set.
    pub fn get(&self, timer: T) -> Option<Instant> {
        let at = self.at[timer.index()];
        (at != Instant::MAX).then_some(at)
    }

    /// The earliest deadline set, [`Instant::MAX`] if none is.
    pub fn earliest(&self) -> Instant {
        self.at.iter().fold(Instant::MAX, |a, &b| a.min(b))
    }

    /// The timer that expired first at `now`, if any.
    // Not inlined: the classic receiver asks each slot in a loop (16 B less
    // in the static server).
    #[inline(never)]
    pub fn expired(&self, now: Instant) -> Option<T> {
        let mut first: Option<(Instant, T)> = None;
        for &t in T::ALL {
            match self.get(t) {
                Some(at) if at <= now && first.is_none_or(|(f, _)| at < f) => first = Some((at, t)),
                _ => {}
            }
        }
        first.map(|(_, t)| t)
    }
}

impl<T: Timer, const K: usize> Default for TimerTable<T, K> {
    fn default() -> Self {
        Self::new()
    }
}
