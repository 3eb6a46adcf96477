//! `client --classic[=LIST]`: the message on the classic 42 wire, for a
//! learner's server (cargo feature `classic`).
//!
//! A thin loop around [`ClassicSender`]: the same PID checks, input, signal
//! mask and waits as v1 (done in `main` before this runs); each bit goes out
//! with `kill`, each reply is waited for with `sigtimedwait`, and only
//! signals whose `si_pid` is the server's count.
//!
//! The message goes out in parts: the length header (`len32`, `len64`) as
//! its own bytes, then the text (all of it from the command line; from
//! stdin, the [`Chunker`](minitalk_protocol::chunk::Chunker)'s payloads as
//! they come), the NUL with the last part. Each part's sender resumes what
//! the previous one learnt of the server ([`ClassicSender::resume`]), so the
//! server is probed once. A length header needs the length before its first
//! bit: from stdin it is known when stdin is a regular file or at most
//! [`READ_AHEAD`](crate::READ_AHEAD) bytes long; otherwise, exit 2, nothing sent.
//!
//! Nothing here can know what the server printed: the classic wire has no
//! checksum and no reply that says what arrived.

use minitalk_protocol::chunk::BadUtf8;
use minitalk_protocol::classic::{
    BitOrder, ClassicPoll, ClassicSender, ClassicSenderConfig, Convention, End, Header, Learnt,
    Pacing,
};
use minitalk_protocol::Duration;
use minitalk_sys::{self as sys, Line, SendError, SigSet, STDERR};

use crate::{Input, Options, Progress, Stdin, STATS};

/// Figures for `--stats` and `--progress`.
#[derive(Default)]
struct Count {
    /// Message bytes whose bits were all sent (the header not included).
    bytes: u64,
    signals: u64,
    replies: u64,
    acknowledged: bool,
}

/// Why a transfer stopped early: the exit status, its message written.
struct Stop(i32);

/// Sends the message of `input` to `opts.pid` on the classic wire of
/// `convention`; returns the exit status. `usr` is blocked, both signals
/// have handlers (so that the server sees them caught), and every v1 check
/// of the PID and of the input has passed.
pub(crate) fn send(
    opts: &Options,
    convention: Convention,
    mut input: Input,
    usr: &SigSet,
    fail: &dyn Fn(i32, &mut Line) -> i32,
    bad_utf8: &dyn Fn(u64, bool) -> i32,
) -> i32 {
    let total = input.total();
    // The length header, as bytes in the data's bit order.
    let mut header = [0u8; 8];
    let header: &[u8] = match (convention.header, total) {
        (Header::None, _) => &[],
        (_, None) => {
            return fail(2, Line::new().str("client: --classic with len32 or len64 needs the message's length before its first bit: give the message as an argument, or redirect stdin from a file, or keep it under 64 KiB; nothing was sent"));
        }
        (Header::Len32, Some(n)) => match u32::try_from(n) {
            Ok(n) => {
                header[..4].copy_from_slice(&match convention.order {
                    BitOrder::Msb => n.to_be_bytes(),
                    BitOrder::Lsb => n.to_le_bytes(),
                });
                &header[..4]
            }
            Err(_) => {
                return fail(2, Line::new().str("client: the message is too long for a 32-bit length (len32); nothing was sent"));
            }
        },
        (Header::Len64, Some(n)) => {
            header = match convention.order {
                BitOrder::Msb => n.to_be_bytes(),
                BitOrder::Lsb => n.to_le_bytes(),
            };
            &header
        }
    };
    let started = sys::now();
    let mut run = Run {
        opts,
        usr,
        config: ClassicSenderConfig {
            pacing: match opts.pace {
                Some(pace) => Pacing::Fixed(pace),
                None => ClassicSenderConfig::default().pacing,
            },
            give_up: opts.timeout,
        },
        learnt: None,
        now: started,
        count: Count::default(),
        bar: Progress::new(opts.progress, total, started),
    };
    let result = run.transfer(&mut input, header, total, convention, fail, bad_utf8);
    run.bar.clear();
    let code = match result {
        Ok(()) => 0,
        Err(Stop(code)) => code,
    };
    if STATS && opts.stats && !opts.quiet {
        let c = &run.count;
        let elapsed = run.now - started;
        let mut l = Line::new();
        l.str("client: ")
            .u64(c.bytes)
            .str(" bytes, ")
            .u64(c.signals)
            .str(" signals, ")
            .u64(c.replies)
            .str(" replies, ");
        match run.config.pacing {
            Pacing::Fixed(pace) if !c.acknowledged => {
                l.str("paced at ").u64(pace.as_micros() as u64).str(" us, ")
            }
            Pacing::Auto { pace, .. } if !c.acknowledged => l
                .str("not acknowledged: paced at ")
                .u64(pace.as_micros() as u64)
                .str(" us, "),
            _ => l.str("every bit acknowledged, "),
        };
        l.ms(elapsed.as_millis() as u64)
            .str(", ")
            .rate(sys::out::bits_per_sec(c.bytes, elapsed))
            .println(STDERR);
    }
    code
}

/// The state of one transfer, across its parts.
struct Run<'o> {
    opts: &'o Options,
    usr: &'o SigSet,
    config: ClassicSenderConfig,
    /// What the previous part learnt of the server.
    learnt: Option<Learnt>,
    /// The clock, read after each wait.
    now: Duration,
    count: Count,
    bar: Progress,
}

impl Run<'_> {
    /// The header, then the text in parts, the NUL (if any) with the last.
    fn transfer(
        &mut self,
        input: &mut Input,
        header: &[u8],
        total: Option<u64>,
        convention: Convention,
        fail: &dyn Fn(i32, &mut Line) -> i32,
        bad_utf8: &dyn Fn(u64, bool) -> i32,
    ) -> Result<(), Stop> {
        let part = Convention {
            header: Header::None,
            end: End::None,
            ..convention
        };
        let last_part = Convention {
            header: Header::None,
            ..convention
        };
        self.part(header, part, false, fail)?;
        if let Some(arg) = input.arg.take() {
            return self.part(arg, last_part, true, fail);
        }
        loop {
            self.bar.update(self.count.bytes, self.now);
            let next = input.stdin.next(&mut Stdin);
            // Reading stdin may have waited.
            self.now = sys::now();
            let (payload, last) = match next {
                Ok(p) => p,
                Err(BadUtf8(at)) => {
                    self.bar.clear();
                    return Err(Stop(bad_utf8(at, self.count.signals > 0)));
                }
            };
            // A file that grows or shrinks while it is read: the length
            // sent first would be wrong.
            let read = self.count.bytes + payload.len() as u64;
            if !header.is_empty() && total.is_some_and(|t| read > t || (last && read != t)) {
                self.bar.clear();
                return Err(Stop(fail(
                    2,
                    Line::new().str(
                        "client: stdin changed size while it was read, so the length sent first is wrong; stopped",
                    ),
                )));
            }
            let convention = if last { last_part } else { part };
            self.part(payload.as_bytes(), convention, true, fail)?;
            if last {
                return Ok(());
            }
        }
    }

    /// Sends one part of the message (`bytes` on the wire of `convention`);
    /// `text`: they count as the message's bytes (the header does not).
    fn part(
        &mut self,
        bytes: &[u8],
        convention: Convention,
        text: bool,
        fail: &dyn Fn(i32, &mut Line) -> i32,
    ) -> Result<(), Stop> {
        let pid = self.opts.pid;
        let tx = match self.learnt {
            None => ClassicSender::new(self.config, convention, bytes),
            Some(learnt) => ClassicSender::resume(self.config, convention, bytes, learnt),
        };
        // Without a header in the convention, every length fits.
        let Some(mut tx) = tx else { return Ok(()) };
        let counted = self.count.bytes;
        loop {
            match tx.poll(self.now) {
                ClassicPoll::Send(signal) => {
                    if let Err(e) = sys::send(pid, signal) {
                        let why = match e {
                            SendError::NotPermitted => " belongs to another user: not permitted",
                            SendError::NoProcess | SendError::BadPid => " has exited",
                        };
                        self.bar.clear();
                        return Err(Stop(fail(
                            1,
                            Line::new()
                                .str("client: delivery failed: the server (PID ")
                                .u64(pid as u64)
                                .str(")")
                                .str(why),
                        )));
                    }
                    self.count.signals += 1;
                    if text {
                        let whole = (tx.sent() / 8).min(bytes.len() as u64);
                        self.count.bytes = counted + whole;
                    }
                }
                ClassicPoll::Wait { until } => {
                    self.bar.update(self.count.bytes, self.now);
                    let reply = self.usr.wait(until.saturating_sub(self.now));
                    self.now = sys::now();
                    if let Some((signo, from)) = reply {
                        if from == pid {
                            if let Some(signal) = sys::from_signo(signo) {
                                self.count.replies += 1;
                                tx.on_reply(signal, self.now);
                            }
                        }
                        // Anything else is a stray or a forgery: it does not count.
                    }
                }
                ClassicPoll::Done => {
                    if text {
                        self.count.bytes = counted + bytes.len() as u64;
                    }
                    self.count.acknowledged = tx.acknowledged();
                    self.learnt = Some(tx.learnt());
                    return Ok(());
                }
                ClassicPoll::Failed(failure) => {
                    self.bar.clear();
                    let mut l = Line::new();
                    l.str("client: delivery failed: ");
                    if !sys::alive(pid) {
                        l.str("the server (PID ")
                            .u64(pid as u64)
                            .str(") has exited");
                    } else {
                        l.str(failure.as_str())
                            .str(" (PID ")
                            .u64(pid as u64)
                            .str(") for ")
                            .ms(self.opts.timeout.as_millis() as u64)
                            .str(" after it acknowledged every bit before; try a longer --timeout");
                    }
                    return Err(Stop(fail(1, &mut l)));
                }
            }
        }
    }
}
