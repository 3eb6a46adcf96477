//! The convention of a client, detected from its first bytes (`--classic`
//! without a LIST): bit order, the signal that means 1, and what comes
//! before the text (nothing, a NUL, or a 32- or 64-bit length).
//!
//! The first [`KEPT`] signals are kept (with their gaps, for the trace) and
//! read side by side under sixteen candidates: four framings (in this order
//! of preference: NUL at the end, `lead`, `len32`, `len64`) times four
//! interpretations (MSB/`SIGUSR2`, LSB/`SIGUSR2`, MSB/`SIGUSR1`,
//! LSB/`SIGUSR1`). Under each, the bytes must read as text (printable ASCII,
//! tab, newline or valid UTF-8 other than the C1 controls) after its header:
//! a `lead` NUL, or a length of at most [`MAX_LENGTH`] (the bytes of a text
//! read as a length announce more). A message that ends empty and is
//! followed by more bytes is not the client's framing. Each candidate ends
//! up [`Reading::Dead`], still in its header (no evidence yet), reading text,
//! ended empty, or ended (by its NUL, or after its length).
//!
//! It is decided as soon as none is left, or one that has read text; or
//! some ended and none is still reading text or in its header; or [`KEPT`]
//! signals came or the client fell silent: then the first that ended, else
//! the first reading text, else the first ended empty. So a message of
//! one or two characters is decided by what follows its NUL, or by its
//! silence: its NUL may be a length's, in the other bit order (`lsb,len32`
//! announcing 10 bytes is `P`, NUL in MSB order), and the receiver then
//! answers its end as it would have at its last bit. When none is left
//! (corrupted, or not text) the default is kept: the verdicts say what is
//! wrong, and no convention is suggested from such data. The bits are then
//! decoded under the chosen one, from the first.

use super::super::{BitOrder, Header};
use crate::utf8::Utf8;
use crate::Signal;

/// The signals kept before deciding: 16 bytes, a 64-bit header and text.
pub(super) const KEPT: u8 = 128;

/// The largest length a header is taken to announce (1 MiB).
pub(super) const MAX_LENGTH: u64 = 1 << 20;

/// The framings tried, in order of preference.
const FRAMINGS: [Header; 4] = [Header::None, Header::Lead, Header::Len32, Header::Len64];

/// A convention found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) order: BitOrder,
    pub(super) one: Signal,
    pub(super) header: Header,
}

/// What the bytes so far are under one candidate, from the least
/// evidence to the most (the order of the choice when forced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Reading {
    /// Not text, or a header that cannot be.
    Dead,
    /// Inside its header, or past it with no text yet.
    Header,
    /// Ended with no text: a lone empty message.
    Empty,
    /// Text, not ended.
    Text,
    /// A message that ended with text (or after its length).
    Ended,
}

/// A client's first signals, before its convention is known.
#[derive(Clone, Copy, Debug)]
pub(super) struct Detect {
    /// The signals in arrival order, eight a byte, the first in its top
    /// bit (`SIGUSR2` = 1).
    raw: [u8; KEPT as usize / 8],
    /// How many.
    pub(super) n: u8,
    /// Their gaps, for the trace.
    pub(super) gaps: [u32; KEPT as usize],
}

impl Detect {
    pub(super) const START: Detect = Detect {
        raw: [0; KEPT as usize / 8],
        n: 0,
        gaps: [0; KEPT as usize],
    };

    /// Keeps a signal; the convention once decided.
    pub(super) fn push(&mut self, signal: Signal, gap: u32) -> Option<Found> {
        let n = usize::from(self.n);
        self.gaps[n] = gap;
        self.raw[n / 8] |= u8::from(signal == Signal::Usr2) << (7 - n % 8);
        self.n += 1;
        self.decide(false)
    }

    /// Whether signal `j` (in arrival order) was `SIGUSR2`.
    pub(super) fn usr2(&self, j: u8) -> bool {
        (self.raw[usize::from(j / 8)] >> (7 - j % 8)) & 1 == 1
    }

    /// The convention, if the signals so far decide it (`quiet`: no more
    /// come).
    pub(super) fn decide(&self, quiet: bool) -> Option<Found> {
        if !quiet && self.n % 8 != 0 {
            return None;
        }
        // The best candidate (the most evidence, then the first), how many
        // are left, and how many are reading text or in their header.
        let (mut best, mut top) = (0, Reading::Dead);
        let (mut left, mut undecided) = (0, 0);
        for c in 0..16 {
            let r = self.read(c);
            if r > top {
                (best, top) = (c, r);
            }
            left += usize::from(r != Reading::Dead);
            undecided += usize::from(matches!(r, Reading::Text | Reading::Header));
        }
        // A message ended, and nothing else has evidence: no candidate
        // reads text, none is in its header (a length whose bytes read, in
        // the other bit order, as one or two characters and a NUL).
        let decided = quiet
            || self.n >= KEPT
            || left == 0
            || (left == 1 && top > Reading::Header)
            || (top == Reading::Ended && undecided == 0);
        if !decided {
            return None;
        }
        // No text under any: the default.
        let (c, k) = if top > Reading::Header {
            (best, best as u8 & 3)
        } else {
            (0, 0)
        };
        Some(Found {
            order: if k & 1 == 1 {
                BitOrder::Lsb
            } else {
                BitOrder::Msb
            },
            one: if k & 2 == 2 {
                Signal::Usr1
            } else {
                Signal::Usr2
            },
            header: FRAMINGS[c / 4],
        })
    }

    /// The bytes so far under candidate `c`: framing `c / 4`,
    /// interpretation `c % 4` ([`interpret`]); as many messages as they
    /// hold, each of which must be text, and not empty if more follows.
    // Not inlined into `decide`'s loop: 32 B less in the static server.
    #[inline(never)]
    fn read(&self, c: usize) -> Reading {
        let (framing, k) = (FRAMINGS[c / 4], c as u8 & 3);
        let head = framing.bits() / 8;
        let kept = &self.raw[..usize::from(self.n / 8)];
        let mut m = Message::START;
        // Messages ended, and whether one of them had text.
        let (mut ended, mut any_text) = (0, false);
        let mut j = 0;
        while let Some(&raw) = kept.get(j) {
            let b = interpret(raw, k);
            j += 1;
            if m.pos < head {
                // The header, in the data's bit order: MSB first, its
                // bytes from the top; LSB first, from the bottom.
                let at = if k & 1 == 0 { head - 1 - m.pos } else { m.pos };
                m.length |= u64::from(b) << (8 * at);
                m.pos += 1;
                if m.length > MAX_LENGTH || (framing == Header::Lead && b != 0) {
                    return Reading::Dead;
                }
                continue;
            }
            let end = if framing.is_length() {
                m.text == m.length
            } else {
                b == 0
            };
            if end {
                // After a length, a NUL is the end's; another byte is the
                // next header's, read again.
                let next = framing.is_length() && b != 0;
                if m.text == 0 && (j < kept.len() || next) {
                    // More after an empty message: not this framing.
                    return Reading::Dead;
                }
                (ended, any_text) = (ended + 1, any_text || m.text > 0);
                m = Message::START;
                j -= usize::from(next);
                continue;
            }
            // Text: printable ASCII, tab, newline, or UTF-8 other than the
            // C1 controls (U+0080 to U+009F: 0xC2 then below 0xA0).
            let c1 = m.prev == 0xC2 && b < 0xA0;
            if c1 || !(m.utf8.push(b) && (b >= 0x80 || matches!(b, 0x20..=0x7E | b'\n' | b'\t'))) {
                return Reading::Dead;
            }
            (m.pos, m.text, m.prev) = (m.pos + 1, m.text + 1, b);
        }
        if framing.is_length() && m.pos >= head && m.text == m.length {
            // The announced length came.
            (ended, any_text) = (ended + 1, any_text || m.text > 0);
            m.pos = 0;
        }
        match (m.pos, m.text, ended) {
            (0, _, 0) => Reading::Header,
            (0, _, _) if any_text => Reading::Ended,
            (0, _, _) => Reading::Empty,
            (_, 0, _) => Reading::Header,
            _ => Reading::Text,
        }
    }
}

/// The message being read under one candidate.
#[derive(Clone, Copy)]
struct Message {
    /// Its bytes so far, header included.
    pos: u32,
    /// The length its header announced.
    length: u64,
    /// Its text bytes so far.
    text: u64,
    /// The last of them.
    prev: u8,
    utf8: Utf8,
}

impl Message {
    const START: Message = Message {
        pos: 0,
        length: 0,
        text: 0,
        prev: 0,
        utf8: Utf8::new(),
    };
}

/// The byte of `raw` (arrival order, `SIGUSR2` = 1) read as interpretation
/// `k`: bit 0, LSB first; bit 1, `SIGUSR1` means 1.
const fn interpret(raw: u8, k: u8) -> u8 {
    let b = if k & 1 == 1 { raw.reverse_bits() } else { raw };
    if k & 2 == 2 {
        !b
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classic::{Convention, Encoder};

    /// The decision on `msg` sent by `items`, and after how many bytes
    /// (`None`: only when the client falls silent).
    fn detect(items: &[u8], msg: &[u8]) -> (Found, Option<u64>) {
        let enc = Encoder::new(Convention::parse(items).unwrap(), msg).unwrap();
        let mut d = Detect::START;
        for i in 0..enc.bits().min(u64::from(KEPT)) {
            if let Some(found) = d.push(enc.signal_at(i).unwrap(), 0) {
                return (found, Some((i + 1) / 8));
            }
        }
        (d.decide(true).unwrap(), None)
    }

    fn found(items: &[u8]) -> Found {
        let c = Convention::parse(items).unwrap();
        Found {
            order: c.order,
            one: c.one,
            header: c.header,
        }
    }

    #[test]
    fn a_text_is_decided_once_no_other_reading_is_left() {
        assert_eq!(detect(b"", b"Hello, 42!"), (found(b""), Some(3)));
        assert_eq!(detect(b"usr1", b"Hello, 42!"), (found(b"usr1"), Some(3)));
        // Its third byte cannot be a short length's, in either order.
        assert_eq!(detect(b"", b"abc"), (found(b""), Some(3)));
    }

    #[test]
    fn a_length_header_in_either_order_is_found() {
        assert_eq!(detect(b"len32", b"Hi there").0, found(b"len32"));
        assert_eq!(detect(b"len64", b"Hi there").0, found(b"len64"));
        assert_eq!(
            detect(b"lsb,len32,none", b"Hi there").0,
            found(b"lsb,len32")
        );
        assert_eq!(
            detect(b"usr1,lsb,len64", b"Hi there").0,
            found(b"usr1,lsb,len64")
        );
        // 10 bytes announced LSB first read, MSB first, as `P` and a NUL:
        // what follows decides.
        let (f, after) = detect(b"lsb,len32", b"Hello, 42!");
        assert_eq!(f, found(b"lsb,len32"));
        assert!(after.is_some_and(|n| n > 4), "{after:?}");
    }

    #[test]
    fn a_leading_nul_is_found() {
        assert_eq!(detect(b"lead", b"Hi there\n").0, found(b"lead"));
        assert_eq!(detect(b"lsb,lead", b"Hi there\n").0, found(b"lsb,lead"));
    }

    #[test]
    fn short_or_empty_messages_wait_for_silence_and_read_by_nul() {
        // One or two characters and a NUL may be a length's bytes.
        assert_eq!(detect(b"", b"Hi"), (found(b""), None));
        assert_eq!(detect(b"", b""), (found(b""), None));
        assert_eq!(detect(b"len32", b""), (found(b"len32"), None));
    }

    #[test]
    fn no_text_under_any_reading_is_read_by_the_default() {
        assert_eq!(detect(b"", b"\x01\x01"), (found(b""), None));
    }
}
