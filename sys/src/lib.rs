//! The operating-system layer of minitalk's `server` and `client`: the few
//! Linux system calls they make, safe wrappers around `libc`, and output
//! without `core::fmt` (which would cost kilobytes in a static binary).
//!
//! Invariants:
//! - [`send`] is the only function that calls `kill(2)` with a signal, and it
//!   refuses any PID below 1: no code path can signal a process group or
//!   every process (`kill(0, …)`, `kill(-1, …)`).
//! - Nothing here allocates or panics; errors are values.
#![no_std]

use core::time::Duration;

use minitalk_protocol::{Pid, Signal};

pub mod out;
pub mod proc;

pub use out::Line;

/// Standard input, output and error.
pub const STDIN: i32 = 0;
/// Standard output.
pub const STDOUT: i32 = 1;
/// Standard error.
pub const STDERR: i32 = 2;

/// The largest PID Linux can hand out (`PID_MAX_LIMIT` on 64-bit kernels).
pub const PID_MAX: Pid = 4_194_304;

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

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
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

/// Sends `signal` to process `pid`, which must be 1 or more.
pub fn send(pid: Pid, signal: Signal) -> Result<(), SendError> {
    if pid < 1 {
        return Err(SendError::BadPid);
    }
    // SAFETY: kill has no memory-safety preconditions; pid >= 1 names one process.
    if unsafe { libc::kill(pid, signo(signal)) } == 0 {
        return Ok(());
    }
    Err(match errno() {
        libc::EPERM => SendError::NotPermitted,
        _ => SendError::NoProcess,
    })
}

/// Whether process `pid` exists and is not a zombie (a finished process
/// that its parent has not reaped yet can no longer answer).
pub fn alive(pid: Pid) -> bool {
    if pid < 1 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(pid, 0) } == 0 || errno() == libc::EPERM;
    exists && proc::state(pid) != Some(b'Z')
}

/// This process's ID.
pub fn getpid() -> Pid {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Time on the monotonic clock.
pub fn now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `d` as a `timespec`.
pub fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// A set of signals.
#[derive(Clone, Copy)]
pub struct SigSet(pub libc::sigset_t);

impl SigSet {
    /// The empty set.
    pub fn empty() -> Self {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            SigSet(set)
        }
    }

    /// This set with `signo` added.
    pub fn with(mut self, signo: i32) -> Self {
        // SAFETY: self.0 is an initialised set and signo a valid signal number.
        unsafe { libc::sigaddset(&mut self.0, signo) };
        self
    }

    /// `SIGUSR1` and `SIGUSR2`.
    pub fn usr() -> Self {
        Self::empty().with(libc::SIGUSR1).with(libc::SIGUSR2)
    }

    /// Blocks the signals of this set (they stay pending until waited for)
    /// and returns the mask that was in force before.
    pub fn block(&self) -> SigSet {
        let mut old = SigSet::empty();
        // SAFETY: both sets are valid; SIG_BLOCK only adds to the mask.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &self.0, &mut old.0) };
        old
    }

    /// Waits up to `timeout` for one signal of this set (which must be
    /// blocked), and returns its number and sender.
    pub fn wait(&self, timeout: Duration) -> Option<(i32, Pid)> {
        let ts = timespec(timeout);
        // SAFETY: siginfo_t is plain data that sigtimedwait fills in.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: the set, info and ts are valid for the call.
        let signo = unsafe { libc::sigtimedwait(&self.0, &mut info, &ts) };
        if signo < 0 {
            return None;
        }
        // A signal from kill(2) (SI_USER) carries its sender; others do not count.
        if info.si_code != libc::SI_USER {
            return Some((signo, 0));
        }
        // SAFETY: for SI_USER the kernel filled in si_pid.
        Some((signo, unsafe { info.si_pid() }))
    }
}

/// Installs `handler` for `signo` with `SA_SIGINFO`, all of `mask` blocked
/// while it runs.
///
/// # Safety
///
/// `handler` must be async-signal-safe.
pub unsafe fn on_signal(
    signo: i32,
    handler: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void),
    mask: &SigSet,
) {
    // SAFETY: sigaction is plain data; every field we rely on is set below.
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = handler as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    sa.sa_mask = mask.0;
    // SAFETY: sa is fully initialised; the caller vouches for the handler.
    unsafe { libc::sigaction(signo, &sa, core::ptr::null_mut()) };
}

/// Sleeps with `mask` as the signal mask, atomically (`ppoll(2)`): returns
/// when a handler has run or after `timeout` (never, if `None`). This is the
/// race-free "unblock and wait": a signal that arrived before the call is
/// still pending and ends the sleep at once.
pub fn sleep_with_mask(timeout: Option<Duration>, mask: &SigSet) {
    let ts = timeout.map(timespec);
    let tsp = match &ts {
        Some(t) => t as *const libc::timespec,
        None => core::ptr::null(),
    };
    // SAFETY: no file descriptors; tsp is null or a valid timespec; mask is valid.
    unsafe { libc::ppoll(core::ptr::null_mut(), 0, tsp, &mask.0) };
}

/// Writes all of `bytes` to `fd`; false if that failed.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: bytes is a valid slice for the length given.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

/// Reads into `buf`; the number of bytes (0 at end of file), or `None` on error.
pub fn read(fd: i32, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: buf is valid and writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Some(n as usize);
        }
        if errno() != libc::EINTR {
            return None;
        }
    }
}

/// Waits up to `timeout` for `fd` to have input (or its end); true if so.
pub fn readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfd is one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

/// The size of `fd` if it is a regular file (stdin redirected from one).
pub fn file_size(fd: i32) -> Option<u64> {
    // SAFETY: stat is plain data that fstat fills in.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is valid and writable.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    (ok && st.st_mode & libc::S_IFMT == libc::S_IFREG).then_some(st.st_size as u64)
}

/// Whether `fd` is a terminal.
pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Ends the process at once with `code`.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and needs no cleanup from us (no buffers).
    unsafe { libc::_exit(code) }
}

/// The command-line arguments, from the `argc` and `argv` given to `main`.
#[derive(Clone, Copy)]
pub struct Args {
    argv: *const *const libc::c_char,
    argc: usize,
}

impl Args {
    /// # Safety
    ///
    /// `argv` must hold `argc` valid NUL-terminated strings, alive for the
    /// whole program (as `main`'s are).
    pub unsafe fn new(argc: i32, argv: *const *const libc::c_char) -> Self {
        Args {
            argv,
            argc: argc.max(0) as usize,
        }
    }

    /// How many arguments, the program name included.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether there are none at all.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Argument `i` as bytes (0 is the program name).
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, and Args::new's caller vouched for argv.
        unsafe {
            let p = *self.argv.add(i);
            Some(core::slice::from_raw_parts(p.cast(), libc::strlen(p)))
        }
    }
}

/// Parses a PID strictly: decimal digits only, no sign, no spaces, no
/// leading zero, from 1 to [`PID_MAX`].
///
/// ```
/// use minitalk_sys::parse_pid;
/// assert_eq!(parse_pid(b"4242"), Some(4242));
/// for bad in [&b"0"[..], b"-1", b"+42", b" 42", b"12abc", b"0x10", b"042", b"", b"99999999999"] {
///     assert_eq!(parse_pid(bad), None);
/// }
/// ```
pub fn parse_pid(s: &[u8]) -> Option<Pid> {
    if s.is_empty() || s.len() > 7 || s[0] == b'0' {
        return None;
    }
    let mut n: Pid = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as Pid;
    }
    (n <= PID_MAX).then_some(n)
}

/// Parses a decimal number of seconds with up to three decimals ("2", "0.5").
///
/// ```
/// use core::time::Duration;
/// use minitalk_sys::parse_seconds;
/// assert_eq!(parse_seconds(b"2"), Some(Duration::from_secs(2)));
/// assert_eq!(parse_seconds(b"0.25"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_seconds(b"0"), None);
/// assert_eq!(parse_seconds(b"1e3"), None);
/// ```
pub fn parse_seconds(s: &[u8]) -> Option<Duration> {
    let (int, frac) = match s.iter().position(|&c| c == b'.') {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &b""[..]),
    };
    if int.is_empty() || int.len() > 6 || frac.len() > 3 {
        return None;
    }
    let mut ms: u64 = 0;
    for &c in int {
        ms = ms * 10 + u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
    }
    ms *= 1000;
    let mut scale = 100;
    for &c in frac {
        ms += scale * u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
        scale /= 10;
    }
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// The CPUs this process may run on.
#[derive(Clone, Copy)]
pub struct CpuSet(libc::cpu_set_t);

impl CpuSet {
    /// The set in force now.
    pub fn current() -> Option<CpuSet> {
        // SAFETY: cpu_set_t is plain data that sched_getaffinity fills in.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        // SAFETY: set is valid and its size is passed.
        let ok = unsafe {
            libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set)
        } == 0;
        ok.then_some(CpuSet(set))
    }

    /// The set of just `cpu`.
    pub fn only(cpu: usize) -> CpuSet {
        // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        if cpu < libc::CPU_SETSIZE as usize {
            // SAFETY: cpu is within the set's capacity.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        CpuSet(set)
    }

    /// Makes this the set of the calling process; false if refused.
    pub fn apply(&self) -> bool {
        // SAFETY: the set is valid and its size is passed; 0 is this process.
        unsafe { libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &self.0) == 0 }
    }
}

/// The CPU the caller is running on.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    (cpu >= 0).then_some(cpu as usize)
}
