//! Linux: what `/proc` tells about another process, read with `open` and
//! `read` (the raw system calls, or the C library's with `posix`).

use minitalk_protocol::{Pid, ProcessState};

use crate::Line;

/// Reads `/proc/<pid>/<file>` into `buf`; the bytes read, or `None`.
fn read_proc(pid: Pid, file: &str, buf: &mut [u8]) -> Option<usize> {
    let mut path = Line::new();
    path.str("/proc/")
        .u64(pid.max(0) as u64)
        .byte(b'/')
        .str(file)
        .byte(0);
    let fd = crate::open(path.as_bytes())?;
    let mut len = 0;
    while len < buf.len() {
        match crate::read(fd, &mut buf[len..]) {
            Some(0) | None => break,
            Some(n) => len += n,
        }
    }
    crate::close(fd);
    Some(len)
}

/// The number after `key` at the start of a line of a `/proc` file, in `radix` (lowercase digits,
/// up to 16): a status line such as `SigCgt:\t0000000000000a00` (16), an io
/// line such as `wchar: 1234` (10). `None` without the key; the digits end
/// at the first byte that is not one (none: 0). One reader for both kinds
/// of line: less code than one each.
fn field(text: &[u8], key: &[u8], radix: u32) -> Option<u64> {
    let rest = minitalk_protocol::split(text, b'\n').find_map(|line| line.strip_prefix(key))?;
    let mut n = 0u64;
    for &c in rest.iter().skip_while(|c| **c == b'\t' || **c == b' ') {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => break,
        };
        if u32::from(digit) >= radix {
            break;
        }
        // The kernel's numbers fit; a longer run of digits wraps (no panic).
        n = n.wrapping_mul(radix.into()).wrapping_add(digit.into());
    }
    Some(n)
}

/// Bit of signal `signo` in a `/proc` signal mask.
const fn bit(signo: i32) -> u64 {
    1 << (signo - 1)
}

/// Whether `pid` catches `SIGUSR1`, and whether it catches `SIGUSR2`, each
/// on its own (`SigCgt`): a classic client may catch one only. `None` if
/// there is no such process.
pub fn caught_usr(pid: Pid) -> Option<(bool, bool)> {
    let mut buf = [0u8; 4096];
    let n = read_proc(pid, "status", &mut buf)?;
    let mask = field(&buf[..n], b"SigCgt:", 16)?;
    Some((
        mask & bit(libc::SIGUSR1) != 0,
        mask & bit(libc::SIGUSR2) != 0,
    ))
}

/// The fields of a `/proc/<pid>/stat` file from field 3 (the state) on:
/// "pid (comm) S ...", where the command may contain spaces and parentheses.
fn stat_fields(stat: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    Some(minitalk_protocol::split(stat.get(close + 2..)?, b' '))
}

/// A decimal field.
fn number(field: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &c in field {
        let digit = c.checked_sub(b'0').filter(|d| *d < 10)?;
        n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(n)
}

/// The state letter of `pid` (`R`, `S`, `Z`...) from `/proc/<pid>/stat`.
pub fn state(pid: Pid) -> Option<u8> {
    let mut buf = [0u8; 512];
    let n = read_proc(pid, "stat", &mut buf)?;
    let state = stat_fields(&buf[..n])?.next()?.first().copied();
    state
}

/// What a sender wants to know of a late server: its state (`R`, `T`...,
/// see [`ProcessState::from_letter`]) and its CPU time so far (`utime +
/// stime`, fields 14 and 15 of `/proc/<pid>/stat`, in clock ticks). A
/// process whose stat cannot be read is [`ProcessState::Gone`] if `kill`
/// finds no such process, unknown (`None`) otherwise.
pub fn process(pid: Pid) -> Option<(ProcessState, u64)> {
    let mut buf = [0u8; 512];
    match read_proc(pid, "stat", &mut buf) {
        Some(n) => process_of(&buf[..n]),
        None if !crate::alive(pid) => Some((ProcessState::Gone, 0)),
        None => None,
    }
}

fn process_of(stat: &[u8]) -> Option<(ProcessState, u64)> {
    let mut fields = stat_fields(stat)?;
    let state = ProcessState::from_letter(*fields.next()?.first()?);
    let utime = number(fields.nth(14 - 4)?)?;
    let stime = number(fields.next()?)?;
    Some((state, utime.wrapping_add(stime)))
}

/// The CPU `pid` last ran on (field 39 of `/proc/<pid>/stat`).
pub fn last_cpu(pid: Pid) -> Option<usize> {
    let mut buf = [0u8; 512];
    let n = read_proc(pid, "stat", &mut buf)?;
    let (_, cpu) = state_and_number(&buf[..n], 39)?;
    usize::try_from(cpu).ok()
}

/// Who has PID `pid` now: its start time (field 22 of `/proc/<pid>/stat`,
/// in clock ticks since boot), which tells a process from a later one that
/// got the same PID. `None` if there is no such process, or it is a zombie
/// (it has ended and can no longer answer).
pub fn identity(pid: Pid) -> Option<u64> {
    let mut buf = [0u8; 512];
    let n = read_proc(pid, "stat", &mut buf)?;
    identity_of(&buf[..n])
}

fn identity_of(stat: &[u8]) -> Option<u64> {
    match state_and_number(stat, 22)? {
        (b'Z', _) => None,
        (_, start) => Some(start),
    }
}

/// The state letter of a `/proc/<pid>/stat` file and its decimal field `n`
/// (4 or more): one reader for the fields the server reads (its code is
/// there once).
fn state_and_number(stat: &[u8], n: usize) -> Option<(u8, u64)> {
    let mut fields = stat_fields(stat)?;
    let state = *fields.next()?.first()?;
    Some((state, number(fields.nth(n - 4)?)?))
}

/// The bytes `pid` has written so far (`wchar` in `/proc/<pid>/io`): a
/// minitalk server keeps it moving while its output moves (see
/// [`write_wait`](crate::write_wait)). `None` if it cannot be read.
pub fn written(pid: Pid) -> Option<u64> {
    let mut buf = [0u8; 512];
    let n = read_proc(pid, "io", &mut buf)?;
    field(&buf[..n], b"wchar:", 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_start_time_from_a_stat_file() {
        let stat =
            b"4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(identity_of(stat), Some(987654));
        let zombie = b"4242 (x) Z 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 0 0";
        assert_eq!(identity_of(zombie), None);
        let me = crate::getpid();
        assert!(identity(me).is_some());
        assert_eq!(identity(me), identity(me));
    }

    #[test]
    fn reads_the_state_and_cpu_time_from_a_stat_file() {
        let stat =
            b"4242 (a (b) c) R 1 4242 4242 0 -1 4194560 100 0 0 0 17 25 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(process_of(stat), Some((ProcessState::Runnable, 42)));
        let stopped = b"4242 (x) T 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 9 0 0";
        assert_eq!(process_of(stopped), Some((ProcessState::Stopped, 3)));
        assert_eq!(process_of(b"4242 (x) S 1 2"), None, "cut short");
        // Our own (the main thread's state: it may be asleep in the harness).
        assert!(process(crate::getpid()).is_some());
    }

    #[test]
    fn reads_masks_from_a_status_file() {
        let status = b"Name:\tserver\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000a00\n";
        assert_eq!(field(status, b"SigCgt:", 16), Some(0xa00));
        assert_eq!(field(status, b"SigBlk:", 16), Some(0));
        assert_eq!(field(status, b"Nope:", 16), None);
        assert_eq!(bit(libc::SIGUSR1) | bit(libc::SIGUSR2), 0xa00);
    }

    #[test]
    fn reads_counters_from_an_io_file() {
        let io = b"rchar: 12\nwchar: 3456\nsyscr: 1\nsyscw: 2\n";
        assert_eq!(field(io, b"wchar:", 10), Some(3456));
        assert_eq!(field(io, b"nope:", 10), None);
        assert_eq!(
            field(b"wchar: 12a", b"wchar:", 10),
            Some(12),
            "decimal: 'a' ends it"
        );
        assert_eq!(field(b"wchar: x", b"wchar:", 10), Some(0));
        // Our own counter can be read.
        assert!(written(crate::getpid()).is_some());
    }
}
