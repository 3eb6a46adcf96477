//! Child processes: every one started here is killed and reaped.
//!
//! Owners ([`PingPong`](crate::pingpong::PingPong),
//! [`Server`](crate::procs::Server), a client run) [`register`] a child when
//! it starts and [`reap`] it when they are done with it. A panic hook
//! ([`install_panic_hook`]) kills and reaps whatever is still registered:
//! the `report` binary is built with `panic = "abort"`, where no `Drop` runs.
//!
//! A PID is signalled only while it is registered, that is, between its
//! start and its reaping, so a recycled PID is never hit; and never if it is
//! below 1.

use std::sync::{Mutex, Once};

/// Children started and not reaped yet.
static LIVE: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Records `pid` as a child of this process that must be reaped.
pub fn register(pid: libc::pid_t) {
    if pid > 0 {
        lock().push(pid);
    }
}

/// Whether `pid` is registered (started, not reaped).
pub fn is_live(pid: libc::pid_t) -> bool {
    lock().contains(&pid)
}

/// Forgets `pid`: its owner has reaped it. False if it was not registered
/// (the panic hook got to it first).
pub fn forget(pid: libc::pid_t) -> bool {
    let mut live = lock();
    match live.iter().position(|&p| p == pid) {
        Some(i) => {
            live.swap_remove(i);
            true
        }
        None => false,
    }
}

/// Kills `pid` with `SIGKILL` and reaps it, if it is a registered child;
/// then forgets it. Returns false if it was not registered.
pub fn reap(pid: libc::pid_t) -> bool {
    if pid < 1 || !forget(pid) {
        return false;
    }
    // SAFETY: kill has no memory-safety preconditions; pid >= 1 is our
    // child, not reaped yet (registered), so the PID is not recycled.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_for(pid);
    true
}

/// Sends `signo` to `pid` if it is a registered child (so never to PID 0,
/// -1, a group or a stranger). False if it is not, or `kill` failed.
pub fn signal(pid: libc::pid_t, signo: i32) -> bool {
    // SAFETY: see `reap`: pid is a live child of ours and >= 1.
    pid > 0 && is_live(pid) && unsafe { libc::kill(pid, signo) } == 0
}

/// Waits for the child `pid` to end; its exit status, if it could be read.
pub(crate) fn wait_for(pid: libc::pid_t) -> Option<i32> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid, writable int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(status);
        }
        // SAFETY: __errno_location returns this thread's errno.
        if r < 0 && unsafe { *libc::__errno_location() } != libc::EINTR {
            return None;
        }
    }
}

/// Makes a panic kill and reap every registered child before the default
/// report (and, under `panic = "abort"`, the abort). Idempotent.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // try_lock: the panic may have happened with the lock held.
            let pids = match LIVE.try_lock() {
                Ok(live) => live.clone(),
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
                Err(std::sync::TryLockError::WouldBlock) => Vec::new(),
            };
            for pid in pids {
                reap(pid);
            }
            previous(info);
        }));
    });
}

fn lock() -> std::sync::MutexGuard<'static, Vec<libc::pid_t>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}
