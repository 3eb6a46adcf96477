//! The minitalk protocol: messages between two processes over nothing but
//! `SIGUSR1` and `SIGUSR2`, one bit per signal, every signal acknowledged.
//!
//! This crate is the whole conversation and none of the I/O (sans-IO, in the
//! manner of quinn-proto and h11). The state machines are fed events (a signal
//! from a process, the current time) and asked what to do (a signal to send,
//! bytes to write, when to wake up). They never read a clock, never touch a
//! signal and never allocate, so every rule is unit-tested and simulated with
//! faults in `tests/`, without a single real process.
//!
//! - [`frame`]: the wire format: the [`frame::Header`] byte, [`Frame`]
//!   (parse, emit) and a push [`FrameDecoder`].
//! - [`Sender`]: the client's side: a message in, signals out.
//! - [`Receiver`]: the server's side: signals from any number of processes in,
//!   verified text and acknowledgements out; one session at a time, the others
//!   queued in arrival order (`receiver/`: sessions and verdicts, the wait
//!   queue, the memory of finished messages).
//! - [`LineBuffer`]: a message and its newline, written in one piece: the
//!   output rule of both wires.
//! - [`MessageBuffer`]: holds a message whole (all or nothing) until it is
//!   complete, and streams the ones too long to hold.
//! - [`Server`]: the server's whole rule, a `Receiver` and a `MessageBuffer`
//!   joined, its I/O behind the [`Effects`] trait (the classic receiver's
//!   too: one trait for both wires): the binary and the
//!   simulation feed every signal through the same entry
//!   ([`Server::handle`]: admission, the signal, the drive).
//! - [`chunk`]: a message read from a stream, checked as UTF-8 and cut into
//!   payloads of whole characters (the client's stdin).
//! - [`crc`]: CRC-32C, the checksum of every frame.
//! - [`utf8`]: UTF-8 validation a byte at a time, without
//!   `core::str::from_utf8` (the server's text is checked with it), and the
//!   one assembler of characters from bytes that may not be valid
//!   ([`utf8::Chars`]: the classic server and the v1 trace).
//! - [`Instant`] and [`Duration`]: points in time and intervals, each one
//!   `u64` of nanoseconds;
//!   [`TimerTable`]: named timers and the next deadline.
//! - [`classic`]: the classic 42 wire, what learners' programs speak
//!   (`classic/receiver/`: bit decoding, the output arbiter, the
//!   acknowledgement policy, verdicts).
//!
//! `PROTOCOL.md` at the repository root specifies the format precisely, with
//! test vectors.
//!
//! Guarantees: `#![no_std]`, `#![forbid(unsafe_code)]`, no allocation, and no
//! panic on any input (the fuzz targets in `fuzz/` check the decoder side).
//!
//! # Examples
//!
//! A whole conversation, with the signals carried by hand:
//!
//! ```
//! use minitalk_protocol::{Instant, Output, Poll, Receiver, Sender};
//!
//! let now = Instant::ZERO;
//! let mut tx = Sender::new(Default::default(), now);
//! let mut rx: Receiver<4> = Receiver::new(Default::default());
//! let mut printed = Vec::new();
//! tx.load("hello", true).unwrap();
//! loop {
//!     match tx.poll(now) {
//!         Poll::Send(signal) => {
//!             rx.on_signal(42, signal, now);
//!             while let Some(out) = rx.poll(now) {
//!                 match out {
//!                     Output::Deliver { payload, .. } => printed.extend_from_slice(payload),
//!                     Output::Send { to: 42, signal } => tx.on_reply(signal, now),
//!                     _ => {}
//!                 }
//!             }
//!         }
//!         Poll::Done => break,
//!         other => panic!("{other:?}"),
//!     }
//! }
//! assert_eq!(printed, b"hello");
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod chunk;
pub mod classic;
pub mod crc;
mod effects;
pub mod frame;
mod message;
mod receiver;
mod sender;
mod server;
mod time;
mod timer;
pub mod utf8;

pub use effects::{Catches, Effects};
pub use frame::{Decoded, Frame, FrameDecoder};
pub use message::{Aborted, LineBuffer, MessageBuffer};
pub use receiver::{Heard, Note, Output, Receiver, ReceiverConfig};
pub use sender::{Failure, Poll, ProcessState, Sender, SenderConfig, SenderStats};
pub use server::Server;
pub use time::{Duration, Instant};
pub use timer::{Timer, TimerTable};

/// A process ID, as `pid_t` on Linux.
pub type Pid = i32;

/// The senders' one rule for a signal from process `from` when the
/// receiver is process `server`: only the receiver's signals count
/// (anything else is a stray or a forgery, and cannot pass for an
/// acknowledgement); `reply` takes one that counts. Returns whether it
/// counted.
pub(crate) fn from_server(from: Pid, server: Pid, reply: impl FnOnce()) -> bool {
    let counts = from == server;
    if counts {
        reply();
    }
    counts
}

/// One of the two signals on the wire.
///
/// From client to server, `Usr1` is a 0 bit and `Usr2` a 1 bit. From server
/// to client, `Usr1` is a plain acknowledgement ("got it") and `Usr2` a
/// marked one ("frame accepted", or "wait your turn"): see `PROTOCOL.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGUSR1`.
    Usr1,
    /// `SIGUSR2`.
    Usr2,
}

impl Signal {
    /// The signal that carries `bit` from client to server.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::Signal;
    /// assert_eq!(Signal::from_bit(true), Signal::Usr2);
    /// assert!(!Signal::Usr1.bit());
    /// ```
    #[inline]
    pub const fn from_bit(bit: bool) -> Self {
        if bit {
            Signal::Usr2
        } else {
            Signal::Usr1
        }
    }

    /// The bit this signal carries from client to server.
    #[inline]
    pub const fn bit(self) -> bool {
        matches!(self, Signal::Usr2)
    }
}

/// Everything that can go wrong in this crate.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the frame's LEN field asks for.
    Truncated,
    /// More bytes than one frame.
    TrailingBytes,
    /// A payload longer than [`frame::MAX_PAYLOAD`].
    PayloadTooLong,
    /// The output buffer cannot hold the frame.
    BufferTooSmall,
    /// The CRC-32C does not match: the frame was damaged on the way.
    BadChecksum,
    /// A protocol version this implementation does not speak.
    BadVersion,
    /// The payload is not valid UTF-8 on its own.
    BadUtf8,
    /// A session's first frame does not open a message.
    NotFirst,
    /// A frame that opens a message arrived in the middle of one.
    UnexpectedFirst,
    /// [`Sender::load`] was called when the sender did not ask for a payload.
    NotReady,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// A short lowercase description, for binaries that avoid `core::fmt`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::Truncated => "frame truncated",
            Error::TrailingBytes => "bytes after the frame",
            Error::PayloadTooLong => "payload longer than 255 bytes",
            Error::BufferTooSmall => "buffer too small",
            Error::BadChecksum => "checksum mismatch",
            Error::BadVersion => "unknown protocol version",
            Error::BadUtf8 => "payload is not valid UTF-8",
            Error::NotFirst => "session did not start with a first frame",
            Error::UnexpectedFirst => "first frame in the middle of a message",
            Error::NotReady => "sender is not asking for a payload",
        }
    }
}

/// The parts of `bytes` between the `sep` bytes: one splitter for every
/// caller (the `--classic=LIST` items, the fields of `/proc` files), so
/// that its code is there once.
pub fn split(bytes: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    bytes.split(move |&b| b == sep)
}
