//! What the system tells about another process: a capability of each
//! system, with a fallback where it cannot tell.
//!
//! The client refuses, and the server never answers, a process that does not
//! catch both `SIGUSR1` and `SIGUSR2`: for such a process the first signal
//! would be fatal (the default action) or lost (ignored).
//!
//! | what | Linux (`/proc`, both backends) | FreeBSD (`sysctl` `KERN_PROC_PID`) | macOS (`sysctl` `KERN_PROC_PID`) | elsewhere |
//! | --- | --- | --- | --- | --- |
//! | [`caught_usr`] | `SigCgt` | `ki_sigcatch` | `p_sigcatch`, layout checked | catches nothing: refused |
//! | [`identity`] (start time) | field 22 of `stat` | `ki_start` | `p_starttime` | `None`: no PID-reuse check |
//! | [`state`], [`process`] | `stat` | `ki_stat`, `ki_runtime` | stopped or gone only | `None`: unknown |
//! | [`written`] (output counter) | `wchar` of `io` | `None` | `None` | `None` |
//! | [`last_cpu`] | field 39 of `stat` | `None` | `None` | `None` |
//!
//! Where a system cannot tell whether a process catches the signals, it is
//! taken as catching neither: never signal a process the signal may kill.

use minitalk_protocol::Pid;

#[cfg(not(target_os = "linux"))]
mod kinfo;
#[cfg(target_os = "linux")]
mod procfs;
#[cfg(not(target_os = "linux"))]
pub use kinfo::{caught_usr, identity, last_cpu, process, state, written};
#[cfg(target_os = "linux")]
pub use procfs::{caught_usr, identity, last_cpu, process, state, written};

/// Whether this system tells which signals a process catches (Linux,
/// FreeBSD, macOS); elsewhere [`caught_usr`] is `(false, false)` for every
/// process.
pub const TELLS_CATCHERS: bool = cfg!(any(
    target_os = "linux",
    target_os = "freebsd",
    target_vendor = "apple"
));

/// What the client says after "process PID" when [`catches_usr`] is false:
/// the system said so, or (see [`TELLS_CATCHERS`]) it cannot tell.
pub const NOT_CAUGHT: &str = if TELLS_CATCHERS {
    " does not catch SIGUSR1 and SIGUSR2: not a minitalk server (a signal could kill it)"
} else {
    ": this system cannot tell whether it catches SIGUSR1 and SIGUSR2, so it is not signalled (a signal could kill it)"
};

/// Whether `pid` catches both `SIGUSR1` and `SIGUSR2` ([`caught_usr`]).
/// `None` if there is no such process.
///
/// A process that only blocks them and waits with `sigtimedwait` does not
/// count: while it waits, `/proc` shows them neither blocked nor caught, so
/// minitalk's client installs handlers as well.
pub fn catches_usr(pid: Pid) -> Option<bool> {
    caught_usr(pid).map(|(usr1, usr2)| usr1 && usr2)
}
