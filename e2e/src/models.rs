//! Models of the classic 42 wire: small C programs in `e2e/models/` that
//! behave as learners' minitalk programs do (see `../shared/classic-42-wire.md`
//! for the survey they model), built with `gcc` on demand.
//!
//! - `server`: prints `PID: <pid>`, then each message and `'\n'`;
//!   `--ack none|end|first|bit|then|plus|echo|usr2bit` picks the
//!   acknowledgement variant.
//! - `client`: `--pace US [--catch none|usr1|usr2|both] [--exit-on usr1|usr2]`
//!   paces itself; `--wait bit|done|echo` waits for an acknowledgement per bit.
//!
//! Both take the wire flags `--lsb`, `--usr1`, `--none`, `--len32`, `--len64`
//! (see `e2e/models/wire.h`).

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use crate::{complete_lines, workspace_root, Running};

/// The compiled model `name` (`"server"` or `"client"`), built into
/// `target/models/` when missing or older than its sources.
///
/// # Panics
///
/// If `gcc` fails.
pub fn model(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = workspace_root();
    let dir = root.join("e2e/models");
    let source = dir.join(format!("{name}.c"));
    let out_dir = root.join("target/models");
    let out = out_dir.join(name);
    let modified = |p: &PathBuf| fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest_source = [source.clone(), dir.join("wire.h")]
        .iter()
        .filter_map(modified)
        .max();
    if modified(&out).is_some_and(|built| Some(built) >= newest_source) {
        return out;
    }
    fs::create_dir_all(&out_dir).expect("target/models");
    // Built under a name of our own, then renamed: test processes running
    // at the same time never see a half-written binary.
    let tmp = out_dir.join(format!("{name}.{}", std::process::id()));
    let status = Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&tmp)
        .arg(&source)
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed on {}", source.display());
    fs::rename(&tmp, &out).expect("rename the model");
    out
}

/// A running model server.
#[derive(Debug)]
pub struct ModelServer {
    /// The process and its output.
    pub running: Running,
    pid: i32,
}

impl ModelServer {
    /// Starts the model server with `args` and waits for its PID line.
    ///
    /// # Panics
    ///
    /// If it prints no PID by `deadline`.
    pub fn start(args: &[&str], deadline: Instant) -> ModelServer {
        let mut cmd = Command::new(model("server"));
        cmd.args(args);
        let running = Running::spawn(cmd, None, "model server");
        let pid = running
            .stdout()
            .wait_for(deadline, |b, _| {
                let first = complete_lines(b).into_iter().next()?;
                first.strip_prefix("PID: ")?.trim().parse::<i32>().ok()
            })
            .expect("the model server prints its PID");
        assert_eq!(pid, running.pid());
        ModelServer { running, pid }
    }

    /// Its PID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The messages it printed so far (its complete lines after the first).
    pub fn messages(&self) -> Vec<String> {
        complete_lines(&self.running.stdout().bytes())
            .into_iter()
            .skip(1)
            .collect()
    }

    /// Waits until it printed `n` messages; returns what it printed.
    pub fn wait_for_messages(&self, n: usize, deadline: Instant) -> Vec<String> {
        self.running
            .stdout()
            .wait_for(deadline, |b, _| {
                let lines = complete_lines(b);
                (lines.len() > n).then(|| lines[1..].to_vec())
            })
            .unwrap_or_else(|| self.messages())
    }
}

/// Starts the model client with `args`, sending `message` to `server`.
///
/// # Panics
///
/// If `server` is below 1 (never signal such a PID).
pub fn model_client(args: &[&str], server: i32, message: &str) -> Running {
    assert!(server >= 1, "refusing PID {server}");
    let mut cmd = Command::new(model("client"));
    cmd.args(args).arg(server.to_string()).arg(message);
    Running::spawn(cmd, None, "model client")
}
