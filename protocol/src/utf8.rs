//! UTF-8 validation, a byte at a time.
//!
//! The rules are `core::str::from_utf8`'s (Unicode's table 3-7: no
//! overlong forms, no surrogates, nothing above U+10FFFF), and the tests
//! hold the two to the same answers. The code is a fraction of the size of
//! `from_utf8` and its 256-byte table: the static server checks its text
//! with it and hands it out as bytes, so it links no `from_utf8` at all.
//!
//! Nothing here panics.

/// A UTF-8 validator fed one byte at a time.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::utf8::Utf8;
///
/// let mut v = Utf8::new();
/// assert!(v.push(0xC3)); // the first byte of "é"
/// assert!(!v.at_boundary());
/// assert!(v.push(0xA9));
/// assert!(v.at_boundary());
/// assert!(!v.push(0xA9), "a continuation byte cannot start a character");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8 {
    /// Continuation bytes the current character still needs.
    need: u8,
    /// The range the next continuation byte must be in.
    lo: u8,
    hi: u8,
}

impl Utf8 {
    /// A validator at a character boundary.
    pub const fn new() -> Self {
        Utf8 {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
        }
    }

    /// Takes the next byte; false if it cannot come next in valid UTF-8
    /// (the validator is then back at a boundary, as [`new`](Self::new)).
    pub fn push(&mut self, byte: u8) -> bool {
        if self.need > 0 {
            let ok = (self.lo..=self.hi).contains(&byte);
            *self = Utf8 {
                need: if ok { self.need - 1 } else { 0 },
                ..Utf8::new()
            };
            return ok;
        }
        // The first byte says how many follow (its leading ones, less one),
        // and the first of those may have a narrower range (no overlong
        // forms, surrogates or code points above U+10FFFF).
        let need = match byte {
            0x00..=0x7F => return true,
            0xC2..=0xF4 => byte.leading_ones() as u8 - 1,
            _ => return false,
        };
        let (lo, hi) = match byte {
            0xE0 => (0xA0, 0xBF),
            0xED => (0x80, 0x9F),
            0xF0 => (0x90, 0xBF),
            0xF4 => (0x80, 0x8F),
            _ => (0x80, 0xBF),
        };
        *self = Utf8 { need, lo, hi };
        true
    }

    /// Whether the bytes so far end on a character boundary.
    pub const fn at_boundary(&self) -> bool {
        self.need == 0
    }
}

impl Default for Utf8 {
    fn default() -> Self {
        Self::new()
    }
}

/// A byte's part in the text of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// It completes this character (a control character included).
    Char(char),
    /// It starts or continues a UTF-8 sequence that goes on.
    More,
    /// It is not valid UTF-8 here.
    Bad,
}

/// What [`Chars::push`] made of a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The byte's part in the text.
    pub text: Text,
    /// The byte could not continue the character before it: that one broke
    /// off unfinished, and the byte was read as a new start.
    pub broke: bool,
}

/// Characters rebuilt from bytes, a byte at a time: the one rule of the
/// classic server and of the v1 `--trace` for text that may not be valid.
/// A byte that cannot continue a character may start the next one.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::utf8::{Chars, Step, Text};
///
/// let mut chars = Chars::new();
/// assert_eq!(chars.push(0xC3).text, Text::More); // the first byte of "é"
/// assert_eq!(chars.push(0xA9).text, Text::Char('é'));
/// // "é" broken off after its first byte: the 'x' that broke it counts.
/// chars.push(0xC3);
/// assert_eq!(chars.push(b'x'), Step { text: Text::Char('x'), broke: true });
/// assert_eq!(chars.push(0xFF).text, Text::Bad);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chars {
    valid: Utf8,
    /// The character so far.
    code: u32,
}

impl Chars {
    /// At a character boundary.
    pub const fn new() -> Self {
        Chars {
            valid: Utf8::new(),
            code: 0,
        }
    }

    /// Takes the next byte.
    pub fn push(&mut self, byte: u8) -> Step {
        let mut lead = self.valid.at_boundary();
        let mut ok = self.valid.push(byte);
        let broke = !ok && !lead;
        if broke {
            // The sequence broke off before `byte`: `byte` starts afresh.
            lead = true;
            ok = self.valid.push(byte);
        }
        let text = if !ok {
            Text::Bad
        } else {
            if lead {
                // The lead byte's payload: the bits after its leading ones.
                self.code = u32::from(byte & (0x7F >> byte.leading_ones()));
            } else {
                self.code = (self.code << 6) | u32::from(byte & 0x3F);
            }
            if self.valid.at_boundary() {
                char::from_u32(self.code).map_or(Text::Bad, Text::Char)
            } else {
                Text::More
            }
        };
        Step { text, broke }
    }

    /// Whether the bytes so far end on a character boundary.
    pub const fn at_boundary(&self) -> bool {
        self.valid.at_boundary()
    }
}

/// How many bytes at the start of `bytes` are whole, valid UTF-8
/// characters: as `core::str::from_utf8`'s `valid_up_to`, and
/// `bytes.len()` when all of it is valid.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::utf8::valid_up_to;
///
/// assert_eq!(valid_up_to("héllo".as_bytes()), 6);
/// assert_eq!(valid_up_to(b"h\xC3"), 1, "a character cut short");
/// assert_eq!(valid_up_to(b"h\xFFllo"), 1);
/// ```
pub fn valid_up_to(bytes: &[u8]) -> usize {
    let mut v = Utf8::new();
    let mut valid = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if !v.push(byte) {
            break;
        }
        if v.at_boundary() {
            valid = i + 1;
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    /// Bytes at and around every boundary of the rules.
    const EDGES: [u8; 20] = [
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED,
        0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
    ];

    fn check(bytes: &[u8]) {
        let core = match core::str::from_utf8(bytes) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        assert_eq!(valid_up_to(bytes), core, "{bytes:02x?}");
    }

    #[test]
    fn agrees_with_core_on_every_pair_of_bytes() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                check(&[a, b]);
            }
        }
    }

    #[test]
    fn agrees_with_core_on_every_lead_byte_with_edge_continuations() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in EDGES {
                    check(&[a, b, c]);
                }
            }
            for b in EDGES {
                for c in EDGES {
                    for d in EDGES {
                        check(&[a, b, c, d, b'x']);
                    }
                }
            }
        }
    }

    #[test]
    fn agrees_with_core_on_text() {
        for s in [
            "",
            "hello",
            "héllo wörld",
            "日本語",
            "😀 ok 😀",
            "\u{10FFFF}\u{FFFF}",
        ] {
            check(s.as_bytes());
            for cut in 0..s.len() {
                check(&s.as_bytes()[..cut]);
            }
        }
    }

    /// The characters [`Chars`] rebuilds from `bytes`, `None` for a bad
    /// byte.
    fn rebuilt(bytes: &[u8]) -> std::vec::Vec<Option<char>> {
        let mut chars = Chars::new();
        let mut out = std::vec::Vec::new();
        for &b in bytes {
            match chars.push(b).text {
                Text::Char(c) => out.push(Some(c)),
                Text::Bad => out.push(None),
                Text::More => {}
            }
        }
        out
    }

    #[test]
    fn chars_rebuilds_valid_text() {
        let s = "a\té\n日本😀\u{10FFFF}";
        let expected: std::vec::Vec<_> = s.chars().map(Some).collect();
        assert_eq!(rebuilt(s.as_bytes()), expected);
    }

    #[test]
    fn chars_restarts_at_a_byte_that_cannot_continue() {
        // A cut "é", then 'x'; a stray continuation byte; a cut "日" then "é".
        let got = rebuilt(b"\xC3x\xA9\xE6\x97\xC3\xA9");
        assert_eq!(got, [Some('x'), None, Some('é')]);
        let mut chars = Chars::new();
        assert!(!chars.push(0xE6).broke && !chars.at_boundary());
        let step = chars.push(0xC3);
        assert_eq!((step.text, step.broke), (Text::More, true));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_core_on_any_bytes(bytes: std::vec::Vec<u8>) {
            check(&bytes);
        }

        #[test]
        fn chars_agrees_with_core_on_valid_text(s: std::string::String) {
            let expected: std::vec::Vec<_> = s.chars().map(Some).collect();
            proptest::prop_assert_eq!(rebuilt(s.as_bytes()), expected);
        }
    }
}
