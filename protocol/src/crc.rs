//! CRC-32C (Castagnoli), the checksum that closes every frame.
//!
//! Parameters (the catalogue name is `CRC-32/ISCSI`): polynomial `0x1EDC6F41`
//! (`0x82F63B78` reflected), init `0xFFFFFFFF`, reflected in and out, final
//! XOR `0xFFFFFFFF`, check value `0xE3069283` for `b"123456789"`.
//!
//! The implementation is bitwise, with no table: a frame is at most 259
//! checksummed bytes and arrives at a few tens of thousands of bits per second,
//! so 1 KiB of table would buy nothing but size in the static binaries.
//! Everything here is `const fn` and never panics.

/// The reflected CRC-32C polynomial.
pub const POLY: u32 = 0x82F6_3B78;

/// A running CRC-32C, fed one byte or one slice at a time.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::crc::{crc32c, Crc32c};
///
/// let split = Crc32c::new().update(b"1234").update(b"56789").finish();
/// assert_eq!(split, crc32c(b"123456789"));
/// assert_eq!(split, 0xE306_9283);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32c(u32);

impl Crc32c {
    /// A checksum over no bytes yet.
    pub const fn new() -> Self {
        Crc32c(!0)
    }

    /// Feeds one byte.
    #[inline]
    pub const fn push(self, byte: u8) -> Self {
        let mut c = self.0 ^ byte as u32;
        let mut i = 0;
        while i < 8 {
            // Branch-free: subtract the low bit to get an all-ones or all-zeros mask.
            c = (c >> 1) ^ (POLY & (c & 1).wrapping_neg());
            i += 1;
        }
        Crc32c(c)
    }

    /// Feeds a slice of bytes.
    pub const fn update(mut self, bytes: &[u8]) -> Self {
        let mut i = 0;
        while i < bytes.len() {
            self = self.push(bytes[i]);
            i += 1;
        }
        self
    }

    /// The checksum of everything fed so far.
    pub const fn finish(self) -> u32 {
        !self.0
    }
}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

/// One-shot CRC-32C of `bytes`.
///
/// # Examples
///
/// ```
/// assert_eq!(minitalk_protocol::crc::crc32c(b""), 0);
/// ```
pub const fn crc32c(bytes: &[u8]) -> u32 {
    Crc32c::new().update(bytes).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn computed_at_compile_time() {
        const CHECK: u32 = crc32c(b"123456789");
        assert_eq!(CHECK, 0xE306_9283);
    }

    #[test]
    fn matches_the_crc_crate_on_every_split() {
        let reference = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
        let data: [u8; 300] = core::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ 0x5A);
        for len in [0, 1, 2, 7, 64, 259, 300] {
            let want = reference.checksum(&data[..len]);
            assert_eq!(crc32c(&data[..len]), want, "len {len}");
            for cut in 0..=len {
                let split = Crc32c::new().update(&data[..cut]).update(&data[cut..len]);
                assert_eq!(split.finish(), want, "len {len} cut {cut}");
            }
        }
    }
}
