//! CPU affinity: which CPUs the process may run on, and which it is on.
//!
//! A capability of Linux only: with the raw system calls, or with the
//! `posix` feature through the C library's `sched_setaffinity` and
//! `sched_getcpu` (GNU extensions, not POSIX). Elsewhere (macOS, the BSDs)
//! nothing is pinned: [`CpuSet::current`] and [`current_cpu`] are `None`
//! and [`CpuSet::apply`] is false, so the server does not follow its
//! client's CPU nor the client stay on one: slower round trips, nothing
//! else changes.

#[cfg(linux_raw)]
use crate::linux;
#[cfg(linux_raw)]
use linux::syscall3;

/// A set of CPUs as the kernel takes it, for machines of up to 1024 CPUs.
#[derive(Clone, Copy)]
pub struct CpuSet([u64; 16]);

impl CpuSet {
    /// The set in force now (`None` where nothing is pinned).
    pub fn current() -> Option<CpuSet> {
        #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
        let mut set = CpuSet([0; 16]);
        #[cfg(linux_raw)]
        // SAFETY: set is valid and writable for the size passed; 0 is this process.
        let n = unsafe {
            linux::syscall3(
                libc::SYS_sched_getaffinity,
                0,
                core::mem::size_of::<CpuSet>(),
                set.0.as_mut_ptr() as usize,
            )
        };
        #[cfg(all(target_os = "linux", not(linux_raw)))]
        // SAFETY: set is as large as a cpu_set_t and writable; 0 is this
        // process. The C library returns 0 where the system call returns a
        // size.
        let n = match unsafe {
            libc::sched_getaffinity(0, core::mem::size_of::<CpuSet>(), set.0.as_mut_ptr().cast())
        } {
            0 => 1,
            _ => 0,
        };
        #[cfg(not(target_os = "linux"))]
        let n = 0;
        (n > 0).then_some(set)
    }

    /// The set of just `cpu`.
    // Not inlined: built in place, not on the stack and copied (less code).
    #[inline(never)]
    pub fn only(cpu: usize) -> CpuSet {
        let mut set = CpuSet([0; 16]);
        if let Some(word) = set.0.get_mut(cpu / 64) {
            *word = 1 << (cpu % 64);
        }
        set
    }

    /// Makes this the set of the calling process; false if refused (always,
    /// where nothing is pinned).
    pub fn apply(&self) -> bool {
        #[cfg(not(target_os = "linux"))]
        return false;
        #[cfg(all(target_os = "linux", not(linux_raw)))]
        // SAFETY: the set is as large as a cpu_set_t; 0 is this process.
        return unsafe {
            libc::sched_setaffinity(0, core::mem::size_of::<CpuSet>(), self.0.as_ptr().cast()) == 0
        };
        #[cfg(linux_raw)]
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

/// The CPU the caller is running on (`None` where nothing is pinned).
#[cfg(not(linux_raw))]
pub fn current_cpu() -> Option<usize> {
    #[cfg(not(target_os = "linux"))]
    return None;
    #[cfg(target_os = "linux")]
    // SAFETY: sched_getcpu takes no arguments.
    usize::try_from(unsafe { libc::sched_getcpu() }).ok()
}

/// The CPU the caller is running on.
#[cfg(linux_raw)]
pub fn current_cpu() -> Option<usize> {
    let mut cpu: u32 = 0;
    // SAFETY: cpu is valid and writable; the other two pointers are null.
    let r = unsafe { linux::syscall3(libc::SYS_getcpu, &mut cpu as *mut u32 as usize, 0, 0) };
    (r == 0).then_some(cpu as usize)
}

/// Asks the scheduler for the shortest time slice it grants, 0.1 ms,
/// keeping the process's scheduling policy and nice value; false if
/// refused (always, except on Linux; and for a real-time policy, which has
/// no such slice: nothing changes then).
///
/// Linux 6.12 and later take a normal or batch process's `sched_runtime`
/// as its time slice, and a process that wakes with a shorter slice than
/// the running one takes the CPU from it at once: the server, which works
/// a few microseconds per signal, is then woken promptly beside a busy
/// process instead of after that process's slice (1.4 ms on a 2-CPU
/// machine; more with more CPUs), and fewer signals of a client that paces
/// itself merge while it waits (docs/speed.md). Any process may ask; Linux
/// 5.3 to 6.11 accept the request and keep their usual slice, older ones
/// refuse it (`SCHED_FLAG_KEEP_POLICY`).
pub fn short_slice() -> bool {
    #[cfg(not(target_os = "linux"))]
    return false;
    #[cfg(target_os = "linux")]
    {
        // The system call (not the C library's wrapper) returns 20 - nice.
        // SAFETY: no pointers; PRIO_PROCESS 0 is the calling thread.
        let nice =
            20 - unsafe { syscall3(libc::SYS_getpriority, libc::PRIO_PROCESS as usize, 0, 0) };
        let attr = libc::sched_attr {
            size: core::mem::size_of::<libc::sched_attr>() as u32,
            sched_policy: libc::SCHED_OTHER as u32, // not used: the policy is kept
            sched_flags: libc::SCHED_FLAG_KEEP_POLICY as u64,
            sched_nice: nice as i32,
            sched_priority: 0,
            sched_runtime: 100_000, // ns: the shortest slice granted
            sched_deadline: 0,
            sched_period: 0,
        };
        // SAFETY: attr is valid for the size it gives; 0 is the calling thread.
        unsafe { syscall3(libc::SYS_sched_setattr, 0, &attr as *const _ as usize, 0) == 0 }
    }
}

/// A system call through the C library: -1 on error.
///
/// # Safety
///
/// As for the raw [`linux::syscall3`].
#[cfg(all(target_os = "linux", not(linux_raw)))]
unsafe fn syscall3(nr: libc::c_long, a: usize, b: usize, c: usize) -> isize {
    // SAFETY: the caller vouches for the arguments.
    unsafe { libc::syscall(nr, a, b, c) as isize }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    extern crate std;

    use super::*;

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

    #[test]
    fn a_short_slice_keeps_the_nice_value_and_policy() {
        // This test's thread only: a nicer one, as `nice server` would be
        // (one step nicer than it runs, which needs no privilege).
        // SAFETY: plain system calls on the calling thread (who 0).
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let nicer = (nice() + 1).min(19);
        // SAFETY: as above.
        let set = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nicer) };
        assert_eq!((set, nice()), (0, nicer));
        // And a batch one, as `chrt -b 0 server` would be (no privilege
        // needed either).
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: param is valid; 0 is the calling thread.
        let batch = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        assert_eq!(batch, 0);
        assert!(short_slice(), "sched_setattr refused");
        assert_eq!(nice(), nicer, "the nice value was changed");
        // SAFETY: a plain system call on the calling thread (0).
        let policy = unsafe { libc::sched_getscheduler(0) };
        assert_eq!(policy, libc::SCHED_BATCH, "the policy was changed");
        // Linux 6.12 and later show the slice (ns) in /proc/thread-self/sched.
        let sched = std::fs::read_to_string("/proc/thread-self/sched").unwrap_or_default();
        if let Some(line) = sched.lines().find(|l| l.starts_with("se.slice")) {
            assert!(line.ends_with(" 100000"), "{line}");
        }
    }
}
