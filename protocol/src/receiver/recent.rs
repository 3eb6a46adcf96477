//! The receiver's memory of finished messages, for late copies of their
//! last frames.
//!
//! A process's latest finished message is remembered by the CRC of its last
//! frame, so that a late copy of that frame, from a sender that missed the
//! final acknowledgement, is acknowledged again and not delivered again,
//! however late. It is remembered while its process lives: the process is
//! checked a moment after its message finished, then now and then, and
//! forgotten once it is gone or its PID belongs to another process (known by
//! an identity the caller reads, on Linux its start time). When the memory
//! fills up, every process in it is checked at once, so that those gone
//! make room; if all live, the process silent longest makes room.
//!
//! Invariant: at most one message per process.

use crate::{Instant, Pid};

/// Finished messages remembered at once.
pub(super) const RECENT: usize = 8;

/// A process's latest finished message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Finished {
    pub(super) pid: Pid,
    /// The identity of the process that sent it, if known.
    id: Option<u64>,
    /// CRC of the message's last frame.
    pub(super) crc: u32,
    /// When the process was last heard from.
    at: Instant,
    /// When to ask next whether the process still lives.
    check: Instant,
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

    /// `pid` was heard from at `now`: its finished message is among the
    /// last to make room for another.
    pub(super) fn heard_from(&mut self, pid: Pid, now: Instant) {
        for f in self.0.iter_mut() {
            match f {
                Some(f) if f.pid == pid => f.at = now,
                _ => {}
            }
        }
    }

    /// The process with PID `pid` is `id`: the finished message of another
    /// process that had this PID is forgotten.
    pub(super) fn identify(&mut self, pid: Pid, id: u64) {
        for slot in self.0.iter_mut() {
            match slot {
                Some(f) if f.pid == pid && f.id.is_none() => f.id = Some(id),
                Some(f) if f.pid == pid && f.id != Some(id) => *slot = None,
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

    /// Remembers `pid`'s latest finished message (its process is `id`, if
    /// known), in place of its previous one, or in a free slot, or in place
    /// of the one whose process has been silent longest; its process is to
    /// be checked at `check`. When that fills the last free slot, every
    /// process remembered is to be checked at once, so that those gone make
    /// room before one alive must.
    pub(super) fn remember(
        &mut self,
        pid: Pid,
        id: Option<u64>,
        crc: u32,
        now: Instant,
        check: Instant,
    ) {
        // The order of preference: this process's slot, a free one, then
        // the one whose process has been silent longest.
        let key = |f: &Option<Finished>| match f {
            Some(f) if f.pid == pid => (0, Instant::ZERO),
            None => (1, Instant::ZERO),
            Some(f) => (2, f.at),
        };
        // The first slot of least key.
        let slot = (0..RECENT)
            .min_by_key(|&i| key(&self.0[i]))
            .unwrap_or_default();
        self.0[slot] = Some(Finished {
            pid,
            id,
            crc,
            at: now,
            check,
        });
        if self.0.iter().all(Option::is_some) {
            for f in self.0.iter_mut().flatten() {
                f.check = f.check.min(now);
            }
        }
    }

    /// When a process is next to be checked for life ([`Instant::MAX`]:
    /// none is remembered).
    pub(super) fn next_probe(&self) -> Instant {
        let mut next = Instant::MAX;
        for f in self.0.iter().flatten() {
            next = next.min(f.check);
        }
        next
    }

    /// A process whose check is due at `now`; it is checked again at
    /// `next` unless it is found gone meanwhile.
    pub(super) fn take_due_probe(&mut self, now: Instant, next: Instant) -> Option<Pid> {
        let f = self.0.iter_mut().flatten().find(|f| now >= f.check)?;
        f.check = next;
        Some(f.pid)
    }

    /// How many messages `pid` has remembered (at most one).
    #[cfg(test)]
    pub(super) fn count(&self, pid: Pid) -> usize {
        self.0.iter().flatten().filter(|f| f.pid == pid).count()
    }
}
