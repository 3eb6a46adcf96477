//! The classic client: a message's signals out, at the pace the server can
//! take.
//!
//! Sans-IO like [`crate::Sender`]: the caller sends what [`ClassicSender::poll`]
//! asks for, sleeps until the `Wait` deadline or a reply, and reports the
//! replies of the server's PID only ([`ClassicSender::on_reply`]; it filters
//! the others out).
//!
//! Pacing ([`Pacing`]):
//! - `Fixed(pace)`: one bit every `pace`; replies do not pace it (they are
//!   still counted, for the end's confirmation and a rejection).
//! - `Auto`: each bit waits up to `probe` for a reply, and the next goes out
//!   as soon as one comes, but not before a pace (a doubled reply must not
//!   send two bits at once). A bit not answered in time: the server does not
//!   acknowledge every bit, pace at `pace`. Only when the first [`STEADY`]
//!   bits (or more) were each answered by exactly one reply (as many
//!   replies as bits, none missing, none doubled) is the server taken to
//!   acknowledge every bit, and from then on each bit waits for a
//!   reply (either signal) for up to `give_up`. A server that answers only
//!   the first bit, once or twice, is thus paced after its third bit, never
//!   taken for acknowledging and then failed. Replies that are not the
//!   awaited one ("ack, then done"'s `SIGUSR2`, "ack, plus done"'s extra
//!   `SIGUSR2`, an end-only `SIGUSR1`) count as a reply or are ignored.
//!
//! `Done` means every signal was sent; after the last, the sender waits up
//! to `probe` for a reply (a `SIGUSR1` ends the wait at once);
//! [`ClassicSender::confirmed`] says whether the server confirmed the end. A server that answered every signal with `SIGUSR2`
//! and never `SIGUSR1` (though some were `SIGUSR1`: not an echo) turned the
//! message away (busy with another client): that is
//! [`Failure::Rejected`], never an acknowledgement.

use super::{Convention, Encoder};
use crate::{Duration, Failure, Instant, Pid, Signal};

/// How a [`ClassicSender`] paces its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// One bit every this long (`--pace`), whatever the server says.
    Fixed(Duration),
    /// Find out from the replies (see the module docs).
    Auto {
        /// How long to wait for a reply to each bit until one is not
        /// answered, and for one after the last bit when paced.
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
    /// server is found to acknowledge every bit.
    pub give_up: Duration,
}

impl ClassicSenderConfig {
    /// The pace of [`Pacing::Auto`] by default, when the server does not
    /// acknowledge every bit (see [`ClassicSenderConfig::default`]).
    pub const DEFAULT_PACE: Duration = Duration::from_micros(1000);
}

impl Default for ClassicSenderConfig {
    /// Auto pacing: a 50 ms probe (a learner's server that acknowledges
    /// each bit answers in microseconds, but may wait for a CPU on a loaded
    /// machine; our own server answers at once), 1000 µs pace when the
    /// server does not acknowledge, and a 5 s give-up.
    ///
    /// The pace, from data (issue 17): against 5 real learners' servers
    /// that send no reply per bit, 1000 characters arrived 6 of 16 times at
    /// the former 400 µs (about 480 µs in practice), 15 of 18 at 1000 µs.
    /// Against the slow model servers of `e2e/models/server.c` (`--ack none
    /// --slow join|write|printf`: a string joined per byte, a `write` per
    /// byte, a `printf` per bit), 1000 characters, 3 tries each on a 2-core
    /// machine shared with another test run, quiet then with one CPU hog
    /// (`e2e/tests/classic_client.rs`, `measure_slow_servers_1000_characters`),
    /// exact deliveries:
    ///
    /// | sender | join | write | printf | join, hog | write, hog | printf, hog | all |
    /// |---|---|---|---|---|---|---|---|
    /// | ours, 400 µs | 1/3 | 3/3 | 1/3 | 0/3 | 1/3 | 1/3 | 7/18 |
    /// | ours, 700 µs | 3/3 | 3/3 | 0/3 | 0/3 | 1/3 | 1/3 | 8/18 |
    /// | ours, 1000 µs | 3/3 | 3/3 | 1/3 | 1/3 | 2/3 | 0/3 | 10/18 |
    /// | model client, 100 µs | 3/3 | 2/3 | 0/3 | 1/3 | 2/3 | 0/3 | 8/18 |
    /// | model client, 500 µs | 1/3 | 2/3 | 1/3 | 1/3 | 1/3 | 0/3 | 6/18 |
    ///
    /// 1000 µs is the one pace measured that does at least as well as the
    /// servers' own model clients; the price is time: 1000 characters take
    /// about 8.5 s instead of about 4 s. Only a server that acknowledges
    /// every bit is reliable (and fast), which is why auto pacing looks for
    /// one first.
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
    /// Every signal was sent; [`ClassicSender::confirmed`] says whether
    /// the server confirmed the end.
    Done,
    /// Delivery failed; nothing more will be sent:
    /// [`Failure::FellSilent`] (a server found to acknowledge every bit
    /// said nothing for [`ClassicSenderConfig::give_up`]) or
    /// [`Failure::Rejected`] (every signal was answered with `SIGUSR2`,
    /// none with `SIGUSR1`, though some were `SIGUSR1`).
    Failed(Failure),
}

/// What the sender knows of the server's acknowledgements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `--pace`, or auto and a bit was not answered in time: a bit every
    /// `pace`, whatever the replies.
    Paced,
    /// Auto, each bit answered so far: the next one waits up to `probe`.
    Probe,
    /// [`STEADY`] bits in a row were each answered by one reply of a
    /// consistent signal: wait for each reply, up to `give_up`.
    Acked,
}

/// Bits, each answered in time by exactly one reply, before the server is
/// taken to acknowledge every bit: a stray or doubled reply (a server that
/// answers only a client's first bit, once or twice) is never taken for
/// acknowledgements (see [`ClassicSender::poll`]).
const STEADY: u64 = 8;

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
/// assert!(!tx.confirmed());
/// ```
#[derive(Clone, Debug)]
pub struct ClassicSender<'a> {
    encoder: Encoder<'a>,
    // The config as the three waits it sets (smaller than matching on
    // `Pacing` at each poll).
    /// The wait after each bit when paced.
    pace: Duration,
    /// The wait for a reply to each bit in [`Mode::Probe`], and for one
    /// after the last bit when paced.
    probe: Duration,
    /// The wait for each reply in [`Mode::Acked`].
    give_up: Duration,
    mode: Mode,
    /// Signals sent so far.
    sent: u64,
    /// When the last one was sent.
    sent_at: Instant,
    /// Replies since the last signal was sent.
    answered: bool,
    /// Replies heard after the first signal, in all.
    replies: u64,
    /// A `SIGUSR1` was heard since the last signal was sent; ever; a
    /// `SIGUSR1` was sent.
    usr1_now: bool,
    heard_usr1: bool,
    sent_usr1: bool,
    /// The end, once reached.
    end: Option<ClassicPoll>,
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
            Pacing::Auto { probe, pace } => (Mode::Probe, probe, pace),
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
            usr1_now: false,
            heard_usr1: false,
            sent_usr1: false,
            end: None,
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
    /// use minitalk_protocol::classic::{ClassicPoll, ClassicSender, Convention};
    /// use minitalk_protocol::{Instant, Signal};
    ///
    /// let mut tx = ClassicSender::new(Default::default(), Convention::default(), b"hi").unwrap();
    /// assert!(matches!(tx.poll(Instant::ZERO), ClassicPoll::Send(_)));
    /// assert!(!tx.on_signal(666, 4242, Signal::Usr1, Instant::ZERO));
    /// assert!(tx.on_signal(4242, 4242, Signal::Usr1, Instant::ZERO));
    /// assert_eq!(tx.replies(), 1);
    /// ```
    pub fn on_signal(&mut self, from: Pid, server: Pid, signal: Signal, now: Instant) -> bool {
        crate::from_server(from, server, || self.on_reply(signal, now))
    }

    /// A signal from the server's PID (see [`on_signal`](Self::on_signal));
    /// one before the first bit is sent answers nothing and is ignored.
    pub fn on_reply(&mut self, signal: Signal, _now: Instant) {
        if self.sent == 0 {
            return;
        }
        self.replies += 1;
        self.answered = true;
        self.usr1_now |= signal == Signal::Usr1;
        self.heard_usr1 |= self.usr1_now;
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

    /// Replies heard so far (after the first signal).
    pub fn replies(&self) -> u64 {
        self.replies
    }

    /// The server was found to acknowledge every bit.
    pub fn acknowledged(&self) -> bool {
        self.mode == Mode::Acked
    }

    /// Once [`ClassicPoll::Done`]: the server confirmed the end, by an
    /// acknowledgement of the last bit (found to acknowledge every bit) or,
    /// paced, by any reply after it; `false`: it said nothing of the end,
    /// only what it printed can tell.
    pub fn confirmed(&self) -> bool {
        self.answered
    }

    /// What to do now.
    pub fn poll(&mut self, now: Instant) -> ClassicPoll {
        if let Some(end) = self.end {
            return end;
        }
        let next = self.encoder.signal_at(self.sent);
        if self.sent > 0 {
            let silent = !self.answered;
            // Paced; or probing and answered: at least a pace between two
            // bits all the same, so that a doubled reply does not send two
            // bits at once (the server, still in its handler, would take
            // the lower-numbered signal first).
            let paced =
                next.is_some() && (self.mode == Mode::Paced || self.mode == Mode::Probe && !silent);
            let wait = match self.mode {
                _ if paced => self.pace,
                Mode::Acked if silent => self.give_up,
                // A reply to each bit so far, or after the last bit a
                // while for the server's end.
                _ => self.probe,
            };
            let deadline = self.sent_at.saturating_add(wait);
            // After the last bit, a SIGUSR1 ends the wait at once (a
            // SIGUSR2 may be followed by one: "SIGUSR2 per bit, SIGUSR1 at
            // the end", or "ack, plus done").
            if silent || paced || next.is_none() && !self.usr1_now {
                if now < deadline {
                    return ClassicPoll::Wait { until: deadline };
                }
                if silent {
                    if self.mode == Mode::Acked {
                        return self.finish(ClassicPoll::Failed(Failure::FellSilent));
                    }
                    // No reply in time: the server does not acknowledge
                    // every bit; we have waited longer than a pace already.
                    self.mode = Mode::Paced;
                }
            }
            // Every bit so far answered (else paced), by one reply each
            // (a doubled or stray reply never counts down), 8 bits and more.
            if self.mode == Mode::Probe && self.sent >= STEADY && self.replies == self.sent {
                self.mode = Mode::Acked;
            }
        }
        match next {
            Some(signal) => {
                self.sent += 1;
                self.sent_at = now;
                self.sent_usr1 |= signal == Signal::Usr1;
                self.answered = false;
                self.usr1_now = false;
                ClassicPoll::Send(signal)
            }
            // Every signal answered, with SIGUSR2 only, though some were
            // SIGUSR1 (not an echo): the server's "busy, not you".
            None if self.sent_usr1 && !self.heard_usr1 && self.replies >= self.sent => {
                self.finish(ClassicPoll::Failed(Failure::Rejected))
            }
            None => self.finish(ClassicPoll::Done),
        }
    }

    /// The end: `end`, from now on.
    fn finish(&mut self, end: ClassicPoll) -> ClassicPoll {
        self.end = Some(end);
        end
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
        // the first bit waits the probe, the others the pace, the last the
        // probe again (for a reply that confirms the end)
        assert_eq!(
            t - Instant::ZERO,
            Duration::from_millis(100).saturating_add(Duration::from_micros(1000 * 30))
        );
    }

    #[test]
    fn ack_per_bit_is_followed_reply_by_reply() {
        let (end, sent, t, acked) = run(Default::default(), b"abc", |_, _| &[Usr1]);
        assert_eq!((end, sent, acked), (ClassicPoll::Done, 32, true));
        // the first 8 bits a pace apart (probing), the others on replies
        assert_eq!(t - Instant::ZERO, US * (1000 * 8 + 30 * 24));
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

    /// A sender of "abc" to a server that answered its first 8 bits (so
    /// found to acknowledge every bit, each a pace after the one before),
    /// the ninth bit sent at `t0`.
    fn acked_then_ninth_bit_sent() -> (ClassicSender<'static>, Instant) {
        let mut tx = ClassicSender::new(Default::default(), Convention::default(), b"abc").unwrap();
        let mut now = Instant::ZERO;
        for _ in 0..8 {
            assert!(matches!(tx.poll(now), ClassicPoll::Send(_)));
            now += US * 30;
            tx.on_reply(Usr1, now);
            // probing: not before a pace
            assert!(matches!(tx.poll(now), ClassicPoll::Wait { .. }));
            now += ClassicSenderConfig::DEFAULT_PACE;
        }
        assert!(matches!(tx.poll(now), ClassicPoll::Send(_)));
        assert!(tx.acknowledged());
        (tx, now)
    }

    #[test]
    fn acked_server_silent_for_give_up_fell_silent() {
        let (mut tx, t0) = acked_then_ninth_bit_sent();
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
        assert_eq!(tx.sent(), 9);
    }

    #[test]
    fn acked_server_that_answers_just_in_time_does_not_fail() {
        let (mut tx, t0) = acked_then_ninth_bit_sent();
        let late = t0 + ClassicSenderConfig::default().give_up - US;
        tx.on_reply(Usr2, late);
        assert!(matches!(tx.poll(late), ClassicPoll::Send(_)));
        assert_eq!(tx.sent(), 10);
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
        // the last bit's reply (30 µs after it) ends the wait at once
        assert_eq!(t - Instant::ZERO, US * (100 * 15 + 30));
    }

    /// The end, [`ClassicSender::acknowledged`] and
    /// [`ClassicSender::confirmed`] of "abc" sent with default settings to a
    /// server that answers bit `i` of `n` with `reply(i, n)`.
    fn outcome(reply: impl Fn(u64, u64) -> &'static [Signal]) -> (ClassicPoll, (bool, bool)) {
        let c = Convention::default();
        let mut tx = ClassicSender::new(Default::default(), c, b"abc").unwrap();
        let total = tx.total();
        let mut now = Instant::ZERO;
        loop {
            match tx.poll(now) {
                ClassicPoll::Send(_) => {
                    now += US * 30;
                    for &r in reply(tx.sent() - 1, total) {
                        tx.on_reply(r, now);
                    }
                }
                ClassicPoll::Wait { until } => now = until,
                end => return (end, (tx.acknowledged(), tx.confirmed())),
            }
        }
    }

    /// (acknowledged, confirmed): not acknowledged nor confirmed; paced,
    /// the end confirmed; found to acknowledge every bit (so the end too).
    const UNCONFIRMED: (bool, bool) = (false, false);
    const END_CONFIRMED: (bool, bool) = (false, true);
    const ACKNOWLEDGED: (bool, bool) = (true, true);

    #[test]
    fn first_bit_only_once_or_twice_is_paced_never_failed() {
        // One SIGUSR2 on the first bit; or two, the second landing after
        // the second bit went out; or both at once.
        let once = |i: u64, _| -> &'static [Signal] {
            if i == 0 {
                &[Usr2]
            } else {
                &[]
            }
        };
        let twice = |i: u64, _| -> &'static [Signal] {
            if i < 2 {
                &[Usr2]
            } else {
                &[]
            }
        };
        let both = |i: u64, _| -> &'static [Signal] {
            if i == 0 {
                &[Usr2, Usr2]
            } else {
                &[]
            }
        };
        for (name, (end, said)) in [
            ("once", outcome(once)),
            ("twice", outcome(twice)),
            ("both", outcome(both)),
        ] {
            assert_eq!((end, said), (ClassicPoll::Done, UNCONFIRMED), "{name}");
        }
        // Seven bits answered, then none: still not enough to be taken
        // for acknowledging, so no failure either.
        let seven = |i: u64, _| -> &'static [Signal] {
            if i < 7 {
                &[Usr1]
            } else {
                &[]
            }
        };
        assert_eq!(outcome(seven), (ClassicPoll::Done, UNCONFIRMED));
    }

    #[test]
    fn sigusr2_to_every_bit_is_a_rejection_not_an_ack() {
        let busy = |_, _| -> &'static [Signal] { &[Usr2] };
        assert_eq!(outcome(busy).0, ClassicPoll::Failed(Failure::Rejected));
        // SIGUSR2 per bit, then SIGUSR1 at the end ("usr2bit"): acknowledged.
        let usr2bit = |i: u64, n: u64| -> &'static [Signal] {
            if i + 1 == n {
                &[Usr2, Usr1]
            } else {
                &[Usr2]
            }
        };
        assert_eq!(outcome(usr2bit), (ClassicPoll::Done, ACKNOWLEDGED));
        // An echo of a message of SIGUSR2 only is no rejection.
        let c = Convention::parse(b"usr1,none").unwrap();
        let mut tx = ClassicSender::new(Default::default(), c, b"\0").unwrap();
        let mut now = Instant::ZERO;
        let end = loop {
            match tx.poll(now) {
                ClassicPoll::Send(s) => tx.on_reply(s, now),
                ClassicPoll::Wait { until } => now = until,
                end => break end,
            }
        };
        assert_eq!(
            (end, (tx.acknowledged(), tx.confirmed())),
            (ClassicPoll::Done, ACKNOWLEDGED)
        );
    }

    #[test]
    fn confirmed_says_whether_the_server_confirmed_the_end() {
        let none = |_, _| -> &'static [Signal] { &[] };
        assert_eq!(outcome(none), (ClassicPoll::Done, UNCONFIRMED));
        let end = |i: u64, n: u64| -> &'static [Signal] {
            if i + 1 == n {
                &[Usr1]
            } else {
                &[]
            }
        };
        assert_eq!(outcome(end), (ClassicPoll::Done, END_CONFIRMED));
        let bit = |_, _| -> &'static [Signal] { &[Usr1] };
        assert_eq!(outcome(bit), (ClassicPoll::Done, ACKNOWLEDGED));
        // Slow to answer the first bit: paced for good, the end confirmed.
        let late = |i: u64, _| -> &'static [Signal] {
            if i == 0 {
                &[]
            } else {
                &[Usr1]
            }
        };
        assert_eq!(outcome(late), (ClassicPoll::Done, END_CONFIRMED));
    }

    #[test]
    fn empty_message_without_nul_is_done_at_once() {
        let c = Convention::parse(b"none").unwrap();
        let mut tx = ClassicSender::new(Default::default(), c, b"").unwrap();
        assert_eq!(tx.poll(Instant::ZERO), ClassicPoll::Done);
        assert_eq!(tx.poll(Instant::ZERO), ClassicPoll::Done);
    }
}
