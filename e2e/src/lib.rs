//! Helpers for the end-to-end tests: start, drive and always clean up real
//! processes (the release `server` and `client` binaries, and the helpers in
//! `src/bin/`).
//!
//! One file a concern; everything is re-exported here (`minitalk_e2e::Proc`):
//!
//! - `build.rs`, [`binaries`]: where `server` and `client` are
//!   (`MINITALK_BIN_DIR`, or built once per test process into
//!   `target/e2e/release/`).
//! - `process.rs`, the guards: [`Proc`], a child process that is killed
//!   (`SIGKILL`) and reaped when its guard is dropped, also when a test
//!   panics; [`Collector`], a pipe read to its end by a background thread,
//!   with waits on what arrived so far.
//! - `server.rs`, the server's driver: [`Server`], a running server, its PID
//!   line checked, its output collected; [`Server::stop`] ends it with
//!   `SIGTERM` and checks exit 0.
//! - `client.rs`, the client's driver: [`Client`], a client run, [`Running`]
//!   while it runs, [`Finished`] after.
//! - `namespace.rs` and its script `namespace.sh`: [`private_pid_namespace`],
//!   a command that runs in a PID namespace of its own, for the cases where a
//!   bug would signal the wrong processes; [`clients_in_a_namespace`] runs
//!   clients with [`BAD_PIDS`] there, next to a bystander and a server, and
//!   [`NamespaceRun`] checks nobody was hit.
//! - `procfs.rs`: [`proc_status_kib`], memory figures (`VmRSS`, `VmHWM`) of
//!   a process, [`proc_mapping_rss_kib`] (its `[stack]`, say),
//!   [`proc_is_dynamic`] and [`proc_state`].
//! - `data.rs`: [`mixed_text`], [`ascii_text`], [`XorShift`]: deterministic
//!   test data.
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

use std::time::{Duration, Instant};

mod build;
mod client;
mod data;
mod namespace;
mod process;
mod procfs;
mod server;

pub mod models;

pub use build::*;
pub use client::*;
pub use data::*;
pub use namespace::*;
pub use process::*;
pub use procfs::*;
pub use server::*;

/// The deadline `secs` seconds from now.
///
/// Deadlines in these tests only catch hangs: they are many times longer than
/// the wait they bound, so that a loaded machine never trips them.
pub fn after(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// How many times a measurement (an ignored test) repeats each case:
/// `MEASURE_TRIES` from the environment, else `default`.
pub fn measure_tries(default: usize) -> usize {
    std::env::var("MEASURE_TRIES")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(default)
}
