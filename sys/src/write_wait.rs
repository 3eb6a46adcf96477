//! Writing to an output that may be read slowly, or not at all, without ever
//! sleeping in `write(2)` with the signals blocked.
//!
//! [`write_or_stop`] writes with `pwritev2(RWF_NOWAIT)`: a pipe takes what
//! it has room for and never puts the caller to sleep, and nothing changes on
//! the file description, which other processes may share (no `O_NONBLOCK`).
//! When the pipe is full it waits in `ppoll` for room, with the caller's
//! sleep mask, so that its signal handlers run, and it returns as soon as
//! the caller's `stop` says so. Outputs that do not take `RWF_NOWAIT`
//! (files, terminals) are written the ordinary way once `ppoll` says they
//! take data.
//!
//! While it waits, a beacon lets others see that the output moves: a
//! process's `/proc/<pid>/io` `wchar` only grows when a page of the pipe
//! frees up (every 4 KiB the reader takes), so each time the reader takes
//! anything the beacon writes one byte to `/dev/null`, which `wchar` counts.
//! minitalk's client watches that counter while the server is late (see
//! PROTOCOL.md, 5.7).
//!
//! The C-library backend has no `RWF_NOWAIT` and must not set `O_NONBLOCK`
//! on a shared description either: it writes to a pipe only once `poll`
//! says it has room, at most `PIPE_BUF` bytes at a time (which a pipe with
//! room takes whole: `posix::write_nowait`), and waits in
//! `poll` on the pipe and its self-pipe with the sleep mask. The beacon
//! only helps where `/proc` shows `wchar` (Linux).

use minitalk_protocol::Duration;

#[cfg(not(linux_raw))]
use crate::posix;
#[cfg(linux_raw)]
use crate::signal::SIGSET_SIZE;
use crate::SigSet;
#[cfg(linux_raw)]
use crate::{linux, timespec};

/// How a [`write_or_stop`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Everything was written.
    All,
    /// `stop` said to stop after `written` bytes.
    Stopped {
        /// Bytes written before the stop.
        written: usize,
    },
    /// The output failed (closed pipe, full disk) after `written` bytes.
    Failed {
        /// Bytes written before the failure.
        written: usize,
    },
}

/// One byte written to `/dev/null` each time the output moved while the
/// writer waited: it makes the writer's `wchar` grow. Opened at the first
/// wait (a beacon that could not be opened does nothing, and is tried again
/// at the next), closed by [`write_or_stop`] as it returns (one close, not
/// a `Drop` at each return: less code).
#[derive(Clone, Copy)]
struct Beacon(i32);

impl Beacon {
    /// Not opened yet.
    const NONE: Beacon = Beacon(-1);

    /// Opens `/dev/null` for the beacon, unless it is open.
    fn open(&mut self) {
        if self.0 < 0 {
            self.0 = crate::fd::open_with(b"/dev/null\0", libc::O_WRONLY).unwrap_or(-1);
        }
    }

    /// Shows that the output moved.
    fn flash(self) {
        if self.0 >= 0 {
            crate::write_all(self.0, b".");
        }
    }

    fn close(self) {
        if self.0 >= 0 {
            crate::close(self.0);
        }
    }
}

/// How often a waiting writer looks whether its reader took anything.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Writes all of `bytes` to `fd`, in one `write(2)` when the output has room
/// for them. When it has not, waits in `ppoll` with `mask` as the signal
/// mask (handlers run), shows with a beacon each time the output moved,
/// and returns [`Written::Stopped`] once `stop()` is true, which it checks
/// whenever the output has no room (so that bytes for which there is room
/// are still written after a stop: the `\n` that ends a truncated line).
pub fn write_or_stop(fd: i32, mut bytes: &[u8], mask: &SigSet, stop: impl Fn() -> bool) -> Written {
    let mut beacon = Beacon::NONE;
    let mut written = 0;
    let mut nowait = true;
    let mut unread = None;
    let result = loop {
        if bytes.is_empty() {
            break Written::All;
        }
        if !nowait && !wait_writable(fd, Some(Duration::ZERO), mask) {
            if stop() {
                break Written::Stopped { written };
            }
            wait_writable(fd, None, mask);
            continue;
        }
        #[cfg(not(linux_raw))]
        let n = if nowait {
            posix::write_nowait(fd, bytes)
        } else {
            posix::write(fd, bytes)
        };
        #[cfg(linux_raw)]
        let n = if nowait {
            let iov = libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            };
            // SAFETY: iov describes bytes, valid for its length; offset -1
            // is "the current position", as write(2) uses.
            unsafe {
                linux::syscall6(
                    libc::SYS_pwritev2,
                    fd as usize,
                    &iov as *const _ as usize,
                    1,
                    usize::MAX,
                    usize::MAX,
                    libc::RWF_NOWAIT as usize,
                )
            }
        } else {
            // SAFETY: bytes is a valid slice for the length given.
            unsafe {
                linux::syscall3(
                    libc::SYS_write,
                    fd as usize,
                    bytes.as_ptr() as usize,
                    bytes.len(),
                )
            }
        };
        if n > 0 {
            beacon.flash();
            written += n as usize;
            bytes = bytes.get(n as usize..).unwrap_or_default();
            continue;
        }
        match -n as i32 {
            libc::EINTR => {}
            // Not a pipe: write the ordinary way once ppoll says it takes data.
            libc::EOPNOTSUPP | libc::EINVAL | libc::ESPIPE if nowait => nowait = false,
            libc::EAGAIN => {
                if stop() {
                    break Written::Stopped { written };
                }
                // Full: wait for room, and show each time the reader takes some.
                let now_unread = pending(fd);
                beacon.open();
                if unread.is_some_and(|u| now_unread < u) {
                    beacon.flash();
                }
                unread = Some(now_unread);
                wait_writable(fd, Some(LOOK_EVERY), mask);
            }
            _ => break Written::Failed { written },
        }
    };
    beacon.close();
    result
}

/// Bytes written to the pipe `fd` and not read yet (`FIONREAD`); 0 if unknown.
fn pending(fd: i32) -> usize {
    let mut n: libc::c_int = 0;
    #[cfg(not(linux_raw))]
    // SAFETY: FIONREAD writes one int, which n is.
    let ok = unsafe { posix::ioctl(fd, libc::FIONREAD as _, &mut n) } == 0;
    #[cfg(linux_raw)]
    // SAFETY: FIONREAD writes one int, which n is.
    let ok = unsafe {
        linux::syscall3(
            libc::SYS_ioctl,
            fd as usize,
            libc::FIONREAD as usize,
            &mut n as *mut _ as usize,
        )
    } == 0;
    if ok {
        n.max(0) as usize
    } else {
        0
    }
}

/// Sleeps until `fd` takes data, a handler ran, or `timeout` passed; true if
/// `fd` takes data.
#[cfg(not(linux_raw))]
fn wait_writable(fd: i32, timeout: Option<Duration>, mask: &SigSet) -> bool {
    posix::poll_with_mask(fd, libc::POLLOUT, timeout, mask)
}

/// Sleeps until `fd` takes data, a handler ran, or `timeout` passed; true if
/// `fd` takes data.
#[cfg(linux_raw)]
fn wait_writable(fd: i32, timeout: Option<Duration>, mask: &SigSet) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // Writable: ppoll writes the time left back (see sleep_with_mask).
    let mut ts = timeout.map(timespec);
    let tsp = match &mut ts {
        Some(t) => t as *mut libc::timespec as usize,
        None => 0,
    };
    // SAFETY: pfd is one valid pollfd; tsp is null or a valid, writable
    // timespec; the mask is valid.
    let ready = unsafe {
        linux::syscall5(
            libc::SYS_ppoll,
            &mut pfd as *mut _ as usize,
            1,
            tsp,
            &mask.0 as *const u64 as usize,
            SIGSET_SIZE,
        )
    };
    ready > 0 && pfd.revents & libc::POLLOUT != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (i32, i32) {
        let mut fds = [0i32; 2];
        // SAFETY: fds has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    }

    #[test]
    fn a_pipe_with_room_takes_the_bytes_in_one_write() {
        let _signals = crate::signal_test_lock();
        let (r, w) = pipe();
        let written = write_or_stop(w, b"hello\n", &SigSet::empty(), || false);
        assert_eq!(written, Written::All);
        let mut buf = [0u8; 16];
        assert_eq!(crate::read(r, &mut buf), Some(6));
        assert_eq!(&buf[..6], b"hello\n");
        crate::close(r);
        crate::close(w);
    }

    #[test]
    fn a_full_pipe_does_not_hold_a_writer_that_is_told_to_stop() {
        let _signals = crate::signal_test_lock();
        let (r, w) = pipe();
        let big = [b'x'; 100_000];
        let looks = core::cell::Cell::new(0);
        // Stops at its third look: the first two found the pipe full.
        let written = write_or_stop(w, &big, &SigSet::empty(), || {
            looks.set(looks.get() + 1);
            looks.get() > 3
        });
        let Written::Stopped { written } = written else {
            panic!("{written:?}");
        };
        assert!(written > 0 && written < big.len(), "{written}");
        crate::close(r);
        crate::close(w);
    }

    #[test]
    fn bytes_for_which_there_is_room_are_written_after_a_stop() {
        let _signals = crate::signal_test_lock();
        let (r, w) = pipe();
        assert_eq!(
            write_or_stop(w, b"\n", &SigSet::empty(), || true),
            Written::All
        );
        let mut buf = [0u8; 4];
        assert_eq!(crate::read(r, &mut buf), Some(1));
        crate::close(r);
        crate::close(w);
    }

    #[test]
    fn a_file_is_written_the_ordinary_way() {
        let _signals = crate::signal_test_lock();
        // A regular file refuses RWF_NOWAIT on most file systems.
        // SAFETY: the path is a NUL-terminated string; O_TMPFILE makes a
        // nameless file that disappears with its descriptor.
        let fd = unsafe { libc::open(c"/tmp".as_ptr(), libc::O_TMPFILE | libc::O_RDWR, 0o600) };
        assert!(fd >= 0);
        assert_eq!(
            write_or_stop(fd, b"to a file", &SigSet::empty(), || true),
            Written::All
        );
        crate::close(fd);
    }

    #[test]
    fn a_closed_pipe_fails() {
        let _signals = crate::signal_test_lock();
        let (r, w) = pipe();
        crate::close(r);
        // SAFETY: ignoring SIGPIPE in this test process only.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let written = write_or_stop(w, b"x", &SigSet::empty(), || false);
        assert_eq!(written, Written::Failed { written: 0 });
        crate::close(w);
    }
}
