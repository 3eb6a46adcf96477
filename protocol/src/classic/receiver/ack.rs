//! The acknowledgement policy: whether a process paces itself or waits for
//! a reply per bit, and what it is sent.

use super::super::{Convention, DoneAck};
use super::verdict::Trace;
use crate::{Catches, Effects, Pid, Signal};

/// How a process sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// One bit seen, its reply held; `first` is its signal (for an echo).
    Unknown { first: Signal },
    /// Its second bit came before any reply: never answered per bit.
    Paced,
    /// No second bit without a reply: each bit is answered.
    Waiting,
}

/// The replies to a bit `signal` of a process in `mode` (`ended`: the
/// bit ended a message), given to `reply` in the order to send.
pub(super) fn replies(
    mode: Mode,
    signal: Signal,
    ended: bool,
    c: Convention,
    mut reply: impl FnMut(Signal),
) {
    match (mode, ended) {
        (Mode::Waiting, true) => {
            if c.done != DoneAck::Then {
                reply(Signal::Usr1);
            }
            if c.done != DoneAck::Bare {
                reply(Signal::Usr2);
            }
        }
        (Mode::Waiting, false) => reply(if c.echo { signal } else { Signal::Usr1 }),
        (Mode::Paced, true) if c.paced_end => reply(Signal::Usr1),
        _ => {}
    }
}

/// Sends `signal` to `pid` if it catches it (`end`: the reply ends a
/// message, and is traced); never to a PID below 1.
pub(super) fn reply(pid: Pid, catches: Catches, signal: Signal, end: bool, fx: &mut impl Effects) {
    if pid >= 1 && catches.catches(signal) {
        // A process that vanished meanwhile: its silence ends it.
        let _ = fx.send(pid, signal);
        if end {
            fx.classic_trace(Trace::Reply { pid, signal });
        }
    } else {
        fx.classic_trace(Trace::NotCaught { pid, signal });
    }
}
