//! What `--trace` and `--stats` say on stderr about the conversation.
//!
//! [`Narrator`] renders, for a human, the events the server's shell and the
//! protocol's [`Server`](minitalk_protocol::Server) report: each signal as
//! it arrives (bits gather into a line per byte), each byte with its meaning
//! (the header's fields, the length, text, CRC), each character once its
//! bytes are in, frame verdicts, acknowledgements, clients served or waiting,
//! and a line of figures per message. It decides nothing: stdout and the
//! replies are the same with or without it.

use minitalk_protocol::frame::{field, Header};
use minitalk_protocol::utf8::{Chars, Text};
use minitalk_protocol::{Aborted, Heard, Instant, Note, Output, Pid, Signal};
use minitalk_sys::out::bits_per_sec;
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
    since: Instant,
    /// Payload bytes of the current message so far.
    bytes: u64,
    /// The current frame's LEN byte, for `--trace`.
    frame_len: usize,
    /// The characters of the text, for `--trace`.
    chars: Chars,
    /// The bits of the byte being received, for `--trace`.
    bits: u8,
}

impl Narrator {
    /// Says nothing until told to.
    pub const fn new() -> Self {
        Narrator {
            trace: false,
            stats: false,
            since: Instant::ZERO,
            bytes: 0,
            frame_len: 0,
            chars: Chars::new(),
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
            say(
                "trace: ignored a signal from {}: it does not catch SIGUSR1 and SIGUSR2",
                &[pid as u64],
            );
        }
    }

    /// `--trace` and `--stats` of an output of the receiver, before it is
    /// carried out.
    pub fn output(&mut self, output: &Output<'_>, now: Instant) {
        match *output {
            Output::Deliver { payload, first, .. } => {
                let len = payload.len() as u64;
                self.bytes = if first { 0 } else { self.bytes } + len;
                if self.tracing() {
                    say(
                        "trace: frame verified (CRC-32C ok): {} bytes accepted, reply SIGUSR2",
                        &[len],
                    );
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
        let (template, bytes) = match aborted {
            Aborted::Truncated { bytes } => {
                ("server: message from {} truncated after {} bytes: ", bytes)
            }
            Aborted::Discarded { bytes } if self.tracing() || (STATS && self.stats) => {
                ("server: message from {} discarded ({} bytes held): ", bytes)
            }
            _ if self.tracing() => ("trace: session of {} dropped: ", 0),
            _ => return,
        };
        let why = if vanished { "vanished" } else { "fell silent" };
        Line::new()
            .fill(template, &[pid as u64, bytes])
            .str("the client ")
            .str(why)
            .println(STDERR);
    }

    /// `--trace` of one signal: bits accumulate on a line per byte.
    pub fn heard(&mut self, pid: Pid, signal: Signal, heard: Heard) {
        let offset = match heard {
            Heard::Waiting => {
                return say("trace: {} knocked; told to wait (SIGUSR2)", &[pid as u64]);
            }
            Heard::Bit => None,
            Heard::Byte { offset, .. } => Some(offset),
            Heard::FrameEnd => Some(usize::MAX),
        };
        let mut l = Line::new();
        l.byte(b'0' + signal.bit() as u8);
        // The last eight bits heard are the byte just completed.
        self.bits = self.bits << 1 | signal.bit() as u8;
        let value = self.bits;
        let Some(offset) = offset else {
            return l.print(STDERR);
        };
        l.str(" = 0x").hex(value).str("  ");
        match offset {
            usize::MAX => {
                l.str("CRC-32C, last byte: frame complete").println(STDERR);
                return;
            }
            field::FLAGS => {
                let header = Header::from_byte(value);
                l.str("flags:");
                if header.first {
                    l.str(" FIRST");
                }
                if header.last {
                    l.str(" LAST");
                }
                l.fill(
                    " seq {} version {}",
                    &[u64::from(header.seq), u64::from(header.version)],
                );
            }
            field::LEN => {
                self.frame_len = value as usize;
                l.fill("length: {} bytes", &[u64::from(value)]);
            }
            n if field::payload(self.frame_len).contains(&n) => self.char_byte(&mut l, value),
            _ => {
                l.str("CRC-32C");
            }
        }
        l.println(STDERR);
        // The next byte's line starts with who sends it.
        l.fill("  {} <- ", &[pid as u64]).print(STDERR);
    }

    /// `--trace` of a payload byte: the character once its bytes are in.
    fn char_byte(&mut self, l: &mut Line, value: u8) {
        l.str("text byte");
        if let Text::Char(c) = self.chars.push(value).text {
            let mut utf8 = [0; 4];
            l.str(" -> '");
            match c {
                '\n' => l.str("\\n"),
                '\t' => l.str("\\t"),
                c => l.str(c.encode_utf8(&mut utf8)),
            };
            l.str("'");
        }
    }

    /// `--trace` and `--stats` of the receiver's notes.
    fn note(&mut self, note: Note, now: Instant) {
        let mut l = Line::new();
        match note {
            Note::Serving(pid) => {
                self.since = now;
                self.bytes = 0;
                if self.tracing() {
                    let pid = pid as u64;
                    l.fill(
                        "trace: serving {} (bits: SIGUSR1 = 0, SIGUSR2 = 1; each acknowledged)\n  {} <- ",
                        &[pid, pid],
                    )
                    .print(STDERR);
                }
                return;
            }
            Note::Finished(pid) if STATS && self.stats => {
                let took = now - self.since;
                l.fill("server: {} sent {} bytes in ", &[pid as u64, self.bytes])
                    .micros(took.as_micros().max(1) as u64)
                    .str(" (")
                    .rate(bits_per_sec(self.bytes, took))
                    .str(")")
            }
            _ if !self.tracing() => return,
            Note::Rejected { pid, error } => l
                .fill("trace: frame from {} rejected: ", &[pid as u64])
                .str(error.as_str())
                .str(" (reply SIGUSR1: send it again)"),
            Note::Finished(pid) => l.fill(
                "trace: message from {} complete and printed ({} bytes)",
                &[pid as u64, self.bytes],
            ),
            Note::Queued { pid, ahead } => l.fill(
                "trace: {} waits its turn, {} ahead of it (told with SIGUSR2)",
                &[pid as u64, ahead as u64],
            ),
            Note::QueueFull(pid) => {
                l.fill("trace: queue full; {} will knock again", &[pid as u64])
            }
            Note::Duplicate(pid) => l.fill(
                "trace: frame from {} is a copy of one already accepted: acknowledged, not printed again",
                &[pid as u64],
            ),
            Note::GapReset { pid, bits } => l.fill(
                "\ntrace: {} fell silent; dropped {} bits of a partial frame",
                &[pid as u64, bits as u64],
            ),
        };
        l.println(STDERR);
    }
}

/// One line on stderr: `template` with its `{}` filled with `numbers`.
// Not inlined: the line's set-up is written once, not at each message.
#[inline(never)]
fn say(template: &str, numbers: &[u64]) {
    Line::new().fill(template, numbers).println(STDERR);
}
