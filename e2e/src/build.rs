//! The binaries under test: where they are, and building them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

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
