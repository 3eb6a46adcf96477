//! The floor of any 1-bit stop-and-wait protocol over signals: this process
//! sends `SIGUSR1` or `SIGUSR2` to a forked child with `kill`, the child
//! sends the same signal back, and only then does the next one go. One such
//! round trip is what minitalk spends on every bit, so no minitalk build can
//! beat the round trips per second measured here.
//!
//! Two ways of waiting, used the same way on both sides:
//! - [`Wait::Handlers`]: `sigaction(SA_SIGINFO)` handlers that store the
//!   signal in an atomic, signals blocked except inside `ppoll` (the server's
//!   way);
//! - [`Wait::Sigwait`]: signals blocked, taken with `sigwaitinfo` /
//!   `sigtimedwait`, no handler runs (the client's way);
//!
//! and [`Wait::Mixed`], minitalk's own arrangement: this process (the
//! client's role) takes the replies with `sigtimedwait`, the child (the
//! server's role) runs handlers in `ppoll`.
//!
//! And two placements: [`Placement::Unpinned`] (the scheduler decides) and
//! [`Placement::OneCpu`] (both processes pinned to the CPU this process is on,
//! with `sched_setaffinity`).
//!
//! The child replies only to its parent, dies with it (`PR_SET_PDEATHSIG`),
//! and is killed and reaped when the [`PingPong`] is dropped. Only
//! async-signal-safe calls run in the child: no allocation, no panic.

use std::io;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::children;

/// How both sides wait for a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Handlers, run while `ppoll` briefly unblocks the signals.
    Handlers,
    /// Blocked signals taken with `sigwaitinfo` / `sigtimedwait`.
    Sigwait,
    /// `sigtimedwait` in this process, handlers in the child: minitalk's
    /// client and server.
    Mixed,
}

impl Wait {
    /// Every arrangement.
    pub const ALL: [Wait; 3] = [Wait::Handlers, Wait::Sigwait, Wait::Mixed];

    /// A short name for tables and benchmark IDs.
    pub fn name(self) -> &'static str {
        match self {
            Wait::Handlers => "handlers",
            Wait::Sigwait => "sigwaitinfo",
            Wait::Mixed => "mixed",
        }
    }
}

/// Where the two processes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the scheduler puts them.
    Unpinned,
    /// Both pinned to the one CPU this process is on when the child starts.
    OneCpu,
}

impl Placement {
    /// Both placements.
    pub const ALL: [Placement; 2] = [Placement::Unpinned, Placement::OneCpu];

    /// A short name for tables and benchmark IDs.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Unpinned => "unpinned",
            Placement::OneCpu => "one-cpu",
        }
    }
}

/// How long a round trip may take before the partner is given up on.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// The last signal a handler caught (0: none since it was cleared).
static CAUGHT: AtomicI32 = AtomicI32::new(0);
/// Who sent it.
static CAUGHT_FROM: AtomicI32 = AtomicI32::new(0);

/// The handler of [`Wait::Handlers`] and [`Wait::Mixed`]: atomics only.
extern "C" fn on_usr(signo: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo_t.
    let pid = unsafe { (*info).si_pid() };
    CAUGHT_FROM.store(pid, Ordering::Relaxed);
    CAUGHT.store(signo, Ordering::Release);
}

/// A running ping-pong partner: a forked child that echoes every signal.
///
/// Dropping it kills and reaps the child and restores this process's signal
/// mask, handlers and CPU affinity.
///
/// # Examples
///
/// ```no_run
/// use minitalk_benches::pingpong::{PingPong, Placement, Wait};
///
/// let mut pp = PingPong::start(Wait::Sigwait, Placement::OneCpu).unwrap();
/// let elapsed = pp.round_trips(10_000).unwrap();
/// println!("{:.0} round trips/s", 10_000.0 / elapsed.as_secs_f64());
/// ```
pub struct PingPong {
    child: libc::pid_t,
    wait: Wait,
    /// `SIGUSR1` and `SIGUSR2`.
    usr: libc::sigset_t,
    /// No signal at all: the mask inside `ppoll`.
    empty: libc::sigset_t,
    old_mask: libc::sigset_t,
    old_actions: Option<[libc::sigaction; 2]>,
    old_affinity: Option<libc::cpu_set_t>,
}

impl PingPong {
    /// Forks the partner, waiting in the way `wait`, placed as `placement`.
    pub fn start(wait: Wait, placement: Placement) -> io::Result<PingPong> {
        children::install_panic_hook();
        let usr = sigset(&[libc::SIGUSR1, libc::SIGUSR2]);
        let empty = sigset(&[]);
        let mut old_mask = sigset(&[]);
        // SAFETY: both sets are valid; SIG_BLOCK only adds to the mask.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &usr, &mut old_mask) };
        // From here on, Drop puts everything back, whatever fails.
        let mut pp = PingPong {
            child: 0,
            wait,
            usr,
            empty,
            old_mask,
            old_actions: None,
            old_affinity: None,
        };
        // The child inherits the handlers (Mixed: only the child runs them).
        if wait != Wait::Sigwait {
            pp.old_actions = Some([install(libc::SIGUSR1, &usr)?, install(libc::SIGUSR2, &usr)?]);
        }
        if placement == Placement::OneCpu {
            pp.old_affinity = Some(affinity()?);
            // SAFETY: sched_getcpu has no preconditions.
            let cpu = unsafe { libc::sched_getcpu() };
            if cpu < 0 {
                return Err(io::Error::last_os_error());
            }
            set_affinity(&only_cpu(cpu as usize))?;
        }
        // SAFETY: getpid cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the child runs only async-signal-safe calls, then _exit
        // (`pong` never returns): fine even after a fork of a threaded process.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => pong(wait, parent, &usr, &empty),
            child => {
                children::register(child);
                pp.child = child;
                Ok(pp)
            }
        }
    }

    /// The partner's PID.
    pub fn child(&self) -> libc::pid_t {
        self.child
    }

    /// Runs `n` round trips, alternating `SIGUSR1` and `SIGUSR2`, and returns
    /// how long they took. Fails if the partner does not answer within two
    /// seconds.
    pub fn round_trips(&mut self, n: u64) -> io::Result<Duration> {
        let timeout = timespec(REPLY_TIMEOUT);
        let start = Instant::now();
        for i in 0..n {
            let signo = if i % 2 == 0 {
                libc::SIGUSR1
            } else {
                libc::SIGUSR2
            };
            // SAFETY: kill has no memory-safety preconditions. The child is
            // ours, >= 1 and not reaped before `self` is dropped (a direct
            // call: no registry lookup in the measured loop).
            if self.child < 1 || unsafe { libc::kill(self.child, signo) } != 0 {
                return Err(io::Error::other("the ping-pong partner is gone"));
            }
            match self.wait {
                Wait::Handlers => self.await_handler(signo, &timeout)?,
                Wait::Sigwait | Wait::Mixed => self.await_sigwait(signo, &timeout)?,
            }
        }
        Ok(start.elapsed())
    }

    /// Sleeps in `ppoll` until the handler caught `signo` from the partner.
    fn await_handler(&self, signo: i32, timeout: &libc::timespec) -> io::Result<()> {
        let mut since: Option<Instant> = None;
        loop {
            // SAFETY: no descriptors; timeout and mask are valid.
            unsafe { libc::ppoll(std::ptr::null_mut(), 0, timeout, &self.empty) };
            let got = CAUGHT.swap(0, Ordering::Acquire);
            if got == signo && CAUGHT_FROM.load(Ordering::Relaxed) == self.child {
                return Ok(());
            }
            // Woken by something else: give up only after the timeout.
            if since.get_or_insert_with(Instant::now).elapsed() > REPLY_TIMEOUT {
                return Err(io::Error::other("no reply from the ping-pong partner"));
            }
        }
    }

    /// Takes the blocked `signo` from the partner with `sigtimedwait`.
    fn await_sigwait(&self, signo: i32, timeout: &libc::timespec) -> io::Result<()> {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        loop {
            // SAFETY: the set, info and timeout are valid for the call.
            let got = unsafe { libc::sigtimedwait(&self.usr, info.as_mut_ptr(), timeout) };
            if got < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(io::Error::other(format!(
                    "no reply from the ping-pong partner ({e})"
                )));
            }
            // SAFETY: sigtimedwait filled info in; si_pid is valid for kill(2).
            let from = unsafe { info.assume_init_ref().si_pid() };
            if got == signo && from == self.child {
                return Ok(());
            }
        }
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        children::reap(self.child);
        // Take any signal still pending, so that restoring the mask cannot
        // run a default action (which for SIGUSR1/2 is to terminate).
        let zero = timespec(Duration::ZERO);
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: the set, info and timeout are valid for the call.
        while unsafe { libc::sigtimedwait(&self.usr, info.as_mut_ptr(), &zero) } > 0 {}
        if let Some([a1, a2]) = self.old_actions {
            // SAFETY: a1 and a2 are the actions that sigaction returned.
            unsafe {
                libc::sigaction(libc::SIGUSR1, &a1, std::ptr::null_mut());
                libc::sigaction(libc::SIGUSR2, &a2, std::ptr::null_mut());
            }
        }
        // SAFETY: old_mask is the mask sigprocmask returned in `start`.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
        if let Some(set) = self.old_affinity {
            let _ = set_affinity(&set);
        }
    }
}

/// The child: echoes every signal from `parent` back to it, until killed.
/// Async-signal-safe calls only; never returns.
fn pong(wait: Wait, parent: libc::pid_t, usr: &libc::sigset_t, empty: &libc::sigset_t) -> ! {
    // SAFETY: plain system calls on valid arguments; _exit never returns.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent || parent < 1 {
            libc::_exit(0); // the parent is already gone
        }
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        loop {
            let (signo, from) = match wait {
                Wait::Handlers | Wait::Mixed => {
                    libc::ppoll(std::ptr::null_mut(), 0, std::ptr::null(), empty);
                    let signo = CAUGHT.swap(0, Ordering::Acquire);
                    (signo, CAUGHT_FROM.load(Ordering::Relaxed))
                }
                Wait::Sigwait => {
                    let signo = libc::sigwaitinfo(usr, info.as_mut_ptr());
                    (signo, info.assume_init_ref().si_pid())
                }
            };
            if signo > 0 && from == parent {
                libc::kill(parent, signo);
            }
        }
    }
}

/// A signal set holding `signals`.
fn sigset(signals: &[i32]) -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigemptyset initialises the set; sigaddset adds valid signals.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &s in signals {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        set.assume_init()
    }
}

/// Installs [`on_usr`] for `signo`, `mask` blocked while it runs; returns
/// the action it replaces.
fn install(signo: i32, mask: &libc::sigset_t) -> io::Result<libc::sigaction> {
    // SAFETY: sigaction is plain data; every field we rely on is set.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_usr as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    sa.sa_mask = *mask;
    // SAFETY: as above; old is written by the kernel.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: sa and old are valid; on_usr touches atomics only.
    if unsafe { libc::sigaction(signo, &sa, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// The CPUs this process may run on.
pub(crate) fn affinity() -> io::Result<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is valid and its size is passed; 0 is this process.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(set)
}

/// Makes `set` the CPUs this process may run on.
pub(crate) fn set_affinity(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: set is valid and its size is passed; 0 is this process.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The set of just `cpu`.
pub(crate) fn only_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu < libc::CPU_SETSIZE as usize {
        // SAFETY: cpu is within the set's capacity.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    set
}
