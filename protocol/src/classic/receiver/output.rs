//! The output arbiter: one [`LineBuffer`] per slot, and the rule that only
//! one message streams at a time, the others held and written after it in
//! the order they ended.

use super::verdict::VerdictKind;
use crate::{Effects, LineBuffer, Pid};

/// The slots' buffers and who may write.
#[derive(Clone, Debug)]
pub(super) struct Arbiter<const N: usize, const B: usize> {
    /// The slots' buffers, apart from the slots so that resetting a slot
    /// does not copy a buffer-sized constant.
    bufs: [LineBuffer<B>; N],
    /// Whose message each buffer holds.
    pids: [Pid; N],
    /// A finished message held in the slot's buffer, written after the
    /// streaming one: its turn.
    held: [Option<u64>; N],
    /// Bytes of the slot's current message dropped.
    dropped: [u64; N],
    /// The slot whose message is being streamed.
    streamer: Option<usize>,
    /// Orders held messages.
    seq: u64,
}

impl<const N: usize, const B: usize> Arbiter<N, B> {
    pub(super) fn new() -> Self {
        Arbiter {
            bufs: [const { LineBuffer::new() }; N],
            pids: [0; N],
            held: [None; N],
            dropped: [0; N],
            streamer: None,
            seq: 0,
        }
    }

    /// Slot `i` starts with process `pid`.
    pub(super) fn open(&mut self, i: usize, pid: Pid) {
        self.bufs[i].clear();
        self.pids[i] = pid;
        self.held[i] = None;
        self.dropped[i] = 0;
    }

    /// Whether slot `i` may write before its message ends.
    pub(super) fn may_stream(&self, i: usize) -> bool {
        self.streamer.is_none_or(|s| s == i)
    }

    /// Whether slot `i` holds a finished message.
    pub(super) fn is_held(&self, i: usize) -> bool {
        self.held[i].is_some()
    }

    /// Whether slot `i`'s buffer is full.
    pub(super) fn is_full(&self, i: usize) -> bool {
        self.bufs[i].is_full()
    }

    /// Stores a message byte of slot `i`, streaming its
    /// buffer out first if it is full and the output is free; a byte that
    /// finds no room is dropped.
    pub(super) fn store(&mut self, i: usize, byte: u8, fx: &mut impl Effects) {
        let may_stream = self.may_stream(i);
        let buf = &mut self.bufs[i];
        let held = self.held[i].is_some();
        if buf.is_full() && !held && may_stream {
            fx.write(self.pids[i], buf.take());
            self.streamer = Some(i);
        }
        if held || !buf.push(byte) {
            self.dropped[i] = self.dropped[i].saturating_add(1);
        }
    }

    /// Slot `i`'s message ends: written with its `'\n'` if `any` (bytes
    /// came, or it ended by its NUL or length) unless `own` and it ends with
    /// one (the `lead` wire's), or held if another message streams. True if
    /// it was the streaming one: the output is then free
    /// ([`release`](Self::release)).
    pub(super) fn end(&mut self, i: usize, any: bool, own: bool, fx: &mut impl Effects) -> bool {
        let streaming = self.streamer == Some(i);
        // A held buffer still holds an earlier message: this one's bytes
        // were all dropped, and are reported.
        if any && self.held[i].is_none() {
            // Room for the '\n' is always kept (`LineBuffer`).
            if !(own && self.bufs[i].last() == Some(b'\n')) {
                self.bufs[i].end_line();
            }
            if self.streamer.is_some() && !streaming {
                // Another message streams: this one waits its turn.
                self.seq += 1;
                self.held[i] = Some(self.seq);
            } else {
                fx.write(self.pids[i], self.bufs[i].take());
            }
        }
        if streaming {
            self.streamer = None;
        }
        streaming
    }

    /// The verdict on slot `i`'s dropped bytes, if any (counted again from 0).
    pub(super) fn take_dropped(&mut self, i: usize) -> Option<VerdictKind> {
        let bytes = core::mem::take(&mut self.dropped[i]);
        (bytes > 0).then_some(VerdictKind::Dropped { bytes })
    }

    /// The output is free: the slot whose held message is next.
    pub(super) fn next_held(&self) -> Option<usize> {
        (0..N)
            .filter(|&i| self.held[i].is_some())
            .min_by_key(|&i| self.held[i])
    }

    /// Writes slot `i`'s held message.
    pub(super) fn write_held(&mut self, i: usize, fx: &mut impl Effects) {
        fx.write(self.pids[i], self.bufs[i].take());
        self.held[i] = None;
    }

    /// Slot `i`, held back by a full buffer, streams: its buffer goes out.
    pub(super) fn stream(&mut self, i: usize, fx: &mut impl Effects) {
        fx.write(self.pids[i], self.bufs[i].take());
        self.streamer = Some(i);
    }
}
