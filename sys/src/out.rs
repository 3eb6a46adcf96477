//! Output without `core::fmt`: a line is assembled in a fixed buffer and
//! written with one `write(2)`, so lines from a process never interleave
//! mid-line and no formatting machinery lands in the binary.

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
    pub const fn new() -> Self {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
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
    pub fn u64(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.bytes(&digits[i..])
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

    /// Appends a rate given in bits per second, as "81.2 kbit/s".
    pub fn rate(&mut self, bits_per_sec: u64) -> &mut Self {
        self.fixed(bits_per_sec / 100, 1).str(" kbit/s")
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
