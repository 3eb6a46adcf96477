//! The test vectors of PROTOCOL.md, section 7, in both directions:
//! message → signals through the [`Sender`], signals → message through the
//! [`Receiver`]. The table in PROTOCOL.md is read from the file, so the
//! document cannot drift from the code.

use minitalk_protocol::Instant;

use minitalk_protocol::{Note, Output, Poll, Receiver, Sender, SenderConfig, Signal};

const T: Instant = Instant::ZERO;

/// `(message, messages sent before it by the same client, signals)`.
const VECTORS: [(&str, usize, &str); 4] = [
    ("", 0, "110000010000000011100110000101111101001101011000"),
    (
        "Hi",
        0,
        "1100000100000010010010000110100101011000001111000110100010111000",
    ),
    (
        "é",
        0,
        "1100000100000010110000111010100111001001100000011101111110100100",
    ),
    (
        "Hi",
        1,
        "1110000100000010010010000110100110001111000110010111110000110011",
    ),
];

fn signals(bits: &str) -> Vec<Signal> {
    bits.bytes().map(|b| Signal::from_bit(b == b'1')).collect()
}

/// What `tx` sends for `message`, each bit answered as a receiver that
/// accepts the frame would.
fn send(tx: &mut Sender, message: &str) -> Vec<Signal> {
    tx.load(message, true).unwrap();
    let bits = tx.frame_bits();
    let mut sent = Vec::new();
    loop {
        match tx.poll(T) {
            Poll::Send(s) => {
                sent.push(s);
                let reply = if sent.len() % bits == 0 {
                    Signal::Usr2
                } else {
                    Signal::Usr1
                };
                tx.on_reply(reply, T);
            }
            Poll::Done => return sent,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn message_to_signals() {
    for (message, before, bits) in VECTORS {
        let mut tx = Sender::new(SenderConfig::default(), T);
        for _ in 0..before {
            send(&mut tx, "warm-up");
        }
        assert_eq!(send(&mut tx, message), signals(bits), "{message:?}");
    }
}

#[test]
fn signals_to_message_and_replies() {
    for (message, _, bits) in VECTORS {
        let mut rx: Receiver<4> = Receiver::new(Default::default());
        let mut replies = Vec::new();
        let mut printed = Vec::new();
        for s in signals(bits) {
            rx.on_signal(9, s, T);
            while let Some(out) = rx.poll(T) {
                match out {
                    Output::Send { to: 9, signal } => replies.push(signal),
                    Output::Deliver { payload, last, .. } => {
                        printed.push((String::from_utf8(payload.to_vec()).unwrap(), last))
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(printed, [(message.to_string(), true)], "{message:?}");
        let mut want = vec![Signal::Usr1; bits.len() - 1];
        want.push(Signal::Usr2);
        assert_eq!(replies, want, "{message:?}");
    }
}

/// PROTOCOL.md, section 7: flipping any single bit of a vector never gets
/// it accepted. The server answers the last bit with ACK: a rejection, or,
/// for a flip in LEN that makes the frame longer, "go on" while it waits
/// for more bits; the sender reads both as a rejection.
#[test]
fn a_flipped_bit_is_rejected_or_left_waiting_never_accepted() {
    let (mut rejected, mut waiting) = (0, 0);
    for (message, _, bits) in VECTORS {
        for i in 0..bits.len() {
            let mut damaged = signals(bits);
            damaged[i] = Signal::from_bit(!damaged[i].bit());
            let mut rx: Receiver<4> = Receiver::new(Default::default());
            let mut replies = Vec::new();
            let mut verdict = false;
            for s in damaged {
                rx.on_signal(9, s, T);
                while let Some(out) = rx.poll(T) {
                    match out {
                        Output::Send { to: 9, signal } => replies.push(signal),
                        Output::Deliver { .. } => panic!("{message:?}, bit {i}: delivered"),
                        Output::Note(Note::Rejected { .. }) => verdict = true,
                        _ => {}
                    }
                }
            }
            assert_eq!(replies.len(), bits.len(), "{message:?}, bit {i}");
            assert_eq!(replies.last(), Some(&Signal::Usr1), "{message:?}, bit {i}");
            if verdict {
                rejected += 1;
            } else {
                // Only a longer LEN (bits 8..16) leaves the frame unfinished.
                assert!((8..16).contains(&i), "{message:?}, bit {i}: no verdict");
                waiting += 1;
            }
        }
    }
    // Both outcomes were seen: the test reaches each case it describes.
    assert!(
        rejected > 0 && waiting > 0,
        "{rejected} rejected, {waiting} waiting"
    );
}

#[test]
fn two_frame_vector() {
    let text = "é".repeat(150);
    let mut tx = Sender::new(SenderConfig::default(), T);
    let cut = minitalk_protocol::frame::split_point(text.as_bytes());
    assert_eq!(cut, 254);
    tx.load(&text[..cut], false).unwrap();
    let mut frames = Vec::new();
    let mut bits = Vec::new();
    loop {
        match tx.poll(T) {
            Poll::Send(s) => {
                bits.push(s.bit());
                let last = bits.len() == tx.frame_bits();
                tx.on_reply(if last { Signal::Usr2 } else { Signal::Usr1 }, T);
                if last {
                    frames.push(to_bytes(&bits));
                    bits.clear();
                }
            }
            Poll::NeedPayload => tx.load(&text[cut..], true).unwrap(),
            Poll::Done => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        (frames[0].len(), &frames[0][..2], &frames[0][256..]),
        (260, &[0x81, 0xfe][..], &[0x96, 0x50, 0xfb, 0x7d][..])
    );
    assert_eq!(
        (frames[1].len(), &frames[1][..2], &frames[1][48..]),
        (52, &[0x61, 0x2e][..], &[0x8c, 0x4f, 0xcb, 0x7b][..])
    );
}

fn to_bytes(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8)
        .map(|c| c.iter().fold(0, |b, &x| b << 1 | x as u8))
        .collect()
}

#[test]
fn protocol_md_shows_these_vectors() {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../PROTOCOL.md")).unwrap();
    for (message, _, bits) in VECTORS {
        let hex: Vec<String> = to_bytes(&signals(bits).iter().map(|s| s.bit()).collect::<Vec<_>>())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let row = spec
            .lines()
            .find(|l| l.contains(bits))
            .unwrap_or_else(|| panic!("no row for {message:?}"));
        assert!(
            row.contains(&hex.join(" ")),
            "row for {message:?} lacks {}",
            hex.join(" ")
        );
    }
    for needle in [
        "`81 fe`",
        "`96 50 fb 7d`",
        "`61 2e`",
        "`8c 4f cb 7b`",
        "`0xE3069283`",
    ] {
        assert!(spec.contains(needle), "PROTOCOL.md lacks {needle}");
    }
}
