//! Child processes: [`Proc`], the guard that kills and reaps its child,
//! and [`Collector`], a pipe read to its end by a background thread.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A child process that is killed and reaped when dropped.
///
/// This guard is the only thing in the test suite that sends signals, and it
/// sends them only to its own child, before reaping it.
#[derive(Debug)]
pub struct Proc {
    pub(crate) child: Child,
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

    /// Takes the child's stdout and stderr pipes (piped by the caller's
    /// [`Command`]), to read them at the caller's own pace.
    pub fn take_pipes(
        &mut self,
    ) -> (
        Option<std::process::ChildStdout>,
        Option<std::process::ChildStderr>,
    ) {
        (self.child.stdout.take(), self.child.stderr.take())
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

/// CPU-bound processes (`sh -c 'while :; do :; done'`) that load the
/// machine while a test runs, as another program would; each is killed by
/// its PID when dropped, whether the test passed or not.
pub struct Hogs(Vec<Proc>);

impl Hogs {
    /// Starts `n` busy loops.
    ///
    /// # Panics
    ///
    /// If one cannot be started (those started are killed).
    pub fn start(n: usize) -> Hogs {
        Hogs(
            (0..n)
                .map(|_| {
                    let mut cmd = Command::new("sh");
                    cmd.args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null());
                    Proc::spawn(&mut cmd, "busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            hog.kill(); // SIGKILL to its PID, then reaped
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
