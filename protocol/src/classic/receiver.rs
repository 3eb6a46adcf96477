//! The classic server: each sending process's bits decoded on their own.
//!
//! Signals come in as `(pid, signal, now)` ([`ClassicReceiver::on_signal`]);
//! out come, through [`ClassicReceiver::poll`], the bytes to write, the
//! acknowledgements to send, verdicts for stderr and trace events.
//!
//! # Memory and output order
//!
//! A fixed table of `N` slots, one per sending process, each with a buffer of
//! `B` bytes (`B >= 2`). A message is written whole, with its `'\n'`, in one
//! [`ClassicOutput::Write`] when it ends, if it fits `B - 1` bytes. A longer
//! one is *streamed*: its first `B - 1` bytes are written as soon as they
//! fill the buffer, then each further `B - 1`, and the last chunk carries the
//! `'\n'`. Only one message streams at a time (the first that overflows while
//! no other streams), so lines of different clients never interleave on
//! stdout: a message that ends meanwhile is held, and written after the
//! streaming one, in the order the messages ended. A second client that
//! overflows its buffer meanwhile is held back: if it waits for an
//! acknowledgement per bit, its acknowledgement is withheld until the output
//! is free (it just waits); if it paces itself, the bytes that do not fit are
//! dropped and reported ([`VerdictKind::Dropped`]). A process that finds no
//! free slot is ignored (traced as [`Trace::NoSlot`]).
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
//! "ack, plus done" clients). A signal is only ever asked for when the caller
//! said the process catches it ([`ClassicReceiver::set_catches`], asked for
//! with [`ClassicOutput::CheckCatches`]), and never for a PID below 1.
//!
//! No input makes the receiver panic; memory is bounded by `N` and `B`.

use heapless::Deque;

use super::{BitOrder, Convention, DoneAck, End, Header};
use crate::{Duration, Pid, Signal};

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
    /// The client fell silent in the middle of a byte: signals were lost.
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
                "partial byte left when the client fell silent: signals were lost; \
                 your client sends faster than signals can be delivered; \
                 wait for an acknowledgement or sleep longer"
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

/// Events for `--trace`, the learner's debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// A signal from a process with a slot.
    Signal {
        /// The sender.
        pid: Pid,
        /// The signal.
        signal: Signal,
        /// Since the previous signal from `pid` (`None`: its first).
        since: Option<Duration>,
        /// The bit it carries.
        bit: bool,
        /// Its place in the byte (0 to 7) or in the length header.
        index: u8,
    },
    /// A byte completed.
    Byte {
        /// The sender.
        pid: Pid,
        /// The byte.
        byte: u8,
        /// Its offset in the message (the ending NUL included).
        offset: u64,
    },
    /// A length header completed.
    Length {
        /// The sender.
        pid: Pid,
        /// The announced length in bytes.
        announced: u64,
    },
    /// A message ended and is written (or held).
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
    /// A reply to `pid` was not sent: it does not catch `signal` (or its
    /// catches are unknown).
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
    /// `pid` waits per bit and its buffer is full while another message
    /// streams: its acknowledgement is withheld until the output is free.
    Stalled(Pid),
}

/// What a [`ClassicReceiver`] asks of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassicOutput<'a> {
    /// Send `signal` to `to`.
    Send {
        /// The process (always >= 1, and said to catch `signal`).
        to: Pid,
        /// The signal.
        signal: Signal,
    },
    /// Write these bytes to stdout, in one write (a whole message and its
    /// `'\n'`, or one chunk of a streamed one).
    Write {
        /// The sender.
        from: Pid,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Read which signals `pid` catches and call
    /// [`ClassicReceiver::set_catches`].
    CheckCatches(Pid),
    /// A problem to report on stderr.
    Verdict(Verdict),
    /// A trace event.
    Trace(Trace),
}

/// Events queued for [`ClassicReceiver::poll`].
#[derive(Clone, Copy, Debug)]
enum Event {
    Send(Pid, Signal),
    /// The whole buffer of this slot, for this process.
    Write(usize, Pid),
    /// The '\n' (and carried byte) after a streamed message's last chunk.
    Newline(usize, Pid),
    Check(Pid),
    Verdict(Verdict),
    Trace(Trace),
}

/// Queue capacity; trace events are dropped first when it runs short.
const QUEUE: usize = 64;
/// Room kept in the queue for events that are not traces.
const QUEUE_RESERVE: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// First bit seen, reply held; `first` is the signal (for an echo).
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

/// What the slot's buffer is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    /// Taking bytes.
    Open,
    /// A write of the whole buffer is queued.
    Queued,
    /// Handed to the caller by `poll`: cleared at the next call.
    Handed,
    /// A finished message waiting for a streamed one to end; `seq` orders them.
    Held(u64),
}

/// Incremental UTF-8 validation.
#[derive(Clone, Copy, Debug, Default)]
struct Utf8 {
    need: u8,
    lo: u8,
    hi: u8,
    start: u64,
    bad: Option<u64>,
}

impl Utf8 {
    fn push(&mut self, b: u8, at: u64) {
        if self.bad.is_some() {
            return;
        }
        if self.need > 0 {
            if (self.lo..=self.hi).contains(&b) {
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
            } else {
                self.bad = Some(self.start);
            }
            return;
        }
        let (need, lo, hi) = match b {
            0x00..=0x7F => (0, 0x80, 0xBF),
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => {
                self.bad = Some(at);
                return;
            }
        };
        *self = Utf8 {
            need,
            lo,
            hi,
            start: at,
            bad: None,
        };
    }

    fn finish(&self) -> Option<u64> {
        self.bad.or((self.need > 0).then_some(self.start))
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The process decoded here (or whose bytes the buffer still holds).
    pid: Pid,
    /// `pid`'s signals are decoded here.
    decoding: bool,
    catches: Option<Catches>,
    mode: Mode,
    /// Signals from `pid` in this slot's life.
    signals: u64,
    last: Duration,
    acc: u64,
    nbits: u8,
    phase: Phase,
    /// Bytes of the current message (all received, dropped ones included).
    bytes: u64,
    announced: Option<u64>,
    utf8: Utf8,
    dropped: u64,
    /// Raw signals of the current byte, in arrival order, `Usr2` = 1.
    raw: u8,
    /// Bit k: every byte so far is text read as interpretation k.
    text: u8,
    hinted: bool,
    /// Bytes in this slot's buffer (`ClassicReceiver::bufs`).
    len: usize,
    out: Out,
    /// A byte that did not fit yet.
    carry: Option<u8>,
    /// The acknowledgement of `carry`'s last bit is withheld.
    stalled: Option<Signal>,
}

impl Slot {
    const FREE: Self = Slot {
        pid: 0,
        decoding: false,
        catches: None,
        mode: Mode::Paced,
        signals: 0,
        last: Duration::ZERO,
        acc: 0,
        nbits: 0,
        phase: Phase::Header,
        bytes: 0,
        announced: None,
        utf8: Utf8 {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
            start: 0,
            bad: None,
        },
        dropped: 0,
        raw: 0,
        text: 0b1111,
        hinted: false,
        len: 0,
        out: Out::Open,
        carry: None,
        stalled: None,
    };

    fn is_free(&self) -> bool {
        !self.decoding && self.len == 0 && self.out == Out::Open && self.carry.is_none()
    }

    /// Forgets the message being decoded (not the buffer, not the process).
    fn reset_message(&mut self, header: Header) {
        self.acc = 0;
        self.nbits = 0;
        self.phase = match header {
            Header::None => Phase::Body { left: None },
            _ => Phase::Header,
        };
        self.bytes = 0;
        self.announced = None;
        self.utf8 = Slot::FREE.utf8;
        self.dropped = 0;
        self.raw = 0;
        self.text = 0b1111;
        self.hinted = false;
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
///     Catches, ClassicOutput, ClassicReceiver, Convention, Encoder,
/// };
/// use minitalk_protocol::Duration;
/// let c = Convention::default();
/// let mut rx: ClassicReceiver<4, 64> = ClassicReceiver::new(Default::default(), c);
/// let enc = Encoder::new(c, b"hi").unwrap();
/// let mut out = Vec::new();
/// for i in 0..enc.bits() {
///     let now = Duration::from_micros(100 * i); // a client pacing itself
///     rx.on_signal(4242, enc.signal_at(i).unwrap(), now);
///     while let Some(o) = rx.poll(now) {
///         match o {
///             ClassicOutput::Write { bytes, .. } => out.extend_from_slice(bytes),
///             ClassicOutput::CheckCatches(pid) => rx.set_catches(pid, Catches::default()),
///             _ => {}
///         }
///     }
/// }
/// assert_eq!(out, b"hi\n");
/// ```
#[derive(Clone, Debug)]
pub struct ClassicReceiver<const N: usize, const B: usize> {
    config: ClassicReceiverConfig,
    convention: Convention,
    slots: [Slot; N],
    /// The slots' buffers, apart from the slots so that resetting a slot
    /// does not copy a buffer-sized constant.
    bufs: [[u8; B]; N],
    queue: Deque<Event, QUEUE>,
    /// The slot whose message is being streamed.
    streamer: Option<usize>,
    /// Orders held messages.
    seq: u64,
}

impl<const N: usize, const B: usize> ClassicReceiver<N, B> {
    const ROOM_FOR_NEWLINE: () = assert!(B >= 2, "a slot needs at least 2 bytes");
    /// Message bytes a buffer holds (one byte is kept for the `'\n'`).
    const CAP: usize = B - 1;

    /// A receiver reading bits by `convention`.
    pub fn new(config: ClassicReceiverConfig, convention: Convention) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::ROOM_FOR_NEWLINE;
        ClassicReceiver {
            config,
            convention,
            slots: [Slot::FREE; N],
            bufs: [[0; B]; N],
            queue: Deque::new(),
            streamer: None,
            seq: 0,
        }
    }

    /// The convention in use.
    pub fn convention(&self) -> Convention {
        self.convention
    }

    /// Tells which signals `pid` catches (after [`ClassicOutput::CheckCatches`]).
    pub fn set_catches(&mut self, pid: Pid, catches: Catches) {
        for s in self
            .slots
            .iter_mut()
            .filter(|s| s.decoding && s.pid == pid && pid >= 1)
        {
            s.catches = Some(catches);
        }
    }

    /// Processes decoded now (slots in use).
    pub fn active(&self) -> usize {
        self.slots.iter().filter(|s| !s.is_free()).count()
    }

    /// When to call [`ClassicReceiver::poll`] at the latest, if nothing comes.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{ClassicReceiver, Convention};
    /// use minitalk_protocol::{Duration, Signal};
    /// let mut rx: ClassicReceiver<2, 16> = ClassicReceiver::new(Default::default(), Convention::default());
    /// assert_eq!(rx.poll_at(), None);
    /// rx.on_signal(42, Signal::Usr1, Duration::ZERO);
    /// while rx.poll(Duration::ZERO).is_some() {}
    /// // the held first reply is due after `hold`
    /// assert_eq!(rx.poll_at(), Some(Duration::from_millis(10)));
    /// ```
    pub fn poll_at(&self) -> Option<Duration> {
        if !self.queue.is_empty() {
            return Some(Duration::ZERO);
        }
        self.slots
            .iter()
            .filter(|s| s.decoding)
            .filter_map(|s| match s.mode {
                Mode::Unknown { until, .. } => Some(until),
                _ if s.stalled.is_some() => None,
                _ => Some(s.last.saturating_add(self.silence(s.mode))),
            })
            .min()
    }

    /// The silence that ends the message of a process in `mode`.
    fn silence(&self, mode: Mode) -> Duration {
        match mode {
            Mode::Waiting => self.config.waiting_silence,
            _ => self.config.silence,
        }
    }

    fn push(&mut self, e: Event) {
        let room = match e {
            Event::Trace(_) => QUEUE.saturating_sub(QUEUE_RESERVE),
            _ => QUEUE,
        };
        if self.queue.len() < room {
            let _ = self.queue.push_back(e);
        }
    }

    /// Asks for `signal` to `i`'s process if it may have it.
    fn reply(&mut self, i: usize, signal: Signal) {
        let Some(s) = self.slots.get(i) else { return };
        let pid = s.pid;
        if pid >= 1 && s.catches.is_some_and(|c| c.catches(signal)) {
            self.push(Event::Send(pid, signal));
        } else {
            self.push(Event::Trace(Trace::NotCaught { pid, signal }));
        }
    }

    /// A signal from `pid`, at `now`.
    pub fn on_signal(&mut self, pid: Pid, signal: Signal, now: Duration) {
        self.settle();
        if pid < 1 {
            self.push(Event::Trace(Trace::Stray { pid, signal }));
            return;
        }
        let i = match self.slots.iter().position(|s| s.decoding && s.pid == pid) {
            Some(i) => i,
            None => match self.slots.iter().position(|s| s.is_free()) {
                Some(i) => {
                    let header = self.convention.header;
                    let s = &mut self.slots[i];
                    *s = Slot::FREE;
                    s.pid = pid;
                    s.decoding = true;
                    s.reset_message(header);
                    s.mode = Mode::Unknown {
                        until: now.saturating_add(self.config.hold),
                        first: signal,
                    };
                    self.push(Event::Check(pid));
                    i
                }
                None => {
                    self.push(Event::Trace(Trace::NoSlot(pid)));
                    return;
                }
            },
        };
        let c = self.convention;
        let s = &mut self.slots[i];
        let since = (s.signals > 0).then(|| now.saturating_sub(s.last));
        s.signals = s.signals.saturating_add(1);
        s.last = now;
        let bit = c.bit(signal);
        let index = s.nbits;
        let mut mode_trace = None;
        if s.signals == 2 {
            if let Mode::Unknown { .. } = s.mode {
                // Its second bit came before any reply: it paces itself.
                s.mode = Mode::Paced;
                mode_trace = Some(Trace::Paced(pid));
            }
        }
        self.push(Event::Trace(Trace::Signal {
            pid,
            signal,
            since,
            bit,
            index,
        }));
        if let Some(t) = mode_trace {
            self.push(Event::Trace(t));
        }
        let ended = self.take_bit(i, bit, signal);
        let Some(s) = self.slots.get(i) else { return };
        match s.mode {
            Mode::Waiting if s.stalled.is_some() => {}
            Mode::Waiting if ended => match c.done {
                DoneAck::Plus => {
                    self.reply(i, Signal::Usr1);
                    self.reply(i, Signal::Usr2);
                }
                DoneAck::Then => self.reply(i, Signal::Usr2),
                DoneAck::Bare => self.reply(i, Signal::Usr1),
            },
            Mode::Waiting => {
                let ack = if c.echo { signal } else { Signal::Usr1 };
                self.reply(i, ack);
            }
            Mode::Paced if ended && c.paced_end => self.reply(i, Signal::Usr1),
            _ => {}
        }
    }

    /// Adds a bit to slot `i`; true if it ended a message.
    fn take_bit(&mut self, i: usize, bit: bool, signal: Signal) -> bool {
        let c = self.convention;
        let Some(s) = self.slots.get_mut(i) else {
            return false;
        };
        s.acc = (s.acc << 1) | u64::from(bit);
        s.nbits = s.nbits.saturating_add(1);
        s.raw = (s.raw << 1) | u8::from(signal == Signal::Usr2);
        let width = match s.phase {
            Phase::Header => (c.header.bits() as u8).max(8),
            _ => 8,
        };
        if s.nbits < width {
            return false;
        }
        let value = match c.order {
            BitOrder::Msb => s.acc,
            BitOrder::Lsb => s.acc.reverse_bits() >> (64 - u32::from(width)),
        };
        let raw = s.raw;
        s.acc = 0;
        s.nbits = 0;
        s.raw = 0;
        let pid = s.pid;
        match s.phase {
            Phase::Header => {
                s.announced = Some(value);
                s.phase = Phase::Body { left: Some(value) };
                self.push(Event::Trace(Trace::Length {
                    pid,
                    announced: value,
                }));
                if value == 0 {
                    self.end_message(i, false);
                    // With `nul`, the client still sends its NUL: the end
                    // is acknowledged after it.
                    return c.end == End::None;
                }
                false
            }
            Phase::TrailingNul => {
                let byte = value as u8;
                if byte == 0 {
                    // The NUL after the announced length: part of the end,
                    // which is acknowledged now.
                    s.reset_message(c.header);
                    self.push(Event::Trace(Trace::Byte {
                        pid,
                        byte,
                        offset: 0,
                    }));
                    true
                } else {
                    // No NUL: this byte opens the next message's header.
                    s.reset_message(c.header);
                    s.acc = u64::from(match c.order {
                        BitOrder::Msb => byte,
                        BitOrder::Lsb => byte.reverse_bits(),
                    });
                    s.nbits = 8;
                    s.raw = raw;
                    false
                }
            }
            Phase::Body { left } => {
                let byte = value as u8;
                let offset = s.bytes;
                self.push(Event::Trace(Trace::Byte { pid, byte, offset }));
                if left.is_none() && c.end == End::Nul && byte == 0 {
                    self.end_message(i, false);
                    return true;
                }
                self.push_byte(i, byte, raw);
                let Some(s) = self.slots.get_mut(i) else {
                    return false;
                };
                if let Some(left) = left {
                    let left = left.saturating_sub(1);
                    s.phase = Phase::Body { left: Some(left) };
                    if left == 0 {
                        self.end_message(i, false);
                        return c.end == End::None;
                    }
                }
                false
            }
        }
    }

    fn any_held(&self) -> bool {
        self.slots.iter().any(|s| matches!(s.out, Out::Held(_)))
    }

    /// Whether slot `i` may write before its message ends.
    fn may_stream(&self, i: usize) -> bool {
        self.streamer == Some(i) || (self.streamer.is_none() && !self.any_held())
    }

    /// Stores a message byte of slot `i`.
    fn push_byte(&mut self, i: usize, byte: u8, raw: u8) {
        let c = self.convention;
        let may_stream = self.may_stream(i);
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        let at = s.bytes;
        s.bytes = s.bytes.saturating_add(1);
        s.utf8.push(byte, at);
        let mut hint = None;
        if c.header == Header::None && !s.hinted {
            for k in 0..4 {
                if !is_text(interpret(raw, k)) {
                    s.text &= !(1 << k);
                }
            }
            if s.bytes >= 4 {
                s.hinted = true;
                let current = interpretation(c.order, c.one);
                if s.text & (1 << current) == 0 && s.text.count_ones() == 1 {
                    let k = s.text.trailing_zeros() as u8;
                    hint = Some(VerdictKind::Hint {
                        order: if k & 1 == 1 {
                            BitOrder::Lsb
                        } else {
                            BitOrder::Msb
                        },
                        one: if k & 2 == 2 {
                            Signal::Usr1
                        } else {
                            Signal::Usr2
                        },
                    });
                }
            }
        }
        let pid = s.pid;
        if s.out == Out::Open && s.len < Self::CAP {
            if let Some(b) = self.bufs.get_mut(i).and_then(|b| b.get_mut(s.len)) {
                *b = byte;
            }
            s.len += 1;
        } else if s.carry.is_none() && (matches!(s.out, Out::Queued | Out::Handed)) {
            // The buffer is on its way out: cleared at the next call.
            s.carry = Some(byte);
        } else if s.carry.is_none() && s.out == Out::Open && may_stream {
            // Full: stream it, and keep the byte for after.
            s.carry = Some(byte);
            s.out = Out::Queued;
            self.streamer = Some(i);
            self.push(Event::Write(i, pid));
        } else if s.carry.is_none() && s.mode == Mode::Waiting {
            // Wait for the output to be free: the acknowledgement waits too.
            s.carry = Some(byte);
            s.stalled = Some(if c.echo {
                c.signal(byte_last_bit(byte, c.order))
            } else {
                Signal::Usr1
            });
            self.push(Event::Trace(Trace::Stalled(pid)));
        } else {
            s.dropped = s.dropped.saturating_add(1);
        }
        if let Some(kind) = hint {
            self.push(Event::Verdict(Verdict { pid, kind }));
        }
    }

    /// Ends slot `i`'s message: queues (or holds) its bytes and its verdicts.
    /// `silent`: it ended by silence.
    fn end_message(&mut self, i: usize, silent: bool) {
        let c = self.convention;
        // The streaming message goes first; the others wait their turn.
        let held = self.streamer != Some(i) && (self.streamer.is_some() || self.any_held());
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        let pid = s.pid;
        let mut verdicts: heapless::Vec<VerdictKind, 5> = heapless::Vec::new();
        if silent {
            if s.nbits > 0 {
                let _ = verdicts.push(VerdictKind::PartialByte { bits: s.nbits });
            }
            match (s.announced, s.phase) {
                (Some(announced), Phase::Body { .. }) => {
                    let _ = verdicts.push(VerdictKind::Short {
                        got: s.bytes,
                        announced,
                    });
                }
                (None, Phase::Body { .. })
                    if c.end == End::Nul && c.header == Header::None && s.bytes > 0 =>
                {
                    let _ = verdicts.push(VerdictKind::NoNul);
                }
                _ => {}
            }
        }
        if let Some(at) = s.utf8.finish() {
            let _ = verdicts.push(VerdictKind::InvalidUtf8 { at });
        }
        let bytes = s.bytes;
        if bytes > 0 || !silent {
            match s.out {
                Out::Open if s.carry.is_none() => {
                    // Room for the '\n' is always kept: CAP = B - 1.
                    if let Some(slot) = self.bufs.get_mut(i).and_then(|b| b.get_mut(s.len)) {
                        *slot = b'\n';
                        s.len += 1;
                    }
                    if held {
                        s.out = Out::Held(seq);
                    } else {
                        s.out = Out::Queued;
                        self.push(Event::Write(i, pid));
                    }
                    if self.streamer == Some(i) {
                        self.streamer = None;
                    }
                }
                Out::Queued | Out::Handed => {
                    // A streamed chunk is on its way out: the carried byte
                    // and the '\n' follow it; the slot streams until then.
                    self.push(Event::Newline(i, pid));
                }
                _ => {
                    // Held back (stalled, or its previous message is held):
                    // what did not fit is lost, and said so.
                    let lost = u64::from(s.carry.take().is_some());
                    s.dropped = s.dropped.saturating_add(lost);
                    s.stalled = None;
                }
            }
        }
        if let Some(s) = self.slots.get(i).filter(|s| s.dropped > 0) {
            let _ = verdicts.push(VerdictKind::Dropped { bytes: s.dropped });
        }
        self.push(Event::Trace(Trace::End { pid, bytes }));
        for kind in verdicts {
            self.push(Event::Verdict(Verdict { pid, kind }));
        }
        let header = c.header;
        if let Some(s) = self.slots.get_mut(i) {
            s.reset_message(header);
            if !silent && header != Header::None && c.end == End::Nul {
                s.phase = Phase::TrailingNul;
            }
        }
    }

    /// Clears what the caller has written and moves carried bytes in.
    fn settle(&mut self) {
        for i in 0..N {
            let Some(s) = self.slots.get_mut(i) else {
                continue;
            };
            if s.out != Out::Handed {
                continue;
            }
            s.len = 0;
            s.out = Out::Open;
            if let Some(b) = s.carry.take() {
                if let Some(first) = self.bufs.get_mut(i).and_then(|b| b.first_mut()) {
                    *first = b;
                }
                s.len = 1;
            }
            if let Some(ack) = s.stalled.take() {
                self.reply(i, ack);
            }
        }
    }

    /// Starts the next held write, or the next stalled stream, when the
    /// output is free.
    fn release(&mut self) -> bool {
        if self.streamer.is_some() {
            return false;
        }
        let held = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.out {
                Out::Held(seq) => Some((seq, i)),
                _ => None,
            })
            .min();
        if let Some((_, i)) = held {
            self.slots[i].out = Out::Queued;
            let pid = self.slots[i].pid;
            self.push(Event::Write(i, pid));
            return true;
        }
        let stalled = self
            .slots
            .iter()
            .position(|s| s.stalled.is_some() && s.out == Out::Open);
        if let Some(i) = stalled {
            self.slots[i].out = Out::Queued;
            self.streamer = Some(i);
            let pid = self.slots[i].pid;
            self.push(Event::Write(i, pid));
            return true;
        }
        false
    }

    /// Handles the timers that are due at `now`, one at a time.
    fn timers(&mut self, now: Duration) -> bool {
        for i in 0..N {
            let s = &mut self.slots[i];
            if !s.decoding {
                continue;
            }
            if let Mode::Unknown { until, first } = s.mode {
                if now >= until {
                    s.mode = Mode::Waiting;
                    let pid = s.pid;
                    self.push(Event::Trace(Trace::Waiting(pid)));
                    let ack = if self.convention.echo {
                        first
                    } else {
                        Signal::Usr1
                    };
                    self.reply(i, ack);
                    return true;
                }
            }
            let silence = self.silence(self.slots[i].mode);
            let s = &mut self.slots[i];
            if s.stalled.is_none() && now >= s.last.saturating_add(silence) {
                let busy =
                    s.nbits > 0 || s.bytes > 0 || matches!(s.phase, Phase::Body { left: Some(_) });
                if busy {
                    self.end_message(i, true);
                }
                let s = &mut self.slots[i];
                s.decoding = false;
                s.catches = None;
                return true;
            }
        }
        false
    }

    /// The next thing to do at `now`, or `None` until [`ClassicReceiver::poll_at`]
    /// or the next signal. Call it until `None` after each signal.
    pub fn poll(&mut self, now: Duration) -> Option<ClassicOutput<'_>> {
        self.settle();
        if self.queue.is_empty() && !self.release() {
            while self.queue.is_empty() && self.timers(now) {}
        }
        let event = self.queue.pop_front()?;
        Some(match event {
            Event::Send(to, signal) => ClassicOutput::Send { to, signal },
            Event::Check(pid) => ClassicOutput::CheckCatches(pid),
            Event::Verdict(v) => ClassicOutput::Verdict(v),
            Event::Trace(t) => ClassicOutput::Trace(t),
            Event::Newline(i, from) => {
                let s = self.slots.get_mut(i)?;
                if self.streamer == Some(i) {
                    self.streamer = None;
                }
                // `settle` has cleared the last chunk and moved the carried
                // byte in: the buffer holds at most that byte.
                let buf = self.bufs.get_mut(i)?;
                if s.out == Out::Open && s.len < B {
                    buf[s.len] = b'\n';
                    s.len += 1;
                    s.out = Out::Handed;
                    ClassicOutput::Write {
                        from,
                        bytes: buf.get(..s.len).unwrap_or_default(),
                    }
                } else {
                    ClassicOutput::Write { from, bytes: b"\n" }
                }
            }
            Event::Write(i, from) => {
                let s = self.slots.get_mut(i)?;
                s.out = Out::Handed;
                let buf = self.bufs.get(i)?;
                ClassicOutput::Write {
                    from,
                    bytes: buf.get(..s.len).unwrap_or_default(),
                }
            }
        })
    }
}

/// The last bit of `byte` on the wire.
const fn byte_last_bit(byte: u8, order: BitOrder) -> bool {
    match order {
        BitOrder::Msb => byte & 1 == 1,
        BitOrder::Lsb => byte & 0x80 == 0x80,
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
            while let Some(out) = rx.poll(now) {
                match out {
                    ClassicOutput::Write { from, bytes } => {
                        self.written.push((from, bytes.to_vec()))
                    }
                    ClassicOutput::CheckCatches(pid) => {
                        let c = clients.iter().find(|c| c.pid == pid).map(|c| c.catches);
                        rx.set_catches(pid, c.unwrap_or_default());
                    }
                    ClassicOutput::Send { to, signal } => {
                        assert!(to >= 1);
                        self.sends.push((to, signal));
                        let c = clients.iter_mut().find(|c| c.pid == to).unwrap();
                        assert!(c.catches.catches(signal), "{to} killed by {signal:?}");
                        c.heard.push(signal);
                        if c.kind == Kind::Waiting && c.next.is_none() {
                            c.next = Some(now.saturating_add(US * 20));
                        }
                    }
                    ClassicOutput::Verdict(v) => self.verdicts.push(v),
                    ClassicOutput::Trace(t) => self.traces.push(t),
                }
            }
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
                        if !cl.lose.contains(&idx) {
                            rx.on_signal(pid, sig, now);
                        }
                        w.drain(rx, clients, now);
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
        r.on_signal(0, Usr1, Duration::ZERO);
        r.on_signal(-1, Usr2, Duration::ZERO);
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
        r.on_signal(5, enc.signal_at(0).unwrap(), now);
        w.drain(&mut r, &mut cl, now);
        now = now.saturating_add(Duration::from_millis(10));
        w.drain(&mut r, &mut cl, now);
        assert!(w.traces.contains(&Trace::Waiting(5)));
        for i in 1..enc.bits() {
            // Half a second unscheduled in the middle: more than `silence`.
            let gap = if i == 13 { 500_000 } else { 20 };
            now = now.saturating_add(us(gap));
            w.drain(&mut r, &mut cl, now);
            r.on_signal(5, enc.signal_at(i).unwrap(), now);
            w.drain(&mut r, &mut cl, now);
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
            r.on_signal(5, *s, now);
            w.drain(&mut r, &mut cl, now);
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
            r.on_signal(5, enc.signal_at(i).unwrap(), now);
            w.drain(&mut r, &mut cl, now);
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
    fn trace_gives_the_time_since_the_previous_signal() {
        let mut r = rx::<1, 64>(b"");
        let mut cl = [Client::new(1, Kind::Paced(250), b"x", 0)];
        let w = World::run(&mut r, &mut cl);
        let sig: Vec<_> = w
            .traces
            .iter()
            .filter_map(|t| match t {
                Trace::Signal { since, index, .. } => Some((*since, *index)),
                _ => None,
            })
            .collect();
        assert_eq!(sig[0], (None, 0));
        assert_eq!(sig[1], (Some(US * 250), 1));
        assert!(w.traces.contains(&Trace::Byte {
            pid: 1,
            byte: b'x',
            offset: 0
        }));
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
