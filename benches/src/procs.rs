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

pub use minitalk_e2e::workspace_root;
use minitalk_e2e::{build_release, proc_status_kib};

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
    pub fn origin(&self) -> String {
        let dir = self.server.parent().unwrap_or(Path::new(""));
        let how = if std::env::var_os("MINITALK_BIN_DIR").is_some() {
            "$MINITALK_BIN_DIR"
        } else {
            "built by the benchmarks"
        };
        let kind = if self.is_static() {
            "static"
        } else {
            "dynamically linked"
        };
        format!("{} ({how}; {kind})", dir.display())
    }

    /// Whether the server is a static executable (an ELF file without a
    /// program interpreter), as `make` ships it.
    pub fn is_static(&self) -> bool {
        is_static_executable(&self.server)
    }

    /// Where `make` and `cargo xtask static` leave the static binaries.
    pub fn shipped() -> Binaries {
        let dir = workspace_root()
            .join("target")
            .join(STATIC_TARGET)
            .join("release");
        Binaries {
            server: dir.join("server"),
            client: dir.join("client"),
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
    match build_release(&target_dir, &["--target", STATIC_TARGET]) {
        Ok(()) => Ok(target_dir.join(STATIC_TARGET).join("release")),
        Err(_) => build_release(&target_dir, &[])
            .map(|()| target_dir.join("release"))
            .map_err(io::Error::other),
    }
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
        proc_status_kib(self.pid(), "VmHWM")
    }

    /// The server's resident set size now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS")
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

/// Whether the file at `path` is a 64-bit little-endian ELF executable
/// without a `PT_INTERP` program header, that is, one the kernel runs without
/// a dynamic loader.
fn is_static_executable(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let Ok(elf) = fs::read(path) else {
        return false;
    };
    let at = |offset: usize, len: usize| -> Option<u64> {
        let bytes = elf.get(offset..offset + len)?;
        Some(bytes.iter().rev().fold(0, |n, &b| n << 8 | u64::from(b)))
    };
    let header = (at(0x20, 8), at(0x36, 2), at(0x38, 2));
    let (Some(phoff), Some(phentsize), Some(phnum)) = header else {
        return false;
    };
    elf.starts_with(b"\x7fELF\x02\x01")
        && (0..phnum).all(|i| {
            let offset = (phoff + i * phentsize) as usize;
            at(offset, 4).is_some_and(|kind| kind != u64::from(PT_INTERP))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_executables_from_others() {
        // This test is linked as the host target links (dynamically, with
        // glibc); a manifest and a missing file are not executables.
        let exe = std::env::current_exe().unwrap();
        let static_build = cfg!(target_feature = "crt-static");
        assert_eq!(is_static_executable(&exe), static_build);
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert!(!is_static_executable(&manifest));
        assert!(!is_static_executable(Path::new("/nonexistent/minitalk")));
    }
}
