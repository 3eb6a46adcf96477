//! Where the message comes from: the command line or stdin, cut into
//! whole-character payloads by a [`Chunker`].

use minitalk_protocol::chunk::{BadUtf8, Chunker, Source};
use minitalk_protocol::Duration;
use minitalk_sys::{self as sys, STDIN};

/// The stdin read-ahead: a message up to this size is checked whole before
/// its first bit is sent.
pub(crate) const READ_AHEAD: usize = 64 * 1024;

/// Once sending, how long to wait for more input before a frame goes out
/// with what there is (perhaps nothing): well within the server's patience.
const INPUT_PATIENCE: Duration = Duration::from_millis(500);

/// Where the message comes from: the command line or stdin, cut into
/// payloads by a [`Chunker`] (the command line too: one way to cut).
pub(crate) struct Input {
    /// The message from the command line, if any (checked whole in `main`).
    pub(crate) arg: Option<&'static [u8]>,
    /// What the chunker has not read of it yet.
    pub(crate) unread: Option<&'static [u8]>,
    pub(crate) stdin: Chunker<READ_AHEAD>,
}

/// What the [`Chunker`] reads: the rest of the command line's message, or
/// (`None`) standard input.
struct Reader<'a>(&'a mut Option<&'static [u8]>);

impl Source for Reader<'_> {
    /// Once part of the message is sent (`hurry`), a read of stdin waits at
    /// most [`INPUT_PATIENCE`]: a slow writer must not leave the server
    /// without a signal for longer than it waits for a silent client.
    fn read(&mut self, buf: &mut [u8], hurry: bool) -> Option<usize> {
        if let Some(rest) = self.0 {
            let n = rest.len().min(buf.len());
            let (now, later) = rest.split_at(n);
            buf[..n].copy_from_slice(now);
            *rest = later;
            return Some(n);
        }
        if hurry && !sys::readable(STDIN, INPUT_PATIENCE) {
            return None;
        }
        Some(sys::read(STDIN, buf).unwrap_or(0))
    }
}

impl Input {
    /// The next frame's payload and whether it ends the message.
    pub(crate) fn next(&mut self) -> Result<(&str, bool), BadUtf8> {
        self.stdin.next(&mut Reader(&mut self.unread))
    }

    /// Reads stdin ahead and checks it, before anything is sent.
    pub(crate) fn fill(&mut self) -> Result<(), BadUtf8> {
        self.stdin.fill(&mut Reader(&mut self.unread))
    }

    /// The message's size, when known before it is sent.
    pub(crate) fn total(&self) -> Option<u64> {
        match self.arg {
            Some(a) => Some(a.len() as u64),
            // A file's size is known before it is read to the end.
            None => self.stdin.total().or_else(|| sys::file_size(STDIN)),
        }
    }
}
