//! What the classic receiver tells a human: verdicts on stderr, and trace
//! events for `--trace`.

use super::super::{BitOrder, Header};
use crate::utf8::Text;
use crate::{Pid, Signal};

/// A problem with a process's message, for one line of stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The sender.
    pub pid: Pid,
    /// What is wrong.
    pub kind: VerdictKind,
}

/// The kinds of [`Verdict`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    /// The message is not valid UTF-8 from this byte on (counted from 0).
    InvalidUtf8 {
        /// The offset of the first bad byte.
        at: u64,
    },
    /// The client fell silent in the middle of a byte: signals were lost
    /// (say [`TOO_FAST`] with it, unless it `exited`).
    PartialByte {
        /// Bits of the unfinished byte (1 to 7; more inside a header).
        bits: u8,
        /// The client was answered per bit and has exited since: it may
        /// exit on the first `SIGUSR1` it gets (not [`TOO_FAST`], then).
        exited: bool,
    },
    /// The message ended by silence, without its NUL.
    NoNul,
    /// The message ended by silence before its announced length.
    Short {
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        announced: u64,
    },
    /// Bytes dropped because another client's long message held the output.
    Dropped {
        /// How many.
        bytes: u64,
    },
    /// A reply to a client that waits for each one was withheld while
    /// another message was printing, and sent this late: about us, not the
    /// client (one that gives up waiting exits without its message).
    Late {
        /// How late, in milliseconds (1 or more).
        ms: u64,
    },
}

impl VerdictKind {
    /// A short description, without the numbers, for binaries that avoid
    /// `core::fmt`.
    pub const fn message(self) -> &'static str {
        match self {
            VerdictKind::InvalidUtf8 { .. } => "invalid UTF-8 at byte",
            VerdictKind::PartialByte { .. } => {
                "partial byte when the client fell silent: signals were lost"
            }
            VerdictKind::NoNul => "message ended by silence, without its NUL",
            VerdictKind::Short { .. } => "message ended by silence before its announced length",
            VerdictKind::Dropped { .. } => {
                "bytes dropped: another client's long message held the output"
            }
            VerdictKind::Late { .. } => "our reply was late: another message was printing",
        }
    }
}

/// What to tell a learner whose client lost signals.
pub const TOO_FAST: &str = "your client sends faster than signals can be delivered; \
                            wait for an acknowledgement or sleep longer";

/// Events for `--trace`, the learner's debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// Eight signals of `pid` (fewer if it fell silent) and what they read as.
    Bits {
        /// The sender.
        pid: Pid,
        /// The bits, in arrival order: the first is bit `n - 1`.
        bits: u8,
        /// How many (1 to 8).
        n: u8,
        /// Microseconds between each signal and the previous one from `pid`
        /// ([`Trace::FIRST`] for its first).
        gaps: [u32; 8],
        /// What they read as.
        read: Read,
    },
    /// A message ended and is written (or held until a longer one is).
    End {
        /// The sender.
        pid: Pid,
        /// Its length in bytes.
        bytes: u64,
    },
    /// `pid` paces itself (it catches no `SIGUSR1`, sent its second signal
    /// before its held first reply, or `endack`/`noendack` say so): not
    /// answered per bit.
    Paced(Pid),
    /// `pid` is answered per bit, at once.
    Waiting(Pid),
    /// `pid`'s convention, detected from its first bytes (`--classic`
    /// without a LIST): the one that reads them as text (the detection's
    /// module docs), else the default.
    Detected {
        /// The process.
        pid: Pid,
        /// Its bit order.
        order: BitOrder,
        /// Its signal that means 1.
        one: Signal,
        /// What comes before its text.
        header: Header,
    },
    /// `pid` fell silent after `SIGUSR1` answered its `SIGUSR2`: it waits
    /// for its own signal back, and is echoed from now on.
    Echo(Pid),
    /// A reply that ends a message (per-bit replies are not traced); a
    /// `SIGUSR2` after the end: the process was still there, catching it
    /// (it waits for "done").
    Reply {
        /// The process.
        pid: Pid,
        /// The signal sent.
        signal: Signal,
    },
    /// A reply to `pid` was not sent: it does not catch `signal`.
    NotCaught {
        /// The process.
        pid: Pid,
        /// The signal withheld.
        signal: Signal,
    },
    /// A signal from a PID below 1 (the kernel, or an unknown sender): ignored.
    Stray {
        /// The PID reported.
        pid: Pid,
        /// The signal.
        signal: Signal,
    },
    /// No free slot for `pid`: its signal was ignored.
    NoSlot(Pid),
    /// Whether to stay on `pid`'s CPU, decided from the median gaps between
    /// its signals on our CPU and on its own (µs): staying only if they fell
    /// to half or less (it waits for each reply).
    Shared {
        /// The process.
        pid: Pid,
        /// Median gap, each on its own CPU.
        apart: u32,
        /// Median gap, on one CPU.
        together: u32,
        /// The server stays on its CPU.
        stays: bool,
    },
    /// `pid` waits per bit and cannot be printed yet (another message is
    /// being streamed): its acknowledgement is withheld until the output is
    /// free.
    Stalled(Pid),
}

impl Trace {
    /// The gap of a process's first signal in [`Trace::Bits`].
    pub const FIRST: u32 = u32::MAX;
}

/// What the bits of a [`Trace::Bits`] read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// A byte of the message (or its ending NUL).
    Byte {
        /// The byte.
        byte: u8,
        /// Its offset in the message.
        offset: u64,
        /// What it does to the message's text.
        text: Text,
    },
    /// Eight bits of a length header that goes on.
    Header,
    /// The last eight bits of a length header: the length it announces.
    Length(u64),
    /// The bits of an unfinished byte, when the process fell silent.
    Unfinished,
}
