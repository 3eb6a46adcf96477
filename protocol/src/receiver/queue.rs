//! The receiver's wait queue: processes that knocked while another was
//! served, in arrival order, each told to keep waiting every keepalive.
//!
//! Keepalives go out one per poll, front to back, every `keepalive`; a
//! cursor remembers how far the current round got.
//!
//! Invariants: first in, first out; a process is queued at most once; at
//! most `Q` wait.

use heapless::Vec;

use crate::{Duration, Instant, Pid};

/// Processes waiting their turn, first come first.
#[derive(Clone, Debug)]
pub(super) struct WaitQueue<const Q: usize> {
    /// Those that wait, in arrival order, the first at index 0 (taking it
    /// moves the others up: less code than a ring buffer, and at most `Q`
    /// PIDs move, once per session).
    waiting: Vec<Pid, Q>,
    /// When the next round of keepalives is due.
    keepalive_due: Instant,
    /// Processes already told in the current round.
    cursor: usize,
}

impl<const Q: usize> WaitQueue<Q> {
    pub(super) const fn new() -> Self {
        WaitQueue {
            waiting: Vec::new(),
            keepalive_due: Instant::ZERO,
            cursor: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    // Not `<[Pid]>::contains`: on integers it is an unrolled search, 64 B
    // more in the static server.
    #[allow(clippy::manual_contains)]
    pub(super) fn contains(&self, pid: Pid) -> bool {
        self.waiting.iter().any(|&p| p == pid)
    }

    /// Queues `pid` at `now` and returns how many wait before it, or `Err`
    /// if the queue is full. The first to wait starts the keepalives,
    /// `keepalive` from now.
    pub(super) fn push(
        &mut self,
        pid: Pid,
        now: Instant,
        keepalive: Duration,
    ) -> Result<usize, ()> {
        if self.waiting.is_empty() {
            self.keepalive_due = now + keepalive;
            self.cursor = 0;
        }
        self.waiting.push(pid).map_err(|_| ())?;
        Ok(self.waiting.len() - 1)
    }

    /// The process whose turn has come.
    pub(super) fn pop(&mut self) -> Option<Pid> {
        let next = *self.waiting.first()?;
        self.waiting.remove(0);
        self.cursor = self.cursor.saturating_sub(1);
        Some(next)
    }

    /// Takes `pid` out of the queue (its process is gone).
    // Not inlined into its one caller: 16 B less in the static server.
    #[inline(never)]
    pub(super) fn remove(&mut self, pid: Pid) {
        self.waiting.retain(|&p| p != pid);
        self.cursor = 0;
    }

    /// When the next keepalive is due, if anyone waits.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        (!self.waiting.is_empty()).then_some(self.keepalive_due)
    }

    /// The next process to tell to keep waiting at `now`, if its keepalive
    /// is due; at the end of a round, the next round is set `keepalive`
    /// from now.
    pub(super) fn keepalive(&mut self, now: Instant, keepalive: Duration) -> Option<Pid> {
        if self.waiting.is_empty() || now < self.keepalive_due {
            return None;
        }
        match self.waiting.get(self.cursor) {
            Some(&pid) => {
                self.cursor += 1;
                Some(pid)
            }
            None => {
                self.cursor = 0;
                self.keepalive_due = now + keepalive;
                None
            }
        }
    }
}
