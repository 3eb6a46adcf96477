//! `server`: prints the messages that minitalk clients send it, one bit per
//! signal.
//!
//! A thin shell over [`minitalk_protocol::Receiver`]:
//! - the `SIGUSR1`/`SIGUSR2` handlers (installed with `sigaction(SA_SIGINFO)`)
//!   only push `(si_pid, signal)` into a [`sys::SignalQueue`] (atomics only);
//! - the main loop sleeps in `ppoll` (the only place where signals are
//!   unblocked, so none can slip between a check and the sleep), feeds the
//!   queue to the receiver, and carries out what it asks: acknowledgements
//!   with `kill`, text to stdout, liveness checks through `/proc`.
//!
//! Output contract: the first line on stdout is `server PID <pid>`; then each
//! verified message, exactly as sent, followed by `\n`. Everything else goes
//! to stderr.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use minitalk_protocol::Duration;

use minitalk_protocol::{
    Aborted, Heard, MessageBuffer, Note, Output, Pid, Receiver, ReceiverConfig, Signal,
};
use minitalk_sys::write_wait::Written;
use minitalk_sys::{self as sys, Line, SigSet, SignalQueue, STDERR, STDOUT};

/// Whether `--trace` is built in (cargo feature `trace`).
const TRACE: bool = cfg!(feature = "trace");
/// Whether `--stats` is built in (cargo feature `stats`).
const STATS: bool = cfg!(feature = "stats");

/// Messages up to 64 KiB are held and printed whole, or not at all; the
/// extra byte is the newline's, written with the message in one `write(2)`.
const HOLD: usize = 64 * 1024 + 1;
/// Clients that can wait in line at once.
const QUEUE: usize = 128;

const HELP: &str = "\
Usage: server [--trace] [--stats] [--no-pin]

Prints its PID, then every message that a minitalk client sends to it,
each followed by a newline, once its checksums are verified. Serves one
client at a time; others wait their turn in arrival order.

Options:
  --trace      show every signal, byte, character, frame and client on stderr
  --stats      one line per message on stderr: sender, bytes, time, bits/s
  --no-pin     do not move to the client's CPU while serving it
  -h, --help   this help
  -V, --version

Stops cleanly (exit 0) on SIGINT or SIGTERM.
";

/// The options, for [`sys::lookup`].
#[derive(Clone, Copy)]
enum Opt {
    Trace,
    Stats,
    NoPin,
    Help,
    Version,
}

const OPTIONS: &[(&[u8], Opt)] = &[
    (b"--trace", Opt::Trace),
    (b"--stats", Opt::Stats),
    (b"--no-pin", Opt::NoPin),
    (b"-h", Opt::Help),
    (b"--help", Opt::Help),
    (b"-V", Opt::Version),
    (b"--version", Opt::Version),
];

// --- What the signal handlers share with the main loop ------------------

/// Signals from the handlers to the main loop.
static SIGNALS: SignalQueue<64> = SignalQueue::new();
/// SIGINT or SIGTERM arrived.
static STOP: AtomicBool = AtomicBool::new(false);

// --- What the main loop keeps about its own output ----------------------

/// Nanoseconds spent waiting for stdout to take a message: they are nobody's
/// silence, so the receiver's clock leaves them out.
static STALLED: AtomicU64 = AtomicU64::new(0);
/// Bytes of the current message written to stdout so far.
static PRINTED: AtomicU64 = AtomicU64::new(0);
/// A stop cut the current message short.
static CUT: AtomicBool = AtomicBool::new(false);

/// Handler of `SIGUSR1` and `SIGUSR2`: async-signal-safe, it only touches
/// atomics. Both signals are masked while it runs, so there is one producer.
extern "C" fn on_usr(signo: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo_t.
    let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
    if code != libc::SI_USER || pid < 1 {
        return; // not sent with kill(2) by a process: nobody to answer
    }
    if let Some(signal) = sys::from_signo(signo) {
        SIGNALS.push(pid, signal);
    }
    // A full queue drops the signal: the sender times out and retries.
}

/// Handler of `SIGINT` and `SIGTERM`.
extern "C" fn on_stop(_: i32, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    STOP.store(true, Ordering::Relaxed);
}

// --- The main loop -------------------------------------------------------

/// What `--trace` and `--stats` remember between events.
struct Show {
    trace: bool,
    stats: bool,
    /// When the current session started.
    since: Duration,
    /// Payload bytes of the current message so far.
    bytes: u64,
    /// The current frame's LEN byte, for `--trace`.
    frame_len: usize,
    /// A character being assembled, for `--trace`.
    utf8: [u8; 4],
    utf8_len: usize,
    /// The bits of the byte being received, for `--trace`.
    bits: u8,
}

/// The C entry point: the C runtime calls it with the command line.
///
/// # Safety
///
/// `argv` must hold `argc` valid C strings, as the C runtime guarantees.
#[no_mangle]
pub unsafe extern "C" fn main(argc: i32, argv: *const *const libc::c_char) -> i32 {
    // SAFETY: argc and argv come from the C runtime's call of main.
    let args = unsafe { sys::Args::new(argc, argv) };
    let mut pin = true;
    let mut show = Show {
        trace: false,
        stats: false,
        since: Duration::ZERO,
        bytes: 0,
        frame_len: 0,
        utf8: [0; 4],
        utf8_len: 0,
        bits: 0,
    };
    for i in 1..args.len() {
        let arg = args.get(i).unwrap_or_default();
        match sys::lookup(arg, OPTIONS) {
            Some(Opt::Trace) if TRACE => show.trace = true,
            Some(Opt::Stats) if STATS => show.stats = true,
            Some(Opt::NoPin) => pin = false,
            Some(Opt::Help) => {
                sys::write_all(STDOUT, HELP.as_bytes());
                return 0;
            }
            Some(Opt::Version) => {
                Line::new()
                    .str("server (minitalk) ")
                    .str(env!("CARGO_PKG_VERSION"))
                    .println(STDOUT);
                return 0;
            }
            _ => {
                Line::new()
                    .str("server: unknown option '")
                    .bytes(arg)
                    .str("'; try 'server --help'")
                    .println(STDERR);
                return 2;
            }
        }
    }

    // Our signals are blocked except inside ppoll, where they run the handlers.
    let ours = SigSet::usr().with(libc::SIGINT).with(libc::SIGTERM);
    ours.block();
    // SAFETY: on_usr and on_stop only touch atomics: async-signal-safe.
    unsafe {
        sys::set_handler(libc::SIGUSR1, on_usr, &ours);
        sys::set_handler(libc::SIGUSR2, on_usr, &ours);
        sys::set_handler(libc::SIGINT, on_stop, &ours);
        sys::set_handler(libc::SIGTERM, on_stop, &ours);
    }
    let sleep_mask = SigSet::empty();

    Line::new()
        .str("server PID ")
        .u64(sys::getpid() as u64)
        .println(STDOUT);

    let all_cpus = sys::CpuSet::current();
    let mut pinned_to = None;
    let mut rx: Receiver<QUEUE> = Receiver::new(ReceiverConfig::default());
    let mut held: MessageBuffer<HOLD> = MessageBuffer::new();
    while !STOP.load(Ordering::Relaxed) {
        // One clock reading per wake-up: it is a system call in the static
        // build, and every signal of a wake-up arrived within microseconds.
        let now = clock();
        while let Some((pid, signal)) = SIGNALS.pop() {
            // A process neither served nor waiting is answered only if a
            // signal cannot kill it; /proc is read once per newcomer.
            let new = !rx.knows(pid);
            if new && sys::proc::catches_usr(pid) != Some(true) {
                if TRACE && show.trace {
                    Line::new()
                        .str("trace: ignored a signal from ")
                        .u64(pid as u64)
                        .str(": it does not catch SIGUSR1 and SIGUSR2")
                        .println(STDERR);
                }
                continue;
            }
            let heard = rx.on_signal(pid, signal, now);
            if TRACE && show.trace {
                if new {
                    // "serving" or "waits" first, then what the signal carried.
                    drain(&mut rx, &mut held, &mut show, now);
                }
                show.heard(pid, signal, heard);
            }
            drain(&mut rx, &mut held, &mut show, now);
        }
        drain(&mut rx, &mut held, &mut show, now);
        // Share the client's CPU while serving it: a round trip within one
        // CPU costs a fraction of one across two (README, "Speed").
        if pin && rx.serving() != pinned_to {
            pinned_to = rx.serving();
            match pinned_to.and_then(sys::proc::last_cpu) {
                Some(cpu) => sys::CpuSet::only(cpu).apply(),
                None => all_cpus.is_some_and(|set| set.apply()),
            };
        }
        let timeout = rx.poll_timeout().map(|t| t.saturating_sub(now));
        // A write that waited for stdout ran the handlers outside this
        // sleep: what they queued meanwhile is handled before any sleep.
        let timeout = if !SIGNALS.is_empty() {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        sys::sleep_with_mask(timeout, &sleep_mask);
    }
    let aborted = held.abort(print);
    let printed = match aborted {
        // Stopped while stdout was full: the message is printed in part,
        // without its newline.
        _ if CUT.load(Ordering::Relaxed) => Some(PRINTED.load(Ordering::Relaxed)),
        Aborted::Truncated { bytes } => Some(bytes),
        _ => None,
    };
    if let Some(bytes) = printed {
        Line::new()
            .str("server: stopped during a message; printed ")
            .u64(bytes)
            .str(" bytes of it")
            .println(STDERR);
    }
    0
}

/// The receiver's clock: the monotonic clock less the time spent waiting for
/// stdout, which is nobody's silence.
fn clock() -> Duration {
    sys::now().saturating_sub(Duration::from_nanos(STALLED.load(Ordering::Relaxed)))
}

/// Writes message bytes to stdout. It never sleeps with the signals blocked
/// (see [`sys::write_wait`]): while stdout is full it waits with them
/// unblocked, and SIGINT or SIGTERM ends the wait, leaving the message
/// printed in part. After a stop, only what stdout has room for is written.
fn print(bytes: &[u8]) {
    let started = sys::now();
    let written = match sys::write_wait::write_or_stop(STDOUT, bytes, &SigSet::empty(), || {
        STOP.load(Ordering::Relaxed)
    }) {
        Written::All => bytes.len(),
        Written::Stopped { written } => {
            CUT.store(true, Ordering::Relaxed);
            written
        }
        Written::Failed { written } => written,
    };
    PRINTED.fetch_add(written as u64, Ordering::Relaxed);
    let waited = sys::now().saturating_sub(started);
    STALLED.fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
}

/// Carries out everything the receiver asks for at `now`.
fn drain(rx: &mut Receiver<QUEUE>, held: &mut MessageBuffer<HOLD>, show: &mut Show, now: Duration) {
    loop {
        // Stopped in the middle of writing a message: its frame must not be
        // acknowledged (a message written whole still is).
        if CUT.load(Ordering::Relaxed) {
            return;
        }
        let mut gone = None;
        match rx.poll(now) {
            None => return,
            Some(Output::Send { to, signal }) => {
                if sys::send(to, signal).is_err() {
                    gone = Some(to);
                }
            }
            Some(Output::Deliver {
                payload,
                first,
                last,
                ..
            }) => {
                show.bytes = if first { 0 } else { show.bytes } + payload.len() as u64;
                if first {
                    PRINTED.store(0, Ordering::Relaxed);
                }
                if TRACE && show.trace {
                    Line::new()
                        .str("trace: frame verified (CRC-32C ok): ")
                        .u64(payload.len() as u64)
                        .str(" bytes accepted, reply SIGUSR2")
                        .println(STDERR);
                }
                held.push(payload.as_bytes(), first, last, print);
            }
            Some(Output::Abandoned { pid, vanished }) => {
                let why = if vanished {
                    "the client vanished"
                } else {
                    "the client fell silent"
                };
                let mut line = Line::new();
                match held.abort(print) {
                    Aborted::Truncated { bytes } => {
                        line.str("server: message from ")
                            .u64(pid as u64)
                            .str(" truncated after ")
                            .u64(bytes)
                            .str(" bytes: ")
                            .str(why);
                    }
                    Aborted::Discarded { bytes }
                        if (TRACE && show.trace) || (STATS && show.stats) =>
                    {
                        line.str("server: message from ")
                            .u64(pid as u64)
                            .str(" discarded (")
                            .u64(bytes)
                            .str(" bytes held): ")
                            .str(why);
                    }
                    _ if TRACE && show.trace => {
                        line.str("trace: session of ")
                            .u64(pid as u64)
                            .str(" dropped: ")
                            .str(why);
                    }
                    _ => {}
                }
                if !line.as_bytes().is_empty() {
                    line.println(STDERR);
                }
            }
            Some(Output::CheckAlive(pid)) => {
                if !sys::alive(pid) {
                    gone = Some(pid);
                }
            }
            Some(Output::Note(note)) => show.note(note, now),
        }
        if let Some(pid) = gone {
            rx.peer_gone(pid, now);
        }
    }
}

impl Show {
    /// `--trace` of one signal: bits accumulate on a line per byte.
    fn heard(&mut self, pid: Pid, signal: Signal, heard: Heard) {
        let mut l = Line::new();
        match heard {
            Heard::Waiting => {
                l.str("trace: ")
                    .u64(pid as u64)
                    .str(" knocked; told to wait (SIGUSR2)")
                    .println(STDERR);
                return;
            }
            Heard::Bit | Heard::Byte { .. } | Heard::FrameEnd => {}
        }
        l.byte(if signal.bit() { b'1' } else { b'0' });
        self.bits = self.bits << 1 | signal.bit() as u8;
        let Heard::Byte { value, offset } = heard else {
            if heard == Heard::FrameEnd {
                l.str(" = 0x")
                    .hex(self.bits)
                    .str("  CRC-32C, last byte: frame complete");
                l.println(STDERR);
                return;
            }
            return l.print(STDERR);
        };
        l.str(" = 0x").hex(value).str("  ");
        match offset {
            0 => {
                l.str("flags:");
                for (mask, name) in [(0x80, " FIRST"), (0x40, " LAST")] {
                    if value & mask != 0 {
                        l.str(name);
                    }
                }
                l.str(" seq ")
                    .u64(u64::from(value >> 5 & 1))
                    .str(" version ")
                    .u64(u64::from(value & 0x1f));
            }
            1 => {
                self.frame_len = value as usize;
                l.str("length: ").u64(value as u64).str(" bytes");
            }
            n if n < 2 + self.frame_len => self.char_byte(&mut l, value),
            _ => {
                l.str("CRC-32C");
            }
        }
        l.println(STDERR);
        // The next byte's line starts with who sends it.
        l.str("  ").u64(pid as u64).str(" <- ").print(STDERR);
    }

    /// `--trace` of a payload byte: the character once its bytes are in.
    fn char_byte(&mut self, l: &mut Line, value: u8) {
        l.str("text byte");
        if value & 0xC0 != 0x80 {
            self.utf8_len = 0;
        }
        if self.utf8_len < 4 {
            self.utf8[self.utf8_len] = value;
            self.utf8_len += 1;
        }
        if let Ok(c) = core::str::from_utf8(&self.utf8[..self.utf8_len]) {
            l.str(" -> '");
            match c {
                "\n" => l.str("\\n"),
                "\t" => l.str("\\t"),
                _ => l.str(c),
            };
            l.str("'");
            self.utf8_len = 0;
        }
    }

    /// `--trace` and `--stats` of the receiver's notes.
    fn note(&mut self, note: Note, now: Duration) {
        let mut l = Line::new();
        match note {
            Note::Serving(pid) => {
                self.since = now;
                self.bytes = 0;
                if TRACE && self.trace {
                    l.str("trace: serving ")
                        .u64(pid as u64)
                        .str(" (bits: SIGUSR1 = 0, SIGUSR2 = 1; each acknowledged)\n");
                    l.str("  ").u64(pid as u64).str(" <- ");
                    return l.print(STDERR);
                }
            }
            Note::Finished(pid) if STATS && self.stats => {
                let us = (now - self.since).as_micros().max(1) as u64;
                l.str("server: ")
                    .u64(pid as u64)
                    .str(" sent ")
                    .u64(self.bytes)
                    .str(" bytes in ")
                    .micros(us)
                    .str(" (")
                    .rate(self.bytes * 8_000_000 / us)
                    .str(")");
            }
            _ if !(TRACE && self.trace) => return,
            Note::Finished(pid) => {
                l.str("trace: message from ")
                    .u64(pid as u64)
                    .str(" complete and printed (")
                    .u64(self.bytes)
                    .str(" bytes)");
            }
            Note::Queued { pid, ahead } => {
                l.str("trace: ")
                    .u64(pid as u64)
                    .str(" waits its turn, ")
                    .u64(ahead as u64)
                    .str(" ahead of it (told with SIGUSR2)");
            }
            Note::QueueFull(pid) => {
                l.str("trace: queue full; ")
                    .u64(pid as u64)
                    .str(" will knock again");
            }
            Note::Rejected { pid, error } => {
                l.str("trace: frame from ")
                    .u64(pid as u64)
                    .str(" rejected: ")
                    .str(error.as_str())
                    .str(" (reply SIGUSR1: send it again)");
            }
            Note::Duplicate(pid) => {
                l.str("trace: frame from ")
                    .u64(pid as u64)
                    .str(" is a copy of one already accepted: acknowledged, not printed again");
            }
            Note::GapReset { pid, bits } => {
                l.str("\ntrace: ")
                    .u64(pid as u64)
                    .str(" fell silent; dropped ")
                    .u64(bits as u64)
                    .str(" bits of a partial frame");
            }
        }
        if !l.as_bytes().is_empty() {
            l.println(STDERR);
        }
    }
}

minitalk_sys::no_std_runtime!();
