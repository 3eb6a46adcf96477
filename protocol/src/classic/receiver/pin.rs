//! Sharing a waiting client's CPU, only when that makes it faster.
//!
//! A round trip between two processes on one CPU costs a fraction of one
//! across two CPUs, so the v1 server moves to its client's CPU while it
//! serves it. On the classic wire that helps a client that waits for each
//! reply (10 KB from a model client that waits per bit: 0.16 × v1 without,
//! 1.0 × with) and hurts one that paces itself: it shares its CPU with the
//! server and loses bits (measured: `measure_pinning` in
//! e2e/tests/classic_server.rs). From here both look alike: both are
//! answered at once, and a bit comes after each reply.
//!
//! So the receiver tries it ([`PinTrial`]) while one process alone is
//! answered per bit: it takes the median of the gaps between that
//! process's signals over [`SAMPLES`] bits, shares its CPU
//! ([`ClassicReceiver::serving`](super::ClassicReceiver::serving)), takes the
//! median over the next [`SAMPLES`] bits, and stays only if the gaps fell
//! to half or less:
//! a client that waits for us goes as fast as we answer; one that paces
//! itself keeps its pace, and is left alone after those few bits. A client
//! left alone is tried again after [`RETRY`] more bits: the scheduler may
//! have put it on the server's CPU by chance during the trial (seen: 10 µs
//! a bit for 300 bytes, then 60 µs once it moved it away), and a client
//! that paces itself spends about 3 % of its bits beside the server. The
//! trial starts again with each message, and stops as soon as a second
//! process sends or the process is not answered per bit (its CPU is then
//! nobody's).

use super::verdict::Trace;
use crate::Pid;

/// Gaps measured on each side of the move.
pub(super) const SAMPLES: usize = 16;

/// Bits after a trial that left a client alone, before the next one.
const RETRY: usize = 512;

/// Where the trial stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Measuring the gaps on our own CPU.
    Apart,
    /// On its CPU, measuring; this was the median apart (µs). The first
    /// gap may include the move: one slow gap moves no median.
    Together(u32),
    /// Stays on its CPU for this message.
    Stays,
    /// Left alone, for [`RETRY`] bits.
    Left,
}

/// The trial for one process at a time (module docs).
#[derive(Clone, Copy, Debug)]
pub(super) struct PinTrial {
    /// The process tried; 0: none.
    pid: Pid,
    phase: Phase,
    gaps: [u32; SAMPLES],
    n: usize,
}

impl PinTrial {
    /// No trial.
    pub(super) const NONE: PinTrial = PinTrial {
        pid: 0,
        phase: Phase::Apart,
        gaps: [0; SAMPLES],
        n: 0,
    };

    /// The process whose CPU to share now, if any.
    pub(super) fn serving(&self) -> Option<Pid> {
        match self.phase {
            Phase::Together(_) | Phase::Stays => Some(self.pid),
            _ => None,
        }
        .filter(|&pid| pid >= 1)
    }

    /// `pid` is forgotten (its message ended by silence): its CPU is
    /// nobody's.
    pub(super) fn forget(&mut self, pid: Pid) {
        if pid == self.pid {
            self.restart(0);
        }
    }

    fn restart(&mut self, pid: Pid) {
        // The gaps kept are overwritten before they are read.
        (self.pid, self.phase, self.n) = (pid, Phase::Apart, 0);
    }

    /// A signal of `pid` came `gap` µs after its previous one
    /// ([`Trace::FIRST`]: its first, which starts a trial); `alone`: it is
    /// the only process sending and is answered per bit. Returns the
    /// decision, once, for the trace.
    // Not inlined: called once per signal, its body is not worth copying.
    #[inline(never)]
    pub(super) fn gap(&mut self, pid: Pid, gap: u32, alone: bool) -> Option<Trace> {
        if !alone || pid != self.pid || gap == Trace::FIRST {
            // A new trial, or none if it is not alone.
            self.restart(if alone { pid } else { 0 });
            return None;
        }
        match self.phase {
            Phase::Stays => return None,
            Phase::Left => {
                self.n += 1;
                if self.n == RETRY {
                    (self.phase, self.n) = (Phase::Apart, 0);
                }
                return None;
            }
            _ => {}
        }
        // Kept in order: one insertion step per gap.
        let mut k = self.n;
        while k > 0 && self.gaps[k - 1] > gap {
            self.gaps[k] = self.gaps[k - 1];
            k -= 1;
        }
        self.gaps[k] = gap;
        self.n += 1;
        if self.n < SAMPLES {
            return None;
        }
        self.n = 0;
        // The upper of the middle two.
        let median = self.gaps[SAMPLES / 2];
        match self.phase {
            Phase::Together(apart) => {
                let stays = median.saturating_mul(2) <= apart;
                self.phase = if stays { Phase::Stays } else { Phase::Left };
                Some(Trace::Shared {
                    pid,
                    apart,
                    together: median,
                    stays,
                })
            }
            _ => {
                self.phase = Phase::Together(median);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `n` gaps of `us` µs from process 7, alone; returns the last
    /// decision seen.
    fn feed(t: &mut PinTrial, n: usize, us: u32) -> Option<Trace> {
        (0..n).filter_map(|_| t.gap(7, us, true)).last()
    }

    fn started() -> PinTrial {
        let mut t = PinTrial::NONE;
        assert_eq!(t.gap(7, Trace::FIRST, true), None);
        t
    }

    #[test]
    fn a_client_that_waits_for_us_keeps_its_cpu_shared() {
        let mut t = started();
        assert_eq!(feed(&mut t, SAMPLES, 58), None);
        assert_eq!(t.serving(), Some(7), "moved after {SAMPLES} gaps");
        // The bit that waited for the move moves no median.
        assert_eq!(feed(&mut t, 1, 5000), None);
        let decided = feed(&mut t, SAMPLES - 1, 9);
        assert_eq!(
            decided,
            Some(Trace::Shared {
                pid: 7,
                apart: 58,
                together: 9,
                stays: true
            })
        );
        assert_eq!(t.serving(), Some(7));
        assert_eq!(feed(&mut t, 100, 500), None, "decided once a message");
        assert_eq!(t.serving(), Some(7));
    }

    #[test]
    fn a_client_that_paces_itself_is_left_alone() {
        let mut t = started();
        feed(&mut t, SAMPLES, 150);
        let decided = feed(&mut t, SAMPLES, 140);
        assert!(matches!(decided, Some(Trace::Shared { stays: false, .. })));
        assert_eq!(t.serving(), None);
        // Tried again after RETRY bits: moved after SAMPLES more.
        assert_eq!(feed(&mut t, RETRY + SAMPLES - 1, 150), None);
        assert_eq!(t.serving(), None);
        feed(&mut t, 1, 150);
        assert_eq!(t.serving(), Some(7));
    }

    #[test]
    fn a_client_moved_away_after_a_trial_is_tried_again() {
        let mut t = started();
        // On the server's CPU by chance: no faster there.
        feed(&mut t, SAMPLES, 10);
        let decided = feed(&mut t, SAMPLES, 11);
        assert!(matches!(decided, Some(Trace::Shared { stays: false, .. })));
        // Then moved away by the scheduler.
        feed(&mut t, RETRY + SAMPLES, 60);
        let decided = feed(&mut t, SAMPLES, 10);
        assert!(matches!(decided, Some(Trace::Shared { stays: true, .. })));
        assert_eq!(t.serving(), Some(7));
    }

    #[test]
    fn exactly_half_stays_and_outliers_do_not_decide() {
        let mut t = started();
        // A few long gaps (a busy machine) move no median.
        for k in 0..SAMPLES {
            t.gap(7, if k % 5 == 0 { 90_000 } else { 60 }, true);
        }
        for k in 0..SAMPLES {
            t.gap(7, if k % 5 == 0 { 90_000 } else { 30 }, true);
        }
        assert_eq!(t.serving(), Some(7));
    }

    #[test]
    fn a_second_sender_or_a_new_message_ends_the_trial() {
        let mut t = started();
        feed(&mut t, SAMPLES, 58);
        assert_eq!(t.serving(), Some(7));
        assert_eq!(t.gap(7, 9, false), None);
        assert_eq!(t.serving(), None, "not alone: nobody's CPU");
        let mut t = started();
        feed(&mut t, SAMPLES, 58);
        t.gap(7, Trace::FIRST, true);
        assert_eq!(t.serving(), None, "a new message: measured apart again");
        let mut t = started();
        feed(&mut t, SAMPLES, 58);
        t.gap(8, 10, true);
        assert_eq!(t.serving(), None, "another process");
    }

    #[test]
    fn the_median_is_the_upper_of_the_middle_two() {
        for (together, stays) in [(45, true), (46, false)] {
            let mut t = started();
            // 160 down to 10 µs: the upper of the middle two is 90.
            for k in 0..SAMPLES {
                t.gap(7, (SAMPLES - k) as u32 * 10, true);
            }
            let decided = feed(&mut t, SAMPLES, together);
            let want = Trace::Shared {
                pid: 7,
                apart: 90,
                together,
                stays,
            };
            assert_eq!(decided, Some(want));
        }
    }
}
