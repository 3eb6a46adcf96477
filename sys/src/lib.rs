//! The operating-system layer of minitalk's `server` and `client`: safe
//! wrappers over the few Linux system calls they make (made directly, see
//! [`linux`]), and output without `core::fmt` (which would cost kilobytes in
//! a static binary).
//!
//! Invariants:
//! - `kill(2)` is called in one place, which refuses any PID below 1: no
//!   code path can signal a process group or every process (`kill(0, …)`,
//!   `kill(-1, …)`). [`send`] is the only function that sends a signal.
//! - Nothing here allocates or panics; errors are values.
#![no_std]

use minitalk_protocol::Duration;

use minitalk_protocol::{Pid, Signal};

pub mod linux;
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
    // SAFETY: kill takes no pointers; pid >= 1 names one process.
    match unsafe { linux::syscall3(libc::SYS_kill, pid as usize, signo as usize, 0) } {
        0 => Ok(()),
        e if e == -(libc::EPERM as linux::Ret) => Err(SendError::NotPermitted),
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

/// This process's ID.
pub fn getpid() -> Pid {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { linux::syscall3(libc::SYS_getpid, 0, 0, 0) as Pid }
}

/// Time on the monotonic clock.
pub fn now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    linux::clock_monotonic(&mut ts);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `d` as a `timespec`.
pub fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// A set of signals, as the kernel takes it: bit `n - 1` is signal `n`.
#[derive(Clone, Copy)]
pub struct SigSet(u64);

/// The size of a [`SigSet`], passed with it to every call.
const SIGSET_SIZE: usize = core::mem::size_of::<SigSet>();

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

    /// Blocks the signals of this set (they stay pending until waited for).
    pub fn block(&self) {
        self.change_mask(libc::SIG_BLOCK);
    }

    /// Unblocks the signals of this set.
    pub fn unblock(&self) {
        self.change_mask(libc::SIG_UNBLOCK);
    }

    /// `rt_sigprocmask(how, self)` for the calling thread.
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
    /// blocked), and returns its number and sender.
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
        if info.si_code != libc::SI_USER {
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
#[cfg(target_arch = "x86_64")]
pub unsafe fn on_signal(signo: i32, handler: Handler, mask: &SigSet) {
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
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn on_signal(signo: i32, handler: Handler, mask: &SigSet) {
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

/// Sleeps with `mask` as the signal mask, atomically (`ppoll(2)`): returns
/// when a handler has run or after `timeout` (never, if `None`). This is the
/// race-free "unblock and wait": a signal that arrived before the call is
/// still pending and ends the sleep at once.
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

/// Writes all of `bytes` to `fd`; false if that failed.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: bytes is a valid slice for the length given.
        let n = unsafe {
            linux::syscall3(
                libc::SYS_write,
                fd as usize,
                bytes.as_ptr() as usize,
                bytes.len(),
            )
        };
        if n < 0 {
            if n == -(libc::EINTR as linux::Ret) {
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
        let n = unsafe {
            linux::syscall3(
                libc::SYS_read,
                fd as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
            )
        };
        if n >= 0 {
            return Some(n as usize);
        }
        if n != -(libc::EINTR as linux::Ret) {
            return None;
        }
    }
}

/// Opens `path` (NUL-terminated) for reading; the descriptor.
pub fn open(path: &[u8]) -> Option<i32> {
    if path.last() != Some(&0) {
        return None;
    }
    // SAFETY: path is NUL-terminated; the kernel does not keep the pointer.
    let fd = unsafe {
        linux::syscall5(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            path.as_ptr() as usize,
            (libc::O_RDONLY | libc::O_CLOEXEC) as usize,
            0,
            0,
        )
    };
    (fd >= 0).then_some(fd as i32)
}

/// Closes `fd`.
pub fn close(fd: i32) {
    // SAFETY: close takes no pointers; a bad descriptor only fails.
    unsafe { linux::syscall3(libc::SYS_close, fd as usize, 0, 0) };
}

/// Waits up to `timeout` for `fd` to have input (or its end); true if so.
pub fn readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // Writable: ppoll writes the time left back (see sleep_with_mask).
    let mut ts = timespec(timeout);
    // SAFETY: pfd is one valid pollfd, ts a valid, writable timespec; no
    // signal mask.
    unsafe {
        linux::syscall5(
            libc::SYS_ppoll,
            &mut pfd as *mut _ as usize,
            1,
            &mut ts as *mut _ as usize,
            0,
            SIGSET_SIZE,
        ) > 0
    }
}

/// The size of `fd` if it is a regular file (stdin redirected from one).
pub fn file_size(fd: i32) -> Option<u64> {
    // SAFETY: stat is plain data that fstat fills in.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is valid and writable, and the C library's struct stat is
    // the kernel's on 64-bit Linux.
    let ok =
        unsafe { linux::syscall3(libc::SYS_fstat, fd as usize, &mut st as *mut _ as usize, 0) }
            == 0;
    (ok && st.st_mode & libc::S_IFMT == libc::S_IFREG).then_some(st.st_size as u64)
}

/// Whether `fd` is a terminal (it has a window size, as `isatty(3)` asks).
pub fn isatty(fd: i32) -> bool {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize, which ws is.
    unsafe {
        linux::syscall3(
            libc::SYS_ioctl,
            fd as usize,
            libc::TIOCGWINSZ as usize,
            &mut ws as *mut _ as usize,
        ) == 0
    }
}

/// Ends the process at once with `code` (`exit_group(2)`).
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers and never returns; nothing of
    // ours is buffered.
    unsafe { linux::syscall3(libc::SYS_exit_group, code as usize, 0, 0) };
    // The call does not return; should it ever, stop here all the same.
    loop {
        core::hint::spin_loop();
    }
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
            Some(core::slice::from_raw_parts(p.cast(), strlen(p.cast())))
        }
    }
}

/// The value paired with `arg` in `table`, if any: a command line's options
/// looked up in one loop. (A `match` on byte strings compiles to a compare
/// per byte of every option name: twice the size, in a static binary.)
///
/// ```
/// use minitalk_sys::lookup;
/// const OPTIONS: &[(&[u8], char)] = &[(b"-h", 'h'), (b"--help", 'h'), (b"--stats", 's')];
/// assert_eq!(lookup(b"--help", OPTIONS), Some('h'));
/// assert_eq!(lookup(b"--stat", OPTIONS), None);
/// ```
pub fn lookup<T: Copy>(arg: &[u8], table: &[(&[u8], T)]) -> Option<T> {
    table.iter().find(|(name, _)| *name == arg).map(|(_, v)| *v)
}

/// The length of the NUL-terminated string at `p`.
///
/// # Safety
///
/// `p` must point at a NUL-terminated string.
unsafe fn strlen(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller vouches for the terminator, so every byte read up
    // to it is in bounds.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
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
/// use minitalk_protocol::Duration;
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

/// A set of CPUs as the kernel takes it, for machines of up to 1024 CPUs.
#[derive(Clone, Copy)]
pub struct CpuSet([u64; 16]);

impl CpuSet {
    /// The set in force now.
    pub fn current() -> Option<CpuSet> {
        let mut set = CpuSet([0; 16]);
        // SAFETY: set is valid and writable for the size passed; 0 is this process.
        let n = unsafe {
            linux::syscall3(
                libc::SYS_sched_getaffinity,
                0,
                core::mem::size_of::<CpuSet>(),
                set.0.as_mut_ptr() as usize,
            )
        };
        (n > 0).then_some(set)
    }

    /// The set of just `cpu`.
    pub fn only(cpu: usize) -> CpuSet {
        let mut set = CpuSet([0; 16]);
        if let Some(word) = set.0.get_mut(cpu / 64) {
            *word = 1 << (cpu % 64);
        }
        set
    }

    /// Makes this the set of the calling process; false if refused.
    pub fn apply(&self) -> bool {
        // SAFETY: the set is valid for the size passed; 0 is this process.
        unsafe {
            linux::syscall3(
                libc::SYS_sched_setaffinity,
                0,
                core::mem::size_of::<CpuSet>(),
                self.0.as_ptr() as usize,
            ) == 0
        }
    }
}

/// The CPU the caller is running on.
pub fn current_cpu() -> Option<usize> {
    let mut cpu: u32 = 0;
    // SAFETY: cpu is valid and writable; the other two pointers are null.
    let r = unsafe { linux::syscall3(libc::SYS_getcpu, &mut cpu as *mut u32 as usize, 0, 0) };
    (r == 0).then_some(cpu as usize)
}

#[cfg(test)]
mod tests {
    //! The system calls against the kernel itself. Signals are only raised
    //! to the calling thread (`raise`), never sent to a process.
    extern crate std;

    use core::sync::atomic::{AtomicI32, Ordering};

    use super::*;

    #[test]
    fn signal_sets_are_the_kernels_bit_masks() {
        assert_eq!(SigSet::usr().0, 0xa00);
        assert_eq!(SigSet::empty().with(libc::SIGINT).0, 2);
    }

    #[test]
    fn kill_refuses_pids_below_one_without_a_system_call() {
        // Signal 0 only checks for existence: harmless even if the refusal failed.
        for pid in [0, -1, -42] {
            assert_eq!(kill(pid, 0), Err(SendError::BadPid));
            assert!(!alive(pid));
        }
        assert!(alive(getpid()));
    }

    #[test]
    fn pid_and_clock() {
        assert_eq!(getpid() as u32, std::process::id());
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(10));
        let b = now();
        assert!(b - a >= Duration::from_millis(10), "{a:?} then {b:?}");
    }

    #[test]
    fn files_and_pipes() {
        let fd = open(b"/proc/self/status\0").expect("/proc/self/status");
        let mut buf = [0u8; 4096];
        let n = read(fd, &mut buf).expect("read");
        assert!(buf[..n].windows(7).any(|w| w == b"SigCgt:"));
        close(fd);
        assert_eq!(open(b"/proc/self/status"), None, "no NUL: refused");
        assert_eq!(open(b"/nonexistent/minitalk\0"), None);

        let exe = open(b"/proc/self/exe\0").expect("/proc/self/exe");
        let len = std::fs::metadata("/proc/self/exe").unwrap().len();
        assert_eq!(file_size(exe), Some(len));
        assert!(!isatty(exe));
        close(exe);

        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let [r, w] = fds;
        assert!(!readable(r, Duration::ZERO));
        assert!(write_all(w, "héllo".as_bytes()));
        assert!(readable(r, Duration::from_secs(5)));
        assert_eq!(read(r, &mut buf), Some(6));
        assert_eq!(&buf[..6], "héllo".as_bytes());
        assert_eq!(file_size(r), None);
        assert!(!isatty(r));
        close(w);
        assert!(readable(r, Duration::from_secs(5)), "end of file counts");
        assert_eq!(read(r, &mut buf), Some(0));
        close(r);
    }

    #[test]
    fn cpu_sets() {
        let set = CpuSet::current().expect("sched_getaffinity");
        let cpu = current_cpu().expect("getcpu");
        assert_ne!(set.0[cpu / 64] & 1 << (cpu % 64), 0);
        assert_eq!(CpuSet::only(3).0[0], 8);
        assert_eq!(CpuSet::only(64).0[1], 1);
        assert_eq!(CpuSet::only(5000).0, [0; 16], "beyond 1024 CPUs: empty");
        assert!(set.apply(), "setting the set in force changes nothing");
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
        // SIGWINCH: harmless by default, and no other test of this crate uses it.
        let set = SigSet::empty().with(libc::SIGWINCH);
        set.block();
        // SAFETY: note only stores to an atomic.
        unsafe { on_signal(libc::SIGWINCH, note, &set) };
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
        let set = SigSet::empty().with(libc::SIGURG);
        set.block();
        assert_eq!(set.wait(Duration::from_millis(1)), None);
        raise(libc::SIGURG);
        // raise is not kill(2): no sender is reported.
        assert_eq!(set.wait(Duration::from_secs(5)), Some((libc::SIGURG, 0)));
        set.unblock();
    }
}
