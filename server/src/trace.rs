//! What `--trace` and `--stats` say on stderr about the conversation.
//!
//! [`Narrator`] renders, for a human, the events the server's shell and the
//! protocol's [`Server`](minitalk_protocol::Server) report: each signal as
//! it arrives (bits gather into a line per byte), each byte with its meaning
//! (the header's fields, the length, text, CRC), each character once its
//! bytes are in, frame verdicts, acknowledgements, clients served or waiting,
//! and a line of figures per message. It decides nothing: stdout and the
//! replies are the same with or without it.

use minitalk_protocol::frame::{self, Header};
use minitalk_protocol::{Aborted, Duration, Heard, Note, Output, Pid, Signal};
use minitalk_sys::{Line, STDERR};

/// Whether `--trace` is built in (cargo feature `trace`).
pub const TRACE: bool = cfg!(feature = "trace");
/// Whether `--stats` is built in (cargo feature `stats`).
pub const STATS: bool = cfg!(feature = "stats");

/// What `--trace` and `--stats` remember between events.
pub struct Narrator {
    /// `--trace` was asked for.
    pub trace: bool,
    /// `--stats` was asked for.
    pub stats: bool,
    /// When the current session started.
    since: Duration,
    /// Payload bytes of the current message so far.
    bytes: u64,
    /// The current frame's LEN byte, for `--trace`.
    frame_len: usize,
    /// A character being assembled, for `--trace`.
    utf8: [u8; 4],
    utf8_len: usize,
    /// The bits of the byte being received, for `--trace`.
    bits: u8,
}

impl Narrator {
    /// Says nothing until told to.
    pub const fn new() -> Self {
        Narrator {
            trace: false,
            stats: false,
            since: Duration::ZERO,
            bytes: 0,
            frame_len: 0,
            utf8: [0; 4],
            utf8_len: 0,
            bits: 0,
        }
    }

    /// Whether `--trace` is on (and built in).
    pub fn tracing(&self) -> bool {
        TRACE && self.trace
    }

    /// `--trace` of a signal from a process that could not be answered.
    pub fn ignored(&self, pid: Pid) {
        if self.tracing() {
            Line::new()
                .str("trace: ignored a signal from ")
                .u64(pid as u64)
                .str(": it does not catch SIGUSR1 and SIGUSR2")
                .println(STDERR);
        }
    }

    /// `--trace` and `--stats` of an output of the receiver, before it is
    /// carried out.
    pub fn output(&mut self, output: &Output<'_>, now: Duration) {
        match *output {
            Output::Deliver { payload, first, .. } => {
                self.bytes = if first { 0 } else { self.bytes } + payload.len() as u64;
                if self.tracing() {
                    Line::new()
                        .str("trace: frame verified (CRC-32C ok): ")
                        .u64(payload.len() as u64)
                        .str(" bytes accepted, reply SIGUSR2")
                        .println(STDERR);
                }
            }
            Output::Note(note) => self.note(note, now),
            _ => {}
        }
    }

    /// What became of a message whose session was abandoned: always said
    /// when a streamed message was cut short, with `--trace` or `--stats`
    /// when a held one was discarded.
    pub fn abandoned(&self, pid: Pid, vanished: bool, aborted: Aborted) {
        let why = if vanished {
            "the client vanished"
        } else {
            "the client fell silent"
        };
        let mut line = Line::new();
        match aborted {
            Aborted::Truncated { bytes } => {
                line.str("server: message from ")
                    .u64(pid as u64)
                    .str(" truncated after ")
                    .u64(bytes)
                    .str(" bytes: ")
                    .str(why);
            }
            Aborted::Discarded { bytes } if self.tracing() || (STATS && self.stats) => {
                line.str("server: message from ")
                    .u64(pid as u64)
                    .str(" discarded (")
                    .u64(bytes)
                    .str(" bytes held): ")
                    .str(why);
            }
            _ if self.tracing() => {
                line.str("trace: session of ")
                    .u64(pid as u64)
                    .str(" dropped: ")
                    .str(why);
            }
            _ => {}
        }
        if !line.as_bytes().is_empty() {
            line.println(STDERR);
        }
    }

    /// `--trace` of one signal: bits accumulate on a line per byte.
    pub fn heard(&mut self, pid: Pid, signal: Signal, heard: Heard) {
        let mut l = Line::new();
        match heard {
            Heard::Waiting => {
                l.str("trace: ")
                    .u64(pid as u64)
                    .str(" knocked; told to wait (SIGUSR2)")
                    .println(STDERR);
                return;
            }
            Heard::Bit | Heard::Byte { .. } | Heard::FrameEnd => {}
        }
        l.byte(if signal.bit() { b'1' } else { b'0' });
        self.bits = self.bits << 1 | signal.bit() as u8;
        let Heard::Byte { value, offset } = heard else {
            if heard == Heard::FrameEnd {
                l.str(" = 0x")
                    .hex(self.bits)
                    .str("  CRC-32C, last byte: frame complete");
                l.println(STDERR);
                return;
            }
            return l.print(STDERR);
        };
        l.str(" = 0x").hex(value).str("  ");
        match offset {
            0 => {
                let header = Header::from_byte(value);
                l.str("flags:");
                for (set, name) in [(header.first, " FIRST"), (header.last, " LAST")] {
                    if set {
                        l.str(name);
                    }
                }
                l.str(" seq ")
                    .u64(u64::from(header.seq))
                    .str(" version ")
                    .u64(u64::from(header.version));
            }
            1 => {
                self.frame_len = value as usize;
                l.str("length: ").u64(value as u64).str(" bytes");
            }
            n if n < frame::HEADER_LEN + self.frame_len => self.char_byte(&mut l, value),
            _ => {
                l.str("CRC-32C");
            }
        }
        l.println(STDERR);
        // The next byte's line starts with who sends it.
        l.str("  ").u64(pid as u64).str(" <- ").print(STDERR);
    }

    /// `--trace` of a payload byte: the character once its bytes are in.
    fn char_byte(&mut self, l: &mut Line, value: u8) {
        l.str("text byte");
        if value & 0xC0 != 0x80 {
            self.utf8_len = 0;
        }
        if self.utf8_len < 4 {
            self.utf8[self.utf8_len] = value;
            self.utf8_len += 1;
        }
        if let Ok(c) = core::str::from_utf8(&self.utf8[..self.utf8_len]) {
            l.str(" -> '");
            match c {
                "\n" => l.str("\\n"),
                "\t" => l.str("\\t"),
                _ => l.str(c),
            };
            l.str("'");
            self.utf8_len = 0;
        }
    }

    /// `--trace` and `--stats` of the receiver's notes.
    fn note(&mut self, note: Note, now: Duration) {
        let mut l = Line::new();
        match note {
            Note::Serving(pid) => {
                self.since = now;
                self.bytes = 0;
                if self.tracing() {
                    l.str("trace: serving ")
                        .u64(pid as u64)
                        .str(" (bits: SIGUSR1 = 0, SIGUSR2 = 1; each acknowledged)\n");
                    l.str("  ").u64(pid as u64).str(" <- ");
                    return l.print(STDERR);
                }
            }
            Note::Finished(pid) if STATS && self.stats => {
                let us = (now - self.since).as_micros().max(1) as u64;
                l.str("server: ")
                    .u64(pid as u64)
                    .str(" sent ")
                    .u64(self.bytes)
                    .str(" bytes in ")
                    .micros(us)
                    .str(" (")
                    .rate(self.bytes * 8_000_000 / us)
                    .str(")");
            }
            _ if !self.tracing() => return,
            Note::Finished(pid) => {
                l.str("trace: message from ")
                    .u64(pid as u64)
                    .str(" complete and printed (")
                    .u64(self.bytes)
                    .str(" bytes)");
            }
            Note::Queued { pid, ahead } => {
                l.str("trace: ")
                    .u64(pid as u64)
                    .str(" waits its turn, ")
                    .u64(ahead as u64)
                    .str(" ahead of it (told with SIGUSR2)");
            }
            Note::QueueFull(pid) => {
                l.str("trace: queue full; ")
                    .u64(pid as u64)
                    .str(" will knock again");
            }
            Note::Rejected { pid, error } => {
                l.str("trace: frame from ")
                    .u64(pid as u64)
                    .str(" rejected: ")
                    .str(error.as_str())
                    .str(" (reply SIGUSR1: send it again)");
            }
            Note::Duplicate(pid) => {
                l.str("trace: frame from ")
                    .u64(pid as u64)
                    .str(" is a copy of one already accepted: acknowledged, not printed again");
            }
            Note::GapReset { pid, bits } => {
                l.str("\ntrace: ")
                    .u64(pid as u64)
                    .str(" fell silent; dropped ")
                    .u64(bits as u64)
                    .str(" bits of a partial frame");
            }
        }
        if !l.as_bytes().is_empty() {
            l.println(STDERR);
        }
    }
}
