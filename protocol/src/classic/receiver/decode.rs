//! Bit decoding: signals to bytes, in the convention's bit order and
//! meaning, through the phases of a message (length header, body, the NUL
//! after an announced length).

use super::super::{BitOrder, Convention, End, Header};
use super::verdict::{Read, Trace, VerdictKind};
use crate::utf8::{Chars, Text};
use crate::Pid;

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Bits of a length header.
    Header,
    /// The bytes of the message, and what its header announced, if any.
    Body(Option<Length>),
    /// After the announced length: a NUL here is part of the end.
    TrailingNul,
}

/// What a length header announced, and how much of it is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Length {
    announced: u64,
    left: u64,
}

/// What eight bits completed, for the receiver to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing to act on: more header bits follow, or the next header began.
    More,
    /// A length header: the length it announces.
    Length(u64),
    /// The NUL after the announced length: part of the end, acknowledged now.
    TrailingNul,
    /// The NUL that ends a message.
    Nul,
    /// A byte of the message.
    Byte {
        byte: u8,
        /// It completes the announced length.
        last: bool,
    },
}

/// One process's bits, decoded into a message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Decoder {
    /// The bits of the current byte or header, in arrival order.
    acc: u64,
    /// How many (more than 8 inside a header).
    n: u8,
    /// The gaps of the current eight bits, for the trace.
    gaps: [u32; 8],
    phase: Phase,
    /// Bytes of the current message (dropped ones included).
    bytes: u64,
    utf8: Utf8,
}

impl Decoder {
    /// Before a process's first bit.
    pub(super) const fn new(header: Header) -> Self {
        Decoder {
            acc: 0,
            n: 0,
            gaps: [0; 8],
            phase: Self::first_phase(header),
            bytes: 0,
            utf8: Utf8::START,
        }
    }

    const fn first_phase(header: Header) -> Phase {
        match header {
            Header::None => Phase::Body(None),
            _ => Phase::Header,
        }
    }

    /// Forgets the message being decoded (not the gaps).
    pub(super) fn reset(&mut self, header: Header) {
        *self = Decoder {
            gaps: self.gaps,
            ..Decoder::new(header)
        };
    }

    /// Bytes of the current message so far.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether a message is under way (bits, bytes, or an announced length).
    pub(super) fn in_message(&self) -> bool {
        self.n > 0 || self.bytes > 0 || matches!(self.phase, Phase::Body(Some(_)))
    }

    /// A trace of `n` bits gathered so far.
    fn bits(&self, pid: Pid, n: u8, read: Read) -> Trace {
        Trace::Bits {
            pid,
            bits: self.acc as u8,
            n,
            gaps: self.gaps,
            read,
        }
    }

    /// Bit `bit` of `pid`, `gap` µs after its previous one: when it
    /// completes eight bits, their trace and what they complete.
    pub(super) fn push(
        &mut self,
        bit: bool,
        gap: u32,
        c: Convention,
        pid: Pid,
    ) -> Option<(Trace, Step)> {
        self.gaps[usize::from(self.n % 8)] = gap;
        self.acc = (self.acc << 1) | u64::from(bit);
        self.n = self.n.saturating_add(1);
        if self.n % 8 != 0 {
            return None;
        }
        let width = match self.phase {
            Phase::Header => c.header.bits() as u8,
            _ => 8,
        };
        let value = match c.order {
            BitOrder::Msb => self.acc,
            BitOrder::Lsb => lsb_first(self.acc, width.max(8)),
        };
        let byte = value as u8;
        let offset = self.bytes;
        let nul = Read::Byte {
            byte,
            offset,
            text: Text::Char('\0'),
        };
        // The trace shows the eight bits as they came, before any reset
        // (which keeps the gaps).
        let bits = self.acc as u8;
        let (read, step) = match self.phase {
            Phase::Header if self.n < width => (Read::Header, Step::More),
            Phase::Header if c.header == Header::Lead => {
                // The byte before the message (traced as the NUL it is on
                // this wire): nothing of it is kept.
                self.phase = Phase::Body(None);
                (self.acc, self.n) = (0, 0);
                (nul, Step::More)
            }
            Phase::Header => {
                let length = Length {
                    announced: value,
                    left: value,
                };
                self.phase = Phase::Body(Some(length));
                (Read::Length(value), Step::Length(value))
            }
            Phase::TrailingNul if byte == 0 => {
                self.reset(c.header);
                (nul, Step::TrailingNul)
            }
            Phase::TrailingNul => {
                // Not a NUL: the first eight bits of the next header.
                self.reset(c.header);
                self.acc = u64::from(bits);
                self.n = 8;
                (Read::Header, Step::More)
            }
            Phase::Body(None) if c.end == End::Nul && byte == 0 => (nul, Step::Nul),
            Phase::Body(length) => {
                let text = self.utf8.push(byte, offset);
                self.bytes = self.bytes.saturating_add(1);
                let length = length.map(|l| Length {
                    left: l.left.saturating_sub(1),
                    ..l
                });
                self.phase = Phase::Body(length);
                let last = length.is_some_and(|l| l.left == 0);
                (Read::Byte { byte, offset, text }, Step::Byte { byte, last })
            }
        };
        // A completed byte starts the next one; `More` keeps the bits
        // gathered (a header's, or the next header's first eight).
        if step != Step::More {
            self.acc = 0;
            self.n = 0;
        }
        let trace = Trace::Bits {
            pid,
            bits,
            n: 8,
            gaps: self.gaps,
            read,
        };
        Some((trace, step))
    }

    /// The trace of an unfinished byte, if the message ends by silence in
    /// the middle of one.
    pub(super) fn unfinished(&self, pid: Pid, silent: bool) -> Option<Trace> {
        let partial = if silent { self.n % 8 } else { 0 };
        (partial != 0).then(|| self.bits(pid, partial, Read::Unfinished))
    }

    /// Ends the message (`silent`: by silence; `exited`: its process was
    /// answered per bit and has exited) and makes ready for the next;
    /// `report` gets what is wrong with it, in order.
    pub(super) fn finish(
        &mut self,
        silent: bool,
        exited: bool,
        c: Convention,
        mut report: impl FnMut(VerdictKind),
    ) {
        if silent && self.n > 0 {
            report(VerdictKind::PartialByte {
                bits: self.n,
                exited,
            });
        }
        match (silent, self.phase) {
            (true, Phase::Body(Some(l))) => report(VerdictKind::Short {
                got: self.bytes,
                announced: l.announced,
            }),
            (true, Phase::Body(None)) if c.end == End::Nul && self.bytes > 0 => {
                report(VerdictKind::NoNul)
            }
            _ => {}
        }
        if let Some(at) = self.utf8.finish() {
            report(VerdictKind::InvalidUtf8 { at });
        }
        self.reset(c.header);
        if !silent && c.header.is_length() && c.end == End::Nul {
            self.phase = Phase::TrailingNul;
        }
    }
}

/// The last `width` bits of `acc` (arrival order, the last in bit 0) read
/// least significant first: the first of them to arrive is bit 0.
// A loop, not `u64::reverse_bits`, which x86-64 has no instruction for: its
// inlined shifts and masks cost a hundred bytes.
fn lsb_first(acc: u64, width: u8) -> u64 {
    (0..width).fold(0, |value, k| value << 1 | (acc >> k & 1))
}

/// The text of a message: its characters ([`Chars`]), the first bad byte,
/// and where the current character started.
#[derive(Clone, Copy, Debug)]
pub(super) struct Utf8 {
    chars: Chars,
    /// Where the current character's sequence started.
    start: u64,
    /// The first bad byte of the message.
    bad: Option<u64>,
}

impl Utf8 {
    pub(super) const START: Utf8 = Utf8 {
        chars: Chars::new(),
        start: 0,
        bad: None,
    };

    /// Byte `b`, at offset `at` of the message.
    // Not inlined into the decoder's `push`: 40 B less in the static server.
    #[inline(never)]
    pub(super) fn push(&mut self, b: u8, at: u64) -> Text {
        let lead = self.chars.at_boundary();
        let step = self.chars.push(b);
        if step.broke {
            self.bad.get_or_insert(self.start);
        }
        match step.text {
            Text::Bad => {
                self.bad.get_or_insert(at);
            }
            _ if lead || step.broke => self.start = at,
            _ => {}
        }
        step.text
    }

    /// The first bad byte, if the message is not valid UTF-8.
    pub(super) fn finish(&self) -> Option<u64> {
        self.bad
            .or((!self.chars.at_boundary()).then_some(self.start))
    }
}
