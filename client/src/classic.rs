//! `client --classic[=LIST]`: the message on the classic 42 wire, for a
//! learner's server (cargo feature `classic`).
//!
//! A [`ClassicSender`] that `main`'s loop drives as it drives v1's sender
//! (see `Tx`): the same PID checks, input check, signal mask and handlers;
//! each bit goes out with `kill`, each reply is waited for with
//! `sigtimedwait`, and only signals whose `si_pid` is the server's count.
//!
//! The whole message is known before its first bit: from the command line,
//! or from stdin read to its end into the read-ahead
//! ([`READ_AHEAD`], 64 KiB; a stdin that fills it is
//! not known to end there), so that a length header (`len32`, `len64`) is
//! always right. A stdin of 64 KiB or more is refused (exit 2,
//! nothing sent): at classic speeds 64 KiB already takes seconds to
//! minutes.
//!
//! Nothing here can know what the server printed: the classic wire has no
//! checksum and no reply that says what arrived.

use minitalk_protocol::classic::{
    ClassicPoll, ClassicSender, ClassicSenderConfig, Convention, Pacing,
};
use minitalk_protocol::{Instant, Poll};

use crate::cli::Options;
use crate::input::{Input, READ_AHEAD};

// The refusal of a longer stdin says "64 KiB".
const _: () = assert!(READ_AHEAD == 64 * 1024);

// `--help` says "else 1000" for the pace when the server does not acknowledge.
const _: () = assert!(ClassicSenderConfig::DEFAULT_PACE.as_micros() == 1000);

/// Why nothing was sent: stdin longer than the read-ahead (or, in theory, a
/// message too long for a 32-bit length).
pub(crate) const TOO_LONG: &str = "--classic takes less than 64 KiB from stdin; nothing was sent";

/// The sender of the message of `input` on the classic wire of
/// `convention`; `None`: see [`TOO_LONG`].
pub(crate) fn sender<'a>(
    opts: &Options,
    convention: Convention,
    input: &'a Input,
) -> Option<ClassicSender<'a>> {
    let config = ClassicSenderConfig {
        pacing: match opts.pace {
            Some(pace) => Pacing::Fixed(pace),
            None => ClassicSenderConfig::default().pacing,
        },
        give_up: opts.timeout,
    };
    let message = input.arg.or_else(|| input.stdin.whole())?;
    ClassicSender::new(config, convention, message)
}

/// [`ClassicSender::poll`] as v1's [`Poll`], for `main`'s loop.
pub(crate) fn poll(tx: &mut ClassicSender, now: Instant) -> Poll {
    match tx.poll(now) {
        ClassicPoll::Send(signal) => Poll::Send(signal),
        ClassicPoll::Wait { until } => Poll::Wait { until },
        ClassicPoll::Done => Poll::Done,
        ClassicPoll::Failed(failure) => Poll::Failed(failure),
    }
}
