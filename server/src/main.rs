//! `server`: prints the messages that minitalk clients send it, one bit per
//! signal.
//!
//! A thin shell over [`minitalk_protocol::Server`], which owns every rule:
//! - the `SIGUSR1`/`SIGUSR2` handlers (installed with `sigaction(SA_SIGINFO)`)
//!   only push `(si_pid, signal)` into a [`sys::SignalQueue`] (atomics only);
//! - the main loop sleeps in `ppoll` (the only place where signals are
//!   unblocked, so none can slip between a check and the sleep), feeds the
//!   queue to the server, and lends it the system calls it needs
//!   ([`Effects`]): acknowledgements with `kill`, text to stdout, liveness
//!   checks through `/proc`;
//! - [`trace`] renders `--trace` and `--stats` on stderr.
//!
//! Output contract: the first line on stdout is `server PID <pid>`; then each
//! verified message, exactly as sent, followed by `\n`. Everything else goes
//! to stderr.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, Ordering};
use minitalk_protocol::Duration;

use minitalk_protocol::{Aborted, Effects, Output, Pid, ReceiverConfig, Server, Signal};
use minitalk_sys::{self as sys, Line, SigSet, SignalQueue, STDERR, STDOUT};

mod trace;
use trace::{Narrator, STATS, TRACE};

/// Messages up to this size are held and printed whole, or not at all.
const HOLD: usize = 64 * 1024;
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
    let mut shell = Shell {
        narrator: Narrator::new(),
    };
    for i in 1..args.len() {
        let arg = args.get(i).unwrap_or_default();
        match sys::lookup(arg, OPTIONS) {
            Some(Opt::Trace) if TRACE => shell.narrator.trace = true,
            Some(Opt::Stats) if STATS => shell.narrator.stats = true,
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
    let mut server: Server<QUEUE, HOLD> = Server::new(ReceiverConfig::default());
    while !STOP.load(Ordering::Relaxed) {
        // One clock reading per wake-up: it is a system call in the static
        // build, and every signal of a wake-up arrived within microseconds.
        let now = sys::now();
        while let Some((pid, signal)) = SIGNALS.pop() {
            // A process neither served nor waiting is answered only if a
            // signal cannot kill it; /proc is read once per newcomer.
            let new = !server.receiver().knows(pid);
            if new && sys::proc::catches_usr(pid) != Some(true) {
                shell.narrator.ignored(pid);
                continue;
            }
            let heard = server.on_signal(pid, signal, now);
            if shell.narrator.tracing() {
                if new {
                    // "serving" or "waits" first, then what the signal carried.
                    server.drive(now, &mut shell);
                }
                shell.narrator.heard(pid, signal, heard);
            }
            server.drive(now, &mut shell);
        }
        server.drive(now, &mut shell);
        // Share the client's CPU while serving it: a round trip within one
        // CPU costs a fraction of one across two (README, "Speed").
        let serving = server.receiver().serving();
        if pin && serving != pinned_to {
            pinned_to = serving;
            match pinned_to.and_then(sys::proc::last_cpu) {
                Some(cpu) => sys::CpuSet::only(cpu).apply(),
                None => all_cpus.is_some_and(|set| set.apply()),
            };
        }
        let timeout = server
            .receiver()
            .poll_timeout()
            .map(|t| t.saturating_sub(now));
        sys::sleep_with_mask(timeout, &sleep_mask);
    }
    if let Aborted::Truncated { bytes } = server.stop(&mut shell) {
        Line::new()
            .str("server: stopped during a message; printed ")
            .u64(bytes)
            .str(" bytes of it")
            .println(STDERR);
    }
    0
}

/// The server's I/O: system calls, and the narrator for `--trace` and
/// `--stats`.
struct Shell {
    narrator: Narrator,
}

impl Effects for Shell {
    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        sys::send(to, signal).is_ok()
    }

    fn write(&mut self, _from: Pid, bytes: &[u8]) {
        sys::write_all(STDOUT, bytes);
    }

    fn alive(&mut self, pid: Pid) -> bool {
        sys::alive(pid)
    }

    fn trace(&mut self, output: &Output<'_>, now: Duration) {
        self.narrator.output(output, now);
    }

    fn abandoned(&mut self, pid: Pid, vanished: bool, aborted: Aborted) {
        self.narrator.abandoned(pid, vanished, aborted);
    }
}

minitalk_sys::no_std_runtime!();
