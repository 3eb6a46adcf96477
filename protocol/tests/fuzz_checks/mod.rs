//! The checks behind the fuzz targets, shared by `fuzz/fuzz_targets/` (on
//! nightly, under libFuzzer) and `tests/fuzz_corpus.rs` (on stable, replaying
//! the kept corpus and every crash ever found).
//!
//! Each check takes raw bytes, reads them by hand (no `arbitrary`, so no extra
//! dependency) and panics when the protocol crate breaks a promise. Every
//! input is meaningful: nothing is rejected, short inputs just end early.
//!
//! - [`decode`]: signal streams from several processes into a `Receiver`, and
//!   the same bits into a bare `FrameDecoder`, both checked against a small
//!   reference model.
//! - [`roundtrip`]: text through `Frame::emit`, `bit_at` and `FrameDecoder`,
//!   then whole conversations between `Sender`s and a `Server` (the binary's
//!   driver) over a lossless channel.
//! - [`frame_parse`]: `Frame::parse` on any bytes, checked against `emit` and
//!   against the push decoder.
//! - [`chunk`](chunk()): a message through the client's `Chunker`, read in
//!   pieces of any size, checked against `from_utf8` of the whole.

mod chunk;
pub use chunk::chunk;

use minitalk_protocol::{Duration, Instant};
use std::collections::VecDeque;
use std::string::{String, ToString};
use std::vec::Vec;

use minitalk_protocol::crc::crc32c;
use minitalk_protocol::frame::{self, bit_at, Decoded, Frame, FrameDecoder, MAX_PAYLOAD};
use minitalk_protocol::{
    Catches, Effects, Error, Heard, Note, Output, Pid, Poll, Receiver, ReceiverConfig, Sender,
    SenderConfig, Server, Signal,
};

/// Queue capacity of the receivers under test.
const QUEUE: usize = 4;
/// Processes in the `decode` input: more than a session plus a full queue.
const PIDS: usize = 6;
/// More outputs than this from one drain means the receiver does not settle.
const MAX_DRAIN: usize = 64;
/// The message buffer of the conversations' server: short, so that long
/// messages are streamed.
const HOLD: usize = 512;

/// Reads the fuzz input front to back; past the end everything is zero.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn byte_or_zero(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The bytes of a frame as the wire carries them, from its bits.
fn bits_of(bytes: &[u8]) -> impl Iterator<Item = bool> + '_ {
    (0..bytes.len() * 8).map(move |i| bit_at(bytes, i).expect("index within the frame"))
}

/// An owned [`Frame`], to keep after the decoder that lent it moves on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OwnedFrame {
    first: bool,
    last: bool,
    seq: bool,
    payload: String,
}

impl OwnedFrame {
    fn of(f: &Frame<'_>) -> Self {
        OwnedFrame {
            first: f.first,
            last: f.last,
            seq: f.seq,
            payload: f.payload.to_string(),
        }
    }
}

/// What a [`FrameDecoder`] must answer to one more bit: the model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    NeedMore,
    Byte {
        value: u8,
        offset: usize,
    },
    /// The bit completed a frame: these are its bytes.
    End(Vec<u8>),
}

/// A frame decoder written the obvious way: collect bits, and once the LEN
/// byte is in, a frame ends after `8 * (6 + LEN)` of them.
#[derive(Clone, Debug, Default)]
struct ModelDecoder {
    bytes: Vec<u8>,
    bits: usize,
    done: bool,
}

impl ModelDecoder {
    fn reset(&mut self) {
        self.bytes.clear();
        self.bits = 0;
        self.done = false;
    }

    fn pending(&self) -> usize {
        if self.done {
            0
        } else {
            self.bits
        }
    }

    fn push(&mut self, bit: bool) -> Expect {
        if self.done {
            self.reset();
        }
        if self.bits % 8 == 0 {
            self.bytes.push(0);
        }
        if bit {
            self.bytes[self.bits / 8] |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
        if self.bits % 8 != 0 {
            return Expect::NeedMore;
        }
        let n = self.bytes.len();
        if n >= 2 && n == frame::HEADER_LEN + self.bytes[1] as usize + frame::CRC_LEN {
            self.done = true;
            return Expect::End(self.bytes.clone());
        }
        Expect::Byte {
            value: self.bytes[n - 1],
            offset: n - 1,
        }
    }
}

/// Feeds `bit` to `decoder` and checks its answer against `model`'s.
///
/// A completed frame must be exactly what `Frame::parse` makes of its bytes;
/// a verified one must emit back to the same bytes, and the CRC handed over
/// with it must be its CRC field.
fn feed_and_check(decoder: &mut FrameDecoder, model: &mut ModelDecoder, bit: bool) {
    let expect = model.push(bit);
    let mut crc = None;
    let got = match decoder.feed(bit) {
        Decoded::Frame { frame, crc: c } => {
            crc = Some(c);
            Ok(OwnedFrame::of(&frame))
        }
        Decoded::Invalid(e) => Err(Some(e)),
        Decoded::NeedMore => {
            assert_eq!(expect, Expect::NeedMore, "decoder: NeedMore");
            Err(None)
        }
        Decoded::Byte { value, offset } => {
            assert_eq!(expect, Expect::Byte { value, offset }, "decoder: Byte");
            Err(None)
        }
    };
    assert_eq!(decoder.bits_pending(), model.pending(), "bits_pending");
    let bytes = match (expect, got) {
        (Expect::End(bytes), got @ (Ok(_) | Err(Some(_)))) => {
            let parsed = Frame::parse(&bytes).map(|f| OwnedFrame::of(&f));
            assert_eq!(
                got,
                parsed.map_err(Some),
                "decoder disagrees with parse on {bytes:02x?}"
            );
            bytes
        }
        (Expect::End(bytes), Err(None)) => panic!("decoder missed the end of {bytes:02x?}"),
        (expect, Ok(_) | Err(Some(_))) => {
            panic!("decoder ended a frame early: expected {expect:?}")
        }
        (_, Err(None)) => return,
    };
    let body = bytes.len() - frame::CRC_LEN;
    let sent = u32::from_be_bytes(bytes[body..].try_into().expect("4 bytes"));
    if let Some(crc) = crc {
        assert_eq!(crc, sent, "a verified frame's crc is its CRC field");
    }
    if let Ok(f) = Frame::parse(&bytes) {
        assert_eq!(crc32c(&bytes[..body]), sent);
        let mut buf = [0u8; frame::MAX_FRAME_LEN];
        let n = f.emit(&mut buf).expect("a parsed frame emits");
        assert_eq!(
            &buf[..n],
            &bytes[..],
            "parse then emit gives the bytes back"
        );
    }
}

// ---------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------

/// Time before a single signal, by the high nibble of its opcode.
const STEPS: [Duration; 12] = [
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::from_micros(1),
    Duration::from_micros(50),
    Duration::from_micros(500),
    Duration::from_millis(2),
    Duration::from_millis(10),
    Duration::from_millis(19),
    Duration::from_millis(21),
    Duration::from_millis(60),
];

/// Units of a time jump.
const JUMPS: [Duration; 8] = [
    Duration::from_micros(1),
    Duration::from_micros(100),
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
];

fn pid_of(op: u8) -> Pid {
    (op & 7) as Pid % PIDS as Pid + 1
}

/// Arbitrary signal streams into a `Receiver<4>` (and a bare `FrameDecoder`).
///
/// The input is a list of events, each an opcode byte and its operands:
///
/// | opcode        | event                                                       |
/// |---------------|-------------------------------------------------------------|
/// | `0x00..=0xBF` | one signal: pid `op & 7`, bit `op & 8`, after `STEPS[op >> 4]` |
/// | `0xC0..=0xCF` | `n`, then `n` bytes sent bit by bit by pid `op & 7` (50 µs apart if `op & 8`) |
/// | `0xD0..=0xDF` | a frame with a correct CRC from pid `op & 7`: flags, `n`, `n` payload bytes; if `op & 8`, two more bytes pick a bit to flip |
/// | `0xE0..=0xE7` | `peer_gone(op & 7)`                                         |
/// | `0xE8..=0xEF` | time jumps by the next byte times `JUMPS[op & 7]`, then a poll |
/// | `0xF0..=0xFF` | the bare decoder is reset                                   |
///
/// After every event the receiver is polled dry. Checked, besides "no panic":
/// - the bare decoder completes frames exactly where the LEN byte says, and
///   its verdict is `Frame::parse`'s on the same bytes;
/// - the receiver's outputs for each signal are those of a reference model:
///   one acknowledgement per signal, the right verdict on every frame (a
///   delivered payload is a verified frame that this process just sent, with
///   its flags; SEQ alternates within a message; a message opens with FIRST),
///   FIFO queueing with the right `ahead`;
/// - signals go only to processes that signalled; nothing is delivered on a
///   timer; a message that started ends with its last frame or `Abandoned`;
///   only the latest message of a process, not forgotten since, has copies;
///   `CheckAlive` asks about the session's process or a remembered one;
/// - after a poll nothing is overdue: the session is not past its timeout or
///   probe, every queued process heard a `Usr2` within `keepalive`, and with
///   no session the queue is empty;
/// - at the end, after long silences, every session is over.
pub fn decode(data: &[u8]) {
    let mut h = DecodeHarness::new();
    let mut input = Input(data);
    while let Some(op) = input.byte() {
        match op {
            0x00..=0xBF => {
                h.now += STEPS[(op >> 4) as usize];
                h.signal(pid_of(op), op & 8 != 0);
            }
            0xC0..=0xCF => {
                let n = input.byte_or_zero() as usize;
                let bytes = input.take(n);
                let step = if op & 8 != 0 { us(50) } else { Duration::ZERO };
                for bit in bits_of(bytes) {
                    h.now += step;
                    h.signal(pid_of(op), bit);
                }
            }
            0xD0..=0xDF => {
                let flags = input.byte_or_zero();
                let n = input.byte_or_zero() as usize;
                let payload = input.take(n);
                let version = if flags & 0x10 != 0 {
                    flags & 0x0F
                } else {
                    frame::VERSION
                };
                let mut bytes = Vec::with_capacity(payload.len() + 6);
                bytes.push((flags & 0xE0) | version);
                bytes.push(payload.len() as u8);
                bytes.extend_from_slice(payload);
                bytes.extend_from_slice(&crc32c(&bytes).to_be_bytes());
                if op & 8 != 0 {
                    let at = u16::from_be_bytes([input.byte_or_zero(), input.byte_or_zero()]);
                    let at = at as usize % (bytes.len() * 8);
                    bytes[at / 8] ^= 0x80 >> (at % 8);
                }
                for bit in bits_of(&bytes) {
                    h.signal(pid_of(op), bit);
                }
            }
            0xE0..=0xE7 => h.peer_gone(pid_of(op)),
            0xE8..=0xEF => {
                h.now += JUMPS[(op & 7) as usize] * input.byte_or_zero() as u32;
                h.poll();
            }
            0xF0..=0xFF => {
                h.bare.reset();
                h.bare_model.reset();
            }
        }
    }
    h.wind_down();
}

/// An owned [`Output`], minus notes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Act {
    Send(Pid, Signal),
    Deliver {
        from: Pid,
        payload: String,
        first: bool,
        last: bool,
    },
    Abandoned {
        pid: Pid,
        vanished: bool,
    },
    CheckAlive(Pid),
}

/// What one drain of `Receiver::poll` gave: first what the event itself
/// queued, then what the timers did once that was out.
#[derive(Debug, Default)]
struct Drained {
    acts: Vec<Act>,
    notes: Vec<Note>,
    timer_acts: Vec<Act>,
    timer_notes: Vec<Note>,
}

/// The model's session.
#[derive(Debug)]
struct ModelSession {
    pid: Pid,
    last_heard: Instant,
    next_probe: Instant,
    accepted_seq: Option<bool>,
    decoder: ModelDecoder,
    /// The receiver asked who the process is (it does as the session opens).
    asked: bool,
}

struct DecodeHarness {
    rx: Receiver<QUEUE>,
    config: ReceiverConfig,
    now: Instant,
    session: Option<ModelSession>,
    queue: VecDeque<Pid>,
    /// CRC of the last frame of each process's latest finished message.
    latest: [Option<u32>; PIDS + 1],
    signalled: [bool; PIDS + 1],
    in_message: [bool; PIDS + 1],
    last_usr2: [Instant; PIDS + 1],
    bare: FrameDecoder,
    bare_model: ModelDecoder,
}

impl DecodeHarness {
    fn new() -> Self {
        let config = ReceiverConfig::default();
        DecodeHarness {
            rx: Receiver::new(config),
            config,
            now: Instant::ZERO,
            session: None,
            queue: VecDeque::new(),
            latest: [None; PIDS + 1],
            signalled: [false; PIDS + 1],
            in_message: [false; PIDS + 1],
            last_usr2: [Instant::ZERO; PIDS + 1],
            bare: FrameDecoder::new(),
            bare_model: ModelDecoder::default(),
        }
    }

    fn new_session(&self, pid: Pid) -> ModelSession {
        ModelSession {
            pid,
            last_heard: self.now,
            next_probe: self.now + self.config.probe_after,
            accepted_seq: None,
            decoder: ModelDecoder::default(),
            asked: false,
        }
    }

    /// Polls the receiver dry, sorting what comes out.
    fn drain(&mut self) -> Drained {
        let mut d = Drained::default();
        let mut timers = false;
        for _ in 0..MAX_DRAIN {
            // Pending outputs make the timeout zero; once they are out, all
            // that follows comes from the timers. (No deadline is ever zero:
            // every one is some `now` plus a non-zero configured delay.)
            timers |= self.rx.poll_timeout() != Some(Instant::ZERO);
            let (acts, notes) = if timers {
                (&mut d.timer_acts, &mut d.timer_notes)
            } else {
                (&mut d.acts, &mut d.notes)
            };
            let act = match self.rx.poll(self.now) {
                None => return d,
                Some(Output::Note(n)) => {
                    notes.push(n);
                    continue;
                }
                Some(Output::Send { to, signal }) => Act::Send(to, signal),
                Some(Output::Deliver {
                    from,
                    payload,
                    first,
                    last,
                }) => {
                    let payload = core::str::from_utf8(payload).expect("valid UTF-8");
                    Act::Deliver {
                        from,
                        payload: payload.to_string(),
                        first,
                        last,
                    }
                }
                Some(Output::Abandoned { pid, vanished }) => Act::Abandoned { pid, vanished },
                Some(Output::CheckAlive(pid)) => Act::CheckAlive(pid),
            };
            acts.push(act);
        }
        panic!("the receiver does not settle: {d:?}");
    }

    /// Model-free checks on every action, in order.
    fn observe(&mut self, acts: &[Act]) {
        for act in acts {
            match *act {
                Act::Send(to, signal) => {
                    assert!(
                        (1..=PIDS as Pid).contains(&to) && self.signalled[to as usize],
                        "signal to {to}, which never signalled"
                    );
                    if signal == Signal::Usr2 {
                        self.last_usr2[to as usize] = self.now;
                    }
                }
                Act::Deliver {
                    from, first, last, ..
                } => {
                    let open = &mut self.in_message[from as usize];
                    assert_eq!(
                        *open, !first,
                        "{from}: FIRST must open a message, and only that"
                    );
                    *open = !last;
                }
                Act::Abandoned { pid, .. } => self.in_message[pid as usize] = false,
                Act::CheckAlive(_) => {}
            }
        }
    }

    /// The model's `finish`: the session ends and the next in line is invited.
    fn finish(&mut self, acts: &mut Vec<Act>, notes: &mut Vec<Note>) {
        self.session = None;
        if let Some(next) = self.queue.pop_front() {
            self.session = Some(ModelSession {
                asked: true,
                ..self.new_session(next)
            });
            acts.push(Act::Send(next, Signal::Usr1));
            notes.push(Note::Serving(next));
            acts.push(Act::CheckAlive(next));
        }
    }

    fn signal(&mut self, pid: Pid, bit: bool) {
        feed_and_check(&mut self.bare, &mut self.bare_model, bit);
        self.signalled[pid as usize] = true;
        let heard = self.rx.on_signal(pid, Signal::from_bit(bit), self.now);
        let d = self.drain();

        let mut acts = Vec::new();
        let mut notes = Vec::new();
        match &self.session {
            Some(s) if s.pid != pid => {
                assert_eq!(heard, Heard::Waiting);
                if self.queue.contains(&pid) {
                    acts.push(Act::Send(pid, Signal::Usr2));
                } else if self.queue.len() == QUEUE {
                    // Told to wait, not queued: it will knock again.
                    notes.push(Note::QueueFull(pid));
                    acts.push(Act::Send(pid, Signal::Usr2));
                } else {
                    let ahead = self.queue.len();
                    notes.push(Note::Queued { pid, ahead });
                    acts.push(Act::Send(pid, Signal::Usr2));
                    self.queue.push_back(pid);
                }
            }
            _ => self.serve_bit(pid, bit, heard, &d.notes, &mut acts, &mut notes),
        }
        assert_eq!(d.acts, acts, "receiver actions for a signal from {pid}");
        assert_eq!(d.notes, notes, "receiver notes for a signal from {pid}");
        self.observe(&d.acts);
        self.timers(d);
    }

    /// A bit of the session's process (which starts a session if none).
    fn serve_bit(
        &mut self,
        pid: Pid,
        bit: bool,
        heard: Heard,
        got_notes: &[Note],
        acts: &mut Vec<Act>,
        notes: &mut Vec<Note>,
    ) {
        if self.session.is_none() {
            assert!(self.queue.is_empty(), "no session, yet a queue");
            self.session = Some(ModelSession {
                asked: true,
                ..self.new_session(pid)
            });
            notes.push(Note::Serving(pid));
            acts.push(Act::CheckAlive(pid));
        }
        let now = self.now;
        let gap = self.config.frame_gap;
        let probe = self.config.probe_after;
        let s = self.session.as_mut().expect("a session");
        let bits = s.decoder.pending();
        if bits > 0 {
            let silent = now - s.last_heard;
            // Exactly `frame_gap` of silence may go either way.
            let reset = Note::GapReset { pid, bits };
            if silent > gap || (silent == gap && got_notes.contains(&reset)) {
                notes.push(reset);
                s.decoder.reset();
            }
        }
        s.last_heard = now;
        s.next_probe = now + probe;
        let accepted_seq = s.accepted_seq;
        let bytes = match s.decoder.push(bit) {
            Expect::NeedMore => {
                assert_eq!(heard, Heard::Bit);
                acts.push(Act::Send(pid, Signal::Usr1));
                return;
            }
            Expect::Byte { value, offset } => {
                assert_eq!(heard, Heard::Byte { value, offset });
                acts.push(Act::Send(pid, Signal::Usr1));
                return;
            }
            Expect::End(bytes) => bytes,
        };
        assert_eq!(heard, Heard::FrameEnd);
        let mut reject = |error| {
            notes.push(Note::Rejected { pid, error });
            acts.push(Act::Send(pid, Signal::Usr1));
        };
        let f = match Frame::parse(&bytes) {
            Ok(f) => f,
            Err(error) => return reject(error),
        };
        let crc = crc32c(&bytes[..bytes.len() - frame::CRC_LEN]);
        match accepted_seq {
            Some(seq) if seq == f.seq => {
                notes.push(Note::Duplicate(pid));
                acts.push(Act::Send(pid, Signal::Usr2));
                return;
            }
            Some(_) if f.first => return reject(Error::UnexpectedFirst),
            Some(_) => {}
            None => {
                // A late copy of the last frame of the message this process
                // finished last: acknowledged, not delivered. The receiver
                // may have forgotten it (for lack of room, when more
                // processes finished than it remembers), but must not take
                // anything else for a copy: not
                // even an older message of this process, which a new one
                // repeats bit for bit when its text and SEQ are the same.
                let known = f.last && self.latest[pid as usize] == Some(crc);
                if known && got_notes.contains(&Note::Duplicate(pid)) {
                    notes.push(Note::Duplicate(pid));
                    acts.push(Act::Send(pid, Signal::Usr2));
                    return self.finish(acts, notes);
                }
                if !f.first {
                    return reject(Error::NotFirst);
                }
            }
        }
        acts.push(Act::Deliver {
            from: pid,
            payload: f.payload.to_string(),
            first: f.first,
            last: f.last,
        });
        acts.push(Act::Send(pid, Signal::Usr2));
        if f.last {
            notes.push(Note::Finished(pid));
            self.latest[pid as usize] = Some(crc);
            self.finish(acts, notes);
        } else if let Some(s) = self.session.as_mut() {
            s.accepted_seq = Some(f.seq);
        }
    }

    fn peer_gone(&mut self, pid: Pid) {
        self.rx.peer_gone(pid, self.now);
        // A process gone sends no late copy: its message is forgotten.
        self.latest[pid as usize] = None;
        let d = self.drain();
        let mut acts = Vec::new();
        let mut notes = Vec::new();
        if self.session.as_ref().map(|s| s.pid) == Some(pid) {
            acts.push(Act::Abandoned {
                pid,
                vanished: true,
            });
            self.finish(&mut acts, &mut notes);
        } else {
            self.queue.retain(|&p| p != pid);
        }
        assert_eq!(d.acts, acts, "receiver actions for peer_gone({pid})");
        assert_eq!(d.notes, notes, "receiver notes for peer_gone({pid})");
        self.observe(&d.acts);
        self.timers(d);
    }

    fn poll(&mut self) {
        let d = self.drain();
        assert!(d.acts.is_empty() && d.notes.is_empty(), "{d:?}");
        self.timers(d);
    }

    /// Checks what the timers did, then that nothing is left overdue.
    fn timers(&mut self, d: Drained) {
        let now = self.now;
        let mut kept_alive = Vec::new();
        let mut invited = Vec::new();
        for act in &d.timer_acts {
            match *act {
                Act::CheckAlive(pid) => match self.session.as_mut() {
                    // The session's process, asked about as it opens.
                    Some(s) if s.pid == pid && !s.asked => s.asked = true,
                    // The session's process, silent for `probe_after`.
                    Some(s) if s.pid == pid && now >= s.next_probe => {
                        s.next_probe = now + self.config.probe_after;
                    }
                    // A process whose finished message is remembered: it
                    // is forgotten as soon as the process is gone.
                    _ => assert!(
                        self.latest[pid as usize].is_some(),
                        "CheckAlive({pid}): neither served nor remembered"
                    ),
                },
                Act::Abandoned { pid, vanished } => {
                    assert!(!vanished, "a timer cannot know that a process vanished");
                    let s = self.session.as_ref().expect("Abandoned without a session");
                    assert_eq!(s.pid, pid, "Abandoned a process not served");
                    assert!(now >= s.last_heard + self.config.session_timeout);
                    self.session = None;
                }
                Act::Send(pid, Signal::Usr1) => {
                    assert!(self.session.is_none(), "invited {pid} during a session");
                    assert_eq!(self.queue.pop_front(), Some(pid), "invitation out of order");
                    self.session = Some(self.new_session(pid));
                    invited.push(Note::Serving(pid));
                }
                Act::Send(pid, Signal::Usr2) => {
                    assert!(self.queue.contains(&pid), "keepalive to {pid}, not queued");
                    assert!(
                        !kept_alive.contains(&pid),
                        "two keepalives to {pid} at once"
                    );
                    kept_alive.push(pid);
                }
                Act::Deliver { .. } => panic!("delivered on a timer: {act:?}"),
            }
        }
        assert_eq!(d.timer_notes, invited, "timer notes");
        self.observe(&d.timer_acts);

        match &self.session {
            Some(s) => {
                assert!(
                    now <= s.last_heard + self.config.session_timeout,
                    "session overdue"
                );
                assert!(now <= s.next_probe, "probe overdue");
            }
            None => assert!(self.queue.is_empty(), "no session, yet a queue"),
        }
        for &q in &self.queue {
            assert!(
                now - self.last_usr2[q as usize] <= self.config.keepalive,
                "{q} waits without a keepalive"
            );
            assert!(self.rx.knows(q));
        }
        assert_eq!(self.rx.serving(), self.session.as_ref().map(|s| s.pid));
        assert_eq!(self.rx.queued(), self.queue.len());
    }

    /// Long silences: every session must end, and every message with it.
    fn wind_down(&mut self) {
        for _ in 0..=QUEUE + 1 {
            self.now += self.config.session_timeout + ms(1);
            self.poll();
        }
        assert_eq!(self.rx.serving(), None);
        assert_eq!(self.rx.queued(), 0);
        assert!(
            !self.in_message.contains(&true),
            "a message neither ended nor abandoned"
        );
    }
}

// ---------------------------------------------------------------------------
// roundtrip
// ---------------------------------------------------------------------------

/// Time between two signals of a conversation, by the high nibble of the
/// first input byte: all shorter than the receiver's `frame_gap`.
const PACES: [Duration; 16] = [
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_micros(1),
    Duration::from_micros(10),
    Duration::from_micros(30),
    Duration::from_micros(100),
    Duration::from_micros(300),
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(15),
    Duration::from_millis(19),
];

/// Time a client takes between two messages, by the third input byte.
const PAUSES: [Duration; 16] = [
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(25),
    Duration::from_millis(150),
    Duration::from_secs(1),
    Duration::from_millis(2500),
    Duration::from_millis(3500),
    Duration::from_secs(6),
    Duration::from_secs(60),
];

/// Text to frames to bits and back, then whole conversations.
///
/// Input: three option bytes, then text (made valid with
/// `String::from_utf8_lossy`).
/// 1. `split_point` on the raw bytes never cuts a character and always makes
///    progress.
/// 2. The text, cut with `split_point`, frame by frame (flags from option
///    byte 0): `emit` writes `buffer_len` bytes, `parse` gives the frame
///    back, its bits through `FrameDecoder` give it back at exactly the last
///    bit (every byte reported on the way), and one flipped bit (its place
///    from option byte 1) is always caught.
/// 3. The text, split into messages at `'\n'`, sent by one `Sender` (or, if
///    option bit 3, two taking turns) to a `Receiver` over a lossless channel
///    at a pace from option byte 0, each client pausing between its messages
///    (`PAUSES[byte 2 & 15]`) as a user would: every message is delivered
///    once, whole and in order, nothing is taken for a duplicate, SEQ
///    alternates frame after frame, each sender ends `Done`, and while the
///    pace keeps every frame within `frame_gap`, nothing is rejected or
///    retried.
pub fn roundtrip(data: &[u8]) {
    let mut input = Input(data);
    let opts = input.byte_or_zero();
    let flip = input.byte_or_zero();
    let pause = PAUSES[(input.byte_or_zero() & 15) as usize];
    let raw = input.0;
    check_split_point(raw);
    let text = String::from_utf8_lossy(raw);
    frames_roundtrip(&text, opts, flip);
    conversation(&text, opts, flip, pause);
}

fn check_split_point(raw: &[u8]) {
    let cut = frame::split_point(raw);
    assert!(cut <= raw.len() && cut <= MAX_PAYLOAD);
    if raw.len() > MAX_PAYLOAD {
        assert!(cut > MAX_PAYLOAD - 4, "split_point({}) = {cut}", raw.len());
    } else {
        assert_eq!(cut, raw.len());
    }
    if let Ok(text) = core::str::from_utf8(raw) {
        assert!(text.is_char_boundary(cut), "split_point cut a character");
    }
}

/// Cuts `text` into frame payloads the way a client does.
fn chunks(mut text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    loop {
        let cut = frame::split_point(text.as_bytes());
        assert!(
            cut > 0 || text.is_empty(),
            "split_point makes no progress on {text:?}"
        );
        let (head, rest) = text.split_at(cut);
        out.push(head);
        if rest.is_empty() {
            return out;
        }
        text = rest;
    }
}

fn frames_roundtrip(text: &str, opts: u8, flip: u8) {
    let pieces = chunks(text);
    let n = pieces.len();
    for (i, &payload) in pieces.iter().enumerate() {
        let frame = Frame {
            first: (i == 0) ^ (opts & 1 != 0),
            last: (i + 1 == n) ^ (opts & 2 != 0),
            seq: (i % 2 == 1) ^ (opts & 4 != 0),
            payload,
        };
        let mut buf = [0u8; frame::MAX_FRAME_LEN];
        let len = frame
            .emit(&mut buf)
            .expect("a split_point chunk fits a frame");
        assert_eq!(len, frame.buffer_len());
        assert_eq!(frame.emit(&mut buf[..len - 1]), Err(Error::BufferTooSmall));
        let bytes = &buf[..len];
        assert_eq!(Frame::parse(bytes), Ok(frame));
        assert_eq!(bit_at(bytes, 8 * len), None);

        let mut decoder = FrameDecoder::new();
        let mut model = ModelDecoder::default();
        for (k, bit) in bits_of(bytes).enumerate() {
            if k + 1 == 8 * len {
                let crc = u32::from_be_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
                assert_eq!(decoder.clone().feed(bit), Decoded::Frame { frame, crc });
            }
            feed_and_check(&mut decoder, &mut model, bit);
        }
        assert_eq!(decoder.bits_pending(), 0);

        // One flipped bit never passes; outside the LEN byte, the decoder
        // still finds the frame's end and rejects it there.
        let at = flip as usize % (8 * len);
        let mut bad = bytes.to_vec();
        bad[at / 8] ^= 0x80 >> (at % 8);
        assert!(
            Frame::parse(&bad).is_err(),
            "bit {at} flipped, still parses"
        );
        let mut decoder = FrameDecoder::new();
        let mut model = ModelDecoder::default();
        let mut verdicts = Vec::new();
        for bit in bits_of(&bad) {
            feed_and_check(&mut decoder, &mut model, bit);
            if model.done {
                verdicts.push(Frame::parse(&model.bytes).is_ok());
            }
        }
        if at / 8 != 1 {
            assert_eq!(verdicts, [false], "bit {at} flipped");
        }
    }
}

/// One client in a conversation.
struct Client {
    pid: Pid,
    tx: Sender,
    /// Messages still to send; the front one is in progress.
    messages: VecDeque<String>,
    /// Bytes of the front message already loaded.
    loaded: usize,
    /// When the next message may start, once the last one is done.
    resume: Option<Instant>,
    /// Frames loaded so far, and bytes.
    frames: u64,
    bytes: u64,
    /// Messages the receiver delivered, and the one being delivered.
    delivered: Vec<String>,
    partial: Option<String>,
    /// What the server wrote of this client's messages.
    written: Vec<u8>,
    /// What the receiver decodes of this client's bits, and the last frame
    /// decoded.
    wire: FrameDecoder,
    last_frame: Option<OwnedFrame>,
    expected: Vec<String>,
}

impl Client {
    fn new(pid: Pid, now: Instant) -> Self {
        Client {
            pid,
            tx: Sender::new(SenderConfig::default(), now),
            messages: VecDeque::new(),
            loaded: 0,
            resume: None,
            frames: 0,
            bytes: 0,
            delivered: Vec::new(),
            partial: None,
            written: Vec::new(),
            wire: FrameDecoder::new(),
            last_frame: None,
            expected: Vec::new(),
        }
    }

    /// Loads the next payload; false when every message is sent.
    fn load_next(&mut self) -> bool {
        let Some(message) = self.messages.front() else {
            return false;
        };
        let rest = &message[self.loaded..];
        let cut = frame::split_point(rest.as_bytes());
        let last = cut == rest.len();
        self.tx
            .load(&rest[..cut], last)
            .expect("the sender asked for a payload");
        self.frames += 1;
        self.bytes += cut as u64;
        if last {
            self.messages.pop_front();
            self.loaded = 0;
        } else {
            self.loaded += cut;
        }
        true
    }
}

fn conversation(text: &str, opts: u8, seed: u8, pause: Duration) {
    let pace = PACES[(opts >> 4) as usize];
    let mut now = Instant::ZERO;
    let mut clients = if opts & 8 != 0 {
        vec![Client::new(1, now), Client::new(2, now)]
    } else {
        vec![Client::new(42, now)]
    };
    let k = clients.len();
    // Between two bits of the client being served, each other client may
    // slip in one signal (a knock): within `frame_gap`, no frame is ever cut.
    let strict = pace * (k as u32) < ReceiverConfig::default().frame_gap;
    for (i, message) in text.split('\n').enumerate() {
        clients[i % k].messages.push_back(message.to_string());
        clients[i % k].expected.push(message.to_string());
    }
    let total_bits: usize = clients
        .iter()
        .flat_map(|c| c.messages.iter())
        .map(|m| chunks(m).iter().map(|p| 48 + 8 * p.len()).sum::<usize>())
        .sum();
    let mut server: Server<QUEUE, HOLD> = Server::new(ReceiverConfig::default());
    let mut rng = u32::from(seed) | 0x100;
    let mut steps = 0usize;

    loop {
        steps += 1;
        assert!(
            steps < 4 * total_bits + 1000,
            "the conversation does not end"
        );
        // Who goes first this round: a cheap xorshift.
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let start = rng as usize % k;
        let mut wake = None::<Instant>;
        let mut loaded = false;
        let mut finished = 0;
        let mut sent = None;
        for j in 0..k {
            let c = &mut clients[(start + j) % k];
            if c.frames == 0 && c.messages.is_empty() {
                finished += 1; // no message at all: this client never starts
                continue;
            }
            match c.tx.poll(now) {
                Poll::NeedPayload => {
                    assert!(c.load_next(), "{}: asks for more than the text", c.pid);
                    loaded = true;
                }
                Poll::Done if c.messages.is_empty() => finished += 1,
                Poll::Done => match c.resume {
                    Some(at) if at <= now => {
                        c.resume = None;
                        c.load_next();
                        loaded = true;
                    }
                    Some(at) => wake = Some(wake.map_or(at, |w| w.min(at))),
                    None => {
                        c.resume = Some(now + pause);
                        loaded = true;
                    }
                },
                Poll::Wait { until } => {
                    assert!(until > now, "{}: waits for the past", c.pid);
                    wake = Some(wake.map_or(until, |w| w.min(until)));
                }
                Poll::Failed(f) => panic!("{}: failed on a lossless line: {f:?}", c.pid),
                Poll::Send(signal) => {
                    sent = Some((c.pid, signal));
                    break;
                }
            }
        }
        if let Some((pid, signal)) = sent {
            let heard = server.on_signal(pid, signal, now);
            converse(&mut server, &mut clients, now, strict);
            if heard != Heard::Waiting {
                // The bits the receiver takes in (from the start of this
                // client's session or the last gap, which `converse` saw)
                // make frames whose SEQ flips from one to the next; only a
                // retry repeats a frame, all of it.
                let c = clients.iter_mut().find(|c| c.pid == pid).expect("a client");
                if let Decoded::Frame { frame: f, .. } = c.wire.feed(signal.bit()) {
                    let f = OwnedFrame::of(&f);
                    if let Some(prev) = c.last_frame.as_ref().filter(|&p| *p != f) {
                        assert_ne!(prev.seq, f.seq, "{pid}: SEQ did not flip");
                    }
                    c.last_frame = Some(f);
                }
            }
            now += pace;
            continue;
        }
        if finished == k {
            break;
        }
        if loaded {
            continue;
        }
        // Nobody can send: time passes until someone's deadline or the
        // receiver's next timer.
        let wake = match (wake, server.receiver().poll_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).expect("nobody sends and nothing is due"),
        };
        now = now.max(wake);
        converse(&mut server, &mut clients, now, strict);
    }

    for c in &clients {
        assert_eq!(c.partial, None, "{}: a message left open", c.pid);
        assert_eq!(c.delivered, c.expected, "{}: delivered text", c.pid);
        let lines: String = c.expected.iter().map(|m| format!("{m}\n")).collect();
        assert_eq!(c.written, lines.as_bytes(), "{}: written text", c.pid);
        let stats = c.tx.stats();
        assert_eq!(stats.frames, c.frames, "{}: frames", c.pid);
        assert_eq!(stats.bytes, c.bytes, "{}: bytes", c.pid);
        if strict {
            assert_eq!(stats.retries, 0, "{}: retries on a lossless line", c.pid);
        }
    }
    assert_eq!(server.receiver().serving(), None);
    assert_eq!(server.receiver().queued(), 0);
    assert!(!server.in_message());
}

/// The server's I/O in a conversation: its signals go to the clients, its
/// text to the client that sent it; every output is checked.
///
/// Unless `strict`, frames may be cut by a gap and rejected (then retried).
struct Conversation<'a> {
    clients: &'a mut [Client],
    now: Instant,
    strict: bool,
    /// Outputs of the current drive.
    outputs: usize,
}

impl Conversation<'_> {
    fn client(&mut self, pid: Pid) -> &mut Client {
        self.clients
            .iter_mut()
            .find(|c| c.pid == pid)
            .unwrap_or_else(|| panic!("{pid}: no such client"))
    }
}

impl Effects for Conversation<'_> {
    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        let now = self.now;
        self.client(to).tx.on_reply(signal, now);
        true
    }

    fn write(&mut self, from: Pid, bytes: &[u8]) {
        self.client(from).written.extend_from_slice(bytes);
    }

    fn alive(&mut self, pid: Pid) -> Option<u64> {
        Some(pid as u64) // everyone is alive, and keeps its PID
    }

    fn catches(&mut self, _: Pid) -> Catches {
        Catches::BOTH
    }

    fn trace(&mut self, out: &Output<'_>, _: Instant) {
        self.outputs += 1;
        assert!(self.outputs <= MAX_DRAIN, "the receiver does not settle");
        match *out {
            Output::Note(n @ (Note::Duplicate(_) | Note::QueueFull(_))) => {
                panic!("on a lossless line: {n:?}")
            }
            Output::Note(n @ (Note::Rejected { .. } | Note::GapReset { .. })) if self.strict => {
                panic!("on a lossless line, at a pace well within frame_gap: {n:?}")
            }
            Output::Note(Note::Serving(pid) | Note::GapReset { pid, .. }) => {
                // A new session or a gap: the receiver's decoder starts afresh.
                if let Some(c) = self.clients.iter_mut().find(|c| c.pid == pid) {
                    c.wire.reset();
                }
            }
            Output::Abandoned { .. } => panic!("on a lossless line: {out:?}"),
            Output::Deliver {
                from,
                payload,
                first,
                last,
            } => {
                let c = self.client(from);
                assert_eq!(first, c.partial.is_none(), "{from}: FIRST out of place");
                let text = c.partial.get_or_insert_with(String::new);
                text.push_str(core::str::from_utf8(payload).expect("valid UTF-8"));
                if last {
                    let text = c.partial.take().expect("a message");
                    c.delivered.push(text);
                }
            }
            Output::Send { .. } | Output::CheckAlive(_) | Output::Note(_) => {}
        }
    }
}

/// Drives the server dry at `now`: its signals go to the clients.
fn converse(server: &mut Server<QUEUE, HOLD>, clients: &mut [Client], now: Instant, strict: bool) {
    let mut io = Conversation {
        clients,
        now,
        strict,
        outputs: 0,
    };
    server.drive(now, &mut io);
}

// ---------------------------------------------------------------------------
// frame_parse
// ---------------------------------------------------------------------------

/// `Frame::parse` on arbitrary bytes: no panic; what parses emits back to the
/// same bytes; and the push decoder, fed the same bytes bit by bit, ends a
/// frame exactly where the LEN byte says, with `parse`'s verdict on it.
///
/// If the first input byte is 0xFF, the rest is first given a correct CRC, so
/// the checks past the checksum (version, UTF-8) are reached.
pub fn frame_parse(data: &[u8]) {
    let mut bytes = data.to_vec();
    if bytes.first() == Some(&0xFF) {
        bytes.remove(0);
        if bytes.len() >= 6 {
            let body = bytes.len() - frame::CRC_LEN;
            let crc = crc32c(&bytes[..body]).to_be_bytes();
            bytes[body..].copy_from_slice(&crc);
        }
    }
    let parsed = Frame::parse(&bytes);
    let whole = bytes
        .get(1)
        .map(|&len| frame::HEADER_LEN + len as usize + frame::CRC_LEN);
    match parsed {
        Ok(f) => {
            assert_eq!(Some(bytes.len()), whole);
            assert!(f.payload.len() <= MAX_PAYLOAD);
            let mut buf = [0u8; frame::MAX_FRAME_LEN];
            let n = f.emit(&mut buf).expect("a parsed frame emits");
            assert_eq!(&buf[..n], &bytes[..]);
        }
        Err(Error::Truncated) => {
            if let Some(w) = whole {
                assert!(bytes.len() < w);
            }
        }
        Err(Error::TrailingBytes) => assert!(whole.is_some_and(|w| bytes.len() > w)),
        Err(Error::BadChecksum | Error::BadVersion | Error::BadUtf8) => {
            assert_eq!(Some(bytes.len()), whole);
        }
        Err(e) => panic!("parse cannot fail with {e:?}"),
    }
    let mut decoder = FrameDecoder::new();
    let mut model = ModelDecoder::default();
    for bit in bits_of(&bytes) {
        feed_and_check(&mut decoder, &mut model, bit);
    }
}
