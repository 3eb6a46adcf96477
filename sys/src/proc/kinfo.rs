//! macOS and FreeBSD: what `sysctl` `KERN_PROC_PID` tells about another
//! process (a `struct kinfo_proc`). Other systems tell nothing here: see
//! the fallbacks in the table of [`crate::proc`].

use minitalk_protocol::{Pid, ProcessState};

/// A process's `kinfo_proc` in `T` (`sysctl` `CTL_KERN.KERN_PROC.KERN_PROC_PID.pid`),
/// if the kernel wrote exactly one whole `T`.
#[cfg(any(target_os = "freebsd", target_vendor = "apple"))]
fn kinfo<T>(pid: Pid) -> Option<T> {
    if pid < 1 {
        return None;
    }
    let mut mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid];
    let mut info = core::mem::MaybeUninit::<T>::zeroed();
    let mut len = core::mem::size_of::<T>();
    // SAFETY: mib holds four names; info is writable for len bytes.
    let r = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            4,
            info.as_mut_ptr().cast(),
            &mut len,
            core::ptr::null_mut(),
            0,
        )
    };
    // No such process: an error, or nothing written (macOS).
    // SAFETY: the kernel wrote a whole T (all plain data), over zeroes.
    (r == 0 && len == core::mem::size_of::<T>()).then(|| unsafe { info.assume_init() })
}

/// The state letter of a process state number (`SRUN`...: the same numbers
/// on macOS and FreeBSD, `sys/proc.h`), as in Linux's `/proc` (`R`, `S`,
/// `T`, `Z`).
#[cfg(any(target_os = "freebsd", target_vendor = "apple"))]
fn letter(stat: i32) -> u8 {
    match stat {
        2 => b'R', // SRUN
        4 => b'T', // SSTOP
        5 => b'Z', // SZOMB
        _ => b'S', // SIDL, SSLEEP, SWAIT, SLOCK
    }
}

/// What is read of a process: its signals caught (`SIGUSR1`, `SIGUSR2`),
/// state number, start time (µs since the epoch), CPU time (µs; `None`
/// where unknown).
#[cfg_attr(
    not(any(target_os = "freebsd", target_vendor = "apple")),
    allow(dead_code)
)]
struct Seen {
    usr: (bool, bool),
    stat: i32,
    started: u64,
    cpu: Option<u64>,
}

/// A `timeval` in microseconds.
#[cfg(any(target_os = "freebsd", target_vendor = "apple"))]
fn micros(t: &libc::timeval) -> u64 {
    (t.tv_sec as u64).wrapping_mul(1_000_000) + t.tv_usec as u64
}

/// FreeBSD: the `libc` crate's `kinfo_proc`.
#[cfg(target_os = "freebsd")]
fn seen(pid: Pid) -> Option<Seen> {
    let kp: libc::kinfo_proc = kinfo(pid)?;
    if kp.ki_pid != pid {
        return None;
    }
    // SAFETY: ki_sigcatch is an initialised set.
    let catches = |signo| unsafe { libc::sigismember(&kp.ki_sigcatch, signo) } == 1;
    Some(Seen {
        usr: (catches(libc::SIGUSR1), catches(libc::SIGUSR2)),
        stat: kp.ki_stat as i32,
        started: micros(&kp.ki_start),
        cpu: Some(kp.ki_runtime),
    })
}

/// macOS: the start of `struct extern_proc` (`sys/proc.h`), up to
/// `p_sigcatch`, which the `libc` crate does not declare; it begins
/// `struct kinfo_proc`.
#[cfg(target_vendor = "apple")]
#[repr(C)]
struct ExternProc {
    /// The union `p_un`; for `sysctl`, the start time.
    p_starttime: libc::timeval,
    p_vmspace: *mut libc::c_void,
    p_sigacts: *mut libc::c_void,
    p_flag: libc::c_int,
    p_stat: libc::c_char,
    p_pid: libc::pid_t,
    p_oppid: libc::pid_t,
    p_dupfd: libc::c_int,
    user_stack: *mut libc::c_char,
    exit_thread: *mut libc::c_void,
    p_debugger: libc::c_int,
    sigwait: libc::c_int,
    p_estcpu: libc::c_uint,
    p_cpticks: libc::c_int,
    p_pctcpu: u32,
    p_wchan: *mut libc::c_void,
    p_wmesg: *mut libc::c_char,
    p_swtime: libc::c_uint,
    p_slptime: libc::c_uint,
    p_realtimer: libc::itimerval,
    p_rtime: libc::timeval,
    p_uticks: u64,
    p_sticks: u64,
    p_iticks: u64,
    p_traceflag: libc::c_int,
    p_tracep: *mut libc::c_void,
    p_siglist: libc::c_int,
    p_textvp: *mut libc::c_void,
    p_holdcnt: libc::c_int,
    p_sigmask: u32,
    p_sigignore: u32,
    p_sigcatch: u32,
}

/// The size of macOS's `struct kinfo_proc` on 64-bit systems.
#[cfg(target_vendor = "apple")]
const KINFO_PROC_SIZE: usize = 648;

/// macOS: `p_sigcatch` and the rest from [`ExternProc`]. The layout is
/// checked against what the kernel answers (its size, and the PID in its
/// place); an answer that does not fit is no answer: the process is then
/// taken as gone, or catching nothing. Not run on a real Mac (README).
#[cfg(target_vendor = "apple")]
fn seen(pid: Pid) -> Option<Seen> {
    const _: () = assert!(core::mem::size_of::<ExternProc>() <= KINFO_PROC_SIZE);
    let words: [u64; KINFO_PROC_SIZE / 8] = kinfo(pid)?;
    // SAFETY: the buffer is larger than ExternProc and 8-aligned, and every
    // field of it is plain data (pointers are only carried, never read).
    let p = unsafe { &*(words.as_ptr() as *const ExternProc) };
    if p.p_pid != pid {
        return None;
    }
    let catches = |signo: i32| p.p_sigcatch & 1 << (signo - 1) != 0;
    Some(Seen {
        usr: (catches(libc::SIGUSR1), catches(libc::SIGUSR2)),
        stat: p.p_stat as i32,
        started: micros(&p.p_starttime),
        // p_rtime and the ticks are not kept up to date by XNU.
        cpu: None,
    })
}

/// Other systems: nothing is known of any process.
#[cfg(not(any(target_os = "freebsd", target_vendor = "apple")))]
fn seen(_: Pid) -> Option<Seen> {
    None
}

/// The state letter of a process state number: none known here.
#[cfg(not(any(target_os = "freebsd", target_vendor = "apple")))]
fn letter(_: i32) -> u8 {
    b'S'
}

/// Whether `pid` catches `SIGUSR1`, and whether it catches `SIGUSR2`.
/// `None` if there is no such process. Where the system cannot tell (not
/// macOS nor FreeBSD), `(false, false)` for any process that `kill` finds:
/// one that may not catch them is never signalled.
pub fn caught_usr(pid: Pid) -> Option<(bool, bool)> {
    match seen(pid) {
        Some(s) => Some(s.usr),
        None if crate::alive(pid) => Some((false, false)),
        None => None,
    }
}

/// The state letter of `pid` (`R`, `S`, `T`, `Z`). `None` if unknown.
pub fn state(pid: Pid) -> Option<u8> {
    seen(pid).map(|s| letter(s.stat))
}

/// The state of a late server and its CPU time so far (µs). FreeBSD tells
/// both; macOS only whether it is stopped or gone (its kernel shows most
/// live processes as running); elsewhere `None`, unknown.
pub fn process(pid: Pid) -> Option<(ProcessState, u64)> {
    let Some(s) = seen(pid) else {
        // As on Linux: a process kill cannot find is gone.
        return (!crate::alive(pid)).then_some((ProcessState::Gone, 0));
    };
    let state = ProcessState::from_letter(letter(s.stat));
    match s.cpu {
        Some(cpu) => Some((state, cpu)),
        None if matches!(state, ProcessState::Stopped | ProcessState::Gone) => Some((state, 0)),
        None => None,
    }
}

/// The CPU `pid` last ran on: `None`, pinning is Linux's (see [`crate::cpu`]).
pub fn last_cpu(_: Pid) -> Option<usize> {
    None
}

/// Who has PID `pid` now: its start time (µs since the epoch), which tells
/// a process from a later one that got the same PID. `None` if there is no
/// such process, it is a zombie, or the system cannot tell (then a PID
/// taken over by a new process is not noticed).
pub fn identity(pid: Pid) -> Option<u64> {
    seen(pid)
        .filter(|s| letter(s.stat) != b'Z')
        .map(|s| s.started)
}

/// The bytes `pid` has written so far: `None`, only Linux counts them
/// (`/proc/<pid>/io`); a late server's sender then cannot tell a slow
/// reader from a stopped server by its output.
pub fn written(_: Pid) -> Option<u64> {
    None
}
