//! A message read from a stream, cut into frame payloads.
//!
//! [`Chunker`] holds a read-ahead buffer of `N` bytes, reads it full through
//! a [`Source`], checks as it goes that the bytes are UTF-8 (a character may
//! be cut by the end of a read: it is checked once the rest has come), and
//! hands out payloads of whole characters, at most
//! [`MAX_PAYLOAD`] bytes each. An invalid byte is reported with its offset
//! from the start of the message ([`BadUtf8`]).
//!
//! Contract:
//! - before the first payload is handed out, the buffer is read full (or to
//!   the end of the input): a message of up to `N` bytes is checked whole
//!   before a single bit of it is sent;
//! - after that, one read that brings something is enough for the next
//!   payload, and so is one that gives up ([`Source::read`] in a hurry): the
//!   caller then sends what there is, an empty payload if need be, which
//!   keeps a slow writer's session alive;
//! - the payloads, in order, are the input exactly, and only the last one is
//!   marked last.
//!
//! No I/O here: the binary's [`Source`] reads stdin.

use crate::frame::{split_point, MAX_PAYLOAD};

/// Where a [`Chunker`] reads from.
pub trait Source {
    /// Reads into `buf` (never empty): `Some(n)`, the number of bytes read,
    /// 0 at the end of the input (an error ends it too). When `hurry` is
    /// set, may give up and return `None` if nothing comes in a while.
    fn read(&mut self, buf: &mut [u8], hurry: bool) -> Option<usize>;
}

/// Invalid UTF-8 at this byte offset of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadUtf8(pub u64);

/// Cuts a stream into payloads of whole characters; see the module docs.
///
/// `N` (the read-ahead) must be at least [`MAX_PAYLOAD`].
///
/// # Examples
///
/// ```
/// use minitalk_protocol::chunk::{Chunker, Source};
///
/// /// Hands out its bytes a few at a time.
/// struct Slowly<'a>(&'a [u8]);
/// impl Source for Slowly<'_> {
///     fn read(&mut self, buf: &mut [u8], _hurry: bool) -> Option<usize> {
///         let n = self.0.len().min(buf.len()).min(3);
///         buf[..n].copy_from_slice(&self.0[..n]);
///         self.0 = &self.0[n..];
///         Some(n)
///     }
/// }
///
/// let text = "héllo wörld ".repeat(30); // 420 bytes
/// let mut src = Slowly(text.as_bytes());
/// let mut chunks: Chunker<1024> = Chunker::new();
/// let (first, last) = chunks.next(&mut src).unwrap();
/// assert!(!last && first.len() <= 255 && text.starts_with(first));
/// assert_eq!(chunks.total(), Some(420));
/// ```
pub struct Chunker<const N: usize> {
    buf: [u8; N],
    /// Bytes before `start` are handed out; `start..valid` are checked
    /// UTF-8; `valid..end` are read but not checked yet.
    start: usize,
    valid: usize,
    end: usize,
    eof: bool,
    /// Bytes of the message before `buf[0]`.
    offset: u64,
}

impl<const N: usize> Default for Chunker<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Chunker<N> {
    /// An empty chunker that has read nothing yet.
    pub const fn new() -> Self {
        const { assert!(N >= MAX_PAYLOAD, "Chunker: N must be at least MAX_PAYLOAD") };
        Chunker {
            buf: [0; N],
            start: 0,
            valid: 0,
            end: 0,
            eof: false,
            offset: 0,
        }
    }

    /// The next frame's payload and whether it ends the message.
    pub fn next(&mut self, src: &mut impl Source) -> Result<(&str, bool), BadUtf8> {
        if self.valid - self.start < MAX_PAYLOAD && !self.eof {
            self.fill(src)?;
        }
        let n = split_point(&self.buf[self.start..self.valid]);
        let from = self.start;
        self.start += n;
        let last = self.eof && self.start == self.end;
        let text = core::str::from_utf8(&self.buf[from..from + n])
            .map_err(|_| BadUtf8(self.offset + from as u64))?;
        Ok((text, last))
    }

    /// Moves the bytes not handed out yet to the front, reads (until the
    /// buffer is full or the input ends; once a payload has been handed out,
    /// until one read brings something or gives up), and checks what was
    /// read. [`next`](Self::next) calls it when it needs more; call it first
    /// to check a message of up to `N` bytes before anything is sent.
    pub fn fill(&mut self, src: &mut impl Source) -> Result<(), BadUtf8> {
        let sending = self.offset + self.start as u64 > 0;
        self.buf.copy_within(self.start..self.end, 0);
        self.offset += self.start as u64;
        self.valid -= self.start;
        self.end -= self.start;
        self.start = 0;
        while self.end < N && !self.eof {
            match src.read(&mut self.buf[self.end..], sending) {
                None => break,
                Some(0) => self.eof = true,
                Some(n) => {
                    self.end += n.min(N - self.end);
                    if sending {
                        break;
                    }
                }
            }
        }
        match core::str::from_utf8(&self.buf[self.valid..self.end]) {
            Ok(_) => self.valid = self.end,
            // A character cut by the end of the buffer: checked with the next read.
            Err(e) if e.error_len().is_none() && !self.eof => self.valid += e.valid_up_to(),
            Err(e) => return Err(BadUtf8(self.offset + (self.valid + e.valid_up_to()) as u64)),
        }
        Ok(())
    }

    /// The whole message, checked UTF-8, when [`fill`](Self::fill) read the
    /// input to its end before any payload was handed out (it is at most `N`
    /// bytes); `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::chunk::{Chunker, Source};
    /// struct Once<'a>(&'a [u8]);
    /// impl Source for Once<'_> {
    ///     fn read(&mut self, buf: &mut [u8], _hurry: bool) -> Option<usize> {
    ///         let n = self.0.len().min(buf.len());
    ///         buf[..n].copy_from_slice(&self.0[..n]);
    ///         self.0 = &self.0[n..];
    ///         Some(n)
    ///     }
    /// }
    /// let mut short: Chunker<300> = Chunker::new();
    /// short.fill(&mut Once("héllo".as_bytes())).unwrap();
    /// assert_eq!(short.whole(), Some("héllo".as_bytes()));
    /// let mut long: Chunker<300> = Chunker::new();
    /// long.fill(&mut Once(&[b'a'; 400])).unwrap();
    /// assert_eq!(long.whole(), None);
    /// ```
    pub fn whole(&self) -> Option<&[u8]> {
        (self.eof && self.offset == 0 && self.start == 0 && self.valid == self.end)
            .then(|| &self.buf[..self.end])
    }

    /// The message's size, once the input has been read to its end.
    pub fn total(&self) -> Option<u64> {
        self.eof.then_some(self.offset + self.end as u64)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::String;
    use std::vec::Vec;

    use super::*;

    /// A source that plays back a script of reads: `Some(bytes)` comes in
    /// one read (cut to the room there is, the rest in the next), `None`
    /// is a wait that brings nothing; then the end of the input.
    struct Script<'a> {
        reads: Vec<Option<&'a [u8]>>,
        at: usize,
        /// Reads in a hurry so far.
        hurried: usize,
    }

    impl<'a> Script<'a> {
        fn new(reads: &[Option<&'a [u8]>]) -> Self {
            Script {
                reads: reads.to_vec(),
                at: 0,
                hurried: 0,
            }
        }

        fn of(bytes: &'a [u8], size: usize) -> Self {
            Self::new(&bytes.chunks(size).map(Some).collect::<Vec<_>>())
        }
    }

    impl Source for Script<'_> {
        fn read(&mut self, buf: &mut [u8], hurry: bool) -> Option<usize> {
            assert!(!buf.is_empty());
            self.hurried += hurry as usize;
            let Some(next) = self.reads.get_mut(self.at) else {
                return Some(0);
            };
            let Some(bytes) = next else {
                self.at += 1;
                assert!(hurry, "a wait for nothing only while sending");
                return None;
            };
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            *bytes = &bytes[n..];
            if bytes.is_empty() {
                self.at += 1;
            }
            Some(n)
        }
    }

    /// Every payload of the message, checking each on the way.
    fn payloads<const N: usize>(src: &mut impl Source) -> Result<Vec<String>, BadUtf8> {
        let mut chunks = Chunker::<N>::new();
        chunks.fill(src)?;
        let mut all = Vec::new();
        loop {
            let (text, last) = chunks.next(src)?;
            assert!(text.len() <= MAX_PAYLOAD);
            all.push(String::from(text));
            if last {
                return Ok(all);
            }
            assert!(all.len() < 100_000, "no end");
        }
    }

    #[test]
    fn empty_input_is_one_empty_last_payload() {
        let mut chunks = Chunker::<256>::new();
        let mut src = Script::new(&[]);
        chunks.fill(&mut src).unwrap();
        assert_eq!(chunks.total(), Some(0));
        assert_eq!(chunks.next(&mut src), Ok(("", true)));
    }

    #[test]
    fn a_short_message_is_one_payload() {
        let mut src = Script::new(&[Some(b"hello, "), Some("wörld".as_bytes())]);
        assert_eq!(payloads::<256>(&mut src).unwrap(), ["hello, wörld"]);
    }

    #[test]
    fn characters_cut_between_reads_are_joined() {
        // é = C3 A9, 😀 = F0 9F 98 80, each cut after every byte.
        let text = "aé😀b";
        let mut src = Script::of(text.as_bytes(), 1);
        assert_eq!(payloads::<256>(&mut src).unwrap(), [text]);
    }

    #[test]
    fn payloads_are_whole_characters_of_at_most_max_payload_bytes() {
        let text = "a😀é€".repeat(200); // 1 + 4 + 2 + 3 bytes, cut anywhere
        for read in [1, 7, 255, 256, 4096] {
            let mut src = Script::of(text.as_bytes(), read);
            let all = payloads::<1024>(&mut src).unwrap();
            assert_eq!(all.concat(), text);
            // Before sending, the read-ahead is full: the first frames are full too.
            assert!(all[0].len() > MAX_PAYLOAD - 4, "{read}: {}", all[0].len());
        }
    }

    #[test]
    fn invalid_bytes_are_reported_at_their_offset() {
        let mut src = Script::new(&[Some(b"ab\xffcd")]);
        assert_eq!(payloads::<256>(&mut src), Err(BadUtf8(2)));
        // A character cut by the end of the input is invalid where it starts.
        let mut src = Script::new(&[Some(b"abc\xe2\x82")]);
        assert_eq!(payloads::<256>(&mut src), Err(BadUtf8(3)));
        // A continuation byte that starts nothing.
        let mut src = Script::new(&[Some(b"\x80")]);
        assert_eq!(payloads::<256>(&mut src), Err(BadUtf8(0)));
    }

    #[test]
    fn invalid_bytes_beyond_the_read_ahead_are_found_while_sending() {
        let mut text = "é".repeat(1000).into_bytes(); // 2000 bytes
        text[1500] = b'\xff';
        let mut src = Script::of(&text, 100);
        let mut chunks = Chunker::<512>::new();
        chunks.fill(&mut src).unwrap();
        let mut sent = 0;
        let err = loop {
            match chunks.next(&mut src) {
                Ok((text, last)) => {
                    assert!(!last);
                    sent += text.len();
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err, BadUtf8(1500));
        assert!(
            sent <= 1500 && sent > 512,
            "sent {sent} before the bad byte"
        );
    }

    #[test]
    fn exactly_the_read_ahead_and_one_byte_more() {
        const KIB64: usize = 64 * 1024;
        for len in [KIB64, KIB64 + 1] {
            let text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut src = Script::of(&text, 4096);
            let mut chunks = Chunker::<KIB64>::new();
            chunks.fill(&mut src).unwrap();
            // Full before the end was seen: the size is not known yet.
            assert_eq!(chunks.total(), None);
            assert_eq!(src.hurried, 0, "no hurry before sending");
            let mut got = Vec::new();
            loop {
                let (text, last) = chunks.next(&mut src).unwrap();
                got.extend_from_slice(text.as_bytes());
                if last {
                    break;
                }
            }
            assert_eq!(got, text);
            assert_eq!(chunks.total(), Some(len as u64));
        }
    }

    #[test]
    fn while_sending_a_wait_for_nothing_gives_an_empty_payload() {
        let first = "x".repeat(300);
        let mut src = Script::new(&[Some(first.as_bytes()), None, None, Some(b"yz")]);
        let mut chunks = Chunker::<300>::new();
        chunks.fill(&mut src).unwrap();
        assert_eq!(src.hurried, 0);
        assert_eq!(chunks.next(&mut src), Ok((&first[..255], false)));
        // 45 bytes left: it reads once more, in a hurry, and nothing comes.
        assert_eq!(chunks.next(&mut src), Ok((&first[255..], false)));
        assert_eq!(src.hurried, 1);
        assert_eq!(
            chunks.next(&mut src),
            Ok(("", false)),
            "nothing came in time"
        );
        assert_eq!(chunks.next(&mut src), Ok(("yz", false)));
        assert_eq!(chunks.next(&mut src), Ok(("", true)));
        assert_eq!(chunks.total(), Some(302));
    }

    #[test]
    fn random_reads_give_back_the_input() {
        let text = "Grüße, 世界! 🎉 plain ascii too. ".repeat(300);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20 {
            let mut reads = Vec::new();
            let mut rest = text.as_bytes();
            while !rest.is_empty() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed % 700) as usize + 1;
                let (a, b) = rest.split_at(n.min(rest.len()));
                reads.push(Some(a));
                rest = b;
            }
            let mut src = Script::new(&reads);
            assert_eq!(payloads::<1024>(&mut src).unwrap().concat(), text);
        }
    }
}
