//! The classic server: each sending process's bits decoded on their own.
//!
//! Signals come in as `(pid, signal, now)` ([`ClassicReceiver::on_signal`]),
//! timers run in [`ClassicReceiver::poll`]; the receiver carries out what it
//! decides at once through its caller's [`Effects`](crate::Effects): the bytes to
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
//! output is free ([`Trace::Stalled`]: it just waits; the reply then comes
//! with a [`VerdictKind::Late`] that says how late it is, since a client
//! that gives up waiting fails through no fault of its own); if it paces
//! itself, the bytes that do not fit are dropped and reported
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
//! # Acknowledgements: at once, and adapted to what each client does
//!
//! A reply is never held long to learn how a client paces itself: some
//! clients give up after waiting about 10 ms for one. What a process catches
//! ([`Effects::catches`](crate::Effects::catches), `SigCgt`, asked once at
//! its first signal) decides how it starts:
//! - it catches `SIGUSR1` and `SIGUSR2`: each bit is answered at once with
//!   `SIGUSR1` ([`Trace::Waiting`]). A client that waits for it goes on; one
//!   that paces itself ignores it;
//! - it catches `SIGUSR1` only: it may be an "end only" client that paces
//!   itself and exits on the first `SIGUSR1`, so its first reply is held
//!   for [`ClassicReceiverConfig::hold`] (2 ms: the slowest self-paced
//!   client surveyed sends a bit per 1 ms; a client that gives up after
//!   10 ms without a reply still gets it in time). If its second bit comes
//!   first, it paces itself ([`Trace::Paced`]): never answered per bit, one
//!   `SIGUSR1` at the end of each message; otherwise it is answered per bit
//!   from then on;
//! - it catches no `SIGUSR1`: it paces itself (a reply would kill it or
//!   mean nothing to it).
//!
//! The items `endack` and `noendack` pin every client as self-paced: never
//! answered per bit, with or without that `SIGUSR1` at the end.
//!
//! Then the receiver learns from behaviour, each after
//! [`ClassicReceiverConfig::probe`] (500 ms) of silence:
//! - **echo**: a client answered per bit that falls silent after the
//!   `SIGUSR1` that answered its first `SIGUSR2` waits for its own signal
//!   back: it gets the `SIGUSR2` now and every bit is echoed from then on
//!   ([`Trace::Echo`]). A client that sent its next bit after such a reply
//!   has shown it needs no echo, and is never probed again;
//! - **done**: a client still there after the end of its message (ended by
//!   its NUL or announced length) that catches `SIGUSR2` (`SigCgt` read
//!   again: a process that has exited catches nothing) waits for "done", or
//!   spins until it comes: it gets one `SIGUSR2` ([`Trace::Reply`]). A client
//!   that takes `SIGUSR2` as an error has exited after the last bit's
//!   `SIGUSR1` and gets nothing more.
//!
//! The items `plus`, `then`, `bare` and `echo` pin the replies instead
//! ([`DoneAck`](super::DoneAck)). A process is only ever sent a signal that
//! it catches, and never a PID below 1.
//!
//! # Sharing a CPU
//!
//! [`ClassicReceiver::serving`] names the process whose CPU the server
//! should share: one that is alone and answered per bit, while a trial
//! measures whether it goes faster so, and after, if it did (`pin`: a client
//! that waits for each reply does; one that paces itself does not, and
//! loses bits beside the server). [`Trace::Shared`] gives the decision
//! and its figures.
//!
//! [`ClassicReceiver::stop`] ends every message being received as if its
//! process had fallen silent (printed, with its verdicts) and sends nothing
//! from then on.
//!
//! # Layout
//!
//! - `decode`: signals to bytes (bit order and meaning, header and NUL
//!   phases, UTF-8 of the text);
//! - `output`: the arbiter, one [`LineBuffer`](crate::LineBuffer) per slot;
//! - `ack`: paced or answered, and what each is sent;
//! - `detect`: the convention of each client, from its first bytes;
//! - `pin`: the trial of sharing a waiting client's CPU;
//! - `verdict`: verdicts and trace events;
//! - this file: the slots, their timers, and the order of all these.
//!
//! No input makes the receiver panic; memory is bounded by `N` and `B`.

mod ack;
mod decode;
mod detect;
mod output;
mod pin;
mod verdict;

pub use crate::utf8::Text;
pub use verdict::{Read, Trace, Verdict, VerdictKind, TOO_FAST};

use super::{Convention, DoneAck, End, Header};
use crate::{Catches, Duration, Effects, Instant, Pid, Signal, Timer, TimerTable};
use ack::{Mode, Probe};
use decode::{Decoder, Step};
use detect::{Detect, Found};
use output::Arbiter;
use pin::PinTrial;

/// Timing of a [`ClassicReceiver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassicReceiverConfig {
    /// How long the first reply to a new process that catches `SIGUSR1`
    /// only is held, to see whether its second bit comes without one (then
    /// it paces itself).
    pub hold: Duration,
    /// Silence after which a client is found to wait for its echo, or for
    /// "done" after its message (module docs).
    pub probe: Duration,
    /// Silence that ends a process's message (and forgets the process).
    pub silence: Duration,
    /// The same, for a process that waits for a reply per bit.
    pub waiting_silence: Duration,
}

impl Default for ClassicReceiverConfig {
    fn default() -> Self {
        ClassicReceiverConfig {
            hold: Duration::from_millis(2),
            probe: Duration::from_millis(500),
            silence: Duration::from_millis(250),
            waiting_silence: Duration::from_secs(1),
        }
    }
}

/// The timers of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotTimer {
    /// A probe ([`Probe`]) is due (or the held first reply).
    Probe,
    /// The silence that ends its message and forgets it.
    Silence,
}

impl Timer for SlotTimer {
    const ALL: &'static [Self] = &[SlotTimer::Probe, SlotTimer::Silence];
    fn index(self) -> usize {
        self as usize
    }
}

/// A process being decoded.
#[derive(Clone, Copy, Debug)]
struct Slot {
    pid: Pid,
    catches: Catches,
    mode: Mode,
    /// When its last signal came.
    last: Instant,
    timers: TimerTable<SlotTimer, 2>,
    decoder: Decoder,
    /// What its silence will tell, if it lasts [`ClassicReceiverConfig::probe`].
    probe: Probe,
    /// Whether it wants its signals echoed: `None` until known.
    echo: Option<bool>,
    /// How its bits are read.
    conv: Convention,
    /// Its first signals, while its convention is being detected.
    detect: Option<Detect>,
    /// A withheld acknowledgement, and whether the process has waited for
    /// it (sent nothing since): of a bit whose byte filled the buffer, or
    /// (when its message is held) of the end of the message.
    stalled: Option<(Signal, bool)>,
}

/// The server's side of the classic wire: `N` processes at a time, `B`
/// bytes of buffer each (see the module docs).
///
/// # Examples
///
/// ```
/// use minitalk_protocol::classic::{ClassicReceiver, Convention, Encoder};
/// use minitalk_protocol::{Catches, Duration, Effects, Instant, Pid, Signal};
///
/// #[derive(Default)]
/// struct Out(Vec<u8>);
/// impl Effects for Out {
///     fn catches(&mut self, _: Pid) -> Catches { Catches::NONE }
///     fn send(&mut self, _: Pid, _: Signal) -> bool { true }
///     fn write(&mut self, _: Pid, bytes: &[u8]) { self.0.extend_from_slice(bytes) }
///     fn alive(&mut self, _: Pid) -> Option<u64> { Some(1) }
/// }
///
/// let c = Convention::default();
/// let mut rx: ClassicReceiver<4, 64> = ClassicReceiver::new(Default::default(), c);
/// let enc = Encoder::new(c, b"hi").unwrap();
/// let mut out = Out::default();
/// for i in 0..enc.bits() {
///     let now = Instant::ZERO + Duration::from_micros(100 * i); // a client pacing itself
///     rx.on_signal(4242, enc.signal_at(i).unwrap(), now, &mut out);
/// }
/// assert_eq!(out.0, b"hi\n");
/// ```
#[derive(Clone, Debug)]
pub struct ClassicReceiver<const N: usize, const B: usize> {
    config: ClassicReceiverConfig,
    convention: Convention,
    slots: [Option<Slot>; N],
    out: Arbiter<N, B>,
    /// Whether to share a waiting client's CPU (`pin`'s module docs).
    pin: PinTrial,
    /// [`stop`](Self::stop) was called: nothing is sent any more.
    stopped: bool,
    /// The time of the latest call.
    now: Instant,
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
            slots: [None; N],
            out: Arbiter::new(),
            pin: PinTrial::NONE,
            stopped: false,
            now: Instant::ZERO,
        }
    }

    /// The convention in use.
    pub fn convention(&self) -> Convention {
        self.convention
    }

    /// Processes decoded now (slots in use).
    pub fn active(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// The process whose CPU the server should share now: one that waits
    /// for each reply, alone, and measured to go faster so (`pin`'s module
    /// docs).
    pub fn serving(&self) -> Option<Pid> {
        self.pin.serving()
    }

    /// Slot `i`'s timers, unless it waits for the output (its message is
    /// held, or its acknowledgement withheld).
    fn timers(&self, i: usize) -> Option<&TimerTable<SlotTimer, 2>> {
        let s = self.slots[i].as_ref()?;
        (!self.out.is_held(i) && s.stalled.is_none()).then_some(&s.timers)
    }

    /// When to call [`ClassicReceiver::poll`] at the latest, if no signal
    /// comes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use minitalk_protocol::classic::{ClassicReceiver, Convention};
    /// # use minitalk_protocol::{Catches, Duration, Effects, Instant, Pid, Signal};
    /// # struct Quiet;
    /// # impl Effects for Quiet {
    /// #     fn catches(&mut self, _: Pid) -> Catches { Catches::BOTH }
    /// #     fn send(&mut self, _: Pid, _: Signal) -> bool { true }
    /// #     fn write(&mut self, _: Pid, _: &[u8]) {}
    /// #     fn alive(&mut self, _: Pid) -> Option<u64> { Some(1) }
    /// # }
    /// let mut rx: ClassicReceiver<2, 16> = ClassicReceiver::new(Default::default(), Convention::default());
    /// assert_eq!(rx.poll_timeout(), None);
    /// rx.on_signal(42, Signal::Usr1, Instant::ZERO, &mut Quiet);
    /// // answered at once; its message ends if it is silent for a second
    /// assert_eq!(rx.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(1)));
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        // A loop over plain values, Instant::MAX standing for "none" as in
        // the timer tables: 48 B less than a minimum of `Option`s.
        let mut next = Instant::MAX;
        for i in 0..N {
            if let Some(timers) = self.timers(i) {
                next = next.min(timers.earliest());
            }
        }
        (next != Instant::MAX).then_some(next)
    }

    /// The first slot with a timer expired at `now`, and that timer.
    fn expired(&self, now: Instant) -> Option<(usize, SlotTimer)> {
        (0..N).find_map(|i| Some((i, self.timers(i)?.expired(now)?)))
    }

    /// Runs the timers that are due at `now`: held first replies, probes,
    /// and the messages that silence ends (their processes are forgotten).
    pub fn poll(&mut self, now: Instant, fx: &mut impl Effects) {
        self.now = now;
        // One timer at a time: each may change the others (a message that
        // ends releases the held ones).
        while let Some((i, timer)) = self.expired(now) {
            let Some(s) = &mut self.slots[i] else { break };
            let pid = s.pid;
            match timer {
                SlotTimer::Probe => {
                    s.timers.stop(SlotTimer::Probe);
                    match core::mem::replace(&mut s.probe, Probe::Off) {
                        Probe::Hold => {
                            // No second bit without a reply: it waits for
                            // us. (It catches SIGUSR1 only: the one reply it
                            // can take, echo or not.)
                            fx.classic_trace(Trace::Waiting(pid));
                            self.answer(i, Signal::Usr1, false, fx);
                        }
                        Probe::Done => {
                            // Still there after its message? A process
                            // that has exited catches nothing.
                            let catches = fx.catches(pid);
                            ack::reply(pid, catches, Signal::Usr2, true, fx);
                        }
                        _ => {
                            // Silent since SIGUSR1 answered its SIGUSR2.
                            s.echo = Some(true);
                            fx.classic_trace(Trace::Echo(pid));
                            // (None once stopped: `stop` forgot every
                            // process.)
                            ack::reply(pid, s.catches, Signal::Usr2, false, fx);
                        }
                    }
                }
                SlotTimer::Silence => self.silence(i, fx),
            }
        }
    }

    /// Slot `i`'s process fell silent: its message ends, and the process is
    /// forgotten unless its message is held.
    fn silence(&mut self, i: usize, fx: &mut impl Effects) {
        let detect = self.slots[i].as_ref().and_then(|s| s.detect);
        if let Some(found) = detect.and_then(|d| d.decide(true)) {
            if self.detected(i, found, fx) && self.ended_before_silence(i, fx) {
                return;
            }
        }
        if self.slots[i]
            .as_ref()
            .is_some_and(|s| s.decoder.in_message())
        {
            self.end_message(i, true, fx);
        }
        if !self.out.is_held(i) {
            if let Some(s) = self.slots[i].take() {
                self.pin.forget(s.pid);
            }
        }
    }

    /// The server stops: every message being received ends as if its
    /// process had fallen silent (written, or held and written after the
    /// streaming one, with its verdicts), and nothing is sent from now on.
    pub fn stop(&mut self, fx: &mut impl Effects) {
        self.stopped = true;
        // In the order `poll` would end them if every timer ran out now.
        while let Some(i) = (0..N).find(|&i| self.timers(i).is_some()) {
            self.silence(i, fx);
        }
    }

    /// A signal from `pid`, at `now`.
    pub fn on_signal(&mut self, pid: Pid, signal: Signal, now: Instant, fx: &mut impl Effects) {
        self.now = now;
        if pid < 1 {
            fx.classic_trace(Trace::Stray { pid, signal });
            return;
        }
        let c = self.convention;
        let (i, gap) = match self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.pid == pid))
        {
            Some(i) => {
                let Some(s) = &mut self.slots[i] else {
                    return;
                };
                s.timers.stop(SlotTimer::Probe);
                match core::mem::replace(&mut s.probe, Probe::Off) {
                    // It went on after SIGUSR1 answered its SIGUSR2.
                    Probe::Echo => s.echo = Some(false),
                    // Its second bit came before any reply: it paces itself.
                    Probe::Hold => {
                        s.mode = Mode::Paced;
                        fx.classic_trace(Trace::Paced(pid));
                    }
                    _ => {}
                }
                let gap = now.saturating_duration_since(s.last).as_nanos() as u64 / 1000;
                (i, gap.min(u64::from(Trace::FIRST - 1)) as u32)
            }
            None => {
                let Some(i) = self.slots.iter().position(Option::is_none) else {
                    fx.classic_trace(Trace::NoSlot(pid));
                    return;
                };
                let mut timers = TimerTable::new();
                let catches = fx.catches(pid);
                let mut probe = Probe::Off;
                let mode = match (c.paced, catches.usr1, catches.usr2) {
                    (None, true, true) => {
                        fx.classic_trace(Trace::Waiting(pid));
                        Mode::Waiting
                    }
                    (None, true, false) => {
                        // Maybe an "end only" client: its first reply is
                        // held (module docs).
                        probe = Probe::Hold;
                        timers.set(SlotTimer::Probe, now.saturating_add(self.config.hold));
                        Mode::Waiting
                    }
                    _ => {
                        fx.classic_trace(Trace::Paced(pid));
                        Mode::Paced
                    }
                };
                self.slots[i] = Some(Slot {
                    pid,
                    catches,
                    mode,
                    last: now,
                    timers,
                    decoder: Decoder::new(c.header),
                    stalled: None,
                    probe,
                    echo: None,
                    conv: c,
                    detect: c.detect.then_some(Detect::START),
                });
                self.out.open(i, pid);
                (i, Trace::FIRST)
            }
        };
        if let Some(s) = &mut self.slots[i] {
            s.last = now;
            let silence = match s.mode {
                Mode::Paced => self.config.silence,
                Mode::Waiting => self.config.waiting_silence,
            };
            s.timers
                .set(SlotTimer::Silence, now.saturating_add(silence));
            let alone = s.mode == Mode::Waiting && self.active() == 1;
            if let Some(t) = self.pin.gap(pid, gap, alone) {
                fx.classic_trace(t);
            }
        }
        let ended = self.feed(i, signal, gap, fx);
        let may_stream = self.out.may_stream(i);
        let held = self.out.is_held(i);
        let full = self.out.is_full(i);
        let Some(s) = &mut self.slots[i] else {
            return;
        };
        if let Some((_, waited)) = &mut s.stalled {
            // It does not wait for the reply withheld (nothing more is
            // owed).
            *waited = false;
            return;
        }
        if s.probe == Probe::Hold {
            // Its first reply is held.
            return;
        }
        if s.mode == Mode::Waiting && (held || (!ended && full && !may_stream)) {
            s.stalled = Some((signal, true));
            fx.classic_trace(Trace::Stalled(pid));
            return;
        }
        self.answer(i, signal, ended, fx);
    }

    /// Replies to slot `i`'s bit `signal` (`ended`: its last), as its mode
    /// and the convention say; nothing once stopped or cut short. Arms the
    /// probe that its silence will answer (module docs).
    fn answer(&mut self, i: usize, signal: Signal, ended: bool, fx: &mut impl Effects) {
        let c = self.convention;
        let Some(s) = &mut self.slots[i] else { return };
        if self.stopped || fx.cut() {
            return;
        }
        let echo = c.echo || s.echo == Some(true);
        let (pid, catches) = (s.pid, s.catches);
        ack::replies(s.mode, signal, ended, echo, c, |reply| {
            ack::reply(pid, catches, reply, ended, fx)
        });
        s.probe = if ended {
            if c.done == DoneAck::Watch {
                Probe::Done
            } else {
                Probe::Off
            }
        } else if s.mode == Mode::Waiting
            && s.echo.is_none()
            && !echo
            && signal == Signal::Usr2
            && catches.usr2
        {
            Probe::Echo
        } else {
            Probe::Off
        };
        if s.probe != Probe::Off {
            let at = self.now.saturating_add(self.config.probe);
            s.timers.set(SlotTimer::Probe, at);
            // Not forgotten before its probe.
            let forget = at.saturating_add(self.config.waiting_silence);
            s.timers.set(SlotTimer::Silence, forget);
        }
    }

    /// Slot `i`'s silence decided its convention, under which its NUL (or
    /// length) had ended its message: its end is answered now as it would
    /// have been at its last bit (a client answered per bit gets that bit's
    /// reply a second time, by what it caught at its first signal, as the
    /// echo probe's), and "done" is probed (once stopped, nothing is sent
    /// nor armed). True if a probe is armed (the process is kept for it; a
    /// stopped receiver forgets it at its next pass).
    fn ended_before_silence(&mut self, i: usize, fx: &mut impl Effects) -> bool {
        self.answer(i, Signal::Usr1, true, fx);
        self.slots[i]
            .as_ref()
            .is_some_and(|s| s.probe != Probe::Off)
    }

    /// Slot `i`'s `signal`, `gap` µs after its previous one, to its decoder,
    /// or kept while its convention is detected (then all are decoded);
    /// true if it ended a message.
    fn feed(&mut self, i: usize, signal: Signal, gap: u32, fx: &mut impl Effects) -> bool {
        let Some(s) = &mut self.slots[i] else {
            return false;
        };
        let bit = s.conv.bit(signal);
        match &mut s.detect {
            None => self.take_bit(i, bit, gap, fx),
            Some(d) => match d.push(signal, gap) {
                Some(found) => self.detected(i, found, fx),
                None => false,
            },
        }
    }

    /// Slot `i`'s convention is `found`: its kept signals are decoded under
    /// it; true if the last ended a message.
    fn detected(&mut self, i: usize, found: Found, fx: &mut impl Effects) -> bool {
        let Some(s) = &mut self.slots[i] else {
            return false;
        };
        let Some(d) = s.detect.take() else {
            return false;
        };
        let Found { order, one, header } = found;
        (s.conv.order, s.conv.one, s.conv.header) = (order, one, header);
        // Its decoder has had no bit yet (they went to the detection): it
        // starts over under the header found, as at the end of a message.
        s.decoder.reset(header);
        fx.classic_trace(Trace::Detected {
            pid: s.pid,
            order,
            one,
            header,
        });
        let mut ended = false;
        for j in 0..d.n {
            let bit = d.usr2(j) == (one == Signal::Usr2);
            ended = self.take_bit(i, bit, d.gaps[usize::from(j)], fx);
        }
        ended
    }

    /// Adds a bit to slot `i`; true if it ended a message.
    fn take_bit(&mut self, i: usize, bit: bool, gap: u32, fx: &mut impl Effects) -> bool {
        let Some(s) = &mut self.slots[i] else {
            return false;
        };
        let c = s.conv;
        let pid = s.pid;
        let Some((trace, step)) = s.decoder.push(bit, gap, c, pid) else {
            return false;
        };
        fx.classic_trace(trace);
        // Whether the message ends here, and whether its end is acknowledged
        // now: with `nul`, a client that announced its length still sends
        // its NUL, and the end is acknowledged after it.
        let no_nul = c.end == End::None;
        let (ends, acknowledged) = match step {
            Step::More | Step::Length(1..) => return false,
            Step::TrailingNul => return true,
            Step::Nul => (true, true),
            Step::Length(0) => (true, no_nul),
            Step::Byte { byte, last } => {
                self.out.store(i, byte, fx);
                (last, no_nul)
            }
        };
        if ends {
            self.end_message(i, false, fx);
        }
        ends && acknowledged
    }

    /// Ends slot `i`'s message: writes (or holds) its bytes and reports it.
    /// `silent`: it ended by silence.
    fn end_message(&mut self, i: usize, silent: bool, fx: &mut impl Effects) {
        let Some(s) = &mut self.slots[i] else {
            return;
        };
        let c = s.conv;
        let pid = s.pid;
        if let Some(t) = s.decoder.unfinished(pid, silent) {
            fx.classic_trace(t);
        }
        // Answered per bit, and gone (or a zombie) since.
        let exited = silent && s.mode == Mode::Waiting && fx.alive(pid).is_none();
        let bytes = s.decoder.bytes();
        // On the `lead` wire, a '\n' before the NUL is the line's end.
        let own = !silent && c.header == Header::Lead;
        let streaming = self.out.end(i, bytes > 0 || !silent, own, fx);
        fx.classic_trace(Trace::End { pid, bytes });
        let mut report = |kind| fx.verdict(Verdict { pid, kind });
        s.decoder.finish(silent, exited, c, &mut report);
        if let Some(kind) = self.out.take_dropped(i) {
            report(kind);
        }
        if streaming {
            self.release(fx);
        }
    }

    /// The output is free: writes the held messages in the order they
    /// ended, then lets one client held back by a full buffer stream. Each
    /// gets its withheld reply then: to the end of its message, or to the
    /// bit that found its buffer full, with a [`VerdictKind::Late`] that
    /// says how late it is.
    fn release(&mut self, fx: &mut impl Effects) {
        loop {
            let (i, ended) = match self.out.next_held() {
                Some(i) => {
                    self.out.write_held(i, fx);
                    (i, true)
                }
                None => {
                    let stalled = self
                        .slots
                        .iter()
                        .position(|s| s.as_ref().is_some_and(|s| s.stalled.is_some()));
                    let Some(i) = stalled else { return };
                    self.out.stream(i, fx);
                    (i, false)
                }
            };
            let stalled = self.slots[i]
                .as_mut()
                .and_then(|s| Some((s.stalled.take()?, s.pid, s.last)));
            if let Some(((signal, waited), pid, since)) = stalled {
                // Withheld since its last signal: say how late if by a
                // millisecond or more, to a client that waited for it,
                // unless it is not sent (stopped, or cut short: the
                // condition `answer` checks itself; asking it instead
                // costs 8 B of the server's budget).
                let late = self.now.saturating_duration_since(since);
                let ms = late.as_nanos() as u64 / 1_000_000;
                if ms > 0 && waited && !self.stopped && !fx.cut() {
                    fx.verdict(Verdict {
                        pid,
                        kind: VerdictKind::Late { ms },
                    });
                }
                self.answer(i, signal, ended, fx);
            }
            if !ended {
                // It streams now: the output is taken again.
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
