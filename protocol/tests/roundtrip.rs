//! Round-trip properties of the wire format and of a whole conversation.
//!
//! - Any UTF-8 text, split with [`frame::split_point`], sent by a [`Sender`]
//!   over a lossless channel to a [`Server`] (the binary's driver: the text
//!   held whole, or streamed when longer than its buffer), comes out exactly
//!   as it went in, plus its newline.
//! - [`Frame::emit`] and [`Frame::parse`] are inverses; a [`FrameDecoder`] fed
//!   the bits of an emitted frame gives the frame back.
//! - One flipped, dropped or duplicated bit in a frame's bit stream never
//!   yields a *different* accepted frame: the damage is rejected or, for a
//!   duplicate inside the frame's final run of equal bits, harmless.

use minitalk_protocol::{Duration, Instant};

use minitalk_protocol::frame::{self, bit_at, Frame, MAX_FRAME_LEN, MAX_PAYLOAD};
use minitalk_protocol::{
    Aborted, Catches, Decoded, Effects, Error, FrameDecoder, Output, Poll, Receiver, Sender,
    Server, Signal,
};
use proptest::prelude::*;

const CLIENT: i32 = 4242;

/// Characters from many scripts and every UTF-8 length: ASCII (controls and
/// newlines included), Latin, Greek, Cyrillic, Arabic, Devanagari, CJK,
/// Hangul, emoji, combining marks, and anything else.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\0', '\u{7f}'),
        2 => proptest::char::range('\u{a0}', '\u{24f}'),
        1 => proptest::char::range('\u{370}', '\u{3ff}'),
        1 => proptest::char::range('\u{400}', '\u{4ff}'),
        1 => proptest::char::range('\u{600}', '\u{6ff}'),
        1 => proptest::char::range('\u{900}', '\u{97f}'),
        2 => proptest::char::range('\u{4e00}', '\u{9fff}'),
        1 => proptest::char::range('\u{ac00}', '\u{d7a3}'),
        2 => proptest::char::range('\u{1f300}', '\u{1faff}'),
        1 => proptest::char::range('\u{300}', '\u{36f}'),
        1 => any::<char>(),
    ]
}

/// Text of 0 to `max_chars` characters, or a long run of one character.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(any_char(), 0..=max_chars)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => (any_char(), 0..=max_chars).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => Just(String::new()),
    ]
}

/// A frame's payload: whole characters, at most [`MAX_PAYLOAD`] bytes.
fn payload() -> impl Strategy<Value = String> {
    text(100).prop_map(|s| s[..frame::split_point(s.as_bytes())].to_owned())
}

/// The payloads of `text`'s frames, each marked with whether it is the last.
fn frames_of(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let cut = frame::split_point(rest.as_bytes());
        let (head, tail) = rest.split_at(cut);
        out.push((head, tail.is_empty()));
        if tail.is_empty() {
            return out;
        }
        rest = tail;
    }
}

/// The server's I/O on a lossless channel with one client: replies are
/// collected, text written to a vector; a liveness check is recorded and
/// finds the client alive until it is `gone` (it exits once done).
#[derive(Default)]
struct Lossless {
    replies: Vec<Signal>,
    written: Vec<u8>,
    checked: Vec<i32>,
    gone: bool,
}

impl Effects for Lossless {
    fn send(&mut self, to: i32, signal: Signal) -> bool {
        assert_eq!(to, CLIENT);
        self.replies.push(signal);
        true
    }

    fn write(&mut self, from: i32, bytes: &[u8]) {
        assert_eq!(from, CLIENT);
        self.written.extend_from_slice(bytes);
    }

    fn alive(&mut self, pid: i32) -> Option<u64> {
        self.checked.push(pid);
        (!self.gone).then_some(1)
    }

    fn catches(&mut self, _: i32) -> Catches {
        Catches::BOTH
    }

    fn abandoned(&mut self, pid: i32, vanished: bool, aborted: Aborted) {
        panic!("{pid} abandoned (vanished: {vanished}, {aborted:?}) on a lossless channel");
    }
}

/// Sends `text` over a lossless channel, through the server's own driver
/// ([`Server::drive`]), and returns what the server writes.
fn transfer<const N: usize>(text: &str) -> Vec<u8> {
    let mut now = Instant::ZERO;
    let step = Duration::from_micros(7);
    let mut tx = Sender::new(Default::default(), now);
    let mut server: Server<4, N> = Server::new(Default::default());
    let mut io = Lossless::default();
    let mut frames = frames_of(text).into_iter();
    loop {
        now += step;
        match tx.poll(now) {
            Poll::NeedPayload => {
                let (payload, last) = frames.next().expect("the sender asked for too many frames");
                tx.load(payload, last).unwrap();
            }
            Poll::Send(signal) => {
                server.on_signal(CLIENT, signal, now);
                server.drive(now, &mut io);
                assert_eq!(
                    io.replies.len(),
                    1,
                    "one reply per signal: {:?}",
                    io.replies
                );
                tx.on_reply(io.replies.pop().unwrap(), now);
            }
            Poll::Done => break,
            other => panic!("{other:?} on a lossless channel"),
        }
    }
    assert!(frames.next().is_none(), "done before the last frame");
    assert_eq!(tx.stats().retries, 0);
    assert_eq!(server.receiver().serving(), None);
    // Who the sender is, checked once as its session opened.
    assert_eq!(io.checked, [CLIENT], "one check, as the session opened");
    io.checked.clear();
    io.gone = true;
    // One check, a moment later, that the sender is gone (a live one could
    // still send a copy of its last frame); then nothing more to do.
    let probe = server
        .receiver()
        .poll_timeout()
        .expect("a check of the sender");
    server.drive(probe, &mut io);
    assert_eq!(io.checked, [CLIENT]);
    assert!(io.replies.is_empty());
    assert_eq!(server.receiver().poll_timeout(), None);
    io.written
}

/// The bits of `frame` in wire order.
fn bits_of(frame: &Frame<'_>) -> Vec<bool> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = frame.emit(&mut buf).unwrap();
    (0..n * 8).map(|i| bit_at(&buf[..n], i).unwrap()).collect()
}

/// Feeds `bits` to `decoder` and returns every frame it accepted, as owned
/// `(first, last, seq, payload)`.
fn accepted(decoder: &mut FrameDecoder, bits: &[bool]) -> Vec<(bool, bool, bool, String)> {
    let mut out = Vec::new();
    for &b in bits {
        if let Decoded::Frame { frame: f, .. } = decoder.feed(b) {
            out.push((f.first, f.last, f.seq, f.payload.to_owned()));
        }
    }
    out
}

fn owned(f: &Frame<'_>) -> (bool, bool, bool, String) {
    (f.first, f.last, f.seq, f.payload.to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_text_arrives_intact_through_a_small_buffer(text in text(2000)) {
        let mut want = text.clone().into_bytes();
        want.push(b'\n');
        prop_assert_eq!(transfer::<300>(&text), want);
    }

    #[test]
    fn any_text_arrives_intact_through_a_large_buffer(text in text(2000)) {
        let mut want = text.clone().into_bytes();
        want.push(b'\n');
        prop_assert_eq!(transfer::<16384>(&text), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn split_point_cuts_on_a_character_boundary(text in text(400)) {
        let frames = frames_of(&text);
        prop_assert_eq!(frames.iter().map(|f| f.0).collect::<String>(), text.clone());
        for (i, (payload, last)) in frames.iter().enumerate() {
            prop_assert!(payload.len() <= MAX_PAYLOAD);
            prop_assert_eq!(*last, i + 1 == frames.len());
            // Only the last frame may be short by more than a character.
            if !last {
                prop_assert!(payload.len() > MAX_PAYLOAD - 4);
            }
        }
    }

    #[test]
    fn emit_then_parse_is_the_identity(
        payload in payload(),
        first: bool,
        last: bool,
        seq: bool,
    ) {
        let frame = Frame { first, last, seq, payload: &payload };
        let mut buf = [0u8; MAX_FRAME_LEN + 1];
        let n = frame.emit(&mut buf).unwrap();
        prop_assert_eq!(n, frame.buffer_len());
        prop_assert_eq!(Frame::parse(&buf[..n]), Ok(frame));
        prop_assert_eq!(Frame::parse(&buf[..n - 1]), Err(Error::Truncated));
        prop_assert_eq!(Frame::parse(&buf[..n + 1]), Err(Error::TrailingBytes));
    }

    #[test]
    fn the_decoder_gives_back_an_emitted_frame(
        a in payload(),
        b in payload(),
        flags in any::<[bool; 3]>(),
    ) {
        let one = Frame { first: flags[0], last: flags[1], seq: flags[2], payload: &a };
        let two = Frame { first: !flags[0], last: flags[1], seq: !flags[2], payload: &b };
        let mut bits = bits_of(&one);
        prop_assert_eq!(bits.len(), frame::OVERHEAD_BITS + 8 * a.len());
        bits.extend(bits_of(&two));
        let mut decoder = FrameDecoder::new();
        prop_assert_eq!(accepted(&mut decoder, &bits), vec![owned(&one), owned(&two)]);
        prop_assert_eq!(decoder.bits_pending(), 0);
    }

    #[test]
    fn one_damaged_bit_never_yields_a_different_frame(
        payload in payload(),
        flags in any::<[bool; 3]>(),
        at in any::<prop::sample::Index>(),
        kind in 0..3u8,
    ) {
        let frame = Frame { first: flags[0], last: flags[1], seq: flags[2], payload: &payload };
        let clean = bits_of(&frame);
        let i = at.index(clean.len());
        let mut damaged = clean.clone();
        match kind {
            0 => damaged[i] = !damaged[i],
            1 => {
                damaged.remove(i);
            }
            _ => damaged.insert(i, clean[i]),
        }
        let mut decoder = FrameDecoder::new();
        let alone = accepted(&mut decoder, &damaged);
        match kind {
            // CRC-32C catches every single-bit error; a flipped LEN only
            // changes where the frame seems to end.
            0 => prop_assert!(alone.is_empty(), "flip of bit {} accepted", i),
            // One bit short: the frame can never complete.
            1 => prop_assert!(alone.is_empty(), "drop of bit {} accepted", i),
            // A copy inside the frame's final run of equal bits leaves the
            // frame itself intact (and one bit over); anything else fails.
            _ => {
                let harmless = clean[i..].iter().all(|&b| b == clean[i]);
                if harmless {
                    prop_assert_eq!(alone, vec![owned(&frame)]);
                } else {
                    prop_assert!(alone.is_empty(), "duplicate of bit {} accepted", i);
                }
            }
        }
        // The sender's retry, straight after the damage (no gap reset): any
        // frame accepted from the mixture must be the frame itself.
        for got in accepted(&mut decoder, &clean) {
            prop_assert_eq!(got, owned(&frame));
        }
    }
}

#[test]
fn long_texts_in_many_scripts_arrive_intact() {
    let samples = [
        "a".repeat(5000),
        "é".repeat(2600),
        "日本語のテキスト".repeat(300),
        "😀🎉👍🏽👨‍👩‍👧".repeat(150),
        "Здравствуй, мир! مرحبا بالعالم नमस्ते ".repeat(60),
        "e\u{301}\u{302}\u{303}".repeat(700),
    ];
    for s in &samples {
        let mut want = s.clone().into_bytes();
        want.push(b'\n');
        assert_eq!(transfer::<300>(s), want);
        assert_eq!(transfer::<16384>(s), want);
    }
}

#[test]
fn the_empty_message_is_one_empty_frame_and_a_newline() {
    assert_eq!(frames_of(""), [("", true)]);
    assert_eq!(transfer::<300>(""), b"\n");
}

#[test]
fn every_reply_is_a_plain_or_marked_acknowledgement() {
    // The lossless channel above relies on exactly one reply per signal;
    // this pins the reply of the last bit: Usr2, "frame accepted".
    let now = Instant::ZERO;
    let mut tx = Sender::new(Default::default(), now);
    let mut rx: Receiver<4> = Receiver::new(Default::default());
    tx.load("x", true).unwrap();
    let mut last_reply = None;
    while let Poll::Send(s) = tx.poll(now) {
        rx.on_signal(CLIENT, s, now);
        while let Some(out) = rx.poll(now) {
            if let Output::Send { signal, .. } = out {
                last_reply = Some(signal);
                tx.on_reply(signal, now);
            }
        }
    }
    assert_eq!(last_reply, Some(Signal::Usr2));
    assert_eq!(tx.poll(now), Poll::Done);
}
