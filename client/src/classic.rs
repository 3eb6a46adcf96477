//! `client --classic[=LIST]`: the message on the classic 42 wire, for a
//! learner's server (cargo feature `classic`).
//!
//! A thin loop around [`ClassicSender`]: the same PID checks, input check,
//! signal mask and handlers as v1 (done in `main` before this runs); each
//! bit goes out with `kill`, each reply is waited for with `sigtimedwait`,
//! and only signals whose `si_pid` is the server's count.
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
use minitalk_sys::{self as sys, Line, SigSet};

use crate::{
    line, lost, send_failure, stats_figures, Input, Options, Progress, EXITED, READ_AHEAD, STATS,
};

// The refusal of a longer stdin says "64 KiB".
const _: () = assert!(READ_AHEAD == 64 * 1024);

// `--help` says "else 400" for the pace when the server does not acknowledge.
const _: () = assert!(ClassicSenderConfig::DEFAULT_PACE.as_micros() == 400);

/// Sends the message of `input` to `opts.pid` on the classic wire of
/// `convention`; returns the exit status. `usr` is blocked, both signals
/// have handlers (so that the server sees them caught), and every v1 check
/// of the PID and of the input has passed.
pub(crate) fn send(
    opts: &Options,
    convention: Convention,
    input: &Input,
    usr: &SigSet,
    fail: &impl Fn(i32, &mut Line) -> i32,
) -> i32 {
    let pid = opts.pid;
    let message = input.arg.or_else(|| input.stdin.whole());
    let config = ClassicSenderConfig {
        pacing: match opts.pace {
            Some(pace) => Pacing::Fixed(pace),
            None => ClassicSenderConfig::default().pacing,
        },
        give_up: opts.timeout,
    };
    // `None`: stdin longer than the read-ahead, or a message too long for
    // a 32-bit length.
    let Some(mut tx) = message.and_then(|m| ClassicSender::new(config, convention, m)) else {
        return fail(
            2,
            &mut line("--classic takes less than 64 KiB from stdin; nothing was sent"),
        );
    };
    let len = message.map_or(0, |m| m.len() as u64);
    let started = sys::now();
    let mut now = started;
    let mut bar = Progress::new(opts.progress, Some(len), started);
    let code = loop {
        match tx.poll(now) {
            ClassicPoll::Send(signal) => {
                if let Err(e) = sys::send(pid, signal) {
                    bar.clear();
                    break lost(pid, send_failure(e), fail);
                }
            }
            ClassicPoll::Wait { until } => {
                bar.update(tx.bytes_sent(), now);
                let reply = usr.wait(until.saturating_sub(now));
                now = sys::now();
                if let Some((signo, from)) = reply {
                    if from == pid {
                        if let Some(signal) = sys::from_signo(signo) {
                            tx.on_reply(signal, now);
                        }
                    }
                    // Anything else is a stray or a forgery: it does not count.
                }
            }
            ClassicPoll::Done => {
                bar.clear();
                break 0;
            }
            ClassicPoll::Failed(_) => {
                let why = if sys::alive(pid) {
                    " stopped answering; is it stopped? try a longer --timeout"
                } else {
                    EXITED
                };
                bar.clear();
                break lost(pid, why, fail);
            }
        }
    };
    if STATS && opts.stats && !opts.quiet {
        // As many replies as signals: every bit was acknowledged.
        let bytes = tx.bytes_sent();
        stats_figures(bytes, tx.sent(), tx.replies(), " replies, ", now - started);
    }
    code
}
