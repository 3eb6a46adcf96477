//! The sender: the client's half of the conversation.
//!
//! It turns a message, loaded one frame payload at a time, into signals, and
//! reads the receiver's replies. Stop-and-wait: one bit is in flight at most.
//!
//! | reply to a bit that is... | `Usr1`                  | `Usr2`                  |
//! |---------------------------|-------------------------|-------------------------|
//! | not the frame's last      | send the next bit       | queued: wait for `Usr1` |
//! | the frame's last          | frame rejected: retry   | frame accepted          |
//!
//! A frame is never continued after a pause: if more than
//! [`SenderConfig::stale_after`] passed since the previous bit was sent (the
//! sender was stopped, say), it starts again from its first bit. The receiver
//! may have ended the session meanwhile and be serving someone else, and its
//! "wait your turn" (`Usr2`) to a frame's last bit would read as "frame
//! accepted"; to a first bit it cannot be misread. The pause may also fall
//! between [`Sender::poll`] deciding to send a bit and the `kill` that sends
//! it: the caller reports when the bit really went out ([`Sender::sent`]), and
//! the reply to a bit that went out more than `stale_after` after the
//! previous one is not trusted: a `Usr2` to a non-final bit still means
//! "queued", any other reply restarts the frame.
//!
//! A retry is always the same: stay quiet until the receiver has heard
//! nothing from us, and from it we have heard nothing, for
//! [`SenderConfig::quiet`] plus a random share of
//! [`SenderConfig::quiet_jitter`] (so the receiver drops any partial frame,
//! and senders whose knocks coalesced do not knock in step again), then send
//! the whole frame again with the same SEQ bit. The receiver recognises a
//! frame it already accepted by that bit and does not deliver it twice.
//! Only rejections count toward [`SenderConfig::max_retries`]; silence is
//! judged by [`SenderConfig::give_up`], with the receiver's process watched
//! for signs of life ([`Sender::on_receiver_process`],
//! [`Sender::on_receiver_output`]) up to [`SenderConfig::busy_cap`].
//!
//! Invariants: [`Sender::poll`] never panics; the sender reports
//! [`Poll::Done`] only after the receiver accepted the message's last frame,
//! and after [`Failure`] it sends nothing more.

use crate::{Duration, Instant};

use crate::frame::{self, Frame};
use crate::{Error, Pid, Signal};

/// Timing of a [`Sender`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// How long to wait for the first reply to a bit before retrying.
    pub ack_timeout: Duration,
    /// The cap when that wait doubles after each timeout in a row (it halves
    /// again, down to `ack_timeout`, after each accepted frame).
    pub max_ack_timeout: Duration,
    /// A frame is restarted rather than continued when its previous bit went
    /// out longer ago than this. Must be well below the receiver's
    /// [`session_timeout`](crate::ReceiverConfig::session_timeout), and at
    /// least `max_ack_timeout`.
    pub stale_after: Duration,
    /// Silence kept before a retry. Must exceed the receiver's
    /// [`frame_gap`](crate::ReceiverConfig::frame_gap).
    pub quiet: Duration,
    /// The quiet time is lengthened by a random share of this, 0 to all of
    /// it, at every retry: senders whose knocks coalesced (they knocked at
    /// the same instant) must not knock in step again.
    pub quiet_jitter: Duration,
    /// Give up after hearing nothing from the receiver for this long, and
    /// seeing no sign of life from its process (see
    /// [`Sender::on_receiver_process`]) for as long.
    pub give_up: Duration,
    /// The most patience a receiver earns by being seen runnable or using
    /// CPU time without answering: after this long with nothing heard, the
    /// sender gives up however busy the receiver looks (a process that
    /// spins and never answers must not hold a sender forever). At least
    /// `give_up`; by default [`BUSY_CAP_FACTOR`](Self::BUSY_CAP_FACTOR)
    /// times it.
    pub busy_cap: Duration,
    /// While queued, knock again after this long without a keepalive.
    pub queue_patience: Duration,
    /// Give up when one frame was rejected more than this many times in a
    /// row (it was then sent `max_retries + 1` times). Only rejections
    /// count: silence is judged by `give_up` alone.
    pub max_retries: u32,
}

impl SenderConfig {
    /// The default [`give_up`](Self::give_up): 3 s, the client's default
    /// `--timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Duration, SenderConfig};
    /// assert_eq!(SenderConfig::DEFAULT_GIVE_UP, Duration::from_secs(3));
    /// assert_eq!(SenderConfig::default().give_up, SenderConfig::DEFAULT_GIVE_UP);
    /// ```
    pub const DEFAULT_GIVE_UP: Duration = Duration::from_secs(3);

    /// [`busy_cap`](Self::busy_cap) is this many times `give_up`.
    pub const BUSY_CAP_FACTOR: u32 = 10;

    /// The defaults, with `give_up` (the client's `--timeout`) and the
    /// [`busy_cap`](Self::busy_cap) that follows from it.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Duration, SenderConfig};
    /// let c = SenderConfig::with_timeout(Duration::from_secs(5));
    /// assert_eq!((c.give_up, c.busy_cap), (Duration::from_secs(5), Duration::from_secs(50)));
    /// assert_eq!(SenderConfig::with_timeout(SenderConfig::DEFAULT_GIVE_UP), SenderConfig::default());
    /// ```
    pub fn with_timeout(give_up: Duration) -> Self {
        SenderConfig {
            give_up,
            busy_cap: give_up * Self::BUSY_CAP_FACTOR,
            ..SenderConfig::default()
        }
    }
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            ack_timeout: Duration::from_millis(50),
            max_ack_timeout: Duration::from_millis(500),
            stale_after: Duration::from_millis(1500),
            quiet: Duration::from_millis(150),
            quiet_jitter: Duration::from_millis(150),
            give_up: Self::DEFAULT_GIVE_UP,
            busy_cap: Self::DEFAULT_GIVE_UP * Self::BUSY_CAP_FACTOR,
            queue_patience: Duration::from_millis(1000),
            max_retries: 16,
        }
    }
}

/// What the sender wants done next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Send this signal to the receiver now.
    Send(Signal),
    /// Wait for a reply until this time, then poll again.
    Wait {
        /// The deadline.
        until: Instant,
    },
    /// Call [`Sender::load`] with the next payload.
    NeedPayload,
    /// The receiver accepted the whole message.
    Done,
    /// Delivery failed; nothing more will be sent.
    Failed(Failure),
}

/// Why a [`Sender`] or a [`ClassicSender`](crate::classic::ClassicSender)
/// gave up: one type whatever the wire, so that the caller has one way to
/// say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The receiver has said nothing for [`SenderConfig::give_up`], and
    /// nothing is known of its process (the caller never reported it, see
    /// [`Sender::on_receiver_process`]).
    Silent,
    /// Nothing heard for `give_up`, and the receiver's process was last seen
    /// stopped (`SIGSTOP`, Ctrl-Z).
    Stopped,
    /// Nothing heard for `give_up`, and the receiver's process was last seen
    /// asleep, using no CPU time and writing nothing, for as long (a server
    /// that lost track of us, or whose output nobody reads).
    Asleep,
    /// Nothing heard for [`SenderConfig::busy_cap`], though the receiver's
    /// process is runnable or using CPU time: it spins without answering.
    Unanswering,
    /// The receiver's process is gone (or a zombie).
    Gone,
    /// One frame was rejected more than [`SenderConfig::max_retries`]
    /// times in a row.
    TooManyRetries,
    /// The classic wire: the receiver answered every signal, then said
    /// nothing for
    /// [`ClassicSenderConfig::give_up`](crate::classic::ClassicSenderConfig::give_up)
    /// (nothing is known of its process or its output).
    FellSilent,
    /// The classic wire: the receiver answered every signal with `SIGUSR2`
    /// and never with `SIGUSR1`, though some were `SIGUSR1` (so not an
    /// echo): a server busy with another client that turns us away.
    Rejected,
}

impl Failure {
    /// A short lowercase description: a sentence for `TooManyRetries`;
    /// for `Gone` and `Rejected`, what follows "the server (PID n)"; for the
    /// others, the same, ending
    /// where the time waited (`give_up`, or `busy_cap` for `Unanswering`)
    /// goes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Failure::Silent => " has not answered and its output has not moved (stopped, or its output is not being read?); try a --timeout longer than ",
            Failure::Stopped => " is stopped (SIGSTOP?) and has not answered; try a --timeout longer than ",
            Failure::Asleep => " is sleeping and has not answered (perhaps its output is not being read); try a --timeout longer than ",
            Failure::Unanswering => " is running but has not answered (is it a minitalk server?) for ",
            Failure::Gone => " has exited",
            Failure::TooManyRetries => "the server kept rejecting a frame",
            Failure::FellSilent => " stopped answering; is it stopped? try a --timeout longer than ",
            Failure::Rejected => " rejected every bit",
        }
    }
}

/// What the caller saw of the receiver's process (on Linux, the state
/// letter of `/proc/<pid>/stat`), for [`Sender::on_receiver_process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Running or waiting for a CPU (`R`): alive and busy.
    Runnable,
    /// Sleeping (`S`, `D`, `I`...).
    Sleeping,
    /// Stopped (`T`, `t`).
    Stopped,
    /// No such process, or a zombie (`Z`, `X`).
    Gone,
}

impl ProcessState {
    /// The state of a Linux `/proc/<pid>/stat` state letter.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::ProcessState;
    /// assert_eq!(ProcessState::from_letter(b'R'), ProcessState::Runnable);
    /// assert_eq!(ProcessState::from_letter(b't'), ProcessState::Stopped);
    /// assert_eq!(ProcessState::from_letter(b'Z'), ProcessState::Gone);
    /// assert_eq!(ProcessState::from_letter(b'D'), ProcessState::Sleeping);
    /// ```
    pub const fn from_letter(letter: u8) -> Self {
        match letter {
            b'R' => ProcessState::Runnable,
            b'T' | b't' => ProcessState::Stopped,
            b'Z' | b'X' | b'x' => ProcessState::Gone,
            _ => ProcessState::Sleeping,
        }
    }
}

/// Counters of a [`Sender`], for `--stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Signals sent, retries included.
    pub signals: u64,
    /// Frames accepted by the receiver.
    pub frames: u64,
    /// Payload bytes accepted by the receiver.
    pub bytes: u64,
    /// Frames sent again (after a timeout, a rejection or a lost place in
    /// the queue).
    pub retries: u64,
    /// Times the receiver told us to wait our turn.
    pub queued: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the caller to load the next frame.
    NeedPayload,
    /// Bit `next` of the frame is to be sent.
    Ready {
        next: usize,
    },
    /// Bit `bit` is out; its reply is due by `deadline`. `prev` is when
    /// the frame's previous bit was sent (`None` for the first bit), and
    /// `stale` says the bit went out more than `stale_after` after it: its
    /// reply cannot be trusted.
    AwaitReply {
        bit: usize,
        deadline: Instant,
        prev: Option<Instant>,
        stale: bool,
    },
    /// The receiver is serving someone else; it sends keepalives until our turn.
    Queued {
        deadline: Instant,
    },
    /// Silent until `until`, then the frame goes again from bit 0.
    Quiet {
        until: Instant,
    },
    Done,
    Failed(Failure),
}

/// What happened to the sender.
#[derive(Clone, Copy, Debug)]
enum Event {
    Reply(Signal),
    /// The receiver's output moved (see [`Sender::on_receiver_output`]).
    Busy,
    /// The bit asked for went out (the caller's clock after `kill`).
    Sent,
    Tick,
}

/// The sender's state machine.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::Instant;
/// use minitalk_protocol::{Poll, Sender, Signal};
///
/// let t = Instant::ZERO;
/// let mut tx = Sender::new(Default::default(), t);
/// assert_eq!(tx.poll(t), Poll::NeedPayload);
/// tx.load("", true).unwrap();
/// // 48 bits: the shortest frame. The first bit is 1 (the FIRST flag).
/// assert_eq!(tx.frame_bits(), 48);
/// assert_eq!(tx.poll(t), Poll::Send(Signal::Usr2));
/// assert!(matches!(tx.poll(t), Poll::Wait { .. }));
/// ```
#[derive(Clone, Debug)]
pub struct Sender {
    config: SenderConfig,
    state: State,
    frame: [u8; frame::MAX_FRAME_LEN],
    frame_len: usize,
    payload_len: usize,
    last: bool,
    /// SEQ of the frame being sent.
    seq: bool,
    /// The next loaded frame opens a message.
    at_message_start: bool,
    ack_timeout: Duration,
    /// Rejections of the frame in a row (only rejections count).
    retries: u32,
    /// When the receiver last said anything (or its output moved).
    last_heard: Instant,
    /// When the receiver last said anything: a signal, not its output.
    replied: Instant,
    /// When the last bit went out.
    last_sent: Instant,
    /// When the sender last ran ([`poll`](Sender::poll) or a reply).
    last_step: Instant,
    /// A payload was loaded since the last poll: the wait for it was ours,
    /// not the receiver's silence.
    loaded: bool,
    /// The receiver's output counter when last seen.
    output: Option<u64>,
    /// When the receiver's output was last seen moving, if it was since the
    /// last reply: a late reply is then waited for, not retried.
    busy: Option<Instant>,
    /// The receiver's CPU time when last seen.
    cpu: Option<u64>,
    /// When the receiver's process was last seen runnable or its CPU time
    /// moving: alive and busy, patience earned up to `busy_cap`.
    alive: Option<Instant>,
    /// The receiver's process state when last seen.
    seen: Option<ProcessState>,
    /// The state of the jitter's generator (xorshift).
    rng: u64,
    stats: SenderStats,
}

impl Sender {
    /// A sender that starts at `now`, waiting for its first payload.
    pub fn new(config: SenderConfig, now: Instant) -> Self {
        Sender {
            config,
            state: State::NeedPayload,
            frame: [0; frame::MAX_FRAME_LEN],
            frame_len: 0,
            payload_len: 0,
            last: false,
            seq: true,
            at_message_start: true,
            ack_timeout: config.ack_timeout,
            retries: 0,
            last_heard: now,
            replied: now,
            last_sent: now,
            last_step: now,
            loaded: false,
            output: None,
            busy: None,
            cpu: None,
            alive: None,
            seen: None,
            rng: 0,
            stats: SenderStats::default(),
        }
        .with_seed(now.since_zero().as_nanos() as u64)
    }

    /// Seeds the jitter of the quiet time before a retry: senders that
    /// knock at the same instant (and lose all their knocks but one to
    /// coalescing) must not knock again in step. Any value will do as long
    /// as senders differ (the client uses its PID); [`new`](Self::new)
    /// seeds it from the clock.
    pub fn with_seed(mut self, seed: u64) -> Self {
        // Fibonacci hashing, so that nearby seeds (PIDs) differ in the high
        // bits too; never 0, a fixed point of xorshift.
        self.rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        self
    }

    /// Loads the next frame's payload: whole characters, at most
    /// [`frame::MAX_PAYLOAD`] bytes (see [`frame::split_point`]). `last` ends
    /// the message. After [`Poll::Done`], loading starts a new message.
    pub fn load(&mut self, payload: &str, last: bool) -> Result<(), Error> {
        if !matches!(self.state, State::NeedPayload | State::Done) {
            return Err(Error::NotReady);
        }
        self.seq = !self.seq;
        let frame = Frame {
            first: self.at_message_start,
            last,
            seq: self.seq,
            payload,
        };
        self.frame_len = frame.emit(&mut self.frame)?;
        self.payload_len = payload.len();
        self.last = last;
        self.at_message_start = last;
        self.loaded = true;
        self.state = State::Ready { next: 0 };
        Ok(())
    }

    /// Bits in the loaded frame.
    pub fn frame_bits(&self) -> usize {
        self.frame_len * 8
    }

    /// The counters so far.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    /// What to do next, at time `now`. A [`Poll::Send`] is taken as done.
    pub fn poll(&mut self, now: Instant) -> Poll {
        self.step(Event::Tick, now);
        match self.state {
            State::NeedPayload => Poll::NeedPayload,
            State::Ready { next } => {
                let bit = frame::bit_at(&self.frame[..self.frame_len], next).unwrap_or(false);
                self.stats.signals += 1;
                let prev = (next > 0).then_some(self.last_sent);
                self.last_sent = now;
                self.state = State::AwaitReply {
                    bit: next,
                    deadline: now + self.ack_timeout,
                    prev,
                    stale: false,
                };
                Poll::Send(Signal::from_bit(bit))
            }
            State::AwaitReply { deadline, .. } => Poll::Wait {
                until: self.cap(deadline),
            },
            State::Queued { deadline } => Poll::Wait {
                until: self.cap(deadline),
            },
            State::Quiet { until } => Poll::Wait {
                until: self.cap(until),
            },
            State::Done => Poll::Done,
            State::Failed(f) => Poll::Failed(f),
        }
    }

    /// A signal arrived from the receiver (the caller has checked that it
    /// comes from the receiver's PID: see [`on_signal`](Self::on_signal)).
    pub fn on_reply(&mut self, signal: Signal, now: Instant) {
        self.step(Event::Reply(signal), now);
    }

    /// A signal arrived from process `from`; the receiver is process
    /// `server`. Only the receiver's signals count: anything else is a stray
    /// or a forgery, and cannot pass for an acknowledgement. Returns whether
    /// the signal counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Instant, Sender, Signal};
    ///
    /// let mut tx = Sender::new(Default::default(), Instant::ZERO);
    /// assert!(!tx.on_signal(666, 4242, Signal::Usr2, Instant::ZERO));
    /// assert!(tx.on_signal(4242, 4242, Signal::Usr2, Instant::ZERO));
    /// ```
    pub fn on_signal(&mut self, from: Pid, server: Pid, signal: Signal, now: Instant) -> bool {
        crate::from_server(from, server, || self.on_reply(signal, now))
    }

    /// The receiver's output counter (on Linux, `wchar` of
    /// `/proc/<pid>/io`), read by the caller when a reply is late and once
    /// before the first bit.
    ///
    /// A receiver writes each message before it acknowledges its last frame,
    /// so a receiver whose output is read slowly answers late. While the
    /// counter moves, the receiver is alive and busy: its silence does not
    /// count, and a late reply to a frame's last bit is waited for instead of
    /// retried (a retry would only pile up bits that the receiver reads
    /// after its write) as long as the counter moved within
    /// [`SenderConfig::stale_after`], and for `stale_after` after the last
    /// reply at most: the counter also moves for the receiver's own
    /// diagnostics while our reply is lost, and a receiver that is not
    /// waiting for its output counts our silence and would drop the
    /// session. A late reply to any other bit is
    /// retried as usual: the counter may move for other reasons (a server's
    /// `--trace`), and a knock lost while others are served must be repeated.
    /// Nothing is inferred from the counter but patience: only a signal
    /// acknowledges a bit, so a busy receiver can never be taken for one
    /// that accepted a frame, and a rejection counts however the counter
    /// moves (the receiver's own diagnostics move it too). When the counter
    /// stands still for [`SenderConfig::give_up`], the sender fails as on
    /// any silence. (A queued sender still knocks again as usual.)
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Duration, Instant, Poll, Sender, Signal};
    ///
    /// // The point in time `n` ms after the origin.
    /// let ms = |n: u64| Instant::ZERO + Duration::from_millis(n);
    /// let mut tx = Sender::new(Default::default(), ms(0));
    /// tx.on_receiver_output(100, ms(0));
    /// tx.load("", true).unwrap();
    /// for _ in 1..tx.frame_bits() {
    ///     assert!(matches!(tx.poll(ms(0)), Poll::Send(_)));
    ///     tx.on_reply(Signal::Usr1, ms(0));
    /// }
    /// assert!(matches!(tx.poll(ms(0)), Poll::Send(_))); // the last bit
    /// // Its reply is late, but the output moves: it is awaited.
    /// for t in 1..=5 {
    ///     tx.on_receiver_output(100 + t, ms(250 * t));
    ///     assert!(matches!(tx.poll(ms(250 * t)), Poll::Wait { .. }));
    /// }
    /// assert_eq!(tx.stats().retries, 0);
    /// tx.on_reply(Signal::Usr2, ms(1250));
    /// assert_eq!(tx.poll(ms(1250)), Poll::Done);
    /// ```
    pub fn on_receiver_output(&mut self, counter: u64, now: Instant) {
        let seen = self.output.replace(counter);
        if seen.is_some_and(|c| c != counter) {
            self.step(Event::Busy, now);
        }
    }

    /// The receiver's process as the caller saw it when a reply was late
    /// (on Linux, the state letter and `utime + stime` of
    /// `/proc/<pid>/stat`), and once before the first bit.
    ///
    /// A receiver that is runnable (on a busy machine, it may wait seconds
    /// for a CPU) or whose CPU time moves is alive and busy, not silent: the
    /// sender gives up only after [`SenderConfig::give_up`] without a reply
    /// *and* without such a sign of life, or after
    /// [`SenderConfig::busy_cap`] without a reply whatever the receiver
    /// looks like ([`Failure::Unanswering`]). The failure then says what the
    /// process was last seen doing ([`Failure::Stopped`],
    /// [`Failure::Asleep`]). A process found gone fails the sender at once
    /// ([`Failure::Gone`]). Retries are decided as without it: a runnable
    /// receiver's lost reply is retried as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Duration, Failure, Instant, Poll, ProcessState, Sender};
    ///
    /// // The point in time `n` s after the origin.
    /// let s = |n: u64| Instant::ZERO + Duration::from_secs(n);
    /// let mut tx = Sender::new(Default::default(), s(0));
    /// tx.load("", true).unwrap();
    /// // Runnable but not running for 10 s (a loaded machine): no failure.
    /// let mut now = s(0);
    /// while now < s(10) {
    ///     match tx.poll(now) {
    ///         Poll::Wait { until } => now = until,
    ///         Poll::Send(_) => {}
    ///         other => panic!("{other:?}"),
    ///     }
    ///     tx.on_receiver_process(ProcessState::Runnable, 7, now);
    /// }
    /// // Then stopped: the sender gives up 3 s after the last sign of life.
    /// let failed = loop {
    ///     match tx.poll(now) {
    ///         Poll::Wait { until } => now = until,
    ///         Poll::Send(_) => {}
    ///         Poll::Failed(f) => break f,
    ///         other => panic!("{other:?}"),
    ///     }
    ///     tx.on_receiver_process(ProcessState::Stopped, 7, now);
    /// };
    /// assert_eq!(failed, Failure::Stopped);
    /// assert!(now >= s(13) && now < s(14), "{now:?}");
    /// ```
    pub fn on_receiver_process(&mut self, state: ProcessState, cpu: u64, now: Instant) {
        if matches!(self.state, State::Done | State::Failed(_)) {
            return;
        }
        let moved = self.cpu.replace(cpu).is_some_and(|c| c != cpu);
        self.seen = Some(state);
        if moved || state == ProcessState::Runnable {
            self.alive = Some(now);
        }
        if state == ProcessState::Gone && self.state != State::NeedPayload {
            self.state = State::Failed(Failure::Gone);
        }
    }

    /// The signal of the last [`Poll::Send`] went out at `now`: the time read
    /// after the `kill` returned. A caller that can be stopped or
    /// descheduled between the poll and the `kill` (any real process) must
    /// call it: the reply to a bit sent more than
    /// [`SenderConfig::stale_after`] after the frame's previous bit is not
    /// trusted, and the wait for the reply starts here. Without it, a bit
    /// counts as sent when it was polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Duration, Instant, Poll, Sender, Signal};
    ///
    /// let t = Instant::ZERO;
    /// let mut tx = Sender::new(Default::default(), t);
    /// tx.load("", true).unwrap();
    /// for _ in 0..47 {
    ///     assert!(matches!(tx.poll(t), Poll::Send(_)));
    ///     tx.sent(t);
    ///     tx.on_reply(Signal::Usr1, t);
    /// }
    /// // The last bit is decided at once, but goes out 4 s later (the
    /// // process was stopped): a `Usr2` to it may be another client's
    /// // "wait your turn", so the frame starts again from its first bit.
    /// assert!(matches!(tx.poll(t), Poll::Send(_)));
    /// let later = t + Duration::from_secs(4);
    /// tx.sent(later);
    /// tx.on_reply(Signal::Usr2, later);
    /// assert_eq!(tx.poll(later), Poll::Send(Signal::Usr2), "bit 0: FIRST");
    /// ```
    pub fn sent(&mut self, now: Instant) {
        self.step(Event::Sent, now);
    }

    /// The earlier of `deadline` and the moment we give up on silence.
    fn cap(&self, deadline: Instant) -> Instant {
        deadline.min(self.give_up_at())
    }

    /// When the sender gives up unless it hears from the receiver (or sees
    /// its output move) first: `give_up` after the later of the last reply
    /// and the last sign of life of its process, but no later than
    /// `busy_cap` after the last reply.
    fn give_up_at(&self) -> Instant {
        let heard = self.last_heard;
        let alive = self.alive.map_or(heard, |a| a.max(heard));
        (alive + self.config.give_up).min(heard + self.config.busy_cap)
    }

    /// Why the sender gives up on silence, by what it last saw.
    fn silence(&self, now: Instant) -> Failure {
        let alive = self.alive.is_some_and(|a| now < a + self.config.give_up);
        match self.seen {
            _ if alive => Failure::Unanswering,
            Some(ProcessState::Stopped) => Failure::Stopped,
            Some(ProcessState::Sleeping) => Failure::Asleep,
            _ => Failure::Silent,
        }
    }

    /// Starts the frame again from bit 0 at once: a retry without a quiet
    /// time, after a pause longer than any frame gap. Not a rejection: it
    /// does not count toward `max_retries`.
    fn restart(&mut self) -> State {
        self.stats.retries += 1;
        State::Ready { next: 0 }
    }

    /// Starts a retry: quiet first, then the frame again from bit 0. Only a
    /// rejection counts toward `max_retries`. The quiet time is
    /// lengthened by a random share of `quiet_jitter`.
    fn retry(&mut self, now: Instant, rejected: bool) -> State {
        self.retries += u32::from(rejected);
        self.stats.retries += 1;
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        let jitter = x % (self.config.quiet_jitter.as_nanos() as u64 + 1);
        State::Quiet {
            until: now + self.config.quiet + Duration::from_nanos(jitter),
        }
    }

    /// The one transition function.
    fn step(&mut self, event: Event, now: Instant) {
        if let Event::Reply(_) | Event::Busy = event {
            if matches!(self.state, State::Done | State::Failed(_)) {
                return;
            }
            self.last_heard = now;
            // Progress, not an answer: a rejection still counts (the
            // receiver's diagnostics move its output too).
            self.busy = matches!(event, Event::Busy).then_some(now);
            if let Event::Reply(_) = event {
                self.replied = now;
            }
        }
        // Patience lasts while the output moved lately, and no longer than
        // `stale_after` after the last reply: the output also moves for the
        // receiver's diagnostics (--trace) while it serves others and our
        // reply was lost, and a longer silence would cost us the session.
        // After that, a late reply is retried as usual.
        let busy = self
            .busy
            .is_some_and(|at| now <= at + self.config.stale_after)
            && now <= self.replied + self.config.stale_after;
        // A payload just loaded, or a long gap since the sender last ran
        // (it was stopped): the time that passed was not the receiver's
        // silence. The silence clock starts again.
        if self.loaded || now > self.last_step + self.config.stale_after {
            self.loaded = false;
            self.last_heard = now;
            self.replied = now;
        }
        self.last_step = now;
        let silent = now >= self.give_up_at();
        self.state = match (self.state, event) {
            (State::Done, _) | (State::Failed(_), _) => return,
            // Waiting for the caller is not the receiver's silence.
            (State::NeedPayload, _) => return,
            (_, Event::Tick) if silent => State::Failed(self.silence(now)),
            // Too long since the previous bit: the session may be gone.
            (State::Ready { next }, Event::Tick)
                if next > 0 && now > self.last_sent + self.config.stale_after =>
            {
                self.restart()
            }
            // The wait for the reply starts when the bit really went out.
            (State::AwaitReply { bit, prev, .. }, Event::Sent) => State::AwaitReply {
                bit,
                deadline: now + self.ack_timeout,
                prev,
                stale: prev.is_some_and(|p| now > p + self.config.stale_after),
            },
            (State::AwaitReply { bit, stale, .. }, Event::Reply(signal)) => {
                let last_bit = bit + 1 == self.frame_bits();
                match (signal, last_bit) {
                    // After a bit that went out long after the previous one
                    // (`stale`), the receiver may have dropped the partial
                    // frame, or the whole session, and taken the bit for a
                    // stranger's. Only `Usr2` to a non-final bit ("queued")
                    // is trusted; the rest starts the frame again.
                    (Signal::Usr1, false) if !stale => State::Ready { next: bit + 1 },
                    // Rejected: quiet, then the frame again.
                    (Signal::Usr1, true) if !stale => self.retry(now, true),
                    // It may have opened a new frame: quiet, so that the
                    // receiver drops it, then the frame again.
                    (Signal::Usr1, _) => self.retry(now, false),
                    // Maybe another session's "wait your turn"; if it was
                    // "accepted", the copy is recognised by its SEQ.
                    (Signal::Usr2, true) if stale => self.restart(),
                    (Signal::Usr2, true) => {
                        self.stats.frames += 1;
                        self.stats.bytes += self.payload_len as u64;
                        self.retries = 0;
                        self.ack_timeout = (self.ack_timeout / 2).max(self.config.ack_timeout);
                        if self.last {
                            State::Done
                        } else {
                            State::NeedPayload
                        }
                    }
                    (Signal::Usr2, false) => {
                        self.stats.queued += 1;
                        State::Queued {
                            deadline: now + self.config.queue_patience,
                        }
                    }
                }
            }
            // The receiver writes a message before it answers the frame's
            // last bit: busy writing, its reply to that bit is late, not
            // lost. (A late reply to any other bit is retried: the output
            // may move for other reasons, --trace on stderr, say.)
            (
                State::AwaitReply {
                    bit, prev, stale, ..
                },
                Event::Busy,
            ) if busy && bit + 1 == self.frame_bits() => State::AwaitReply {
                bit,
                deadline: now + self.ack_timeout,
                prev,
                stale,
            },
            (
                State::AwaitReply {
                    bit,
                    deadline,
                    prev,
                    stale,
                },
                Event::Tick,
            ) if now >= deadline && busy && bit + 1 == self.frame_bits() => State::AwaitReply {
                bit,
                deadline: now + self.ack_timeout,
                prev,
                stale,
            },
            (State::AwaitReply { deadline, .. }, Event::Tick) if now >= deadline => {
                self.ack_timeout = (self.ack_timeout * 2).min(self.config.max_ack_timeout);
                self.retry(now, false)
            }
            (State::Queued { .. }, Event::Reply(Signal::Usr2)) => State::Queued {
                deadline: now + self.config.queue_patience,
            },
            // Our turn: the frame goes from its first bit.
            (State::Queued { .. }, Event::Reply(Signal::Usr1)) => State::Ready { next: 0 },
            // No keepalive for a long time: knock again to learn where we stand.
            (State::Queued { deadline }, Event::Tick) if now >= deadline => {
                self.stats.retries += 1;
                State::Ready { next: 0 }
            }
            // Anything heard while quiet restarts the silence.
            (State::Quiet { .. }, Event::Reply(_)) => State::Quiet {
                until: now + self.config.quiet,
            },
            (State::Quiet { until }, Event::Tick) if now >= until => {
                if self.retries > self.config.max_retries {
                    State::Failed(Failure::TooManyRetries)
                } else {
                    State::Ready { next: 0 }
                }
            }
            // A reply nobody asked for (late, duplicated): ignore it.
            (state, _) => state,
        };
    }
}

#[cfg(test)]
mod tests;
