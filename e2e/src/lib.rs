//! Helpers for the end-to-end tests: start, drive and always clean up real
//! processes (the release `server` and `client` binaries, and the helpers in
//! `src/bin/`).
//!
//! - [`binaries`]: where `server` and `client` are (`MINITALK_BIN_DIR`, or
//!   built once per test process into `target/e2e/release/`).
//! - [`Proc`]: a child process that is killed (`SIGKILL`) and reaped when its
//!   guard is dropped, also when a test panics.
//! - [`Collector`]: a pipe read to its end by a background thread, with
//!   waits on what arrived so far.
//! - [`Server`]: a running server, its PID line checked, its output
//!   collected; [`Server::stop`] ends it with `SIGTERM` and checks exit 0.
//! - [`Client`]: a client run, [`Running`] while it runs, [`Finished`]
//!   after.
//! - [`private_pid_namespace`]: a command that runs in a PID namespace of its
//!   own, for the cases where a bug would signal the wrong processes;
//!   [`clients_in_a_namespace`] runs clients with [`BAD_PIDS`] there, next to
//!   a bystander and a server, and [`NamespaceRun`] checks nobody was hit.
//! - [`proc_status_kib`]: memory figures (`VmRSS`, `VmHWM`) of a process.
//! - [`mixed_text`], [`ascii_text`], [`XorShift`]: deterministic test data.
//!
//! The tests use `server --trace`/`--stats` and `client --progress`/`--stats`:
//! the binaries must be built with their default features.
//!
//! Safety rules kept by everything here:
//! - here, a signal is only ever sent by [`Proc`], to the PID of a child of
//!   this process that has not been reaped yet (so the PID cannot have been
//!   reused), and never to a PID below 1; the helpers `storm` and `knock`
//!   refuse PIDs below 1 and are only given PIDs of processes the test
//!   started; the namespace script signals only inside its namespace;
//! - every wait has a deadline; missing it panics, and the guards then kill
//!   and reap what was started.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The deadline `secs` seconds from now.
///
/// Deadlines in these tests only catch hangs: they are many times longer than
/// the wait they bound, so that a loaded machine never trips them.
pub fn after(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

// --- The binaries under test ---------------------------------------------

/// Paths of the binaries under test.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The `server` executable.
    pub server: PathBuf,
    /// The `client` executable.
    pub client: PathBuf,
}

/// The workspace root (the parent of this package's folder).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The `server` and `client` binaries under test.
///
/// If `MINITALK_BIN_DIR` is set, they are taken from that folder. Otherwise
/// they are built once per test process, in release mode, with
/// `$CARGO build --release -p minitalk-server -p minitalk-client --target-dir
/// <workspace>/target/e2e` (a target folder of their own, so that the build
/// does not wait for the lock of the `cargo test` that runs us).
///
/// # Panics
///
/// If the build fails or a binary is missing.
pub fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let dir = match std::env::var_os("MINITALK_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => build_binaries(),
        };
        let bins = Binaries {
            server: dir.join("server"),
            client: dir.join("client"),
        };
        for path in [&bins.server, &bins.client] {
            assert!(
                path.is_file(),
                "{} does not exist (MINITALK_BIN_DIR or the build is wrong)",
                path.display()
            );
        }
        bins
    })
}

fn build_binaries() -> PathBuf {
    let target = workspace_root().join("target").join("e2e");
    build_release(&target, &[]).unwrap_or_else(|e| panic!("{e}"));
    target.join("release")
}

/// `$CARGO build --release --quiet -p minitalk-server -p minitalk-client
/// <extra> --target-dir <target_dir>` in the workspace root; the error says
/// what cargo printed. (The benchmarks build their binaries with it too.)
pub fn build_release(target_dir: &Path, extra: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["build", "--release", "--quiet"])
        .args(["-p", "minitalk-server", "-p", "minitalk-client"])
        .args(extra)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cargo:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building server and client failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

// --- Child processes -------------------------------------------------------

/// A child process that is killed and reaped when dropped.
///
/// This guard is the only thing in the test suite that sends signals, and it
/// sends them only to its own child, before reaping it.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    name: String,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `cmd`; `name` names it in failure messages.
    ///
    /// # Panics
    ///
    /// If the process cannot be started.
    pub fn spawn(cmd: &mut Command, name: &str) -> Proc {
        // A safety net for when the test process itself is killed (a CI
        // timeout) and no guard runs: the child gets SIGKILL when the thread
        // that started it ends. Each guard lives in the thread that made it.
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.to_owned(),
            status: None,
        }
    }

    /// The process ID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The name given at [`Proc::spawn`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exit status, if the process has ended (it is then reaped).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .unwrap_or_else(|e| panic!("waitpid on {}: {e}", self.name));
        }
        self.status
    }

    /// Sends `signo` to the process; false if it has ended already (then
    /// nothing is sent: its PID may belong to someone else by now).
    pub fn signal(&mut self, signo: i32) -> bool {
        if self.try_status().is_some() {
            return false;
        }
        // Not reaped: the PID is still this child's, even if it is a zombie.
        let pid = self.pid();
        assert!(pid >= 1, "refusing to signal PID {pid}");
        // SAFETY: kill has no memory-safety preconditions; pid >= 1 names
        // exactly one process, our unreaped child.
        unsafe { libc::kill(pid, signo) == 0 }
    }

    /// Waits until the process ends or `deadline` passes.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        let mut pause = Duration::from_micros(200);
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Waits until the process ends.
    ///
    /// # Panics
    ///
    /// If `deadline` passes first (the guard kills the process when dropped).
    pub fn wait(&mut self, deadline: Instant) -> ExitStatus {
        match self.wait_until(deadline) {
            Some(status) => status,
            None => panic!("{} (PID {}) did not end in time", self.name, self.pid()),
        }
    }

    /// Kills the process with `SIGKILL` and reaps it; true if it was still
    /// running (false: it had ended by itself).
    pub fn kill(&mut self) -> bool {
        let was_running = self.signal(libc::SIGKILL);
        let _ = self.child.wait().map(|s| self.status = Some(s));
        was_running
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// --- Output collection -----------------------------------------------------

#[derive(Debug, Default)]
struct Collected {
    bytes: Vec<u8>,
    closed: bool,
}

/// What a pipe delivered so far, read by a background thread until its end.
#[derive(Clone, Debug)]
pub struct Collector(Arc<(Mutex<Collected>, Condvar)>);

impl Collector {
    /// Starts reading `reader` to its end in a background thread.
    pub fn start(mut reader: impl Read + Send + 'static) -> Collector {
        let shared = Arc::new((Mutex::new(Collected::default()), Condvar::new()));
        let writer = Arc::clone(&shared);
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let (lock, cond) = &*writer;
                let mut c = lock.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    c.closed = true;
                } else {
                    c.bytes.extend_from_slice(&buf[..n]);
                }
                cond.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        Collector(shared)
    }

    /// A copy of everything read so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// Everything read so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock().bytes).into_owned()
    }

    /// Whether the pipe has reached its end.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Waits until `check(bytes_so_far, closed)` returns `Some`, and returns
    /// that; `None` if the pipe ended or `deadline` passed first.
    pub fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&[u8], bool) -> Option<T>,
    ) -> Option<T> {
        let (lock, cond) = &*self.0;
        let mut c = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(t) = check(&c.bytes, c.closed) {
                return Some(t);
            }
            let now = Instant::now();
            if c.closed || now >= deadline {
                return None;
            }
            c = cond
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the pipe ends; false if `deadline` passed first.
    pub fn wait_closed(&self, deadline: Instant) -> bool {
        self.wait_for(deadline, |_, closed| closed.then_some(()))
            .is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The complete lines of `bytes` (without their `\n`), as text.
pub fn complete_lines(bytes: &[u8]) -> Vec<String> {
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes[..end]
        .split(|&b| b == b'\n')
        .take(bytes[..end].iter().filter(|&&b| b == b'\n').count())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

// --- The server ------------------------------------------------------------

/// A running `server`, its stdout and stderr collected.
///
/// Dropping it kills the process; [`Server::stop`] ends it the proper way.
#[derive(Debug)]
pub struct Server {
    proc: Proc,
    stdout: Collector,
    stderr: Collector,
    /// Length of the `server PID <pid>\n` line.
    head: usize,
}

/// What a server printed, once stopped.
#[derive(Clone, Debug)]
pub struct Stopped {
    /// Everything on stdout after the PID line.
    pub output: Vec<u8>,
    /// Everything on stderr.
    pub stderr: String,
}

impl Stopped {
    /// The output's complete lines.
    pub fn lines(&self) -> Vec<String> {
        complete_lines(&self.output)
    }
}

impl Server {
    /// Starts a server with no options.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with `args`, and checks its first line: exactly
    /// `server PID <its pid>`, with nothing before it.
    ///
    /// # Panics
    ///
    /// If the server does not start or its first line is not right.
    pub fn start_with(args: &[&str]) -> Server {
        let mut cmd = Command::new(&binaries().server);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn(&mut cmd, "server");
        let stdout = Collector::start(proc.child.stdout.take().expect("piped stdout"));
        let stderr = Collector::start(proc.child.stderr.take().expect("piped stderr"));
        let first = stdout.wait_for(after(30), |b, _| {
            b.iter().position(|&c| c == b'\n').map(|i| b[..i].to_vec())
        });
        let Some(first) = first else {
            panic!(
                "the server printed no first line; stdout {:?}, stderr {:?}",
                stdout.text(),
                stderr.text()
            );
        };
        assert_eq!(
            String::from_utf8_lossy(&first),
            format!("server PID {}", proc.pid()),
            "the server's first line must be its PID line, with nothing before it"
        );
        Server {
            head: first.len() + 1,
            proc,
            stdout,
            stderr,
        }
    }

    /// The server's PID.
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// The server's PID as a command-line argument.
    pub fn pid_arg(&self) -> String {
        self.pid().to_string()
    }

    /// Everything on stdout after the PID line, so far.
    pub fn output(&self) -> Vec<u8> {
        self.stdout.bytes()[self.head..].to_vec()
    }

    /// The complete lines on stdout after the PID line, so far.
    pub fn lines(&self) -> Vec<String> {
        complete_lines(&self.output())
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until stdout holds at least `n` complete lines after the PID
    /// line, and returns all of them.
    ///
    /// # Panics
    ///
    /// If `deadline` passes first, or stdout ends.
    pub fn wait_for_lines(&self, n: usize, deadline: Instant) -> Vec<String> {
        let head = self.head;
        let got = self.stdout.wait_for(deadline, |b, _| {
            let count = b[head..].iter().filter(|&&c| c == b'\n').count();
            (count >= n).then(|| complete_lines(&b[head..]))
        });
        got.unwrap_or_else(|| {
            panic!(
                "waited for {n} lines from the server; got {} (stderr: {:?})",
                self.lines().len(),
                self.stderr()
            )
        })
    }

    /// Waits until stdout holds at least `len` bytes after the PID line, and
    /// returns them all.
    ///
    /// # Panics
    ///
    /// If `deadline` passes first, or stdout ends.
    pub fn wait_for_output(&self, len: usize, deadline: Instant) -> Vec<u8> {
        let head = self.head;
        let got = self.stdout.wait_for(deadline, |b, _| {
            (b.len() - head >= len).then(|| b[head..].to_vec())
        });
        got.unwrap_or_else(|| {
            panic!(
                "waited for {len} bytes from the server; got {} (stderr: {:?})",
                self.output().len(),
                self.stderr()
            )
        })
    }

    /// Waits until stderr contains `needle`.
    ///
    /// # Panics
    ///
    /// If `deadline` passes first, or stderr ends.
    pub fn wait_for_stderr(&self, needle: &str, deadline: Instant) {
        self.wait_for_stderr_any(&[needle], deadline);
    }

    /// Waits until stderr contains one of `needles`, and returns the first
    /// one found.
    ///
    /// # Panics
    ///
    /// If `deadline` passes first, or stderr ends.
    pub fn wait_for_stderr_any(&self, needles: &[&str], deadline: Instant) -> String {
        // Each wake-up looks only at what is new (a --trace server writes
        // megabytes).
        let longest = needles.iter().map(|n| n.len()).max().unwrap_or(0);
        let mut from = 0;
        let got = self.stderr.wait_for(deadline, |b, _| {
            let found = needles
                .iter()
                .find(|n| b[from..].windows(n.len().max(1)).any(|w| w == n.as_bytes()));
            from = b.len().saturating_sub(longest);
            found.map(|n| n.to_string())
        });
        got.unwrap_or_else(|| {
            panic!(
                "waited for one of {needles:?} on the server's stderr; got {:?}",
                self.stderr()
            )
        })
    }

    /// Sends `signo` to the server (`SIGSTOP`, `SIGCONT`...); false if it has
    /// ended.
    pub fn signal(&mut self, signo: i32) -> bool {
        self.proc.signal(signo)
    }

    /// Kills the server with `SIGKILL` and reaps it.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// A figure from `/proc/<pid>/status` in KiB (`"VmRSS"`, `"VmHWM"`,
    /// `"RssAnon"`...).
    ///
    /// # Panics
    ///
    /// If the server has ended or the line is missing.
    pub fn status_kib(&self, key: &str) -> u64 {
        proc_status_kib(self.pid(), key)
            .unwrap_or_else(|| panic!("no {key} in /proc/{}/status", self.pid()))
    }

    /// Stops the server with `SIGTERM`, checks that it exits with status 0
    /// and returns everything it printed.
    ///
    /// # Panics
    ///
    /// If it does not exit in time, or not with status 0.
    pub fn stop(self) -> Stopped {
        self.stop_with(libc::SIGTERM)
    }

    /// Like [`Server::stop`], with `signo` (`SIGINT` or `SIGTERM`).
    ///
    /// # Panics
    ///
    /// If it does not exit in time, or not with status 0.
    pub fn stop_with(mut self, signo: i32) -> Stopped {
        assert!(self.proc.signal(signo), "the server had already ended");
        let status = self.proc.wait(after(30));
        assert_eq!(
            status.code(),
            Some(0),
            "the server must exit 0 on signal {signo}: {status} (stderr: {:?})",
            self.stderr()
        );
        assert!(self.stdout.wait_closed(after(30)), "stdout never closed");
        assert!(self.stderr.wait_closed(after(30)), "stderr never closed");
        Stopped {
            output: self.output(),
            stderr: self.stderr(),
        }
    }
}

// --- Clients and other commands -------------------------------------------

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

// --- Private PID namespaces ------------------------------------------------

/// `program` run in a PID namespace of its own, as its first process (PID 1),
/// in a new session, with a private `/proc`:
/// `unshare --pid --fork --mount-proc --kill-child setsid <program>`.
///
/// A signal sent inside by mistake to a process group (`kill(0, …)`) or to
/// every process (`kill(-1, …)`) reaches only the namespace. When the
/// returned command's process dies, so does everything in the namespace
/// (`--kill-child`, then the kernel), so a [`Proc`] guard on it cleans up.
///
/// Needs the privilege to create namespaces (root); see
/// [`check_pid_namespaces`].
pub fn private_pid_namespace(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", "setsid"])
        .arg(program);
    cmd
}

/// Checks once that [`private_pid_namespace`] works here.
///
/// # Panics
///
/// If it does not: the tests that need it must not run their bad PIDs
/// outside a namespace.
pub fn check_pid_namespaces() {
    static WORKS: OnceLock<Result<(), String>> = OnceLock::new();
    let result = WORKS.get_or_init(|| {
        let mut cmd = private_pid_namespace("sh");
        cmd.args(["-c", "echo $$"]);
        let done = Running::spawn(cmd, None, "unshare").wait(after(60));
        match (done.code(), done.stdout.trim()) {
            (Some(0), "1") => Ok(()),
            _ => Err(format!(
                "exit {}, stdout {:?}, stderr {:?}",
                done.status, done.stdout, done.stderr
            )),
        }
    });
    if let Err(e) = result {
        panic!(
            "private PID namespaces do not work here (`unshare --pid --fork --mount-proc`, \
             needs root): {e}"
        );
    }
}

/// A fresh, empty folder for one test's files, under the target folder.
pub fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = workspace_root()
        .join("target")
        .join("e2e")
        .join("scratch")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

// --- Bad PIDs, inside a namespace -----------------------------------------

/// PID arguments that a client must refuse with exit 2 without sending any
/// signal (its own PID, which cannot be written down in advance, is `SELF`
/// in [`clients_in_a_namespace`]).
pub const BAD_PIDS: &[&str] = &[
    "0",
    "-1",
    "-2147483649",
    "2147483648",
    "99999999999",
    "abc",
    "12abc",
    "",
    " 42",
    "0x10",
    "--",
    "3.5",
    "+42",
    "042",
    "1 2",
];

/// Run as PID 1 of a private PID namespace by [`clients_in_a_namespace`]:
/// starts a bystander (`sleep`, which any stray `SIGUSR1`/`SIGUSR2` kills)
/// and a `--trace` server; optionally a legitimate client in the background;
/// then the client with each PID argument; then one good client; reports.
const NAMESPACE_SCRIPT: &str = r#"
dir=$1 server=$2 client=$3 legit=$4
shift 4
sleep 600 & bystander=$!
"$server" --trace >"$dir/server.out" 2>"$dir/server.err" &
srv=$!
i=0
until grep -q "^server PID $srv\$" "$dir/server.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 6000 ]; then echo "the server did not start"; exit 9; fi
    sleep 0.01
done
echo "server $srv"
if [ -n "$legit" ]; then
    "$client" "$srv" "${legit#m:}" >"$dir/legit.out" 2>"$dir/legit.err" &
    legit_pid=$!
fi
n=0
for pid in "$@"; do
    case $pid in
    SELF) sh -c 'exec "$0" "$$" hello' "$client" >"$dir/$n.out" 2>"$dir/$n.err" ;;
    *) "$client" "$pid" hello >"$dir/$n.out" 2>"$dir/$n.err" ;;
    esac
    echo "exit $n $?"
    n=$((n + 1))
done
if [ -n "$legit" ]; then
    wait $legit_pid
    echo "legit $legit_pid $?"
fi
"$client" "$srv" "the good one" >"$dir/good.out" 2>"$dir/good.err" &
good=$!
wait $good
echo "good $good $?"
state() {
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
    s=${s##*) }
    echo "${s%% *}"
}
echo "bystander $(state $bystander)"
kill -TERM $srv
wait $srv
echo "server-exit $?"
kill -KILL $bystander 2>/dev/null
exit 0
"#;

/// How one client of [`clients_in_a_namespace`] ended.
#[derive(Clone, Debug)]
pub struct NamespaceClient {
    /// The PID argument it was given.
    pub pid_arg: String,
    /// Its exit code (-1 if a signal ended it).
    pub exit: i32,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// What [`clients_in_a_namespace`] saw.
#[derive(Clone, Debug)]
pub struct NamespaceRun {
    /// The clients with the PID arguments, in order.
    pub clients: Vec<NamespaceClient>,
    /// The legitimate background client's PID and exit code, if there was one.
    pub legit: Option<(i32, i32)>,
    /// The good client's PID (inside the namespace) and exit code.
    pub good: (i32, i32),
    /// The bystander's state letter at the end (`S`, or `gone`...).
    pub bystander_state: String,
    /// The server's exit code after `SIGTERM`.
    pub server_exit: i32,
    /// The server's stdout.
    pub server_out: String,
    /// The server's stderr (`--trace`).
    pub server_err: String,
}

/// Runs the client with each of `pids` (`SELF`: the client's own PID) inside
/// a private PID namespace, next to a bystander and a `--trace` server; with
/// `legit`, a legitimate client sends that message meanwhile.
///
/// # Panics
///
/// If namespaces do not work here, or the run does not finish in time.
pub fn clients_in_a_namespace(pids: &[&str], legit: Option<&str>) -> NamespaceRun {
    check_pid_namespaces();
    let bins = binaries();
    let dir = scratch_dir("namespace");
    let mut cmd = private_pid_namespace("sh");
    cmd.args(["-c", NAMESPACE_SCRIPT, "sh"])
        .arg(&dir)
        .arg(&bins.server)
        .arg(&bins.client)
        .arg(legit.map(|m| format!("m:{m}")).unwrap_or_default())
        .args(pids);
    let done = Running::spawn(cmd, None, "namespace").wait(after(600));
    done.expect_code(0, "the namespace script");
    let report = done.stdout;
    let field = |key: &str| -> Vec<i32> {
        let line = report
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} in {report:?}"));
        line.split(' ').map(|f| f.parse().unwrap_or(-1)).collect()
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let clients = pids
        .iter()
        .enumerate()
        .map(|(n, pid)| NamespaceClient {
            pid_arg: pid.to_string(),
            exit: field(&format!("exit {n} "))[0],
            stdout: read(&format!("{n}.out")),
            stderr: read(&format!("{n}.err")),
        })
        .collect();
    let legit = legit.map(|_| {
        let f = field("legit ");
        (f[0], f[1])
    });
    let good = field("good ");
    let run = NamespaceRun {
        clients,
        legit,
        good: (good[0], good[1]),
        bystander_state: report
            .lines()
            .find_map(|l| l.strip_prefix("bystander "))
            .unwrap_or("missing")
            .to_owned(),
        server_exit: field("server-exit ")[0],
        server_out: read("server.out"),
        server_err: read("server.err"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

impl NamespaceRun {
    /// Checks what must hold after any run: the bystander is alive, the
    /// server printed exactly the legitimate message (if any) and the good
    /// one, exited 0, and heard no process but those two (its trace names no
    /// other PID, and it ignored nobody).
    ///
    /// # Panics
    ///
    /// If any of that is not so.
    #[track_caller]
    pub fn assert_nobody_was_signalled(&self, legit: Option<&str>) {
        assert!(
            matches!(self.bystander_state.as_str(), "S" | "R"),
            "the bystander was hit: state {}",
            self.bystander_state
        );
        assert_eq!(self.good.1, 0, "the good client after the bad ones");
        let mut expected = vec![];
        let mut allowed = vec![self.good.0];
        if let (Some(message), Some((pid, exit))) = (legit, self.legit) {
            assert_eq!(exit, 0, "the legitimate client");
            expected.push(message);
            allowed.push(pid);
        }
        expected.push("the good one");
        assert_eq!(self.server_exit, 0, "the server's exit");
        let mut out = self.server_out.lines();
        assert!(out.next().is_some_and(|l| l.starts_with("server PID ")));
        assert_eq!(out.collect::<Vec<_>>(), expected, "what the server printed");
        for line in self.server_err.lines() {
            let heard = line
                .strip_prefix("trace: serving ")
                .or_else(|| line.strip_prefix("trace: "))
                .and_then(|rest| rest.split(' ').next())
                .and_then(|pid| pid.parse::<i32>().ok());
            let stranger = match heard {
                Some(pid) => !allowed.contains(&pid),
                None => false,
            };
            assert!(
                !line.contains("ignored a signal from") && !stranger,
                "the server heard from a process other than {allowed:?}: {line:?}"
            );
        }
        let first = self.server_err.lines().next().unwrap_or_default();
        assert!(
            allowed
                .iter()
                .any(|p| first.starts_with(&format!("trace: serving {p} "))),
            "the server's trace does not start with a good client: {first:?}"
        );
    }
}

// --- /proc ----------------------------------------------------------------

/// A figure in KiB from `/proc/<pid>/status`, such as `VmRSS` (resident
/// memory now), `VmHWM` (its peak) or `RssAnon` (its anonymous part).
pub fn proc_status_kib(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.split(':').next() == Some(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The state letter of `pid` (`R`, `S`, `T`, `Z`...) from `/proc/<pid>/stat`;
/// `None` if there is no such process.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    stat[close + 1..].trim_start().chars().next()
}

// --- Test data -------------------------------------------------------------

/// A small deterministic pseudo-random generator (xorshift64*).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::XorShift;
/// let mut a = XorShift::new(7);
/// let mut b = XorShift::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (any value, 0 included).
    pub fn new(seed: u64) -> XorShift {
        // splitmix64 of the seed: distinct seeds, distinct non-zero states.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)).max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Pieces of text in many scripts, none with a newline: Latin, accents as
/// combining marks, Cyrillic, Greek, CJK, Hebrew, Arabic, Devanagari, emoji
/// with skin tones, flags and zero-width-joiner sequences, a tab.
pub const SCRIPTS: &[&str] = &[
    "Hello, world! ",
    "e\u{301}te\u{301} a\u{300} l'he\u{302}tre ",
    "Привет, мир ",
    "Καλημέρα κόσμε ",
    "日本語のテキスト ",
    "你好，世界。",
    "한국어 ",
    "שלום עולם ",
    "مرحبا بالعالم ",
    "नमस्ते दुनिया ",
    "👨‍👩‍👧‍👦 ",
    "👩🏽‍💻 ",
    "🏳️‍🌈 🇫🇷🇯🇵 ",
    "Z̤̈a̐l̃g̈o ",
    "\tTab\t",
    "0123456789 ",
    "ﷺ ",
    "𝄞𝕳 ",
];

/// A deterministic text of exactly `chars` characters (Unicode scalar
/// values) made of [`SCRIPTS`] pieces, with no newline.
///
/// # Examples
///
/// ```
/// use minitalk_e2e::mixed_text;
/// let t = mixed_text(1000, 1);
/// assert_eq!(t.chars().count(), 1000);
/// assert!(!t.contains('\n'));
/// assert_eq!(t, mixed_text(1000, 1));
/// ```
pub fn mixed_text(chars: usize, seed: u64) -> String {
    let mut rng = XorShift::new(seed);
    let mut text = String::new();
    let mut count = 0;
    while count < chars {
        let piece = SCRIPTS[rng.below(SCRIPTS.len() as u64) as usize];
        for c in piece.chars().take(chars - count) {
            text.push(c);
            count += 1;
        }
    }
    text
}

/// A deterministic text in many scripts of at most `bytes` bytes, and at
/// least `bytes - 3` (whole characters only).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::mixed_text_of_len;
/// let t = mixed_text_of_len(100_000, 2);
/// assert!(t.len() <= 100_000 && t.len() >= 99_997);
/// ```
pub fn mixed_text_of_len(bytes: usize, seed: u64) -> String {
    let mut text = mixed_text(bytes, seed);
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// A deterministic text of `len` printable ASCII characters (bytes).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::ascii_text;
/// assert_eq!(ascii_text(100, 3).len(), 100);
/// assert!(ascii_text(100, 3).bytes().all(|b| (b' '..=b'~').contains(&b)));
/// ```
pub fn ascii_text(len: usize, seed: u64) -> String {
    let mut rng = XorShift::new(seed);
    (0..len)
        .map(|_| (b' ' + rng.below(95) as u8) as char)
        .collect()
}
