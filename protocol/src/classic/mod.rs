//! The classic 42 wire: what learners' minitalk programs speak.
//!
//! One signal per bit, eight bits per byte, no frame, no checksum. The
//! [`Convention`] says how the bits are read:
//! - the bit order within a byte ([`BitOrder::Msb`] first by default);
//! - which signal means 1 (`SIGUSR2` by default);
//! - how a message ends: at a NUL byte (default), or only when the client
//!   falls silent ([`End::None`]);
//! - an optional length header ([`Header::Len32`], [`Header::Len64`]) sent
//!   before the bytes, in the same bit order as the data: the message ends
//!   after that many bytes, and a NUL right after them (expected with
//!   [`End::Nul`]) is part of the end, not of the next message; or a NUL
//!   before the bytes ([`Header::Lead`]);
//! - what the server sends at the end of a message ([`DoneAck`], [`Convention::paced`])
//!   and per bit ([`Convention::echo`]); by default it finds out from what
//!   each client does (the receiver's module docs).
//!
//! `--classic=LIST` takes these as comma-separated items ([`Convention::parse`],
//! [`ITEMS`]).
//!
//! - [`Encoder`]: a message (and its NUL or length) as the signals to send.
//! - [`ClassicSender`]: the client's side, sans-IO, finds out whether the
//!   server acknowledges each bit or must be paced.
//! - [`ClassicReceiver`]: the server's side, one decoder per sending process,
//!   bounded memory, verdicts and a trace for the learner's debugger; what
//!   it decides is carried out at once through its caller's
//!   [`Effects`](crate::Effects), the trait v1's server uses too.
//!
//! Invariants: nothing here allocates, uses `unsafe`, or panics on any input;
//! the receiver never asks to signal a PID below 1 nor a process with a signal
//! its caller did not say it catches ([`Effects::catches`](crate::Effects::catches)).

mod receiver;
mod sender;
mod together;

pub use crate::Catches;
pub use receiver::{
    ClassicReceiver, ClassicReceiverConfig, Read, Text, Trace, Verdict, VerdictKind, TOO_FAST,
};
pub use sender::{ClassicPoll, ClassicSender, ClassicSenderConfig, Pacing};
pub use together::PendingTogether;

use crate::Signal;

/// The order of the bits of a byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BitOrder {
    /// Most significant bit first (23 of 31 surveyed implementations).
    Msb,
    /// Least significant bit first.
    Lsb,
}

/// How a message ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// A NUL byte ends it (after the announced length, if there is a header).
    Nul,
    /// Nothing: the announced length, or silence, ends it.
    None,
}

/// What comes before the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Header {
    /// Nothing.
    None,
    /// The length in bytes as a 32-bit integer, in the data's bit order.
    Len32,
    /// The length in bytes as a 64-bit integer, in the data's bit order.
    Len64,
    /// A NUL before the bytes (item `lead`), as some servers need; the
    /// message ends at its NUL. Learners' clients of this wire send a
    /// `'\n'` before that NUL: the server takes it as the line's end (it
    /// prints the line once), and our client sends none.
    Lead,
}

impl Header {
    /// The number of bits of the header.
    pub const fn bits(self) -> u32 {
        match self {
            Header::None => 0,
            Header::Len32 => 32,
            Header::Len64 => 64,
            Header::Lead => 8,
        }
    }

    /// Whether the header is a length.
    pub const fn is_length(self) -> bool {
        matches!(self, Header::Len32 | Header::Len64)
    }
}

/// What the server sends at the end of a message to a client that waits for
/// an acknowledgement per bit.
///
/// The default, [`DoneAck::Watch`], decides per client from what it does:
/// the `SIGUSR1` of the last bit satisfies a client that only waits for
/// acknowledgements (and may take `SIGUSR2` as an error: it has exited by
/// then), and a client still there a while later, catching `SIGUSR2`, waits
/// for "done" and gets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DoneAck {
    /// `SIGUSR1` for the last bit; then `SIGUSR2` if the client is still
    /// there and catches it after [`ClassicReceiverConfig::probe`] (default).
    Watch,
    /// `SIGUSR1` for the last bit, then a separate `SIGUSR2` (item `plus`).
    Plus,
    /// `SIGUSR2` instead of the last bit's `SIGUSR1` (item `then`).
    Then,
    /// `SIGUSR1` for the last bit, nothing more (item `bare`).
    Bare,
}

/// How a classic client and server read the bits. `Default` is the most
/// common configuration: MSB first, `SIGUSR2` means 1, NUL-terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Convention {
    /// Bit order within a byte (and within the length header).
    pub order: BitOrder,
    /// The signal that means 1; the other means 0.
    pub one: Signal,
    /// How the message ends.
    pub end: End,
    /// What comes before the bytes.
    pub header: Header,
    /// The server's end of message for clients that wait per bit.
    pub done: DoneAck,
    /// The server answers each bit with the signal it received (item `echo`)
    /// instead of `SIGUSR1` from the start (without it, a client that stalls
    /// until its `SIGUSR2` comes back is found out and echoed).
    pub echo: bool,
    /// `None` (default): the server finds out per client whether it paces
    /// itself, and sends a self-paced one that catches `SIGUSR1` one at the
    /// end of each message. `Some(end)`: every client is taken as
    /// self-paced, never answered per bit, and gets that `SIGUSR1` only if
    /// `end` (items `endack` and `noendack`).
    pub paced: Option<bool>,
    /// The server detects each client's bit order and signal meaning from
    /// its first bytes (`--classic` without a LIST; a LIST pins them).
    pub detect: bool,
}

impl Default for Convention {
    fn default() -> Self {
        Convention {
            order: BitOrder::Msb,
            one: Signal::Usr2,
            end: End::Nul,
            header: Header::None,
            done: DoneAck::Watch,
            echo: false,
            paced: None,
            detect: false,
        }
    }
}

/// One item of `--classic=LIST`: the part of the [`Convention`] it sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// The bit order.
    Order(BitOrder),
    /// The signal that means 1.
    One(Signal),
    /// How a message ends.
    End(End),
    /// What comes before the bytes.
    Header(Header),
    /// The end of a message for a client that waits per bit.
    Done(DoneAck),
    /// Each bit answered with the signal received.
    Echo,
    /// Every client self-paced, with a `SIGUSR1` at the end or not.
    Paced(bool),
}

impl Item {
    /// Sets the part of `c` that this item names.
    // Not inlined into `Convention::parse`: there its match on an item read
    // from a table took 136 B more in the static server.
    #[inline(never)]
    pub fn apply(self, c: &mut Convention) {
        match self {
            Item::Order(order) => c.order = order,
            Item::One(one) => c.one = one,
            Item::End(end) => c.end = end,
            Item::Header(header) => c.header = header,
            Item::Done(done) => c.done = done,
            Item::Echo => c.echo = true,
            Item::Paced(end) => c.paced = Some(end),
        }
    }
}

/// Every item `--classic=LIST` accepts, by name: the one list that the
/// parser, [`VALID_ITEMS`] and the binaries' help texts are checked against.
pub const ITEMS: &[(&str, Item)] = &[
    ("msb", Item::Order(BitOrder::Msb)),
    ("lsb", Item::Order(BitOrder::Lsb)),
    ("usr2", Item::One(Signal::Usr2)),
    ("usr1", Item::One(Signal::Usr1)),
    ("nul", Item::End(End::Nul)),
    ("none", Item::End(End::None)),
    ("len32", Item::Header(Header::Len32)),
    ("len64", Item::Header(Header::Len64)),
    ("lead", Item::Header(Header::Lead)),
    ("plus", Item::Done(DoneAck::Plus)),
    ("then", Item::Done(DoneAck::Then)),
    ("bare", Item::Done(DoneAck::Bare)),
    ("echo", Item::Echo),
    ("endack", Item::Paced(true)),
    ("noendack", Item::Paced(false)),
];

/// What the items of [`ITEMS`] mean, in order, without their names.
const MEANINGS: [Item; ITEMS.len()] = {
    let mut meanings = [Item::Echo; ITEMS.len()];
    let mut k = 0;
    while k < ITEMS.len() {
        meanings[k] = ITEMS[k].1;
        k += 1;
    }
    meanings
};

/// The names of [`ITEMS`], for an error message (a unit test holds the two
/// to the same list).
pub const VALID_ITEMS: &str =
    "msb, lsb, usr2, usr1, nul, none, len32, len64, lead, plus, then, bare, echo, endack, noendack";

/// The parts of `list` between its commas (one function for the LIST and
/// [`VALID_ITEMS`]: its code is there once).
fn comma_separated(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    crate::split(list, b',')
}

/// A `--classic=LIST` item that is none of [`ITEMS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadItem<'a>(pub &'a [u8]);

impl<'a> BadItem<'a> {
    /// The one message for it, in parts (for binaries without `core::fmt`):
    /// `unknown --classic item 'X'; valid items: msb, lsb, ...`.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::Convention;
    /// let bad = Convention::parse(b"msb,lbs").unwrap_err();
    /// assert!(bad.message().concat().starts_with(b"unknown --classic item 'lbs'; valid items: msb, lsb"));
    /// ```
    pub fn message(&self) -> [&'a [u8]; 4] {
        [
            b"unknown --classic item '",
            self.0,
            b"'; valid items: ",
            VALID_ITEMS.as_bytes(),
        ]
    }
}

impl Convention {
    /// Parses a comma-separated list of [`ITEMS`], each overriding one
    /// default; later items override earlier ones. An empty list gives the
    /// defaults. On error, returns the bad item.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{BadItem, BitOrder, Convention, Header};
    /// use minitalk_protocol::Signal;
    /// let c = Convention::parse(b"lsb,usr1,len32").unwrap();
    /// assert_eq!((c.order, c.one, c.header), (BitOrder::Lsb, Signal::Usr1, Header::Len32));
    /// assert_eq!(Convention::parse(b"msb,lbs"), Err(BadItem(b"lbs")));
    /// ```
    pub fn parse(list: &[u8]) -> Result<Convention, BadItem<'_>> {
        let mut c = Convention::default();
        if list.is_empty() {
            return Ok(c);
        }
        for name in comma_separated(list) {
            // By its position in VALID_ITEMS: the binaries then keep the
            // names once, not also in a table of `&str`.
            let k = comma_separated(VALID_ITEMS.as_bytes())
                .position(|known| known.trim_ascii_start() == name)
                .ok_or(BadItem(name))?;
            MEANINGS[k].apply(&mut c);
        }
        Ok(c)
    }

    /// The convention of `--classic` (the defaults, and the server detects
    /// each client's bit order and signal meaning) or `--classic=LIST` (the
    /// LIST pins them); `None` if `arg` is another option.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{BadItem, Convention};
    /// let detect = Convention { detect: true, ..Convention::default() };
    /// assert_eq!(Convention::option(b"--classic"), Some(Ok(detect)));
    /// assert_eq!(Convention::option(b"--classic=msb"), Some(Ok(Convention::default())));
    /// assert_eq!(Convention::option(b"--classic=x"), Some(Err(BadItem(b"x"))));
    /// assert_eq!(Convention::option(b"--classical"), None);
    /// ```
    pub fn option(arg: &[u8]) -> Option<Result<Convention, BadItem<'_>>> {
        match arg.strip_prefix(b"--classic")? {
            [] => Some(Ok(Convention {
                detect: true,
                ..Convention::default()
            })),
            [b'=', list @ ..] => Some(Convention::parse(list)),
            _ => None,
        }
    }

    /// A convention from bits: bit 0, LSB first; 1, `SIGUSR1` means 1; 2,
    /// no NUL; 3-4, the header (1: `len32`, 2: `len64`, 3: `lead`, 0: none);
    /// 5-6, the end acknowledgement (1: `then`, 2: `bare`, 3: `plus`, 0:
    /// the default, [`DoneAck::Watch`]);
    /// 7, `echo`; 8, `noendack`; 9, `endack` (unless 8). Bits above 9 are
    /// ignored, so that any `u16` is a convention (as the fuzz target uses
    /// it).
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::Convention;
    /// assert_eq!(Convention::from_bits(0), Convention::default());
    /// assert_eq!(Convention::from_bits(0b1_0000_1011), Convention::parse(b"lsb,usr1,len32,noendack").unwrap());
    /// ```
    pub const fn from_bits(bits: u16) -> Convention {
        Convention {
            order: if bits & 0x001 == 0 {
                BitOrder::Msb
            } else {
                BitOrder::Lsb
            },
            one: if bits & 0x002 == 0 {
                Signal::Usr2
            } else {
                Signal::Usr1
            },
            end: if bits & 0x004 == 0 {
                End::Nul
            } else {
                End::None
            },
            header: match bits & 0x018 {
                0x008 => Header::Len32,
                0x010 => Header::Len64,
                0x018 => Header::Lead,
                _ => Header::None,
            },
            done: match bits & 0x060 {
                0x020 => DoneAck::Then,
                0x040 => DoneAck::Bare,
                0x060 => DoneAck::Plus,
                _ => DoneAck::Watch,
            },
            echo: bits & 0x080 != 0,
            paced: match bits & 0x300 {
                0 => None,
                0x200 => Some(true),
                _ => Some(false),
            },
            detect: false,
        }
    }

    /// The signal that carries `bit`.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::Convention;
    /// use minitalk_protocol::Signal;
    /// let c = Convention::parse(b"usr1").unwrap();
    /// assert_eq!(c.signal(true), Signal::Usr1);
    /// assert!(!c.bit(Signal::Usr2));
    /// ```
    #[inline]
    pub const fn signal(&self, bit: bool) -> Signal {
        match (bit, self.one) {
            (true, s) => s,
            (false, Signal::Usr1) => Signal::Usr2,
            (false, Signal::Usr2) => Signal::Usr1,
        }
    }

    /// The bit `signal` carries.
    #[inline]
    pub fn bit(&self, signal: Signal) -> bool {
        signal == self.one
    }
}

/// A message as the sequence of signals of a [`Convention`]: the length
/// header, the bytes, then the NUL, as the convention asks.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::classic::{Convention, Encoder};
/// use minitalk_protocol::Signal::{Usr1, Usr2};
/// let enc = Encoder::new(Convention::default(), b"A").unwrap();
/// assert_eq!(enc.bits(), 16); // 'A' then NUL
/// let first: Vec<_> = (0..8).filter_map(|i| enc.signal_at(i)).collect();
/// assert_eq!(first, [Usr1, Usr2, Usr1, Usr1, Usr1, Usr1, Usr1, Usr2]); // 0x41
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Encoder<'a> {
    convention: Convention,
    message: &'a [u8],
}

impl<'a> Encoder<'a> {
    /// Encodes `message`; `None` if its length does not fit the header.
    pub fn new(convention: Convention, message: &'a [u8]) -> Option<Encoder<'a>> {
        let fits = match convention.header {
            Header::Len32 => u32::try_from(message.len()).is_ok(),
            _ => u64::try_from(message.len()).is_ok(),
        };
        // The bit count must fit a u64 too.
        let bits_fit = (message.len() as u64)
            .checked_add(9)?
            .checked_mul(8)
            .is_some();
        (fits && bits_fit).then_some(Encoder {
            convention,
            message,
        })
    }

    /// The number of signals of the whole message.
    ///
    /// # Examples
    ///
    /// ```
    /// use minitalk_protocol::classic::{Convention, Encoder};
    /// let lead = Convention::parse(b"lead").unwrap();
    /// assert_eq!(Encoder::new(lead, b"A").unwrap().bits(), 24); // NUL, 'A', NUL
    /// ```
    pub fn bits(&self) -> u64 {
        let nul = match self.convention.end {
            End::Nul => 8,
            End::None => 0,
        };
        u64::from(self.convention.header.bits()) + self.message.len() as u64 * 8 + nul
    }

    /// The `i`-th signal (from 0), or `None` past the end.
    pub fn signal_at(&self, i: u64) -> Option<Signal> {
        if i >= self.bits() {
            return None;
        }
        let order = self.convention.order;
        let header = u64::from(self.convention.header.bits());
        let bit = if i < header {
            let value = match self.convention.header {
                Header::Lead => 0,
                _ => self.message.len() as u64,
            };
            let shift = match order {
                BitOrder::Msb => header - 1 - i,
                BitOrder::Lsb => i,
            };
            (value >> shift) & 1 == 1
        } else {
            let j = i - header;
            let byte = usize::try_from(j / 8)
                .ok()
                .and_then(|k| self.message.get(k))
                .copied()
                .unwrap_or(0); // past the bytes: the NUL
            let k = (j % 8) as u32;
            let shift = match order {
                BitOrder::Msb => 7 - k,
                BitOrder::Lsb => k,
            };
            (byte >> shift) & 1 == 1
        };
        Some(self.convention.signal(bit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Signal::{Usr1, Usr2};

    fn signals(c: Convention, msg: &[u8]) -> heapless::Vec<Signal, 256> {
        let enc = Encoder::new(c, msg).unwrap();
        (0..enc.bits()).filter_map(|i| enc.signal_at(i)).collect()
    }

    #[test]
    fn parse_defaults_and_items() {
        assert_eq!(Convention::parse(b""), Ok(Convention::default()));
        let c = Convention::parse(b"lsb,usr1,none,len64,then,echo,noendack").unwrap();
        assert_eq!(c.order, BitOrder::Lsb);
        assert_eq!(c.one, Usr1);
        assert_eq!(c.end, End::None);
        assert_eq!(c.header, Header::Len64);
        assert_eq!(c.done, DoneAck::Then);
        assert!(c.echo);
        assert_eq!(c.paced, Some(false));
        // later items override earlier ones
        assert_eq!(Convention::parse(b"lsb,msb").unwrap().order, BitOrder::Msb);
    }

    #[test]
    fn valid_items_names_every_item_in_order() {
        let names: heapless::Vec<&str, 15> = ITEMS.iter().map(|(name, _)| *name).collect();
        assert!(VALID_ITEMS.split(", ").eq(names.iter().copied()));
    }

    #[test]
    fn parse_names_the_bad_item() {
        assert_eq!(Convention::parse(b"msb,MSB"), Err(BadItem(b"MSB")));
        assert_eq!(Convention::parse(b"msb,,lsb"), Err(BadItem(b"")));
        assert_eq!(Convention::parse(b"len16"), Err(BadItem(b"len16")));
        assert_eq!(Convention::parse(b"lsb,"), Err(BadItem(b"")));
        for item in VALID_ITEMS.split(", ") {
            assert!(Convention::parse(item.as_bytes()).is_ok(), "{item}");
        }
        // Each item by its position in VALID_ITEMS: the list and the
        // meanings agree.
        let d = Convention::default();
        let each: heapless::Vec<Convention, 15> = VALID_ITEMS
            .split(", ")
            .map(|item| Convention::parse(item.as_bytes()).unwrap())
            .collect();
        let expected = [
            d,
            Convention {
                order: BitOrder::Lsb,
                ..d
            },
            d,
            Convention { one: Usr1, ..d },
            d,
            Convention {
                end: End::None,
                ..d
            },
            Convention {
                header: Header::Len32,
                ..d
            },
            Convention {
                header: Header::Len64,
                ..d
            },
            Convention {
                header: Header::Lead,
                ..d
            },
            Convention {
                done: DoneAck::Plus,
                ..d
            },
            Convention {
                done: DoneAck::Then,
                ..d
            },
            Convention {
                done: DoneAck::Bare,
                ..d
            },
            Convention { echo: true, ..d },
            Convention {
                paced: Some(true),
                ..d
            },
            Convention {
                paced: Some(false),
                ..d
            },
        ];
        assert_eq!(&each[..], expected);
        assert_eq!(Convention::parse(b" lsb"), Err(BadItem(b" lsb")));
    }

    #[test]
    fn msb_usr2_nul_golden() {
        // 'h' = 0x68 = 0110 1000, then NUL
        let s = signals(Convention::default(), b"h");
        assert_eq!(
            &s[..],
            [
                Usr1, Usr2, Usr2, Usr1, Usr2, Usr1, Usr1, Usr1, Usr1, Usr1, Usr1, Usr1, Usr1, Usr1,
                Usr1, Usr1
            ]
        );
    }

    #[test]
    fn lsb_usr1_none_golden() {
        let c = Convention::parse(b"lsb,usr1,none").unwrap();
        // 0x68 LSB first: 0 0 0 1 0 1 1 0; 1 = Usr1
        assert_eq!(
            &signals(c, b"h")[..],
            [Usr2, Usr2, Usr2, Usr1, Usr2, Usr1, Usr1, Usr2]
        );
    }

    #[test]
    fn length_headers_in_the_data_bit_order() {
        let msb = signals(Convention::parse(b"len32,none").unwrap(), b"abc");
        assert_eq!(msb.len(), 32 + 24);
        // 3 = ...011 at the end of the header, MSB first
        assert!(msb[..30].iter().all(|&s| s == Usr1));
        assert_eq!(&msb[30..32], [Usr2, Usr2]);
        let lsb = signals(Convention::parse(b"lsb,len64").unwrap(), b"abc");
        assert_eq!(lsb.len(), 64 + 24 + 8);
        assert_eq!(&lsb[..3], [Usr2, Usr2, Usr1]);
        assert!(lsb[2..64].iter().all(|&s| s == Usr1));
    }

    #[test]
    fn signal_and_bit_agree() {
        for c in [Convention::default(), Convention::parse(b"usr1").unwrap()] {
            for bit in [false, true] {
                assert_eq!(c.bit(c.signal(bit)), bit);
            }
        }
        let enc = Encoder::new(Convention::default(), b"").unwrap();
        assert_eq!(enc.bits(), 8);
        assert_eq!(enc.signal_at(8), None);
    }
}
