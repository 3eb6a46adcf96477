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
//! [`SenderConfig::quiet`] (so the receiver drops any partial frame), then send
//! the whole frame again with the same SEQ bit. The receiver recognises a
//! frame it already accepted by that bit and does not deliver it twice.
//!
//! Invariants: [`Sender::poll`] never panics; the sender reports
//! [`Poll::Done`] only after the receiver accepted the message's last frame,
//! and after [`Failure`] it sends nothing more.

use crate::Duration;

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
    /// Give up after hearing nothing from the receiver for this long.
    pub give_up: Duration,
    /// While queued, knock again after this long without a keepalive.
    pub queue_patience: Duration,
    /// Give up after this many retries of one frame.
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
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            ack_timeout: Duration::from_millis(50),
            max_ack_timeout: Duration::from_millis(500),
            stale_after: Duration::from_millis(1500),
            quiet: Duration::from_millis(150),
            give_up: Self::DEFAULT_GIVE_UP,
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
        until: Duration,
    },
    /// Call [`Sender::load`] with the next payload.
    NeedPayload,
    /// The receiver accepted the whole message.
    Done,
    /// Delivery failed; nothing more will be sent.
    Failed(Failure),
}

/// Why a [`Sender`] gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The receiver has said nothing for [`SenderConfig::give_up`].
    Silent,
    /// One frame needed more than [`SenderConfig::max_retries`] retries.
    TooManyRetries,
}

impl Failure {
    /// A short lowercase description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Failure::Silent => "the server stopped answering",
            Failure::TooManyRetries => "the server kept rejecting a frame",
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
        deadline: Duration,
        prev: Option<Duration>,
        stale: bool,
    },
    /// The receiver is serving someone else; it sends keepalives until our turn.
    Queued {
        deadline: Duration,
    },
    /// Silent until `until`, then the frame goes again from bit 0.
    Quiet {
        until: Duration,
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
/// use minitalk_protocol::Duration;
/// use minitalk_protocol::{Poll, Sender, Signal};
///
/// let t = Duration::ZERO;
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
    retries: u32,
    /// When the receiver last said anything.
    last_heard: Duration,
    /// When the last bit went out.
    last_sent: Duration,
    /// When the sender last ran ([`poll`](Sender::poll) or a reply).
    last_step: Duration,
    /// A payload was loaded since the last poll: the wait for it was ours,
    /// not the receiver's silence.
    loaded: bool,
    /// The receiver's output counter when last seen.
    output: Option<u64>,
    /// When the receiver's output was last seen moving, if it was since the
    /// last reply: a late reply is then waited for, not retried.
    busy: Option<Duration>,
    stats: SenderStats,
}

impl Sender {
    /// A sender that starts at `now`, waiting for its first payload.
    pub fn new(config: SenderConfig, now: Duration) -> Self {
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
            last_sent: now,
            last_step: now,
            loaded: false,
            output: None,
            busy: None,
            stats: SenderStats::default(),
        }
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
    pub fn poll(&mut self, now: Duration) -> Poll {
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
    pub fn on_reply(&mut self, signal: Signal, now: Duration) {
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
    /// use minitalk_protocol::{Duration, Sender, Signal};
    ///
    /// let mut tx = Sender::new(Default::default(), Duration::ZERO);
    /// assert!(!tx.on_signal(666, 4242, Signal::Usr2, Duration::ZERO));
    /// assert!(tx.on_signal(4242, 4242, Signal::Usr2, Duration::ZERO));
    /// ```
    pub fn on_signal(&mut self, from: Pid, server: Pid, signal: Signal, now: Duration) -> bool {
        let counts = from == server;
        if counts {
            self.on_reply(signal, now);
        }
        counts
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
    /// [`SenderConfig::stale_after`]. A late reply to any other bit is
    /// retried as usual: the counter may move for other reasons (a server's
    /// `--trace`), and a knock lost while others are served must be repeated.
    /// Nothing is inferred from the counter but patience: only a signal
    /// acknowledges a bit, so a busy receiver can never be taken for one
    /// that accepted a frame. When the counter stands still for
    /// [`SenderConfig::give_up`], the sender fails as on any silence.
    /// (A queued sender still knocks again as usual.)
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::{Duration, Poll, Sender, Signal};
    ///
    /// let ms = Duration::from_millis;
    /// let mut tx = Sender::new(Default::default(), ms(0));
    /// tx.on_receiver_output(100, ms(0));
    /// tx.load("", true).unwrap();
    /// for _ in 1..tx.frame_bits() {
    ///     assert!(matches!(tx.poll(ms(0)), Poll::Send(_)));
    ///     tx.on_reply(Signal::Usr1, ms(0));
    /// }
    /// assert!(matches!(tx.poll(ms(0)), Poll::Send(_))); // the last bit
    /// // Its reply is late, for longer than give_up, but the output moves.
    /// for t in 1..=10 {
    ///     tx.on_receiver_output(100 + t, ms(500 * t));
    ///     assert!(matches!(tx.poll(ms(500 * t)), Poll::Wait { .. }));
    /// }
    /// assert_eq!(tx.stats().retries, 0);
    /// tx.on_reply(Signal::Usr2, ms(5000));
    /// assert_eq!(tx.poll(ms(5000)), Poll::Done);
    /// ```
    pub fn on_receiver_output(&mut self, counter: u64, now: Duration) {
        let seen = self.output.replace(counter);
        if seen.is_some_and(|c| c != counter) {
            self.step(Event::Busy, now);
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
    /// use minitalk_protocol::{Duration, Poll, Sender, Signal};
    ///
    /// let t = Duration::ZERO;
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
    /// let later = Duration::from_secs(4);
    /// tx.sent(later);
    /// tx.on_reply(Signal::Usr2, later);
    /// assert_eq!(tx.poll(later), Poll::Send(Signal::Usr2), "bit 0: FIRST");
    /// ```
    pub fn sent(&mut self, now: Duration) {
        self.step(Event::Sent, now);
    }

    /// The earlier of `deadline` and the moment we give up on silence.
    fn cap(&self, deadline: Duration) -> Duration {
        deadline.min(self.last_heard + self.config.give_up)
    }

    /// Starts the frame again from bit 0 at once: a retry without a quiet
    /// time, after a pause longer than any frame gap.
    fn restart(&mut self) -> State {
        self.retries += 1;
        self.stats.retries += 1;
        State::Ready { next: 0 }
    }

    /// Starts a retry: quiet first, then the frame again from bit 0.
    fn retry(&mut self, now: Duration) -> State {
        self.retries += 1;
        self.stats.retries += 1;
        State::Quiet {
            until: now + self.config.quiet,
        }
    }

    /// The one transition function.
    fn step(&mut self, event: Event, now: Duration) {
        if let Event::Reply(_) | Event::Busy = event {
            if matches!(self.state, State::Done | State::Failed(_)) {
                return;
            }
            self.last_heard = now;
            self.busy = match event {
                Event::Busy => {
                    // Progress, not rejection: the frame starts a fresh count.
                    self.retries = 0;
                    Some(now)
                }
                _ => None,
            };
        }
        // Patience lasts while the output moved lately; after that, a late
        // reply is retried as usual (it may have been lost).
        let busy = self
            .busy
            .is_some_and(|at| now <= at + self.config.stale_after);
        // A payload just loaded, or a long gap since the sender last ran
        // (it was stopped): the time that passed was not the receiver's
        // silence. The silence clock starts again.
        if self.loaded || now > self.last_step + self.config.stale_after {
            self.loaded = false;
            self.last_heard = now;
        }
        self.last_step = now;
        let silent = now >= self.last_heard + self.config.give_up;
        self.state = match (self.state, event) {
            (State::Done, _) | (State::Failed(_), _) => return,
            // Waiting for the caller is not the receiver's silence.
            (State::NeedPayload, _) => return,
            (_, Event::Tick) if silent => State::Failed(Failure::Silent),
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
                    // It may have opened a new frame: quiet, so that the
                    // receiver drops it, then the frame again.
                    (Signal::Usr1, _) => self.retry(now),
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
            ) if bit + 1 == self.frame_bits() => State::AwaitReply {
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
                self.retry(now)
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
mod tests {
    use super::*;

    const T0: Duration = Duration::ZERO;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Sends bits, acknowledging each with `Usr1`, until the frame's last bit.
    fn send_to_last_bit(tx: &mut Sender, now: Duration) {
        for _ in 0..tx.frame_bits() - 1 {
            assert!(matches!(tx.poll(now), Poll::Send(_)));
            tx.on_reply(Signal::Usr1, now);
        }
        assert!(matches!(tx.poll(now), Poll::Send(_)));
    }

    #[test]
    fn sends_the_frame_bits_in_wire_order() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("A", true).unwrap();
        let mut bits = [false; 56];
        for b in bits.iter_mut() {
            match tx.poll(T0) {
                Poll::Send(s) => *b = s.bit(),
                other => panic!("{other:?}"),
            }
            tx.on_reply(Signal::Usr1, T0);
        }
        // FIRST|LAST, SEQ 0, version 1 = 0xC1; LEN = 1; 'A' = 0x41.
        let head: [bool; 24] =
            core::array::from_fn(|i| [0xC1u8, 0x01, 0x41][i / 8] & (0x80 >> (i % 8)) != 0);
        assert_eq!(bits[..24], head);
    }

    #[test]
    fn accepted_last_frame_is_done() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("hi", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr2, T0);
        assert_eq!(tx.poll(T0), Poll::Done);
        assert_eq!(tx.stats().bytes, 2);
        assert_eq!(tx.stats().signals, 64);
    }

    #[test]
    fn accepted_middle_frame_asks_for_more_and_flips_seq() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("a", false).unwrap();
        assert_eq!(tx.frame[0], 0x81);
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr2, T0);
        assert_eq!(tx.poll(T0), Poll::NeedPayload);
        tx.load("b", true).unwrap();
        assert_eq!(tx.frame[0], 0x61, "LAST, SEQ 1, not FIRST");
        assert_eq!(tx.load("c", true), Err(Error::NotReady));
    }

    #[test]
    fn rejection_means_quiet_then_the_same_frame_again() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("x", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr1, T0);
        assert_eq!(tx.poll(T0), Poll::Wait { until: ms(150) });
        // A reply during the quiet time restarts it.
        tx.on_reply(Signal::Usr1, ms(10));
        assert_eq!(tx.poll(ms(159)), Poll::Wait { until: ms(160) });
        assert_eq!(
            tx.poll(ms(160)),
            Poll::Send(Signal::Usr2),
            "bit 0 again: FIRST"
        );
        assert_eq!(tx.stats().retries, 1);
        assert_eq!(tx.frame[0], 0xC1, "same SEQ on a retry");
    }

    #[test]
    fn timeouts_double_up_to_the_cap_and_reset_on_success() {
        let cfg = SenderConfig {
            give_up: Duration::from_secs(100),
            ..Default::default()
        };
        let mut tx = Sender::new(cfg, T0);
        tx.load("x", true).unwrap();
        let mut now = T0;
        let mut waits = [Duration::ZERO; 7];
        for w in waits.iter_mut() {
            assert!(matches!(tx.poll(now), Poll::Send(_)));
            let Poll::Wait { until } = tx.poll(now) else {
                panic!()
            };
            *w = until - now;
            now = until;
            let Poll::Wait { until } = tx.poll(now) else {
                panic!()
            }; // quiet
            now = until;
        }
        assert_eq!(
            waits.map(|d| d.as_millis()),
            [50, 100, 200, 400, 500, 500, 500]
        );
        // Each accepted frame halves the wait, down to the first value.
        for want in [250, 125, 62, 50, 50] {
            tx.load("x", false).ok();
            send_to_last_bit(&mut tx, now);
            tx.on_reply(Signal::Usr2, now);
            assert_eq!(tx.ack_timeout.as_millis(), want);
            assert!(matches!(tx.poll(now), Poll::Done | Poll::NeedPayload));
        }
    }

    #[test]
    fn queued_waits_for_go_then_restarts_the_frame() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("q", true).unwrap();
        assert_eq!(tx.poll(T0), Poll::Send(Signal::Usr2));
        tx.on_reply(Signal::Usr1, T0);
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        tx.on_reply(Signal::Usr2, T0); // wait your turn
        assert_eq!(tx.poll(T0), Poll::Wait { until: ms(1000) });
        tx.on_reply(Signal::Usr2, ms(900)); // keepalive
        assert_eq!(tx.poll(ms(1500)), Poll::Wait { until: ms(1900) });
        tx.on_reply(Signal::Usr1, ms(1600)); // go
        assert_eq!(tx.poll(ms(1600)), Poll::Send(Signal::Usr2), "bit 0 again");
        assert_eq!(tx.stats().queued, 1);
    }

    #[test]
    fn queued_without_keepalives_knocks_again() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("q", true).unwrap();
        tx.poll(T0);
        tx.on_reply(Signal::Usr2, T0);
        assert_eq!(tx.poll(ms(999)), Poll::Wait { until: ms(1000) });
        assert_eq!(tx.poll(ms(1000)), Poll::Send(Signal::Usr2));
    }

    #[test]
    fn silence_fails_and_then_nothing_is_sent() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("x", true).unwrap();
        let mut now = T0;
        let result = loop {
            match tx.poll(now) {
                Poll::Send(_) => {}
                Poll::Wait { until } => now = until,
                other => break other,
            }
        };
        assert_eq!(result, Poll::Failed(Failure::Silent));
        assert_eq!(now, ms(3000));
        tx.on_reply(Signal::Usr2, now);
        assert_eq!(tx.poll(now + ms(1)), Poll::Failed(Failure::Silent));
    }

    #[test]
    fn endless_rejections_fail() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("x", true).unwrap();
        let mut now = T0;
        let result = loop {
            match tx.poll(now) {
                Poll::Send(_) => tx.on_reply(Signal::Usr1, now),
                Poll::Wait { until } => now = until,
                other => break other,
            }
        };
        assert_eq!(result, Poll::Failed(Failure::TooManyRetries));
        assert_eq!(tx.stats().retries, 17);
    }

    #[test]
    fn a_frame_is_restarted_not_continued_after_a_pause() {
        // Stopped between two bits for longer than `stale_after`: the
        // receiver may have ended the session and serve someone else, and
        // its "wait your turn" (`Usr2`) to the last bit would pass for
        // "frame accepted". So the frame starts again from bit 0.
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("x", true).unwrap();
        for _ in 0..tx.frame_bits() - 1 {
            assert!(matches!(tx.poll(T0), Poll::Send(_)));
            tx.on_reply(Signal::Usr1, T0);
        }
        let later = ms(1501);
        assert_eq!(tx.poll(later), Poll::Send(Signal::Usr2), "bit 0: FIRST");
        assert_eq!(tx.stats().retries, 1);
        tx.on_reply(Signal::Usr2, later); // wait your turn: queued, not done
        assert!(matches!(tx.poll(later), Poll::Wait { .. }));
        assert_eq!(tx.stats().queued, 1);
        assert_eq!(tx.stats().frames, 0);
    }

    /// Sends bits with their replies at `T0` up to the frame's last bit,
    /// which is polled at `T0` but goes out at `sent`.
    fn last_bit_sent_at(sent: Duration) -> Sender {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("x", true).unwrap();
        for _ in 0..tx.frame_bits() - 1 {
            assert!(matches!(tx.poll(T0), Poll::Send(_)));
            tx.sent(T0);
            tx.on_reply(Signal::Usr1, T0);
        }
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        tx.sent(sent);
        tx
    }

    #[test]
    fn a_pause_between_the_decision_and_the_kill_makes_the_reply_untrusted() {
        // Stopped after `poll` chose the last bit and before the `kill`: the
        // receiver may have dropped the session and be serving someone else,
        // whose "wait your turn" to a stranger is `Usr2`. It must not pass
        // for "accepted": the frame starts again from bit 0.
        let later = ms(1501);
        let mut tx = last_bit_sent_at(later);
        tx.on_reply(Signal::Usr2, later);
        assert_eq!(tx.poll(later), Poll::Send(Signal::Usr2), "bit 0: FIRST");
        assert_eq!((tx.stats().frames, tx.stats().retries), (0, 1));
        // ... and the receiver says where it stands: queued.
        tx.sent(later);
        tx.on_reply(Signal::Usr2, later);
        assert!(matches!(tx.poll(later), Poll::Wait { .. }));
        assert_eq!(tx.stats().queued, 1);
        // A bit sent just within `stale_after` is trusted.
        let mut tx = last_bit_sent_at(ms(1500));
        tx.on_reply(Signal::Usr2, ms(1500));
        assert_eq!(tx.poll(ms(1500)), Poll::Done);
    }

    #[test]
    fn after_a_late_bit_go_on_is_not_trusted_but_queued_is() {
        // A non-final bit sent late: `Usr1` may mean the receiver took it
        // for the first bit of a new frame, so the sender goes quiet and
        // sends the frame again; `Usr2` can only mean "queued".
        let late = |reply: Signal| {
            let mut tx = Sender::new(SenderConfig::default(), T0);
            tx.load("x", true).unwrap();
            tx.poll(T0);
            tx.sent(T0);
            tx.on_reply(Signal::Usr1, T0);
            assert!(matches!(tx.poll(T0), Poll::Send(_)));
            tx.sent(ms(2000));
            tx.on_reply(reply, ms(2000));
            tx
        };
        let mut tx = late(Signal::Usr1);
        assert_eq!(tx.poll(ms(2000)), Poll::Wait { until: ms(2150) });
        assert_eq!(tx.poll(ms(2150)), Poll::Send(Signal::Usr2), "bit 0");
        assert_eq!(tx.stats().retries, 1);
        let mut tx = late(Signal::Usr2);
        assert_eq!(tx.poll(ms(2000)), Poll::Wait { until: ms(3000) });
        assert_eq!((tx.stats().queued, tx.stats().retries), (1, 0));
    }

    #[test]
    fn the_wait_for_a_reply_starts_when_the_bit_went_out() {
        let mut tx = last_bit_sent_at(ms(40));
        assert_eq!(tx.poll(ms(40)), Poll::Wait { until: ms(90) });
    }

    #[test]
    fn a_late_reply_is_still_the_reply_to_the_last_bit() {
        // Stopped while waiting: the reply that was pending is the real one.
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("x", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr2, ms(2500));
        assert_eq!(tx.poll(ms(2500)), Poll::Done);
    }

    #[test]
    fn waiting_for_the_caller_is_not_the_receivers_silence() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        assert_eq!(tx.poll(ms(60_000)), Poll::NeedPayload);
        tx.load("a", false).unwrap();
        assert!(matches!(tx.poll(ms(60_000)), Poll::Send(_)));
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr2, T0);
        assert_eq!(tx.poll(ms(60_000)), Poll::Done);
        tx.load("", true).unwrap();
        assert!(matches!(tx.poll(ms(60_000)), Poll::Send(_)));
    }

    #[test]
    fn late_replies_after_done_are_ignored() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr2, T0);
        tx.on_reply(Signal::Usr1, T0);
        assert_eq!(tx.poll(ms(10_000)), Poll::Done);
    }

    #[test]
    fn a_new_message_after_done_opens_with_first() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.load("a", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx.on_reply(Signal::Usr2, T0);
        assert_eq!(tx.poll(T0), Poll::Done);
        tx.load("a", true).unwrap();
        assert_eq!(tx.frame[0], 0xE1, "FIRST|LAST, SEQ flipped");
    }

    /// A sender at the last bit of a one-frame message, the receiver's
    /// output counter seen once at 0.
    fn at_last_bit_watching_output() -> Sender {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.on_receiver_output(0, T0);
        tx.load("hi", true).unwrap();
        send_to_last_bit(&mut tx, T0);
        tx
    }

    #[test]
    fn a_late_reply_is_awaited_while_the_receivers_output_moves() {
        let mut tx = at_last_bit_watching_output();
        // Ten seconds, far past give_up, with the output moving twice a second.
        let mut now = T0;
        for step in 1..=20u64 {
            now = ms(500 * step);
            tx.on_receiver_output(step, now);
            assert!(matches!(tx.poll(now), Poll::Wait { .. }), "step {step}");
        }
        assert_eq!(tx.stats().retries, 0, "nothing sent again");
        assert_eq!(tx.stats().signals, tx.frame_bits() as u64);
        // Only the reply itself accepts the frame.
        tx.on_reply(Signal::Usr2, now);
        assert_eq!(tx.poll(now), Poll::Done);
    }

    #[test]
    fn an_output_that_stands_still_is_silence() {
        let mut tx = at_last_bit_watching_output();
        let mut failed = None;
        for step in 1..=80u64 {
            let now = ms(50 * step);
            tx.on_receiver_output(0, now);
            if let Poll::Failed(f) = tx.poll(now) {
                failed = Some((f, now));
                break;
            }
        }
        assert_eq!(failed, Some((Failure::Silent, ms(3000))));
    }

    #[test]
    fn when_the_output_stops_moving_late_replies_are_retried_again() {
        let mut tx = at_last_bit_watching_output();
        tx.on_receiver_output(7, ms(100));
        assert!(matches!(tx.poll(ms(100)), Poll::Wait { .. }));
        assert_eq!(tx.stats().retries, 0);
        // Still 7 well after stale_after: the reply may be lost; retry.
        let mut now = ms(100);
        while tx.stats().retries == 0 && now < ms(2900) {
            now += ms(50);
            tx.on_receiver_output(7, now);
            let _ = tx.poll(now);
        }
        assert_eq!(tx.stats().retries, 1);
        assert!(now > ms(100) + SenderConfig::default().stale_after);
    }

    #[test]
    fn a_moving_output_keeps_a_queued_sender_from_giving_up() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.on_receiver_output(0, T0);
        tx.load("hi", true).unwrap();
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        tx.on_reply(Signal::Usr2, T0); // queued
                                       // It knocks again now and then, but does not give up.
        for step in 1..=200u64 {
            let now = ms(50 * step);
            tx.on_receiver_output(step, now);
            assert!(!matches!(tx.poll(now), Poll::Failed(_)), "step {step}");
        }
    }

    #[test]
    fn a_late_reply_to_a_first_bit_is_retried_even_while_the_output_moves() {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.on_receiver_output(0, T0);
        tx.load("hi", true).unwrap();
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        let mut now = T0;
        while tx.stats().retries == 0 && now < ms(1000) {
            now += ms(50);
            tx.on_receiver_output(now.as_millis() as u64, now);
            let _ = tx.poll(now);
        }
        assert_eq!(tx.stats().retries, 1, "the knock is repeated");
        // ... and the moving output keeps the sender from giving up.
        for step in 1..=100u64 {
            let t = now + ms(50 * step);
            tx.on_receiver_output(t.as_millis() as u64, t);
            assert!(!matches!(tx.poll(t), Poll::Failed(_)), "at {t:?}");
        }
    }
}
