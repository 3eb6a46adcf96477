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
//! see `Tx`): the message on the classic 42 wire, for a learner's server.
//!
//! Exit status: 0 the server confirmed the whole message; 1 delivery failed;
//! 2 bad usage or bad input (nothing was sent).
#![no_std]
#![no_main]

#[cfg(feature = "classic")]
mod classic;

use minitalk_protocol::Duration;

use minitalk_protocol::chunk::{BadUtf8, Chunker, Source};
#[cfg(feature = "classic")]
use minitalk_protocol::classic::ClassicSender;
use minitalk_protocol::classic::Convention;
use minitalk_protocol::{Failure, Pid, Poll, Sender, SenderConfig, Signal};
use minitalk_sys::{self as sys, Line, SendError, SigSet, STDERR, STDIN, STDOUT};

/// The options of the `classic` feature, for the middle of [`HELP`].
#[cfg(feature = "classic")]
macro_rules! help_classic {
    () => {
        "  --classic[=LIST]  classic 42 wire (LIST: lsb,usr1,none,len32,len64);
                  nothing verifies what the server printed
  --pace US       classic: a bit every US µs (default: on replies, else 400)
"
    };
}
#[cfg(not(feature = "classic"))]
macro_rules! help_classic {
    () => {
        ""
    };
}

/// `--help`: one string, written with one call.
const HELP: &str = concat!(
    "\
Usage: client [OPTIONS] <SERVER_PID> [MESSAGE]
Sends MESSAGE (UTF-8; absent or '-': stdin) to the minitalk server SERVER_PID.

  --timeout SECS  give up after SECS of silence from the server (default 3)
  --stats         a summary line on stderr at the end
  --progress      a progress bar on stderr (default: on a terminal, for
                  4 KiB or more); --no-progress: none
  --no-pin        do not keep client and server on one CPU
  -q, --quiet     print nothing, not even errors
",
    help_classic!(),
    "  -h, --help; -V, --version
Exit status: 0 the server confirmed it all (classic: all sent); 1 delivery
failed; 2 bad usage or input (nothing sent).
Example: date | client --stats 4242
"
);
/// `--version`.
const VERSION: &str = concat!("client (minitalk) ", env!("CARGO_PKG_VERSION"), "\n");
// The help text's "(default 3)" is the sender's default, its "4 KiB" the bar's.
const _: () = assert!(SenderConfig::DEFAULT_GIVE_UP.as_millis() == 3000);
const _: () = assert!(Progress::AUTO_BYTES == 4096);
// The invalid PID message names PID_MAX in its text (one string, not three parts).
const _: () = assert!(sys::PID_MAX == 4_194_304);

/// Whether `--stats` is built in (cargo feature `stats`).
const STATS: bool = cfg!(feature = "stats");
/// Whether `--progress` is built in (cargo feature `progress`).
const PROGRESS: bool = cfg!(feature = "progress");
/// Whether `--classic` and `--pace` are built in (cargo feature `classic`).
const CLASSIC: bool = cfg!(feature = "classic");

/// The stdin read-ahead: a message up to this size is checked whole before
/// its first bit is sent.
const READ_AHEAD: usize = 64 * 1024;

/// Once sending, how long to wait for more input before a frame goes out
/// with what there is (perhaps nothing): well within the server's patience.
const INPUT_PATIENCE: Duration = Duration::from_millis(500);

/// The options, found by [`option`].
#[derive(Clone, Copy)]
enum Opt {
    EndOfOptions,
    Stats,
    Progress,
    NoProgress,
    Quiet,
    NoPin,
    Timeout,
    Pace,
    Help,
    Version,
}

/// The options, for [`sys::lookup`].
const OPTIONS: &[(&[u8], Opt)] = &[
    (b"--", Opt::EndOfOptions),
    (b"--stats", Opt::Stats),
    (b"--progress", Opt::Progress),
    (b"--no-progress", Opt::NoProgress),
    (b"-q", Opt::Quiet),
    (b"--quiet", Opt::Quiet),
    (b"--no-pin", Opt::NoPin),
    (b"--timeout", Opt::Timeout),
    (b"--pace", Opt::Pace),
    (b"-h", Opt::Help),
    (b"--help", Opt::Help),
    (b"-V", Opt::Version),
    (b"--version", Opt::Version),
];

struct Options {
    pid: Pid,
    message: Option<&'static [u8]>,
    timeout: Duration,
    stats: bool,
    /// `None`: decide by the terminal and the size.
    progress: Option<bool>,
    quiet: bool,
    /// Keep to one CPU (see the README's "Speed" section).
    pin: bool,
    /// `--classic[=LIST]`: the classic 42 wire of this convention.
    #[cfg_attr(not(feature = "classic"), allow(dead_code))]
    classic: Option<Convention>,
    /// `--pace`: the classic fixed pace.
    #[cfg_attr(not(feature = "classic"), allow(dead_code))]
    pace: Option<Duration>,
}

/// Where the message comes from: the command line or stdin, cut into
/// payloads by a [`Chunker`] (the command line too: one way to cut).
struct Input {
    /// The message from the command line, if any (checked whole in `main`).
    arg: Option<&'static [u8]>,
    /// What the chunker has not read of it yet.
    unread: Option<&'static [u8]>,
    stdin: Chunker<READ_AHEAD>,
}

/// What the [`Chunker`] reads: the rest of the command line's message, or
/// (`None`) standard input.
struct Reader<'a>(&'a mut Option<&'static [u8]>);

impl Source for Reader<'_> {
    /// Once part of the message is sent (`hurry`), a read of stdin waits at
    /// most [`INPUT_PATIENCE`]: a slow writer must not leave the server
    /// without a signal for longer than it waits for a silent client.
    fn read(&mut self, buf: &mut [u8], hurry: bool) -> Option<usize> {
        if let Some(rest) = self.0 {
            let n = rest.len().min(buf.len());
            let (now, later) = rest.split_at(n);
            buf[..n].copy_from_slice(now);
            *rest = later;
            return Some(n);
        }
        if hurry && !sys::readable(STDIN, INPUT_PATIENCE) {
            return None;
        }
        Some(sys::read(STDIN, buf).unwrap_or(0))
    }
}

impl Input {
    /// The next frame's payload and whether it ends the message.
    fn next(&mut self) -> Result<(&str, bool), BadUtf8> {
        self.stdin.next(&mut Reader(&mut self.unread))
    }

    /// Reads stdin ahead and checks it, before anything is sent.
    fn fill(&mut self) -> Result<(), BadUtf8> {
        self.stdin.fill(&mut Reader(&mut self.unread))
    }

    /// The message's size, when known before it is sent.
    fn total(&self) -> Option<u64> {
        match self.arg {
            Some(a) => Some(a.len() as u64),
            // A file's size is known before it is read to the end.
            None => self.stdin.total().or_else(|| sys::file_size(STDIN)),
        }
    }
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
            return fail(2, line("process ").u64(opts.pid as u64).str(" does not catch SIGUSR1 and SIGUSR2: not a minitalk server (a signal could kill it)"));
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
            let config = SenderConfig {
                give_up: opts.timeout,
                ..SenderConfig::default()
            };
            let mut tx = Sender::new(config, started);
            // The server's output counter: while it moves, a late reply is awaited.
            if let Some(written) = sys::proc::written(opts.pid) {
                tx.on_receiver_output(written, started);
            }
            Tx::V1(tx, &mut input)
        }
    };
    let mut bar = Progress::new(opts.progress, total, started);
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
                let reply = usr.wait(until.saturating_sub(now));
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
                return 0;
            }
            Poll::Failed(failure) => {
                bar.clear();
                if STATS && opts.stats && !opts.quiet {
                    tx.stats_line(now - started);
                }
                if !sys::alive(opts.pid) {
                    return lost(opts.pid, EXITED, &fail);
                }
                #[cfg(feature = "classic")]
                if let Tx::Classic(_) = tx {
                    return lost(opts.pid, classic::STOPPED, &fail);
                }
                let mut l = line("delivery failed: ");
                if failure == Failure::Silent {
                    l.str("no answer from the server (PID ")
                        .u64(opts.pid as u64)
                        .str(") for ")
                        .ms(opts.timeout.as_millis() as u64)
                        .str(", and no output from it: stopped, or its output is not being read; try a longer --timeout");
                } else {
                    l.str(failure.as_str())
                        .str("; is PID ")
                        .u64(opts.pid as u64)
                        .str(" a minitalk server of this version?");
                }
                return fail(1, &mut l);
            }
        }
    }
}

/// The sender of the wire in use, so that one loop drives either (the
/// classic wire in a loop of its own cost more bytes).
#[allow(clippy::large_enum_variant)] // one, on main's stack: nothing to box
enum Tx<'a> {
    /// minitalk's own protocol, fed payloads from the input.
    V1(Sender, &'a mut Input),
    /// The classic 42 wire (`classic.rs`): the whole message at once.
    #[cfg(feature = "classic")]
    Classic(ClassicSender<'a>),
}

impl Tx<'_> {
    /// What to do now.
    fn poll(&mut self, now: Duration) -> Poll {
        match self {
            Tx::V1(tx, _) => tx.poll(now),
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => classic::poll(tx, now),
        }
    }

    /// The signal asked for went out at `now`.
    fn sent(&mut self, now: Duration) {
        match self {
            Tx::V1(tx, _) => tx.sent(now),
            #[cfg(feature = "classic")]
            Tx::Classic(_) => {}
        }
    }

    /// A signal from `from`: only the server's count (not a stray's, not
    /// a forger's); the sender decides.
    fn on_signal(&mut self, from: Pid, server: Pid, signal: Signal, now: Duration) {
        match self {
            Tx::V1(tx, _) => tx.on_signal(from, server, signal, now),
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => tx.on_signal(from, server, signal, now),
        };
    }

    /// No reply in time: is the server busy writing to a slow reader?
    fn late(&mut self, server: Pid, now: Duration) {
        match self {
            Tx::V1(tx, _) => {
                if let Some(written) = sys::proc::written(server) {
                    tx.on_receiver_output(written, now);
                }
            }
            #[cfg(feature = "classic")]
            Tx::Classic(_) => {}
        }
    }

    /// v1: loads the next payload from the input.
    fn load_next(&mut self) -> Result<(), BadUtf8> {
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

    /// The message's bytes delivered so far.
    #[inline(never)] // called twice: one copy is smaller
    fn bytes(&self) -> u64 {
        match self {
            Tx::V1(tx, _) => tx.stats().bytes,
            #[cfg(feature = "classic")]
            Tx::Classic(tx) => tx.bytes_sent(),
        }
    }

    /// `--stats`: bytes, bits, signals, retries (classic: replies), time,
    /// bits/s.
    fn stats_line(&self, elapsed: Duration) {
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

/// The `--progress` bar, redrawn in place on stderr.
struct Progress {
    on: bool,
    total: Option<u64>,
    started: Duration,
    drawn: Duration,
}

impl Progress {
    /// Messages at least this long get a bar by themselves on a terminal.
    const AUTO_BYTES: u64 = 4096;
    const EVERY: Duration = Duration::from_millis(100);

    fn new(wanted: Option<bool>, total: Option<u64>, started: Duration) -> Self {
        let on = PROGRESS
            && wanted.unwrap_or_else(|| {
                sys::isatty(STDERR) && total.is_none_or(|t| t >= Self::AUTO_BYTES)
            });
        Progress {
            on,
            total,
            started,
            drawn: Duration::ZERO,
        }
    }

    fn update(&mut self, bytes: u64, now: Duration) {
        if !self.on || now < self.drawn + Self::EVERY {
            return;
        }
        self.drawn = now;
        Line::new()
            .str("\r\x1b[K")
            .progress(bytes, self.total, now - self.started)
            .print(STDERR);
    }

    fn clear(&self) {
        if self.on && self.drawn > Duration::ZERO {
            sys::write_all(STDERR, b"\r\x1b[K");
        }
    }
}

/// Whether `-q` or `--quiet` is among the options (before any `--`).
fn quiet_anywhere(args: &sys::Args) -> bool {
    (1..args.len())
        .map(|i| args.get(i).unwrap_or_default())
        .take_while(|arg| *arg != b"--")
        .any(|arg| matches!(sys::lookup(arg, OPTIONS), Some(Opt::Quiet)))
}

/// Reads the command line; `Err` holds the exit status.
fn parse(args: &sys::Args) -> Result<Options, i32> {
    let mut opts = Options {
        pid: 0,
        message: None,
        timeout: SenderConfig::DEFAULT_GIVE_UP,
        stats: false,
        progress: None,
        quiet: false,
        pin: true,
        classic: None,
        pace: None,
    };
    let mut positional: [Option<&'static [u8]>; 2] = [None, None];
    let mut count = 0;
    let mut options_done = false;
    let mut i = 1;
    // -q silences every message, usage errors too, wherever it stands.
    let quiet = quiet_anywhere(args);
    opts.quiet = quiet;
    let usage = |l: &mut Line| -> i32 {
        if !quiet {
            l.str("; try 'client --help'").println(STDERR);
        }
        2
    };
    while let Some(arg) = args.get(i) {
        i += 1;
        let is_option =
            !options_done && arg.len() > 1 && arg[0] == b'-' && !arg[1].is_ascii_digit();
        if !is_option {
            if count == 2 {
                return Err(usage(&mut line("too many arguments (quote the message)")));
            }
            positional[count] = Some(arg);
            count += 1;
            continue;
        }
        if CLASSIC {
            match Convention::option(arg) {
                Some(Ok(c)) => {
                    opts.classic = Some(c);
                    continue;
                }
                Some(Err(bad)) => {
                    let mut l = line("");
                    for part in bad.message() {
                        l.bytes(part);
                    }
                    return Err(usage(&mut l));
                }
                None => {}
            }
        }
        match sys::lookup(arg, OPTIONS) {
            Some(Opt::EndOfOptions) => options_done = true,
            Some(Opt::Pace) if CLASSIC => match args.get(i).and_then(parse_micros) {
                Some(p) => {
                    opts.pace = Some(p);
                    i += 1;
                }
                None => return Err(usage(&mut line("--pace needs microseconds, 1 to 1000000"))),
            },
            Some(Opt::Stats) if STATS => opts.stats = true,
            Some(Opt::Progress) if PROGRESS => opts.progress = Some(true),
            Some(Opt::NoProgress) => opts.progress = Some(false),
            Some(Opt::Quiet) => opts.quiet = true,
            Some(Opt::NoPin) => opts.pin = false,
            Some(Opt::Timeout) => match args.get(i).and_then(sys::parse_seconds) {
                Some(t) => {
                    opts.timeout = t;
                    i += 1;
                }
                None => {
                    return Err(usage(&mut line(
                        "--timeout needs seconds, such as 5 or 0.5",
                    )))
                }
            },
            Some(Opt::Help) => return Err(print(HELP)),
            Some(Opt::Version) => return Err(print(VERSION)),
            _ => return Err(usage(line("unknown option '").bytes(arg).str("'"))),
        }
    }
    let Some(pid) = positional[0] else {
        return Err(usage(&mut line("missing the server's PID")));
    };
    opts.pid = match sys::parse_pid(pid) {
        Some(p) => p,
        None => {
            let mut l = line("invalid PID '");
            l.bytes(pid)
                .str("': a PID is 1 to 4194304, digits only; nothing was sent");
            if !opts.quiet {
                l.println(STDERR);
            }
            return Err(2);
        }
    };
    if opts.pace.is_some() && opts.classic.is_none() {
        return Err(usage(&mut line("--pace needs --classic")));
    }
    opts.message = positional[1].filter(|m| *m != b"-");
    Ok(opts)
}

/// `--help`, `--version`: `text` on stdout; exit status 0.
fn print(text: &str) -> i32 {
    sys::write_all(STDOUT, text.as_bytes());
    0
}

/// `--pace`: a whole number of microseconds, 1 to 1,000,000.
fn parse_micros(s: &[u8]) -> Option<Duration> {
    if s.is_empty() || s.len() > 7 {
        return None;
    }
    let mut us: u64 = 0;
    for &c in s {
        us = us * 10 + u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
    }
    (1..=1_000_000)
        .contains(&us)
        .then(|| Duration::from_micros(us))
}

minitalk_sys::no_std_runtime!();
