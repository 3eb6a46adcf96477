//! Project commands, run with `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`):
//!
//! - `demo [MESSAGE]`: builds the binaries, starts a server, sends a message
//!   (yours, or a default one in several scripts), shows what the server
//!   printed and the client's statistics, and stops the server cleanly.
//! - `test [--hogs N]`: builds the release binaries, static (musl) and
//!   ordinary (glibc), runs every test of the workspace against the static
//!   ones and the end-to-end tests again against the others; then the
//!   C-library backend (`--features posix`, the one of macOS and the BSDs):
//!   its unit tests, and the end-to-end contract and classic models against
//!   binaries built with it. `--hogs N`
//!   runs them on a loaded machine: N busy loops (`sh -c 'while :; do :;
//!   done'`) started before the tests and killed by PID after them, pass or
//!   fail.
//! - `static`: builds the static musl binaries, prints their sizes and
//!   fails if one is over its budget (server 28 KiB, client 18 KiB).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_MESSAGE: &str = "Hello from minitalk! Привет, 世界! שלום, مرحبا 👋🏽";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(args.get(1).map(String::as_str).unwrap_or(DEFAULT_MESSAGE)),
        Some("test") => hogs(&args[1..]).and_then(|n| {
            let _hogs = Hogs::start(n)?;
            test()
        }),
        Some("static") => static_build(),
        _ => Err("usage: cargo xtask demo [MESSAGE] | test [--hogs N] | static".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Runs cargo with `args` in the workspace root; fails if it fails.
fn cargo(args: &[&str], env: &[(&str, &Path)]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("cargo {} failed ({status})", args.join(" ")))
}

/// Builds `server` and `client` in release mode, with `extra` cargo
/// arguments (a `--target`, say).
fn build_bins(extra: &[&str]) -> Result {
    let mut args = vec![
        "build",
        "--release",
        "-p",
        "minitalk-server",
        "-p",
        "minitalk-client",
    ];
    args.extend_from_slice(extra);
    cargo(&args, &[])
}

/// Builds `server` and `client` in release mode; returns their folder.
fn build() -> Result<PathBuf> {
    build_bins(&["--quiet"])?;
    Ok(root().join("target/release"))
}

/// The target of the static binaries.
const STATIC_TARGET: &str = "x86_64-unknown-linux-musl";

/// Installs the static target with rustup unless it is there already.
fn ensure_static_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == STATIC_TARGET)
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", STATIC_TARGET])
        .status()
        .map_err(|e| format!("cannot run rustup to add {STATIC_TARGET}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("rustup target add {STATIC_TARGET} failed ({status})"))
}

/// Builds the static binaries; returns their folder.
fn build_static(quiet: bool) -> Result<PathBuf> {
    ensure_static_target()?;
    let mut args = vec!["--target", STATIC_TARGET];
    if quiet {
        args.push("--quiet");
    }
    build_bins(&args)?;
    Ok(root().join("target").join(STATIC_TARGET).join("release"))
}

/// The C-library backend's binaries (`--features posix`), in a target
/// folder of their own (`target/posix`) so that they do not replace the
/// glibc build's; returns their folder.
fn build_posix() -> Result<PathBuf> {
    let dir = root().join("target/posix");
    let dir_arg = dir.to_string_lossy().into_owned();
    build_bins(&["--quiet", "--features", "posix", "--target-dir", &dir_arg])?;
    Ok(dir.join("release"))
}

/// Every test of the workspace against the static binaries (what `make` and
/// the README ship), then the end-to-end suites again against the ordinary
/// glibc build, which starts up differently (sys/src/linux.rs), then the
/// C-library backend (sys/src/posix.rs): its unit tests, and the end-to-end
/// contract and the classic models against its binaries (the suites that
/// say what a user sees; the others test the protocol, which is the same).
fn test() -> Result {
    let static_bins = build_static(true)?;
    let bins = build()?;
    println!(
        "== all tests, against the static binaries in {}",
        static_bins.display()
    );
    cargo(
        &["test", "--workspace"],
        &[("MINITALK_BIN_DIR", &static_bins)],
    )?;
    println!(
        "== end-to-end tests, against the glibc binaries in {}",
        bins.display()
    );
    cargo(
        &["test", "-p", "minitalk-e2e"],
        &[("MINITALK_BIN_DIR", &bins)],
    )?;
    let posix_bins = build_posix()?;
    println!("== the C-library backend (--features posix): its unit tests");
    cargo(&["test", "-p", "minitalk-sys", "--features", "posix"], &[])?;
    println!(
        "== end-to-end contract and classic models, against the posix binaries in {}",
        posix_bins.display()
    );
    cargo(
        &[
            "test",
            "-p",
            "minitalk-e2e",
            "--test",
            "contract",
            "--test",
            "classic_models",
        ],
        &[("MINITALK_BIN_DIR", &posix_bins)],
    )
}

/// The number of busy loops asked for with `--hogs N` (none without it).
fn hogs(args: &[String]) -> Result<usize> {
    match args {
        [] => Ok(0),
        [flag, n] if flag == "--hogs" => n
            .parse()
            .map_err(|_| format!("--hogs {n}: not a number of processes")),
        _ => Err(format!(
            "test: unknown arguments {args:?}; try: test [--hogs N]"
        )),
    }
}

/// CPU-bound processes that load the machine while the tests run; each is
/// killed by its PID when dropped (after the tests, whether they passed
/// or not).
struct Hogs(Vec<Child>);

impl Hogs {
    fn start(n: usize) -> Result<Hogs> {
        let mut hogs = Hogs(Vec::with_capacity(n));
        for _ in 0..n {
            let child = Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start a busy loop: {e}"))?;
            println!("== busy loop started, PID {}", child.id());
            hogs.0.push(child);
        }
        Ok(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            // Child::kill sends SIGKILL to this child's PID only.
            let _ = child.kill();
            let _ = child.wait();
            println!("== busy loop {} stopped", child.id());
        }
    }
}

/// The size budget of each static binary, every feature in (README,
/// "Size").
const BUDGET: [(&str, u64); 2] = [("server", 28 * 1024), ("client", 18 * 1024)];

fn static_build() -> Result {
    let dir = build_static(false)?;
    let mut over = Vec::new();
    for (bin, budget) in BUDGET {
        let path = dir.join(bin);
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        println!(
            "{:>7} bytes  {}  (budget {budget}, {} left)",
            size,
            path.display(),
            budget as i64 - size as i64
        );
        if size > budget {
            over.push(format!("{bin} is {} bytes over", size - budget));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("over the size budget: {}", over.join(", ")))
    }
}

/// Stops the server with SIGTERM when dropped, and reaps it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

/// Sends SIGTERM to a child we started (never to PID 0 or below) and waits.
fn stop(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        if pid > 0 && matches!(child.try_wait(), Ok(None)) {
            // SAFETY: kill has no memory-safety preconditions; pid is our child's.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn demo(message: &str) -> Result {
    println!("== building the server and the client (release)");
    let bins = build()?;
    println!("== starting the server");
    let child = Command::new(bins.join("server"))
        .arg("--stats")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let mut server = Server(child);
    let mut out = BufReader::new(server.0.stdout.take().ok_or("no stdout")?);
    let mut first = String::new();
    out.read_line(&mut first).map_err(|e| e.to_string())?;
    let pid = first.trim().rsplit(' ').next().unwrap_or("").to_string();
    println!("   server says: {}", first.trim_end());

    println!("== sending: {message}");
    let started = Instant::now();
    let client = Command::new(bins.join("client"))
        .args(["--stats", &pid, message])
        .output()
        .map_err(|e| format!("cannot run the client: {e}"))?;
    let elapsed = started.elapsed();
    for line in String::from_utf8_lossy(&client.stderr).lines() {
        println!("   client: {}", line.trim_start_matches("client: "));
    }
    println!(
        "   client exit status: {} ({:.1} ms)",
        client.status.code().unwrap_or(-1),
        elapsed.as_secs_f64() * 1e3
    );

    let mut printed = String::new();
    out.read_line(&mut printed).map_err(|e| e.to_string())?;
    println!(
        "== the server printed:\n   {}",
        printed.trim_end_matches('\n')
    );

    println!("== stopping the server (SIGTERM)");
    let mut stderr = server.0.stderr.take().ok_or("no stderr")?;
    stop(&mut server.0);
    let mut diag = String::new();
    let _ = stderr.read_to_string(&mut diag);
    for line in diag.lines() {
        println!("   server: {}", line.trim_start_matches("server: "));
    }
    println!(
        "   server exit status: {}",
        server
            .0
            .wait()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1)
    );
    if !client.status.success() || printed.trim_end_matches('\n') != message {
        return Err("the message did not arrive intact".into());
    }
    println!("== done: try `target/release/server --trace` in one terminal and `target/release/client <PID> Hi` in another");
    Ok(())
}
