//! `server --classic[=LIST]`: the classic 42 wire, so that a learner can
//! test their own client against a known-good server (issue 12).
//!
//! A thin loop around [`ClassicReceiver`], the same shape as the v1 loop:
//! the handlers of `main.rs` push `(si_pid, signal)` into `SIGNALS`; the loop
//! sleeps in `ppoll` (the only place where signals are unblocked), feeds
//! what came to the receiver and carries out what it asks:
//! - [`ClassicOutput::CheckCatches`]: `SigCgt` from `/proc/<pid>/status`
//!   ([`sys::proc::caught_usr`]); a process that has gone catches nothing,
//!   so it is never signalled;
//! - [`ClassicOutput::Send`]: [`sys::send`], which refuses any PID below 1;
//! - [`ClassicOutput::Write`]: the bytes as received (invalid UTF-8
//!   included: it is the learner's data), a message and its `'\n'` in one
//!   write, through v1's `Shell`, which never sleeps with the signals
//!   blocked;
//! - [`ClassicOutput::Verdict`]: one line on stderr, `server: <pid>: ...`;
//! - [`ClassicOutput::Trace`]: `--trace`, the learner's debugger ([`Show`]).
//!
//! On `SIGINT`/`SIGTERM` the messages being received end as if their
//! clients had fallen silent (printed with their verdicts), nobody is
//! signalled any more, and the server exits 0.

use core::sync::atomic::Ordering;

use minitalk_protocol::classic::{
    BitOrder, Catches, ClassicOutput, ClassicReceiver, ClassicReceiverConfig, Convention, End,
    Header, Trace, Verdict, VerdictKind, VALID_ITEMS,
};
use minitalk_protocol::{Duration, Pid, Signal};
use minitalk_sys::{self as sys, Line, SigSet, STDERR};

use crate::{Shell, SIGNALS, STOP, TRACE};
use minitalk_protocol::Effects;

/// Processes decoded at the same time; a 17th is ignored until one ends.
const SLOTS: usize = 16;
/// Buffer per process: a message of up to `BUF - 1` bytes is written whole,
/// a longer one in chunks of that size (the receiver's module docs).
const BUF: usize = 4096;

/// `--classic` or `--classic=LIST` as a [`Convention`]; `None` if `arg` is
/// another option. A bad item is reported (with the valid ones) as `Err`.
pub fn option(arg: &[u8]) -> Option<Result<Convention, ()>> {
    let list = match arg.strip_prefix(b"--classic")? {
        [] => &[][..],
        [b'=', list @ ..] => list,
        _ => return None,
    };
    Some(Convention::parse(list).map_err(|bad| {
        Line::new()
            .str("server: unknown --classic item '")
            .bytes(bad)
            .str("'; the valid ones: ")
            .str(VALID_ITEMS)
            .println(STDERR);
    }))
}

/// The classic main loop; returns the exit status.
pub fn run(convention: Convention, trace: bool, pin: bool, shell: &mut Shell) -> i32 {
    let mut rx: ClassicReceiver<SLOTS, BUF> =
        ClassicReceiver::new(ClassicReceiverConfig::default(), convention);
    let mut show = Show {
        trace,
        bytes: [Bits::FREE; SLOTS],
        together: [0; TOGETHER],
        next: 0,
    };
    if TRACE && show.trace {
        show.banner(convention);
    }
    let sleep_mask = SigSet::empty();
    let all_cpus = sys::CpuSet::current();
    let mut pinned_to: Option<Pid> = None;
    let mut last_sender = None;
    while !STOP.load(Ordering::Relaxed) {
        // One clock reading per wake-up, as in v1: signals that arrive
        // together show as 0 µs apart in the trace. Time spent waiting for
        // stdout is left out: it is nobody's silence.
        let now = shell.clock();
        // Each wake-up delivers one signal; if the other one was pending
        // with it, the kernel chose the order (SIGUSR1 first), not the
        // client: two bits may have been swapped, which no count shows.
        let pending = SigSet::pending();
        while let Some((pid, signal)) = SIGNALS.pop() {
            let other = match signal {
                Signal::Usr1 => libc::SIGUSR2,
                Signal::Usr2 => libc::SIGUSR1,
            };
            if pending.contains(other) && !show.together.contains(&pid) {
                show.together[show.next % TOGETHER] = pid;
                show.next += 1;
            }
            rx.on_signal(pid, signal, now);
            last_sender = Some(pid);
            drain(&mut rx, &mut show, shell, now, false);
        }
        drain(&mut rx, &mut show, shell, now, false);
        // Share the sender's CPU, as v1 does (README, "Speed").
        let sender = last_sender.filter(|_| rx.active() > 0);
        if pin && sender != pinned_to {
            pinned_to = sender;
            match pinned_to.and_then(sys::proc::last_cpu) {
                Some(cpu) => sys::CpuSet::only(cpu).apply(),
                None => all_cpus.is_some_and(|set| set.apply()),
            };
        }
        let timeout = rx.poll_at().map(|t| t.saturating_sub(now));
        // A write that waited for stdout ran the handlers outside this
        // sleep: what they queued meanwhile is handled first.
        let timeout = if SIGNALS.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        sys::sleep_with_mask(timeout, &sleep_mask);
    }
    // Stopped: what is being received ends now, as by silence; no replies.
    drain(&mut rx, &mut show, shell, Duration::MAX, true);
    0
}

/// Carries out everything the receiver asks for at `now` (sending nothing
/// when `stopping`).
fn drain(
    rx: &mut ClassicReceiver<SLOTS, BUF>,
    show: &mut Show,
    shell: &mut Shell,
    now: Duration,
    stopping: bool,
) {
    while let Some(out) = rx.poll(now) {
        match out {
            ClassicOutput::Send { to, signal } => {
                if !stopping && !STOP.load(Ordering::Relaxed) {
                    // A process that vanished meanwhile: its silence ends it.
                    let _ = sys::send(to, signal);
                }
                if TRACE && show.trace {
                    show.reply(to, signal);
                }
            }
            // Never sleeps with the signals blocked; SIGINT/SIGTERM end a
            // wait for a full stdout (`Shell::write`).
            ClassicOutput::Write { from, bytes } => shell.write(from, bytes),
            ClassicOutput::CheckCatches(pid) => {
                let (usr1, usr2) = sys::proc::caught_usr(pid).unwrap_or((false, false));
                rx.set_catches(pid, Catches { usr1, usr2 });
            }
            ClassicOutput::Verdict(v) => verdict(v),
            ClassicOutput::Trace(t) => {
                if TRACE && show.trace {
                    show.event(t);
                }
                if let Trace::End { pid, .. } = t {
                    show.order_lost(pid);
                }
            }
        }
    }
}

/// `SIGUSR1` or `SIGUSR2`.
fn name(signal: Signal) -> &'static str {
    match signal {
        Signal::Usr1 => "SIGUSR1",
        Signal::Usr2 => "SIGUSR2",
    }
}

/// One line on stderr: `server: <pid>: <what is wrong>`.
fn verdict(v: Verdict) {
    let mut l = Line::new();
    l.str("server: ").u64(v.pid as u64).str(": ");
    if let VerdictKind::Hint { order, one } = v.kind {
        l.str("reads as text only as ")
            .str(order_name(order))
            .str(" with ")
            .str(name(one))
            .str(" = 1: try --classic=")
            .str(v.kind.suggestion().unwrap_or(""))
            .println(STDERR);
        return;
    }
    l.str(v.kind.message());
    match v.kind {
        VerdictKind::InvalidUtf8 { at } => {
            l.byte(b' ').u64(at);
        }
        VerdictKind::PartialByte { bits } => {
            l.str(" (")
                .u64(u64::from(bits))
                .str(" bits of the last byte came)");
        }
        VerdictKind::Short { got, announced } => {
            l.str(" (")
                .u64(got)
                .str(" of ")
                .u64(announced)
                .str(" bytes)");
        }
        VerdictKind::Dropped { bytes } => {
            l.str(" (").u64(bytes).str(" bytes)");
        }
        _ => {}
    }
    l.println(STDERR);
}

fn order_name(order: BitOrder) -> &'static str {
    match order {
        BitOrder::Msb => "MSB first",
        BitOrder::Lsb => "LSB first",
    }
}

/// Processes remembered for signals that were pending together.
const TOGETHER: usize = 8;

/// `--trace`: the byte being received from each process; and, trace or
/// not, the processes whose signals were pending together in this message.
struct Show {
    trace: bool,
    bytes: [Bits; SLOTS],
    /// Senders whose two signals were pending at once (0: none).
    together: [Pid; TOGETHER],
    next: usize,
}

/// The signals of one process's current byte, for `--trace`.
#[derive(Clone, Copy)]
struct Bits {
    /// The process (0: free).
    pid: Pid,
    /// The bits so far, in arrival order.
    bits: [bool; 8],
    /// Microseconds since the previous signal of the process (`None`: its
    /// first).
    gaps: [Option<u32>; 8],
    n: usize,
    /// A character being assembled.
    utf8: [u8; 4],
    utf8_len: usize,
}

impl Bits {
    const FREE: Bits = Bits {
        pid: 0,
        bits: [false; 8],
        gaps: [None; 8],
        n: 0,
        utf8: [0; 4],
        utf8_len: 0,
    };
}

impl Show {
    /// What the trace shows, once at the start.
    fn banner(&self, c: Convention) {
        let mut l = Line::new();
        l.str("trace: classic wire: ")
            .str(order_name(c.order))
            .str(", ")
            .str(name(c.one))
            .str(" = 1, ")
            .str(name(c.signal(false)))
            .str(" = 0");
        l.str(match c.header {
            Header::None => "",
            Header::Len32 => ", a 32-bit length first",
            Header::Len64 => ", a 64-bit length first",
        });
        l.str(match (c.end, c.header) {
            (End::Nul, Header::None) => "; a NUL ends a message",
            (End::Nul, _) => "; the length ends a message, then a NUL",
            (End::None, Header::None) => {
                "; silence ends a message (250 ms, 1 s for a client that waits per bit)"
            }
            (End::None, _) => "; the length ends a message",
        });
        l.println(STDERR);
        l.str("trace: a line per byte: sender  bits in arrival order  byte  character  (µs since the sender's previous signal)")
            .println(STDERR);
    }

    /// The trace state of `pid`, taken from a free (or the oldest) entry if
    /// it has none.
    fn of(&mut self, pid: Pid) -> &mut Bits {
        let i = match self.bytes.iter().position(|b| b.pid == pid) {
            Some(i) => i,
            None => {
                let i = self.bytes.iter().position(|b| b.pid == 0).unwrap_or(0);
                self.bytes[i] = Bits { pid, ..Bits::FREE };
                i
            }
        };
        &mut self.bytes[i]
    }

    /// Prints the bits of `pid` gathered so far, then `what`, and empties them.
    fn flush(&mut self, pid: Pid, what: &[u8]) -> Line {
        let b = self.of(pid);
        let mut l = Line::new();
        l.str("  ").u64(pid as u64).str("  ");
        for (k, bit) in b.bits[..b.n].iter().enumerate() {
            if k == 4 {
                l.byte(b' ');
            }
            l.byte(if *bit { b'1' } else { b'0' });
        }
        l.str("  ").bytes(what);
        let mut gaps = Line::new();
        gaps.str("  (");
        for (k, gap) in b.gaps[..b.n].iter().enumerate() {
            if k > 0 {
                gaps.byte(b' ');
            }
            match gap {
                Some(us) => gaps.u64(u64::from(*us)),
                None => gaps.str("first"),
            };
        }
        gaps.str(" µs)");
        b.n = 0;
        let mut out = l;
        out.bytes(gaps.as_bytes());
        out
    }

    /// A trace event on stderr.
    fn event(&mut self, t: Trace) {
        let mut l = Line::new();
        match t {
            Trace::Signal {
                pid, since, bit, ..
            } => {
                let b = self.of(pid);
                if b.n == 8 {
                    // Eight bits and no byte: a length header goes on.
                    self.flush(pid, b"length header").println(STDERR);
                }
                let b = self.of(pid);
                b.bits[b.n] = bit;
                b.gaps[b.n] = since.map(|d| d.as_micros().min(u32::MAX as u128) as u32);
                b.n += 1;
                return;
            }
            Trace::Byte { pid, byte, .. } => {
                let mut desc = Line::new();
                desc.str("0x").hex(byte).byte(b' ');
                let b = self.of(pid);
                match byte {
                    0 => {
                        desc.str("NUL");
                    }
                    b'\n' => {
                        desc.str("'\\n'");
                    }
                    0x20..=0x7E => {
                        desc.byte(b'\'').byte(byte).byte(b'\'');
                    }
                    0x80..=0xF4 => {
                        if byte & 0xC0 != 0x80 {
                            b.utf8_len = 0;
                        }
                        if b.utf8_len < 4 {
                            b.utf8[b.utf8_len] = byte;
                            b.utf8_len += 1;
                        }
                        match core::str::from_utf8(&b.utf8[..b.utf8_len]) {
                            Ok(c) => {
                                desc.byte(b'\'').str(c).byte(b'\'');
                                b.utf8_len = 0;
                            }
                            Err(e) if e.error_len().is_none() => {
                                desc.str("(UTF-8, more to come)");
                            }
                            Err(_) => {
                                desc.str("(not UTF-8)");
                                b.utf8_len = 0;
                            }
                        }
                    }
                    _ => {
                        desc.str("(not text)");
                    }
                }
                if byte < 0x80 {
                    self.of(pid).utf8_len = 0;
                }
                l = self.flush(pid, desc.as_bytes());
            }
            Trace::Length { pid, announced } => {
                let mut desc = Line::new();
                desc.str("length header: ")
                    .u64(announced)
                    .str(" bytes follow");
                l = self.flush(pid, desc.as_bytes());
            }
            Trace::End { pid, bytes } => {
                if self.of(pid).n > 0 {
                    self.flush(pid, b"then silence: an unfinished byte")
                        .println(STDERR);
                }
                self.of(pid).pid = 0;
                l.str("trace: ")
                    .u64(pid as u64)
                    .str(": end of message, ")
                    .u64(bytes)
                    .str(" bytes, printed");
            }
            Trace::NotCaught { pid, signal } => {
                l.str("trace: ")
                    .u64(pid as u64)
                    .str(" does not catch ")
                    .str(name(signal))
                    .str(": not sent (it would kill it)");
            }
            Trace::Stray { pid, signal } => {
                l.str("trace: ")
                    .str(name(signal))
                    .str(" from PID ")
                    .i64(i64::from(pid))
                    .str(": ignored");
            }
            Trace::Paced(pid) | Trace::Waiting(pid) | Trace::NoSlot(pid) | Trace::Stalled(pid) => {
                let what = match t {
                    Trace::Paced(_) => {
                        " paces itself (its 2nd signal came before any reply): no reply per bit"
                    }
                    Trace::Waiting(_) => {
                        " waits after its 1st signal: each bit is answered as soon as it is read"
                    }
                    Trace::NoSlot(_) => " ignored: 16 clients are sending already",
                    _ => " waits: another client's long message is being printed",
                };
                l.str("trace: ").u64(pid as u64).str(what);
            }
        }
        l.println(STDERR);
    }

    /// At the end of `pid`'s message: says so if the order of some of its
    /// signals was lost.
    fn order_lost(&mut self, pid: Pid) {
        let Some(k) = self.together.iter().position(|&p| p == pid) else {
            return;
        };
        self.together[k] = 0;
        Line::new()
            .str("server: ")
            .u64(pid as u64)
            .str(": SIGUSR1 and SIGUSR2 were pending at once, and the kernel hands over SIGUSR1 first: bits may be swapped; ")
            .str("your client sends faster than signals can be delivered; wait for an acknowledgement or sleep longer")
            .println(STDERR);
    }

    /// A reply: shown when it ends a message (per-bit replies are said once,
    /// by [`Trace::Waiting`]).
    fn reply(&mut self, to: Pid, signal: Signal) {
        if self.bytes.iter().any(|b| b.pid == to) {
            return;
        }
        Line::new()
            .str("trace: reply ")
            .str(name(signal))
            .str(" to ")
            .u64(to as u64)
            .println(STDERR);
    }
}
