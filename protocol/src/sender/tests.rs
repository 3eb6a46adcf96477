//! The sender's unit tests: one scenario each, replies fed by hand.

use super::*;

const T0: Instant = Instant::ZERO;

/// The defaults without the jitter of the quiet time, for exact times.
fn steady() -> SenderConfig {
    SenderConfig {
        quiet_jitter: Duration::ZERO,
        ..SenderConfig::default()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The point in time `n` ms after [`T0`].
fn at(n: u64) -> Instant {
    T0 + ms(n)
}

/// Sends bits, acknowledging each with `Usr1`, until the frame's last bit.
fn send_to_last_bit(tx: &mut Sender, now: Instant) {
    for _ in 0..tx.frame_bits() - 1 {
        assert!(matches!(tx.poll(now), Poll::Send(_)));
        tx.on_reply(Signal::Usr1, now);
    }
    assert!(matches!(tx.poll(now), Poll::Send(_)));
}

#[test]
fn sends_the_frame_bits_in_wire_order() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("A", true).unwrap();
    let mut bits = [false; 56];
    for b in bits.iter_mut() {
        match tx.poll(T0) {
            Poll::Send(s) => *b = s.bit(),
            other => panic!("{other:?}"),
        }
        tx.on_reply(Signal::Usr1, T0);
    }
    // FIRST|LAST, SEQ 0, version 1 = 0xC1; LEN = 1; 'A' = 0x41.
    let head: [bool; 24] =
        core::array::from_fn(|i| [0xC1u8, 0x01, 0x41][i / 8] & (0x80 >> (i % 8)) != 0);
    assert_eq!(bits[..24], head);
}

#[test]
fn accepted_last_frame_is_done() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("hi", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr2, T0);
    assert_eq!(tx.poll(T0), Poll::Done);
    assert_eq!(tx.stats().bytes, 2);
    assert_eq!(tx.stats().signals, 64);
}

#[test]
fn accepted_middle_frame_asks_for_more_and_flips_seq() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("a", false).unwrap();
    assert_eq!(tx.frame[0], 0x81);
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr2, T0);
    assert_eq!(tx.poll(T0), Poll::NeedPayload);
    tx.load("b", true).unwrap();
    assert_eq!(tx.frame[0], 0x61, "LAST, SEQ 1, not FIRST");
    assert_eq!(tx.load("c", true), Err(Error::NotReady));
}

#[test]
fn rejection_means_quiet_then_the_same_frame_again() {
    let mut tx = Sender::new(steady(), T0);
    tx.load("x", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr1, T0);
    assert_eq!(tx.poll(T0), Poll::Wait { until: at(150) });
    // A reply during the quiet time restarts it.
    tx.on_reply(Signal::Usr1, at(10));
    assert_eq!(tx.poll(at(159)), Poll::Wait { until: at(160) });
    assert_eq!(
        tx.poll(at(160)),
        Poll::Send(Signal::Usr2),
        "bit 0 again: FIRST"
    );
    assert_eq!(tx.stats().retries, 1);
    assert_eq!(tx.frame[0], 0xC1, "same SEQ on a retry");
}

#[test]
fn timeouts_double_up_to_the_cap_and_reset_on_success() {
    let cfg = SenderConfig {
        give_up: Duration::from_secs(100),
        ..Default::default()
    };
    let mut tx = Sender::new(cfg, T0);
    tx.load("x", true).unwrap();
    let mut now = T0;
    let mut waits = [Duration::ZERO; 7];
    for w in waits.iter_mut() {
        assert!(matches!(tx.poll(now), Poll::Send(_)));
        let Poll::Wait { until } = tx.poll(now) else {
            panic!()
        };
        *w = until - now;
        now = until;
        let Poll::Wait { until } = tx.poll(now) else {
            panic!()
        }; // quiet
        now = until;
    }
    assert_eq!(
        waits.map(|d| d.as_millis()),
        [50, 100, 200, 400, 500, 500, 500]
    );
    // Each accepted frame halves the wait, down to the first value.
    for want in [250, 125, 62, 50, 50] {
        tx.load("x", false).ok();
        send_to_last_bit(&mut tx, now);
        tx.on_reply(Signal::Usr2, now);
        assert_eq!(tx.ack_timeout.as_millis(), want);
        assert!(matches!(tx.poll(now), Poll::Done | Poll::NeedPayload));
    }
}

#[test]
fn queued_waits_for_go_then_restarts_the_frame() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("q", true).unwrap();
    assert_eq!(tx.poll(T0), Poll::Send(Signal::Usr2));
    tx.on_reply(Signal::Usr1, T0);
    assert!(matches!(tx.poll(T0), Poll::Send(_)));
    tx.on_reply(Signal::Usr2, T0); // wait your turn
    assert_eq!(tx.poll(T0), Poll::Wait { until: at(1000) });
    tx.on_reply(Signal::Usr2, at(900)); // keepalive
    assert_eq!(tx.poll(at(1500)), Poll::Wait { until: at(1900) });
    tx.on_reply(Signal::Usr1, at(1600)); // go
    assert_eq!(tx.poll(at(1600)), Poll::Send(Signal::Usr2), "bit 0 again");
    assert_eq!(tx.stats().queued, 1);
}

#[test]
fn queued_without_keepalives_knocks_again() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("q", true).unwrap();
    tx.poll(T0);
    tx.on_reply(Signal::Usr2, T0);
    assert_eq!(tx.poll(at(999)), Poll::Wait { until: at(1000) });
    assert_eq!(tx.poll(at(1000)), Poll::Send(Signal::Usr2));
}

#[test]
fn silence_fails_and_then_nothing_is_sent() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let mut now = T0;
    let result = loop {
        match tx.poll(now) {
            Poll::Send(_) => {}
            Poll::Wait { until } => now = until,
            other => break other,
        }
    };
    assert_eq!(result, Poll::Failed(Failure::Silent));
    assert_eq!(now, at(3000));
    tx.on_reply(Signal::Usr2, now);
    assert_eq!(tx.poll(now + ms(1)), Poll::Failed(Failure::Silent));
}

#[test]
fn endless_rejections_fail() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let mut now = T0;
    let result = loop {
        match tx.poll(now) {
            Poll::Send(_) => tx.on_reply(Signal::Usr1, now),
            Poll::Wait { until } => now = until,
            other => break other,
        }
    };
    assert_eq!(result, Poll::Failed(Failure::TooManyRetries));
    assert_eq!(tx.stats().retries, 17);
}

#[test]
fn a_frame_is_restarted_not_continued_after_a_pause() {
    // Stopped between two bits for longer than `stale_after`: the
    // receiver may have ended the session and serve someone else, and
    // its "wait your turn" (`Usr2`) to the last bit would pass for
    // "frame accepted". So the frame starts again from bit 0.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    for _ in 0..tx.frame_bits() - 1 {
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        tx.on_reply(Signal::Usr1, T0);
    }
    let later = at(1501);
    assert_eq!(tx.poll(later), Poll::Send(Signal::Usr2), "bit 0: FIRST");
    assert_eq!(tx.stats().retries, 1);
    tx.on_reply(Signal::Usr2, later); // wait your turn: queued, not done
    assert!(matches!(tx.poll(later), Poll::Wait { .. }));
    assert_eq!(tx.stats().queued, 1);
    assert_eq!(tx.stats().frames, 0);
}

/// Sends bits with their replies at `T0` up to the frame's last bit,
/// which is polled at `T0` but goes out at `sent`.
fn last_bit_sent_at(sent: Instant) -> Sender {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    for _ in 0..tx.frame_bits() - 1 {
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        tx.sent(T0);
        tx.on_reply(Signal::Usr1, T0);
    }
    assert!(matches!(tx.poll(T0), Poll::Send(_)));
    tx.sent(sent);
    tx
}

#[test]
fn a_pause_between_the_decision_and_the_kill_makes_the_reply_untrusted() {
    // Stopped after `poll` chose the last bit and before the `kill`: the
    // receiver may have dropped the session and be serving someone else,
    // whose "wait your turn" to a stranger is `Usr2`. It must not pass
    // for "accepted": the frame starts again from bit 0.
    let later = at(1501);
    let mut tx = last_bit_sent_at(later);
    tx.on_reply(Signal::Usr2, later);
    assert_eq!(tx.poll(later), Poll::Send(Signal::Usr2), "bit 0: FIRST");
    assert_eq!((tx.stats().frames, tx.stats().retries), (0, 1));
    // ... and the receiver says where it stands: queued.
    tx.sent(later);
    tx.on_reply(Signal::Usr2, later);
    assert!(matches!(tx.poll(later), Poll::Wait { .. }));
    assert_eq!(tx.stats().queued, 1);
    // A bit sent just within `stale_after` is trusted.
    let mut tx = last_bit_sent_at(at(1500));
    tx.on_reply(Signal::Usr2, at(1500));
    assert_eq!(tx.poll(at(1500)), Poll::Done);
}

#[test]
fn after_a_late_bit_go_on_is_not_trusted_but_queued_is() {
    // A non-final bit sent late: `Usr1` may mean the receiver took it
    // for the first bit of a new frame, so the sender goes quiet and
    // sends the frame again; `Usr2` can only mean "queued".
    let late = |reply: Signal| {
        let mut tx = Sender::new(steady(), T0);
        tx.load("x", true).unwrap();
        tx.poll(T0);
        tx.sent(T0);
        tx.on_reply(Signal::Usr1, T0);
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        tx.sent(at(2000));
        tx.on_reply(reply, at(2000));
        tx
    };
    let mut tx = late(Signal::Usr1);
    assert_eq!(tx.poll(at(2000)), Poll::Wait { until: at(2150) });
    assert_eq!(tx.poll(at(2150)), Poll::Send(Signal::Usr2), "bit 0");
    assert_eq!(tx.stats().retries, 1);
    let mut tx = late(Signal::Usr2);
    assert_eq!(tx.poll(at(2000)), Poll::Wait { until: at(3000) });
    assert_eq!((tx.stats().queued, tx.stats().retries), (1, 0));
}

#[test]
fn the_wait_for_a_reply_starts_when_the_bit_went_out() {
    let mut tx = last_bit_sent_at(at(40));
    assert_eq!(tx.poll(at(40)), Poll::Wait { until: at(90) });
}

#[test]
fn a_late_reply_is_still_the_reply_to_the_last_bit() {
    // Stopped while waiting: the reply that was pending is the real one.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr2, at(2500));
    assert_eq!(tx.poll(at(2500)), Poll::Done);
}

#[test]
fn waiting_for_the_caller_is_not_the_receivers_silence() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    assert_eq!(tx.poll(at(60_000)), Poll::NeedPayload);
    tx.load("a", false).unwrap();
    assert!(matches!(tx.poll(at(60_000)), Poll::Send(_)));
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr2, T0);
    assert_eq!(tx.poll(at(60_000)), Poll::Done);
    tx.load("", true).unwrap();
    assert!(matches!(tx.poll(at(60_000)), Poll::Send(_)));
}

#[test]
fn late_replies_after_done_are_ignored() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr2, T0);
    tx.on_reply(Signal::Usr1, T0);
    assert_eq!(tx.poll(at(10_000)), Poll::Done);
}

#[test]
fn a_new_message_after_done_opens_with_first() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("a", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx.on_reply(Signal::Usr2, T0);
    assert_eq!(tx.poll(T0), Poll::Done);
    tx.load("a", true).unwrap();
    assert_eq!(tx.frame[0], 0xE1, "FIRST|LAST, SEQ flipped");
}

/// A sender at the last bit of a one-frame message, the receiver's
/// output counter seen once at 0.
fn at_last_bit_watching_output() -> Sender {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.on_receiver_output(0, T0);
    tx.load("hi", true).unwrap();
    send_to_last_bit(&mut tx, T0);
    tx
}

#[test]
fn a_late_reply_is_awaited_while_the_receivers_output_moves() {
    let mut tx = at_last_bit_watching_output();
    // Up to stale_after, with the output moving: nothing sent again.
    let mut now = T0;
    for step in 1..=6u64 {
        now = at(250 * step);
        tx.on_receiver_output(step, now);
        assert!(matches!(tx.poll(now), Poll::Wait { .. }), "step {step}");
    }
    assert_eq!(tx.stats().retries, 0, "nothing sent again");
    assert_eq!(tx.stats().signals, tx.frame_bits() as u64);
    // Only the reply itself accepts the frame.
    tx.on_reply(Signal::Usr2, now);
    assert_eq!(tx.poll(now), Poll::Done);
}

#[test]
fn a_moving_output_keeps_the_sender_from_giving_up() {
    // A slow reader: no reply for 20 s, but the output moves. The
    // sender retries (the await lasts stale_after at most) but never
    // gives up.
    let mut tx = at_last_bit_watching_output();
    for step in 1..=200u64 {
        let now = at(100 * step);
        tx.on_receiver_output(step, now);
        assert!(!matches!(tx.poll(now), Poll::Failed(_)), "step {step}");
    }
}

#[test]
fn an_output_that_stands_still_is_silence() {
    let mut tx = at_last_bit_watching_output();
    let mut failed = None;
    for step in 1..=80u64 {
        let now = at(50 * step);
        tx.on_receiver_output(0, now);
        if let Poll::Failed(f) = tx.poll(now) {
            failed = Some((f, now));
            break;
        }
    }
    assert_eq!(failed, Some((Failure::Silent, at(3000))));
}

#[test]
fn when_the_output_stops_moving_late_replies_are_retried_again() {
    let mut tx = at_last_bit_watching_output();
    tx.on_receiver_output(7, at(100));
    assert!(matches!(tx.poll(at(100)), Poll::Wait { .. }));
    assert_eq!(tx.stats().retries, 0);
    // Still 7 well after stale_after: the reply may be lost; retry.
    let mut now = at(100);
    while tx.stats().retries == 0 && now < at(2900) {
        now += ms(50);
        tx.on_receiver_output(7, now);
        let _ = tx.poll(now);
    }
    assert_eq!(tx.stats().retries, 1);
    assert!(now > T0 + SenderConfig::default().stale_after);
}

#[test]
fn a_moving_output_keeps_a_queued_sender_from_giving_up() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.on_receiver_output(0, T0);
    tx.load("hi", true).unwrap();
    assert!(matches!(tx.poll(T0), Poll::Send(_)));
    tx.on_reply(Signal::Usr2, T0); // queued
                                   // It knocks again now and then, but does not give up.
    for step in 1..=200u64 {
        let now = at(50 * step);
        tx.on_receiver_output(step, now);
        assert!(!matches!(tx.poll(now), Poll::Failed(_)), "step {step}");
    }
}

#[test]
fn a_late_reply_to_a_first_bit_is_retried_even_while_the_output_moves() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.on_receiver_output(0, T0);
    tx.load("hi", true).unwrap();
    assert!(matches!(tx.poll(T0), Poll::Send(_)));
    let mut now = T0;
    while tx.stats().retries == 0 && now < at(1000) {
        now += ms(50);
        tx.on_receiver_output((now - T0).as_millis() as u64, now);
        let _ = tx.poll(now);
    }
    assert_eq!(tx.stats().retries, 1, "the knock is repeated");
    // ... and the moving output keeps the sender from giving up.
    for step in 1..=100u64 {
        let t = now + ms(50 * step);
        tx.on_receiver_output((t - T0).as_millis() as u64, t);
        assert!(!matches!(tx.poll(t), Poll::Failed(_)), "at {t:?}");
    }
}

/// Runs `tx` against a receiver that never answers, reporting its
/// process as `seen(now)` (state, CPU time) after every wait, until
/// the sender fails; returns the failure and when.
fn fail_against(
    tx: &mut Sender,
    mut seen: impl FnMut(Instant) -> Option<(ProcessState, u64)>,
) -> (Failure, Instant) {
    let mut now = T0;
    loop {
        match tx.poll(now) {
            Poll::Send(_) => tx.sent(now),
            Poll::Wait { until } => {
                assert!(until > now, "a wait that ends at once, at {now:?}");
                now = until;
                if let Some((state, cpu)) = seen(now) {
                    tx.on_receiver_process(state, cpu, now);
                }
            }
            Poll::Failed(f) => return (f, now),
            other => panic!("{other:?}"),
        }
        assert!(now < at(600_000), "still waiting at {now:?}");
    }
}

#[test]
fn silence_does_not_count_as_rejection() {
    // Issue 18, item 1: a receiver that never answers made the sender
    // fail after 16 timeouts (about 9.8 s) with "kept rejecting a
    // frame", before its give_up. Only rejections count; silence is
    // judged by give_up.
    let cfg = SenderConfig::with_timeout(Duration::from_secs(20));
    let mut tx = Sender::new(cfg, T0);
    tx.load("x", true).unwrap();
    let (failure, when) = fail_against(&mut tx, |_| None);
    assert_eq!((failure, when), (Failure::Silent, at(20_000)));
    assert!(
        tx.stats().retries > 17,
        "it kept knocking: {:?}",
        tx.stats()
    );
}

#[test]
fn stale_restarts_and_untrusted_replies_are_not_rejections() {
    // A sender stopped over and over between two bits restarts its
    // frame each time: its own pauses, not the receiver's verdicts.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let mut now = T0;
    for _ in 0..40 {
        assert!(matches!(tx.poll(now), Poll::Send(_)));
        tx.on_reply(Signal::Usr1, now);
        assert!(matches!(tx.poll(now), Poll::Send(_)));
        tx.on_reply(Signal::Usr1, now);
        now += ms(1600); // stopped between two bits
    }
    assert!(matches!(tx.poll(now), Poll::Send(_)), "not failed");
    assert_eq!(tx.stats().retries, 40);
}

#[test]
fn rejections_count_while_the_receivers_output_moves() {
    // Issue 18, item 7: a server with --trace keeps its output counter
    // moving (stderr counts in wchar); that made the retry count start
    // afresh, and a rejected sender sent for ever. Rejections are
    // answers: the 17th in a row fails, whatever the counter does.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.on_receiver_output(0, T0);
    tx.load("x", true).unwrap();
    let mut now = T0;
    let mut written = 0;
    let failed = loop {
        match tx.poll(now) {
            Poll::Send(_) => {
                // Every bit answered: a rejection to the last one.
                tx.on_reply(Signal::Usr1, now);
            }
            Poll::Wait { until } => {
                now = until;
                written += 100; // the trace of that rejection
                tx.on_receiver_output(written, now);
            }
            Poll::Failed(f) => break f,
            other => panic!("{other:?}"),
        }
        assert!(now < at(60_000), "still sending at {now:?}");
    };
    assert_eq!(failed, Failure::TooManyRetries);
    assert_eq!(tx.stats().retries, 17, "16 retries sent, the 17th refused");
}

#[test]
fn a_runnable_receiver_is_waited_for_beyond_give_up() {
    // Issue 18, item 2: on a loaded machine a server may be runnable
    // but not run for 4 to 8 s. Runnable is alive: no failure at 3 s.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let mut now = T0;
    loop {
        match tx.poll(now) {
            Poll::Send(_) if now >= at(8000) => break,
            Poll::Send(_) => tx.sent(now),
            Poll::Wait { until } => {
                now = until;
                tx.on_receiver_process(ProcessState::Runnable, 5, now);
            }
            other => panic!("at {now:?}: {other:?}"),
        }
    }
    // ... and when it runs, the conversation goes on: bit 0 is out.
    tx.on_reply(Signal::Usr1, now);
    for _ in 1..tx.frame_bits() - 1 {
        assert!(matches!(tx.poll(now), Poll::Send(_)));
        tx.on_reply(Signal::Usr1, now);
    }
    assert!(matches!(tx.poll(now), Poll::Send(_)));
    tx.on_reply(Signal::Usr2, now);
    assert_eq!(tx.poll(now), Poll::Done);
}

#[test]
fn a_receiver_whose_cpu_time_moves_is_alive() {
    // Asleep between signals, but busy (serving others): its CPU time
    // moves, so it is not silent, up to busy_cap.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let mut cpu = 0;
    let (failure, when) = fail_against(&mut tx, |_| {
        cpu += 1;
        Some((ProcessState::Sleeping, cpu))
    });
    assert_eq!((failure, when), (Failure::Unanswering, at(30_000)));
}

#[test]
fn a_receiver_that_spins_without_answering_fails_after_the_cap() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let (failure, when) = fail_against(&mut tx, |t| {
        Some((ProcessState::Runnable, (t - T0).as_millis() as u64))
    });
    assert_eq!(failure, Failure::Unanswering);
    assert_eq!(when, T0 + SenderConfig::default().busy_cap);
    assert_eq!(when, at(30_000));
}

#[test]
fn a_stopped_or_sleeping_receiver_fails_after_give_up_and_says_which() {
    for (state, want) in [
        (ProcessState::Stopped, Failure::Stopped),
        (ProcessState::Sleeping, Failure::Asleep),
    ] {
        let mut tx = Sender::new(SenderConfig::default(), T0);
        tx.on_receiver_process(state, 9, T0);
        tx.load("x", true).unwrap();
        let (failure, when) = fail_against(&mut tx, |_| Some((state, 9)));
        assert_eq!((failure, when), (want, at(3000)), "{state:?}");
    }
    // Runnable for 5 s, then stopped: 3 s after the last sign of life.
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let (failure, when) = fail_against(&mut tx, |t| {
        Some(match t < at(5000) {
            true => (ProcessState::Runnable, 1),
            false => (ProcessState::Stopped, 1),
        })
    });
    assert_eq!(failure, Failure::Stopped);
    assert!(when > at(7000) && when < at(8000), "{when:?}");
}

#[test]
fn a_receiver_found_gone_fails_the_sender_at_once() {
    let mut tx = Sender::new(SenderConfig::default(), T0);
    tx.load("x", true).unwrap();
    let (failure, when) = fail_against(&mut tx, |t| {
        Some(match t < at(400) {
            true => (ProcessState::Sleeping, 1),
            false => (ProcessState::Gone, 1),
        })
    });
    assert_eq!(failure, Failure::Gone);
    assert!(when < at(1000), "{when:?}");
}

#[test]
fn senders_seeded_differently_knock_again_at_different_times() {
    // Issue 18, item 3: senders that knock at the same instant lose all
    // their knocks but one (the kernel keeps one pending signal); on the
    // same timers they would knock again in step, for ever.
    let mut again = [Instant::ZERO; 32];
    for (pid, slot) in (4000..).zip(again.iter_mut()) {
        let mut tx = Sender::new(SenderConfig::default(), T0).with_seed(pid);
        tx.load("x", true).unwrap();
        assert!(matches!(tx.poll(T0), Poll::Send(_)));
        let Poll::Wait { until } = tx.poll(at(50)) else {
            panic!()
        };
        assert!(until >= at(200) && until <= at(350), "{until:?}");
        *slot = until;
    }
    again.sort_unstable();
    assert!(
        again.windows(2).all(|w| w[0] != w[1]),
        "every sender knocks again at its own time: {again:?}"
    );
}

#[test]
fn a_lost_final_reply_is_retried_however_the_output_moves() {
    // The final MARK is lost while the receiver serves others with
    // --trace: its output moves for ever. The await ends stale_after
    // after the last reply, before the receiver, which counts our
    // silence, drops the session; the frame goes again (its copy is
    // recognised by SEQ).
    let mut tx = at_last_bit_watching_output();
    let mut now = T0;
    while tx.stats().retries == 0 {
        now += ms(100);
        tx.on_receiver_output((now - T0).as_millis() as u64, now);
        assert!(!matches!(tx.poll(now), Poll::Failed(_)), "at {now:?}");
        assert!(now < at(60_000), "never retried");
    }
    let stale = SenderConfig::default().stale_after;
    assert!(now > T0 + stale && now <= T0 + stale + ms(500), "{now:?}");
}
