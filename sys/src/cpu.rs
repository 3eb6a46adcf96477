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
}
