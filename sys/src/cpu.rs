//! CPU affinity: which CPUs the process may run on, and which it is on.

use crate::linux;

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
    // Not inlined: built in place, not on the stack and copied (less code).
    #[inline(never)]
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
