//! Raw Linux system calls, and the start-up code of the static build.
//!
//! minitalk makes about a dozen system calls. Making them directly, rather
//! than through the C library's wrappers, is what lets the static binaries
//! leave musl's start-up code, thread-local storage, `errno` and vDSO lookup
//! out (about 4.7 KB of a 22 KB server; README, "Static binaries"). The
//! `libc` crate still provides every number and structure.
//!
//! On x86-64 a call is one `syscall` instruction; on other architectures it
//! goes through the C library's generic `syscall(2)`. Either way the result
//! follows the kernel's convention: a negative value is `-errno`.
//!
//! ## Start-up (static musl build on x86-64 only)
//!
//! The linker is told to start at `minitalk_start` (`sys/link/build.rs`)
//! instead of musl's `_start`, so none of musl's initialisation is linked.
//! It finds `argc` and `argv` on the stack where the kernel put them, calls
//! the program's `main` and exits with its status. What the program may then
//! use of the C library is what needs no initialisation: `memcpy`, `memset`
//! and the like, which the compiler calls by itself. Other builds start the
//! usual way and call the same `main`.

use core::ffi::c_long;

/// A system call's result: a value, or `-errno`.
pub type Ret = isize;

/// System call `nr` with five arguments (unused ones are ignored).
///
/// # Safety
///
/// The arguments must be what the kernel expects for `nr`: pointers valid for
/// what the call reads and writes.
#[cfg(target_arch = "x86_64")]
#[inline]
pub unsafe fn syscall5(nr: c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> Ret {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; `syscall` clobbers only
    // rcx and r11 besides its result register.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") e,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// System call `nr` with five arguments (unused ones are ignored).
///
/// # Safety
///
/// The arguments must be what the kernel expects for `nr`: pointers valid for
/// what the call reads and writes.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn syscall5(nr: c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> Ret {
    // SAFETY: the caller vouches for the arguments.
    let ret = unsafe { libc::syscall(nr, a, b, c, d, e) };
    if ret == -1 {
        // SAFETY: __errno_location returns this thread's errno.
        -(unsafe { *libc::__errno_location() } as Ret)
    } else {
        ret as Ret
    }
}

/// System call `nr` with up to three arguments.
///
/// # Safety
///
/// As for [`syscall5`].
#[inline]
pub unsafe fn syscall3(nr: c_long, a: usize, b: usize, c: usize) -> Ret {
    // SAFETY: as for syscall5.
    unsafe { syscall5(nr, a, b, c, 0, 0) }
}

/// `SA_RESTORER`: the kernel's flag for [`KernelSigaction::restorer`] (the
/// `libc` crate leaves it out, as C programs never set it themselves).
#[cfg(target_arch = "x86_64")]
pub const SA_RESTORER: u64 = 0x0400_0000;

/// The kernel's `struct sigaction` on x86-64 (not the C library's).
#[cfg(target_arch = "x86_64")]
#[repr(C)]
pub struct KernelSigaction {
    /// The handler.
    pub handler: usize,
    /// `SA_*` flags; `SA_RESTORER` is required on x86-64.
    pub flags: u64,
    /// Where a handler returns to: [`restorer`], which calls `rt_sigreturn`.
    pub restorer: usize,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

#[cfg(target_arch = "x86_64")]
extern "C" {
    /// Returns from a signal handler: the `rt_sigreturn` system call (15).
    /// The kernel puts its address on the handler's stack as the return
    /// address; it is never called from Rust.
    pub fn minitalk_restorer();
}

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .text.minitalk_restorer,\"ax\",@progbits",
    ".globl minitalk_restorer",
    ".hidden minitalk_restorer",
    "minitalk_restorer:",
    "    mov eax, 15",
    "    syscall",
    ".popsection",
);

// The entry point of the static x86-64 build: the stack pointer is the
// address of `argc`, followed by `argv`.
#[cfg(all(target_arch = "x86_64", target_env = "musl", not(test)))]
core::arch::global_asm!(
    ".pushsection .text.minitalk_start,\"ax\",@progbits",
    ".globl minitalk_start",
    "minitalk_start:",
    "    xor ebp, ebp",     // the outermost frame, for debuggers
    "    mov rdi, rsp",     // the first argument: where argc is
    "    and rsp, -16",     // the ABI's stack alignment at a call
    "    call {start}",
    "    ud2",              // start never returns
    ".popsection",
    start = sym start,
);

/// Calls the program's `main` with the command line the kernel laid out at
/// `sp`, then exits with its status.
///
/// # Safety
///
/// `sp` must point at the initial process stack (`argc`, then `argv`).
#[cfg(all(target_arch = "x86_64", target_env = "musl", not(test)))]
unsafe extern "C" fn start(sp: *const usize) -> ! {
    extern "C" {
        fn main(argc: i32, argv: *const *const core::ffi::c_char) -> i32;
    }
    // SAFETY: the kernel put argc at sp and the argv array right after it;
    // every binary linked with this start-up code defines main.
    let code = unsafe { main(*sp as i32, sp.add(1).cast()) };
    crate::exit(code)
}
