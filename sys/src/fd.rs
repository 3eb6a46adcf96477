//! File descriptors: the standard streams, reading, writing, opening,
//! waiting for input, and what a descriptor is (file size, terminal).

use minitalk_protocol::Duration;

#[cfg(not(linux_raw))]
use crate::posix;
#[cfg(linux_raw)]
use crate::signal::SIGSET_SIZE;
#[cfg(linux_raw)]
use crate::{linux, timespec};

/// Standard input, output and error.
pub const STDIN: i32 = 0;
/// Standard output.
pub const STDOUT: i32 = 1;
/// Standard error.
pub const STDERR: i32 = 2;

/// What [`transfer`] makes: `write(2)`.
#[cfg(linux_raw)]
const WRITE: libc::c_long = libc::SYS_write;
/// What [`transfer`] makes: `read(2)`.
#[cfg(linux_raw)]
const READ: libc::c_long = libc::SYS_read;
/// What [`transfer`] makes: `write(2)`.
#[cfg(not(linux_raw))]
const WRITE: bool = true;
/// What [`transfer`] makes: `read(2)`.
#[cfg(not(linux_raw))]
const READ: bool = false;

/// `read(2)` or `write(2)` ([`READ`], [`WRITE`]) of `len` bytes at `buf`,
/// made again when a signal handler interrupts it; the result: a value, or
/// `-errno`.
///
/// # Safety
///
/// `buf` must be valid for `len` bytes, and writable for `read`.
#[cfg(not(linux_raw))]
unsafe fn transfer(write: bool, fd: i32, buf: usize, len: usize) -> isize {
    loop {
        // SAFETY: the caller vouches for buf and len.
        let n = unsafe {
            if write {
                posix::write(fd, core::slice::from_raw_parts(buf as *const u8, len))
            } else {
                posix::read(fd, core::slice::from_raw_parts_mut(buf as *mut u8, len))
            }
        };
        if n != -(libc::EINTR as isize) {
            return n;
        }
    }
}

/// `read(2)` or `write(2)` (`nr`) of `len` bytes at `buf`, made again when
/// a signal handler interrupts it; the kernel's result.
///
/// # Safety
///
/// `buf` must be valid for `len` bytes, and writable for `read`.
#[cfg(linux_raw)]
unsafe fn transfer(nr: libc::c_long, fd: i32, buf: usize, len: usize) -> linux::Ret {
    loop {
        // SAFETY: the caller vouches for buf and len.
        let n = unsafe { linux::syscall3(nr, fd as usize, buf, len) };
        if n != -(libc::EINTR as linux::Ret) {
            return n;
        }
    }
}

/// Writes all of `bytes` to `fd`; false if that failed.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: bytes is a valid slice for the length given.
        let n = unsafe { transfer(WRITE, fd, bytes.as_ptr() as usize, bytes.len()) };
        if n < 0 {
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

/// Reads into `buf`; the number of bytes (0 at end of file), or `None` on error.
pub fn read(fd: i32, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: buf is valid and writable for its length.
    let n = unsafe { transfer(READ, fd, buf.as_mut_ptr() as usize, buf.len()) };
    (n >= 0).then_some(n as usize)
}

/// Opens `path` (NUL-terminated) for reading; the descriptor.
pub fn open(path: &[u8]) -> Option<i32> {
    open_with(path, libc::O_RDONLY)
}

/// Opens `path` (NUL-terminated) with `flags` (`O_CLOEXEC` is added); the
/// descriptor.
pub fn open_with(path: &[u8], flags: i32) -> Option<i32> {
    if path.last() != Some(&0) {
        return None;
    }
    #[cfg(not(linux_raw))]
    let fd = posix::open(path, flags | libc::O_CLOEXEC);
    #[cfg(linux_raw)]
    // SAFETY: path is NUL-terminated; the kernel does not keep the pointer.
    let fd = unsafe {
        linux::syscall5(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            path.as_ptr() as usize,
            (flags | libc::O_CLOEXEC) as usize,
            0,
            0,
        )
    };
    (fd >= 0).then_some(fd as i32)
}

/// Closes `fd`.
pub fn close(fd: i32) {
    #[cfg(not(linux_raw))]
    posix::close(fd);
    #[cfg(linux_raw)]
    // SAFETY: close takes no pointers; a bad descriptor only fails.
    unsafe {
        linux::syscall3(libc::SYS_close, fd as usize, 0, 0)
    };
}

/// Waits up to `timeout` for `fd` to have input (or its end); true if so.
#[cfg(not(linux_raw))]
pub fn readable(fd: i32, timeout: Duration) -> bool {
    posix::poll_one(fd, libc::POLLIN, timeout)
}

/// Waits up to `timeout` for `fd` to have input (or its end); true if so.
#[cfg(linux_raw)]
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
#[cfg(not(linux_raw))]
pub fn file_size(fd: i32) -> Option<u64> {
    let (kind, size) = posix::fstat(fd)?;
    (kind == libc::S_IFREG).then_some(size)
}

/// The size of `fd` if it is a regular file (stdin redirected from one).
#[cfg(linux_raw)]
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
    #[cfg(not(linux_raw))]
    // SAFETY: TIOCGWINSZ writes one winsize, which ws is.
    return unsafe { posix::ioctl(fd, libc::TIOCGWINSZ as _, &mut ws) } == 0;
    #[cfg(linux_raw)]
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

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

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
}
