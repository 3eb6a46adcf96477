//! The receiver's memory of finished messages, for late copies of their
//! last frames.
//!
//! A process's latest finished message is remembered by the CRC of its last
//! frame, so that a late copy of that frame, from a sender that missed the
//! final acknowledgement, is acknowledged again and not delivered again. It
//! is forgotten once its process has been silent longer than a time to live,
//! or as soon as the process is reported gone; a process is checked for life
//! once, a moment after its message finished. A full memory makes room by
//! forgetting the process silent longest.
//!
//! Invariant: at most one message per process.

use crate::{Duration, Pid};

/// Finished messages remembered at once.
pub(super) const RECENT: usize = 8;

/// A process's latest finished message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Finished {
    pub(super) pid: Pid,
    /// CRC of the message's last frame.
    pub(super) crc: u32,
    /// When the process was last heard from.
    at: Duration,
    /// When to ask whether the process still lives; `None` once asked.
    probe: Option<Duration>,
}

/// The latest finished message of up to [`RECENT`] processes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Recent([Option<Finished>; RECENT]);

impl Recent {
    pub(super) const fn new() -> Self {
        Recent([None; RECENT])
    }

    /// The finished message remembered for `pid`, if any.
    pub(super) fn get(&self, pid: Pid) -> Option<&Finished> {
        self.0.iter().flatten().find(|f| f.pid == pid)
    }

    /// `pid` was heard from at `now`: its finished message is remembered
    /// from now on, unless it was silent longer than `ttl`, and then it is
    /// forgotten.
    pub(super) fn heard_from(&mut self, pid: Pid, now: Duration, ttl: Duration) {
        for slot in self.0.iter_mut() {
            match slot {
                Some(f) if f.pid == pid && now.saturating_sub(f.at) <= ttl => f.at = now,
                Some(f) if f.pid == pid => *slot = None,
                _ => {}
            }
        }
    }

    /// Forgets `pid`'s finished message (its process is gone).
    pub(super) fn forget(&mut self, pid: Pid) {
        for slot in self.0.iter_mut() {
            if slot.is_some_and(|f| f.pid == pid) {
                *slot = None;
            }
        }
    }

    /// Remembers `pid`'s latest finished message, in place of its previous
    /// one, or in a free slot, or in place of the one whose process has been
    /// silent longest; its process is to be checked at `probe`.
    pub(super) fn remember(&mut self, pid: Pid, crc: u32, now: Duration, probe: Duration) {
        let key = |f: &Option<Finished>| match f {
            Some(f) if f.pid == pid => (0, Duration::ZERO),
            None => (1, Duration::ZERO),
            Some(f) => (2, f.at),
        };
        let slot = (0..RECENT).min_by_key(|&i| key(&self.0[i])).unwrap_or(0);
        self.0[slot] = Some(Finished {
            pid,
            crc,
            at: now,
            probe: Some(probe),
        });
    }

    /// When a process is next to be checked for life.
    pub(super) fn next_probe(&self) -> Option<Duration> {
        self.0.iter().flatten().filter_map(|f| f.probe).min()
    }

    /// A process whose check is due at `now`, checked only once.
    pub(super) fn take_due_probe(&mut self, now: Duration) -> Option<Pid> {
        let due = |f: &&mut Finished| f.probe.is_some_and(|p| now >= p);
        let f = self.0.iter_mut().flatten().find(due)?;
        f.probe = None;
        Some(f.pid)
    }

    /// How many messages `pid` has remembered (at most one).
    #[cfg(test)]
    pub(super) fn count(&self, pid: Pid) -> usize {
        self.0.iter().flatten().filter(|f| f.pid == pid).count()
    }
}
