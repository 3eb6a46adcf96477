//! The operating-system layer of minitalk's `server` and `client`: safe
//! wrappers over the few system calls they make, and output without
//! `core::fmt` (which would cost kilobytes in a static binary).
//!
//! Two backends, one API: on Linux the calls are made directly (`linux`,
//! which lets the static build leave the C library's start-up out); on
//! every other system, and on Linux with the cargo feature `posix`, they go
//! through the C library (`posix`: macOS, the BSDs). What only Linux can
//! tell (which signals a process catches, its start time, its output
//! counter, its CPU) is a capability that each function documents with its
//! fallback (README, "macOS and the BSDs"). One file a concern:
//!
//! - [`signal`]: signal numbers, sending (`kill`), sets, masks, handlers, waits;
//! - [`queue`]: [`SignalQueue`], from the signal handlers to the main loop;
//! - [`fd`]: the standard streams, `read`, `write`, `open`, waiting for input;
//! - [`cpu`]: CPU affinity (Linux only);
//! - [`proc`]: what the system tells about another process (`/proc` on
//!   Linux, `sysctl` on macOS and FreeBSD);
//! - [`out`]: [`Line`], output without `core::fmt`;
//! - [`args`]: the command line and strict parsers of its values (pure);
//! - here: the process itself (PID, clock, exit) and [`no_std_runtime!`],
//!   the panic handler both binaries share.
//!
//! Everything public is also re-exported at the top (`minitalk_sys::send`).
//!
//! Invariants:
//! - `kill(2)` is called in one place, which refuses any PID below 1: no
//!   code path can signal a process group or every process (`kill(0, …)`,
//!   `kill(-1, …)`). [`send`] is the only function that sends a signal.
//! - Nothing here allocates or panics; errors are values.
#![no_std]
#[cfg(test)]
extern crate std;

use minitalk_protocol::{Duration, Instant};

use minitalk_protocol::Pid;

pub mod args;
pub mod clock;
pub mod cpu;
pub mod fd;
#[cfg(linux_raw)]
pub mod linux;
pub mod out;
#[cfg(not(linux_raw))]
mod posix;
pub mod proc;
pub mod progress;
pub mod queue;
pub mod signal;
pub mod write_wait;

pub use args::{lookup, parse_micros, parse_pid, parse_seconds, Args, PID_MAX};
pub use clock::StallClock;
pub use cpu::{current_cpu, short_slice, CpuSet};
pub use fd::{close, file_size, isatty, open, read, readable, write_all, STDERR, STDIN, STDOUT};
pub use out::Line;
pub use progress::ProgressBar;
pub use queue::SignalQueue;
pub use signal::{
    alive, from_signo, send, set_handler, signo, sleep_with_mask, Handler, SendError, SigSet,
    SI_USER,
};

/// This process's ID.
#[cfg(not(linux_raw))]
pub fn getpid() -> Pid {
    posix::getpid()
}

/// This process's ID.
#[cfg(linux_raw)]
pub fn getpid() -> Pid {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { linux::syscall3(libc::SYS_getpid, 0, 0, 0) as Pid }
}

/// Now on the monotonic clock (its origin: the boot, on Linux).
pub fn now() -> Instant {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    #[cfg(linux_raw)]
    linux::clock_monotonic(&mut ts);
    #[cfg(not(linux_raw))]
    posix::clock_monotonic(&mut ts);
    Instant::ZERO + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `d` as a `timespec`.
pub fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Ends the process at once with `code` (`_exit(2)`).
#[cfg(not(linux_raw))]
pub fn exit(code: i32) -> ! {
    posix::exit(code)
}

/// Ends the process at once with `code` (`exit_group(2)`).
#[cfg(linux_raw)]
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers and never returns; nothing of
    // ours is buffered.
    unsafe { linux::syscall3(libc::SYS_exit_group, code as usize, 0, 0) };
    // The call does not return; should it ever, stop here all the same.
    loop {
        core::hint::spin_loop();
    }
}

/// The runtime items a `#![no_std]` binary must define itself, written once
/// for both binaries: the panic handler (no panic is expected, see the
/// protocol crate; should one happen, the process exits with 101, Rust's
/// panic status) and `rust_eh_personality` (unoptimised builds link a `core`
/// compiled for unwinding, which names this symbol; with `panic = "abort"`
/// it is never called).
///
/// A macro, not items of this crate, so that this crate's own tests, which
/// use `std` and its panic handler, still build.
#[macro_export]
macro_rules! no_std_runtime {
    () => {
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            $crate::exit(101)
        }

        #[no_mangle]
        extern "C" fn rust_eh_personality() {}
    };
}

/// Held by every test that blocks, handles, raises or waits for signals,
/// or polls the C-library backend's self-pipe: a process's handlers, and
/// that backend's pipe and queue, are shared by the test threads.
#[cfg(test)]
pub(crate) fn signal_test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    //! The system calls against the kernel itself.
    extern crate std;

    use super::*;

    #[test]
    fn pid_and_clock() {
        assert_eq!(getpid() as u32, std::process::id());
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(10));
        let b = now();
        assert!(b - a >= Duration::from_millis(10), "{a:?} then {b:?}");
    }
}
