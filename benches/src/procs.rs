//! The real `server` and `client` binaries, run as separate processes.
//!
//! - [`Binaries::locate_or_build`]: `$MINITALK_BIN_DIR` if set, else a
//!   release build into `target/bench-bins` (once per process).
//! - [`Server`]: one server process, its stdout in a file (no reader thread:
//!   the benchmark process stays single-threaded), killed and reaped on drop.
//! - [`send`]: one client run, from its start to its exit.
//! - [`Scratch`]: a temporary directory for messages and server output.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::children;

/// The workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Paths of the `server` and `client` executables.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The server.
    pub server: PathBuf,
    /// The client.
    pub client: PathBuf,
}

impl Binaries {
    /// The binaries in `$MINITALK_BIN_DIR` if that is set; else builds them
    /// once (`$CARGO build --release -p minitalk-server -p minitalk-client
    /// --target x86_64-unknown-linux-musl --target-dir
    /// <workspace>/target/bench-bins`, without `--target` if that fails) and
    /// returns those.
    pub fn locate_or_build() -> io::Result<Binaries> {
        static BUILT: OnceLock<Result<Binaries, String>> = OnceLock::new();
        BUILT
            .get_or_init(|| Self::find().map_err(|e| e.to_string()))
            .clone()
            .map_err(io::Error::other)
    }

    /// Where the binaries come from, for a report.
    pub fn origin() -> String {
        match std::env::var_os("MINITALK_BIN_DIR") {
            Some(dir) => format!("$MINITALK_BIN_DIR = {}", Path::new(&dir).display()),
            None if Self::is_static() => {
                format!("target/bench-bins/{STATIC_TARGET}/release (the static build, as shipped)")
            }
            None => "target/bench-bins/release (glibc: the static target is not installed)".into(),
        }
    }

    /// Whether the binaries are the static musl build (always so, unless
    /// `$MINITALK_BIN_DIR` says otherwise or that target is missing).
    pub fn is_static() -> bool {
        match std::env::var_os("MINITALK_BIN_DIR") {
            Some(dir) => Path::new(&dir)
                .components()
                .any(|c| c.as_os_str() == STATIC_TARGET),
            None => Self::locate_or_build()
                .is_ok_and(|b| b.server.to_string_lossy().contains(STATIC_TARGET)),
        }
    }

    fn find() -> io::Result<Binaries> {
        let dir = match std::env::var_os("MINITALK_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => build()?,
        };
        let bins = Binaries {
            server: dir.join("server"),
            client: dir.join("client"),
        };
        for path in [&bins.server, &bins.client] {
            if !path.is_file() {
                return Err(io::Error::other(format!("no binary at {}", path.display())));
            }
        }
        Ok(bins)
    }
}

/// The target of the shipped, static binaries.
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-musl";

/// Builds server and client in release mode, static (as `make` and the
/// README ship them) or, if that target is not installed, for the host;
/// the directory they are in.
fn build() -> io::Result<PathBuf> {
    let target_dir = workspace_root().join("target").join("bench-bins");
    match cargo_build(&target_dir, &["--target", STATIC_TARGET]) {
        Ok(()) => Ok(target_dir.join(STATIC_TARGET).join("release")),
        Err(_) => cargo_build(&target_dir, &[]).map(|()| target_dir.join("release")),
    }
}

/// `cargo build --release` of both binaries into `target_dir`.
fn cargo_build(target_dir: &Path, extra: &[&str]) -> io::Result<()> {
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "--quiet"])
        .args(["-p", "minitalk-server", "-p", "minitalk-client"])
        .args(extra)
        .arg("--target-dir")
        .arg(target_dir)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "building server and client failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// A temporary directory, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A new empty directory under the system's temporary directory.
    pub fn new(tag: &str) -> io::Result<Scratch> {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        let dir = std::env::temp_dir().join(format!("minitalk-{tag}-{pid}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(Scratch { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes [`message(len)`](crate::message) to a file named `name`.
    pub fn message_file(&self, name: &str, len: usize) -> io::Result<PathBuf> {
        let path = self.dir.join(name);
        File::create(&path)?.write_all(crate::message(len).as_bytes())?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A running server, its stdout going to a file.
///
/// Dropping it stops it with `SIGTERM` (then `SIGKILL` if it lingers) and
/// reaps it.
#[derive(Debug)]
pub struct Server {
    child: Child,
    stdout: PathBuf,
    /// Bytes of stdout before the first message (the `server PID` line).
    header: u64,
}

impl Server {
    /// Starts `bins.server` with `args`, its stdout in `dir/server-<n>.out`,
    /// and waits until it has printed its PID (its handlers are installed
    /// by then).
    pub fn start<S: AsRef<OsStr>>(bins: &Binaries, args: &[S], dir: &Path) -> io::Result<Server> {
        children::install_panic_hook();
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdout = dir.join(format!("server-{n}.out"));
        let child = Command::new(&bins.server)
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout)?)
            .stderr(Stdio::null())
            .spawn()?;
        children::register(child.id() as libc::pid_t);
        let mut server = Server {
            child,
            stdout,
            header: 0,
        };
        let line = format!("server PID {}\n", server.pid());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if fs::read(&server.stdout)?.starts_with(line.as_bytes()) {
                server.header = line.len() as u64;
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                children::forget(server.pid());
                return Err(io::Error::other(format!(
                    "the server exited at once: {status}"
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("the server did not print its PID"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The server's PID.
    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Bytes of messages printed so far, the newline after each included.
    pub fn delivered(&self) -> io::Result<u64> {
        Ok(fs::metadata(&self.stdout)?
            .len()
            .saturating_sub(self.header))
    }

    /// The server's peak resident set size (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// The server's resident set size now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.pid();
        if !children::is_live(pid) {
            return; // the panic hook reaped it already
        }
        children::signal(pid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            children::signal(pid, libc::SIGKILL);
            let _ = self.child.wait();
        }
        children::forget(pid);
    }
}

/// A number from `/proc/<pid>/status`, such as `VmHWM:   1944 kB`.
fn proc_status_kib(pid: libc::pid_t, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Runs `client [args] <server> -` with `message` as stdin, and returns the
/// time from its start to its exit. Fails unless it exits with status 0
/// (the server confirmed the whole message).
pub fn send<S: AsRef<OsStr>>(
    bins: &Binaries,
    server: &Server,
    message: &Path,
    args: &[S],
) -> io::Result<Duration> {
    children::install_panic_hook();
    let stdin = File::open(message)?;
    let start = Instant::now();
    let child = Command::new(&bins.client)
        .args(args)
        .arg(server.pid().to_string())
        .arg("-")
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    children::register(pid);
    // Reads stderr to its end (the client's exit), then reaps it.
    let out = child.wait_with_output();
    let elapsed = start.elapsed();
    children::forget(pid);
    let out = out?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "client {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(elapsed)
}

/// Like [`send`], but a failed run is recorded in `failures` and tried
/// again, `attempts` runs in all; the time of the first that succeeds.
///
/// On a busy machine a run can fail (the server's answers come later than
/// the client's timeouts allow): a benchmark notes it and goes on.
pub fn send_until_ok<S: AsRef<OsStr>>(
    bins: &Binaries,
    server: &Server,
    message: &Path,
    args: &[S],
    attempts: usize,
    failures: &mut Vec<String>,
) -> io::Result<Duration> {
    let mut last = io::Error::other("no attempt");
    for _ in 0..attempts.max(1) {
        match send(bins, server, message, args) {
            Ok(t) => return Ok(t),
            Err(e) => {
                failures.push(e.to_string());
                last = e;
            }
        }
    }
    Err(last)
}
