//! The command line: options, `--help`, and the checks of each value
//! ([`parse`]); nothing is sent before they pass.

use minitalk_protocol::classic::Convention;
use minitalk_protocol::{Duration, Pid, SenderConfig};
use minitalk_sys::{self as sys, Line, STDERR, STDOUT};

use crate::{line, CLASSIC, PROGRESS, STATS};

/// The options of the `classic` feature, for the middle of [`HELP`].
#[cfg(feature = "classic")]
macro_rules! help_classic {
    () => {
        "  --classic[=LIST]  classic 42 wire (LIST: lsb,usr1,none,len32,len64,lead)
  --pace US       classic: a bit every US µs (default: on replies, else 1000)
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
pub(crate) const HELP: &str = concat!(
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
pub(crate) const VERSION: &str = concat!("client (minitalk) ", env!("CARGO_PKG_VERSION"), "\n");
// The help text's "(default 3)" is the sender's default, its "4 KiB" the bar's.
const _: () = assert!(SenderConfig::DEFAULT_GIVE_UP.as_millis() == 3000);
const _: () = assert!(sys::ProgressBar::AUTO_BYTES == 4096);
// The invalid PID message names PID_MAX in its text (one string, not three parts).
const _: () = assert!(sys::PID_MAX == 4_194_304);

/// The options, found by [`sys::lookup`] in [`OPTIONS`].
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

/// What the command line asks for.
pub(crate) struct Options {
    pub(crate) pid: Pid,
    pub(crate) message: Option<&'static [u8]>,
    pub(crate) timeout: Duration,
    pub(crate) stats: bool,
    /// `None`: decide by the terminal and the size.
    pub(crate) progress: Option<bool>,
    pub(crate) quiet: bool,
    /// Keep to one CPU (see the README's "Speed" section).
    pub(crate) pin: bool,
    /// `--classic[=LIST]`: the classic 42 wire of this convention.
    #[cfg_attr(not(feature = "classic"), allow(dead_code))]
    pub(crate) classic: Option<Convention>,
    /// `--pace`: the classic fixed pace.
    #[cfg_attr(not(feature = "classic"), allow(dead_code))]
    pub(crate) pace: Option<Duration>,
}

/// Whether `-q` or `--quiet` is among the options (before any `--`).
fn quiet_anywhere(args: &sys::Args) -> bool {
    (1..args.len())
        .map(|i| args.get(i).unwrap_or_default())
        .take_while(|arg| *arg != b"--")
        .any(|arg| matches!(sys::lookup(arg, OPTIONS), Some(Opt::Quiet)))
}

/// Reads the command line; `Err` holds the exit status.
pub(crate) fn parse(args: &sys::Args) -> Result<Options, i32> {
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
            Some(Opt::Pace) if CLASSIC => match args.get(i).and_then(sys::parse_micros) {
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
