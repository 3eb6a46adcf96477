//! Private PID namespaces: commands that run in one, and
//! [`clients_in_a_namespace`], which runs clients with [`BAD_PIDS`] next to
//! a bystander and a server (the script `namespace.sh`) and checks nobody
//! was hit.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::{after, binaries, workspace_root, Running};

/// `program` run in a PID namespace of its own, as its first process (PID 1),
/// in a new session, with a private `/proc`:
/// `unshare --pid --fork --mount-proc --kill-child setsid <program>`.
///
/// A signal sent inside by mistake to a process group (`kill(0, …)`) or to
/// every process (`kill(-1, …)`) reaches only the namespace. When the
/// returned command's process dies, so does everything in the namespace
/// (`--kill-child`, then the kernel), so a [`Proc`](crate::Proc) guard on it cleans up.
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
const NAMESPACE_SCRIPT: &str = include_str!("namespace.sh");

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
