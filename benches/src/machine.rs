//! What the figures were measured on: CPUs, kernel, CPU model.

use std::ffi::CStr;

/// CPUs this process may use (what `nproc` prints).
pub fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The kernel, as `uname -srm` prints it (`Linux 6.8.0 x86_64`).
pub fn kernel() -> String {
    // SAFETY: utsname is plain data that uname fills in.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is valid and writable.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its array.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// The CPU's model name from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// One line: `2 CPUs (nproc), Linux 6.8.0 x86_64, <model>`.
pub fn describe() -> String {
    format!("{} CPUs (nproc), {}, {}", nproc(), kernel(), cpu_model())
}
