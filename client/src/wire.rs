//! The sender of the wire in use, behind one type, so that `main`'s one
//! loop drives either: v1's [`Sender`] fed from the [`Input`], or (cargo
//! feature `classic`) a [`ClassicSender`].

use minitalk_protocol::chunk::BadUtf8;
#[cfg(feature = "classic")]
use minitalk_protocol::classic::ClassicSender;
use minitalk_protocol::{Duration, Instant, Pid, Poll, Sender, Signal};
use minitalk_sys::{self as sys, STDERR};

#[cfg(feature = "classic")]
use crate::classic;
use crate::input::Input;
use crate::line;

/// The sender of the wire in use, so that one loop drives either (the
/// classic wire in a loop of its own cost more bytes).
#[allow(clippy::large_enum_variant)] // one, on main's stack: nothing to box
pub(crate) enum Tx<'a> {
    /// minitalk's own protocol, fed payloads from the input.
    V1(Sender, &'a mut Input),
    /// The classic 42 wire (`classic.rs`): the whole message at once.
    #[cfg(feature = "classic")]
    Classic(ClassicSender<'a>),
}

impl Tx<'_> {
    /// What to do now.
    pub(crate) fn poll(&mut self, now: Instant) -> Poll {
        match self {
            Tx::V1(tx, _) => tx.poll(now),
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => classic::poll(tx, now),
        }
    }

    /// The signal asked for went out at `now`.
    pub(crate) fn sent(&mut self, now: Instant) {
        match self {
            Tx::V1(tx, _) => tx.sent(now),
            #[cfg(feature = "classic")]
            Tx::Classic(_) => {}
        }
    }

    /// A signal from `from`: only the server's count (not a stray's, not
    /// a forger's); the sender decides.
    pub(crate) fn on_signal(&mut self, from: Pid, server: Pid, signal: Signal, now: Instant) {
        match self {
            Tx::V1(tx, _) => tx.on_signal(from, server, signal, now),
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => tx.on_signal(from, server, signal, now),
        };
    }

    /// No reply in time: is the server busy writing to a slow reader,
    /// runnable on a loaded machine, stopped, asleep, gone?
    pub(crate) fn late(&mut self, server: Pid, now: Instant) {
        match self {
            Tx::V1(tx, _) => {
                if let Some(written) = sys::proc::written(server) {
                    tx.on_receiver_output(written, now);
                }
                if let Some((state, cpu)) = sys::proc::process(server) {
                    tx.on_receiver_process(state, cpu, now);
                }
            }
            #[cfg(feature = "classic")]
            Tx::Classic(_) => {}
        }
    }

    /// v1: loads the next payload from the input.
    pub(crate) fn load_next(&mut self) -> Result<(), BadUtf8> {
        match self {
            Tx::V1(tx, input) => {
                let (payload, last) = input.next()?;
                // The payload is at most MAX_PAYLOAD whole characters: load cannot fail.
                let _ = tx.load(payload, last);
            }
            #[cfg(feature = "classic")]
            Tx::Classic(_) => {}
        }
        Ok(())
    }

    /// Classic: the final line, what the server confirmed (v1: `None`, its
    /// exit status says it all).
    pub(crate) fn outcome(&self) -> Option<&'static str> {
        match self {
            Tx::V1(..) => None,
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => Some(if tx.confirmed() {
                "the server confirmed the end"
            } else {
                "sent, not confirmed"
            }),
        }
    }

    /// The message's bytes delivered so far.
    #[inline(never)] // called twice: one copy is smaller
    pub(crate) fn bytes(&self) -> u64 {
        match self {
            Tx::V1(tx, _) => tx.stats().bytes,
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => tx.bytes_sent(),
        }
    }

    /// `--stats`: bytes, bits, signals, retries (classic: replies), time,
    /// bits/s.
    pub(crate) fn stats_line(&self, elapsed: Duration) {
        let (signals, extra, label) = match self {
            Tx::V1(tx, _) => (tx.stats().signals, tx.stats().retries, " retries, "),
            // As many replies as signals: every bit was acknowledged.
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => (tx.sent(), tx.replies(), " replies, "),
        };
        let bytes = self.bytes();
        line("")
            .u64(bytes)
            .str(" bytes, ")
            .u64(bytes * 8)
            .str(" bits, ")
            .u64(signals)
            .str(" signals, ")
            .u64(extra)
            .str(label)
            .micros(elapsed.as_micros() as u64)
            .str(", ")
            .rate(sys::out::bits_per_sec(bytes, elapsed))
            .println(STDERR);
    }
}
