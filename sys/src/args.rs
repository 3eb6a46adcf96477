//! The command line: the arguments `main` is given, and strict parsers for
//! the values the binaries take (PIDs, seconds) and their option tables.
//!
//! None of this is a system call: it lives here because both binaries share
//! it and the protocol crate has no business with command lines. All but
//! [`Args`] is pure and tested here.

use minitalk_protocol::{Duration, Pid};

/// The largest PID Linux can hand out (`PID_MAX_LIMIT` on 64-bit kernels).
pub const PID_MAX: Pid = 4_194_304;

/// The command-line arguments, from the `argc` and `argv` given to `main`.
#[derive(Clone, Copy)]
pub struct Args {
    argv: *const *const libc::c_char,
    argc: usize,
}

impl Args {
    /// # Safety
    ///
    /// `argv` must hold `argc` valid NUL-terminated strings, alive for the
    /// whole program (as `main`'s are).
    pub unsafe fn new(argc: i32, argv: *const *const libc::c_char) -> Self {
        Args {
            argv,
            argc: argc.max(0) as usize,
        }
    }

    /// How many arguments, the program name included.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether there are none at all.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Argument `i` as bytes (0 is the program name).
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, and Args::new's caller vouched for argv.
        unsafe {
            let p = *self.argv.add(i);
            Some(core::slice::from_raw_parts(p.cast(), strlen(p.cast())))
        }
    }
}

/// The value paired with `arg` in `table`, if any: a command line's options
/// looked up in one loop. (A `match` on byte strings compiles to a compare
/// per byte of every option name: twice the size, in a static binary.)
///
/// ```
/// use minitalk_sys::lookup;
/// const OPTIONS: &[(&[u8], char)] = &[(b"-h", 'h'), (b"--help", 'h'), (b"--stats", 's')];
/// assert_eq!(lookup(b"--help", OPTIONS), Some('h'));
/// assert_eq!(lookup(b"--stat", OPTIONS), None);
/// ```
pub fn lookup<T: Copy>(arg: &[u8], table: &[(&[u8], T)]) -> Option<T> {
    table.iter().find(|(name, _)| *name == arg).map(|(_, v)| *v)
}

/// The length of the NUL-terminated string at `p`.
///
/// # Safety
///
/// `p` must point at a NUL-terminated string.
unsafe fn strlen(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller vouches for the terminator, so every byte read up
    // to it is in bounds.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}

/// Parses a PID strictly: decimal digits only, no sign, no spaces, no
/// leading zero, from 1 to [`PID_MAX`].
///
/// ```
/// use minitalk_sys::parse_pid;
/// assert_eq!(parse_pid(b"4242"), Some(4242));
/// for bad in [&b"0"[..], b"-1", b"+42", b" 42", b"12abc", b"0x10", b"042", b"", b"99999999999"] {
///     assert_eq!(parse_pid(bad), None);
/// }
/// ```
pub fn parse_pid(s: &[u8]) -> Option<Pid> {
    if s.is_empty() || s.len() > 7 || s[0] == b'0' {
        return None;
    }
    let mut n: Pid = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as Pid;
    }
    (n <= PID_MAX).then_some(n)
}

/// Parses a decimal number of seconds with up to three decimals ("2", "0.5").
///
/// ```
/// use minitalk_protocol::Duration;
/// use minitalk_sys::parse_seconds;
/// assert_eq!(parse_seconds(b"2"), Some(Duration::from_secs(2)));
/// assert_eq!(parse_seconds(b"0.25"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_seconds(b"0"), None);
/// assert_eq!(parse_seconds(b"1e3"), None);
/// ```
pub fn parse_seconds(s: &[u8]) -> Option<Duration> {
    let (int, frac) = match s.iter().position(|&c| c == b'.') {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &b""[..]),
    };
    if int.is_empty() || int.len() > 6 || frac.len() > 3 {
        return None;
    }
    let mut ms: u64 = 0;
    for &c in int {
        ms = ms * 10 + u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
    }
    ms *= 1000;
    let mut scale = 100;
    for &c in frac {
        ms += scale * u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
        scale /= 10;
    }
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// A whole number of microseconds, 1 to 1,000,000 (`--pace`).
///
/// ```
/// use minitalk_protocol::Duration;
/// use minitalk_sys::parse_micros;
/// assert_eq!(parse_micros(b"400"), Some(Duration::from_micros(400)));
/// assert_eq!(parse_micros(b"1.5"), None);
/// ```
pub fn parse_micros(s: &[u8]) -> Option<Duration> {
    if s.is_empty() || s.len() > 7 {
        return None;
    }
    let mut us: u64 = 0;
    for &c in s {
        us = us * 10 + u64::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
    }
    (1..=1_000_000)
        .contains(&us)
        .then(|| Duration::from_micros(us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_from_one_to_pid_max() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(PID_MAX));
        assert_eq!(parse_pid(b"4194305"), None);
        assert_eq!(parse_pid(b"9999999"), None);
        assert_eq!(parse_pid(b"10000000"), None, "eight digits");
        assert_eq!(parse_pid("４２".as_bytes()), None, "ASCII digits only");
    }

    #[test]
    fn seconds_with_up_to_three_decimals() {
        assert_eq!(parse_seconds(b"0.001"), Some(Duration::from_millis(1)));
        assert_eq!(parse_seconds(b"3."), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_seconds(b"999999.999"),
            Some(Duration::from_millis(999_999_999))
        );
        for bad in [
            &b""[..],
            b".5",
            b"0.0001",
            b"1000000",
            b"-1",
            b"+1",
            b"1.2.3",
            b" 1",
            b"0.000",
        ] {
            assert_eq!(parse_seconds(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn micros_from_one_to_a_million() {
        assert_eq!(parse_micros(b"1"), Some(Duration::from_micros(1)));
        assert_eq!(parse_micros(b"1000000"), Some(Duration::from_secs(1)));
        assert_eq!(parse_micros(b"0001000"), Some(Duration::from_millis(1)));
        for bad in [
            &b""[..],
            b"0",
            b"1000001",
            b"9999999",
            b"10000000",
            b"-5",
            b"+5",
            b"1.5",
            b"abc",
            b"5 ",
        ] {
            assert_eq!(parse_micros(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lookup_matches_whole_arguments_only() {
        const TABLE: &[(&[u8], u8)] = &[(b"-q", 1), (b"--quiet", 1), (b"--", 2)];
        assert_eq!(lookup(b"--quiet", TABLE), Some(1));
        assert_eq!(lookup(b"--", TABLE), Some(2));
        for miss in [&b"-"[..], b"--q", b"--quiet=1", b"-Q", b""] {
            assert_eq!(lookup(miss, TABLE), None);
        }
    }
}
