//! The checks behind the `classic` fuzz target, shared by
//! `fuzz/fuzz_targets/classic.rs` (nightly, libFuzzer) and
//! `tests/fuzz_corpus.rs` (stable, replaying the kept corpus).
//!
//! Input layout, read by hand (no `arbitrary`): byte 0 picks the
//! convention ([`Convention::from_bits`]), byte 1 which signals each PID
//! catches (its top bits also `noendack` and the sender's pacing), then
//! records of three bytes `(pid, signal, delay)` fed to a
//! [`ClassicReceiver`]; the same bytes drive a [`ClassicSender`] as the
//! server's replies, and a round trip of the input's tail as a message
//! through the [`Encoder`] and a fresh receiver.
//!
//! Checked: nothing panics; the receiver only asks to signal PIDs >= 1 with a
//! signal they were said to catch; every call ends (a bound on its effects);
//! no timer is left due after `poll`; after a long silence every slot is
//! free; the sender never sends more than the message; a message sent at
//! a steady pace arrives exactly.

use std::vec::Vec;

use minitalk_protocol::classic::{
    ClassicPoll, ClassicReceiver, ClassicSender, ClassicSenderConfig, Convention, Encoder, End,
    Header, Pacing, Trace, Verdict,
};
use minitalk_protocol::{Catches, Duration, Effects, Failure, Instant, Pid, Signal};

/// Byte 0 as a convention, with `noendack` from the mask byte's top bit
/// (the mask's bit 6 picks the sender's pacing).
fn convention(b: u8, mask: u8) -> Convention {
    Convention::from_bits(u16::from(b) | u16::from(mask >> 7) << 8)
}

fn pid_of(b: u8) -> Pid {
    match b % 8 {
        0 => 0,
        1 => -1,
        n => Pid::from(n),
    }
}

fn catches(mask: u8, pid: Pid) -> Catches {
    let k = (pid.rem_euclid(4) * 2) as u32;
    Catches {
        usr1: mask >> k & 1 == 1,
        usr2: mask >> (k + 1) & 1 == 1,
    }
}

/// The receiver's world, checking everything it is asked to do.
struct Fx<'a> {
    /// Which signals each PID catches.
    mask: u8,
    written: &'a mut Vec<u8>,
    /// Effects in this call, to catch a loop that never ends.
    calls: u32,
}

impl Fx<'_> {
    fn count(&mut self) {
        self.calls += 1;
        assert!(self.calls < 100_000, "a call that never ends");
    }
}

impl Effects for Fx<'_> {
    fn catches(&mut self, pid: Pid) -> Catches {
        self.count();
        assert!(pid >= 1);
        catches(self.mask, pid)
    }

    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        self.count();
        assert!(to >= 1, "asked to signal PID {to}");
        assert!(
            catches(self.mask, to).catches(signal),
            "{to} does not catch {signal:?}"
        );
        true
    }

    fn write(&mut self, _: Pid, bytes: &[u8]) {
        self.count();
        assert!(!bytes.is_empty());
        self.written.extend_from_slice(bytes);
    }

    fn verdict(&mut self, _: Verdict) {
        self.count();
    }

    fn classic_trace(&mut self, _: Trace) {
        self.count();
    }

    fn alive(&mut self, _: Pid) -> Option<u64> {
        Some(1)
    }
}

fn fx(mask: u8, written: &mut Vec<u8>) -> Fx<'_> {
    Fx {
        mask,
        written,
        calls: 0,
    }
}

/// The receiver part of [`classic`]: `records` fed to a receiver reading
/// by `c`.
fn receive(c: Convention, mask: u8, records: &[u8]) {
    let mut rx: ClassicReceiver<3, 8> = ClassicReceiver::new(Default::default(), c);
    let mut now = Instant::ZERO;
    let mut written = Vec::new();
    for r in records.chunks_exact(3) {
        let delay = u64::from(r[2]) * u64::from(r[2]) * 10;
        now = now.saturating_add(Duration::from_micros(delay));
        let signal = if r[1] & 1 == 0 {
            Signal::Usr1
        } else {
            Signal::Usr2
        };
        rx.on_signal(pid_of(r[0]), signal, now, &mut fx(mask, &mut written));
        rx.poll(now, &mut fx(mask, &mut written));
        if r[1] & 2 == 2 {
            // let a timer fire when it is due
            if let Some(at) = rx.poll_timeout() {
                assert!(at > now, "a timer due now was not run");
                now = at;
                rx.poll(now, &mut fx(mask, &mut written));
            }
        }
    }
    // A long silence, and the timers it leads to (a probe after a message
    // found ended when its silence decided its convention).
    let mut end = now.saturating_add(Duration::from_secs(10));
    for _ in 0..4 {
        rx.poll(end, &mut fx(mask, &mut written));
        match rx.poll_timeout() {
            Some(at) => end = at,
            None => break,
        }
    }
    assert_eq!(rx.active(), 0, "slots still busy after a long silence");
    assert_eq!(rx.poll_timeout(), None);
}

/// Arbitrary signal streams into a receiver, replies into a sender, and a
/// round trip.
pub fn classic(data: &[u8]) {
    let Some((&conv, rest)) = data.split_first() else {
        return;
    };
    let mask = rest.first().copied().unwrap_or(0xFF);
    let c = convention(conv, mask);
    let records = rest.get(1..).unwrap_or(&[]);

    // Receiver: arbitrary signals from several PIDs at arbitrary times, the
    // convention given, then detected per PID (`--classic` without a LIST).
    for detect in [false, true] {
        receive(Convention { detect, ..c }, mask, records);
    }

    // Sender: the same bytes as replies, at arbitrary times.
    let pacing = if mask & 0x40 == 0 {
        Pacing::Auto {
            probe: Duration::from_millis(5),
            pace: Duration::from_micros(100),
        }
    } else {
        Pacing::Fixed(Duration::from_micros(50))
    };
    let config = ClassicSenderConfig {
        pacing,
        give_up: Duration::from_millis(300),
    };
    let message = records.get(..records.len().min(16)).unwrap_or(&[]);
    if let Some(mut tx) = ClassicSender::new(config, c, message) {
        let mut now = Instant::ZERO;
        let mut replies = records.iter();
        for _ in 0..10_000 {
            match tx.poll(now) {
                ClassicPoll::Send(_) => assert!(tx.sent() <= tx.total()),
                ClassicPoll::Wait { until } => {
                    assert!(until > now);
                    match replies.next() {
                        Some(&b) if b & 0x80 == 0 => {
                            now = now.saturating_add(Duration::from_micros(u64::from(b) * 40));
                            let s = if b & 1 == 0 {
                                Signal::Usr1
                            } else {
                                Signal::Usr2
                            };
                            tx.on_reply(s, now.min(until));
                        }
                        _ => now = until,
                    }
                }
                ClassicPoll::Done => {
                    assert_eq!(tx.sent(), tx.total());
                    break;
                }
                ClassicPoll::Failed(Failure::Rejected) => {
                    assert!(tx.replies() >= tx.sent());
                    break;
                }
                ClassicPoll::Failed(_) => {
                    assert!(tx.acknowledged());
                    break;
                }
            }
        }
    }

    // Round trip: a steadily paced message arrives exactly.
    let msg: Vec<u8> = records
        .iter()
        .copied()
        .filter(|&b| c.end == End::None || c.header.is_length() || b != 0)
        .take(40)
        .collect();
    if c.end == End::None && !c.header.is_length() && msg.is_empty() {
        return;
    }
    let Some(enc) = Encoder::new(c, &msg) else {
        return;
    };
    let mut rx: ClassicReceiver<2, 16> = ClassicReceiver::new(Default::default(), c);
    let mut out = Vec::new();
    let mut now = Instant::ZERO;
    for i in 0..enc.bits() {
        now = Instant::ZERO + Duration::from_micros(100 * i);
        rx.on_signal(
            4242,
            enc.signal_at(i).unwrap(),
            now,
            &mut fx(0xFF, &mut out),
        );
        rx.poll(now, &mut fx(0xFF, &mut out));
    }
    let later = now.saturating_add(Duration::from_secs(1));
    rx.poll(later, &mut fx(0xFF, &mut out));
    let mut expect = msg.clone();
    // On the `lead` wire, a '\n' before the NUL is the line's end.
    let own = c.header == Header::Lead && c.end == End::Nul && msg.ends_with(b"\n");
    if !own {
        expect.push(b'\n');
    }
    assert_eq!(out, expect, "round trip with {c:?}");
}
