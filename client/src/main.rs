//! `client`: sends a message to a minitalk server, one bit per signal.
//!
//! A thin shell over [`minitalk_protocol::Sender`]: it checks its arguments
//! before anything is sent, feeds the sender whole-character payloads from
//! the command line or stdin (cut by [`minitalk_protocol::chunk`]), sends
//! each bit with `kill`, and waits for each reply with `sigtimedwait` on
//! blocked signals (no lost-wakeup race, always with a deadline). Only
//! signals whose `si_pid` is the server's count as replies.
//!
//! With `--classic[=LIST]` (cargo feature `classic`), after the same checks,
//! the same loop drives a classic sender instead (`classic.rs` makes it;
//! see `wire::Tx`): the message on the classic 42 wire, for a learner's
//! server.
//!
//! Modules, one concern each: `cli` (options and `--help`), `input` (the
//! message, from the command line or stdin), `wire` (the sender of the wire
//! in use), `classic` (the classic sender's set-up);
//! this file holds the checks before the first signal and the loop.
//!
//! Exit status: 0 the server confirmed the whole message (classic: or the
//! whole message was sent to a server that confirms nothing, and the last
//! line says so); 1 delivery failed (classic: also a server that rejected
//! every bit); 2 bad usage or bad input (nothing was sent).
#![no_std]
#![no_main]

#[cfg(feature = "classic")]
mod classic;
mod cli;
mod input;
mod wire;

use minitalk_protocol::chunk::{BadUtf8, Chunker};
use minitalk_protocol::{Failure, Pid, Poll, Sender, SenderConfig};
use minitalk_sys::{self as sys, Line, ProgressBar, SendError, SigSet, STDERR};

use cli::parse;
use input::Input;
use wire::Tx;

/// Whether `--stats` is built in (cargo feature `stats`).
const STATS: bool = cfg!(feature = "stats");
/// Whether `--progress` is built in (cargo feature `progress`).
const PROGRESS: bool = cfg!(feature = "progress");
/// Whether `--classic` and `--pace` are built in (cargo feature `classic`).
const CLASSIC: bool = cfg!(feature = "classic");

/// The C entry point: the C runtime calls it with the command line.
///
/// # Safety
///
/// `argv` must hold `argc` valid C strings, as the C runtime guarantees.
#[no_mangle]
pub unsafe extern "C" fn main(argc: i32, argv: *const *const libc::c_char) -> i32 {
    // SAFETY: argc and argv come from the C runtime's call of main.
    let args = unsafe { sys::Args::new(argc, argv) };
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let fail = |code: i32, l: &mut Line| -> i32 {
        if !opts.quiet {
            l.println(STDERR);
        }
        code
    };

    // Checks that make sure the first signal cannot hurt anyone.
    if opts.pid == sys::getpid() {
        return fail(
            2,
            line("")
                .u64(opts.pid as u64)
                .str(" is this client's own PID; give the server's"),
        );
    }
    match sys::proc::catches_usr(opts.pid) {
        None => {
            return fail(
                2,
                line("no process has PID ")
                    .u64(opts.pid as u64)
                    .str("; start 'server' and use the PID it prints"),
            );
        }
        Some(false) => {
            return fail(
                2,
                line("process ")
                    .u64(opts.pid as u64)
                    .str(sys::proc::NOT_CAUGHT),
            );
        }
        Some(true) => {}
    }

    let mut input = Input {
        arg: opts.message,
        unread: opts.message,
        stdin: Chunker::new(),
    };
    let bad_utf8 = |at: u64, sent: bool| -> i32 {
        let mut l = line("the message is not valid UTF-8 (at byte ");
        l.u64(at).str(if sent {
            "); stopped part way, the server discards the partial message"
        } else {
            "); nothing was sent"
        });
        fail(2, &mut l)
    };
    match opts.message {
        Some(m) => {
            if let Err(e) = core::str::from_utf8(m) {
                return bad_utf8(e.valid_up_to() as u64, false);
            }
        }
        None => {
            if let Err(BadUtf8(at)) = input.fill() {
                return bad_utf8(at, false);
            }
        }
    }

    // Replies stay pending until sigtimedwait takes them: no lost wake-up.
    // The handler never runs (the signals are blocked); it is there so that
    // /proc shows this process catching them, which servers check before
    // they answer (a process in sigtimedwait shows them neither caught nor
    // blocked).
    let usr = SigSet::usr();
    usr.block();
    // SAFETY: the handler does nothing at all: async-signal-safe.
    unsafe {
        sys::set_handler(libc::SIGUSR1, never_runs, &usr);
        sys::set_handler(libc::SIGUSR2, never_runs, &usr);
    }
    // Stay on one CPU: the server moves to it while it serves us, and a
    // signal round trip within one CPU costs a fraction of one across two.
    if opts.pin {
        if let Some(cpu) = sys::current_cpu() {
            sys::CpuSet::only(cpu).apply();
        }
    }
    let started = sys::now();
    let total = input.total();
    let mut tx = match opts.classic {
        #[cfg(feature = "classic")]
        Some(convention) => match classic::sender(&opts, convention, &input) {
            Some(tx) => Tx::Classic(tx),
            None => return fail(2, &mut line(classic::TOO_LONG)),
        },
        _ => {
            // The PID seeds the jitter of retries: clients started together
            // must not knock again in step.
            let config = SenderConfig::with_timeout(opts.timeout);
            let tx = Sender::new(config, started).with_seed(sys::getpid() as u64);
            let mut tx = Tx::V1(tx, &mut input);
            // The server's counters, to see them move when a reply is late.
            tx.late(opts.pid, started);
            tx
        }
    };
    let wanted = if PROGRESS { opts.progress } else { Some(false) };
    let mut bar = ProgressBar::new(wanted, || sys::isatty(STDERR), total, started);
    let mut sent_any = false;
    // The clock is read after each wait and after each `kill`: the process
    // may be stopped or descheduled between deciding to send a bit and the
    // `kill`, and the sender must know when the bit really went out.
    let mut now = started;
    loop {
        match tx.poll(now) {
            Poll::Send(signal) => {
                sent_any = true;
                if let Err(e) = sys::send(opts.pid, signal) {
                    bar.clear();
                    return lost(opts.pid, send_failure(e), &fail);
                }
                now = sys::now();
                tx.sent(now);
            }
            Poll::Wait { until } => {
                bar.update(tx.bytes(), now);
                let reply = usr.wait(until.saturating_duration_since(now));
                now = sys::now();
                match reply {
                    Some((signo, from)) => {
                        if let Some(signal) = sys::from_signo(signo) {
                            tx.on_signal(from, opts.pid, signal, now);
                        }
                    }
                    None => tx.late(opts.pid, now),
                }
            }
            Poll::NeedPayload => {
                let next = tx.load_next();
                // Reading stdin may have waited (up to INPUT_PATIENCE).
                now = sys::now();
                if let Err(BadUtf8(at)) = next {
                    bar.clear();
                    return bad_utf8(at, sent_any);
                }
            }
            Poll::Done => {
                bar.clear();
                if STATS && opts.stats && !opts.quiet {
                    tx.stats_line(now - started);
                }
                // Classic: what the server confirmed, plainly.
                if let Some(said) = tx.outcome() {
                    fail(0, &mut line(said));
                }
                return 0;
            }
            Poll::Failed(failure) => {
                bar.clear();
                if STATS && opts.stats && !opts.quiet {
                    tx.stats_line(now - started);
                }
                if failure == Failure::Gone || !sys::alive(opts.pid) {
                    return lost(opts.pid, EXITED, &fail);
                }
                if failure == Failure::Rejected {
                    return lost(opts.pid, failure.as_str(), &fail);
                }
                let mut l = line("delivery failed: ");
                if failure == Failure::TooManyRetries {
                    l.str(failure.as_str())
                        .str("; is PID ")
                        .u64(opts.pid as u64)
                        .str(" a minitalk server of this version?");
                } else {
                    // Silent, stopped, asleep, running without answering,
                    // or (classic) fell silent: say which, and for how long.
                    let waited = match failure {
                        Failure::Unanswering => opts.timeout * SenderConfig::BUSY_CAP_FACTOR,
                        _ => opts.timeout,
                    };
                    l.str("the server (PID ")
                        .u64(opts.pid as u64)
                        .str(")")
                        .str(failure.as_str())
                        .ms(waited.as_millis() as u64);
                }
                return fail(1, &mut l);
            }
        }
    }
}

/// What `lost` says after the PID when `kill` failed.
fn send_failure(e: SendError) -> &'static str {
    match e {
        SendError::NotPermitted => " belongs to another user: not permitted",
        SendError::NoProcess | SendError::BadPid => EXITED,
    }
}

/// What `lost` says after the PID of a server that is gone.
const EXITED: &str = " has exited";

/// "Delivery failed": the server (PID) and `why`; exit status 1 (v1 and
/// classic: one copy of the message).
fn lost(pid: Pid, why: &str, fail: &impl Fn(i32, &mut Line) -> i32) -> i32 {
    fail(
        1,
        line("delivery failed: the server (PID ")
            .u64(pid as u64)
            .str(")")
            .str(why),
    )
}

/// A line that starts "client: " and `text`: one call at each of the
/// messages, not a zeroed buffer and two appends each (smaller binary).
#[inline(never)]
fn line(text: &str) -> Line {
    let mut l = Line::new();
    l.str("client: ").str(text);
    l
}

/// The handler of the blocked `SIGUSR1` and `SIGUSR2`.
extern "C" fn never_runs(_: i32, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

minitalk_sys::no_std_runtime!();
