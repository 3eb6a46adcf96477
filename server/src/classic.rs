//! `server --classic[=LIST]`: the classic 42 wire, so that a learner can
//! test their own client against a known-good server (issue 12).
//!
//! A thin loop around [`ClassicReceiver`], the same shape as the v1 loop:
//! the handlers of `main.rs` push `(si_pid, signal)` into `SIGNALS`; the loop
//! sleeps in `ppoll` (the only place where signals are unblocked), feeds
//! what came to the receiver and lends it the [`Shell`], whose one
//! [`Effects`](minitalk_protocol::Effects) serves both wires:
//! - `catches`: `SigCgt` from `/proc/<pid>/status`
//!   ([`sys::proc::caught_usr`]); a process that has gone catches nothing,
//!   so it is never signalled;
//! - `send`: [`sys::send`], which refuses any PID below 1;
//! - `write`: the bytes as received (invalid UTF-8 included: it is the
//!   learner's data), a message and its `'\n'` in one write, never
//!   sleeping with the signals blocked;
//! - `verdict`: one line on stderr, `server: <pid>: ...` ([`verdict`]);
//! - `classic_trace`: `--trace`, the learner's debugger ([`event`]).
//!
//! On `SIGINT`/`SIGTERM` the receiver stops ([`ClassicReceiver::stop`]): the
//! messages being received end as if their clients had fallen silent
//! (printed with their verdicts), nobody is signalled any more, and the
//! server exits 0.

use minitalk_protocol::classic::{
    BitOrder, ClassicReceiver, ClassicReceiverConfig, Convention, Header, PendingTogether, Read,
    Text, Trace, Verdict, VerdictKind, TOO_FAST,
};
use minitalk_protocol::{Instant, Pid, Signal};
use minitalk_sys::{self as sys, Line, STDERR};

use crate::{Serve, Shell};

/// Processes decoded at the same time; a 17th is ignored until one ends.
const SLOTS: usize = 16;
/// Buffer per process: a message of up to `BUF - 1` bytes is written whole,
/// a longer one in chunks of that size (the receiver's module docs).
const BUF: usize = 4096;

/// Processes remembered for signals that were pending together.
const TOGETHER: usize = 8;

/// Senders whose two signals were pending at once (in the [`Shell`]).
pub type Together = PendingTogether<TOGETHER>;

/// The classic main loop; returns the exit status.
// Not inlined: its receiver's 64 KiB of buffers would join main's stack
// frame, whose every page is touched (stack probes) in v1 mode too.
#[inline(never)]
pub fn run(convention: Convention, shell: &mut Shell, pin: bool) -> i32 {
    let mut classic = Classic {
        rx: ClassicReceiver::new(ClassicReceiverConfig::default(), convention),
    };
    if shell.narrator.tracing() {
        banner(convention);
    }
    // On a client's CPU only while the receiver says so: a client that waits
    // for each reply goes faster there, one that paces itself loses bits
    // (measured: `measure_pinning` in e2e/tests/classic_server.rs).
    crate::serve(&mut classic, shell, pin);
    // Stopped: what is being received ends now, as by silence, and nobody
    // is signalled any more.
    classic.rx.stop(shell);
    0
}

/// The classic wire, for the main loop.
struct Classic {
    rx: ClassicReceiver<SLOTS, BUF>,
}

impl Serve for Classic {
    fn signal(&mut self, pid: Pid, signal: Signal, now: Instant, shell: &mut Shell) {
        // Each wake-up delivers one signal; if the other one is pending
        // with it, the kernel chose the order (SIGUSR1 first), not the
        // client: two bits may have been swapped, which no count shows.
        let other = sys::signo(Signal::from_bit(!signal.bit()));
        let together = shell.pending.contains(other);
        shell.together.taken(pid, together);
        self.rx.on_signal(pid, signal, now, shell);
    }

    fn poll(&mut self, now: Instant, shell: &mut Shell) {
        self.rx.poll(now, shell);
    }

    fn serving(&self) -> Option<Pid> {
        self.rx.serving()
    }

    fn deadline(&self) -> Option<Instant> {
        self.rx.poll_timeout()
    }

    fn needs_pending(&self) -> bool {
        true
    }
}

/// At the end of `pid`'s message: says so if the order of some of its
/// signals was lost.
pub fn order_lost(together: &mut Together, pid: Pid) {
    if together.take(pid) {
        Line::new()
            .fill(
                "server: {}: SIGUSR1 and SIGUSR2 were pending at once: bits may be swapped; ",
                &[pid as u64],
            )
            .str(TOO_FAST)
            .println(STDERR);
    }
}

/// The number of `SIGUSR1` or `SIGUSR2`, for a `SIGUSR{}` template.
fn usr(signal: Signal) -> u64 {
    1 + u64::from(signal.bit())
}

/// One line on stderr: `server: <pid>: <what is wrong>`.
pub fn verdict(v: Verdict) {
    let mut l = Line::new();
    l.fill("server: {}: ", &[v.pid as u64])
        .str(v.kind.message());
    match v.kind {
        VerdictKind::InvalidUtf8 { at } => l.fill(" {}", &[at]),
        VerdictKind::PartialByte { bits, exited } => l
            .fill(" ({} bits of the last byte came); ", &[u64::from(bits)])
            .str(if exited {
                "it exited: on our SIGUSR1?"
            } else {
                TOO_FAST
            }),
        VerdictKind::Short { got, announced } => l.fill(" ({} of {} bytes)", &[got, announced]),
        VerdictKind::Dropped { bytes } => l.fill(" ({} bytes)", &[bytes]),
        VerdictKind::Late { ms } => l.fill(" (by {} ms)", &[ms]),
        _ => &mut l,
    };
    l.println(STDERR);
}

/// What the trace shows, once at the start.
fn banner(c: Convention) {
    let mut l = Line::new();
    l.str("trace: classic wire, ");
    if c.detect {
        l.str("detected per client");
    } else {
        order(&mut l, c.order, c.one);
    }
    l.str("; per byte: sender, bits, byte, character, µs between its signals")
        .println(STDERR);
}

/// `MSB first, 1 = SIGUSR2`.
fn order(l: &mut Line, order: BitOrder, one: Signal) {
    l.str(match order {
        BitOrder::Msb => "MSB",
        BitOrder::Lsb => "LSB",
    })
    .fill(" first, 1 = SIGUSR{}", &[usr(one)]);
}

/// A trace event on stderr.
// Not inlined into the shell's `classic_trace`, which calls it only with
// `--trace` and then may say that signals were swapped: 40 B less so.
#[inline(never)]
pub fn event(t: Trace) {
    let mut l = Line::new();
    match t {
        Trace::Bits {
            pid,
            bits,
            n,
            gaps,
            read,
        } => {
            l.fill("  {}  ", &[pid as u64]);
            for k in 0..n {
                if k == 4 {
                    l.byte(b' ');
                }
                l.byte(b'0' + (bits >> (n - 1 - k) & 1));
            }
            l.str("  ");
            match read {
                Read::Byte { byte, text, .. } => {
                    l.str("0x").hex(byte).byte(b' ');
                    let mut utf8 = [0; 4];
                    match text {
                        Text::Char('\0') => l.str("NUL"),
                        Text::Char('\n') => l.str("'\\n'"),
                        Text::Char(c) if c.is_control() => l.str("(not text)"),
                        Text::Char(c) => l.byte(b'\'').str(c.encode_utf8(&mut utf8)).byte(b'\''),
                        Text::More => l.str("(UTF-8, more to come)"),
                        Text::Bad => l.str("(not UTF-8)"),
                    };
                }
                Read::Header => {
                    l.str("length header");
                }
                Read::Length(announced) => {
                    l.fill("length header: {} bytes follow", &[announced]);
                }
                Read::Unfinished => {
                    l.str("then silence, unfinished");
                }
            }
            l.str("  (");
            for (k, &gap) in gaps[..usize::from(n)].iter().enumerate() {
                if k > 0 {
                    l.byte(b' ');
                }
                match gap {
                    Trace::FIRST => l.str("first"),
                    us => l.u64(u64::from(us)),
                };
            }
            l.str(" µs)")
        }
        Trace::End { pid, bytes } => {
            l.fill("trace: {}: end of message, {} bytes", &[pid as u64, bytes])
        }
        Trace::Reply { pid, signal } => {
            l.fill("trace: reply SIGUSR{} to {}", &[usr(signal), pid as u64])
        }
        Trace::NotCaught { pid, signal } => l.fill(
            "trace: {} does not catch SIGUSR{}: not sent",
            &[pid as u64, usr(signal)],
        ),
        // Never seen: the handler drops signals from a PID below 1.
        Trace::Stray { .. } => return,
        Trace::Shared { pid, stays, .. } => pid_event(
            &mut l,
            pid,
            if stays {
                "faster on its CPU: staying"
            } else {
                "no faster on its CPU: leaving"
            },
        ),
        Trace::Detected {
            pid,
            order: o,
            one,
            header,
        } => {
            l.fill("trace: {} is read ", &[pid as u64]);
            order(&mut l, o, one);
            l.str(match header {
                Header::None => "",
                Header::Len32 => ", len32",
                Header::Len64 => ", len64",
                Header::Lead => ", lead",
            })
        }
        // The events about a process and nothing more: one template.
        Trace::Paced(pid) => pid_event(&mut l, pid, "paces itself: no reply per bit"),
        Trace::Waiting(pid) => pid_event(&mut l, pid, "catches SIGUSR1: each bit answered"),
        Trace::Echo(pid) => pid_event(&mut l, pid, "waits for its echo: echoed"),
        Trace::NoSlot(pid) => pid_event(&mut l, pid, "ignored: 16 clients at once"),
        Trace::Stalled(pid) => pid_event(&mut l, pid, "waits: another message is printing"),
    };
    l.println(STDERR);
}

/// `trace: <pid> <what>`.
fn pid_event<'a>(l: &'a mut Line, pid: Pid, what: &str) -> &'a mut Line {
    l.fill("trace: {} ", &[pid as u64]).str(what)
}
