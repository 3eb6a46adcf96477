//! Shared helpers of the minitalk benchmarks.
//!
//! - [`pingpong`]: the floor of any 1-bit stop-and-wait protocol, a bare
//!   kill-and-acknowledge ping-pong with a forked child.
//! - [`procs`]: the real `server` and `client` binaries (found or built),
//!   a server process and client runs.
//! - [`children`]: every child process started here is killed and reaped,
//!   on the normal path by its owner's `Drop`, on a panic by a hook.
//! - [`machine`]: what the figures were measured on.
//!
//! Safety rules kept by every function here: a signal goes only to a child
//! this process started and has not reaped yet, and never to a PID below 1
//! (no process groups, no `kill(-1, …)`).
//!
//! The signal code assumes that the process is single-threaded while a
//! [`pingpong::PingPong`] is running (criterion and the `report` binary are):
//! a signal sent with `kill` goes to any thread that does not block it.

pub mod children;
pub mod machine;
pub mod pingpong;
pub mod procs;

use std::time::Duration;

/// A deterministic message of `len` bytes of printable ASCII (words,
/// spaces, punctuation), the same on every run.
///
/// # Examples
///
/// ```
/// let m = minitalk_benches::message(1000);
/// assert_eq!(m.len(), 1000);
/// assert_eq!(m, minitalk_benches::message(1000));
/// ```
pub fn message(len: usize) -> String {
    const ALPHABET: &[u8] = b"etaoinshrdlucmfwypvbgkjqxz ETAOIN,.'0123456789   ";
    let mut state: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            // xorshift32: cheap, and good enough to vary the bits.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ALPHABET[state as usize % ALPHABET.len()] as char
        })
        .collect()
}

/// The median, smallest and largest of some measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The middle value (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; `None` if there are none.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_benches::Summary;
    /// let s = Summary::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
    /// assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
    /// ```
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// The spread, (max - min) / median, in percent.
    pub fn spread_percent(&self) -> f64 {
        if self.median == 0.0 {
            return 0.0;
        }
        (self.max - self.min) / self.median * 100.0
    }
}

/// `bits` moved in `elapsed`, in kbit/s (1 kbit = 1000 bits).
pub fn kbit_per_s(bits: u64, elapsed: Duration) -> f64 {
    bits as f64 / elapsed.as_secs_f64() / 1000.0
}
