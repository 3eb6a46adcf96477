//! The server's whole rule: a [`Receiver`] and a [`MessageBuffer`] joined,
//! with the I/O behind a trait, in the manner of smoltcp's
//! `Interface::poll(timestamp, device, sockets)`.
//!
//! The receiver decides; [`Server::drive`] carries out its decisions through
//! [`Effects`], and this is the one place where they are carried out:
//! - a verified frame's text goes into the message buffer, which writes a
//!   message out whole once it is complete (or streams one too long to hold);
//! - a session abandoned mid-message aborts the held message (discarded, or
//!   ended with a newline if it was streamed), and [`Effects::abandoned`]
//!   says what became of it;
//! - a process that a `CheckAlive` finds dead, or that a signal cannot reach,
//!   is reported gone to the receiver, and one found alive is reported with
//!   its identity ([`Effects::alive`]);
//! - once a write is cut short ([`Effects::cut`]), nothing more is carried
//!   out: text is always written whole before it is acknowledged.
//!
//! The server binary, the simulation in `tests/sim`, the round-trip tests and
//! the fuzz checks all go through [`Server::drive`], so the simulation tests
//! the code that the binary runs.
//!
//! Invariants: text is written before the acknowledgement that tells its
//! sender it arrived is sent (the receiver orders its outputs so); nothing
//! here panics or allocates.

use crate::{
    Aborted, Duration, Effects, Heard, Instant, MessageBuffer, Output, Pid, Receiver,
    ReceiverConfig, Signal,
};

/// A [`Receiver`] with a queue of `Q` processes and a [`MessageBuffer`] that
/// holds messages of up to `HOLD` bytes whole.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::{Catches, Instant, Effects, Pid, Poll, Sender, Server, Signal};
///
/// /// Replies go back to the sender by hand; text goes to a string.
/// #[derive(Default)]
/// struct Loopback {
///     replies: Vec<Signal>,
///     printed: Vec<u8>,
/// }
///
/// impl Effects for Loopback {
///     fn send(&mut self, _to: Pid, signal: Signal) -> bool {
///         self.replies.push(signal);
///         true
///     }
///     fn write(&mut self, _from: Pid, bytes: &[u8]) {
///         self.printed.extend_from_slice(bytes);
///     }
///     fn alive(&mut self, _pid: Pid) -> Option<u64> {
///         Some(1)
///     }
///     fn catches(&mut self, _pid: Pid) -> Catches {
///         Catches::BOTH
///     }
/// }
///
/// let now = Instant::ZERO;
/// let mut tx = Sender::new(Default::default(), now);
/// let mut server: Server<4, 64> = Server::new(Default::default());
/// let mut fx = Loopback::default();
/// tx.load("hello", true).unwrap();
/// while let Poll::Send(signal) = tx.poll(now) {
///     server.handle(42, signal, now, &mut fx);
///     for reply in fx.replies.drain(..) {
///         tx.on_reply(reply, now);
///     }
/// }
/// assert_eq!(fx.printed, b"hello\n");
/// ```
#[derive(Clone, Debug)]
pub struct Server<const Q: usize, const HOLD: usize> {
    rx: Receiver<Q>,
    held: MessageBuffer<HOLD>,
    /// When the caller meant to wake at the latest: the receiver's deadline
    /// when [`drive`](Self::drive) last returned. Time past it (beyond
    /// [`OWN_PAUSE_AFTER`]) is the server's own pause.
    wake_by: Option<Instant>,
}

/// How late past its deadline the server may wake before the time is its own
/// pause (PROTOCOL.md 4.5): more than a loaded machine's scheduling latency.
const OWN_PAUSE_AFTER: Duration = Duration::from_millis(100);

impl<const Q: usize, const HOLD: usize> Server<Q, HOLD> {
    /// An idle server.
    // Not inlined: built in place (its 64 KiB hold is not written), not
    // built on the caller's stack and copied.
    #[inline(never)]
    pub fn new(config: ReceiverConfig) -> Self {
        Server {
            rx: Receiver::new(config),
            held: MessageBuffer::new(),
            wake_by: None,
        }
    }

    /// Notices the server's own pause: woken at `now`, later than it meant
    /// to by more than [`OWN_PAUSE_AFTER`] (descheduled on a busy machine,
    /// or stopped), it tells the receiver to leave that time out of its
    /// session's silence ([`Receiver::paused`]). Once per wake-up.
    fn woke(&mut self, now: Instant) {
        if let Some(by) = self.wake_by.take() {
            let lost = now.saturating_duration_since(by + OWN_PAUSE_AFTER);
            if lost > Duration::ZERO {
                self.rx.paused(lost);
            }
        }
    }

    /// The receiver, to ask it who is served or waits, and when to wake up.
    pub fn receiver(&self) -> &Receiver<Q> {
        &self.rx
    }

    /// Whether a message is partly received (held or being streamed).
    pub fn in_message(&self) -> bool {
        self.held.in_message()
    }

    /// A signal from `pid` arrived at `now`: the one entry of the server
    /// binary and the simulation. A process neither served nor waiting is
    /// fed in only if it catches both signals ([`Effects::catches`], asked
    /// once per newcomer); then the signal is fed in
    /// ([`on_signal`](Self::on_signal)), [`Effects::heard`] sees what it
    /// carried (after the newcomer's "serving" or "waits"), and everything
    /// due is carried out ([`drive`](Self::drive)). `None`: not admitted,
    /// the signal is ignored.
    pub fn handle(
        &mut self,
        pid: Pid,
        signal: Signal,
        now: Instant,
        fx: &mut impl Effects,
    ) -> Option<Heard> {
        self.woke(now);
        let new = !self.rx.knows(pid);
        if new && !fx.catches(pid).both() {
            return None;
        }
        let heard = self.rx.on_signal(pid, signal, now);
        if new {
            // "serving" or "waits" first, then what the signal carried.
            self.drive(now, fx);
        }
        fx.heard(pid, signal, heard);
        self.drive(now, fx);
        Some(heard)
    }

    /// A signal from `from` arrived at `now` ([`Receiver::on_signal`]),
    /// without the admission of [`handle`](Self::handle);
    /// [`drive`](Self::drive) before the next.
    pub fn on_signal(&mut self, from: Pid, signal: Signal, now: Instant) -> Heard {
        self.woke(now);
        self.rx.on_signal(from, signal, now)
    }

    /// Carries out everything the receiver asks for at `now`. The caller
    /// then sleeps until the receiver's
    /// [`poll_timeout`](Receiver::poll_timeout) or the next signal: waking
    /// much later than that deadline is the server's own pause, nobody's
    /// silence (PROTOCOL.md 4.5).
    pub fn drive(&mut self, now: Instant, fx: &mut impl Effects) {
        self.woke(now);
        self.drive_outputs(now, fx);
        // Due now if outputs are left (a cut write): never before `now`.
        self.wake_by = self.rx.poll_timeout().map(|at| at.max(now));
    }

    fn drive_outputs(&mut self, now: Instant, fx: &mut impl Effects) {
        while !fx.cut() {
            let Some(output) = self.rx.poll(now) else {
                break;
            };
            fx.trace(&output, now);
            let mut identified = None;
            let gone = match output {
                Output::Send { to, signal } => (!fx.send(to, signal)).then_some(to),
                Output::Deliver {
                    from,
                    payload,
                    first,
                    last,
                } => {
                    self.held.push(payload, first, last, |b| fx.write(from, b));
                    None
                }
                Output::Abandoned { pid, vanished } => {
                    let aborted = self.held.abort(|b| fx.write(pid, b));
                    fx.abandoned(pid, vanished, aborted);
                    None
                }
                Output::CheckAlive(pid) => match fx.alive(pid) {
                    Some(id) => {
                        identified = Some((pid, id));
                        None
                    }
                    None => Some(pid),
                },
                Output::Note(_) => None,
            };
            if let Some(pid) = gone {
                self.rx.peer_gone(pid, now);
            }
            if let Some((pid, id)) = identified.take() {
                self.rx.peer_alive(pid, id, now);
            }
        }
    }

    /// The server stops: a held message is discarded, a streamed one ended
    /// with its newline (see [`MessageBuffer::abort`]).
    pub fn stop(&mut self, fx: &mut impl Effects) -> Aborted {
        let from = self.rx.serving().unwrap_or_default();
        self.held.abort(|b| fx.write(from, b))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::{Catches, Poll, Sender};
    use std::vec::Vec;

    /// Effects whose writes are cut short from the `cut_after`-th on.
    struct Cutting {
        sent: Vec<Signal>,
        writes: usize,
        cut_after: usize,
    }

    impl Effects for Cutting {
        fn send(&mut self, _to: Pid, signal: Signal) -> bool {
            self.sent.push(signal);
            true
        }
        fn write(&mut self, _from: Pid, _bytes: &[u8]) {
            self.writes += 1;
        }
        fn alive(&mut self, _pid: Pid) -> Option<u64> {
            Some(1)
        }
        fn catches(&mut self, _pid: Pid) -> Catches {
            Catches::BOTH
        }
        fn cut(&self) -> bool {
            self.writes >= self.cut_after
        }
    }

    /// Sends `text` as one message; returns the replies the server sent.
    fn send(cut_after: usize) -> Vec<Signal> {
        let now = Instant::ZERO;
        let mut tx = Sender::new(Default::default(), now);
        let mut server: Server<4, 64> = Server::new(Default::default());
        let mut fx = Cutting {
            sent: Vec::new(),
            writes: 0,
            cut_after,
        };
        tx.load("hi", true).unwrap();
        while let Poll::Send(signal) = tx.poll(now) {
            let before = fx.sent.len();
            server.on_signal(7, signal, now);
            server.drive(now, &mut fx);
            for &reply in &fx.sent[before..] {
                tx.on_reply(reply, now);
            }
        }
        fx.sent
    }

    #[test]
    fn a_message_written_whole_is_acknowledged() {
        let sent = send(usize::MAX);
        assert_eq!(sent.last(), Some(&Signal::Usr2));
    }

    #[test]
    fn a_write_cut_short_is_never_acknowledged() {
        let sent = send(1);
        // Every bit but the last was answered "go on"; the frame whose text
        // was cut short gets no answer at all.
        assert!(!sent.is_empty());
        assert!(sent.iter().all(|&s| s == Signal::Usr1), "{sent:?}");
    }

    /// A log of what `handle` did, in order.
    #[derive(Default)]
    struct Log {
        catches: bool,
        asked: Vec<Pid>,
        events: Vec<std::string::String>,
    }

    impl Effects for Log {
        fn send(&mut self, to: Pid, signal: Signal) -> bool {
            self.events.push(std::format!("send {to} {signal:?}"));
            true
        }
        fn write(&mut self, _from: Pid, bytes: &[u8]) {
            self.events.push(std::format!("write {}", bytes.len()));
        }
        fn alive(&mut self, _pid: Pid) -> Option<u64> {
            Some(1)
        }
        fn catches(&mut self, pid: Pid) -> Catches {
            self.asked.push(pid);
            if self.catches {
                Catches::BOTH
            } else {
                Catches::NONE
            }
        }
        fn heard(&mut self, pid: Pid, _signal: Signal, heard: Heard) {
            self.events.push(std::format!("heard {pid} {heard:?}"));
        }
        fn trace(&mut self, output: &Output<'_>, _now: Instant) {
            if let Output::Note(note) = output {
                self.events.push(std::format!("{note:?}"));
            }
        }
    }

    #[test]
    fn a_newcomer_that_does_not_catch_both_signals_is_ignored() {
        let mut server: Server<4, 64> = Server::new(Default::default());
        let mut fx = Log::default();
        let now = Instant::ZERO;
        assert_eq!(server.handle(7, Signal::Usr1, now, &mut fx), None);
        assert_eq!(server.handle(7, Signal::Usr2, now, &mut fx), None);
        assert!(!server.receiver().knows(7));
        assert!(fx.events.is_empty(), "{:?}", fx.events);
        assert_eq!(fx.asked, [7, 7], "asked at each signal while unknown");
    }

    #[test]
    fn a_newcomer_is_asked_once_and_its_serving_comes_before_its_bit() {
        let mut server: Server<4, 64> = Server::new(Default::default());
        let mut fx = Log {
            catches: true,
            ..Log::default()
        };
        let now = Instant::ZERO;
        assert_eq!(
            server.handle(7, Signal::Usr1, now, &mut fx),
            Some(Heard::Bit)
        );
        assert_eq!(
            server.handle(7, Signal::Usr2, now, &mut fx),
            Some(Heard::Bit)
        );
        assert_eq!(fx.asked, [7], "a known process is not asked again");
        assert_eq!(
            fx.events,
            // A newcomer's outputs come first (as the binary's trace
            // always showed them), then what its signal carried.
            [
                "Serving(7)",
                "send 7 Usr1",
                "heard 7 Bit",
                "heard 7 Bit",
                "send 7 Usr1"
            ]
        );
    }
}
