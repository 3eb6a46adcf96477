//! The convention of a client, detected from its first bytes: bit order and
//! the signal that means 1 (`--classic` without a LIST).
//!
//! The first 32 signals are kept (with their gaps, for the trace) and read
//! under the four interpretations side by side; the one under which they
//! read as text (printable ASCII, tab, newline or valid UTF-8) up to a NUL
//! is chosen. It is decided as soon as one interpretation is left, or all
//! that are left reached their NUL, or 32 signals came (the first left, in
//! the order MSB/`SIGUSR2`, LSB/`SIGUSR2`, MSB/`SIGUSR1`, LSB/`SIGUSR1`), or
//! the client fell silent. When none reads as text (corrupted, or not text)
//! the default is kept: the verdicts say what is wrong, and no convention
//! is suggested from such data. The bits are then decoded under the
//! chosen one, from the first.

use super::super::BitOrder;
use crate::utf8::Utf8;
use crate::Signal;

/// The signals kept before deciding.
pub(super) const KEPT: u8 = 32;

/// A client's first signals, before its convention is known.
#[derive(Clone, Copy, Debug)]
pub(super) struct Detect {
    /// The signals in arrival order (`SIGUSR2` = 1), the last in bit 0.
    pub(super) raw: u32,
    /// How many.
    pub(super) n: u8,
    /// Their gaps, for the trace.
    pub(super) gaps: [u32; KEPT as usize],
}

impl Detect {
    pub(super) const START: Detect = Detect {
        raw: 0,
        n: 0,
        gaps: [0; KEPT as usize],
    };

    /// Keeps a signal; the interpretation once decided.
    pub(super) fn push(&mut self, signal: Signal, gap: u32) -> Option<(BitOrder, Signal)> {
        self.gaps[usize::from(self.n)] = gap;
        self.raw = (self.raw << 1) | u32::from(signal == Signal::Usr2);
        self.n += 1;
        self.decide(false)
    }

    /// The interpretation, if the signals so far decide it (`quiet`: no
    /// more come).
    pub(super) fn decide(&self, quiet: bool) -> Option<(BitOrder, Signal)> {
        if !quiet && self.n % 8 != 0 {
            return None;
        }
        // Bit k: interpretation k reads as text so far; `ended`: to a NUL.
        let (mut alive, mut ended) = (0b1111u8, 0u8);
        let mut valid = [Utf8::new(); 4];
        // The previous byte under each interpretation.
        let mut prev = [0u8; 4];
        let mut left = self.n;
        while left >= 8 {
            left -= 8;
            let raw = (self.raw >> left) as u8;
            for ((k, v), prev) in (0..4u8).zip(&mut valid).zip(&mut prev) {
                let b = interpret(raw, k);
                // Text: printable ASCII, tab, newline, or UTF-8 other than
                // the C1 controls (U+0080 to U+009F: 0xC2 then below 0xA0).
                let c1 = *prev == 0xC2 && b < 0xA0;
                *prev = b;
                if alive & !ended & (1 << k) == 0 {
                } else if b == 0 {
                    ended |= 1 << k;
                } else if c1
                    || !(v.push(b) && (b >= 0x80 || matches!(b, 0x20..=0x7E | b'\n' | b'\t')))
                {
                    alive &= !(1 << k);
                }
            }
        }
        let first = alive.trailing_zeros() as u8;
        if alive == 0 {
            return Some((BitOrder::Msb, Signal::Usr2));
        }
        let decided = quiet || self.n >= KEPT || alive.count_ones() == 1 || alive & !ended == 0;
        decided.then_some((
            if first & 1 == 1 {
                BitOrder::Lsb
            } else {
                BitOrder::Msb
            },
            if first & 2 == 2 {
                Signal::Usr1
            } else {
                Signal::Usr2
            },
        ))
    }
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
