//! The classic server: each sending process's bits decoded on their own.
//!
//! Signals come in as `(pid, signal, now)` ([`ClassicReceiver::on_signal`]),
//! timers run in [`ClassicReceiver::poll`]; the receiver carries out what it
//! decides at once through its caller's [`ClassicEffects`]: the bytes to
//! write, the acknowledgements to send, the verdicts for stderr and the trace
//! events. The caller's effects are synchronous: when `write` returns, the
//! bytes are out and the buffer is free again.
//!
//! # Memory and output order
//!
//! A fixed table of `N` slots, one per sending process, each with a buffer of
//! `B` bytes (`B >= 2`): a [`LineBuffer`], the output rule shared with v1's
//! [`MessageBuffer`](crate::MessageBuffer). A message is written whole, with its `'\n'`, in one
//! write when it ends, if it fits `B - 1` bytes. A longer one is *streamed*:
//! when a byte finds the buffer full, the `B - 1` bytes before it are
//! written, and so on; the last chunk carries the `'\n'`. Only one message
//! streams at a time, so the lines of different clients never interleave on
//! stdout: a message that ends meanwhile is *held* in its buffer and written
//! after the streaming one, in the order the messages ended. A client whose
//! buffer fills while another message streams is held back: if it waits for
//! an acknowledgement per bit, the acknowledgement is withheld until the
//! output is free ([`Trace::Stalled`]: it just waits); if it paces itself,
//! the bytes that do not fit are dropped and reported
//! ([`VerdictKind::Dropped`]). A waiting client's end of message is likewise
//! acknowledged only once its message is written. A process that finds no
//! free slot is ignored ([`Trace::NoSlot`]).
//!
//! # When a message ends
//!
//! At its NUL byte ([`End::Nul`] without a header); after the announced
//! length (with a header; a NUL right after it is swallowed when the
//! convention says `nul`); or when its process has been silent for
//! [`ClassicReceiverConfig::silence`]. The default silence is 250 ms: the
//! slowest self-paced client surveyed sleeps 1 ms per bit, a waiting client
//! is answered within microseconds, and a loaded scheduler can delay a
//! process by tens of milliseconds (measured: the longest gap inside a
//! message of a model client pacing itself at 1 ms per bit was 7 to 13 ms on
//! a 2-core machine at load 9); 250 ms is far above all of these and still
//! short for a human waiting for `none` messages to appear. A process that
//! waits for a reply per bit gets [`ClassicReceiverConfig::waiting_silence`]
//! (1 s) instead: it was answered, so its silence only means that it was not
//! scheduled, and the end test suite saw a waiting model client silent for
//! over 250 ms mid-message on a 2-core machine at load 10.
//!
//! # Acknowledgements
//!
//! The first reply to a new process is held for
//! [`ClassicReceiverConfig::hold`] (10 ms). If its second bit comes before
//! any reply, the client paces itself: it is never answered per bit, and gets
//! one `SIGUSR1` at the end of each message (serves "end only" clients;
//! `noendack` turns it off). Otherwise it waits for us: each bit is answered
//! with `SIGUSR1` (or, with `echo`, with the signal it sent), and the end of
//! a message as [`DoneAck`] says (by default `SIGUSR1` for the last bit then
//! a separate `SIGUSR2`, which serves "ack per bit", "ack, then done" and
//! "ack, plus done" clients). A process is only ever sent a signal that its
//! caller said it catches ([`ClassicEffects::catches`], asked once, at its
//! first signal), and never a PID below 1.
//!
//! No input makes the receiver panic; memory is bounded by `N` and `B`.

use super::{BitOrder, Convention, DoneAck, End, Header};
use crate::utf8::Chars;
pub use crate::utf8::Text;
use crate::{Duration, LineBuffer, Pid, Signal};

/// Timing of a [`ClassicReceiver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassicReceiverConfig {
    /// How long the first reply to a new process is held, to see whether its
    /// second bit comes without one (then it paces itself).
    pub hold: Duration,
    /// Silence that ends a process's message (and forgets the process).
    pub silence: Duration,
    /// The same, for a process that waits for a reply per bit.
    pub waiting_silence: Duration,
}

impl Default for ClassicReceiverConfig {
    fn default() -> Self {
        ClassicReceiverConfig {
            hold: Duration::from_millis(10),
            silence: Duration::from_millis(250),
            waiting_silence: Duration::from_secs(1),
        }
    }
}

/// Which signals a process catches (read from `SigCgt` by the caller).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Catches {
    /// It catches `SIGUSR1`.
    pub usr1: bool,
    /// It catches `SIGUSR2`.
    pub usr2: bool,
}

impl Catches {
    /// Whether `signal` is caught (so sending it does not kill).
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::Catches;
    /// use minitalk_protocol::Signal;
    /// let c = Catches { usr1: true, usr2: false };
    /// assert!(c.catches(Signal::Usr1) && !c.catches(Signal::Usr2));
    /// ```
    pub const fn catches(self, signal: Signal) -> bool {
        match signal {
            Signal::Usr1 => self.usr1,
            Signal::Usr2 => self.usr2,
        }
    }
}

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
    /// (say [`TOO_FAST`] with it).
    PartialByte {
        /// Bits of the unfinished byte (1 to 7; more inside a header).
        bits: u8,
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
    /// The first bytes read as text only with another convention.
    Hint {
        /// The bit order they read as.
        order: BitOrder,
        /// The signal that means 1 they read as.
        one: Signal,
    },
}

impl VerdictKind {
    /// A short description, without the numbers, for binaries that avoid
    /// `core::fmt`.
    pub const fn message(self) -> &'static str {
        match self {
            VerdictKind::InvalidUtf8 { .. } => "invalid UTF-8 at byte",
            VerdictKind::PartialByte { .. } => {
                "partial byte left when the client fell silent: signals were lost"
            }
            VerdictKind::NoNul => "message ended by silence, without its NUL",
            VerdictKind::Short { .. } => "message ended by silence before its announced length",
            VerdictKind::Dropped { .. } => {
                "bytes dropped while another client's long message held the output"
            }
            VerdictKind::Hint { .. } => "reads as text only with another convention",
        }
    }

    /// For [`VerdictKind::Hint`], the `--classic` items to try.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{BitOrder, VerdictKind};
    /// use minitalk_protocol::Signal;
    /// let hint = VerdictKind::Hint { order: BitOrder::Lsb, one: Signal::Usr2 };
    /// assert_eq!(hint.suggestion(), Some("lsb"));
    /// assert_eq!(VerdictKind::NoNul.suggestion(), None);
    /// ```
    pub const fn suggestion(self) -> Option<&'static str> {
        match self {
            VerdictKind::Hint { order, one } => Some(match (order, one) {
                (BitOrder::Msb, Signal::Usr2) => "msb,usr2",
                (BitOrder::Msb, Signal::Usr1) => "usr1",
                (BitOrder::Lsb, Signal::Usr2) => "lsb",
                (BitOrder::Lsb, Signal::Usr1) => "lsb,usr1",
            }),
            _ => None,
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
    /// `pid` paces itself: not answered per bit.
    Paced(Pid),
    /// `pid` waits for a reply per bit.
    Waiting(Pid),
    /// A reply that ends a message (per-bit replies are not traced).
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

/// What a [`ClassicReceiver`] needs from the world, lent at each call.
pub trait ClassicEffects {
    /// Which signals `pid` catches; asked once per process, at its first
    /// signal. A process that has gone catches nothing.
    fn catches(&mut self, pid: Pid) -> Catches;
    /// Send `signal` to `to` (always >= 1, and said to catch `signal`).
    fn send(&mut self, to: Pid, signal: Signal);
    /// Write `bytes` to stdout, in one write: a whole message and its `'\n'`,
    /// or one chunk of a streamed one.
    fn write(&mut self, from: Pid, bytes: &[u8]);
    /// A problem to report on stderr.
    fn verdict(&mut self, verdict: Verdict);
    /// A trace event.
    fn trace(&mut self, event: Trace);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// First bit seen, reply held until `until`; `first` is its signal (for
    /// an echo).
    Unknown {
        until: Duration,
        first: Signal,
    },
    Paced,
    Waiting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Header,
    Body {
        left: Option<u64>,
    },
    /// After the announced length: a NUL here is part of the end.
    TrailingNul,
}

/// The text of a message: its characters ([`Chars`]), the first bad byte,
/// and where the current character started.
#[derive(Clone, Copy, Debug)]
struct Utf8 {
    chars: Chars,
    /// Where the current character's sequence started.
    start: u64,
    /// The first bad byte of the message.
    bad: Option<u64>,
}

impl Utf8 {
    const START: Utf8 = Utf8 {
        chars: Chars::new(),
        start: 0,
        bad: None,
    };

    /// Byte `b`, at offset `at` of the message.
    fn push(&mut self, b: u8, at: u64) -> Text {
        let lead = self.chars.at_boundary();
        let step = self.chars.push(b);
        if step.broke {
            self.bad.get_or_insert(self.start);
        }
        match step.text {
            Text::Bad => {
                self.bad.get_or_insert(at);
            }
            _ if lead || step.broke => self.start = at,
            _ => {}
        }
        step.text
    }

    /// The first bad byte, if the message is not valid UTF-8.
    fn finish(&self) -> Option<u64> {
        self.bad
            .or((!self.chars.at_boundary()).then_some(self.start))
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The process decoded here (0: the slot is free).
    pid: Pid,
    catches: Catches,
    mode: Mode,
    /// When its last signal came.
    last: Duration,
    /// The bits of the current byte or header, in arrival order.
    acc: u64,
    nbits: u8,
    /// The gaps of the current eight bits, for the trace.
    gaps: [u32; 8],
    phase: Phase,
    announced: u64,
    /// Bytes of the current message (dropped ones included).
    bytes: u64,
    utf8: Utf8,
    dropped: u64,
    /// Bit k: every byte so far is text read as interpretation k.
    text: u8,
    /// Bytes left to look at before the convention hint is decided.
    hint_left: u8,
    /// Nonzero: the buffer holds a finished message, written after the
    /// streaming one, in this order.
    held: u64,
    /// A withheld acknowledgement: of a bit whose byte filled the buffer,
    /// or (when `held`) of the end of the message.
    stalled: Option<Signal>,
}

impl Slot {
    const FREE: Self = Slot {
        pid: 0,
        catches: Catches {
            usr1: false,
            usr2: false,
        },
        mode: Mode::Paced,
        last: Duration::ZERO,
        acc: 0,
        nbits: 0,
        gaps: [0; 8],
        phase: Phase::Header,
        announced: 0,
        bytes: 0,
        utf8: Utf8::START,
        dropped: 0,
        text: 0b1111,
        hint_left: 4,
        held: 0,
        stalled: None,
    };

    /// Forgets the message being decoded (not the buffer, not the process).
    fn reset_message(&mut self, header: Header) {
        self.acc = 0;
        self.nbits = 0;
        self.phase = match header {
            Header::None => Phase::Body { left: None },
            _ => Phase::Header,
        };
        self.bytes = 0;
        self.utf8 = Utf8::START;
        self.dropped = 0;
        self.text = 0b1111;
        self.hint_left = 4;
    }

    /// A trace of the bits gathered so far.
    fn bits(&self, n: u8, read: Read) -> Trace {
        Trace::Bits {
            pid: self.pid,
            bits: self.acc as u8,
            n,
            gaps: self.gaps,
            read,
        }
    }
}

/// Whether `b` reads as text for the convention detector.
const fn is_text(b: u8) -> bool {
    matches!(b, 0x20..=0x7E | b'\n' | b'\t')
}

/// The byte of `raw` (arrival order, `Usr2` = 1) read as interpretation `k`:
/// bit 0 = LSB first, bit 1 = `Usr1` means 1.
const fn interpret(raw: u8, k: u8) -> u8 {
    let b = if k & 1 == 1 { raw.reverse_bits() } else { raw };
    if k & 2 == 2 {
        !b
    } else {
        b
    }
}

/// The interpretation number of a bit order and signal meaning.
const fn interpretation(order: BitOrder, one: Signal) -> u8 {
    let o = match order {
        BitOrder::Msb => 0,
        BitOrder::Lsb => 1,
    };
    let s = match one {
        Signal::Usr2 => 0,
        Signal::Usr1 => 2,
    };
    o | s
}

/// The server's side of the classic wire: `N` processes at a time, `B`
/// bytes of buffer each (see the module docs).
///
/// # Examples
///
/// ```
/// use minitalk_protocol::classic::{
///     Catches, ClassicEffects, ClassicReceiver, Convention, Encoder, Trace, Verdict,
/// };
/// use minitalk_protocol::{Duration, Pid, Signal};
///
/// #[derive(Default)]
/// struct Out(Vec<u8>);
/// impl ClassicEffects for Out {
///     fn catches(&mut self, _: Pid) -> Catches { Catches::default() }
///     fn send(&mut self, _: Pid, _: Signal) {}
///     fn write(&mut self, _: Pid, bytes: &[u8]) { self.0.extend_from_slice(bytes) }
///     fn verdict(&mut self, _: Verdict) {}
///     fn trace(&mut self, _: Trace) {}
/// }
///
/// let c = Convention::default();
/// let mut rx: ClassicReceiver<4, 64> = ClassicReceiver::new(Default::default(), c);
/// let enc = Encoder::new(c, b"hi").unwrap();
/// let mut out = Out::default();
/// for i in 0..enc.bits() {
///     let now = Duration::from_micros(100 * i); // a client pacing itself
///     rx.on_signal(4242, enc.signal_at(i).unwrap(), now, &mut out);
/// }
/// assert_eq!(out.0, b"hi\n");
/// ```
#[derive(Clone, Debug)]
pub struct ClassicReceiver<const N: usize, const B: usize> {
    config: ClassicReceiverConfig,
    convention: Convention,
    slots: [Slot; N],
    /// The slots' buffers, apart from the slots so that resetting a slot
    /// does not copy a buffer-sized constant.
    bufs: [LineBuffer<B>; N],
    /// The slot whose message is being streamed.
    streamer: Option<usize>,
    /// Orders held messages.
    seq: u64,
}

impl<const N: usize, const B: usize> ClassicReceiver<N, B> {
    const ROOM_FOR_NEWLINE: () = assert!(B >= 2, "a slot needs at least 2 bytes");

    /// A receiver reading bits by `convention`.
    pub fn new(config: ClassicReceiverConfig, convention: Convention) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::ROOM_FOR_NEWLINE;
        ClassicReceiver {
            config,
            convention,
            slots: [Slot::FREE; N],
            bufs: [const { LineBuffer::new() }; N],
            streamer: None,
            seq: 0,
        }
    }

    /// The convention in use.
    pub fn convention(&self) -> Convention {
        self.convention
    }

    /// Processes decoded now (slots in use).
    pub fn active(&self) -> usize {
        self.slots.iter().filter(|s| s.pid != 0).count()
    }

    /// When slot `s`'s timer is due, if it has one: the held first reply,
    /// or the silence that ends its message. A held or stalled slot waits
    /// for the output instead.
    fn due(&self, s: &Slot) -> Option<Duration> {
        if s.pid == 0 || s.held != 0 || s.stalled.is_some() {
            return None;
        }
        Some(match s.mode {
            Mode::Unknown { until, .. } => until,
            Mode::Paced => s.last.saturating_add(self.config.silence),
            Mode::Waiting => s.last.saturating_add(self.config.waiting_silence),
        })
    }

    /// When to call [`ClassicReceiver::poll`] at the latest, if no signal
    /// comes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use minitalk_protocol::classic::{Catches, ClassicEffects, ClassicReceiver, Convention, Trace, Verdict};
    /// # use minitalk_protocol::{Duration, Pid, Signal};
    /// # struct Quiet;
    /// # impl ClassicEffects for Quiet {
    /// #     fn catches(&mut self, _: Pid) -> Catches { Catches::default() }
    /// #     fn send(&mut self, _: Pid, _: Signal) {}
    /// #     fn write(&mut self, _: Pid, _: &[u8]) {}
    /// #     fn verdict(&mut self, _: Verdict) {}
    /// #     fn trace(&mut self, _: Trace) {}
    /// # }
    /// let mut rx: ClassicReceiver<2, 16> = ClassicReceiver::new(Default::default(), Convention::default());
    /// assert_eq!(rx.poll_at(), None);
    /// rx.on_signal(42, Signal::Usr1, Duration::ZERO, &mut Quiet);
    /// // the held first reply is due after `hold`
    /// assert_eq!(rx.poll_at(), Some(Duration::from_millis(10)));
    /// ```
    pub fn poll_at(&self) -> Option<Duration> {
        self.slots.iter().filter_map(|s| self.due(s)).min()
    }

    /// Runs the timers that are due at `now`: held first replies, and the
    /// messages that silence ends (their processes are forgotten).
    pub fn poll(&mut self, now: Duration, fx: &mut impl ClassicEffects) {
        // One timer at a time: each may change the others (a message that
        // ends releases the held ones).
        while let Some(i) = (0..N).find(|&i| self.due(&self.slots[i]).is_some_and(|t| now >= t)) {
            let s = &mut self.slots[i];
            if let Mode::Unknown { first, .. } = s.mode {
                // No second bit without a reply: it waits for us.
                s.mode = Mode::Waiting;
                fx.trace(Trace::Waiting(s.pid));
                self.answer(i, first, false, fx);
                continue;
            }
            if s.nbits > 0 || s.bytes > 0 || matches!(s.phase, Phase::Body { left: Some(_) }) {
                self.end_message(i, true, fx);
            }
            let s = &mut self.slots[i];
            if s.held == 0 {
                s.pid = 0;
            }
        }
    }

    /// A signal from `pid`, at `now`.
    pub fn on_signal(
        &mut self,
        pid: Pid,
        signal: Signal,
        now: Duration,
        fx: &mut impl ClassicEffects,
    ) {
        if pid < 1 {
            fx.trace(Trace::Stray { pid, signal });
            return;
        }
        let c = self.convention;
        let (i, gap) = match self.slots.iter().position(|s| s.pid == pid) {
            Some(i) => {
                let s = &mut self.slots[i];
                if matches!(s.mode, Mode::Unknown { .. }) {
                    // Its second bit came before any reply: it paces itself.
                    s.mode = Mode::Paced;
                    fx.trace(Trace::Paced(pid));
                }
                let gap = now.saturating_sub(s.last).as_nanos() as u64 / 1000;
                (i, gap.min(u64::from(Trace::FIRST - 1)) as u32)
            }
            None => {
                let Some(i) = self.slots.iter().position(|s| s.pid == 0) else {
                    fx.trace(Trace::NoSlot(pid));
                    return;
                };
                let s = &mut self.slots[i];
                *s = Slot {
                    pid,
                    catches: fx.catches(pid),
                    mode: Mode::Unknown {
                        until: now.saturating_add(self.config.hold),
                        first: signal,
                    },
                    ..Slot::FREE
                };
                s.reset_message(c.header);
                self.bufs[i].clear();
                (i, Trace::FIRST)
            }
        };
        self.slots[i].last = now;
        let ended = self.take_bit(i, c.bit(signal), gap, fx);
        let may_stream = self.may_stream(i);
        let s = &mut self.slots[i];
        if s.stalled.is_some() {
            return; // it does not wait for us: nothing more is owed
        }
        let full = self.bufs[i].is_full();
        if s.mode == Mode::Waiting && (s.held != 0 || (!ended && full && !may_stream)) {
            s.stalled = Some(signal);
            fx.trace(Trace::Stalled(pid));
            return;
        }
        self.answer(i, signal, ended, fx);
    }

    /// Replies to slot `i`'s bit `signal` (`ended`: its last), as its mode
    /// and the convention say.
    fn answer(&mut self, i: usize, signal: Signal, ended: bool, fx: &mut impl ClassicEffects) {
        let c = self.convention;
        match (self.slots[i].mode, ended) {
            (Mode::Waiting, true) => {
                if c.done != DoneAck::Then {
                    self.reply(i, Signal::Usr1, true, fx);
                }
                if c.done != DoneAck::Bare {
                    self.reply(i, Signal::Usr2, true, fx);
                }
            }
            (Mode::Waiting, false) => {
                let ack = if c.echo { signal } else { Signal::Usr1 };
                self.reply(i, ack, false, fx);
            }
            (Mode::Paced, true) if c.paced_end => self.reply(i, Signal::Usr1, true, fx),
            _ => {}
        }
    }

    /// Sends `signal` to slot `i`'s process if it catches it.
    fn reply(&self, i: usize, signal: Signal, end: bool, fx: &mut impl ClassicEffects) {
        let s = &self.slots[i];
        let pid = s.pid;
        if pid >= 1 && s.catches.catches(signal) {
            fx.send(pid, signal);
            if end {
                fx.trace(Trace::Reply { pid, signal });
            }
        } else {
            fx.trace(Trace::NotCaught { pid, signal });
        }
    }

    /// Adds a bit to slot `i`; true if it ended a message.
    fn take_bit(&mut self, i: usize, bit: bool, gap: u32, fx: &mut impl ClassicEffects) -> bool {
        /// What eight bits complete.
        enum Step {
            /// More header bits follow.
            Header,
            /// The header: the length it announces.
            Length,
            /// The NUL after the announced length.
            TrailingNul,
            /// Not a NUL after the announced length: the next header begins.
            NextHeader,
            /// The NUL that ends a message.
            Nul,
            /// A message byte.
            Byte(Option<u64>),
        }
        let c = self.convention;
        let s = &mut self.slots[i];
        s.gaps[usize::from(s.nbits % 8)] = gap;
        s.acc = (s.acc << 1) | u64::from(bit);
        s.nbits = s.nbits.saturating_add(1);
        if s.nbits % 8 != 0 {
            return false;
        }
        let width = match s.phase {
            Phase::Header => c.header.bits() as u8,
            _ => 8,
        };
        let value = match c.order {
            BitOrder::Msb => s.acc,
            BitOrder::Lsb => s.acc.reverse_bits() >> (64 - u32::from(width.max(8))),
        };
        let byte = value as u8;
        let offset = s.bytes;
        let nul = Read::Byte {
            byte,
            offset,
            text: Text::Char('\0'),
        };
        let (read, step) = match s.phase {
            Phase::Header if s.nbits < width => (Read::Header, Step::Header),
            Phase::Header => (Read::Length(value), Step::Length),
            Phase::TrailingNul if byte == 0 => (nul, Step::TrailingNul),
            Phase::TrailingNul => (Read::Header, Step::NextHeader),
            Phase::Body { left: None } if c.end == End::Nul && byte == 0 => (nul, Step::Nul),
            Phase::Body { left } => {
                let text = s.utf8.push(byte, offset);
                (Read::Byte { byte, offset, text }, Step::Byte(left))
            }
        };
        fx.trace(s.bits(8, read));
        // The last eight bits in arrival order.
        let last8 = s.acc as u8;
        if let Step::Header = step {
            return false;
        }
        s.acc = 0;
        s.nbits = 0;
        match step {
            Step::Length => {
                s.announced = value;
                s.phase = Phase::Body { left: Some(value) };
                if value == 0 {
                    self.end_message(i, false, fx);
                    // With `nul`, the client still sends its NUL: the end
                    // is acknowledged after it.
                    return c.end == End::None;
                }
                false
            }
            Step::TrailingNul => {
                // Part of the end, which is acknowledged now.
                s.reset_message(c.header);
                true
            }
            Step::NextHeader => {
                s.reset_message(c.header);
                s.acc = u64::from(last8);
                s.nbits = 8;
                false
            }
            Step::Nul => {
                self.end_message(i, false, fx);
                true
            }
            Step::Byte(left) => {
                s.bytes = s.bytes.saturating_add(1);
                if c.header == Header::None && s.hint_left > 0 {
                    self.hint(i, last8, fx);
                }
                self.store(i, byte, fx);
                let Some(left) = left else { return false };
                let left = left.saturating_sub(1);
                self.slots[i].phase = Phase::Body { left: Some(left) };
                if left == 0 {
                    self.end_message(i, false, fx);
                    return c.end == End::None;
                }
                false
            }
            Step::Header => false,
        }
    }

    /// Looks at one of the first bytes of slot `i`'s message (`bits` in
    /// arrival order) and says once if only another convention reads them
    /// all as text.
    fn hint(&mut self, i: usize, bits: u8, fx: &mut impl ClassicEffects) {
        let c = self.convention;
        let s = &mut self.slots[i];
        // The signals themselves, `Usr2` = 1.
        let raw = if c.one == Signal::Usr2 { bits } else { !bits };
        for k in 0..4 {
            if !is_text(interpret(raw, k)) {
                s.text &= !(1 << k);
            }
        }
        s.hint_left -= 1;
        let current = interpretation(c.order, c.one);
        if s.hint_left == 0 && s.text & (1 << current) == 0 && s.text.count_ones() == 1 {
            let k = s.text.trailing_zeros();
            let order = if k & 1 == 1 {
                BitOrder::Lsb
            } else {
                BitOrder::Msb
            };
            let one = if k & 2 == 2 {
                Signal::Usr1
            } else {
                Signal::Usr2
            };
            fx.verdict(Verdict {
                pid: s.pid,
                kind: VerdictKind::Hint { order, one },
            });
        }
    }

    /// Whether slot `i` may write before its message ends.
    fn may_stream(&self, i: usize) -> bool {
        self.streamer.is_none_or(|s| s == i)
    }

    /// Stores a message byte of slot `i`, streaming its buffer out first if
    /// it is full and the output is free.
    fn store(&mut self, i: usize, byte: u8, fx: &mut impl ClassicEffects) {
        let may_stream = self.may_stream(i);
        let s = &mut self.slots[i];
        let buf = &mut self.bufs[i];
        if buf.is_full() && s.held == 0 && may_stream {
            fx.write(s.pid, buf.take());
            self.streamer = Some(i);
        }
        if s.held != 0 || !buf.push(byte) {
            s.dropped = s.dropped.saturating_add(1);
        }
    }

    /// Ends slot `i`'s message: writes (or holds) its bytes and reports it.
    /// `silent`: it ended by silence.
    fn end_message(&mut self, i: usize, silent: bool, fx: &mut impl ClassicEffects) {
        let c = self.convention;
        let s = &mut self.slots[i];
        let pid = s.pid;
        let partial = if silent { s.nbits } else { 0 };
        if partial % 8 != 0 {
            fx.trace(s.bits(partial % 8, Read::Unfinished));
        }
        let streaming = self.streamer == Some(i);
        // A held buffer still holds an earlier message: this one's bytes
        // were all dropped, and are reported below.
        if (s.bytes > 0 || !silent) && s.held == 0 {
            // Room for the '\n' is always kept (`LineBuffer`).
            self.bufs[i].end_line();
            if self.streamer.is_some() && !streaming {
                // Another message streams: this one waits its turn.
                self.seq += 1;
                s.held = self.seq;
            } else {
                fx.write(pid, self.bufs[i].take());
            }
        }
        fx.trace(Trace::End {
            pid,
            bytes: s.bytes,
        });
        let mut verdict = |kind| fx.verdict(Verdict { pid, kind });
        if partial > 0 {
            verdict(VerdictKind::PartialByte { bits: partial });
        }
        if let (true, Phase::Body { left }) = (silent, s.phase) {
            match left {
                Some(_) => verdict(VerdictKind::Short {
                    got: s.bytes,
                    announced: s.announced,
                }),
                None if c.end == End::Nul && s.bytes > 0 => verdict(VerdictKind::NoNul),
                None => {}
            }
        }
        if let Some(at) = s.utf8.finish() {
            verdict(VerdictKind::InvalidUtf8 { at });
        }
        if s.dropped > 0 {
            verdict(VerdictKind::Dropped { bytes: s.dropped });
        }
        s.reset_message(c.header);
        if !silent && c.header != Header::None && c.end == End::Nul {
            s.phase = Phase::TrailingNul;
        }
        if streaming {
            self.streamer = None;
            self.release(fx);
        }
    }

    /// The output is free: writes the held messages in the order they
    /// ended, then lets one client held back by a full buffer stream.
    fn release(&mut self, fx: &mut impl ClassicEffects) {
        while let Some(i) = (0..N)
            .filter(|&i| self.slots[i].held != 0)
            .min_by_key(|&i| self.slots[i].held)
        {
            let s = &mut self.slots[i];
            fx.write(s.pid, self.bufs[i].take());
            s.held = 0;
            if let Some(signal) = s.stalled.take() {
                self.answer(i, signal, true, fx);
            }
        }
        if let Some(i) = self.slots.iter().position(|s| s.stalled.is_some()) {
            let s = &mut self.slots[i];
            fx.write(s.pid, self.bufs[i].take());
            self.streamer = Some(i);
            if let Some(signal) = s.stalled.take() {
                self.answer(i, signal, false, fx);
            }
        }
    }
}
#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::classic::Encoder;
    use Signal::{Usr1, Usr2};

    const US: Duration = Duration::from_micros(1);

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Kind {
        /// Sends a bit every this many µs, whatever it hears.
        Paced(u64),
        /// Sends the next bit 20 µs after any reply.
        Waiting,
    }

    struct Client {
        pid: Pid,
        kind: Kind,
        catches: Catches,
        msg: Vec<u8>,
        /// Signals sent.
        sent: u64,
        /// Bit indexes never delivered (lost on the way).
        lose: Vec<u64>,
        /// Stops after this many signals (dies).
        die_after: Option<u64>,
        next: Option<Duration>,
        heard: Vec<Signal>,
    }

    impl Client {
        fn new(pid: Pid, kind: Kind, msg: &[u8], start: u64) -> Client {
            Client {
                pid,
                kind,
                catches: Catches {
                    usr1: true,
                    usr2: true,
                },
                msg: msg.to_vec(),
                sent: 0,
                lose: Vec::new(),
                die_after: None,
                next: Some(us(start)),
                heard: Vec::new(),
            }
        }
    }

    #[derive(Default)]
    struct World {
        written: Vec<(Pid, Vec<u8>)>,
        verdicts: Vec<Verdict>,
        traces: Vec<Trace>,
        sends: Vec<(Pid, Signal)>,
        /// Writes (`None`) and sends, in order.
        log: Vec<(Pid, Option<Signal>)>,
    }

    /// The world as a receiver sees it during one call.
    struct Fx<'a> {
        w: &'a mut World,
        clients: &'a mut [Client],
        now: Duration,
    }

    impl ClassicEffects for Fx<'_> {
        fn catches(&mut self, pid: Pid) -> Catches {
            assert!(pid >= 1);
            let c = self.clients.iter().find(|c| c.pid == pid);
            c.map(|c| c.catches).unwrap_or_default()
        }

        fn send(&mut self, to: Pid, signal: Signal) {
            assert!(to >= 1);
            self.w.sends.push((to, signal));
            self.w.log.push((to, Some(signal)));
            let c = self.clients.iter_mut().find(|c| c.pid == to).unwrap();
            assert!(c.catches.catches(signal), "{to} killed by {signal:?}");
            c.heard.push(signal);
            if c.kind == Kind::Waiting && c.next.is_none() {
                c.next = Some(self.now.saturating_add(US * 20));
            }
        }

        fn write(&mut self, from: Pid, bytes: &[u8]) {
            assert!(!bytes.is_empty());
            self.w.written.push((from, bytes.to_vec()));
            self.w.log.push((from, None));
        }

        fn verdict(&mut self, verdict: Verdict) {
            self.w.verdicts.push(verdict);
        }

        fn trace(&mut self, event: Trace) {
            self.w.traces.push(event);
        }
    }

    impl World {
        /// Every byte written, in order.
        fn stdout(&self) -> Vec<u8> {
            self.written.iter().flat_map(|(_, b)| b.clone()).collect()
        }

        fn drain<const N: usize, const B: usize>(
            &mut self,
            rx: &mut ClassicReceiver<N, B>,
            clients: &mut [Client],
            now: Duration,
        ) {
            rx.poll(
                now,
                &mut Fx {
                    w: self,
                    clients,
                    now,
                },
            );
        }

        /// A signal from `pid` at `now`, then the timers due.
        fn on_signal<const N: usize, const B: usize>(
            &mut self,
            rx: &mut ClassicReceiver<N, B>,
            clients: &mut [Client],
            pid: Pid,
            signal: Signal,
            now: Duration,
        ) {
            rx.on_signal(
                pid,
                signal,
                now,
                &mut Fx {
                    w: self,
                    clients,
                    now,
                },
            );
            self.drain(rx, clients, now);
        }

        /// Runs the clients against `rx` until all is quiet.
        fn run<const N: usize, const B: usize>(
            rx: &mut ClassicReceiver<N, B>,
            clients: &mut [Client],
        ) -> World {
            let c = rx.convention();
            let mut w = World::default();
            let mut now = Duration::ZERO;
            for _ in 0..1_000_000 {
                let next_client = clients
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| c.next.map(|t| (t, i)))
                    .min();
                let next_rx = rx.poll_at();
                match (next_client, next_rx) {
                    (Some((t, i)), r) if r.is_none_or(|r| t <= r) => {
                        now = now.max(t);
                        let cl = &mut clients[i];
                        let enc = Encoder::new(c, &cl.msg).unwrap();
                        let Some(sig) = enc.signal_at(cl.sent) else {
                            cl.next = None;
                            continue;
                        };
                        if cl.die_after == Some(cl.sent) {
                            cl.next = None;
                            continue;
                        }
                        let idx = cl.sent;
                        cl.sent += 1;
                        cl.next = match cl.kind {
                            Kind::Paced(p) => Some(now.saturating_add(us(p))),
                            Kind::Waiting => None,
                        };
                        if cl.sent == enc.bits() {
                            cl.next = None;
                        }
                        let pid = cl.pid;
                        if cl.lose.contains(&idx) {
                            w.drain(rx, clients, now);
                        } else {
                            w.on_signal(rx, clients, pid, sig, now);
                        }
                    }
                    (_, Some(r)) => {
                        now = now.max(r);
                        w.drain(rx, clients, now);
                    }
                    (None, None) => return w,
                    _ => unreachable!(),
                }
            }
            panic!("no end");
        }
    }

    fn rx<const N: usize, const B: usize>(items: &[u8]) -> ClassicReceiver<N, B> {
        ClassicReceiver::new(Default::default(), Convention::parse(items).unwrap())
    }

    #[test]
    fn paced_client_is_printed_whole_and_answered_once_at_the_end() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [Client::new(100, Kind::Paced(100), b"hello", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.written, [(100, b"hello\n".to_vec())]);
        assert_eq!(w.sends, [(100, Usr1)]);
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
        assert!(w.traces.contains(&Trace::Paced(100)));
        assert_eq!(r.active(), 0);
    }

    #[test]
    fn paced_client_that_catches_nothing_is_never_signalled() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [Client::new(100, Kind::Paced(150), b"quiet", 0)];
        cl[0].catches = Catches::default();
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"quiet\n");
        assert!(w.sends.is_empty());
        assert!(w.traces.contains(&Trace::NotCaught {
            pid: 100,
            signal: Usr1
        }));
        let mut r = rx::<4, 64>(b"noendack");
        let mut cl = [Client::new(100, Kind::Paced(150), b"q", 0)];
        let w = World::run(&mut r, &mut cl);
        assert!(w.sends.is_empty());
    }

    #[test]
    fn waiting_client_gets_an_ack_per_bit_then_done() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [Client::new(7, Kind::Waiting, b"hey", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"hey\n");
        assert!(w.traces.contains(&Trace::Waiting(7)));
        let mut expect = std::vec![Usr1; 32];
        expect.push(Usr2);
        assert_eq!(cl[0].heard, expect);
    }

    #[test]
    fn end_of_message_variants() {
        for (items, tail) in [
            (&b"then"[..], &[Usr2][..]),
            (b"bare", &[Usr1]),
            (b"plus", &[Usr1, Usr2]),
        ] {
            let mut r = rx::<4, 64>(items);
            let mut cl = [Client::new(7, Kind::Waiting, b"a", 0)];
            let w = World::run(&mut r, &mut cl);
            assert_eq!(w.stdout(), b"a\n");
            assert!(cl[0].heard[..15].iter().all(|&s| s == Usr1));
            assert_eq!(
                &cl[0].heard[15..],
                tail,
                "{:?}",
                core::str::from_utf8(items)
            );
        }
    }

    #[test]
    fn echo_answers_each_bit_with_its_signal() {
        let mut r = rx::<4, 64>(b"echo,bare");
        let mut cl = [Client::new(7, Kind::Waiting, b"a", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"a\n");
        let enc = Encoder::new(r.convention(), b"a").unwrap();
        let sent: Vec<_> = (0..16).map(|i| enc.signal_at(i).unwrap()).collect();
        // every bit echoed; the last one as `bare` says (SIGUSR1)
        assert_eq!(&cl[0].heard[..15], &sent[..15]);
    }

    #[test]
    fn waiting_client_that_catches_only_usr1_gets_no_usr2() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [Client::new(7, Kind::Waiting, b"ab", 0)];
        cl[0].catches.usr2 = false;
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"ab\n");
        assert_eq!(cl[0].heard.len(), 24);
    }

    #[test]
    fn interleaved_clients_are_decoded_apart() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [
            Client::new(11, Kind::Paced(100), b"first client", 0),
            Client::new(12, Kind::Paced(130), b"second one", 37),
            Client::new(13, Kind::Waiting, b"third, waiting", 55),
        ];
        let w = World::run(&mut r, &mut cl);
        let mut lines: Vec<_> = w.written.clone();
        lines.sort();
        assert_eq!(
            lines,
            [
                (11, b"first client\n".to_vec()),
                (12, b"second one\n".to_vec()),
                (13, b"third, waiting\n".to_vec())
            ]
        );
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
    }

    #[test]
    fn client_dying_mid_byte_is_reported() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [Client::new(9, Kind::Paced(100), b"abcdef", 0)];
        cl[0].die_after = Some(3 * 8 + 3);
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"abc\n");
        let kinds: Vec<_> = w.verdicts.iter().map(|v| v.kind).collect();
        assert_eq!(
            kinds,
            [VerdictKind::PartialByte { bits: 3 }, VerdictKind::NoNul]
        );
    }

    #[test]
    fn strays_are_ignored_or_reported_never_printed() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [
            Client::new(9, Kind::Paced(100), b"hi", 0),
            Client::new(10, Kind::Paced(100), b"", 500),
        ];
        cl[1].die_after = Some(1); // one stray signal from another process
        let mut w = World::default();
        w.on_signal(&mut r, &mut cl, 0, Usr1, Duration::ZERO);
        w.on_signal(&mut r, &mut cl, -1, Usr2, Duration::ZERO);
        w.drain(&mut r, &mut cl, Duration::ZERO);
        assert!(w.traces.contains(&Trace::Stray {
            pid: -1,
            signal: Usr2
        }));
        assert_eq!(r.active(), 0);
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"hi\n");
        assert_eq!(
            w.verdicts,
            [Verdict {
                pid: 10,
                kind: VerdictKind::PartialByte { bits: 1 }
            }]
        );
    }

    #[test]
    fn lost_bits_are_reported_not_printed_silently() {
        let mut r = rx::<4, 64>(b"");
        let mut cl = [Client::new(9, Kind::Paced(20), b"too fast", 0)];
        cl[0].lose = std::vec![13];
        let w = World::run(&mut r, &mut cl);
        assert_ne!(w.stdout(), b"too fast\n");
        assert!(w
            .verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::PartialByte { bits: 7 }));
    }

    #[test]
    fn both_orders_and_signal_meanings() {
        for items in [&b"msb,usr2"[..], b"lsb,usr2", b"msb,usr1", b"lsb,usr1"] {
            for kind in [Kind::Paced(100), Kind::Waiting] {
                let mut r = rx::<2, 32>(items);
                let mut cl = [Client::new(5, kind, "ünïcode ok".as_bytes(), 0)];
                let w = World::run(&mut r, &mut cl);
                assert_eq!(w.stdout(), "ünïcode ok\n".as_bytes());
                assert!(w.verdicts.is_empty());
            }
        }
    }

    #[test]
    fn length_headers_end_the_message_and_swallow_a_trailing_nul() {
        for items in [
            &b"len32"[..],
            b"len64",
            b"lsb,len32",
            b"lsb,usr1,len64",
            b"len32,none",
        ] {
            for kind in [Kind::Paced(100), Kind::Waiting] {
                let mut r = rx::<2, 64>(items);
                let msg = b"nul\0inside";
                let mut cl = [Client::new(5, kind, msg, 0)];
                let w = World::run(&mut r, &mut cl);
                assert_eq!(w.stdout(), b"nul\0inside\n");
                assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
            }
        }
    }

    #[test]
    fn a_waiting_client_silent_for_longer_than_a_paced_one_may_be_is_not_cut() {
        let c = Convention::default();
        let mut r: ClassicReceiver<2, 64> = ClassicReceiver::new(Default::default(), c);
        let enc = Encoder::new(c, b"wait").unwrap();
        let mut w = World::default();
        let mut cl = [Client::new(5, Kind::Waiting, b"", 0)];
        // First bit, then the held reply makes it a waiting client.
        let mut now = Duration::ZERO;
        w.on_signal(&mut r, &mut cl, 5, enc.signal_at(0).unwrap(), now);
        now = now.saturating_add(Duration::from_millis(10));
        w.drain(&mut r, &mut cl, now);
        assert!(w.traces.contains(&Trace::Waiting(5)));
        for i in 1..enc.bits() {
            // Half a second unscheduled in the middle: more than `silence`.
            let gap = if i == 13 { 500_000 } else { 20 };
            now = now.saturating_add(us(gap));
            w.drain(&mut r, &mut cl, now);
            w.on_signal(&mut r, &mut cl, 5, enc.signal_at(i).unwrap(), now);
        }
        assert_eq!(w.stdout(), b"wait\n");
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
    }

    #[test]
    fn with_a_header_and_nul_the_end_is_acknowledged_after_the_nul() {
        for items in [&b"len32"[..], b"lsb,len64"] {
            let mut r = rx::<2, 64>(items);
            let mut cl = [Client::new(5, Kind::Waiting, b"ab", 0)];
            let w = World::run(&mut r, &mut cl);
            assert_eq!(w.stdout(), b"ab\n");
            let bits = Encoder::new(r.convention(), b"ab").unwrap().bits() as usize;
            // SIGUSR1 for every bit (the NUL's too), then the separate SIGUSR2.
            let heard = &cl[0].heard;
            assert_eq!(heard.len(), bits + 1, "{heard:?}");
            assert!(heard[..bits].iter().all(|&s| s == Usr1));
            assert_eq!(heard[bits], Usr2);
        }
    }

    #[test]
    fn back_to_back_messages_after_a_header_without_nul() {
        // LSB-first headers begin with a non-zero byte: not a NUL.
        let c = Convention::parse(b"lsb,len32").unwrap();
        let mut r: ClassicReceiver<2, 64> = ClassicReceiver::new(Default::default(), c);
        let mut signals = Vec::new();
        for m in [&b"one"[..], b"two"] {
            let enc = Encoder::new(
                Convention {
                    end: End::None,
                    ..c
                },
                m,
            )
            .unwrap();
            signals.extend((0..enc.bits()).map(|i| enc.signal_at(i).unwrap()));
        }
        let mut w = World::default();
        let mut cl = [Client::new(5, Kind::Paced(100), b"", 0)];
        for (i, s) in signals.iter().enumerate() {
            let now = us(100 * i as u64);
            w.on_signal(&mut r, &mut cl, 5, *s, now);
        }
        assert_eq!(w.stdout(), b"one\ntwo\n");
    }

    #[test]
    fn messages_back_to_back_from_one_client() {
        for kind in [Kind::Paced(100), Kind::Waiting] {
            let mut r = rx::<2, 8>(b"");
            // the second one streams: longer than the 7 bytes a slot holds
            let mut cl = [Client::new(5, kind, b"one\0second message", 0)];
            let w = World::run(&mut r, &mut cl);
            assert_eq!(w.stdout(), b"one\nsecond message\n");
            assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
        }
    }

    #[test]
    fn silence_ends_a_message_without_nul_and_a_short_one() {
        let mut r = rx::<2, 64>(b"none");
        let mut cl = [Client::new(5, Kind::Paced(100), b"no end", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"no end\n");
        assert!(w.verdicts.is_empty());
        let mut r = rx::<2, 64>(b"len32");
        let mut cl = [Client::new(5, Kind::Paced(100), b"cut short", 0)];
        cl[0].die_after = Some(32 + 16);
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"cu\n");
        assert_eq!(
            w.verdicts[0].kind,
            VerdictKind::Short {
                got: 2,
                announced: 9
            }
        );
    }

    #[test]
    fn long_messages_stream_without_interleaving() {
        let long: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let mut r = rx::<4, 8>(b"");
        let mut cl = [
            Client::new(1, Kind::Paced(100), &long, 0),
            Client::new(2, Kind::Paced(100), b"short", 8_000),
            Client::new(3, Kind::Waiting, &long[..40], 9_000),
        ];
        let w = World::run(&mut r, &mut cl);
        let out = w.stdout();
        let mut expect = long.clone();
        expect.push(b'\n');
        expect.extend_from_slice(b"short\n");
        expect.extend_from_slice(&long[..40]);
        expect.push(b'\n');
        assert_eq!(
            std::string::String::from_utf8_lossy(&out),
            std::string::String::from_utf8_lossy(&expect)
        );
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
        // the long message came out in chunks of at most B - 1 bytes
        assert!(w.written.iter().all(|(_, b)| b.len() <= 8));
        assert!(w.written.iter().filter(|(pid, _)| *pid == 1).count() >= 100 / 7);
        // the waiting client was held back while the first one streamed
        assert!(w.traces.contains(&Trace::Stalled(3)));
        assert_eq!(r.active(), 0);
    }

    #[test]
    fn a_waiting_client_held_behind_a_long_message_hears_its_end_once_printed() {
        let long: Vec<u8> = (0..60u8).map(|i| b'a' + i % 26).collect();
        let mut r = rx::<4, 8>(b"");
        let mut cl = [
            Client::new(1, Kind::Paced(100), &long, 0),
            Client::new(2, Kind::Waiting, b"short", 8_000),
        ];
        let w = World::run(&mut r, &mut cl);
        let mut expect = long.clone();
        expect.extend_from_slice(b"\nshort\n");
        assert_eq!(w.stdout(), expect);
        assert_eq!(w.written.last(), Some(&(2, b"short\n".to_vec())));
        // its end (SIGUSR2, after the last bit's SIGUSR1) comes after its write
        let written = w.log.iter().position(|e| *e == (2, None)).unwrap();
        let done = w.log.iter().position(|e| *e == (2, Some(Usr2))).unwrap();
        assert!(written < done, "{:?}", w.log);
        assert_eq!(cl[0].heard, [Usr1]);
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
        assert_eq!(r.active(), 0);
    }

    #[test]
    fn second_paced_overflow_while_streaming_is_dropped_and_reported() {
        let long: Vec<u8> = (0..60u8).map(|i| b'a' + i % 26).collect();
        let mut r = rx::<4, 8>(b"");
        let mut cl = [
            Client::new(1, Kind::Paced(100), &long, 0),
            Client::new(2, Kind::Paced(100), b"0123456789abc", 8_000),
        ];
        let w = World::run(&mut r, &mut cl);
        let out = w.stdout();
        assert!(out.starts_with(&long));
        assert!(w
            .verdicts
            .iter()
            .any(|v| v.pid == 2 && matches!(v.kind, VerdictKind::Dropped { bytes } if bytes > 0)));
        // no line mixes the two clients
        for line in out.split(|&b| b == b'\n') {
            assert!(
                line.iter().all(|b| b.is_ascii_lowercase())
                    || line
                        .iter()
                        .all(|b| !b.is_ascii_lowercase() || b"abc".contains(b))
            );
        }
    }

    #[test]
    fn invalid_utf8_is_printed_and_reported() {
        let mut r = rx::<2, 64>(b"");
        let mut cl = [Client::new(5, Kind::Paced(100), b"ok\xffno", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"ok\xffno\n");
        assert_eq!(w.verdicts[0].kind, VerdictKind::InvalidUtf8 { at: 2 });
        let mut r = rx::<2, 64>(b"");
        let mut cl = [Client::new(5, Kind::Paced(100), b"cut \xc3", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.verdicts[0].kind, VerdictKind::InvalidUtf8 { at: 4 });
    }

    #[test]
    fn wrong_convention_gets_a_hint() {
        let lsb = Convention::parse(b"lsb").unwrap();
        let enc = Encoder::new(lsb, b"Hello").unwrap();
        let mut r = rx::<2, 64>(b"");
        let mut w = World::default();
        let mut cl = [Client::new(5, Kind::Paced(100), b"", 0)];
        for i in 0..enc.bits() {
            let now = us(100 * i);
            w.on_signal(&mut r, &mut cl, 5, enc.signal_at(i).unwrap(), now);
        }
        let hint = w.verdicts.iter().find_map(|v| v.kind.suggestion());
        assert_eq!(hint, Some("lsb"));
    }

    #[test]
    fn a_full_table_ignores_new_processes() {
        let mut r = rx::<1, 64>(b"");
        let mut cl = [
            Client::new(1, Kind::Paced(100), b"in", 0),
            Client::new(2, Kind::Paced(100), b"out", 50),
        ];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"in\n");
        assert!(w.traces.contains(&Trace::NoSlot(2)));
    }

    #[test]
    fn trace_gives_each_bit_with_the_time_since_the_previous_signal() {
        let mut r = rx::<1, 64>(b"");
        let mut cl = [Client::new(1, Kind::Paced(250), "xé".as_bytes(), 0)];
        let w = World::run(&mut r, &mut cl);
        let bits: Vec<_> = w
            .traces
            .iter()
            .filter_map(|t| match t {
                Trace::Bits {
                    pid,
                    bits,
                    n,
                    gaps,
                    read,
                } => Some((*pid, *bits, *n, *gaps, *read)),
                _ => None,
            })
            .collect();
        let mut gaps = [250; 8];
        gaps[0] = Trace::FIRST;
        let x = Read::Byte {
            byte: b'x',
            offset: 0,
            text: Text::Char('x'),
        };
        assert_eq!(bits[0], (1, b'x', 8, gaps, x));
        let [e1, e2] = "é".as_bytes() else { panic!() };
        assert_eq!(
            bits[1].4,
            Read::Byte {
                byte: *e1,
                offset: 1,
                text: Text::More
            }
        );
        assert_eq!(bits[2].1, *e2);
        assert_eq!(bits[2].3, [250; 8]);
        assert_eq!(
            bits[2].4,
            Read::Byte {
                byte: *e2,
                offset: 2,
                text: Text::Char('é')
            }
        );
        assert_eq!(
            bits[3].4,
            Read::Byte {
                byte: 0,
                offset: 3,
                text: Text::Char('\0')
            }
        );
        assert_eq!(bits.len(), 4);
    }

    #[test]
    fn trace_shows_the_bits_of_a_header_and_of_an_unfinished_byte() {
        let mut r = rx::<1, 64>(b"len32");
        let mut cl = [Client::new(1, Kind::Paced(100), b"ab", 0)];
        cl[0].die_after = Some(32 + 8 + 3);
        let w = World::run(&mut r, &mut cl);
        let reads: Vec<_> = w
            .traces
            .iter()
            .filter_map(|t| match t {
                Trace::Bits { n, read, .. } => Some((*n, *read)),
                _ => None,
            })
            .collect();
        assert_eq!(
            reads,
            [
                (8, Read::Header),
                (8, Read::Header),
                (8, Read::Header),
                (8, Read::Length(2)),
                (
                    8,
                    Read::Byte {
                        byte: b'a',
                        offset: 0,
                        text: Text::Char('a')
                    }
                ),
                (3, Read::Unfinished),
            ]
        );
        assert_eq!(w.stdout(), b"a\n");
    }

    /// The first bad byte as the standard library sees it.
    fn std_bad(bytes: &[u8]) -> Option<u64> {
        core::str::from_utf8(bytes)
            .err()
            .map(|e| e.valid_up_to() as u64)
    }

    #[test]
    fn utf8_agrees_with_the_standard_library() {
        // Every string of up to two bytes, and every three-byte one that
        // starts with a lead of a longer sequence.
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for a in 0..=255u8 {
            cases.push(std::vec![a]);
            for b in 0..=255u8 {
                cases.push(std::vec![a, b]);
                if a >= 0xE0 && b >= 0x80 {
                    for c in [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF] {
                        cases.push(std::vec![a, b, c]);
                        cases.push(std::vec![a, b, 0x80, c]);
                    }
                }
            }
        }
        for bytes in cases {
            let mut u = Utf8::START;
            let mut chars = std::string::String::new();
            for (i, &b) in bytes.iter().enumerate() {
                if let Text::Char(c) = u.push(b, i as u64) {
                    chars.push(c);
                }
            }
            assert_eq!(u.finish(), std_bad(&bytes), "{bytes:x?}");
            if let Ok(s) = core::str::from_utf8(&bytes) {
                assert_eq!(chars, s, "{bytes:x?}");
            }
        }
    }

    #[test]
    fn utf8_errors_are_found_and_decoding_goes_on() {
        let mut u = Utf8::START;
        let texts: Vec<_> = b"a\xc3(\xe2\x82\xac\xff"
            .iter()
            .enumerate()
            .map(|(i, &b)| u.push(b, i as u64))
            .collect();
        assert_eq!(
            texts,
            [
                Text::Char('a'),
                Text::More,
                Text::Char('('),
                Text::More,
                Text::More,
                Text::Char('€'),
                Text::Bad
            ]
        );
        assert_eq!(u.finish(), Some(1));
        let mut u = Utf8::START;
        for (i, &b) in "ok ü".as_bytes().iter().enumerate() {
            u.push(b, i as u64);
        }
        assert_eq!(u.finish(), None);
        u.push(0xF0, 5);
        assert_eq!(u.finish(), Some(5));
        // surrogates and overlong forms are not UTF-8
        for bad in [
            &b"\xed\xa0\x80"[..],
            b"\xc0\x80",
            b"\xe0\x80\x80",
            b"\xf4\x90\x80\x80",
        ] {
            let mut u = Utf8::START;
            for (i, &b) in bad.iter().enumerate() {
                u.push(b, i as u64);
            }
            assert_eq!(u.finish(), Some(0), "{bad:?}");
        }
    }

    #[test]
    fn slow_paced_client_is_taken_as_waiting_harmlessly() {
        // 20 ms per bit is longer than the hold: it is answered per bit,
        // which a client that catches SIGUSR1 survives.
        let mut r = rx::<1, 64>(b"");
        let mut cl = [Client::new(1, Kind::Paced(20_000), b"slow", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"slow\n");
    }
}
