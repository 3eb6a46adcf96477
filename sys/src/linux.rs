//! Raw Linux system calls, and the start-up code of the static build.
//!
//! minitalk makes about a dozen system calls. Making them directly, rather
//! than through the C library's wrappers, is what lets the static binaries
//! leave musl's start-up code, thread-local storage, `errno` and vDSO lookup
//! out (about 4.7 KB of a 22 KB server; docs/size.md). The
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

/// System call `nr` with six arguments.
///
/// # Safety
///
/// As for [`syscall5`].
#[cfg(target_arch = "x86_64")]
#[inline]
pub unsafe fn syscall6(
    nr: c_long,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
) -> Ret {
    let ret: isize;
    // SAFETY: as for syscall5; the sixth argument goes in r9.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") e,
            in("r9") f,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// System call `nr` with six arguments.
///
/// # Safety
///
/// As for [`syscall5`].
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn syscall6(
    nr: c_long,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
) -> Ret {
    // SAFETY: the caller vouches for the arguments.
    let ret = unsafe { libc::syscall(nr, a, b, c, d, e, f) };
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
    /// Where a handler returns to: [`minitalk_restorer`], which calls `rt_sigreturn`.
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

/// Finds the vDSO's `clock_gettime`, then calls the program's `main` with
/// the command line the kernel laid out at `sp`, and exits with its status.
///
/// # Safety
///
/// `sp` must point at the initial process stack: `argc`, the `argv` array
/// and its null, the environment and its null, then the auxiliary vector.
#[cfg(all(target_arch = "x86_64", target_env = "musl", not(test)))]
unsafe extern "C" fn start(sp: *const usize) -> ! {
    extern "C" {
        fn main(argc: i32, argv: *const *const core::ffi::c_char) -> i32;
    }
    // SAFETY: the layout is the kernel's (the caller's contract): skip argc,
    // argv and its null, then the environment up to its null.
    let mut p = unsafe { sp.add(*sp + 2) };
    // SAFETY: as above; the environment ends with a null, so every pointer
    // up to it and the one after it are on the stack.
    unsafe {
        while *p != 0 {
            p = p.add(1);
        }
    }
    // SAFETY: as above; the auxiliary vector's pairs end with AT_NULL (0).
    unsafe {
        p = p.add(1);
        while *p != 0 {
            if *p == libc::AT_SYSINFO_EHDR as usize {
                vdso::find_clock_gettime(*p.add(1));
            }
            p = p.add(2);
        }
    }
    // SAFETY: the kernel put argc at sp and the argv array right after it;
    // every binary linked with this start-up code defines main.
    let code = unsafe { main(*sp as i32, sp.add(1).cast()) };
    crate::exit(code)
}

/// Reads the monotonic clock into `ts`: through the vDSO when the start-up
/// code found it (16 ns here, against 120 ns for the system call, with two
/// readings per bit), else with the system call.
#[cfg(all(target_arch = "x86_64", target_env = "musl", not(test)))]
pub fn clock_monotonic(ts: &mut libc::timespec) {
    let f = vdso::CLOCK_GETTIME.load(core::sync::atomic::Ordering::Relaxed);
    if f != 0 {
        // SAFETY: f is the vDSO's clock_gettime (vdso::find_clock_gettime),
        // which has the C library's signature and lives as long as the process.
        let f: extern "C" fn(libc::clockid_t, *mut libc::timespec) -> i32 =
            unsafe { core::mem::transmute(f) };
        f(libc::CLOCK_MONOTONIC, ts);
        return;
    }
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe {
        syscall3(
            libc::SYS_clock_gettime,
            libc::CLOCK_MONOTONIC as usize,
            ts as *mut _ as usize,
            0,
        )
    };
}

/// Reads the monotonic clock into `ts`, with the C library's
/// `clock_gettime` (itself through the vDSO).
#[cfg(not(all(target_arch = "x86_64", target_env = "musl", not(test))))]
pub fn clock_monotonic(ts: &mut libc::timespec) {
    // SAFETY: ts is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, ts) };
}

/// The vDSO: code the kernel maps into every process, which reads the clock
/// without entering the kernel. The start-up code looks its
/// `__vdso_clock_gettime` up in the ELF image the kernel points at.
#[cfg(all(target_arch = "x86_64", target_env = "musl", not(test)))]
mod vdso {
    use core::ffi::{c_char, CStr};
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// The address of `__vdso_clock_gettime`, or 0 if not found.
    pub static CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);

    /// Dynamic section tags: hash table, string table (5), symbol table (6).
    const DT_HASH: usize = 4;

    /// Looks `__vdso_clock_gettime` up in the vDSO image at `image` and
    /// records its address in [`CLOCK_GETTIME`]; leaves it at 0 if the
    /// image lacks a part it needs.
    ///
    /// # Safety
    ///
    /// `image` must be the kernel's `AT_SYSINFO_EHDR`: a mapped ELF image.
    pub unsafe fn find_clock_gettime(image: usize) {
        // SAFETY: the kernel's vDSO image is a well-formed, mapped ELF file:
        // its headers, dynamic section, tables and strings are all in it.
        unsafe {
            let eh = &*(image as *const libc::Elf64_Ehdr);
            let (mut bias, mut dynamic) = (None, None);
            for i in 0..eh.e_phnum as usize {
                let ph = &*((image + eh.e_phoff as usize + i * eh.e_phentsize as usize)
                    as *const libc::Elf64_Phdr);
                if ph.p_type == libc::PT_LOAD && bias.is_none() {
                    // Where the image's addresses are, in ours.
                    bias = Some(image + ph.p_offset as usize - ph.p_vaddr as usize);
                } else if ph.p_type == libc::PT_DYNAMIC {
                    dynamic = Some(image + ph.p_offset as usize);
                }
            }
            let (Some(bias), Some(dynamic)) = (bias, dynamic) else {
                return;
            };
            // The three tables' addresses, by tag (DT_HASH, DT_STRTAB,
            // DT_SYMTAB are 4, 5, 6: an index, not a jump table).
            let mut tables = [0; 3];
            let mut d = dynamic as *const [usize; 2];
            while (*d)[0] != 0 {
                if let Some(table) = tables.get_mut((*d)[0].wrapping_sub(DT_HASH)) {
                    *table = bias + (*d)[1];
                }
                d = d.add(1);
            }
            let [hash, strtab, symtab] = tables;
            if hash == 0 || strtab == 0 || symtab == 0 {
                return;
            }
            // The hash table's second word is the number of symbols.
            let count = *((hash + 4) as *const u32) as usize;
            let syms = symtab as *const libc::Elf64_Sym;
            for i in 0..count {
                let sym = &*syms.add(i);
                let name = CStr::from_ptr((strtab + sym.st_name as usize) as *const c_char);
                if sym.st_shndx != 0 && name.to_bytes() == b"__vdso_clock_gettime" {
                    CLOCK_GETTIME.store(bias + sym.st_value as usize, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}
