//! The receiver's wait queue: processes that knocked while another was
//! served, in arrival order, each told to keep waiting every keepalive.
//!
//! Keepalives go out one per poll, front to back, every `keepalive`; a
//! cursor remembers how far the current round got.
//!
//! Invariants: first in, first out; a process is queued at most once; at
//! most `Q` wait.

use crate::{Duration, Pid};

/// Processes waiting their turn.
///
/// A plain array, first come first: it is built with a `memset` (a
/// `heapless::Deque` is copied in, uninitialised slots and all) and its
/// code is a fraction of a ring's. Taking the first out moves the others
/// up, at most `Q` PIDs once per message.
#[derive(Clone, Debug)]
pub(super) struct WaitQueue<const Q: usize> {
    /// `waiting[..len]` wait, in arrival order.
    waiting: [Pid; Q],
    len: usize,
    /// When the next round of keepalives is due.
    keepalive_due: Duration,
    /// Processes already told in the current round.
    cursor: usize,
}

impl<const Q: usize> WaitQueue<Q> {
    pub(super) const fn new() -> Self {
        WaitQueue {
            waiting: [0; Q],
            len: 0,
            keepalive_due: Duration::ZERO,
            cursor: 0,
        }
    }

    /// The processes that wait, in arrival order.
    fn waiting(&self) -> &[Pid] {
        // `len <= Q` always: this never fails.
        self.waiting.get(..self.len).unwrap_or_default()
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    // Not `slice::contains`: its unrolled search is three times the code.
    #[allow(clippy::manual_contains)]
    pub(super) fn contains(&self, pid: Pid) -> bool {
        self.waiting().iter().any(|&p| p == pid)
    }

    /// Queues `pid` at `now` and returns how many wait before it, or `Err`
    /// if the queue is full. The first to wait starts the keepalives,
    /// `keepalive` from now.
    pub(super) fn push(
        &mut self,
        pid: Pid,
        now: Duration,
        keepalive: Duration,
    ) -> Result<usize, ()> {
        if self.len == 0 {
            self.keepalive_due = now + keepalive;
            self.cursor = 0;
        }
        *self.waiting.get_mut(self.len).ok_or(())? = pid;
        self.len += 1;
        Ok(self.len - 1)
    }

    /// The process whose turn has come.
    pub(super) fn pop(&mut self) -> Option<Pid> {
        let next = *self.waiting().first()?;
        self.waiting.copy_within(1..self.len, 0);
        self.len -= 1;
        self.cursor = self.cursor.saturating_sub(1);
        Some(next)
    }

    /// Takes `pid` out of the queue (its process is gone).
    pub(super) fn remove(&mut self, pid: Pid) {
        let mut kept = 0;
        for i in 0..self.len {
            if self.waiting[i] != pid {
                self.waiting[kept] = self.waiting[i];
                kept += 1;
            }
        }
        self.len = kept;
        self.cursor = 0;
    }

    /// When the next keepalive is due, if anyone waits.
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        (self.len > 0).then_some(self.keepalive_due)
    }

    /// The next process to tell to keep waiting at `now`, if its keepalive
    /// is due; at the end of a round, the next round is set `keepalive`
    /// from now.
    pub(super) fn keepalive(&mut self, now: Duration, keepalive: Duration) -> Option<Pid> {
        if self.len == 0 || now < self.keepalive_due {
            return None;
        }
        match self.waiting().get(self.cursor) {
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
