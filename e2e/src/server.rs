//! Driving a real `server`: [`Server`] and what it printed ([`Stopped`]).

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{after, binaries, complete_lines, proc_status_kib, Collector, Proc};

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
