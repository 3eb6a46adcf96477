//! Driving a real `client` (or any command): [`Client`], its stdin
//! ([`Feed`]), [`Running`] and [`Finished`].

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{after, binaries, Collector, Proc, Server};

/// A `client` command line, ready to run.
#[derive(Clone, Debug, Default)]
pub struct Client {
    args: Vec<OsString>,
    stdin: Option<Feed>,
}

/// What a [`Running`] command gets on stdin: `bytes`, the first `burst` of
/// them at once, then `chunk` bytes after every `pause` (a slow writer).
#[derive(Clone, Debug, Default)]
pub struct Feed {
    /// Everything to write.
    pub bytes: Vec<u8>,
    /// Written at once.
    pub burst: usize,
    /// Written after each pause.
    pub chunk: usize,
    /// The pause before each chunk.
    pub pause: Duration,
}

impl Feed {
    /// All of `bytes` at once.
    pub fn all(bytes: impl Into<Vec<u8>>) -> Feed {
        let bytes = bytes.into();
        Feed {
            burst: bytes.len(),
            chunk: 1,
            bytes,
            pause: Duration::ZERO,
        }
    }

    fn write(self, mut pipe: impl Write) {
        // A reader that stops early breaks the pipe: not our concern.
        let (first, mut rest) = self.bytes.split_at(self.burst.min(self.bytes.len()));
        if pipe.write_all(first).is_err() {
            return;
        }
        while !rest.is_empty() {
            thread::sleep(self.pause);
            let (chunk, tail) = rest.split_at(self.chunk.max(1).min(rest.len()));
            if pipe.write_all(chunk).is_err() {
                return;
            }
            rest = tail;
        }
    }
}

impl Client {
    /// A client with no arguments yet.
    pub fn new() -> Client {
        Client::default()
    }

    /// A client whose first argument is `server`'s PID.
    pub fn to(server: &Server) -> Client {
        Client::new().arg(server.pid_arg())
    }

    /// Appends an argument (any bytes, not only UTF-8).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Client {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Client {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Feeds `bytes` on stdin (otherwise stdin is `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Client {
        self.stdin = Some(Feed::all(bytes));
        self
    }

    /// Feeds stdin as a slow writer would (see [`Feed`]).
    pub fn stdin_feed(mut self, feed: Feed) -> Client {
        self.stdin = Some(feed);
        self
    }

    /// Starts the client.
    pub fn spawn(self) -> Running {
        let mut cmd = Command::new(&binaries().client);
        cmd.args(&self.args);
        Running::spawn(cmd, self.stdin, "client")
    }

    /// Runs the client to its end.
    ///
    /// # Panics
    ///
    /// If it does not end by `deadline` (it is killed then).
    pub fn run(self, deadline: Instant) -> Finished {
        self.spawn().wait(deadline)
    }
}

/// A running command, its stdout and stderr collected.
#[derive(Debug)]
pub struct Running {
    proc: Proc,
    stdout: Collector,
    stderr: Collector,
    started: Instant,
}

/// How a command ended.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// From start to end, as seen by the test.
    pub elapsed: Duration,
}

impl Finished {
    /// The exit code; `None` if a signal ended it.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Checks the exit code, showing stdout and stderr if it is wrong.
    ///
    /// # Panics
    ///
    /// If the code is not `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32, what: &str) -> &Finished {
        assert_eq!(
            self.code(),
            Some(code),
            "{what}: expected exit {code}, got {}; stdout {:?}, stderr {:?}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Running {
    /// Starts `cmd` with stdout and stderr piped, and `stdin` fed to it (if
    /// `None`, stdin is `/dev/null`).
    pub fn spawn(mut cmd: Command, stdin: Option<Feed>, name: &str) -> Running {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let started = Instant::now();
        let mut proc = Proc::spawn(&mut cmd, name);
        if let (Some(feed), Some(pipe)) = (stdin, proc.child.stdin.take()) {
            thread::spawn(move || feed.write(pipe));
        }
        let stdout = Collector::start(proc.child.stdout.take().expect("piped stdout"));
        let stderr = Collector::start(proc.child.stderr.take().expect("piped stderr"));
        Running {
            proc,
            stdout,
            stderr,
            started,
        }
    }

    /// The process ID.
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> &Collector {
        &self.stdout
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> &Collector {
        &self.stderr
    }

    /// The exit status, if it has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.proc.try_status()
    }

    /// Sends it `signo`; false if it has ended already.
    pub fn signal(&mut self, signo: i32) -> bool {
        self.proc.signal(signo)
    }

    /// Kills it with `SIGKILL` and reaps it; true if it was still running.
    pub fn kill(&mut self) -> bool {
        self.proc.kill()
    }

    /// For a client started with `--progress`: waits until its progress bar
    /// shows at least `bytes` confirmed, and returns the figure shown; `None`
    /// if the client ended or `deadline` passed first.
    pub fn wait_for_progress(&self, bytes: u64, deadline: Instant) -> Option<u64> {
        self.stderr
            .wait_for(deadline, |b, _| progress_bytes(b).filter(|&n| n >= bytes))
    }

    /// Waits for the end, then for its output.
    ///
    /// # Panics
    ///
    /// If it does not end by `deadline` (the guard kills it).
    pub fn wait(mut self, deadline: Instant) -> Finished {
        let status = self.proc.wait(deadline);
        let elapsed = self.started.elapsed();
        self.stdout.wait_closed(after(30));
        self.stderr.wait_closed(after(30));
        Finished {
            status,
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
            elapsed,
        }
    }
}

/// The confirmed bytes in the last redraw of a client's `--progress` bar
/// (`[###...] 12%  2400/20000 bytes ...`, or `2400 bytes ...` when the size
/// is unknown).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::progress_bytes;
/// let bar = b"\r\x1b[K[#.] 5%  100/2000 bytes  1.0 kbit/s\r\x1b[K[##] 10%  200/2000 bytes  2.0 kbit/s";
/// assert_eq!(progress_bytes(bar), Some(200));
/// assert_eq!(progress_bytes(b"\r\x1b[K4096 bytes  9.9 kbit/s"), Some(4096));
/// assert_eq!(progress_bytes(b""), None);
/// ```
pub fn progress_bytes(stderr: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(stderr);
    text.split('\r').rev().find_map(|draw| {
        let before = &draw[..draw.find(" bytes")?];
        // The figure is the digits and '/' just before " bytes".
        let start = before
            .rfind(|c: char| !(c.is_ascii_digit() || c == '/'))
            .map_or(0, |i| i + 1);
        before[start..].split('/').next()?.parse().ok()
    })
}
