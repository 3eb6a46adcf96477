//! The `chunk` check: a message through a [`Chunker`] with reads of any
//! sizes, checked against `core::str::from_utf8` of the whole message.

use std::string::String;

use minitalk_protocol::chunk::{BadUtf8, Chunker, Source};
use minitalk_protocol::frame::MAX_PAYLOAD;

/// The read-ahead under test: small, so that short inputs go beyond it.
const AHEAD: usize = 256;

/// Reads of sizes drawn from a seed; in a hurry, now and then nothing.
struct Reads<'a> {
    rest: &'a [u8],
    seed: u64,
}

impl Reads<'_> {
    fn draw(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }
}

impl Source for Reads<'_> {
    fn read(&mut self, buf: &mut [u8], hurry: bool) -> Option<usize> {
        assert!(!buf.is_empty(), "a read into nothing");
        let r = self.draw();
        if hurry && r % 5 == 0 {
            return None;
        }
        let n = self.rest.len().min(buf.len()).min((r % 300) as usize + 1);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Some(n)
    }
}

/// Input: a seed byte for the read sizes, then the message.
pub fn chunk(data: &[u8]) {
    let Some((&seed, message)) = data.split_first() else {
        return;
    };
    let mut src = Reads {
        rest: message,
        seed: u64::from(seed) << 8 | 0x9e,
    };
    let mut chunks = Chunker::<AHEAD>::new();
    let expected = core::str::from_utf8(message).map_err(|e| BadUtf8(e.valid_up_to() as u64));
    let mut sent = String::new();
    let result = chunks.fill(&mut src).and_then(|()| {
        // Every call hands out bytes or reads; a wait for nothing comes
        // at most once in five reads: this bounds the loop.
        for _ in 0..20 * (message.len() + 2) {
            let (text, last) = chunks.next(&mut src)?;
            assert!(text.len() <= MAX_PAYLOAD, "payload of {} bytes", text.len());
            sent.push_str(text);
            if last {
                return Ok(());
            }
        }
        panic!("no end after {} bytes sent", sent.len());
    });
    match expected {
        Ok(text) => {
            assert_eq!(result, Ok(()));
            assert_eq!(sent, text);
            assert_eq!(chunks.total(), Some(message.len() as u64));
        }
        Err(bad) => {
            assert_eq!(result, Err(bad), "the first invalid byte");
            assert!(message.starts_with(sent.as_bytes()));
            assert!(sent.len() as u64 <= bad.0);
            if message.len() < AHEAD {
                assert!(sent.is_empty(), "a short message is checked whole first");
            }
        }
    }
}
