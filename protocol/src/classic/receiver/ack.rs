//! The acknowledgement policy: whether a process paces itself or waits for
//! a reply per bit, and what it is sent.

use super::super::{Convention, DoneAck};
use super::verdict::Trace;
use crate::{Catches, Effects, Pid, Signal};

/// How a process sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// It catches no `SIGUSR1`: never answered per bit.
    Paced,
    /// Each bit is answered at once (it waits for it, or ignores it).
    Waiting,
}

/// What a process's silence will tell, if it lasts the probe time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    /// Nothing.
    Off,
    /// `SIGUSR1` answered its first `SIGUSR2`: silent, it waits for the echo.
    Echo,
    /// Its message ended: still there, it waits for "done".
    Done,
}

/// The replies to a bit `signal` of a process in `mode` (`ended`: the
/// bit ended a message; `echo`: its bits are echoed), given to `reply` in
/// the order to send.
pub(super) fn replies(
    mode: Mode,
    signal: Signal,
    ended: bool,
    echo: bool,
    c: Convention,
    mut reply: impl FnMut(Signal),
) {
    let per_bit = if echo { signal } else { Signal::Usr1 };
    match (mode, ended) {
        (Mode::Waiting, true) => match c.done {
            DoneAck::Watch => reply(per_bit),
            DoneAck::Then => reply(Signal::Usr2),
            DoneAck::Bare => reply(Signal::Usr1),
            DoneAck::Plus => {
                reply(Signal::Usr1);
                reply(Signal::Usr2);
            }
        },
        (Mode::Waiting, false) => reply(per_bit),
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
