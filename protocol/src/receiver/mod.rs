//! The receiver: the server's half of the conversation.
//!
//! Signals from any process come in as `(pid, signal, now)`; out come
//! acknowledgements, verified text and a few decisions, through
//! [`Receiver::poll`]. One process is served at a time (the *session*); the
//! others are told to wait (`Usr2`), kept alive with a `Usr2` every
//! [`ReceiverConfig::keepalive`], and invited in arrival order with a `Usr1`.
//!
//! Reply rules, for a bit from the session's process:
//! - `Usr2` if the bit completed a frame that is verified and accepted
//!   (or is a copy of the last one accepted: acknowledged again, not delivered
//!   again);
//! - `Usr1` otherwise: "got it, go on" mid-frame, "rejected" at a frame's end.
//!
//! A partial frame is dropped when the session was silent for
//! [`ReceiverConfig::frame_gap`]; the session itself after
//! [`ReceiverConfig::session_timeout`], or as soon as the caller reports its
//! process gone ([`Receiver::peer_gone`]).
//!
//! A process's latest finished message is remembered (the CRC of its last
//! frame) so that a late copy of that frame, from a sender that missed the
//! final acknowledgement, is acknowledged again and not delivered again,
//! however late it comes. A process is known by its PID and an identity the
//! caller reads (on Linux, its start time), so that a new process that gets
//! the PID of a finished one is not taken for it: each session opens with a
//! check ([`Output::CheckAlive`]), answered with [`Receiver::peer_alive`] and
//! the identity, or [`Receiver::peer_gone`]. The memory of a process lasts
//! while the process lives: it is checked [`ReceiverConfig::probe_after`]
//! after its message finished, then every
//! [`ReceiverConfig::recheck_finished`], and forgotten once it is gone or
//! its PID belongs to another process. A client that heard its last
//! acknowledgement exits, so the memory is kept for those that may still
//! send a copy (see `recent.rs` for when it is full).
//!
//! Files: this one holds the sessions and the verdicts on frames;
//! `queue.rs` the wait queue and its keepalives; `recent.rs` the memory of
//! finished messages; `tests.rs` the unit tests. [`Server`](crate::Server)
//! joins the receiver to a [`MessageBuffer`](crate::MessageBuffer).
//!
//! Invariants: nothing is delivered that did not pass the CRC, the version
//! check and UTF-8 validation; a frame accepted twice is delivered once; the
//! queue is first in, first out; no input makes the receiver panic; when no
//! session is active, the queue is empty.

use heapless::Deque;

use crate::frame::{FrameDecoder, Header, Pushed};
use crate::{Duration, Error, Instant, Pid, Signal};

mod queue;
mod recent;

use queue::WaitQueue;
use recent::{Finished, Recent};

/// Timing of a [`Receiver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Silence that ends a partial frame: the next bit starts a new one.
    pub frame_gap: Duration,
    /// Silence after which the caller is asked to check that the session's
    /// process still lives ([`Output::CheckAlive`]), and again after as long.
    /// Also how long after its message finished a process is checked once.
    pub probe_after: Duration,
    /// Silence that ends a session, alive or not.
    pub session_timeout: Duration,
    /// How often queued processes are told to keep waiting.
    pub keepalive: Duration,
    /// How often a process whose finished message is remembered (to
    /// acknowledge a late copy of its last frame without delivering it
    /// again) is checked for life after the first check, `probe_after`
    /// past the end of the message. It is remembered while it lives.
    pub recheck_finished: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            frame_gap: Duration::from_millis(100),
            probe_after: Duration::from_millis(50),
            session_timeout: Duration::from_secs(3),
            keepalive: Duration::from_millis(100),
            recheck_finished: Duration::from_secs(1),
        }
    }
}

/// What the receiver asks of its caller, from [`Receiver::poll`].
///
/// A `Deliver` always comes before the `Send` that acknowledges it, so text is
/// written before the sender hears that it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// Send `signal` to process `to`.
    Send {
        /// The process.
        to: Pid,
        /// The signal.
        signal: Signal,
    },
    /// A verified frame's text, in order, exactly once.
    Deliver {
        /// The sender.
        from: Pid,
        /// Whole UTF-8 characters (checked), as bytes.
        payload: &'a [u8],
        /// It opens a message.
        first: bool,
        /// It closes the message.
        last: bool,
    },
    /// The session of `pid` ended before its message did: what was delivered
    /// of it is all there will be.
    Abandoned {
        /// The sender.
        pid: Pid,
        /// Its process was reported gone (else: it fell silent).
        vanished: bool,
    },
    /// Check whether `pid` still lives, and who has that PID: call
    /// [`Receiver::peer_alive`] with its identity, or
    /// [`Receiver::peer_gone`]. Asked about the session's process as the
    /// session opens and when it falls silent, and about a process whose
    /// finished message is remembered, now and then.
    CheckAlive(Pid),
    /// Something worth telling a human (`--trace`, `--stats`).
    Note(Note),
}

/// Events that change nothing for the caller but are worth a trace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// `pid` is now served.
    Serving(Pid),
    /// `pid` was told to wait; `ahead` processes are before it.
    Queued {
        /// The process.
        pid: Pid,
        /// How many wait before it.
        ahead: usize,
    },
    /// The queue is full: `pid` was told to wait but not queued; it will
    /// knock again when no keepalive comes.
    QueueFull(Pid),
    /// A frame from `pid` failed a check and was rejected.
    Rejected {
        /// The sender.
        pid: Pid,
        /// The failed check.
        error: Error,
    },
    /// A copy of an accepted frame: acknowledged again, not delivered.
    Duplicate(Pid),
    /// `bits` of a partial frame from `pid` were dropped after a silence.
    GapReset {
        /// The sender.
        pid: Pid,
        /// Bits thrown away.
        bits: usize,
    },
    /// `pid`'s message is complete.
    Finished(Pid),
}

/// What one signal did, returned by [`Receiver::on_signal`] for tracing.
///
/// An owned summary of the decoder's [`Decoded`](crate::Decoded): it borrows nothing, so a
/// caller can keep it while it polls the outputs (the verdict on a frame
/// comes through those).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A bit of the session's current frame.
    Bit,
    /// A bit that completed a byte of the frame.
    Byte {
        /// The byte.
        value: u8,
        /// Its offset in the frame.
        offset: usize,
    },
    /// A bit that completed a frame (see the outputs for the verdict).
    FrameEnd,
    /// A signal from a process that is not being served.
    Waiting,
}

/// A session: the process being served and where its message stands.
#[derive(Clone, Copy, Debug)]
struct Session {
    pid: Pid,
    last_heard: Instant,
    /// The caller's own pauses since `last_heard` ([`Receiver::paused`]):
    /// left out of the session's silence, not out of the frame gap.
    excused: Duration,
    /// When the process was last checked for life (or the session began):
    /// the next check is `probe_after` past this or `last_heard`, whichever
    /// is later, so that a bit needs no deadline arithmetic.
    probed: Instant,
    /// SEQ of the last accepted frame; `None` before the first.
    accepted_seq: Option<bool>,
    /// The process's identity, once the caller has told it
    /// ([`Receiver::peer_alive`]).
    id: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Idle,
    Serving(Session),
}

/// When the receiver's next timer is due, as far as it knows: a cache of
/// [`Receiver::next_deadline`], which looks at every timer (the session's
/// silence and probe, the keepalives, the probes of finished processes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextTimer {
    /// Something changed that may bring a deadline forward: work it out.
    Unknown,
    /// No timer is set.
    Never,
    /// No timer is due before this. A lower bound: a signal may have pushed
    /// the deadline later since (the timers then find nothing to do, and it
    /// is worked out again).
    At(Instant),
}

impl NextTimer {
    /// Whether a timer may be due at `now`.
    #[inline]
    fn may_be_due(self, now: Instant) -> bool {
        match self {
            NextTimer::Unknown => true,
            NextTimer::Never => false,
            NextTimer::At(at) => now >= at,
        }
    }
}

/// Outputs one event can produce at most (see [`Receiver::push`]): a gap
/// reset, the acknowledgement owed before it, a delivery, its
/// acknowledgement, "finished", and the next process invited, noted and
/// asked about.
const PENDING: usize = 8;

/// The receiver's state machine; `Q` processes can wait in its queue.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::Instant;
/// use minitalk_protocol::{Output, Receiver, Signal};
///
/// let now = Instant::ZERO;
/// let mut rx: Receiver<8> = Receiver::new(Default::default());
/// rx.on_signal(100, Signal::Usr2, now); // pid 100 is served
/// rx.on_signal(200, Signal::Usr1, now); // pid 200 must wait
/// let mut out = Vec::new();
/// while let Some(o) = rx.poll(now) {
///     if let Output::Send { to, signal } = o {
///         out.push((to, signal));
///     }
/// }
/// assert_eq!(out, [(100, Signal::Usr1), (200, Signal::Usr2)]);
/// ```
#[derive(Clone, Debug)]
pub struct Receiver<const Q: usize> {
    config: ReceiverConfig,
    state: State,
    decoder: FrameDecoder,
    /// Waiting processes.
    queue: WaitQueue<Q>,
    /// Finished messages, at most one per process.
    recent: Recent,
    /// Outputs waiting to be polled. A `Deliver` waits with an empty
    /// payload: the text is the decoder's frame, lent out when polled.
    pending: Deque<Output<'static>, PENDING>,
    /// A plain acknowledgement (`Usr1`) owed mid-frame: the one output of
    /// almost every signal, kept out of `pending` to keep that path short.
    /// It comes after anything pending (a gap reset, say), and moves into
    /// `pending` if another signal comes before it was polled.
    ack: Option<Pid>,
    /// When the next timer is due, as far as known.
    timers: NextTimer,
}

impl<const Q: usize> Receiver<Q> {
    /// An idle receiver.
    // Not inlined: built in place, not on the stack and copied (less code).
    #[inline(never)]
    pub fn new(config: ReceiverConfig) -> Self {
        Receiver {
            config,
            state: State::Idle,
            decoder: FrameDecoder::new(),
            queue: WaitQueue::new(),
            recent: Recent::new(),
            pending: Deque::new(),
            timers: NextTimer::Never,
            ack: None,
        }
    }

    /// The process being served, if any.
    pub fn serving(&self) -> Option<Pid> {
        match self.state {
            State::Serving(s) => Some(s.pid),
            State::Idle => None,
        }
    }

    /// Whether `pid` is being served or waits in the queue. A caller checks
    /// an unknown process (does it catch both signals?) before feeding it in.
    pub fn knows(&self, pid: Pid) -> bool {
        self.serving() == Some(pid) || self.queue.contains(pid)
    }

    /// How many processes wait.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// A signal from `from` arrived at `now`. Poll the outputs before the next.
    pub fn on_signal(&mut self, from: Pid, signal: Signal, now: Instant) -> Heard {
        // An acknowledgement not polled yet keeps its place in line.
        if let Some(to) = self.ack.take() {
            self.push(Self::send(to, Signal::Usr1));
        }
        // The fast path, for almost every signal: a bit of the session's
        // frame, in time. It only pushes deadlines later, so `timers` stays
        // a valid lower bound.
        if let State::Serving(s) = &mut self.state {
            let in_time = now.saturating_duration_since(s.last_heard) <= self.config.frame_gap;
            if s.pid == from && (in_time || self.decoder.bits_pending() == 0) {
                s.last_heard = now;
                s.excused = Duration::ZERO;
                let session = *s;
                return self.feed(session, signal, now);
            }
        }
        self.timers = NextTimer::Unknown;
        self.heard_from(from, now);
        let session = match self.state {
            State::Serving(s) if s.pid == from => s,
            State::Serving(_) => return self.make_wait(from, now),
            State::Idle => {
                self.note(Note::Serving(from));
                self.start(from, now);
                match self.state {
                    State::Serving(s) => s,
                    State::Idle => return Heard::Waiting,
                }
            }
        };
        let pending_bits = self.decoder.bits_pending();
        if pending_bits > 0
            && now.saturating_duration_since(session.last_heard) > self.config.frame_gap
        {
            self.decoder.reset();
            self.note(Note::GapReset {
                pid: from,
                bits: pending_bits,
            });
        }
        let session = Session {
            last_heard: now,
            excused: Duration::ZERO,
            probed: now,
            ..session
        };
        self.state = State::Serving(session);
        self.feed(session, signal, now)
    }

    /// Feeds a bit of `session`'s frame to the decoder and answers it.
    fn feed(&mut self, session: Session, signal: Signal, now: Instant) -> Heard {
        let from = session.pid;
        let verdict = match self.decoder.push(signal.bit()) {
            Pushed::NeedMore => {
                self.ack = Some(from);
                return Heard::Bit;
            }
            Pushed::Byte { value, offset } => {
                self.ack = Some(from);
                return Heard::Byte { value, offset };
            }
            Pushed::End(verdict) => verdict,
        };
        self.timers = NextTimer::Unknown;
        self.judge(session, verdict, now);
        Heard::FrameEnd
    }

    /// The caller found that `pid` no longer exists.
    pub fn peer_gone(&mut self, pid: Pid, now: Instant) {
        self.timers = NextTimer::Unknown;
        // It will send no late copy: forget its finished message.
        self.recent.forget(pid);
        if self.serving() == Some(pid) {
            self.abandon(pid, true, now);
        } else {
            self.queue.remove(pid);
        }
    }

    /// The caller found `pid` alive, as the process whose identity is `id`
    /// (on Linux, its start time: field 22 of `/proc/<pid>/stat`), in
    /// answer to [`Output::CheckAlive`]. A remembered finished message of
    /// another process with that PID is forgotten; a session whose process
    /// has another identity now has lost its process, and ends.
    pub fn peer_alive(&mut self, pid: Pid, id: u64, now: Instant) {
        self.recent.identify(pid, id);
        if let State::Serving(s) = self.state {
            if s.pid == pid {
                match s.id {
                    None => self.state = State::Serving(Session { id: Some(id), ..s }),
                    Some(known) if known != id => {
                        self.timers = NextTimer::Unknown;
                        self.abandon(pid, true, now);
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// The caller was not running for `lost` (PROTOCOL.md 4.5): descheduled
    /// or stopped past the deadline it meant to wake at. That time is its
    /// own, nobody's silence: it is left out of the session's silence, so
    /// the session does not end under a client that was waiting for an
    /// answer. The frame gap still counts it (a client's quiet time is real
    /// time, and the partial frame it cut must be dropped).
    /// [`Server`](crate::Server) detects such pauses and calls this.
    pub fn paused(&mut self, lost: Duration) {
        if let State::Serving(s) = &mut self.state {
            s.excused += lost;
            self.timers = NextTimer::Unknown;
        }
    }

    /// The next thing to do at `now`, or `None` until
    /// [`poll_timeout`](Self::poll_timeout) or the next signal.
    pub fn poll(&mut self, now: Instant) -> Option<Output<'_>> {
        if self.pending.is_empty() {
            if let Some(to) = self.ack.take() {
                let signal = Signal::Usr1;
                return Some(Output::Send { to, signal });
            }
        }
        if self.pending.is_empty() && self.timers.may_be_due(now) {
            self.on_timers(now);
            if self.pending.is_empty() {
                // Nothing was due: now the next deadline is known exactly.
                self.timers = match self.next_deadline() {
                    Some(at) => NextTimer::At(at),
                    None => NextTimer::Never,
                };
            }
        }
        Some(match self.pending.pop_front()? {
            Output::Deliver {
                from, first, last, ..
            } => Output::Deliver {
                from,
                payload: self.decoder.payload(),
                first,
                last,
            },
            other => other,
        })
    }

    /// When [`poll`](Self::poll) next has something to do without a signal.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.pending.is_empty() || self.ack.is_some() {
            return Some(Instant::ZERO);
        }
        match self.timers {
            NextTimer::Unknown => self.next_deadline(),
            NextTimer::Never => None,
            NextTimer::At(at) => Some(at),
        }
    }

    /// The earliest deadline of any timer.
    fn next_deadline(&self) -> Option<Instant> {
        // Instant::MAX stands for "none" (it is 584 years away): a minimum
        // of plain values is less code than one of Options.
        let mut at = self.recent.next_probe();
        if let State::Serving(s) = self.state {
            at = at.min(self.probe_due(s)).min(self.session_ends(s));
        }
        if let Some(keepalive) = self.queue.next_deadline() {
            at = at.min(keepalive);
        }
        (at != Instant::MAX).then_some(at)
    }

    fn push(&mut self, p: Output<'static>) {
        // Capacity covers the most one event produces; drained before the next.
        let pushed = self.pending.push_back(p);
        debug_assert!(pushed.is_ok(), "more pending outputs than PENDING");
    }

    /// The output that sends `signal` to `to`.
    const fn send(to: Pid, signal: Signal) -> Output<'static> {
        Output::Send { to, signal }
    }

    fn note(&mut self, n: Note) {
        self.push(Output::Note(n));
    }

    /// Opens a session with `pid`, and asks who the process is.
    fn start(&mut self, pid: Pid, now: Instant) {
        self.decoder.reset();
        self.state = State::Serving(Session {
            pid,
            last_heard: now,
            excused: Duration::ZERO,
            probed: now,
            accepted_seq: None,
            id: None,
        });
        self.push(Output::CheckAlive(pid));
    }

    /// `pid` was heard from: its finished message is among the last to
    /// make room for another.
    fn heard_from(&mut self, pid: Pid, now: Instant) {
        self.recent.heard_from(pid, now);
    }

    /// The finished message remembered for `pid`, if any.
    fn finished(&self, pid: Pid) -> Option<&Finished> {
        self.recent.get(pid)
    }

    /// Remembers `pid`'s latest finished message (see `recent.rs`); its
    /// process is checked after `probe_after`.
    fn remember(&mut self, pid: Pid, id: Option<u64>, crc: u32, now: Instant) {
        self.timers = NextTimer::Unknown;
        let check = now + self.config.probe_after;
        self.recent.remember(pid, id, crc, now, check);
    }

    /// A process that is not being served signalled: it waits its turn.
    fn make_wait(&mut self, pid: Pid, now: Instant) -> Heard {
        if !self.queue.contains(pid) {
            let keepalive = self.config.keepalive;
            if let Ok(ahead) = self.queue.push(pid, now, keepalive) {
                self.note(Note::Queued { pid, ahead });
            } else {
                // Told to wait all the same: it knows the receiver lives,
                // and knocks again when no keepalive comes.
                self.note(Note::QueueFull(pid));
            }
        }
        self.push(Self::send(pid, Signal::Usr2));
        Heard::Waiting
    }

    /// Decides on a complete frame of the session.
    fn judge(&mut self, session: Session, verdict: Result<(Header, u32), Error>, now: Instant) {
        let pid = session.pid;
        let (
            Header {
                first, last, seq, ..
            },
            crc,
        ) = match verdict {
            Ok(frame) => frame,
            Err(error) => return self.reject(pid, error),
        };
        let duplicate = match session.accepted_seq {
            Some(accepted) => accepted == seq,
            // A new session's first frame may be a late copy of the last
            // frame of the message this process finished before (the memory
            // of another process with this PID is gone: the session opened
            // with a check of who it is).
            None => last && self.finished(pid).is_some_and(|f| f.crc == crc),
        };
        if duplicate {
            self.note(Note::Duplicate(pid));
            self.push(Self::send(pid, Signal::Usr2));
            if session.accepted_seq.is_none() {
                // Still remembered, in case this answer is lost too.
                self.remember(pid, session.id, crc, now);
                self.finish(now);
            }
            return;
        }
        match (session.accepted_seq, first) {
            (None, false) => return self.reject(pid, Error::NotFirst),
            (Some(_), true) => return self.reject(pid, Error::UnexpectedFirst),
            _ => {}
        }
        self.push(Output::Deliver {
            from: pid,
            payload: b"",
            first,
            last,
        });
        self.push(Self::send(pid, Signal::Usr2));
        if last {
            self.remember(pid, session.id, crc, now);
            self.note(Note::Finished(pid));
            self.finish(now);
        } else {
            self.state = State::Serving(Session {
                accepted_seq: Some(seq),
                ..session
            });
        }
    }

    fn reject(&mut self, pid: Pid, error: Error) {
        self.note(Note::Rejected { pid, error });
        self.push(Self::send(pid, Signal::Usr1));
    }

    /// Ends the session mid-message.
    fn abandon(&mut self, pid: Pid, vanished: bool, now: Instant) {
        // The fast path does not note when a process was heard from: it
        // was in touch until the session's last signal.
        if let State::Serving(s) = self.state {
            self.heard_from(pid, s.last_heard);
        }
        self.push(Output::Abandoned { pid, vanished });
        self.finish(now);
    }

    /// Ends the session and invites the next process in the queue.
    fn finish(&mut self, now: Instant) {
        self.state = State::Idle;
        if let Some(next) = self.queue.pop() {
            self.push(Self::send(next, Signal::Usr1));
            self.note(Note::Serving(next));
            self.start(next, now);
        }
    }

    /// When the session's process is next checked for life.
    fn probe_due(&self, s: Session) -> Instant {
        s.last_heard.max(s.probed) + self.config.probe_after
    }

    /// When the session's silence ends it: `session_timeout` past the last
    /// bit, not counting the caller's own pauses.
    fn session_ends(&self, s: Session) -> Instant {
        s.last_heard + s.excused + self.config.session_timeout
    }

    /// Session silence, liveness probes and keepalives.
    // Not inlined into `poll`: 32 B less in the static server.
    #[inline(never)]
    fn on_timers(&mut self, now: Instant) {
        if let State::Serving(s) = self.state {
            if now >= self.session_ends(s) {
                return self.abandon(s.pid, false, now);
            }
            if now >= self.probe_due(s) {
                self.state = State::Serving(Session { probed: now, ..s });
                return self.push(Output::CheckAlive(s.pid));
            }
        }
        let next = now + self.config.recheck_finished;
        if let Some(pid) = self.recent.take_due_probe(now, next) {
            return self.push(Output::CheckAlive(pid));
        }
        if let Some(pid) = self.queue.keepalive(now, self.config.keepalive) {
            self.push(Self::send(pid, Signal::Usr2));
        }
    }
}

#[cfg(test)]
mod tests;
