//! Whole messages out of verified frames: all or nothing, within a fixed buffer.
//!
//! A message that fits in `N - 1` bytes is held until its last frame and then
//! handed out at once with its newline (one piece: one `write(2)`), so a sender that dies part way
//! leaves no trace. A longer message cannot be held: when the buffer is full
//! it is handed out, and from then on every verified frame goes out as it
//! arrives ("streaming"); if such a message is abandoned, a newline ends the
//! partial line and [`Aborted::Truncated`] says so.
//!
//! Invariants: every byte handed out came from a verified frame, in order,
//! once; nothing here panics or allocates.

/// What [`MessageBuffer::abort`] did with a message in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aborted {
    /// No message was in progress.
    Nothing,
    /// The message was held whole and has been thrown away: nothing of it
    /// was handed out.
    Discarded {
        /// Bytes thrown away.
        bytes: u64,
    },
    /// The message was streaming: `bytes` of it were handed out, and a
    /// newline now ends the partial line.
    Truncated {
        /// Bytes handed out before the end.
        bytes: u64,
    },
}

/// A line of output being held: up to `N - 1` bytes of a message, and the
/// place of its newline, so that a message and its `'\n'` go out in one
/// piece (one `write(2)`; on a pipe, a separate one-byte write takes a
/// page). The one rule of both wires' output: [`MessageBuffer`] (v1) holds
/// a message in one, the classic receiver one per sending process.
///
/// Its storage is not written when it is made, only as bytes come: a server
/// that holds 64 KiB touches (and keeps resident) only what its messages
/// used, and building it in place costs no 64 KiB of zeroes.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::LineBuffer;
///
/// let mut line: LineBuffer<4> = LineBuffer::new();
/// assert!(line.extend(b"ab") && line.push(b'c'));
/// assert!(line.is_full() && !line.push(b'd'), "the newline's place stays free");
/// line.end_line();
/// assert_eq!(line.take(), b"abc\n");
/// assert!(line.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct LineBuffer<const N: usize> {
    /// The bytes written so far: the line is its first `len`; those past
    /// it are left over from a line already taken, and written over.
    buf: heapless::Vec<u8, N>,
    len: usize,
}

impl<const N: usize> LineBuffer<N> {
    const ROOM_FOR_NEWLINE: () = assert!(N >= 1, "a line needs the newline's place");
    /// Message bytes it holds (one byte is kept for the `'\n'`).
    pub const CAP: usize = N - 1;

    /// An empty line.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::ROOM_FOR_NEWLINE;
        LineBuffer {
            buf: heapless::Vec::new(),
            len: 0,
        }
    }

    /// Bytes held (the newline included once [`end_line`](Self::end_line)).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether no more message bytes fit.
    pub const fn is_full(&self) -> bool {
        self.len >= Self::CAP
    }

    /// Adds a byte; false (and nothing added) if it is full.
    pub fn push(&mut self, byte: u8) -> bool {
        self.extend(&[byte])
    }

    /// Adds `bytes` if they all fit with the newline's place kept free;
    /// false (and nothing added) if not.
    pub fn extend(&mut self, bytes: &[u8]) -> bool {
        // Strictly less: the newline's place stays free.
        let end = self.len + bytes.len();
        if end >= N {
            return false;
        }
        self.buf.truncate(self.len);
        let added = self.buf.extend_from_slice(bytes).is_ok();
        self.len = self.buf.len();
        added
    }

    /// The last byte held, if any.
    pub fn last(&self) -> Option<u8> {
        self.len
            .checked_sub(1)
            .and_then(|k| self.buf.get(k))
            .copied()
    }

    /// Ends the line with its `'\n'` (in the place kept for it).
    // Not inlined into its callers (both wires' buffers): 16 B less.
    #[inline(never)]
    pub fn end_line(&mut self) {
        self.buf.truncate(self.len);
        if self.buf.push(b'\n').is_ok() {
            self.len += 1;
        }
    }

    /// What is held, handed out in one piece; the line is empty after.
    pub fn take(&mut self) -> &[u8] {
        let n = core::mem::take(&mut self.len);
        &self.buf[..n]
    }

    /// Forgets what is held.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> Default for LineBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Holds one message of up to `N - 1` bytes, and its newline.
///
/// # Examples
///
/// ```
/// use minitalk_protocol::{Aborted, MessageBuffer};
///
/// let mut out = Vec::new();
/// let mut buf: MessageBuffer<16> = MessageBuffer::new();
/// buf.push(b"hello, ", true, false, |b| out.extend_from_slice(b));
/// assert!(out.is_empty(), "held until complete");
/// buf.push(b"world", false, true, |b| out.extend_from_slice(b));
/// assert_eq!(out, b"hello, world\n");
///
/// out.clear();
/// buf.push(b"lost", true, false, |b| out.extend_from_slice(b));
/// assert_eq!(buf.abort(|b| out.extend_from_slice(b)), Aborted::Discarded { bytes: 4 });
/// assert!(out.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct MessageBuffer<const N: usize> {
    /// The message held, while it fits.
    line: LineBuffer<N>,
    /// Bytes handed out of the current message (streaming once non-zero).
    streamed: u64,
    in_message: bool,
}

impl<const N: usize> MessageBuffer<N> {
    /// An empty buffer.
    // Not inlined: built in place, its storage not written (a 64 KiB
    // buffer built on the caller's stack and copied touched it all).
    #[inline(never)]
    pub const fn new() -> Self {
        MessageBuffer {
            line: LineBuffer::new(),
            streamed: 0,
            in_message: false,
        }
    }

    /// Whether a message has started and not ended.
    pub fn in_message(&self) -> bool {
        self.in_message
    }

    /// Bytes of the current message so far.
    pub fn message_len(&self) -> u64 {
        self.streamed + self.line.len() as u64
    }

    /// Adds a verified payload. `out` receives what may be written now: the
    /// whole message and its newline, in one piece, when `last` comes; or,
    /// once the message outgrew the buffer, the held bytes and then each
    /// frame as it comes, the last one with the newline.
    ///
    /// A message is held whole while it fits in `N - 1` bytes: the buffer
    /// keeps one byte for the newline, so that each message goes out in one
    /// `write(2)` (on a pipe, a separate one-byte write takes a page).
    pub fn push(&mut self, payload: &[u8], first: bool, last: bool, mut out: impl FnMut(&[u8])) {
        if first {
            self.line.clear();
            self.streamed = 0;
        }
        self.in_message = true;
        if self.streamed == 0 && self.line.extend(payload) {
            if last {
                self.line.end_line();
                out(self.line.take());
            }
        } else {
            if !self.line.is_empty() {
                let held = self.line.take();
                self.streamed += held.len() as u64;
                out(held);
            }
            self.streamed += payload.len() as u64;
            if !last {
                out(payload);
            } else if self.line.extend(payload) {
                self.line.end_line();
                out(self.line.take());
            } else {
                out(payload);
                out(b"\n");
            }
        }
        if last {
            self.line.clear();
            self.streamed = 0;
            self.in_message = false;
        }
    }

    /// Ends the message in progress without its last frame.
    // Not inlined: the v1 server aborts from two places (an abandoned
    // session, a stop); once is 24 B less in the static server.
    #[inline(never)]
    pub fn abort(&mut self, mut out: impl FnMut(&[u8])) -> Aborted {
        let result = match (self.in_message, self.streamed) {
            (false, _) => Aborted::Nothing,
            (true, 0) => Aborted::Discarded {
                bytes: self.line.len() as u64,
            },
            (true, bytes) => {
                out(b"\n");
                Aborted::Truncated { bytes }
            }
        };
        self.line.clear();
        self.streamed = 0;
        self.in_message = false;
        result
    }
}

impl<const N: usize> Default for MessageBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn collect<const N: usize>(
        buf: &mut MessageBuffer<N>,
        frames: &[(&[u8], bool, bool)],
    ) -> Vec<Vec<u8>> {
        let mut writes = Vec::new();
        for &(p, first, last) in frames {
            buf.push(p, first, last, |b| writes.push(b.to_vec()));
        }
        writes
    }

    #[test]
    fn a_line_keeps_the_newlines_place_and_hands_out_one_piece() {
        let mut line: LineBuffer<3> = LineBuffer::new();
        assert!(
            !line.extend(b"abc"),
            "three bytes leave no place for the newline"
        );
        assert!(line.is_empty(), "nothing added on refusal");
        assert!(line.extend(b"ab"));
        assert!(line.is_full() && !line.push(b'c'));
        line.end_line();
        assert_eq!(line.len(), 3);
        line.end_line(); // no room: nothing more
        assert_eq!(line.take(), b"ab\n");
        assert_eq!(line.take(), b"");
        assert!(line.push(b'x'));
        line.clear();
        assert!(line.is_empty());
    }

    #[test]
    fn a_message_that_fits_comes_out_once_whole() {
        let mut buf: MessageBuffer<8> = MessageBuffer::new();
        let w = collect(
            &mut buf,
            &[
                (b"ab", true, false),
                (b"cd", false, false),
                (b"ef", false, true),
            ],
        );
        assert_eq!(w, [b"abcdef\n".to_vec()], "one write, newline included");
        assert!(!buf.in_message());
    }

    #[test]
    fn the_last_frame_of_a_streamed_message_carries_the_newline() {
        let mut buf: MessageBuffer<4> = MessageBuffer::new();
        let w = collect(
            &mut buf,
            &[
                (b"abc", true, false),
                (b"de", false, false),
                (b"f", false, true),
            ],
        );
        assert_eq!(w.last().map(Vec::as_slice), Some(&b"f\n"[..]));
        // A message that outgrows the buffer with its last frame.
        let w = collect(&mut buf, &[(b"ab", true, false), (b"cd", false, true)]);
        assert_eq!(w.concat(), b"abcd\n");
        assert_eq!(w.last().map(Vec::as_slice), Some(&b"cd\n"[..]));
    }

    #[test]
    fn exactly_full_is_still_held() {
        // Four bytes and the newline's place.
        let mut buf: MessageBuffer<5> = MessageBuffer::new();
        let w = collect(&mut buf, &[(b"ab", true, false), (b"cd", false, false)]);
        assert!(w.is_empty());
        assert_eq!(buf.message_len(), 4);
    }

    #[test]
    fn a_long_message_streams_once_the_buffer_is_full() {
        let mut buf: MessageBuffer<4> = MessageBuffer::new();
        let w = collect(
            &mut buf,
            &[
                (b"abc", true, false),
                (b"de", false, false),
                (b"f", false, true),
            ],
        );
        assert_eq!(w.concat(), b"abcdef\n");
        assert_eq!(w[0], b"abc");
    }

    #[test]
    fn abort_discards_a_held_message_and_truncates_a_streamed_one() {
        let mut buf: MessageBuffer<4> = MessageBuffer::new();
        let mut w = collect(&mut buf, &[(b"ab", true, false)]);
        assert_eq!(
            buf.abort(|b| w.push(b.to_vec())),
            Aborted::Discarded { bytes: 2 }
        );
        assert!(w.is_empty());

        let mut w = collect(&mut buf, &[(b"abc", true, false), (b"de", false, false)]);
        assert_eq!(
            buf.abort(|b| w.push(b.to_vec())),
            Aborted::Truncated { bytes: 5 }
        );
        assert_eq!(w.concat(), b"abcde\n");
        assert_eq!(buf.abort(|_| panic!()), Aborted::Nothing);
    }

    #[test]
    fn an_empty_message_is_a_newline() {
        let mut buf: MessageBuffer<4> = MessageBuffer::new();
        assert_eq!(collect(&mut buf, &[(b"", true, true)]).concat(), b"\n");
    }
}
