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
        // The smallest turn (turns are never equal), with its slot.
        let outs = self.outs.iter().enumerate();
        let next = outs
            .filter_map(|(i, out)| out.held.map(|turn| (turn, i)))
            .min();
        next.map(|(_, i)| i)
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
