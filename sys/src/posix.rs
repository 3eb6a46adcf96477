//! The portable backend: the C library only, through the `libc` crate. It
//! is the backend on every system but Linux, and on Linux with the cargo
//! feature `posix` (the static Linux build keeps [raw system calls]).
//!
//! Calls return what the raw ones do (a value, or `-errno`), so that the
//! code above them is the same for both backends.
//!
//! ## Waiting for a signal or a deadline, without a race
//!
//! Linux waits with `ppoll(…, mask)` and `rt_sigtimedwait`, which unblock
//! signals and sleep in one step. macOS has neither `ppoll` nor
//! `sigtimedwait`, and its `pselect` is not atomic. So every handler set
//! through [`set_handler`] is installed behind [`trampoline`], which runs
//! the program's handler (or, for a [`wait`] under way, records the signal
//! and its sender as pending, as the kernel would), then sends one byte to a
//! self-pipe (non-blocking: a full pipe is awake enough), keeping `errno`.
//! A sleep empties the pipe with the signals still blocked, unblocks them,
//! and `poll`s the pipe: a signal that arrives anywhere after the emptying,
//! even before `poll`, has left a byte in it, and `poll` returns at once.
//!
//! The self-pipe is a pair of connected sockets, written with `send`: on
//! Linux a `write(2)` counts in `/proc/<pid>/io` `wchar`, which clients read
//! as the server's output moving, and every signal a stalled server got
//! would make it look busy (a client then never gave up on a server whose
//! output nobody read).
//!
//! [raw system calls]: https://man7.org/linux/man-pages/man2/syscall.2.html

use core::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

use minitalk_protocol::{Duration, Pid};

use crate::signal::{Handler, SigSet};

/// A call's result: a value, or `-errno`.
pub type Ret = isize;

/// This thread's `errno`.
fn errno() -> *mut i32 {
    // SAFETY: each returns the calling thread's errno, always valid.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return libc::__errno_location();
        #[cfg(any(
            target_vendor = "apple",
            target_os = "freebsd",
            target_os = "dragonfly"
        ))]
        return libc::__error();
        #[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
        return libc::__errno();
    }
}

/// `r` in the raw convention: -1 becomes `-errno`.
fn ret(r: isize) -> Ret {
    if r == -1 {
        // SAFETY: errno() is this thread's errno.
        -(unsafe { *errno() } as Ret)
    } else {
        r
    }
}

/// `read(2)` once.
pub fn read(fd: i32, buf: &mut [u8]) -> Ret {
    // SAFETY: buf is valid and writable for its length.
    ret(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// `write(2)` once.
pub fn write(fd: i32, bytes: &[u8]) -> Ret {
    // SAFETY: bytes is valid for its length.
    ret(unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) })
}

/// `open(2)` of the NUL-terminated `path`.
pub fn open(path: &[u8], flags: i32) -> Ret {
    // SAFETY: the caller checked the terminator; the mode is not read
    // without O_CREAT.
    ret(unsafe { libc::open(path.as_ptr().cast(), flags, 0) } as isize)
}

/// `close(2)`.
pub fn close(fd: i32) {
    // SAFETY: close takes no pointers; a bad descriptor only fails.
    unsafe { libc::close(fd) };
}

/// `fstat(2)`: the file's type bits and size, if it worked.
pub fn fstat(fd: i32) -> Option<(libc::mode_t, u64)> {
    // SAFETY: stat is plain data that fstat fills in.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is valid and writable.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    ok.then_some((st.st_mode & libc::S_IFMT, st.st_size as u64))
}

/// `ioctl(fd, request, arg)`.
///
/// # Safety
///
/// `arg` must be what `request` reads or writes.
pub unsafe fn ioctl<T>(fd: i32, request: libc::c_ulong, arg: *mut T) -> Ret {
    // SAFETY: the caller vouches for arg; the request's C type differs by
    // system (hence the cast).
    ret(unsafe { libc::ioctl(fd, request as _, arg) } as isize)
}

/// `kill(2)`; the caller has refused PIDs below 1.
pub fn kill(pid: Pid, signo: i32) -> Ret {
    // SAFETY: kill takes no pointers.
    ret(unsafe { libc::kill(pid, signo) } as isize)
}

/// This process's PID.
pub fn getpid() -> Pid {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// Reads the monotonic clock into `ts`.
pub fn clock_monotonic(ts: &mut libc::timespec) {
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, ts) };
}

/// Ends the process at once with `code` (`_exit(2)`: nothing is flushed,
/// nothing of ours is buffered).
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit takes no pointers and never returns.
    unsafe { libc::_exit(code) }
}

// --- Signal sets ----------------------------------------------------------

/// The highest signal number a [`SigSet`] holds.
const MAX_SIGNO: i32 = 64;

/// `set` as the C library's `sigset_t`.
fn sigset(set: &SigSet) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut s: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: s is a valid set.
    unsafe { libc::sigemptyset(&mut s) };
    for signo in 1..=MAX_SIGNO {
        if set.contains(signo) {
            // SAFETY: s is initialised; a number the system lacks is refused.
            unsafe { libc::sigaddset(&mut s, signo) };
        }
    }
    s
}

/// The signals pending for the calling thread or its process (`sigpending`).
pub fn pending() -> SigSet {
    // SAFETY: sigset_t is plain data that sigpending fills in.
    let mut s: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: s is valid and writable.
    unsafe { libc::sigpending(&mut s) };
    (1..=MAX_SIGNO)
        // SAFETY: s is initialised; a number the system lacks is not a member.
        .filter(|&signo| unsafe { libc::sigismember(&s, signo) } == 1)
        .fold(SigSet::empty(), SigSet::with)
}

/// `sigprocmask(how, set)`; the mask before, as a `sigset_t`.
fn set_mask(how: i32, set: &libc::sigset_t) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data that sigprocmask fills in.
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: both sets are valid. (A program of one thread: sigprocmask
    // is the thread's mask.)
    unsafe { libc::sigprocmask(how, set, &mut old) };
    old
}

/// Blocks (`SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) the signals of `set`.
pub fn change_mask(how: i32, set: &SigSet) {
    set_mask(how, &sigset(set));
}

// --- Handlers, the self-pipe, and waits -------------------------------------

/// The self-pipe: its read end and its write end (-1: not open yet).
static PIPE: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];
/// The program's handler of each signal (0: none, the signal is only
/// waited for), which [`trampoline`] calls.
static HANDLERS: [AtomicUsize; MAX_SIGNO as usize + 1] =
    [const { AtomicUsize::new(0) }; MAX_SIGNO as usize + 1];
/// The signals whose handler is [`trampoline`].
static INSTALLED: AtomicU64 = AtomicU64::new(0);
/// The signals a [`wait`] is taking now: [`trampoline`] records them in
/// [`TAKEN`] instead of calling the program's handler (as `sigtimedwait`
/// takes a signal instead of its handler).
static WAITING: AtomicU64 = AtomicU64::new(0);
/// Signals taken for [`wait`] and not returned yet. As the kernel keeps a
/// standard signal pending, one of a number at most: a second one while
/// the first is here is merged with it (the first sender is kept), and the
/// lowest number is returned first, as `sigtimedwait` does. (A queue would
/// hand a client replies that Linux merges, and put it out of step.)
static TAKEN: AtomicU64 = AtomicU64::new(0);
/// The sender of each signal in [`TAKEN`] (0: not sent with `kill`).
static TAKEN_FROM: [AtomicI32; MAX_SIGNO as usize + 1] =
    [const { AtomicI32::new(0) }; MAX_SIGNO as usize + 1];

/// Bit of `signo` in a [`SigSet`]'s word.
fn bit(signo: i32) -> u64 {
    SigSet::empty().with(signo).0
}

/// Opens the self-pipe (a socket pair, see the module's documentation)
/// unless it is open: both ends non-blocking and closed on `exec` (with
/// `fcntl`: macOS has neither `pipe2` nor `SOCK_CLOEXEC`). False if it
/// cannot be opened (then sleeps only time out, and waits poll).
fn open_pipe() -> bool {
    if PIPE[0].load(Ordering::Acquire) >= 0 {
        return true;
    }
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors socketpair writes.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } != 0 {
        return false;
    }
    for fd in fds {
        // SAFETY: fcntl on descriptors of ours, with integer arguments.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    // The write end first: a handler that sees the read end sees both.
    PIPE[1].store(fds[1], Ordering::Release);
    PIPE[0].store(fds[0], Ordering::Release);
    true
}

/// Empties the self-pipe: wake-ups before this are spent.
fn drain() {
    let mut buf = [0u8; 64];
    let fd = PIPE[0].load(Ordering::Acquire);
    // SAFETY: buf is valid and writable for its length.
    while unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) } > 0 {}
}

/// The handler behind every handler of this backend: see the module's
/// documentation. Async-signal-safe: atomics, the program's own
/// (async-signal-safe) handler, `write(2)`; `errno` is kept.
extern "C" fn trampoline(signo: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let errno = errno();
    // SAFETY: errno() is this thread's errno.
    let saved = unsafe { *errno };
    if (1..=MAX_SIGNO).contains(&signo) {
        if WAITING.load(Ordering::Relaxed) & bit(signo) != 0 {
            // SAFETY: the system hands an SA_SIGINFO handler a valid siginfo_t.
            let from = crate::signal::sender(unsafe { &*info }).unwrap_or(0);
            if TAKEN.load(Ordering::Relaxed) & bit(signo) == 0 {
                TAKEN_FROM[signo as usize].store(from, Ordering::Relaxed);
                TAKEN.fetch_or(bit(signo), Ordering::Relaxed);
            }
        } else {
            let h = HANDLERS[signo as usize].load(Ordering::Relaxed);
            if h != 0 {
                // SAFETY: only set_handler stores here, and it stores a Handler.
                let h: Handler = unsafe { core::mem::transmute::<usize, Handler>(h) };
                h(signo, info, ctx);
            }
        }
    }
    // A full pipe already wakes the sleeper: the result does not matter.
    // send, not write: not counted as output (see the module's documentation).
    let fd = PIPE[1].load(Ordering::Acquire);
    if fd >= 0 {
        // SAFETY: one byte from a valid buffer; send is async-signal-safe.
        unsafe { libc::send(fd, [0u8].as_ptr().cast(), 1, 0) };
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// Installs [`trampoline`] for `signo` (`sigaction` with `SA_SIGINFO`),
/// every signal blocked while it runs: the handlers, however their masks
/// were asked for, never interrupt each other.
fn install(signo: i32) {
    open_pipe();
    // SAFETY: sigaction is plain data; every field we rely on is set below.
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = trampoline as *const () as usize;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: sa.sa_mask is a valid set.
    unsafe { libc::sigfillset(&mut sa.sa_mask) };
    // SAFETY: sa is fully initialised; the trampoline is async-signal-safe.
    if unsafe { libc::sigaction(signo, &sa, core::ptr::null_mut()) } == 0 {
        INSTALLED.fetch_or(bit(signo), Ordering::Relaxed);
    }
}

/// Makes `handler` the handler of `signo` (behind [`trampoline`]). Every
/// signal is blocked while it runs, `mask` included.
///
/// # Safety
///
/// `handler` must be async-signal-safe.
pub unsafe fn set_handler(signo: i32, handler: Handler, _mask: &SigSet) {
    if let Some(slot) = HANDLERS.get(signo as usize) {
        slot.store(handler as usize, Ordering::Relaxed);
        install(signo);
    }
}

/// `timeout` in whole milliseconds for `poll`, rounded up (a sleep never
/// ends before its deadline, and never spins on one under a millisecond
/// away); `None` is -1, forever.
fn poll_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}

/// `poll` on `fd` for `events` and on the self-pipe, with the signal mask
/// `mask` while it sleeps, up to `timeout`: returns when `fd` is ready (then
/// true), a handler ran, or the time is up.
pub fn poll_with_mask(fd: i32, events: i16, timeout: Option<Duration>, mask: &SigSet) -> bool {
    let awake = PIPE[0].load(Ordering::Acquire);
    if awake >= 0 {
        drain();
    }
    let mut fds = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: awake,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let old = set_mask(libc::SIG_SETMASK, &sigset(mask));
    // SAFETY: fds holds two valid pollfds (a negative descriptor is skipped).
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, poll_ms(timeout)) };
    set_mask(libc::SIG_SETMASK, &old);
    ready > 0 && fds[0].revents & events != 0
}

/// Sleeps with `mask` as the signal mask until a handler has run or
/// `timeout` passed (never, if `None`): see the module's documentation.
pub fn sleep_with_mask(timeout: Option<Duration>, mask: &SigSet) {
    poll_with_mask(-1, 0, timeout, mask);
}

/// Waits up to `timeout` for one signal of `set` (which must be blocked),
/// and returns its number and sender (0 if not sent with `kill`): what
/// `sigtimedwait` does on Linux. The signals of `set` get
/// [`trampoline`] as their handler if they have none of this backend yet;
/// while the wait lasts, it takes them instead of their handler.
///
/// A signal taken but not returned (two arrived at once) stays pending for
/// the next wait ([`TAKEN`]).
pub fn wait(set: &SigSet, timeout: Duration) -> Option<(i32, Pid)> {
    for signo in 1..=MAX_SIGNO {
        if set.contains(signo) && INSTALLED.load(Ordering::Relaxed) & bit(signo) == 0 {
            install(signo);
        }
    }
    let deadline = crate::now() + timeout;
    loop {
        let taken = TAKEN.load(Ordering::Relaxed) & set.0;
        if taken != 0 {
            let signo = taken.trailing_zeros() as i32 + 1;
            TAKEN.fetch_and(!bit(signo), Ordering::Relaxed);
            return Some((signo, TAKEN_FROM[signo as usize].load(Ordering::Relaxed)));
        }
        let now = crate::now();
        if now >= deadline {
            return None;
        }
        // Only `set` is unblocked, for the poll: the rest of the mask stays.
        let unblocked = sigset(set);
        WAITING.store(set.0, Ordering::Relaxed);
        let awake = PIPE[0].load(Ordering::Acquire);
        if awake >= 0 {
            drain();
        }
        let mut pfd = libc::pollfd {
            fd: awake,
            events: libc::POLLIN,
            revents: 0,
        };
        set_mask(libc::SIG_UNBLOCK, &unblocked);
        // SAFETY: pfd is one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, poll_ms(Some(deadline - now))) };
        set_mask(libc::SIG_BLOCK, &unblocked);
        WAITING.store(0, Ordering::Relaxed);
    }
}

/// Polls `fd` for `events` up to `timeout`, no signal mask change; true if
/// it is ready, or at its end or in error (a `read` or `write` then does
/// not wait either).
pub fn poll_one(fd: i32, events: i16, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, poll_ms(Some(timeout))) > 0 }
}

/// The most a pipe takes in one write without blocking once `poll` says it
/// has room: `PIPE_BUF` bytes (4096 on Linux, 512 on macOS and the BSDs,
/// whose `poll` says a pipe has room when `PIPE_BUF` bytes fit).
const PIPE_ROOM: usize = libc::PIPE_BUF;

/// One write of `bytes` to `fd` that does not sleep for want of room,
/// without `O_NONBLOCK` (the file description may be shared, and another
/// process's writes must not start failing): to a pipe or socket, only
/// when `poll` says it has room and at most [`PIPE_ROOM`] bytes (`-EAGAIN`
/// if it has none); to anything else `-EOPNOTSUPP`, so that the caller
/// writes the ordinary way. Another writer on the same pipe can still fill
/// it between the `poll` and the write: then the write waits, as any
/// write would (README, "macOS and the BSDs").
pub fn write_nowait(fd: i32, bytes: &[u8]) -> Ret {
    match fstat(fd) {
        Some((kind, _)) if kind == libc::S_IFIFO || kind == libc::S_IFSOCK => {
            if !poll_one(fd, libc::POLLOUT, Duration::ZERO) {
                return -(libc::EAGAIN as Ret);
            }
            write(fd, &bytes[..bytes.len().min(PIPE_ROOM)])
        }
        _ => -(libc::EOPNOTSUPP as Ret),
    }
}

#[cfg(test)]
mod tests {
    //! The backend's own parts; the rest is tested through the API in the
    //! other modules (`cargo test -p minitalk-sys --features posix`).
    use core::sync::atomic::AtomicI32;

    use super::*;

    #[test]
    fn poll_timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(poll_ms(None), -1);
        assert_eq!(poll_ms(Some(Duration::ZERO)), 0);
        assert_eq!(poll_ms(Some(Duration::from_nanos(1))), 1);
        assert_eq!(poll_ms(Some(Duration::from_micros(1500))), 2);
        assert_eq!(poll_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(poll_ms(Some(Duration::from_secs(1 << 40))), i32::MAX);
    }

    #[test]
    fn the_self_pipe_is_non_blocking_and_closed_on_exec() {
        let _signals = crate::signal_test_lock();
        assert!(open_pipe());
        for end in &PIPE {
            let fd = end.load(Ordering::Acquire);
            // SAFETY: fcntl queries of a descriptor of ours.
            let (fl, fd_flags) = unsafe {
                (
                    libc::fcntl(fd, libc::F_GETFL),
                    libc::fcntl(fd, libc::F_GETFD),
                )
            };
            assert_ne!(fl & libc::O_NONBLOCK, 0, "fd {fd}");
            assert_ne!(fd_flags & libc::FD_CLOEXEC, 0, "fd {fd}");
        }
    }

    /// What the handler of the next test saw of errno, and changes it to.
    static ERRNO_SEEN: AtomicI32 = AtomicI32::new(0);

    extern "C" fn clobbers_errno(_: i32, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: errno() is this thread's errno.
        unsafe {
            ERRNO_SEEN.store(*errno(), Ordering::SeqCst);
            *errno() = libc::EBADF;
        }
    }

    #[test]
    fn the_trampoline_keeps_errno_and_wakes_the_sleeper() {
        let _signals = crate::signal_test_lock();
        // Called directly, as the system would: no signal is sent.
        HANDLERS[libc::SIGWINCH as usize]
            .store(clobbers_errno as *const () as usize, Ordering::Relaxed);
        assert!(open_pipe());
        drain();
        // SAFETY: siginfo_t is plain data; the handler does not read it.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: errno() is this thread's errno.
        unsafe { *errno() = libc::EINTR };
        trampoline(libc::SIGWINCH, &mut info, core::ptr::null_mut());
        // SAFETY: as above.
        assert_eq!(unsafe { *errno() }, libc::EINTR, "errno kept");
        assert_eq!(ERRNO_SEEN.load(Ordering::SeqCst), libc::EINTR);
        // The byte it wrote ends the next sleep at once (5 s otherwise).
        let wake = PIPE[0].load(Ordering::Acquire);
        assert!(poll_one(wake, libc::POLLIN, Duration::from_secs(5)));
        HANDLERS[libc::SIGWINCH as usize].store(0, Ordering::Relaxed);
        drain();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn wake_ups_are_not_output() {
        // Clients read a server's written bytes (/proc/<pid>/io, wchar) as
        // a sign that its output moves: a wake-up must not count.
        let _signals = crate::signal_test_lock();
        assert!(open_pipe());
        // This thread's own counter: the harness writes to stdout meanwhile.
        let wchar = || -> u64 {
            let io = std::fs::read_to_string("/proc/thread-self/io").expect("io");
            let line = io.lines().find(|l| l.starts_with("wchar:")).expect("wchar");
            line[6..].trim().parse().expect("a number")
        };
        // SAFETY: siginfo_t is plain data; no handler reads it.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        let before = wchar();
        for _ in 0..100 {
            trampoline(libc::SIGWINCH, &mut info, core::ptr::null_mut());
        }
        let after = wchar();
        drain();
        assert_eq!(after, before, "wake-ups counted as output");
    }

    #[test]
    fn a_wait_takes_the_signal_instead_of_its_handler() {
        let _signals = crate::signal_test_lock();
        let set = SigSet::empty().with(libc::SIGWINCH);
        set.block();
        // SAFETY: clobbers_errno only touches atomics and errno.
        unsafe { set_handler(libc::SIGWINCH, clobbers_errno, &set) };
        ERRNO_SEEN.store(-1, Ordering::SeqCst);
        // SAFETY: raise signals the calling thread, which blocks it.
        assert_eq!(unsafe { libc::raise(libc::SIGWINCH) }, 0);
        assert_eq!(
            wait(&set, Duration::from_secs(5)),
            Some((libc::SIGWINCH, 0))
        );
        assert_eq!(
            ERRNO_SEEN.load(Ordering::SeqCst),
            -1,
            "the handler did not run"
        );
        assert_eq!(wait(&set, Duration::from_millis(1)), None);
        HANDLERS[libc::SIGWINCH as usize].store(0, Ordering::Relaxed);
        set.unblock();
    }

    #[test]
    fn signals_taken_for_a_wait_merge_and_come_lowest_first_as_pending_ones() {
        let _signals = crate::signal_test_lock();
        let set = SigSet::empty().with(libc::SIGWINCH).with(libc::SIGURG);
        set.block();
        // As the system would call it during a wait: no signal is sent.
        // SAFETY: siginfo_t is plain data; zeroed, it names no sender.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        WAITING.store(set.0, Ordering::Relaxed);
        for signo in [libc::SIGWINCH, libc::SIGURG, libc::SIGWINCH] {
            trampoline(signo, &mut info, core::ptr::null_mut());
        }
        WAITING.store(0, Ordering::Relaxed);
        let short = Duration::from_millis(1);
        // SIGURG (23) before SIGWINCH (28), and the second SIGWINCH merged
        // with the first, as sigtimedwait would have them.
        assert_eq!(wait(&set, short), Some((libc::SIGURG, 0)));
        assert_eq!(wait(&set, short), Some((libc::SIGWINCH, 0)));
        assert_eq!(wait(&set, short), None);
        set.unblock();
    }

    #[test]
    fn a_full_pipe_is_not_written_and_a_file_is_not_a_pipe() {
        let _signals = crate::signal_test_lock();
        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let [r, w] = fds;
        let big = [b'x'; 4 * PIPE_ROOM];
        assert_eq!(write_nowait(w, &big), PIPE_ROOM as Ret, "at most PIPE_BUF");
        while write_nowait(w, &big) > 0 {}
        assert_eq!(
            write_nowait(w, &big),
            -(libc::EAGAIN as Ret),
            "full: no wait"
        );
        close(r);
        close(w);
        let null = open(b"/dev/null\0", libc::O_WRONLY) as i32;
        assert!(null >= 0);
        assert_eq!(write_nowait(null, b"x"), -(libc::EOPNOTSUPP as Ret));
        close(null);
    }
}
