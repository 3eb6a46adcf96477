//! The output arbiter: one [`LineBuffer`] per slot, and the rule that only
//! one message streams at a time, the others held and written after it in
//! the order they ended.

use super::verdict::VerdictKind;
use crate::{Effects, LineBuffer, Pid};

/// A slot's output, in the arbiter: apart from the slot, so that resetting
/// a slot does not copy a buffer-sized constant. One struct per slot, not
/// an array per field: each method indexes once (less code).
#[derive(Clone, Debug)]
struct SlotOutput<const B: usize> {
    buf: LineBuffer<B>,
    /// Whose message the buffer holds.
    pid: Pid,
    /// A finished message held in the buffer, written after the streaming
    /// one: its turn.
    held: Option<u64>,
    /// Bytes of the current message dropped.
    dropped: u64,
}

impl<const B: usize> SlotOutput<B> {
    /// Writes what the buffer holds.
    fn write(&mut self, fx: &mut impl Effects) {
        fx.write(self.pid, self.buf.take());
    }
}

/// The slots' outputs and who may write.
#[derive(Clone, Debug)]
pub(super) struct Arbiter<const N: usize, const B: usize> {
    /// Each slot's, by index.
    outs: [SlotOutput<B>; N],
    /// The slot whose message is being streamed.
    streamer: Option<usize>,
    /// Orders held messages.
    seq: u64,
}

impl<const N: usize, const B: usize> Arbiter<N, B> {
    pub(super) fn new() -> Self {
        Arbiter {
            outs: [const {
                SlotOutput {
                    buf: LineBuffer::new(),
                    pid: 0,
                    held: None,
                    dropped: 0,
                }
            }; N],
            streamer: None,
            seq: 0,
        }
    }

    /// Slot `i` starts with process `pid`.
    pub(super) fn open(&mut self, i: usize, pid: Pid) {
        let out = &mut self.outs[i];
        out.buf.clear();
        out.pid = pid;
        out.held = None;
        out.dropped = 0;
    }

    /// Whether slot `i` may write before its message ends.
    pub(super) fn may_stream(&self, i: usize) -> bool {
        self.streamer.is_none_or(|s| s == i)
    }

    /// Whether slot `i` holds a finished message.
    pub(super) fn is_held(&self, i: usize) -> bool {
        self.outs[i].held.is_some()
    }

    /// Whether slot `i`'s buffer is full.
    pub(super) fn is_full(&self, i: usize) -> bool {
        self.outs[i].buf.is_full()
    }

    /// Stores a message byte of slot `i`, streaming its
    /// buffer out first if it is full and the output is free; a byte that
    /// finds no room is dropped.
    pub(super) fn store(&mut self, i: usize, byte: u8, fx: &mut impl Effects) {
        let may_stream = self.may_stream(i);
        let out = &mut self.outs[i];
        let held = out.held.is_some();
        if out.buf.is_full() && !held && may_stream {
            out.write(fx);
            self.streamer = Some(i);
        }
        if held || !out.buf.push(byte) {
            out.dropped = out.dropped.saturating_add(1);
        }
    }

    /// Slot `i`'s message ends: written with its `'\n'` if `any` (bytes
    /// came, or it ended by its NUL or length) unless `own` and it ends with
    /// one (the `lead` wire's), or held if another message streams. True if
    /// it was the streaming one: the output is then free
    /// ([`release`](Self::release)).
    pub(super) fn end(&mut self, i: usize, any: bool, own: bool, fx: &mut impl Effects) -> bool {
        let streaming = self.streamer == Some(i);
        let out = &mut self.outs[i];
        // A held buffer still holds an earlier message: this one's bytes
        // were all dropped, and are reported.
        if any && out.held.is_none() {
            // Room for the '\n' is always kept (`LineBuffer`).
            if !(own && out.buf.last() == Some(b'\n')) {
                out.buf.end_line();
            }
            if self.streamer.is_some() && !streaming {
                // Another message streams: this one waits its turn.
                self.seq += 1;
                out.held = Some(self.seq);
            } else {
                out.write(fx);
            }
        }
        if streaming {
            self.streamer = None;
        }
        streaming
    }

    /// The verdict on slot `i`'s dropped bytes, if any (counted again from 0).
    pub(super) fn take_dropped(&mut self, i: usize) -> Option<VerdictKind> {
        let bytes = core::mem::take(&mut self.outs[i].dropped);
        (bytes > 0).then_some(VerdictKind::Dropped { bytes })
    }

    /// The output is free: the slot whose held message is next.
    pub(super) fn next_held(&self) -> Option<usize> {
        // The smallest turn (turns are never equal).
        let mut next = None;
        let mut first = u64::MAX;
        for (i, out) in self.outs.iter().enumerate() {
            if let Some(turn) = out.held.filter(|&turn| turn < first) {
                (next, first) = (Some(i), turn);
            }
        }
        next
    }

    /// Writes slot `i`'s held message.
    pub(super) fn write_held(&mut self, i: usize, fx: &mut impl Effects) {
        let out = &mut self.outs[i];
        out.write(fx);
        out.held = None;
    }

    /// Slot `i`, held back by a full buffer, streams: its buffer goes out.
    pub(super) fn stream(&mut self, i: usize, fx: &mut impl Effects) {
        self.outs[i].write(fx);
        self.streamer = Some(i);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::{Catches, Signal};
    use std::vec::Vec;

    /// What was written, and for whom.
    #[derive(Default)]
    struct Written(Vec<(Pid, Vec<u8>)>);

    impl Effects for Written {
        fn send(&mut self, _: Pid, _: Signal) -> bool {
            true
        }
        fn write(&mut self, from: Pid, bytes: &[u8]) {
            self.0.push((from, bytes.to_vec()));
        }
        fn alive(&mut self, _: Pid) -> Option<u64> {
            Some(1)
        }
        fn catches(&mut self, _: Pid) -> Catches {
            Catches::BOTH
        }
    }

    #[test]
    fn held_messages_are_written_in_the_order_they_ended() {
        let mut out: Arbiter<4, 4> = Arbiter::new();
        let mut fx = Written::default();
        for (i, pid) in [10, 11, 12, 13].into_iter().enumerate() {
            out.open(i, pid);
        }
        // Slot 0 outgrows its buffer (3 bytes and the newline's place): it
        // streams, and holds the output.
        for b in *b"abcd" {
            out.store(0, b, &mut fx);
        }
        // Slots 3, 1 and 2 end, in that order, while it streams: held.
        for i in [3, 1, 2] {
            out.store(i, b'0' + i as u8, &mut fx);
            assert!(!out.end(i, true, false, &mut fx));
            assert!(out.is_held(i));
        }
        assert!(out.end(0, true, false, &mut fx), "the streaming one");
        while let Some(i) = out.next_held() {
            out.write_held(i, &mut fx);
        }
        let written: Vec<(Pid, &[u8])> = fx.0.iter().map(|(p, b)| (*p, &b[..])).collect();
        assert_eq!(
            written,
            [
                (10, &b"abc"[..]),
                (10, b"d\n"),
                (13, b"3\n"),
                (11, b"1\n"),
                (12, b"2\n"),
            ]
        );
    }
}
