//! The frame: the unit that is checksummed, acknowledged and retried.
//!
//! ```text
//!  byte 0            byte 1     bytes 2 .. 2+LEN        4 bytes
//! +-+-+-+---------+ +--------+ +--------------------+ +-------------------+
//! |F|L|S| VERSION | |  LEN   | | PAYLOAD (UTF-8)    | | CRC-32C, big end. |
//! +-+-+-+---------+ +--------+ +--------------------+ +-------------------+
//!  F = FIRST frame of a message    L = LAST frame of a message
//!  S = SEQ, the alternating bit    VERSION = 1 (5 bits)
//! ```
//!
//! Invariants:
//! - On the wire every byte goes most significant bit first, byte 0 first.
//! - The CRC covers bytes `0 .. 2+LEN` (header and payload).
//! - `LEN <= 255`, and the payload is valid UTF-8 on its own: a frame never
//!   splits a code point.
//! - A frame is `48 + 8 * LEN` bits long; its length is known once its second
//!   byte has arrived.
//! - Nothing in this module panics, whatever the input.

use crate::crc::Crc32c;
use crate::{utf8, Error};

/// The protocol version carried in every frame.
pub const VERSION: u8 = 1;
/// The most payload bytes one frame carries.
pub const MAX_PAYLOAD: usize = 255;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 2;
/// Bytes of checksum after the payload.
pub const CRC_LEN: usize = 4;
/// Bytes of the largest frame.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_PAYLOAD + CRC_LEN;
/// Bits of a frame with an empty payload: the per-frame overhead.
pub const OVERHEAD_BITS: usize = 8 * (HEADER_LEN + CRC_LEN);

/// Where each field of a frame is (in the manner of smoltcp's `wire`
/// modules): byte offsets, the ranges of a frame whose LEN is `len`, and the
/// bit masks of the header's flags.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::frame::field;
///
/// assert_eq!(field::payload(3), 2..5);
/// assert_eq!(field::crc(3), 5..9);
/// ```
pub mod field {
    use core::ops::Range;

    /// The byte of flags and version.
    pub const FLAGS: usize = 0;
    /// The byte that gives the payload's length.
    pub const LEN: usize = 1;
    /// Where the payload starts.
    pub const PAYLOAD: usize = 2;

    /// The payload of a frame whose LEN is `len`.
    pub const fn payload(len: usize) -> Range<usize> {
        PAYLOAD..PAYLOAD + len
    }

    /// The CRC-32C of a frame whose LEN is `len`.
    pub const fn crc(len: usize) -> Range<usize> {
        PAYLOAD + len..PAYLOAD + len + super::CRC_LEN
    }

    /// In [`FLAGS`]: the frame opens a message.
    pub const FIRST: u8 = 0b1000_0000;
    /// In [`FLAGS`]: the frame closes a message.
    pub const LAST: u8 = 0b0100_0000;
    /// In [`FLAGS`]: the alternating bit.
    pub const SEQ: u8 = 0b0010_0000;
    /// In [`FLAGS`]: the protocol version.
    pub const VERSION: u8 = 0b0001_1111;
}

/// Byte 0 of a frame: the flags and the version.
///
/// Any byte is a header; whether its version is spoken is for
/// [`Frame::parse`] to say.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::frame::{Header, VERSION};
///
/// let header = Header::from_byte(0xC1);
/// assert_eq!(
///     header,
///     Header { first: true, last: true, seq: false, version: VERSION }
/// );
/// assert_eq!(header.to_byte(), 0xC1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// FIRST: the frame opens a message.
    pub first: bool,
    /// LAST: the frame closes a message.
    pub last: bool,
    /// SEQ: the alternating bit.
    pub seq: bool,
    /// VERSION, 5 bits ([`VERSION`] for this implementation).
    pub version: u8,
}

impl Header {
    /// The header that `byte` holds.
    #[inline]
    pub const fn from_byte(byte: u8) -> Self {
        Header {
            first: byte & field::FIRST != 0,
            last: byte & field::LAST != 0,
            seq: byte & field::SEQ != 0,
            version: byte & field::VERSION,
        }
    }

    /// The header as its byte (a version above 5 bits is cut to them).
    #[inline]
    pub const fn to_byte(self) -> u8 {
        let mut byte = self.version & field::VERSION;
        if self.first {
            byte |= field::FIRST;
        }
        if self.last {
            byte |= field::LAST;
        }
        if self.seq {
            byte |= field::SEQ;
        }
        byte
    }
}

/// A parsed, verified frame, or one to be emitted.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::frame::{Frame, MAX_FRAME_LEN};
///
/// let frame = Frame { first: true, last: true, seq: false, payload: "hi" };
/// let mut buf = [0u8; MAX_FRAME_LEN];
/// let len = frame.emit(&mut buf).unwrap();
/// assert_eq!(len, frame.buffer_len());
/// assert_eq!(Frame::parse(&buf[..len]), Ok(frame));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// This frame opens a message.
    pub first: bool,
    /// This frame closes a message.
    pub last: bool,
    /// The alternating bit: a retransmission repeats it, a new frame flips it.
    pub seq: bool,
    /// The payload: whole UTF-8 characters, at most [`MAX_PAYLOAD`] bytes.
    pub payload: &'a str,
}

impl<'a> Frame<'a> {
    /// Its header, with this implementation's [`VERSION`].
    pub const fn header(&self) -> Header {
        Header {
            first: self.first,
            last: self.last,
            seq: self.seq,
            version: VERSION,
        }
    }

    /// Bytes that [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len() + CRC_LEN
    }

    /// Writes the frame into `buf` and returns its length in bytes.
    ///
    /// Fails with [`Error::PayloadTooLong`] or [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.payload.len();
        if n > MAX_PAYLOAD {
            return Err(Error::PayloadTooLong);
        }
        let total = self.buffer_len();
        let buf = buf.get_mut(..total).ok_or(Error::BufferTooSmall)?;
        buf[field::FLAGS] = self.header().to_byte();
        buf[field::LEN] = n as u8;
        buf[field::payload(n)].copy_from_slice(self.payload.as_bytes());
        let crc = Crc32c::new().update(&buf[..field::PAYLOAD + n]).finish();
        buf[field::crc(n)].copy_from_slice(&crc.to_be_bytes());
        Ok(total)
    }

    /// Parses and verifies one whole frame: length, checksum, version, UTF-8.
    ///
    /// Trailing bytes after the frame are an error.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let len = *bytes.get(field::LEN).ok_or(Error::Truncated)? as usize;
        let total = HEADER_LEN + len + CRC_LEN;
        if bytes.len() < total {
            return Err(Error::Truncated);
        }
        if bytes.len() > total {
            return Err(Error::TrailingBytes);
        }
        let body = field::PAYLOAD + len;
        let crc = Crc32c::new().update(&bytes[..body]).finish();
        Self::verify(bytes, crc)
    }

    /// Checks a whole frame whose CRC over header and payload is already
    /// computed as `crc`. `bytes` must be exactly one frame long.
    fn verify(bytes: &'a [u8], crc: u32) -> Result<Self, Error> {
        let header = check(bytes, crc)?;
        Self::checked(header, &bytes[field::PAYLOAD..bytes.len() - CRC_LEN])
    }

    /// The frame of a `header` and `payload` that passed [`check`].
    fn checked(header: Header, payload: &'a [u8]) -> Result<Self, Error> {
        // Valid UTF-8 (`check`): this cannot fail.
        let payload = core::str::from_utf8(payload).map_err(|_| Error::BadUtf8)?;
        Ok(Frame {
            first: header.first,
            last: header.last,
            seq: header.seq,
            payload,
        })
    }
}

/// Checks a whole frame whose CRC over header and payload is already
/// computed as `crc` (checksum, version, UTF-8), without making a `&str` of
/// its payload: the server's decoder never links `core::str::from_utf8`.
/// `bytes` must be exactly one frame long.
fn check(bytes: &[u8], crc: u32) -> Result<Header, Error> {
    let body = bytes.len() - CRC_LEN;
    let sent = u32::from_be_bytes([
        bytes[body],
        bytes[body + 1],
        bytes[body + 2],
        bytes[body + 3],
    ]);
    if crc != sent {
        return Err(Error::BadChecksum);
    }
    let header = Header::from_byte(bytes[field::FLAGS]);
    if header.version != VERSION {
        return Err(Error::BadVersion);
    }
    let payload = &bytes[field::PAYLOAD..body];
    if utf8::valid_up_to(payload) != payload.len() {
        return Err(Error::BadUtf8);
    }
    Ok(header)
}

/// Bit `index` of `frame`, in wire order (byte 0 first, MSB first).
///
/// Returns `None` past the end.
#[inline]
pub fn bit_at(frame: &[u8], index: usize) -> Option<bool> {
    let byte = *frame.get(index / 8)?;
    Some(byte & (0x80 >> (index % 8)) != 0)
}

/// What [`FrameDecoder::feed`] made of one more bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The frame is not complete yet.
    NeedMore,
    /// This bit completed a byte of the frame (header, payload or CRC).
    Byte {
        /// The byte's value.
        value: u8,
        /// Its offset in the frame.
        offset: usize,
    },
    /// This bit completed a frame that passed every check.
    Frame {
        /// The frame.
        frame: Frame<'a>,
        /// Its CRC field: what tells a copy of it from another frame.
        crc: u32,
    },
    /// This bit completed a frame that failed a check; the decoder has
    /// resynchronised and the next bit starts a new frame.
    Invalid(Error),
}

/// A push decoder: bits in, verified frames out.
///
/// It holds one frame in a fixed buffer and checksums as bytes complete, so
/// each bit costs a shift and, every eighth bit, eight more. The frame length
/// comes from the LEN byte, so the decoder always knows where a frame ends;
/// after corruption it is the caller (the [`Receiver`](crate::Receiver)) that
/// calls [`reset`](Self::reset) when the line has been silent long enough.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::frame::{bit_at, Decoded, Frame, FrameDecoder, MAX_FRAME_LEN};
///
/// let mut buf = [0u8; MAX_FRAME_LEN];
/// let len = Frame { first: true, last: true, seq: false, payload: "ok" }
///     .emit(&mut buf)
///     .unwrap();
/// let mut decoder = FrameDecoder::new();
/// let mut got = None;
/// for i in 0..len * 8 {
///     if let Decoded::Frame { frame, .. } = decoder.feed(bit_at(&buf, i).unwrap()) {
///         got = Some(frame.payload.len());
///     }
/// }
/// assert_eq!(got, Some(2));
/// ```
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    buf: [u8; MAX_FRAME_LEN],
    /// Bits of the current frame received so far.
    bits: usize,
    /// Bits the current frame has in all; 0 while the LEN byte is missing.
    total_bits: usize,
    crc: Crc32c,
    /// The last call completed a frame: the next bit starts a new one.
    done: bool,
    /// The last call completed a frame that passed every check (a reset
    /// keeps it: the receiver resets for the next session before its
    /// caller takes the text).
    verified: bool,
}

impl FrameDecoder {
    /// A decoder at the start of a frame.
    pub const fn new() -> Self {
        FrameDecoder {
            buf: [0; MAX_FRAME_LEN],
            bits: 0,
            total_bits: 0,
            crc: Crc32c::new(),
            done: false,
            verified: false,
        }
    }

    /// Forgets any partial frame: the next bit starts a new frame.
    pub fn reset(&mut self) {
        self.bits = 0;
        self.total_bits = 0;
        self.crc = Crc32c::new();
        self.done = false;
    }

    /// Bits of the current, incomplete frame (0 at a frame boundary).
    pub fn bits_pending(&self) -> usize {
        if self.done {
            0
        } else {
            self.bits
        }
    }

    /// The payload of the frame just completed if it passed every check
    /// (empty otherwise, and once the next bit is fed), as bytes: for a
    /// receiver that hands the payload out after the call that decoded it.
    pub(crate) fn payload(&self) -> &[u8] {
        let len = if self.verified {
            self.buf[field::LEN] as usize
        } else {
            0
        };
        &self.buf[field::PAYLOAD..field::PAYLOAD + len]
    }

    /// Feeds one bit.
    pub fn feed(&mut self, bit: bool) -> Decoded<'_> {
        match self.push(bit) {
            Pushed::NeedMore => Decoded::NeedMore,
            Pushed::Byte { value, offset } => Decoded::Byte { value, offset },
            Pushed::End(Ok((header, crc))) => {
                let body = self.total_bits / 8 - CRC_LEN;
                match Frame::checked(header, &self.buf[field::PAYLOAD..body]) {
                    // A verified frame's CRC field is the CRC computed.
                    Ok(frame) => Decoded::Frame { frame, crc },
                    Err(e) => Decoded::Invalid(e),
                }
            }
            Pushed::End(Err(e)) => Decoded::Invalid(e),
        }
    }

    /// Feeds one bit; a frame is checked but not made into a [`Frame`]
    /// (see [`Pushed`]).
    pub(crate) fn push(&mut self, bit: bool) -> Pushed {
        // The payload of the last frame is lent out until this bit.
        self.verified = false;
        if self.done {
            self.reset();
        }
        let offset = self.bits / 8;
        let shift = 7 - (self.bits % 8);
        // `offset < MAX_FRAME_LEN`: a frame ends at `total_bits` <= 8 * MAX_FRAME_LEN.
        let byte = &mut self.buf[offset];
        *byte = (*byte & !(1 << shift)) | ((bit as u8) << shift);
        self.bits += 1;
        if shift != 0 {
            return Pushed::NeedMore;
        }
        let value = *byte;
        if offset == field::LEN {
            self.total_bits = 8 * (HEADER_LEN + value as usize + CRC_LEN);
        }
        let body = if self.total_bits == 0 {
            usize::MAX
        } else {
            self.total_bits / 8 - CRC_LEN
        };
        if offset < body {
            self.crc = self.crc.push(value);
        }
        if self.bits < self.total_bits || self.total_bits == 0 {
            return Pushed::Byte { value, offset };
        }
        self.done = true;
        let len = self.total_bits / 8;
        let crc = self.crc.finish();
        let verdict = check(&self.buf[..len], crc);
        self.verified = verdict.is_ok();
        Pushed::End(verdict.map(|header| (header, crc)))
    }
}

/// What [`FrameDecoder::push`] made of one more bit: [`Decoded`] with a
/// checked frame's header and CRC in place of the [`Frame`]. The receiver
/// takes the text afterwards, as bytes ([`FrameDecoder::payload`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The frame is not complete yet.
    NeedMore,
    /// This bit completed a byte of the frame.
    Byte { value: u8, offset: usize },
    /// This bit completed a frame: its header and CRC if it passed every
    /// check; the next bit starts a new frame.
    End(Result<(Header, u32), Error>),
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// The longest prefix of `text` that fits in one frame and ends on a
/// character boundary.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::frame::split_point;
///
/// let text = "é".repeat(200); // 400 bytes, 2 per character
/// assert_eq!(split_point(text.as_bytes()), 254);
/// ```
pub fn split_point(text: &[u8]) -> usize {
    if text.len() <= MAX_PAYLOAD {
        return text.len();
    }
    let mut end = MAX_PAYLOAD;
    // Step back over continuation bytes (10xxxxxx): at most three of them.
    while end > MAX_PAYLOAD - 3 && text[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"Hi"`, FIRST|LAST, SEQ clear: the golden frame of PROTOCOL.md.
    static GOLDEN_HI: [u8; 8] = [0xC1, 0x02, b'H', b'i', 0x58, 0x3C, 0x68, 0xB8];

    fn golden_hi() -> [u8; 8] {
        GOLDEN_HI
    }

    #[test]
    fn golden_frame_construct() {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let frame = Frame {
            first: true,
            last: true,
            seq: false,
            payload: "Hi",
        };
        let n = frame.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &golden_hi());
        assert_eq!(crate::crc::crc32c(&buf[..4]), 0x583C_68B8);
    }

    #[test]
    fn every_header_byte_reads_and_writes_back() {
        for byte in 0..=255u8 {
            assert_eq!(Header::from_byte(byte).to_byte(), byte);
        }
        let hi = Header::from_byte(golden_hi()[0]);
        let want = Header {
            first: true,
            last: true,
            seq: false,
            version: VERSION,
        };
        assert_eq!(hi, want);
    }

    #[test]
    fn golden_frame_deconstruct() {
        let g = golden_hi();
        let frame = Frame::parse(&g).unwrap();
        assert!(frame.first && frame.last && !frame.seq);
        assert_eq!(frame.payload, "Hi");
    }

    #[test]
    fn parse_rejects_every_single_bit_flip() {
        let g = golden_hi();
        for i in 0..g.len() * 8 {
            let mut f = g;
            f[i / 8] ^= 0x80 >> (i % 8);
            assert!(Frame::parse(&f).is_err(), "flip of bit {i} went unnoticed");
        }
    }

    #[test]
    fn parse_reports_the_right_error() {
        assert_eq!(Frame::parse(&[]), Err(Error::Truncated));
        assert_eq!(Frame::parse(&golden_hi()[..7]), Err(Error::Truncated));
        let mut long = [0u8; 9];
        long[..8].copy_from_slice(&golden_hi());
        assert_eq!(Frame::parse(&long), Err(Error::TrailingBytes));

        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&[0xC2, 0x02, b'H', b'i']); // version 2
        let crc = crate::crc::crc32c(&buf[..4]).to_be_bytes();
        buf[4..].copy_from_slice(&crc);
        assert_eq!(Frame::parse(&buf), Err(Error::BadVersion));

        buf[..4].copy_from_slice(&[0xC1, 0x02, 0xC3, 0x28]); // invalid UTF-8
        let crc = crate::crc::crc32c(&buf[..4]).to_be_bytes();
        buf[4..].copy_from_slice(&crc);
        assert_eq!(Frame::parse(&buf), Err(Error::BadUtf8));
    }

    #[test]
    fn emit_refuses_what_does_not_fit() {
        let long = "x".repeat(256);
        let frame = Frame {
            first: true,
            last: true,
            seq: false,
            payload: &long,
        };
        assert_eq!(frame.emit(&mut [0u8; 600]), Err(Error::PayloadTooLong));
        let frame = Frame {
            first: true,
            last: true,
            seq: false,
            payload: "abc",
        };
        assert_eq!(frame.emit(&mut [0u8; 8]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn decoder_reports_bytes_then_the_frame() {
        let g = golden_hi();
        let mut d = FrameDecoder::new();
        let mut bytes = 0;
        for i in 0..g.len() * 8 {
            match d.feed(bit_at(&g, i).unwrap()) {
                Decoded::NeedMore => assert_ne!(i % 8, 7),
                Decoded::Byte { value, offset } => {
                    assert_eq!((value, offset), (g[i / 8], i / 8));
                    bytes += 1;
                }
                Decoded::Frame { frame, crc } => {
                    assert_eq!(i, g.len() * 8 - 1);
                    assert_eq!(frame.payload, "Hi");
                    assert_eq!(crc.to_be_bytes(), g[g.len() - CRC_LEN..]);
                }
                Decoded::Invalid(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(bytes, g.len() - 1);
        assert_eq!(d.bits_pending(), 0);
    }

    #[test]
    fn decoder_resynchronises_after_a_bad_frame() {
        let mut g = golden_hi();
        g[2] ^= 1;
        let good = golden_hi();
        let mut d = FrameDecoder::new();
        let mut verdicts = [None, None];
        for (k, frame) in [g, good].iter().enumerate() {
            for i in 0..frame.len() * 8 {
                match d.feed(bit_at(frame, i).unwrap()) {
                    Decoded::Frame { .. } => verdicts[k] = Some(Ok(())),
                    Decoded::Invalid(e) => verdicts[k] = Some(Err(e)),
                    _ => {}
                }
            }
        }
        assert_eq!(verdicts, [Some(Err(Error::BadChecksum)), Some(Ok(()))]);
    }

    #[test]
    fn decoder_reset_drops_a_partial_frame() {
        let g = golden_hi();
        let mut d = FrameDecoder::new();
        for i in 0..13 {
            d.feed(bit_at(&g, i).unwrap());
        }
        assert_eq!(d.bits_pending(), 13);
        d.reset();
        let mut ok = false;
        for i in 0..g.len() * 8 {
            ok |= matches!(d.feed(bit_at(&g, i).unwrap()), Decoded::Frame { .. });
        }
        assert!(ok);
    }

    #[test]
    fn split_point_never_cuts_a_character() {
        for s in [
            "a".repeat(300),
            "é".repeat(200),
            "日".repeat(100),
            "😀".repeat(70),
        ] {
            let cut = split_point(s.as_bytes());
            assert!(cut <= MAX_PAYLOAD && cut > MAX_PAYLOAD - 4);
            assert!(s.is_char_boundary(cut));
        }
        assert_eq!(split_point(b"short"), 5);
    }
}
