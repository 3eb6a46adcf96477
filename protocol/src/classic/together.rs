//! Signals whose order the kernel chose, not the client.
//!
//! A server that blocks its signals between wake-ups finds them pending;
//! if `SIGUSR1` and `SIGUSR2` from one client are pending at once, the
//! kernel delivers them in its own order (`SIGUSR1` first), and two bits may
//! have been swapped: no count shows it. [`PendingTogether`] remembers the
//! clients this happened to, so that the server can say so at the end of
//! their message.

use crate::Pid;

/// Senders whose `SIGUSR1` and `SIGUSR2` were pending at once, up to `N`
/// of them (the oldest is forgotten first).
///
/// # Examples
///
/// ```
/// use minitalk_protocol::classic::PendingTogether;
///
/// let mut together: PendingTogether<8> = PendingTogether::new();
/// together.taken(42, false);
/// assert!(!together.take(42));
/// together.taken(42, true); // SIGUSR2 was pending with it
/// assert!(together.take(42), "said at the end of its message");
/// assert!(!together.take(42), "and only once");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingTogether<const N: usize> {
    pids: [Option<Pid>; N],
    /// Where the next one goes.
    next: usize,
}

impl<const N: usize> PendingTogether<N> {
    /// Nobody yet.
    pub const fn new() -> Self {
        PendingTogether {
            pids: [None; N],
            next: 0,
        }
    }

    /// A signal from `pid` was taken; `other_pending`: the other one of
    /// `SIGUSR1` and `SIGUSR2` was pending with it.
    pub fn taken(&mut self, pid: Pid, other_pending: bool) {
        if N == 0 || !other_pending || self.pids.contains(&Some(pid)) {
            return;
        }
        self.pids[self.next % N] = Some(pid);
        self.next = self.next.wrapping_add(1);
    }

    /// At the end of `pid`'s message: whether the order of some of its
    /// signals was lost. Forgets it.
    pub fn take(&mut self, pid: Pid) -> bool {
        match self.pids.iter_mut().find(|p| **p == Some(pid)) {
            Some(p) => {
                *p = None;
                true
            }
            None => false,
        }
    }
}

impl<const N: usize> Default for PendingTogether<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signals_pending_together_are_remembered() {
        let mut t: PendingTogether<2> = PendingTogether::new();
        t.taken(1, false);
        t.taken(2, true);
        t.taken(2, true); // remembered once
        assert!(!t.take(1));
        assert!(t.take(2));
        assert!(!t.take(2));
    }

    #[test]
    fn the_oldest_is_forgotten_when_full() {
        let mut t: PendingTogether<2> = PendingTogether::new();
        for pid in [1, 2, 3] {
            t.taken(pid, true);
        }
        assert!(!t.take(1), "overwritten by 3");
        assert!(t.take(2) && t.take(3));
    }

    #[test]
    fn a_zero_sized_memory_remembers_nothing() {
        let mut t: PendingTogether<0> = PendingTogether::new();
        t.taken(1, true);
        assert!(!t.take(1));
    }
}
