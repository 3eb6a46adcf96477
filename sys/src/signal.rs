//! Signals: numbers, sending (the one `kill(2)` call), signal sets and
//! masks, handlers, and waiting.

use minitalk_protocol::{Duration, Pid, Signal};

#[cfg(not(linux_raw))]
use crate::posix;
use crate::proc;
#[cfg(linux_raw)]
use crate::{linux, timespec};

/// The number of `signal`.
pub const fn signo(signal: Signal) -> i32 {
    match signal {
        Signal::Usr1 => libc::SIGUSR1,
        Signal::Usr2 => libc::SIGUSR2,
    }
}

/// The [`Signal`] with number `signo`, if it is one of ours.
pub const fn from_signo(signo: i32) -> Option<Signal> {
    match signo {
        libc::SIGUSR1 => Some(Signal::Usr1),
        libc::SIGUSR2 => Some(Signal::Usr2),
        _ => None,
    }
}

/// Why a signal could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// PID 0 or below: refused before any system call.
    BadPid,
    /// No such process (`ESRCH`).
    NoProcess,
    /// Not allowed (`EPERM`): another user's process.
    NotPermitted,
}

/// `kill(pid, signo)`: the one place that calls it, and it refuses any
/// `pid` below 1 before the system call.
fn kill(pid: Pid, signo: i32) -> Result<(), SendError> {
    if pid < 1 {
        return Err(SendError::BadPid);
    }
    #[cfg(linux_raw)]
    // SAFETY: kill takes no pointers; pid >= 1 names one process.
    let r = unsafe { linux::syscall3(libc::SYS_kill, pid as usize, signo as usize, 0) };
    #[cfg(not(linux_raw))]
    let r = posix::kill(pid, signo);
    match r {
        0 => Ok(()),
        e if e == -(libc::EPERM as isize) => Err(SendError::NotPermitted),
        _ => Err(SendError::NoProcess),
    }
}

/// Sends `signal` to process `pid`, which must be 1 or more.
pub fn send(pid: Pid, signal: Signal) -> Result<(), SendError> {
    kill(pid, signo(signal))
}

/// Whether process `pid` exists and is not a zombie (a finished process
/// that its parent has not reaped yet can no longer answer).
pub fn alive(pid: Pid) -> bool {
    // Signal 0 only checks for existence and permission.
    matches!(kill(pid, 0), Ok(()) | Err(SendError::NotPermitted)) && proc::state(pid) != Some(b'Z')
}

/// The sender of a signal that a handler with `SA_SIGINFO` was given: its
/// PID if it was sent with `kill(2)` (`SI_USER`) by a process, else `None`
/// (the kernel, a timer, `sigqueue`: nobody to answer).
#[cfg(not(linux_raw))]
pub(crate) fn sender(info: &libc::siginfo_t) -> Option<Pid> {
    // SAFETY: si_pid is plain data in every siginfo_t; it is only used
    // when si_code says kill(2) filled it in.
    let pid = unsafe { info.si_pid() };
    (info.si_code == SI_USER && pid >= 1).then_some(pid)
}

/// `si_code` of a signal sent with `kill(2)` (the `libc` crate has it for
/// Linux only).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const SI_USER: i32 = libc::SI_USER;
/// `si_code` of a signal sent with `kill(2)` (`sys/signal.h`).
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
pub const SI_USER: i32 = 0x10001;
/// `si_code` of a signal sent with `kill(2)` (`sys/siginfo.h`).
#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
pub const SI_USER: i32 = 0;

/// A set of signals, as the kernel takes it: bit `n - 1` is signal `n`.
#[derive(Clone, Copy)]
pub struct SigSet(pub(crate) u64);

/// The size of a [`SigSet`], passed with it to every call.
#[cfg(linux_raw)]
pub(crate) const SIGSET_SIZE: usize = core::mem::size_of::<SigSet>();

impl SigSet {
    /// The empty set.
    pub const fn empty() -> Self {
        SigSet(0)
    }

    /// This set with `signo` added.
    pub const fn with(self, signo: i32) -> Self {
        SigSet(self.0 | 1 << (signo - 1))
    }

    /// `SIGUSR1` and `SIGUSR2`.
    pub const fn usr() -> Self {
        Self::empty().with(libc::SIGUSR1).with(libc::SIGUSR2)
    }

    /// Whether `signo` is in this set.
    pub const fn contains(&self, signo: i32) -> bool {
        self.0 & 1 << (signo - 1) != 0
    }

    /// The signals pending for the calling thread or its process (blocked,
    /// not yet delivered): `rt_sigpending(2)`.
    #[cfg(not(linux_raw))]
    pub fn pending() -> Self {
        posix::pending()
    }

    /// The signals pending for the calling thread or its process (blocked,
    /// not yet delivered): `rt_sigpending(2)`.
    #[cfg(linux_raw)]
    pub fn pending() -> Self {
        let mut set = 0u64;
        // SAFETY: the kernel writes SIGSET_SIZE bytes into set, ours.
        unsafe {
            linux::syscall3(
                libc::SYS_rt_sigpending,
                &mut set as *mut u64 as usize,
                SIGSET_SIZE,
                0,
            )
        };
        SigSet(set)
    }

    /// Blocks the signals of this set (they stay pending until waited for).
    pub fn block(&self) {
        self.change_mask(libc::SIG_BLOCK);
    }

    /// Unblocks the signals of this set.
    pub fn unblock(&self) {
        self.change_mask(libc::SIG_UNBLOCK);
    }

    /// `sigprocmask(how, self)` for the calling thread.
    #[cfg(not(linux_raw))]
    fn change_mask(&self, how: i32) {
        posix::change_mask(how, self);
    }

    /// `rt_sigprocmask(how, self)` for the calling thread.
    #[cfg(linux_raw)]
    fn change_mask(&self, how: i32) {
        // SAFETY: the set is valid for reading; no old set is asked for.
        unsafe {
            linux::syscall5(
                libc::SYS_rt_sigprocmask,
                how as usize,
                &self.0 as *const u64 as usize,
                0,
                SIGSET_SIZE,
                0,
            )
        };
    }

    /// Waits up to `timeout` for one signal of this set (which must be
    /// blocked), and returns its number and sender (0 if not sent with
    /// `kill(2)`). The C-library backend gives these signals a handler of
    /// its own if they have none, and needs the handlers of the set to
    /// block each other ([`set_handler`] there blocks every signal).
    #[cfg(not(linux_raw))]
    pub fn wait(&self, timeout: Duration) -> Option<(i32, Pid)> {
        posix::wait(self, timeout)
    }

    /// Waits up to `timeout` for one signal of this set (which must be
    /// blocked), and returns its number and sender.
    #[cfg(linux_raw)]
    pub fn wait(&self, timeout: Duration) -> Option<(i32, Pid)> {
        let ts = timespec(timeout);
        // SAFETY: siginfo_t is plain data that sigtimedwait fills in.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: the set, info and ts are valid for the call.
        let signo = unsafe {
            linux::syscall5(
                libc::SYS_rt_sigtimedwait,
                &self.0 as *const u64 as usize,
                &mut info as *mut _ as usize,
                &ts as *const _ as usize,
                SIGSET_SIZE,
                0,
            )
        };
        if signo < 0 {
            return None;
        }
        // A signal from kill(2) (SI_USER) carries its sender; others do not count.
        if info.si_code != SI_USER {
            return Some((signo as i32, 0));
        }
        // SAFETY: for SI_USER the kernel filled in si_pid.
        Some((signo as i32, unsafe { info.si_pid() }))
    }
}

/// A signal handler that takes `SA_SIGINFO` arguments.
pub type Handler = extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void);

/// Installs `handler` for `signo` with `SA_SIGINFO` (`rt_sigaction(2)`), all
/// of `mask` blocked while it runs.
///
/// # Safety
///
/// `handler` must be async-signal-safe.
#[cfg(all(linux_raw, target_arch = "x86_64"))]
pub unsafe fn set_handler(signo: i32, handler: Handler, mask: &SigSet) {
    let sa = linux::KernelSigaction {
        handler: handler as *const () as usize,
        flags: (libc::SA_SIGINFO | libc::SA_RESTART) as u64 | linux::SA_RESTORER,
        restorer: linux::minitalk_restorer as *const () as usize,
        mask: mask.0,
    };
    // SAFETY: sa is a complete kernel sigaction; the caller vouches for the
    // handler, and the restorer makes the rt_sigreturn call handlers need.
    unsafe {
        linux::syscall5(
            libc::SYS_rt_sigaction,
            signo as usize,
            &sa as *const _ as usize,
            0,
            SIGSET_SIZE,
            0,
        )
    };
}

/// Installs `handler` for `signo` with `SA_SIGINFO` (`sigaction(2)`), all
/// of `mask` blocked while it runs.
///
/// # Safety
///
/// `handler` must be async-signal-safe.
#[cfg(all(linux_raw, not(target_arch = "x86_64")))]
pub unsafe fn set_handler(signo: i32, handler: Handler, mask: &SigSet) {
    // SAFETY: sigaction is plain data; every field we rely on is set below.
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = handler as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    for signo in 1..=64 {
        if mask.0 & 1 << (signo - 1) != 0 {
            // SAFETY: sa.sa_mask is an initialised set.
            unsafe { libc::sigaddset(&mut sa.sa_mask, signo) };
        }
    }
    // SAFETY: sa is fully initialised; the caller vouches for the handler.
    unsafe { libc::sigaction(signo, &sa, core::ptr::null_mut()) };
}

/// Installs `handler` for `signo` with `SA_SIGINFO` (`sigaction(2)`), every
/// signal blocked while it runs (`mask` among them), behind the C-library
/// backend's own handler, which then wakes the sleeper (see
/// [`sleep_with_mask`]).
///
/// # Safety
///
/// `handler` must be async-signal-safe.
#[cfg(not(linux_raw))]
pub unsafe fn set_handler(signo: i32, handler: Handler, mask: &SigSet) {
    // SAFETY: the caller vouches for the handler.
    unsafe { posix::set_handler(signo, handler, mask) }
}

/// Sleeps with `mask` as the signal mask until a handler has run, or
/// after `timeout` (never, if `None`), without a race: a signal that
/// arrives as the sleep begins still ends it. The C-library backend polls
/// a pipe its handlers write to, with `mask` set around the `poll`.
#[cfg(not(linux_raw))]
pub fn sleep_with_mask(timeout: Option<Duration>, mask: &SigSet) {
    posix::sleep_with_mask(timeout, mask);
}

/// Sleeps with `mask` as the signal mask, atomically (`ppoll(2)`): returns
/// when a handler has run or after `timeout` (never, if `None`). This is the
/// race-free "unblock and wait": a signal that arrived before the call is
/// still pending and ends the sleep at once.
#[cfg(linux_raw)]
pub fn sleep_with_mask(timeout: Option<Duration>, mask: &SigSet) {
    // The system call writes the time left back: the timespec must be ours
    // and writable (the C library's wrapper hides this with a copy too).
    let mut ts = timeout.map(timespec);
    let tsp = match &mut ts {
        Some(t) => t as *mut libc::timespec as usize,
        None => 0,
    };
    // SAFETY: no file descriptors; tsp is null or a valid, writable
    // timespec; mask is valid.
    unsafe {
        linux::syscall5(
            libc::SYS_ppoll,
            0,
            0,
            tsp,
            &mask.0 as *const u64 as usize,
            SIGSET_SIZE,
        )
    };
}

#[cfg(test)]
mod tests {
    //! Signals are only raised to the calling thread (`raise`), never sent
    //! to a process.
    extern crate std;

    use core::sync::atomic::{AtomicI32, Ordering};

    use super::*;

    #[test]
    fn signal_sets_are_the_kernels_bit_masks() {
        assert_eq!(SigSet::usr().0, 0xa00);
        assert_eq!(SigSet::empty().with(libc::SIGINT).0, 2);
    }

    #[test]
    fn a_blocked_raised_signal_is_pending_until_taken() {
        let _signals = crate::signal_test_lock();
        // SIGWINCH: no other test uses it; raised to this thread only.
        let set = SigSet::empty().with(libc::SIGWINCH);
        set.block();
        assert!(!SigSet::pending().contains(libc::SIGWINCH));
        // SAFETY: raise signals the calling thread, which blocks it.
        assert_eq!(unsafe { libc::raise(libc::SIGWINCH) }, 0);
        assert!(SigSet::pending().contains(libc::SIGWINCH));
        assert!(set.wait(Duration::from_secs(5)).is_some());
        assert!(!SigSet::pending().contains(libc::SIGWINCH));
        set.unblock();
    }

    #[test]
    fn kill_refuses_pids_below_one_without_a_system_call() {
        // Signal 0 only checks for existence: harmless even if the refusal failed.
        for pid in [0, -1, -42] {
            assert_eq!(kill(pid, 0), Err(SendError::BadPid));
            assert!(!alive(pid));
        }
        assert!(alive(crate::getpid()));
    }

    /// The last signal the test handler saw.
    static SEEN: AtomicI32 = AtomicI32::new(0);

    extern "C" fn note(signo: i32, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        SEEN.store(signo, Ordering::SeqCst);
    }

    /// Raises `signo` in the calling thread only.
    fn raise(signo: i32) {
        // SAFETY: raise signals the calling thread, whose handler or mask is set.
        assert_eq!(unsafe { libc::raise(signo) }, 0);
    }

    #[test]
    fn handlers_run_inside_the_sleep_and_return_through_the_restorer() {
        let _signals = crate::signal_test_lock();
        // SIGWINCH: harmless by default, and no other test of this crate uses it.
        let set = SigSet::empty().with(libc::SIGWINCH);
        set.block();
        // SAFETY: note only stores to an atomic.
        unsafe { set_handler(libc::SIGWINCH, note, &set) };
        raise(libc::SIGWINCH);
        assert_eq!(SEEN.load(Ordering::SeqCst), 0, "blocked: pending");
        // The pending signal runs the handler inside ppoll, which returns at
        // once; a broken restorer would crash here instead.
        sleep_with_mask(Some(Duration::from_secs(5)), &SigSet::empty());
        assert_eq!(SEEN.load(Ordering::SeqCst), libc::SIGWINCH);
        sleep_with_mask(Some(Duration::from_millis(1)), &SigSet::empty());
        set.unblock();
    }

    #[test]
    fn wait_takes_a_pending_signal_or_times_out() {
        let _signals = crate::signal_test_lock();
        let set = SigSet::empty().with(libc::SIGURG);
        set.block();
        assert_eq!(set.wait(Duration::from_millis(1)), None);
        raise(libc::SIGURG);
        // raise is not kill(2): no sender is reported.
        assert_eq!(set.wait(Duration::from_secs(5)), Some((libc::SIGURG, 0)));
        set.unblock();
    }
}
