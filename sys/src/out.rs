//! Output without `core::fmt`: a line is assembled in a fixed buffer and
//! written with one `write(2)`, so lines from a process never interleave
//! mid-line and no formatting machinery lands in the binary.

use minitalk_protocol::Duration;

/// The rate of `bytes` in `elapsed`, in bits per second (an `elapsed` under
/// a microsecond counts as one).
///
/// ```
/// use minitalk_protocol::Duration;
/// use minitalk_sys::out::bits_per_sec;
/// assert_eq!(bits_per_sec(1000, Duration::from_secs(2)), 4000);
/// assert_eq!(bits_per_sec(1, Duration::ZERO), 8_000_000);
/// ```
pub fn bits_per_sec(bytes: u64, elapsed: Duration) -> u64 {
    bytes * 8_000_000 / (elapsed.as_micros().max(1) as u64)
}

/// A line under construction; text beyond its capacity is cut off.
///
/// ```
/// use minitalk_sys::Line;
/// let mut l = Line::new();
/// l.str("sent ").u64(1234).str(" bytes at ").rate(81_234).str(" (").ms(1500).str(")");
/// assert_eq!(l.as_bytes(), b"sent 1234 bytes at 81.2 kbit/s (1.500 s)");
/// ```
pub struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// An empty line.
    // Not inlined: each of the binaries' dozens of lines would clear its
    // buffer in place.
    #[inline(never)]
    pub const fn new() -> Self {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        // A byte at a time: lines are short, and this is the least code.
        for &c in b {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = c;
                self.len += 1;
            }
        }
        self
    }

    /// Appends text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends one byte.
    pub fn byte(&mut self, b: u8) -> &mut Self {
        self.bytes(&[b])
    }

    /// Appends a number in decimal.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        // The digits before the last one first (recursion: the least code).
        if n >= 10 {
            self.u64(n / 10);
        }
        self.byte(b'0' + (n % 10) as u8)
    }

    /// Appends `template` with each `{}` in it replaced by the next of
    /// `numbers` in decimal (a `{}` left without a number comes out empty).
    /// One call in place of a chain of [`str`](Self::str) and
    /// [`u64`](Self::u64): each call site is a few bytes of code, and a
    /// binary has dozens of them.
    ///
    /// ```
    /// use minitalk_sys::Line;
    /// let mut l = Line::new();
    /// l.fill("{} waits, {} ahead", &[4242, 2]);
    /// assert_eq!(l.as_bytes(), b"4242 waits, 2 ahead");
    /// ```
    pub fn fill(&mut self, template: &str, numbers: &[u64]) -> &mut Self {
        let mut numbers = numbers.iter();
        let mut bytes = template.bytes();
        while let Some(b) = bytes.next() {
            if b != b'{' {
                self.byte(b);
            } else if let (Some(_), Some(&n)) = (bytes.next(), numbers.next()) {
                self.u64(n);
            }
        }
        self
    }

    /// Appends a signed number in decimal.
    pub fn i64(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.byte(b'-');
        }
        self.u64(n.unsigned_abs())
    }

    /// Appends `n` with `decimals` decimals, `n` being scaled by 10^decimals.
    pub fn fixed(&mut self, n: u64, decimals: u32) -> &mut Self {
        let scale = 10u64.pow(decimals);
        self.u64(n / scale).byte(b'.');
        let frac = n % scale;
        let mut div = scale / 10;
        while div > 0 {
            self.byte(b'0' + ((frac / div) % 10) as u8);
            div /= 10;
        }
        self
    }

    /// Appends a duration given in milliseconds as seconds, "1.500 s".
    pub fn ms(&mut self, ms: u64) -> &mut Self {
        self.fixed(ms, 3).str(" s")
    }

    /// Appends a duration given in microseconds, with every digit that is
    /// true: "0.712 ms" below a second, "1.500 s" from there.
    ///
    /// ```
    /// use minitalk_sys::Line;
    /// let mut l = Line::new();
    /// l.micros(712).str(", ").micros(1_234_567);
    /// assert_eq!(l.as_bytes(), b"0.712 ms, 1.234 s");
    /// ```
    pub fn micros(&mut self, us: u64) -> &mut Self {
        if us < 1_000_000 {
            self.fixed(us, 3).str(" ms")
        } else {
            self.ms(us / 1000)
        }
    }

    /// Appends a rate given in bits per second, as "81.2 kbit/s".
    pub fn rate(&mut self, bits_per_sec: u64) -> &mut Self {
        self.fixed(bits_per_sec / 100, 1).str(" kbit/s")
    }

    /// Appends a progress bar for `bytes` of `total` (if known) sent in
    /// `elapsed`: the bar and percentage (when `total` is known and not 0),
    /// the bytes, the rate and, when `total` is known, the time left at that
    /// rate. A total exceeded (a file that grew) shows a full bar.
    ///
    /// ```
    /// use minitalk_protocol::Duration;
    /// use minitalk_sys::Line;
    /// let mut l = Line::new();
    /// l.progress(500, Some(2000), Duration::from_secs(2));
    /// assert_eq!(
    ///     l.as_bytes(),
    ///     &b"[#######.......................] 25%  500/2000 bytes  2.0 kbit/s  ETA 6.000 s"[..]
    /// );
    /// ```
    pub fn progress(&mut self, bytes: u64, total: Option<u64>, elapsed: Duration) -> &mut Self {
        /// Cells of the bar.
        const WIDTH: u64 = 30;
        let rate = bits_per_sec(bytes, elapsed);
        if let Some(total) = total.filter(|t| *t > 0) {
            let done = bytes.saturating_mul(WIDTH) / total;
            self.byte(b'[');
            for i in 0..WIDTH {
                self.byte(if i < done { b'#' } else { b'.' });
            }
            self.str("] ")
                .u64(bytes * 100 / total)
                .str("%  ")
                .u64(bytes)
                .byte(b'/')
                .u64(total);
        } else {
            self.u64(bytes);
        }
        self.str(" bytes  ").rate(rate);
        if let Some(total) = total {
            if let Some(ms) = (total.saturating_sub(bytes) * 8_000).checked_div(rate) {
                self.str("  ETA ").ms(ms);
            }
        }
        self
    }

    /// Appends a byte as two hexadecimal digits.
    pub fn hex(&mut self, b: u8) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.byte(HEX[(b >> 4) as usize])
            .byte(HEX[(b & 15) as usize])
    }

    /// The line so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the line and a newline to `fd`, and empties it.
    pub fn println(&mut self, fd: i32) {
        self.byte(b'\n');
        self.print(fd);
    }

    /// Writes the line as it is to `fd`, and empties it.
    pub fn print(&mut self, fd: i32) {
        crate::write_all(fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn bar(bytes: u64, total: Option<u64>, ms: u64) -> std::string::String {
        let mut l = Line::new();
        l.progress(bytes, total, Duration::from_millis(ms));
        std::string::String::from_utf8(l.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn numbers_and_a_full_line() {
        let mut l = Line::new();
        l.u64(0).byte(b' ').u64(10).byte(b' ').u64(u64::MAX);
        assert_eq!(l.as_bytes(), b"0 10 18446744073709551615");
        let mut full = Line::new();
        for _ in 0..100 {
            full.str("0123456789");
        }
        assert_eq!(full.as_bytes().len(), 512, "cut off at its capacity");
    }

    #[test]
    fn progress_bar_figures() {
        assert_eq!(
            bar(0, Some(1000), 0),
            "[..............................] 0%  0/1000 bytes  0.0 kbit/s",
            "no rate yet: no ETA"
        );
        assert_eq!(
            bar(1000, Some(1000), 1000),
            "[##############################] 100%  1000/1000 bytes  8.0 kbit/s  ETA 0.000 s"
        );
        assert_eq!(
            bar(999, Some(1000), 1000),
            "[#############################.] 99%  999/1000 bytes  7.9 kbit/s  ETA 0.001 s"
        );
        assert_eq!(
            bar(1200, Some(1000), 1000),
            "[##############################] 120%  1200/1000 bytes  9.6 kbit/s  ETA 0.000 s",
            "a file that grew"
        );
        assert_eq!(bar(4096, None, 2000), "4096 bytes  16.3 kbit/s");
        assert_eq!(bar(0, Some(0), 10), "0 bytes  0.0 kbit/s", "empty: no bar");
    }
}
