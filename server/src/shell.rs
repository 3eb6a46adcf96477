//! The server's I/O, lent to the protocol's server and to the classic
//! receiver, which share one trait ([`Effects`]): system calls, the clock,
//! and the narrator of `--trace` and `--stats` (and of the classic wire's
//! verdicts and trace, in `classic.rs`).

use core::sync::atomic::Ordering;

#[cfg(feature = "classic")]
use minitalk_protocol::classic::{Trace, Verdict};
use minitalk_protocol::{Aborted, Catches, Effects, Heard, Instant, Output, Pid, Signal};
use minitalk_sys::write_wait::Written;
use minitalk_sys::{self as sys, SigSet, StallClock, STDOUT};

use crate::trace::Narrator;
use crate::STOP;

/// The server's I/O: system calls, and the narrator for `--trace` and
/// `--stats`.
pub struct Shell {
    pub narrator: Narrator,
    /// The receiver's clock: it leaves out the time spent waiting for
    /// stdout to take a message, which is nobody's silence.
    pub clock: StallClock,
    /// The signals pending at this wake-up, read once per wake-up when the
    /// wire asks for them (the classic one), else empty.
    pub pending: SigSet,
    /// Bytes of the current message written to stdout so far.
    pub printed: u64,
    /// A stop cut the current message short.
    pub cut: bool,
    /// Classic senders whose two signals were pending at once.
    #[cfg(feature = "classic")]
    pub together: crate::classic::Together,
}

impl Effects for Shell {
    // Not inlined into its callers on both wires: 16 B less.
    #[inline(never)]
    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        sys::send(to, signal).is_ok()
    }

    /// Message bytes to stdout. It never sleeps with the signals blocked
    /// (see [`sys::write_wait`]): while stdout is full it waits with them
    /// unblocked, and SIGINT or SIGTERM ends the wait, leaving the message
    /// printed in part. After a stop, only what stdout has room for is
    /// written.
    fn write(&mut self, _from: Pid, bytes: &[u8]) {
        let started = sys::now();
        let stop = || STOP.load(Ordering::Relaxed);
        let written = match sys::write_wait::write_or_stop(STDOUT, bytes, &SigSet::empty(), stop) {
            Written::All => bytes.len(),
            Written::Stopped { written } => {
                self.cut = true;
                written
            }
            Written::Failed { written } => written,
        };
        self.printed += written as u64;
        self.clock.stalled(started, sys::now());
    }

    fn alive(&mut self, pid: Pid) -> Option<u64> {
        sys::proc::identity(pid)
    }

    /// Read once per newcomer, from `SigCgt` in `/proc/<pid>/status`; a
    /// process that has gone catches nothing, so it is never signalled.
    fn catches(&mut self, pid: Pid) -> Catches {
        sys::proc::caught_usr(pid).map_or(Catches::NONE, |(usr1, usr2)| Catches { usr1, usr2 })
    }

    fn heard(&mut self, pid: Pid, signal: Signal, heard: Heard) {
        if self.narrator.tracing() {
            self.narrator.heard(pid, signal, heard);
        }
    }

    fn trace(&mut self, output: &Output<'_>, now: Instant) {
        if let Output::Deliver { first: true, .. } = output {
            self.printed = 0;
        }
        self.narrator.output(output, now);
    }

    /// Stopped in the middle of writing a message: its frame must not be
    /// acknowledged (a message written whole still is).
    fn cut(&self) -> bool {
        self.cut
    }

    fn abandoned(&mut self, pid: Pid, vanished: bool, aborted: Aborted) {
        self.narrator.abandoned(pid, vanished, aborted);
    }

    /// One line on stderr, `server: <pid>: ...`.
    #[cfg(feature = "classic")]
    fn verdict(&mut self, verdict: Verdict) {
        crate::classic::verdict(verdict);
    }

    /// `--trace`, the learner's debugger; at the end of a message, whether
    /// the order of some of its signals was lost.
    #[cfg(feature = "classic")]
    fn classic_trace(&mut self, event: Trace) {
        if self.narrator.tracing() {
            crate::classic::event(event);
        }
        if let Trace::End { pid, .. } = event {
            crate::classic::order_lost(&mut self.together, pid);
        }
    }
}
