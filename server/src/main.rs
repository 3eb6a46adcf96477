//! `server`: prints the messages that minitalk clients send it, one bit per
//! signal.
//!
//! A thin shell over [`minitalk_protocol::Server`], which owns every rule:
//! - the `SIGUSR1`/`SIGUSR2` handlers (installed with `sigaction(SA_SIGINFO)`)
//!   only push `(si_pid, signal)` into a [`sys::SignalQueue`] (atomics only);
//! - the main loop sleeps in `ppoll` (the only place where signals are
//!   unblocked, so none can slip between a check and the sleep), feeds the
//!   queue to the server ([`Server::handle`], which admits, feeds and
//!   drives), and lends it the system calls it needs ([`shell`]'s
//!   [`Shell`], the protocol's `Effects`): acknowledgements with `kill`,
//!   text to stdout, admission and liveness checks through `/proc`, and a
//!   clock that leaves out the time spent waiting for stdout;
//! - [`trace`] renders `--trace` and `--stats` on stderr.
//!
//! Output contract: the first line on stdout is `server PID <pid>`; then each
//! verified message, exactly as sent, followed by `\n`. Everything else goes
//! to stderr.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, Ordering};
use minitalk_protocol::{Duration, Instant};

use minitalk_protocol::{Aborted, Pid, ReceiverConfig, Server, Signal};
use minitalk_sys::{self as sys, Line, SigSet, SignalQueue, StallClock, STDERR, STDOUT};

mod shell;
mod trace;
use shell::Shell;
use trace::{Narrator, STATS, TRACE};

#[cfg(feature = "classic")]
mod classic;

/// Messages up to 64 KiB are held and printed whole, or not at all; the
/// extra byte is the newline's, written with the message in one `write(2)`.
const HOLD: usize = 64 * 1024 + 1;
/// Clients that can wait in line at once.
const QUEUE: usize = 128;

const HELP: &str = "\
Usage: server [--classic[=LIST]] [--trace] [--stats] [--no-pin]

Prints its PID, then every message that a minitalk client sends to it,
each followed by a newline, once its checksums are verified. Serves one
client at a time; others wait their turn in arrival order.

Options:
  --classic[=LIST]  speak the classic 42 wire, to test your own client:
               bit order, signal meaning and header detected; LIST pins
               them: msb, lsb, usr2, usr1, nul, none, len32, len64, lead,
               and the replies: plus, then, bare, echo, endack, noendack
  --trace      show every signal, byte, character, frame and client on stderr
  --stats      one line per message on stderr: sender, bytes, time, bits/s
  --no-pin     leave scheduling alone: do not move to the client's CPU
               while serving it, nor ask for a short time slice
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
    if code != sys::SI_USER || pid < 1 {
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
        clock: StallClock::new(),
        pending: SigSet::empty(),
        printed: 0,
        cut: false,
        #[cfg(feature = "classic")]
        together: classic::Together::new(),
    };
    #[cfg(feature = "classic")]
    let mut classic = None;
    for i in 1..args.len() {
        let arg = args.get(i).unwrap_or_default();
        #[cfg(feature = "classic")]
        match minitalk_protocol::classic::Convention::option(arg) {
            Some(Ok(c)) => {
                classic = Some(c);
                continue;
            }
            Some(Err(bad)) => {
                let mut l = Line::new();
                l.str("server: ");
                for part in bad.message() {
                    l.bytes(part);
                }
                l.println(STDERR);
                return 2;
            }
            None => {}
        }
        match sys::lookup(arg, OPTIONS) {
            Some(Opt::Trace) if TRACE => shell.narrator.trace = true,
            Some(Opt::Stats) if STATS => shell.narrator.stats = true,
            Some(Opt::NoPin) => pin = false,
            Some(Opt::Help) => {
                sys::write_all(STDOUT, HELP.as_bytes());
                return 0;
            }
            Some(Opt::Version) => {
                let version = concat!("server (minitalk) ", env!("CARGO_PKG_VERSION"), "\n");
                sys::write_all(STDOUT, version.as_bytes());
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

    // Woken at once beside a busy process (Linux 6.12 and later): fewer
    // signals merge while we wait for a CPU (docs/speed.md).
    if pin {
        sys::short_slice();
    }

    Line::new()
        .fill("server PID {}", &[sys::getpid() as u64])
        .println(STDOUT);

    #[cfg(feature = "classic")]
    if let Some(convention) = classic {
        return classic::run(convention, &mut shell, pin);
    }

    let mut server: Server<QUEUE, HOLD> = Server::new(ReceiverConfig::default());
    serve(&mut server, &mut shell, pin);
    let aborted = server.stop(&mut shell);
    let printed = match aborted {
        // Stopped while stdout was full: the message is printed in part,
        // without its newline.
        _ if shell.cut => Some(shell.printed),
        Aborted::Truncated { bytes } => Some(bytes),
        _ => None,
    };
    if let Some(bytes) = printed {
        Line::new()
            .fill(
                "server: stopped during a message; printed {} bytes of it",
                &[bytes],
            )
            .println(STDERR);
    }
    0
}

/// What the main loop serves: the v1 protocol, or the classic wire.
trait Serve {
    /// A signal from `pid`, at `now`.
    fn signal(&mut self, pid: Pid, signal: Signal, now: Instant, shell: &mut Shell);
    /// Carries out what is due at `now`.
    fn poll(&mut self, now: Instant, shell: &mut Shell);
    /// The process being served, whose CPU to share.
    fn serving(&self) -> Option<Pid>;
    /// When to poll at the latest if no signal comes.
    fn deadline(&self) -> Option<Instant>;
    /// Whether [`signal`](Self::signal) looks at the signals pending at
    /// this wake-up ([`Shell::pending`]): they are then read once per
    /// wake-up (a system call), else never.
    fn needs_pending(&self) -> bool {
        false
    }
}

/// The main loop, until SIGINT or SIGTERM: one loop for both wires (a
/// `dyn` call costs nothing next to a signal, and the code is there once).
fn serve(s: &mut dyn Serve, shell: &mut Shell, pin: bool) {
    let sleep_mask = SigSet::empty();
    let all_cpus = sys::CpuSet::current();
    let mut pinned_to = None;
    while !STOP.load(Ordering::Relaxed) {
        // One clock reading per wake-up: it is a system call in the static
        // build, and every signal of a wake-up arrived within microseconds.
        // Time spent waiting for stdout is left out: it is nobody's silence.
        let now = shell.clock.now();
        if s.needs_pending() {
            shell.pending = SigSet::pending();
        }
        while let Some((pid, signal)) = SIGNALS.pop() {
            s.signal(pid, signal, now, shell);
        }
        s.poll(now, shell);
        // Share the client's CPU while serving it: a round trip within one
        // CPU costs a fraction of one across two (README, "Speed"; docs/speed.md).
        let serving = s.serving();
        if pin && serving != pinned_to {
            pinned_to = serving;
            match pinned_to.and_then(sys::proc::last_cpu) {
                Some(cpu) => sys::CpuSet::only(cpu).apply(),
                None => all_cpus.is_some_and(|set| set.apply()),
            };
        }
        let timeout = s.deadline().map(|t| t.saturating_duration_since(now));
        // A write that waited for stdout ran the handlers outside this
        // sleep: what they queued meanwhile is handled before any sleep.
        let timeout = if SIGNALS.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        sys::sleep_with_mask(timeout, &sleep_mask);
    }
}

impl Serve for Server<QUEUE, HOLD> {
    fn signal(&mut self, pid: Pid, signal: Signal, now: Instant, shell: &mut Shell) {
        if self.handle(pid, signal, now, shell).is_none() {
            shell.narrator.ignored(pid);
        }
    }

    fn poll(&mut self, now: Instant, shell: &mut Shell) {
        self.drive(now, shell);
    }

    fn serving(&self) -> Option<Pid> {
        self.receiver().serving()
    }

    fn deadline(&self) -> Option<Instant> {
        self.receiver().poll_timeout()
    }
}

minitalk_sys::no_std_runtime!();
