//! The receiver's unit tests: one scenario each, fed bit by bit.

extern crate std;
use super::recent::RECENT;
use super::*;
use crate::frame::{bit_at, Frame, MAX_FRAME_LEN};
use std::string::String;
use std::vec::Vec;

const T0: Instant = Instant::ZERO;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The point in time `n` ms after [`T0`].
fn at(n: u64) -> Instant {
    T0 + ms(n)
}

/// An owned copy of an [`Output`].
#[derive(Debug, PartialEq)]
enum Out {
    Send(Pid, Signal),
    Deliver(Pid, String, bool, bool),
    Abandoned(Pid, bool),
    Check(Pid),
    Note(Note),
}

/// A delivered payload as text: it must be valid UTF-8.
fn text(payload: &[u8]) -> String {
    String::from_utf8(payload.to_vec()).expect("valid UTF-8")
}

fn drain(rx: &mut Receiver<4>, now: Instant) -> Vec<Out> {
    let mut v = Vec::new();
    while let Some(o) = rx.poll(now) {
        v.push(match o {
            Output::Send { to, signal } => Out::Send(to, signal),
            Output::Deliver {
                from,
                payload,
                first,
                last,
            } => Out::Deliver(from, text(payload), first, last),
            Output::Abandoned { pid, vanished } => Out::Abandoned(pid, vanished),
            Output::CheckAlive(p) => Out::Check(p),
            Output::Note(n) => Out::Note(n),
        });
    }
    v
}

/// The note of a frame from `pid` rejected for `error`.
fn rejected(pid: Pid, error: Error) -> Out {
    Out::Note(Note::Rejected { pid, error })
}

fn frame_bits(first: bool, last: bool, seq: bool, payload: &str) -> Vec<Signal> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = Frame {
        first,
        last,
        seq,
        payload,
    }
    .emit(&mut buf)
    .unwrap();
    (0..n * 8)
        .map(|i| Signal::from_bit(bit_at(&buf[..n], i).unwrap()))
        .collect()
}

/// Feeds a whole frame from `pid` and returns the outputs of its last bit.
fn feed(rx: &mut Receiver<4>, pid: Pid, bits: &[Signal], now: Instant) -> Vec<Out> {
    let (last, rest) = bits.split_last().unwrap();
    for &b in rest {
        rx.on_signal(pid, b, now);
        let out = drain(rx, now);
        assert!(out.contains(&Out::Send(pid, Signal::Usr1)), "{out:?}");
    }
    assert_eq!(rx.on_signal(pid, *last, now), Heard::FrameEnd);
    drain(rx, now)
}

#[test]
fn every_bit_is_acknowledged_and_the_frame_accepted() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let out = feed(&mut rx, 7, &frame_bits(true, true, false, "héllo"), T0);
    assert_eq!(
        out,
        [
            Out::Deliver(7, "héllo".into(), true, true),
            Out::Send(7, Signal::Usr2),
            Out::Note(Note::Finished(7)),
        ]
    );
    assert_eq!(rx.serving(), None);
}

#[test]
fn the_text_of_a_last_frame_survives_the_next_session_opening() {
    // Finishing a message invites the next process, which resets the
    // decoder before the caller takes the text.
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let bits = frame_bits(true, true, false, "bye");
    rx.on_signal(7, bits[0], T0);
    rx.on_signal(8, Signal::Usr1, T0);
    drain(&mut rx, T0);
    let out = feed(&mut rx, 7, &bits[1..], T0);
    assert_eq!(out[0], Out::Deliver(7, "bye".into(), true, true));
    assert!(out.contains(&Out::Note(Note::Serving(8))), "{out:?}");
}

#[test]
fn first_bit_starts_a_session_and_reports_bytes() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let bits = frame_bits(true, true, false, "A");
    let mut out = Vec::new();
    for &b in &bits[..7] {
        assert_eq!(rx.on_signal(3, b, T0), Heard::Bit);
        out.extend(drain(&mut rx, T0));
    }
    assert_eq!(
        rx.on_signal(3, bits[7], T0),
        Heard::Byte {
            value: 0xC1,
            offset: 0
        }
    );
    assert_eq!(out[..2], [Out::Note(Note::Serving(3)), Out::Check(3)]);
    assert_eq!(rx.serving(), Some(3));
}

#[test]
fn a_damaged_frame_is_rejected_and_nothing_delivered() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let mut bits = frame_bits(true, true, false, "abc");
    bits[30] = Signal::from_bit(!bits[30].bit());
    let out = feed(&mut rx, 7, &bits, T0);
    assert_eq!(
        out,
        [rejected(7, Error::BadChecksum), Out::Send(7, Signal::Usr1)]
    );
    assert_eq!(
        rx.serving(),
        Some(7),
        "the session goes on: the sender retries"
    );
}

#[test]
fn a_copy_of_the_last_accepted_frame_is_acknowledged_not_delivered() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let one = frame_bits(true, false, false, "one");
    feed(&mut rx, 7, &one, T0);
    let again = feed(&mut rx, 7, &one, T0);
    assert_eq!(
        again,
        [Out::Note(Note::Duplicate(7)), Out::Send(7, Signal::Usr2)]
    );
    let two = feed(&mut rx, 7, &frame_bits(false, true, true, "two"), T0);
    assert_eq!(two[0], Out::Deliver(7, "two".into(), false, true));
}

/// Drains the outputs at `now`, answering every `CheckAlive` with
/// `alive(pid)`: the identity of the process with that PID, or gone.
fn drain_answering(
    rx: &mut Receiver<4>,
    now: Instant,
    alive: impl Fn(Pid) -> Option<u64>,
) -> Vec<Out> {
    let mut all = Vec::new();
    loop {
        let out = drain(rx, now);
        if out.is_empty() {
            return all;
        }
        for o in &out {
            if let Out::Check(pid) = *o {
                match alive(pid) {
                    Some(id) => rx.peer_alive(pid, id, now),
                    None => rx.peer_gone(pid, now),
                }
            }
        }
        all.extend(out);
    }
}

/// Feeds a whole frame from `pid`, whose process has identity `id`,
/// answering checks; returns the outputs of its last bit.
fn feed_as(rx: &mut Receiver<4>, pid: Pid, id: u64, bits: &[Signal], now: Instant) -> Vec<Out> {
    let (last, rest) = bits.split_last().unwrap();
    for &b in rest {
        rx.on_signal(pid, b, now);
        drain_answering(rx, now, |_| Some(id));
    }
    rx.on_signal(pid, *last, now);
    drain_answering(rx, now, |_| Some(id))
}

#[test]
fn a_late_copy_of_a_finished_message_is_not_delivered_again() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let only = frame_bits(true, true, false, "once");
    feed_as(&mut rx, 7, 70, &only, T0);
    let again = feed_as(&mut rx, 7, 70, &only, at(100));
    assert_eq!(
        again,
        [Out::Note(Note::Duplicate(7)), Out::Send(7, Signal::Usr2)]
    );
    assert_eq!(rx.serving(), None);
    // However late, while the process lives (it was stopped, say).
    for t in (200..60_000).step_by(100) {
        drain_answering(&mut rx, at(t), |_| Some(70));
    }
    let late = feed_as(&mut rx, 7, 70, &only, at(60_000));
    assert!(late.contains(&Out::Note(Note::Duplicate(7))), "{late:?}");
}

#[test]
fn a_new_process_with_the_pid_of_a_finished_one_is_not_taken_for_it() {
    // Pid 7 finishes "same" and exits unnoticed; a new process gets PID
    // 7 and sends "same" with the same SEQ, bit for bit the same frame.
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let same = frame_bits(true, true, false, "same");
    feed_as(&mut rx, 7, 70, &same, T0);
    let new = feed_as(&mut rx, 7, 71, &same, at(10));
    assert_eq!(new[0], Out::Deliver(7, "same".into(), true, true));
    // And the same when the old one was seen alive after its message.
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    feed_as(&mut rx, 7, 70, &same, T0);
    assert_eq!(
        drain_answering(&mut rx, at(50), |_| Some(70)),
        [Out::Check(7)]
    );
    let new = feed_as(&mut rx, 7, 71, &same, at(2000));
    assert_eq!(new[0], Out::Deliver(7, "same".into(), true, true));
}

#[test]
fn a_session_whose_pid_changes_hands_ends() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.on_signal(7, Signal::Usr2, T0);
    drain_answering(&mut rx, T0, |_| Some(70));
    let out = drain_answering(&mut rx, at(50), |_| Some(71));
    assert!(out.contains(&Out::Abandoned(7, true)), "{out:?}");
    assert_eq!(rx.serving(), None);
}

/// Pid 7 finished "once" (the returned frame) and missed its ack; it
/// knocks again at 10 ms, but pid 8 is being served: pid 7 is queued.
fn copy_queued_behind_a_session(cfg: ReceiverConfig) -> (Receiver<4>, Vec<Signal>) {
    let mut rx = Receiver::<4>::new(cfg);
    let only = frame_bits(true, true, false, "once");
    feed_as(&mut rx, 7, 70, &only, T0);
    rx.on_signal(8, Signal::Usr1, T0);
    drain_answering(&mut rx, T0, |p| Some(p as u64 * 10));
    rx.on_signal(7, only[0], at(10));
    (rx, only)
}

/// As [`copy_queued_behind_a_session`]; pid 7 waits for pid 8's session
/// timeout and is invited at the returned time.
fn copy_waits_behind_a_session() -> (Receiver<4>, Vec<Signal>, Instant) {
    let cfg = ReceiverConfig::default();
    let (mut rx, only) = copy_queued_behind_a_session(cfg);
    let mut out = Vec::new();
    for t in (10..=cfg.session_timeout.as_millis() as u64).step_by(10) {
        out.extend(drain_answering(&mut rx, at(t), |p| Some(p as u64 * 10)));
    }
    assert!(out.contains(&Out::Send(7, Signal::Usr1)), "{out:?}");
    (rx, only, T0 + cfg.session_timeout)
}

#[test]
fn a_late_copy_that_waited_in_the_queue_is_still_recognised() {
    // Its copy must not be delivered again.
    let (mut rx, only, t) = copy_waits_behind_a_session();
    let again = feed_as(&mut rx, 7, 70, &only, t + ms(1));
    assert_eq!(
        again,
        [Out::Note(Note::Duplicate(7)), Out::Send(7, Signal::Usr2)]
    );
}

#[test]
fn a_copy_answered_after_a_long_wait_is_remembered_again() {
    // As above, and the answer to the recognised copy is lost too: the
    // next copy, a moment later, is recognised again.
    let (mut rx, only, t) = copy_waits_behind_a_session();
    let again = feed_as(&mut rx, 7, 70, &only, t + ms(1));
    assert!(again.contains(&Out::Note(Note::Duplicate(7))), "{again:?}");
    let once_more = feed_as(&mut rx, 7, 70, &only, t + ms(60));
    assert!(
        once_more.contains(&Out::Note(Note::Duplicate(7))),
        "{once_more:?}"
    );
}

#[test]
fn only_the_latest_message_of_a_process_has_copies() {
    // One sender, three identical one-frame messages: SEQ alternates, so
    // the third frame is the first one again, bit for bit. It is a new
    // message, not a copy of the first.
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    for (k, seq) in [false, true, false].into_iter().enumerate() {
        let out = feed_as(
            &mut rx,
            7,
            70,
            &frame_bits(true, true, seq, "same"),
            at(k as u64),
        );
        assert_eq!(out[0], Out::Deliver(7, "same".into(), true, true), "{k}");
    }
}

#[test]
fn a_finished_process_is_checked_while_remembered_and_forgotten_when_gone() {
    let cfg = ReceiverConfig::default();
    let mut rx = Receiver::<4>::new(cfg);
    let only = frame_bits(true, true, false, "once");
    feed_as(&mut rx, 7, 70, &only, T0);
    assert_eq!(rx.poll_timeout(), Some(T0 + cfg.probe_after));
    assert_eq!(drain(&mut rx, at(50)), [Out::Check(7)]);
    rx.peer_alive(7, 70, at(50));
    assert_eq!(rx.poll_timeout(), Some(at(50) + cfg.recheck_finished));
    // Alive: a late copy is still recognised.
    let again = feed_as(&mut rx, 7, 70, &only, at(60));
    assert!(again.contains(&Out::Note(Note::Duplicate(7))), "{again:?}");
    assert_eq!(drain(&mut rx, at(110)), [Out::Check(7)]);
    rx.peer_gone(7, at(120));
    assert!(rx.finished(7).is_none());
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn processes_that_exit_make_room_for_one_that_may_still_send_a_copy() {
    // Pid 7 missed its last acknowledgement and is slow to send the
    // copy; meanwhile many others finish, hear theirs and exit.
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.remember(7, None, 0x77, T0);
    for pid in 100..100 + 3 * RECENT as Pid {
        let t = at(pid as u64);
        rx.remember(pid, None, pid as u32, t);
        rx.peer_gone(pid, t + ms(50));
    }
    assert_eq!(rx.finished(7).map(|f| f.crc), Some(0x77));
}

#[test]
fn a_full_memory_checks_everyone_at_once() {
    // Many clients finish within `probe_after`: when the memory is full,
    // all are checked at once, and those gone make room.
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.remember(7, Some(70), 0x77, T0);
    for pid in 100..100 + RECENT as Pid - 1 {
        assert_eq!(rx.poll_timeout(), Some(at(50)));
        rx.remember(pid, Some(pid as u64), pid as u32, at(1));
    }
    assert_eq!(rx.poll_timeout(), Some(at(1)), "full: everyone is due now");
    let out = drain_answering(&mut rx, at(1), |p| (p == 7).then_some(70));
    assert_eq!(out.len(), RECENT);
    for pid in 200..200 + 3 * RECENT as Pid {
        rx.remember(pid, Some(pid as u64), pid as u32, at(2));
        drain_answering(&mut rx, at(2), |p| (p == 7).then_some(70));
    }
    assert_eq!(rx.finished(7).map(|f| f.crc), Some(0x77));
}

#[test]
fn the_memory_forgets_the_process_silent_longest() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.remember(7, None, 0x77, T0);
    for pid in 100..100 + RECENT as Pid {
        // Pid 7 keeps knocking while others finish.
        rx.heard_from(7, at(pid as u64));
        rx.remember(pid, None, pid as u32, at(pid as u64));
    }
    assert_eq!(rx.finished(7).map(|f| f.crc), Some(0x77));
    assert!(rx.finished(100).is_none());
    assert!(rx.finished(101).is_some());
    rx.remember(7, None, 0x78, at(200));
    assert_eq!(rx.recent.count(7), 1);
    assert_eq!(rx.finished(7).map(|f| f.crc), Some(0x78));
}

#[test]
fn a_session_must_open_with_a_first_frame() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let out = feed(&mut rx, 7, &frame_bits(false, true, false, "x"), T0);
    assert!(out.contains(&rejected(7, Error::NotFirst)));
    assert!(out.contains(&Out::Send(7, Signal::Usr1)));
}

#[test]
fn a_first_frame_mid_message_is_rejected() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    feed(&mut rx, 7, &frame_bits(true, false, false, "a"), T0);
    let out = feed(&mut rx, 7, &frame_bits(true, false, true, "b"), T0);
    assert_eq!(out[0], rejected(7, Error::UnexpectedFirst));
}

#[test]
fn a_foreign_version_is_refused() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let mut buf = [0xC2u8, 0x01, b'x', 0, 0, 0, 0];
    let crc = crate::crc::crc32c(&buf[..3]).to_be_bytes();
    buf[3..].copy_from_slice(&crc);
    let bits: Vec<Signal> = (0..56)
        .map(|i| Signal::from_bit(bit_at(&buf, i).unwrap()))
        .collect();
    let out = feed(&mut rx, 7, &bits, T0);
    assert_eq!(out[0], rejected(7, Error::BadVersion));
}

#[test]
fn others_wait_in_arrival_order_and_are_invited_in_turn() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let bits = frame_bits(true, true, false, "hi");
    rx.on_signal(1, bits[0], T0);
    drain(&mut rx, T0);
    for pid in [2, 3] {
        rx.on_signal(pid, Signal::Usr2, T0);
        let out = drain(&mut rx, T0);
        assert!(out.contains(&Out::Send(pid, Signal::Usr2)), "{out:?}");
    }
    // A second knock while waiting: told again, not queued twice.
    rx.on_signal(2, Signal::Usr2, T0);
    assert_eq!(drain(&mut rx, T0), [Out::Send(2, Signal::Usr2)]);
    assert_eq!(rx.queued(), 2);
    let out = feed(&mut rx, 1, &bits[1..], T0);
    assert_eq!(
        &out[3..],
        [
            Out::Send(2, Signal::Usr1),
            Out::Note(Note::Serving(2)),
            Out::Check(2)
        ]
    );
    assert_eq!(rx.serving(), Some(2));
    let out = feed(&mut rx, 2, &bits, T0);
    assert!(out.contains(&Out::Send(3, Signal::Usr1)));
    assert!(rx.knows(3) && !rx.knows(2));
}

#[test]
fn the_queue_has_a_bound() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.on_signal(1, Signal::Usr1, T0);
    for pid in 2..=5 {
        rx.on_signal(pid, Signal::Usr1, T0);
        drain(&mut rx, T0);
    }
    rx.on_signal(6, Signal::Usr1, T0);
    assert_eq!(
        drain(&mut rx, T0),
        [Out::Note(Note::QueueFull(6)), Out::Send(6, Signal::Usr2)]
    );
    assert!(!rx.knows(6), "not queued: it will knock again");
}

#[test]
fn queued_processes_get_keepalives() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.on_signal(1, Signal::Usr1, T0);
    rx.on_signal(2, Signal::Usr1, T0);
    rx.on_signal(3, Signal::Usr1, T0);
    drain(&mut rx, T0);
    rx.on_signal(1, Signal::Usr1, at(99));
    drain(&mut rx, at(99));
    assert_eq!(rx.poll_timeout(), Some(at(100)));
    let out = drain(&mut rx, at(100));
    assert_eq!(
        out,
        [Out::Send(2, Signal::Usr2), Out::Send(3, Signal::Usr2)]
    );
    assert_eq!(rx.poll_timeout(), Some(at(149)), "next: the probe of pid 1");
}

#[test]
fn a_silence_drops_the_partial_frame() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    let bits = frame_bits(true, true, false, "ok");
    for &b in &bits[..20] {
        rx.on_signal(9, b, T0);
        drain(&mut rx, T0);
    }
    let after_gap = at(1) + ReceiverConfig::default().frame_gap;
    let out = feed(&mut rx, 9, &bits, after_gap);
    assert_eq!(out[0], Out::Deliver(9, "ok".into(), true, true));
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    rx.on_signal(9, bits[0], T0);
    rx.on_signal(9, bits[1], after_gap);
    assert!(drain(&mut rx, after_gap).contains(&Out::Note(Note::GapReset { pid: 9, bits: 1 })));
}

#[test]
fn a_silent_session_is_probed_then_dropped_and_the_next_invited() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    feed(&mut rx, 1, &frame_bits(true, false, false, "part"), T0);
    rx.on_signal(2, Signal::Usr1, T0);
    drain(&mut rx, T0);
    assert_eq!(drain(&mut rx, at(50)), [Out::Check(1)]);
    rx.peer_gone(1, at(60));
    assert_eq!(
        drain(&mut rx, at(60)),
        [
            Out::Abandoned(1, true),
            Out::Send(2, Signal::Usr1),
            Out::Note(Note::Serving(2)),
            Out::Check(2),
        ]
    );
    // Pid 2 never starts: dropped after the session timeout.
    let t = at(60) + ReceiverConfig::default().session_timeout;
    let out = drain(&mut rx, t);
    assert!(out.contains(&Out::Abandoned(2, false)), "{out:?}");
    assert_eq!(rx.serving(), None);
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn a_vanished_waiter_leaves_the_queue() {
    let mut rx = Receiver::<4>::new(ReceiverConfig::default());
    for pid in [1, 2, 3] {
        rx.on_signal(pid, Signal::Usr1, T0);
    }
    rx.peer_gone(2, T0);
    drain(&mut rx, T0);
    assert!(!rx.knows(2) && rx.knows(3));
    assert_eq!(rx.queued(), 1);
}

#[test]
fn poll_timeout_is_none_when_idle() {
    let rx = Receiver::<4>::new(ReceiverConfig::default());
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn the_callers_own_pause_is_not_the_sessions_silence() {
    // PROTOCOL.md 4.5: the server did not run for 4 s (its own pause, told
    // by `paused`); the session outlives it by that much, and a frame cut
    // by the pause is still dropped after the frame gap.
    let cfg = ReceiverConfig::default();
    let mut rx = Receiver::<4>::new(cfg);
    let bits = frame_bits(true, false, false, "part");
    feed(&mut rx, 1, &bits, T0);
    for &b in &bits[..5] {
        rx.on_signal(1, b, T0);
    }
    drain(&mut rx, T0);
    let pause = Duration::from_secs(4);
    rx.paused(pause);
    let out = drain(&mut rx, T0 + cfg.session_timeout + ms(1));
    assert!(!out.contains(&Out::Abandoned(1, false)), "{out:?}");
    assert_eq!(rx.serving(), Some(1));
    // The partial frame is dropped all the same: the gap is real time.
    let t = T0 + cfg.session_timeout + ms(2);
    rx.on_signal(1, bits[0], t);
    let out = drain(&mut rx, t);
    assert!(out.contains(&Out::Note(Note::GapReset { pid: 1, bits: 5 })));
    // A bit heard ends the excuse: silence counts from it again.
    let out = drain(&mut rx, t + cfg.session_timeout);
    assert!(out.contains(&Out::Abandoned(1, false)), "{out:?}");
}
