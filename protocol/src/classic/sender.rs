//! The classic client: a message's signals out, at the pace the server can
//! take.
//!
//! Sans-IO like [`crate::Sender`]: the caller sends what [`ClassicSender::poll`]
//! asks for, sleeps until the `Wait` deadline or a reply, and reports the
//! replies of the server's PID only ([`ClassicSender::on_reply`]; it filters
//! the others out).
//!
//! Pacing ([`Pacing`]):
//! - `Fixed(pace)`: one bit every `pace`; replies are ignored.
//! - `Auto`: after the first bit, wait up to `probe` for a reply. None: the
//!   server does not acknowledge, pace at `pace`. One: send the second bit and
//!   wait up to `probe` again; only when that one is answered too is the
//!   server taken to acknowledge every bit, and from then on each bit waits
//!   for a reply (either signal) for up to `give_up`. A server that answers
//!   only the first bit ("first only") is thus paced after the second bit.
//!   Replies that are not the awaited one ("ack, then done"'s `SIGUSR2`, "ack,
//!   plus done"'s extra `SIGUSR2`, an echo, an end-only `SIGUSR1`) all count
//!   as a reply or are ignored: none of them stops the transfer.
//!
//! `Done` means every signal was sent (and, paced, one pace has passed since
//! the last, so the server had the time to take it); when the server was found
//! to acknowledge every bit, it also means every bit was acknowledged.

use super::{Convention, Encoder};
use crate::{Duration, Failure, Instant, Pid, Signal};

/// How a [`ClassicSender`] paces its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// One bit every this long (`--pace`), whatever the server says.
    Fixed(Duration),
    /// Find out from the replies to the first two bits.
    Auto {
        /// How long to wait for a reply to each of the first two bits.
        probe: Duration,
        /// The pace if the server does not acknowledge every bit.
        pace: Duration,
    },
}

/// Settings of a [`ClassicSender`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassicSenderConfig {
    /// The pacing.
    pub pacing: Pacing,
    /// How long to wait for an acknowledgement before giving up, once the
    /// server is known to acknowledge every bit.
    pub give_up: Duration,
}

impl ClassicSenderConfig {
    /// The pace of [`Pacing::Auto`] by default, when the server does not
    /// acknowledge every bit (see [`ClassicSenderConfig::default`]).
    pub const DEFAULT_PACE: Duration = Duration::from_micros(400);
}

impl Default for ClassicSenderConfig {
    /// Auto pacing: a 50 ms probe (our own server holds its first reply
    /// 10 ms to tell pacing clients from waiting ones), 400 µs pace when the
    /// server does not acknowledge, and a 5 s give-up.
    ///
    /// The pace, from the C models in `e2e/models/` (200-byte messages, on a
    /// shared 2-core machine at load 5 to 10): every kind of model server
    /// took a pace of 5 to 50 µs in 5 runs of 5 without losing a bit, yet at
    /// every pace from 50 µs to 1 ms some runs lost bits, because a server
    /// that is not scheduled between two equal signals gets one. No pace is
    /// safe on a busy machine; 400 µs is 8 times the slowest lossless figure
    /// and within what learners' clients use (20 to 1000 µs). Only a server
    /// that acknowledges every bit is reliable, which is why auto pacing
    /// looks for one first.
    ///
    /// Re-checked with our client (`client --classic --pace P`, and the
    /// default) against the model servers that do not acknowledge each bit,
    /// 200-byte messages, 10 tries each, in two runs on the same shared
    /// 2-core machine at load 8 to 12 (`e2e/tests/classic_client.rs`,
    /// `measure_our_loss_rate_per_pace`); messages lost, run 1 / run 2:
    ///
    /// | server | 100 µs | 200 µs | 400 µs | 1000 µs | default |
    /// |---|---|---|---|---|---|
    /// | none | 6 / 2 | 6 / 0 | 3 / 4 | 0 / 6 | 2 / 5 |
    /// | end | 2 / 4 | 1 / 3 | 2 / 7 | 1 / 5 | 1 / 4 |
    /// | first | 3 / 0 | 1 / 4 | 2 / 0 | 6 / 1 | 3 / 3 |
    ///
    /// Losses at every pace, with no trend from 100 µs to 1 ms: under that
    /// load the server waits for a CPU longer than any of these paces, so
    /// the figures give no reason to move the default, and it stays 400 µs.
    fn default() -> Self {
        ClassicSenderConfig {
            pacing: Pacing::Auto {
                probe: Duration::from_millis(50),
                pace: Self::DEFAULT_PACE,
            },
            give_up: Duration::from_secs(5),
        }
    }
}

/// What a [`ClassicSender`] asks of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassicPoll {
    /// Send this signal to the server now, then poll again.
    Send(Signal),
    /// Wait for a reply until this time, then poll again.
    Wait {
        /// The deadline.
        until: Instant,
    },
    /// Every signal was sent (and acknowledged, if the server acknowledges).
    Done,
    /// Delivery failed; nothing more will be sent. The only failure of the
    /// classic wire is [`Failure::FellSilent`]: a server found to
    /// acknowledge every bit said nothing for
    /// [`ClassicSenderConfig::give_up`].
    Failed(Failure),
}

/// What the sender knows of the server's acknowledgements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Fixed pace, or auto found no acknowledgement: a bit every `pace`.
    Paced,
    /// Auto, first bit sent: waiting up to `probe` for a reply.
    ProbeFirst,
    /// Auto, the first bit was answered: waiting up to `probe` again.
    ProbeSecond,
    /// Every bit is answered: wait for each reply, up to `give_up`.
    Acked,
}

/// The client's side of the classic wire.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::classic::{ClassicPoll, ClassicSender, Convention};
/// use minitalk_protocol::Instant;
/// let mut tx = ClassicSender::new(Default::default(), Convention::default(), b"hi").unwrap();
/// let mut now = Instant::ZERO;
/// let mut sent = 0;
/// loop {
///     match tx.poll(now) {
///         ClassicPoll::Send(_) => sent += 1,
///         ClassicPoll::Wait { until } => now = until, // no server answers
///         ClassicPoll::Done => break,
///         ClassicPoll::Failed(f) => panic!("{f:?}"),
///     }
/// }
/// assert_eq!(sent, 24);
/// assert!(!tx.acknowledged());
/// ```
#[derive(Clone, Debug)]
pub struct ClassicSender<'a> {
    encoder: Encoder<'a>,
    // The config as the three waits it sets (smaller than matching on
    // `Pacing` at each poll).
    /// The wait after each bit in [`Mode::Paced`].
    pace: Duration,
    /// The wait for a reply to each of the first two bits ([`Pacing::Auto`]).
    probe: Duration,
    /// The wait for each reply in [`Mode::Acked`].
    give_up: Duration,
    mode: Mode,
    /// Signals sent so far.
    sent: u64,
    /// When the last one was sent.
    sent_at: Instant,
    /// A reply came since the last signal was sent.
    answered: bool,
    /// Replies heard in all.
    replies: u64,
    done: bool,
}

impl<'a> ClassicSender<'a> {
    /// A sender of `message`; `None` if its length does not fit the
    /// convention's header.
    pub fn new(
        config: ClassicSenderConfig,
        convention: Convention,
        message: &'a [u8],
    ) -> Option<ClassicSender<'a>> {
        let (mode, probe, pace) = match config.pacing {
            Pacing::Fixed(pace) => (Mode::Paced, pace, pace),
            Pacing::Auto { probe, pace } => (Mode::ProbeFirst, probe, pace),
        };
        Some(ClassicSender {
            encoder: Encoder::new(convention, message)?,
            pace,
            probe,
            give_up: config.give_up,
            mode,
            sent: 0,
            sent_at: Instant::ZERO,
            answered: false,
            replies: 0,
            done: false,
        })
    }

    /// A signal arrived from process `from`; the server is process
    /// `server`. Only the server's signals count (as with v1's
    /// [`Sender::on_signal`](crate::Sender::on_signal)): a stray's or a
    /// forger's cannot pass for an acknowledgement. Returns whether the
    /// signal counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{ClassicSender, Convention};
    /// use minitalk_protocol::{Instant, Signal};
    ///
    /// let mut tx = ClassicSender::new(Default::default(), Convention::default(), b"hi").unwrap();
    /// assert!(!tx.on_signal(666, 4242, Signal::Usr1, Instant::ZERO));
    /// assert!(tx.on_signal(4242, 4242, Signal::Usr1, Instant::ZERO));
    /// assert_eq!(tx.replies(), 1);
    /// ```
    pub fn on_signal(&mut self, from: Pid, server: Pid, signal: Signal, now: Instant) -> bool {
        let counts = from == server;
        if counts {
            self.on_reply(signal, now);
        }
        counts
    }

    /// A signal from the server's PID (see [`on_signal`](Self::on_signal)).
    pub fn on_reply(&mut self, _signal: Signal, _now: Instant) {
        self.replies = self.replies.saturating_add(1);
        if self.sent > 0 {
            self.answered = true;
        }
    }

    /// Signals sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Signals of the whole message.
    pub fn total(&self) -> u64 {
        self.encoder.bits()
    }

    /// The message's bytes whose every bit was sent (the length header, if
    /// any, comes first and does not count; the NUL is not a byte of the
    /// message).
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{ClassicPoll, ClassicSender, Convention};
    /// use minitalk_protocol::Instant;
    /// let c = Convention::parse(b"len32").unwrap();
    /// let mut tx = ClassicSender::new(Default::default(), c, b"hi").unwrap();
    /// let mut now = Instant::ZERO;
    /// // The 32-bit length, then 'h' and one bit of 'i'.
    /// while tx.sent() < 32 + 9 {
    ///     if let ClassicPoll::Wait { until } = tx.poll(now) {
    ///         now = until; // no server answers
    ///     }
    /// }
    /// assert_eq!(tx.bytes_sent(), 1);
    /// ```
    pub fn bytes_sent(&self) -> u64 {
        let header = u64::from(self.encoder.convention.header.bits());
        let len = self.encoder.message.len() as u64;
        (self.sent.saturating_sub(header) / 8).min(len)
    }

    /// Replies heard so far.
    pub fn replies(&self) -> u64 {
        self.replies
    }

    /// The server was found to acknowledge every bit.
    pub fn acknowledged(&self) -> bool {
        self.mode == Mode::Acked
    }

    /// What to do now.
    pub fn poll(&mut self, now: Instant) -> ClassicPoll {
        if self.done {
            return ClassicPoll::Done;
        }
        if self.sent > 0 {
            let wait = match self.mode {
                Mode::Paced => self.pace,
                Mode::ProbeFirst | Mode::ProbeSecond => self.probe,
                Mode::Acked => self.give_up,
            };
            let deadline = self.sent_at.saturating_add(wait);
            if self.answered && self.mode != Mode::Paced {
                self.mode = match self.mode {
                    Mode::ProbeFirst => Mode::ProbeSecond,
                    _ => Mode::Acked,
                };
            } else if now < deadline {
                return ClassicPoll::Wait { until: deadline };
            } else if self.mode == Mode::Acked {
                return ClassicPoll::Failed(Failure::FellSilent);
            } else {
                // Paced, or no reply in time to a probe: the server does
                // not acknowledge every bit; we have waited longer than a
                // pace already.
                self.mode = Mode::Paced;
            }
        }
        match self.encoder.signal_at(self.sent) {
            Some(signal) => {
                self.sent += 1;
                self.sent_at = now;
                self.answered = false;
                ClassicPoll::Send(signal)
            }
            None => {
                self.done = true;
                ClassicPoll::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Signal::{Usr1, Usr2};

    const US: Duration = Duration::from_micros(1);

    /// Runs a sender against a scripted server: `reply(bit_index)` says what
    /// the server answers to that bit, after `delay`. Returns the outcome,
    /// the signals sent and the time taken.
    fn run(
        config: ClassicSenderConfig,
        msg: &[u8],
        reply: impl Fn(u64, u64) -> &'static [Signal],
    ) -> (ClassicPoll, u64, Instant, bool) {
        let c = Convention::default();
        let mut tx = ClassicSender::new(config, c, msg).unwrap();
        let total = tx.total();
        let mut now = Instant::ZERO;
        let mut pending: Option<(Instant, &'static [Signal])> = None;
        for _ in 0..100_000 {
            match tx.poll(now) {
                ClassicPoll::Send(_) => {
                    let i = tx.sent() - 1;
                    let r = reply(i, total);
                    if !r.is_empty() {
                        pending = Some((now.saturating_add(US * 30), r));
                    }
                }
                ClassicPoll::Wait { until } => match pending.take() {
                    Some((at, sigs)) if at <= until => {
                        now = at;
                        for &s in sigs {
                            tx.on_reply(s, now);
                        }
                    }
                    p => {
                        pending = p;
                        now = until;
                    }
                },
                end => return (end, tx.sent(), now, tx.acknowledged()),
            }
        }
        panic!("no end");
    }

    #[test]
    fn silent_server_is_paced_at_the_default_pace() {
        let (end, sent, t, acked) = run(Default::default(), b"abc", |_, _| &[]);
        assert_eq!((end, sent, acked), (ClassicPoll::Done, 32, false));
        // the first bit waits the probe, the others the pace
        assert_eq!(
            t - Instant::ZERO,
            Duration::from_millis(50).saturating_add(Duration::from_micros(400 * 31))
        );
    }

    #[test]
    fn ack_per_bit_is_followed_reply_by_reply() {
        let (end, sent, t, acked) = run(Default::default(), b"abc", |_, _| &[Usr1]);
        assert_eq!((end, sent, acked), (ClassicPoll::Done, 32, true));
        assert_eq!(t - Instant::ZERO, US * 30 * 32);
    }

    #[test]
    fn ack_then_done_and_plus_done_and_echo_work() {
        let then = |i: u64, n: u64| -> &'static [Signal] {
            if i + 1 == n {
                &[Usr2]
            } else {
                &[Usr1]
            }
        };
        assert_eq!(run(Default::default(), b"x", then).0, ClassicPoll::Done);
        let plus = |i: u64, n: u64| -> &'static [Signal] {
            if i + 1 == n {
                &[Usr1, Usr2]
            } else {
                &[Usr1]
            }
        };
        assert_eq!(run(Default::default(), b"x", plus).0, ClassicPoll::Done);
        let echo = |i: u64, _| -> &'static [Signal] {
            if i % 3 == 0 {
                &[Usr2]
            } else {
                &[Usr1]
            }
        };
        let (end, _, _, acked) = run(Default::default(), b"xyz", echo);
        assert_eq!((end, acked), (ClassicPoll::Done, true));
    }

    #[test]
    fn first_only_server_falls_back_to_pacing() {
        let first = |i: u64, _| -> &'static [Signal] {
            if i == 0 {
                &[Usr2]
            } else {
                &[]
            }
        };
        let (end, sent, _, acked) = run(Default::default(), b"ab", first);
        assert_eq!((end, sent, acked), (ClassicPoll::Done, 24, false));
    }

    #[test]
    fn end_only_server_is_paced() {
        let end_only = |i: u64, n: u64| -> &'static [Signal] {
            if i + 1 == n {
                &[Usr1]
            } else {
                &[]
            }
        };
        let (end, _, _, acked) = run(Default::default(), b"ab", end_only);
        assert_eq!((end, acked), (ClassicPoll::Done, false));
    }

    #[test]
    fn server_that_stops_answering_fails() {
        let stops = |i: u64, _| -> &'static [Signal] {
            if i < 10 {
                &[Usr1]
            } else {
                &[]
            }
        };
        let (end, sent, _, _) = run(Default::default(), b"abc", stops);
        assert_eq!((end, sent), (ClassicPoll::Failed(Failure::FellSilent), 11));
    }

    /// A sender of "abc" to a server that answered its first two bits
    /// (so found to acknowledge every bit), the third bit sent at `t0`.
    fn acked_then_third_bit_sent() -> (ClassicSender<'static>, Instant) {
        let mut tx = ClassicSender::new(Default::default(), Convention::default(), b"abc").unwrap();
        let mut now = Instant::ZERO;
        for _ in 0..2 {
            assert!(matches!(tx.poll(now), ClassicPoll::Send(_)));
            now += US * 30;
            tx.on_reply(Usr1, now);
        }
        assert!(matches!(tx.poll(now), ClassicPoll::Send(_)));
        assert!(tx.acknowledged());
        (tx, now)
    }

    #[test]
    fn acked_server_silent_for_give_up_fell_silent() {
        let (mut tx, t0) = acked_then_third_bit_sent();
        let give_up = ClassicSenderConfig::default().give_up;
        let deadline = t0 + give_up;
        // Not before give_up has passed, and a stray's signal is no reply.
        assert_eq!(
            tx.poll(deadline - US),
            ClassicPoll::Wait { until: deadline }
        );
        assert!(!tx.on_signal(666, 4242, Usr1, deadline - US));
        assert_eq!(tx.poll(deadline), ClassicPoll::Failed(Failure::FellSilent));
        // Failed for good: nothing more is sent.
        assert_eq!(
            tx.poll(deadline + give_up),
            ClassicPoll::Failed(Failure::FellSilent)
        );
        assert_eq!(tx.sent(), 3);
    }

    #[test]
    fn acked_server_that_answers_just_in_time_does_not_fail() {
        let (mut tx, t0) = acked_then_third_bit_sent();
        let late = t0 + ClassicSenderConfig::default().give_up - US;
        tx.on_reply(Usr2, late);
        assert!(matches!(tx.poll(late), ClassicPoll::Send(_)));
        assert_eq!(tx.sent(), 4);
    }

    #[test]
    fn silence_before_the_server_is_found_to_acknowledge_never_fails() {
        // A silent probe, or a silent paced server, is paced, not failed.
        for config in [
            ClassicSenderConfig::default(),
            ClassicSenderConfig {
                pacing: Pacing::Fixed(US * 100),
                give_up: US,
            },
        ] {
            let (end, _, _, acked) = run(config, b"abc", |_, _| &[]);
            assert_eq!((end, acked), (ClassicPoll::Done, false));
        }
    }

    #[test]
    fn fell_silent_reads_like_the_v1_failures() {
        // What follows "the server (PID n)", ending where the time goes.
        let s = Failure::FellSilent.as_str();
        assert!(s.starts_with(" stopped answering"), "{s}");
        assert!(s.ends_with(" longer than "), "{s}");
        assert!(Failure::Silent.as_str().ends_with(" longer than "));
    }

    #[test]
    fn fixed_pace_ignores_replies() {
        let config = ClassicSenderConfig {
            pacing: Pacing::Fixed(US * 100),
            ..Default::default()
        };
        let (end, sent, t, acked) = run(config, b"a", |_, _| &[Usr1]);
        assert_eq!((end, sent, acked), (ClassicPoll::Done, 16, false));
        assert_eq!(t - Instant::ZERO, US * 100 * 16);
    }

    #[test]
    fn empty_message_without_nul_is_done_at_once() {
        let c = Convention::parse(b"none").unwrap();
        let mut tx = ClassicSender::new(Default::default(), c, b"").unwrap();
        assert_eq!(tx.poll(Instant::ZERO), ClassicPoll::Done);
        assert_eq!(tx.poll(Instant::ZERO), ClassicPoll::Done);
    }
}
