//! What a server does to the world, whichever wire: one trait, lent at
//! each call to v1's [`Server`](crate::Server) and to the classic
//! [`ClassicReceiver`](crate::classic::ClassicReceiver).
//!
//! A binary implements it with system calls; the tests with a simulated
//! world. The hooks that only one wire uses default to doing nothing.

use crate::classic::{Trace, Verdict};
use crate::{Aborted, Heard, Instant, Output, Pid, Signal};

/// Which signals a process catches (on Linux, `SigCgt` of
/// `/proc/<pid>/status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Catches {
    /// It catches `SIGUSR1`.
    pub usr1: bool,
    /// It catches `SIGUSR2`.
    pub usr2: bool,
}

impl Catches {
    /// Catches neither (or is gone).
    pub const NONE: Catches = Catches {
        usr1: false,
        usr2: false,
    };
    /// Catches both.
    pub const BOTH: Catches = Catches {
        usr1: true,
        usr2: true,
    };

    /// Whether `signal` is caught (so sending it does not kill).
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Catches, Signal};
    /// let c = Catches { usr1: true, usr2: false };
    /// assert!(c.catches(Signal::Usr1) && !c.catches(Signal::Usr2));
    /// assert!(!c.both() && Catches::BOTH.both());
    /// ```
    pub const fn catches(self, signal: Signal) -> bool {
        match signal {
            Signal::Usr1 => self.usr1,
            Signal::Usr2 => self.usr2,
        }
    }

    /// Whether both signals are caught: what v1 asks of a sender
    /// (PROTOCOL.md 4.1).
    pub const fn both(self) -> bool {
        self.usr1 && self.usr2
    }
}

/// What a server does to the world, and what it tells a human.
pub trait Effects {
    /// Sends `signal` to `to` (always >= 1, and said to catch `signal`);
    /// `false` if the process is gone (v1 then reports it gone to the
    /// receiver; the classic receiver lets its silence end it).
    fn send(&mut self, to: Pid, signal: Signal) -> bool;
    /// Writes bytes of a message from `from` (stdout, in the binary), in
    /// one write: a whole message and its `'\n'`, or one chunk of a
    /// streamed one. When it returns, the bytes are out.
    fn write(&mut self, from: Pid, bytes: &[u8]);
    /// Which signals `pid` catches; [`Catches::NONE`] if it is gone. Asked
    /// once per newcomer: v1 feeds in only a process that catches both
    /// (PROTOCOL.md 4.1), the classic receiver never sends a process a
    /// signal it does not catch.
    fn catches(&mut self, pid: Pid) -> Catches;
    /// Whether `pid` still lives, and who has that PID: an identity that
    /// tells the process from a later one that gets the same PID (on Linux,
    /// its start time, field 22 of `/proc/<pid>/stat`); `None` if it is
    /// gone (or a zombie). Asked by v1 only.
    fn alive(&mut self, pid: Pid) -> Option<u64>;
    /// Whether a write was cut short (in the binary: a stop came while
    /// stdout was full). From then on nothing more is carried out (v1) or
    /// sent (classic), so text not written whole is never acknowledged.
    fn cut(&self) -> bool {
        false
    }

    /// v1: sees a signal that [`Server::handle`](crate::Server::handle)
    /// fed in and what it carried, after the newcomer's "serving" or
    /// "waits" and before what the signal completes is carried out: for
    /// `--trace`.
    fn heard(&mut self, _pid: Pid, _signal: Signal, _heard: Heard) {}
    /// v1: sees every output of the receiver at `now`, just before it is
    /// carried out: for `--trace`, `--stats` and counters.
    fn trace(&mut self, _output: &Output<'_>, _now: Instant) {}
    /// v1: the session of `pid` was abandoned mid-message (`vanished`: its
    /// process was found gone, else it fell silent); `aborted` says what
    /// became of the part received.
    fn abandoned(&mut self, _pid: Pid, _vanished: bool, _aborted: Aborted) {}

    /// Classic: a problem with a message, for one line of stderr.
    fn verdict(&mut self, _verdict: Verdict) {}
    /// Classic: a trace event, for `--trace`.
    fn classic_trace(&mut self, _event: Trace) {}
}
