//! The sans-IO protocol alone, in wire bits per second: what the CPU spends
//! per bit, with no signal sent.
//!
//! - `encoder/emit+bit_at`: [`Frame::emit`] of every frame of the message and
//!   [`bit_at`] of every bit (the pure encoder);
//! - `encoder/sender`: the client's per-bit path, [`Sender::poll`] for each
//!   bit and [`Sender::on_reply`] with its acknowledgement;
//! - `decoder`: [`FrameDecoder::feed`] of every bit;
//! - `receiver`: the server's per-bit path, [`Receiver::on_signal`], then
//!   [`Receiver::poll`] until it has nothing more, then
//!   [`Receiver::poll_timeout`] (the server sleeps until that).
//!
//! Time is this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall
//! time: on a shared machine, the time other processes hold the CPU is not
//! the protocol's. Caches and frequency still vary with the neighbours.
//!
//! Throughput is in bits on the wire (payload plus 48 bits of header and CRC
//! per frame of up to 255 bytes), one bit being one signal. The issue's
//! target: at least 200 Mbit/s through the receiver, so that its CPU time is
//! under 0.1% of a signal round trip (~5 µs, i.e. ~200 kbit/s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use minitalk_protocol::frame::{bit_at, split_point, Frame, MAX_FRAME_LEN};
use minitalk_protocol::{Decoded, FrameDecoder, Output, Poll, Receiver, Sender, Signal};
/// The protocol's points in time and intervals (criterion's settings stay
/// `std`'s `Duration`).
use minitalk_protocol::{Duration as Interval, Instant};

/// Message sizes: one full frame, 10 KB, 100 KB.
const SIZES: [(usize, &str); 3] = [(255, "255B"), (10 * 1024, "10KB"), (100 * 1024, "100KB")];
/// The server's queue capacity.
const QUEUE: usize = 128;
/// The client's PID, as the receiver sees it.
const CLIENT: i32 = 4242;
/// Time between two signals, a realistic round trip.
const STEP: Interval = Interval::from_micros(4);

/// One message, as the protocol puts it on the wire.
struct Wire {
    /// The frames' payloads with their FIRST, LAST and SEQ flags.
    frames: Vec<(String, bool, bool, bool)>,
    /// Every bit of every frame, in order.
    signals: Vec<Signal>,
}

impl Wire {
    /// The wire form of `text`, recorded from a real Sender–Receiver
    /// conversation (which also checks that it delivers `text`).
    fn of(text: &str) -> Wire {
        let mut frames = Vec::new();
        let mut rest = text;
        let mut seq = false;
        while !rest.is_empty() || frames.is_empty() {
            let n = split_point(rest.as_bytes());
            let last = n == rest.len();
            frames.push((rest[..n].to_string(), frames.is_empty(), last, seq));
            seq = !seq;
            rest = &rest[n..];
        }
        let now = Instant::ZERO;
        let mut tx = Sender::new(Default::default(), now);
        let mut rx: Receiver<QUEUE> = Receiver::new(Default::default());
        let (mut signals, mut delivered, mut next) = (Vec::new(), Vec::new(), 0);
        loop {
            match tx.poll(now) {
                Poll::NeedPayload => {
                    let (payload, _, last, _) = &frames[next];
                    tx.load(payload, *last).expect("a payload that fits");
                    next += 1;
                }
                Poll::Send(signal) => {
                    signals.push(signal);
                    rx.on_signal(CLIENT, signal, now);
                    while let Some(out) = rx.poll(now) {
                        match out {
                            Output::Deliver { payload, .. } => delivered.extend_from_slice(payload),
                            Output::Send { signal, .. } => tx.on_reply(signal, now),
                            _ => {}
                        }
                    }
                }
                Poll::Done => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            delivered,
            text.as_bytes(),
            "the recorded conversation delivers the text"
        );
        Wire { frames, signals }
    }

    fn bits(&self) -> u64 {
        self.signals.len() as u64
    }
}

fn encoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("encoder/emit+bit_at");
    configure(&mut group);
    for (size, label) in SIZES {
        let wire = Wire::of(&minitalk_benches::message(size));
        group.throughput(Throughput::Bits(wire.bits()));
        group.bench_with_input(BenchmarkId::from_parameter(label), &wire, |b, wire| {
            let mut buf = [0u8; MAX_FRAME_LEN];
            b.iter_custom(|iters| {
                cpu_time(iters, || {
                    let mut ones = 0u32;
                    for (payload, first, last, seq) in &wire.frames {
                        let frame = Frame {
                            first: *first,
                            last: *last,
                            seq: *seq,
                            payload: black_box(payload.as_str()),
                        };
                        let len = frame.emit(&mut buf).unwrap_or(0);
                        for i in 0..len * 8 {
                            ones += u32::from(black_box(bit_at(&buf[..len], i)) == Some(true));
                        }
                    }
                    ones
                })
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("encoder/sender");
    configure(&mut group);
    for (size, label) in SIZES {
        let wire = Wire::of(&minitalk_benches::message(size));
        group.throughput(Throughput::Bits(wire.bits()));
        group.bench_with_input(BenchmarkId::from_parameter(label), &wire, |b, wire| {
            b.iter_custom(|iters| {
                cpu_time(iters, || {
                    let mut now = Instant::ZERO;
                    let mut tx = Sender::new(Default::default(), now);
                    let (mut frame, mut bit, mut frame_bits) = (0, 0, 0);
                    loop {
                        match tx.poll(now) {
                            Poll::NeedPayload => {
                                let (payload, _, last, _) = &wire.frames[frame];
                                let _ = tx.load(black_box(payload), *last);
                                frame_bits = tx.frame_bits();
                                (frame, bit) = (frame + 1, 0);
                            }
                            Poll::Send(signal) => {
                                black_box(signal);
                                bit += 1;
                                now += STEP;
                                // The receiver's answer: USR2 accepts a frame.
                                let ack = if bit == frame_bits {
                                    Signal::Usr2
                                } else {
                                    Signal::Usr1
                                };
                                tx.on_reply(ack, now);
                            }
                            Poll::Done => break,
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    tx.stats()
                })
            });
        });
    }
    group.finish();
}

fn decoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("decoder");
    configure(&mut group);
    for (size, label) in SIZES {
        let wire = Wire::of(&minitalk_benches::message(size));
        let bits: Vec<bool> = wire.signals.iter().map(|s| s.bit()).collect();
        group.throughput(Throughput::Bits(wire.bits()));
        group.bench_with_input(BenchmarkId::from_parameter(label), &bits, |b, bits| {
            let mut decoder = FrameDecoder::new();
            b.iter_custom(|iters| {
                cpu_time(iters, || {
                    let mut frames = 0u32;
                    for &bit in bits {
                        if let Decoded::Frame { frame: f, .. } = decoder.feed(black_box(bit)) {
                            black_box(f.payload);
                            frames += 1;
                        }
                    }
                    assert_eq!(frames as usize, wire.frames.len());
                    frames
                })
            });
        });
    }
    group.finish();
}

fn receiver(c: &mut Criterion) {
    let mut group = c.benchmark_group("receiver");
    configure(&mut group);
    for (size, label) in SIZES {
        let wire = Wire::of(&minitalk_benches::message(size));
        group.throughput(Throughput::Bits(wire.bits()));
        group.bench_with_input(BenchmarkId::from_parameter(label), &wire, |b, wire| {
            // A fresh receiver per message (a copy of ~1.3 KB, timed too).
            let fresh = Receiver::<QUEUE>::new(Default::default());
            let mut rx = fresh.clone();
            b.iter_custom(|iters| {
                cpu_time(iters, || {
                    rx.clone_from(&fresh);
                    let mut now = Instant::ZERO + Interval::from_secs(1);
                    let mut delivered = 0usize;
                    for &signal in &wire.signals {
                        now += STEP;
                        rx.on_signal(CLIENT, black_box(signal), now);
                        while let Some(out) = rx.poll(now) {
                            if let Output::Deliver { payload, .. } = out {
                                delivered += black_box(payload).len();
                            }
                        }
                        black_box(rx.poll_timeout());
                    }
                    assert_eq!(delivered, size);
                })
            });
        });
    }
    group.finish();
}

/// Runs `f` `iters` times; the CPU time this thread spent on it.
fn cpu_time<T>(iters: u64, mut f: impl FnMut() -> T) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iters {
        black_box(f());
    }
    thread_cpu_time().saturating_sub(start)
}

/// The CPU time of this thread so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; the clock always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Short runs: the whole `cargo bench` should take minutes, not hours.
fn configure<M: criterion::measurement::Measurement>(group: &mut criterion::BenchmarkGroup<'_, M>) {
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        // The same iteration count in every sample: 100 KB runs take
        // milliseconds, and linear sampling would need 210 of them.
        .sampling_mode(SamplingMode::Flat);
}

criterion_group!(benches, encoder, decoder, receiver);
criterion_main!(benches);
