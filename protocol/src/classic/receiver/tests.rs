extern crate std;
use std::vec;
use std::vec::Vec;

use super::decode::Utf8;
use super::*;
use crate::classic::Encoder;
use crate::Catches;
use Signal::{Usr1, Usr2};

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// The point in time `n` µs after the origin.
fn at_us(n: u64) -> Instant {
    Instant::ZERO + us(n)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Sends a bit every this many µs, whatever it hears.
    Paced(u64),
    /// Sends the next bit 20 µs after any reply.
    Waiting,
    /// Sends the next bit 20 µs after its own signal comes back.
    Echo,
    /// Sends the next bit this many µs after any reply (a waiting client
    /// that a loaded machine leaves unscheduled).
    Slow(u64),
}

struct Client {
    pid: Pid,
    kind: Kind,
    catches: Catches,
    msg: Vec<u8>,
    /// Signals sent.
    sent: u64,
    /// Bit indexes never delivered (lost on the way).
    lose: Vec<u64>,
    /// Stops after this many signals (dies).
    die_after: Option<u64>,
    /// It died (`die_after`).
    dead: bool,
    /// Has sent its last signal.
    finished: bool,
    /// Stays after its last signal (waits or spins until `SIGUSR2`); else
    /// it exits, and catches nothing from then on.
    stays: bool,
    next: Option<Instant>,
    heard: Vec<Signal>,
    /// Its last signal.
    last: Option<Signal>,
    /// Its wire, if not the receiver's.
    wire: Option<Convention>,
}

impl Client {
    /// A client; a self-paced one catches nothing (never answered), a
    /// waiting one both.
    fn new(pid: Pid, kind: Kind, msg: &[u8], start: u64) -> Client {
        Client {
            pid,
            kind,
            catches: if matches!(kind, Kind::Paced(_)) {
                Catches::NONE
            } else {
                Catches::BOTH
            },
            msg: msg.to_vec(),
            sent: 0,
            lose: Vec::new(),
            die_after: None,
            dead: false,
            finished: false,
            stays: false,
            next: Some(at_us(start)),
            heard: Vec::new(),
            last: None,
            wire: None,
        }
    }
}

#[derive(Default)]
struct World {
    written: Vec<(Pid, Vec<u8>)>,
    verdicts: Vec<Verdict>,
    traces: Vec<Trace>,
    sends: Vec<(Pid, Signal)>,
    /// Writes (`None`) and sends, in order.
    log: Vec<(Pid, Option<Signal>)>,
    /// A write was cut short ([`Effects::cut`]): nothing more is sent.
    cut: bool,
}

/// The world as a receiver sees it during one call.
struct Fx<'a> {
    w: &'a mut World,
    clients: &'a mut [Client],
    now: Instant,
}

impl Effects for Fx<'_> {
    fn catches(&mut self, pid: Pid) -> Catches {
        assert!(pid >= 1);
        let c = self.clients.iter().find(|c| c.pid == pid);
        c.filter(|c| !c.finished || c.stays)
            .map(|c| c.catches)
            .unwrap_or_default()
    }

    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        assert!(to >= 1);
        self.w.sends.push((to, signal));
        self.w.log.push((to, Some(signal)));
        let c = self.clients.iter_mut().find(|c| c.pid == to).unwrap();
        assert!(c.catches.catches(signal), "{to} killed by {signal:?}");
        c.heard.push(signal);
        let (goes_on, after) = match c.kind {
            Kind::Waiting => (true, 20),
            Kind::Slow(us) => (true, us),
            Kind::Echo => (c.last == Some(signal), 20),
            Kind::Paced(_) => (false, 0),
        };
        if goes_on && c.next.is_none() && !c.finished {
            c.next = Some(self.now.saturating_add(us(after)));
        }
        true
    }

    fn write(&mut self, from: Pid, bytes: &[u8]) {
        assert!(!bytes.is_empty());
        self.w.written.push((from, bytes.to_vec()));
        self.w.log.push((from, None));
    }

    fn verdict(&mut self, verdict: Verdict) {
        self.w.verdicts.push(verdict);
    }

    fn classic_trace(&mut self, event: Trace) {
        self.w.traces.push(event);
    }

    fn cut(&self) -> bool {
        self.w.cut
    }

    fn alive(&mut self, pid: Pid) -> Option<u64> {
        let c = self.clients.iter().find(|c| c.pid == pid);
        c.filter(|c| !c.dead).map(|_| 1)
    }
}

impl World {
    /// Every byte written, in order.
    fn stdout(&self) -> Vec<u8> {
        self.written.iter().flat_map(|(_, b)| b.clone()).collect()
    }

    /// What `pid`'s messages wrote, its chunks joined.
    fn output_of(&self, pid: Pid) -> Vec<u8> {
        let of_pid = self.written.iter().filter(|(p, _)| *p == pid);
        of_pid.flat_map(|(_, b)| b.clone()).collect()
    }

    /// The kinds of the verdicts about `pid`, in order.
    fn about(&self, pid: Pid) -> Vec<VerdictKind> {
        let of_pid = self.verdicts.iter().filter(|v| v.pid == pid);
        of_pid.map(|v| v.kind).collect()
    }

    fn drain<const N: usize, const B: usize>(
        &mut self,
        rx: &mut ClassicReceiver<N, B>,
        clients: &mut [Client],
        now: Instant,
    ) {
        rx.poll(
            now,
            &mut Fx {
                w: self,
                clients,
                now,
            },
        );
    }

    /// A signal from `pid` at `now`, then the timers due.
    fn on_signal<const N: usize, const B: usize>(
        &mut self,
        rx: &mut ClassicReceiver<N, B>,
        clients: &mut [Client],
        pid: Pid,
        signal: Signal,
        now: Instant,
    ) {
        rx.on_signal(
            pid,
            signal,
            now,
            &mut Fx {
                w: self,
                clients,
                now,
            },
        );
        self.drain(rx, clients, now);
    }

    /// Runs the clients against `rx` until all is quiet.
    fn run<const N: usize, const B: usize>(
        rx: &mut ClassicReceiver<N, B>,
        clients: &mut [Client],
    ) -> World {
        let c = rx.convention();
        let mut w = World::default();
        let mut now = Instant::ZERO;
        for _ in 0..1_000_000 {
            let next_client = clients
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.next.map(|t| (t, i)))
                .min();
            let next_rx = rx.poll_timeout();
            match (next_client, next_rx) {
                (Some((t, i)), r) if r.is_none_or(|r| t <= r) => {
                    now = now.max(t);
                    let cl = &mut clients[i];
                    let enc = Encoder::new(cl.wire.unwrap_or(c), &cl.msg).unwrap();
                    let Some(sig) = enc.signal_at(cl.sent) else {
                        cl.next = None;
                        continue;
                    };
                    if cl.die_after == Some(cl.sent) {
                        cl.next = None;
                        cl.dead = true;
                        continue;
                    }
                    let idx = cl.sent;
                    cl.sent += 1;
                    cl.last = Some(sig);
                    cl.next = match cl.kind {
                        Kind::Paced(p) => Some(now.saturating_add(us(p))),
                        Kind::Waiting | Kind::Echo | Kind::Slow(_) => None,
                    };
                    if cl.sent == enc.bits() {
                        cl.next = None;
                        cl.finished = true;
                    }
                    let pid = cl.pid;
                    if cl.lose.contains(&idx) {
                        w.drain(rx, clients, now);
                    } else {
                        w.on_signal(rx, clients, pid, sig, now);
                    }
                }
                (_, Some(r)) => {
                    now = now.max(r);
                    w.drain(rx, clients, now);
                }
                (None, None) => return w,
                _ => unreachable!(),
            }
        }
        panic!("no end");
    }
}

fn rx<const N: usize, const B: usize>(items: &[u8]) -> ClassicReceiver<N, B> {
    ClassicReceiver::new(Default::default(), Convention::parse(items).unwrap())
}

#[test]
fn a_paced_client_that_catches_sigusr1_only_is_answered_once_at_the_end() {
    // An "end only" client: its second bit comes within the hold, before
    // any reply, so it paces itself and hears one SIGUSR1, at the end.
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(100, Kind::Paced(100), b"hello", 0)];
    cl[0].catches.usr1 = true;
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.written, [(100, b"hello\n".to_vec())]);
    assert_eq!(w.sends, [(100, Usr1)]);
    assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
    assert!(w.traces.contains(&Trace::Paced(100)));
    assert_eq!(r.active(), 0);
}

#[test]
fn endack_and_noendack_pin_no_reply_per_bit() {
    // A client that catches both signals is answered per bit by default;
    // `endack` and `noendack` make it self-paced, with or without the
    // SIGUSR1 at the end.
    for (items, sends) in [
        (&b""[..], vec![(100, Usr1); 48]),
        (b"endack", vec![(100, Usr1)]),
        (b"noendack", vec![]),
        (b"lsb,noendack,msb", vec![]),
    ] {
        let mut r = rx::<4, 64>(items);
        let mut cl = [Client::new(100, Kind::Paced(100), b"hello", 0)];
        cl[0].catches = Catches::BOTH;
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.written, [(100, b"hello\n".to_vec())], "{items:?}");
        assert_eq!(w.sends, sends, "{items:?}");
        assert!(w.verdicts.is_empty(), "{items:?}: {:?}", w.verdicts);
    }
}

#[test]
fn paced_client_that_catches_nothing_is_never_signalled() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(100, Kind::Paced(150), b"quiet", 0)];
    cl[0].catches = Catches::default();
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"quiet\n");
    assert!(w.sends.is_empty());
    assert!(w.traces.contains(&Trace::NotCaught {
        pid: 100,
        signal: Usr1
    }));
    let mut r = rx::<4, 64>(b"noendack");
    let mut cl = [Client::new(100, Kind::Paced(150), b"q", 0)];
    let w = World::run(&mut r, &mut cl);
    assert!(w.sends.is_empty());
}

#[test]
fn waiting_client_gets_an_ack_per_bit_then_done_if_it_is_still_there() {
    // One that exits after the last bit's SIGUSR1 (and may take SIGUSR2 as
    // an error) gets nothing more.
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(7, Kind::Waiting, b"hey", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"hey\n");
    assert!(w.traces.contains(&Trace::Waiting(7)));
    assert_eq!(cl[0].heard, [Usr1; 32]);
    assert!(!w.traces.contains(&Trace::Reply {
        pid: 7,
        signal: Usr2
    }));
    // One still there (it waits for "done") gets SIGUSR2.
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(7, Kind::Waiting, b"hey", 0)];
    cl[0].stays = true;
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"hey\n");
    let mut expect = std::vec![Usr1; 32];
    expect.push(Usr2);
    assert_eq!(cl[0].heard, expect);
    assert!(w.traces.contains(&Trace::Reply {
        pid: 7,
        signal: Usr2
    }));
    assert!(
        !w.traces.contains(&Trace::Echo(7)),
        "it never waited for an echo"
    );
    assert_eq!(r.active(), 0);
}

#[test]
fn a_short_message_decided_by_its_silence_is_answered_as_at_its_nul() {
    // "Hi" and a NUL may be a length's bytes in LSB order: the detection
    // waits for its silence. Its end is then answered as at its NUL: a
    // waiting client gets its last reply again (sent to one that has exited,
    // it finds nobody), and "done" if it is still there; one that paces
    // itself and catches SIGUSR1, its end SIGUSR1.
    for (kind, stays, catches, end) in [
        (Kind::Waiting, true, Catches::BOTH, &[Usr1, Usr2][..]),
        (Kind::Waiting, false, Catches::BOTH, &[Usr1]),
        (
            Kind::Paced(100),
            true,
            Catches {
                usr1: true,
                usr2: false,
            },
            &[Usr1],
        ),
    ] {
        let mut r = rx_detect::<4, 64>();
        let mut cl = [Client::new(7, kind, b"Hi", 0)];
        (cl[0].stays, cl[0].catches) = (stays, catches);
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"Hi\n", "{kind:?}");
        assert!(w.verdicts.is_empty(), "{kind:?}: {:?}", w.verdicts);
        let per_bit = if kind == Kind::Waiting { 24 } else { 0 };
        assert_eq!(cl[0].heard[..per_bit], [Usr1; 24][..per_bit], "{kind:?}");
        assert_eq!(&cl[0].heard[per_bit..], end, "{kind:?}");
        assert_eq!(r.active(), 0);
    }
}

#[test]
fn stop_ends_a_message_its_silence_decides_even_with_a_probe_pending() {
    // "Hi" and its NUL, still undecided when the server stops, in a slot
    // whose probe is armed (as the echo probe leaves it after a stall):
    // `stop` ends it as by silence and forgets it; a slot kept for a probe
    // that nothing will run would keep `stop` looping for ever.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = rx_detect::<4, 64>();
        let mut cl = [Client::new(7, Kind::Waiting, b"Hi", 0)];
        let enc = Encoder::new(Convention::default(), b"Hi").unwrap();
        let mut w = World::default();
        for i in 0..enc.bits() {
            let now = at_us(50 * i);
            w.on_signal(&mut r, &mut cl, 7, enc.signal_at(i).unwrap(), now);
        }
        assert!(r.slots[0].as_ref().is_some_and(|s| s.detect.is_some()));
        if let Some(s) = r.slots[0].as_mut() {
            s.probe = Probe::Echo;
        }
        let mut fx = Fx {
            w: &mut w,
            clients: &mut cl,
            now: at_us(2_000),
        };
        r.stop(&mut fx);
        let _ = tx.send((w.stdout(), r.active()));
    });
    let (out, active) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("stop never returned");
    assert_eq!(out, b"Hi\n");
    assert_eq!(active, 0);
}

#[test]
fn the_first_reply_comes_at_once_or_within_the_hold() {
    // A client that gives up after 10 ms without a reply is answered at
    // once if it catches both signals; one that catches SIGUSR1 only,
    // within the 2 ms hold.
    let mut cl = [Client::new(7, Kind::Waiting, b"a", 0)];
    let mut w = World::default();
    let mut r = rx::<2, 16>(b"");
    w.on_signal(&mut r, &mut cl, 7, Usr1, Instant::ZERO);
    assert_eq!(w.sends, [(7, Usr1)]);
    cl[0].catches.usr2 = false;
    let mut w = World::default();
    let mut r = rx::<2, 16>(b"");
    r.on_signal(
        7,
        Usr1,
        Instant::ZERO,
        &mut Fx {
            w: &mut w,
            clients: &mut cl,
            now: Instant::ZERO,
        },
    );
    assert!(w.sends.is_empty());
    let due = r.poll_timeout().unwrap();
    assert!(due <= at_us(2_000), "{due:?}");
    w.drain(&mut r, &mut cl, due);
    assert_eq!(w.sends, [(7, Usr1)]);
    assert!(w.traces.contains(&Trace::Waiting(7)));
}

#[test]
fn a_client_that_waits_for_its_echo_is_found_out_and_echoed() {
    for items in [&b""[..], b"usr1", b"lsb,len32"] {
        let mut r = rx::<2, 64>(items);
        let mut cl = [Client::new(9, Kind::Echo, b"echo me", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"echo me\n", "{items:?}");
        assert_eq!(
            w.traces.iter().filter(|t| **t == Trace::Echo(9)).count(),
            1,
            "{items:?}"
        );
        // From its first SIGUSR2 on, every bit is echoed.
        let enc = Encoder::new(r.convention(), b"echo me").unwrap();
        let sent: Vec<_> = (0..enc.bits()).map(|i| enc.signal_at(i).unwrap()).collect();
        let first2 = sent.iter().position(|&s| s == Usr2).unwrap();
        // heard: SIGUSR1 for each bit before, then the late echo of its first
        // SIGUSR2 (after the SIGUSR1 it ignored), then each echo.
        assert_eq!(&cl[0].heard[..first2 + 1], std::vec![Usr1; first2 + 1]);
        assert_eq!(&cl[0].heard[first2 + 1..], &sent[first2..], "{items:?}");
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
    }
}

#[test]
fn self_paced_clients_are_answered_harmlessly_and_never_probed_for_an_echo() {
    // It catches both: each bit is answered, it ignores the replies.
    let mut r = rx::<2, 64>(b"");
    let mut cl = [Client::new(3, Kind::Paced(100), b"paced", 0)];
    cl[0].catches = Catches::BOTH;
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"paced\n");
    assert!(
        cl[0].heard.iter().all(|&s| s == Usr1),
        "no SIGUSR2 it did not ask for"
    );
    assert!(!w.traces.contains(&Trace::Echo(3)));
    // It catches SIGUSR2 only and spins until it comes at the end.
    let mut r = rx::<2, 64>(b"");
    let mut cl = [Client::new(3, Kind::Paced(100), b"spin", 0)];
    cl[0].catches = Catches {
        usr1: false,
        usr2: true,
    };
    cl[0].stays = true;
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"spin\n");
    assert_eq!(cl[0].heard, [Usr2]);
    assert!(w.traces.contains(&Trace::Paced(3)));
    assert!(w.traces.contains(&Trace::Reply {
        pid: 3,
        signal: Usr2
    }));
    // The same, catching both.
    let mut r = rx::<2, 64>(b"");
    let mut cl = [Client::new(3, Kind::Paced(100), b"spin", 0)];
    cl[0].catches = Catches::BOTH;
    cl[0].stays = true;
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"spin\n");
    assert_eq!(cl[0].heard.last(), Some(&Usr2));
    assert_eq!(cl[0].heard.iter().filter(|&&s| s == Usr2).count(), 1);
}

#[test]
fn end_of_message_variants() {
    for (items, tail) in [
        (&b"then"[..], &[Usr2][..]),
        (b"bare", &[Usr1]),
        (b"plus", &[Usr1, Usr2]),
    ] {
        let mut r = rx::<4, 64>(items);
        let mut cl = [Client::new(7, Kind::Waiting, b"a", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"a\n");
        assert!(cl[0].heard[..15].iter().all(|&s| s == Usr1));
        assert_eq!(
            &cl[0].heard[15..],
            tail,
            "{:?}",
            core::str::from_utf8(items)
        );
    }
}

#[test]
fn echo_answers_each_bit_with_its_signal() {
    let mut r = rx::<4, 64>(b"echo,bare");
    let mut cl = [Client::new(7, Kind::Waiting, b"a", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"a\n");
    let enc = Encoder::new(r.convention(), b"a").unwrap();
    let sent: Vec<_> = (0..16).map(|i| enc.signal_at(i).unwrap()).collect();
    // every bit echoed; the last one as `bare` says (SIGUSR1)
    assert_eq!(&cl[0].heard[..15], &sent[..15]);
}

#[test]
fn waiting_client_that_catches_only_usr1_gets_no_usr2() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(7, Kind::Waiting, b"ab", 0)];
    cl[0].catches.usr2 = false;
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"ab\n");
    assert_eq!(cl[0].heard.len(), 24);
}

#[test]
fn interleaved_clients_are_decoded_apart() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [
        Client::new(11, Kind::Paced(100), b"first client", 0),
        Client::new(12, Kind::Paced(130), b"second one", 37),
        Client::new(13, Kind::Waiting, b"third, waiting", 55),
    ];
    let w = World::run(&mut r, &mut cl);
    let mut lines: Vec<_> = w.written.clone();
    lines.sort();
    assert_eq!(
        lines,
        [
            (11, b"first client\n".to_vec()),
            (12, b"second one\n".to_vec()),
            (13, b"third, waiting\n".to_vec())
        ]
    );
    assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
}

#[test]
fn client_dying_mid_byte_is_reported() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(9, Kind::Paced(100), b"abcdef", 0)];
    cl[0].die_after = Some(3 * 8 + 3);
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"abc\n");
    let kinds: Vec<_> = w.verdicts.iter().map(|v| v.kind).collect();
    assert_eq!(
        kinds,
        [
            VerdictKind::PartialByte {
                bits: 3,
                exited: false
            },
            VerdictKind::NoNul
        ]
    );
}

#[test]
fn strays_are_ignored_or_reported_never_printed() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [
        Client::new(9, Kind::Paced(100), b"hi", 0),
        Client::new(10, Kind::Paced(100), b"", 500),
    ];
    cl[1].die_after = Some(1); // one stray signal from another process
    let mut w = World::default();
    w.on_signal(&mut r, &mut cl, 0, Usr1, Instant::ZERO);
    w.on_signal(&mut r, &mut cl, -1, Usr2, Instant::ZERO);
    w.drain(&mut r, &mut cl, Instant::ZERO);
    assert!(w.traces.contains(&Trace::Stray {
        pid: -1,
        signal: Usr2
    }));
    assert_eq!(r.active(), 0);
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"hi\n");
    assert_eq!(
        w.verdicts,
        [Verdict {
            pid: 10,
            kind: VerdictKind::PartialByte {
                bits: 1,
                exited: false
            }
        }]
    );
}

#[test]
fn lost_bits_are_reported_not_printed_silently() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [Client::new(9, Kind::Paced(20), b"too fast", 0)];
    cl[0].lose = std::vec![13];
    let w = World::run(&mut r, &mut cl);
    assert_ne!(w.stdout(), b"too fast\n");
    assert!(w.verdicts.iter().any(|v| v.kind
        == VerdictKind::PartialByte {
            bits: 7,
            exited: false
        }));
}

#[test]
fn both_orders_and_signal_meanings() {
    for items in [&b"msb,usr2"[..], b"lsb,usr2", b"msb,usr1", b"lsb,usr1"] {
        for kind in [Kind::Paced(100), Kind::Waiting] {
            let mut r = rx::<2, 32>(items);
            let mut cl = [Client::new(5, kind, "ünïcode ok".as_bytes(), 0)];
            let w = World::run(&mut r, &mut cl);
            assert_eq!(w.stdout(), "ünïcode ok\n".as_bytes());
            assert!(w.verdicts.is_empty());
        }
    }
}

#[test]
fn length_headers_end_the_message_and_swallow_a_trailing_nul() {
    for items in [
        &b"len32"[..],
        b"len64",
        b"lsb,len32",
        b"lsb,usr1,len64",
        b"len32,none",
    ] {
        for kind in [Kind::Paced(100), Kind::Waiting] {
            let mut r = rx::<2, 64>(items);
            let msg = b"nul\0inside";
            let mut cl = [Client::new(5, kind, msg, 0)];
            let w = World::run(&mut r, &mut cl);
            assert_eq!(w.stdout(), b"nul\0inside\n");
            assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
        }
    }
}

#[test]
fn a_waiting_client_silent_for_longer_than_a_paced_one_may_be_is_not_cut() {
    let c = Convention::default();
    let mut r: ClassicReceiver<2, 64> = ClassicReceiver::new(Default::default(), c);
    let enc = Encoder::new(c, b"wait").unwrap();
    let mut w = World::default();
    let mut cl = [Client::new(5, Kind::Waiting, b"", 0)];
    // First bit, then the held reply makes it a waiting client.
    let mut now = Instant::ZERO;
    w.on_signal(&mut r, &mut cl, 5, enc.signal_at(0).unwrap(), now);
    now = now.saturating_add(Duration::from_millis(10));
    w.drain(&mut r, &mut cl, now);
    assert!(w.traces.contains(&Trace::Waiting(5)));
    for i in 1..enc.bits() {
        // Half a second unscheduled in the middle: more than `silence`.
        let gap = if i == 13 { 500_000 } else { 20 };
        now = now.saturating_add(us(gap));
        w.drain(&mut r, &mut cl, now);
        w.on_signal(&mut r, &mut cl, 5, enc.signal_at(i).unwrap(), now);
    }
    assert_eq!(w.stdout(), b"wait\n");
    assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
}

#[test]
fn with_a_header_and_nul_the_end_is_acknowledged_after_the_nul() {
    for items in [&b"len32"[..], b"lsb,len64"] {
        let mut r = rx::<2, 64>(items);
        let mut cl = [Client::new(5, Kind::Waiting, b"ab", 0)];
        cl[0].stays = true;
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"ab\n");
        let bits = Encoder::new(r.convention(), b"ab").unwrap().bits() as usize;
        // SIGUSR1 for every bit (the NUL's too), then the separate SIGUSR2.
        let heard = &cl[0].heard;
        assert_eq!(heard.len(), bits + 1, "{heard:?}");
        assert!(heard[..bits].iter().all(|&s| s == Usr1));
        assert_eq!(heard[bits], Usr2);
    }
}

#[test]
fn back_to_back_messages_after_a_header_without_nul() {
    // LSB-first headers begin with a non-zero byte: not a NUL.
    let c = Convention::parse(b"lsb,len32").unwrap();
    let mut r: ClassicReceiver<2, 64> = ClassicReceiver::new(Default::default(), c);
    let mut signals = Vec::new();
    for m in [&b"one"[..], b"two"] {
        let enc = Encoder::new(
            Convention {
                end: End::None,
                ..c
            },
            m,
        )
        .unwrap();
        signals.extend((0..enc.bits()).map(|i| enc.signal_at(i).unwrap()));
    }
    let mut w = World::default();
    let mut cl = [Client::new(5, Kind::Paced(100), b"", 0)];
    for (i, s) in signals.iter().enumerate() {
        let now = at_us(100 * i as u64);
        w.on_signal(&mut r, &mut cl, 5, *s, now);
    }
    assert_eq!(w.stdout(), b"one\ntwo\n");
}

#[test]
fn messages_back_to_back_from_one_client() {
    for kind in [Kind::Paced(100), Kind::Waiting] {
        let mut r = rx::<2, 8>(b"");
        // the second one streams: longer than the 7 bytes a slot holds
        let mut cl = [Client::new(5, kind, b"one\0second message", 0)];
        let w = World::run(&mut r, &mut cl);
        assert_eq!(w.stdout(), b"one\nsecond message\n");
        assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
    }
}

#[test]
fn silence_ends_a_message_without_nul_and_a_short_one() {
    let mut r = rx::<2, 64>(b"none");
    let mut cl = [Client::new(5, Kind::Paced(100), b"no end", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"no end\n");
    assert!(w.verdicts.is_empty());
    let mut r = rx::<2, 64>(b"len32");
    let mut cl = [Client::new(5, Kind::Paced(100), b"cut short", 0)];
    cl[0].die_after = Some(32 + 16);
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"cu\n");
    assert_eq!(
        w.verdicts[0].kind,
        VerdictKind::Short {
            got: 2,
            announced: 9
        }
    );
}

#[test]
fn long_messages_stream_without_interleaving() {
    let long: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    let mut r = rx::<4, 8>(b"");
    let mut cl = [
        Client::new(1, Kind::Paced(100), &long, 0),
        Client::new(2, Kind::Paced(100), b"short", 8_000),
        Client::new(3, Kind::Waiting, &long[..40], 9_000),
    ];
    let w = World::run(&mut r, &mut cl);
    let out = w.stdout();
    let mut expect = long.clone();
    expect.push(b'\n');
    expect.extend_from_slice(b"short\n");
    expect.extend_from_slice(&long[..40]);
    expect.push(b'\n');
    assert_eq!(
        std::string::String::from_utf8_lossy(&out),
        std::string::String::from_utf8_lossy(&expect)
    );
    // Nothing is wrong with any message; client 3's reply was withheld
    // from its 8th byte (about 10.1 ms) to the end of client 1's message
    // (101 × 8 − 1 bits of 100 µs: 80.7 ms), and it is told so.
    let late = Verdict {
        pid: 3,
        kind: VerdictKind::Late { ms: 70 },
    };
    assert_eq!(w.verdicts, [late]);
    // the long message came out in chunks of at most B - 1 bytes
    assert!(w.written.iter().all(|(_, b)| b.len() <= 8));
    assert!(w.written.iter().filter(|(pid, _)| *pid == 1).count() >= 100 / 7);
    // the waiting client was held back while the first one streamed
    assert!(w.traces.contains(&Trace::Stalled(3)));
    assert_eq!(r.active(), 0);
}

#[test]
fn a_waiting_client_held_behind_a_long_message_hears_its_end_once_printed() {
    let long: Vec<u8> = (0..60u8).map(|i| b'a' + i % 26).collect();
    let mut r = rx::<4, 8>(b"");
    let mut cl = [
        Client::new(1, Kind::Paced(100), &long, 0),
        Client::new(2, Kind::Waiting, b"short", 8_000),
    ];
    cl[1].stays = true;
    let w = World::run(&mut r, &mut cl);
    let mut expect = long.clone();
    expect.extend_from_slice(b"\nshort\n");
    assert_eq!(w.stdout(), expect);
    assert_eq!(w.written.last(), Some(&(2, b"short\n".to_vec())));
    // its end (SIGUSR2, after the last bit's SIGUSR1) comes after its write
    let written = w.log.iter().position(|e| *e == (2, None)).unwrap();
    let done = w.log.iter().position(|e| *e == (2, Some(Usr2))).unwrap();
    assert!(written < done, "{:?}", w.log);
    assert!(cl[0].heard.is_empty(), "it catches nothing");
    // Its end, at 8,000 + 48 × 20 µs, was acknowledged at the end of
    // client 1's message (61 × 8 − 1 bits of 100 µs: 48.7 ms): late.
    let late = Verdict {
        pid: 2,
        kind: VerdictKind::Late { ms: 39 },
    };
    assert_eq!(w.verdicts, [late]);
    assert_eq!(r.active(), 0);
}

#[test]
fn second_paced_overflow_while_streaming_is_dropped_and_reported() {
    let long: Vec<u8> = (0..60u8).map(|i| b'a' + i % 26).collect();
    let mut r = rx::<4, 8>(b"");
    let mut cl = [
        Client::new(1, Kind::Paced(100), &long, 0),
        Client::new(2, Kind::Paced(100), b"0123456789abc", 8_000),
    ];
    let w = World::run(&mut r, &mut cl);
    let out = w.stdout();
    assert!(out.starts_with(&long));
    assert!(w
        .verdicts
        .iter()
        .any(|v| v.pid == 2 && matches!(v.kind, VerdictKind::Dropped { bytes } if bytes > 0)));
    // no line mixes the two clients
    for line in out.split(|&b| b == b'\n') {
        assert!(
            line.iter().all(|b| b.is_ascii_lowercase())
                || line
                    .iter()
                    .all(|b| !b.is_ascii_lowercase() || b"abc".contains(b))
        );
    }
}

#[test]
fn invalid_utf8_is_printed_and_reported() {
    let mut r = rx::<2, 64>(b"");
    let mut cl = [Client::new(5, Kind::Paced(100), b"ok\xffno", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"ok\xffno\n");
    assert_eq!(w.verdicts[0].kind, VerdictKind::InvalidUtf8 { at: 2 });
    let mut r = rx::<2, 64>(b"");
    let mut cl = [Client::new(5, Kind::Paced(100), b"cut \xc3", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.verdicts[0].kind, VerdictKind::InvalidUtf8 { at: 4 });
}

#[test]
fn a_client_answered_per_bit_that_exits_mid_byte_is_not_called_too_fast() {
    // It catches SIGUSR1 and exits after 3 bits (as a self-paced client
    // that exits on the first SIGUSR1 it gets does): the verdict says it
    // exited; one that catches nothing and falls silent mid-byte lost
    // signals: too fast.
    for (catches, exited) in [(Catches::BOTH, true), (Catches::NONE, false)] {
        let mut r = rx::<2, 64>(b"");
        let mut cl = [Client::new(8, Kind::Paced(100), b"Hi", 0)];
        cl[0].catches = catches;
        cl[0].die_after = Some(3);
        let w = World::run(&mut r, &mut cl);
        assert!(
            w.verdicts
                .iter()
                .any(|v| v.kind == VerdictKind::PartialByte { bits: 3, exited }),
            "{:?}",
            w.verdicts
        );
    }
}

#[test]
fn no_verdict_blames_a_client_that_waits_for_replies() {
    // Slow to send each bit after its reply (a loaded machine: 900 ms, less
    // than the second of silence that ends its message), waiting for its
    // echo, or held back while another message streams: each is printed
    // exactly and no verdict is about it, with the convention detected or
    // pinned.
    for detect in [true, false] {
        let mut r: ClassicReceiver<4, 8> = if detect { rx_detect() } else { rx(b"") };
        let long: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        let mut cl = [
            Client::new(1, Kind::Paced(100), &long, 0),
            Client::new(2, Kind::Slow(900_000), b"slow", 0),
            Client::new(3, Kind::Echo, b"echo", 100),
            Client::new(4, Kind::Waiting, b"held back", 10_000),
        ];
        if detect {
            cl[2].wire = Some(Convention::parse(b"lsb,usr1").unwrap());
        }
        let w = World::run(&mut r, &mut cl);
        let out = |pid| w.output_of(pid);
        assert_eq!(out(2), b"slow\n", "detect {detect}");
        assert_eq!(out(3), b"echo\n", "detect {detect}");
        assert_eq!(out(4), b"held back\n", "detect {detect}");
        assert!(w.traces.contains(&Trace::Stalled(4)), "it was held back");
        // Only client 1 (it paces itself, and its bytes that found the
        // output held were dropped) is told what went wrong; client 4 is
        // told how late our reply was: about us.
        let late = |v: &Verdict| matches!(v.kind, VerdictKind::Late { .. });
        assert!(
            w.verdicts
                .iter()
                .all(|v| v.pid == 1 || v.pid == 4 && late(v)),
            "detect {detect}: {:?}",
            w.verdicts
        );
        assert!(w.verdicts.iter().any(late), "{:?}", w.verdicts);
    }
}

#[test]
fn a_reply_withheld_while_another_message_prints_is_reported_with_how_late() {
    // Client 2 waits per bit (its next bit 20 µs after each reply): its
    // eighth byte finds its 7-byte buffer full while client 1's long
    // message streams, at its bit 63 (10,000 + 63 × 20 µs = 11,260 µs).
    // Its reply is withheld until client 1's NUL ends that message, at its
    // bit 41 × 8 − 1 = 327 (32,700 µs): 21.44 ms late, said in whole
    // milliseconds. It then goes on, and is printed exactly.
    let mut r: ClassicReceiver<2, 8> = rx(b"");
    let long: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
    let mut cl = [
        Client::new(1, Kind::Paced(100), &long, 0),
        Client::new(2, Kind::Waiting, b"held back", 10_000),
    ];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.about(2), [VerdictKind::Late { ms: 21 }]);
    assert_eq!(w.about(1), []);
    assert_eq!(w.output_of(2), b"held back\n");
}

#[test]
fn a_client_that_did_not_wait_for_a_withheld_reply_is_not_told_it_was_late() {
    // Client 2 catches both signals, so it is answered per bit, but it
    // paces itself: its buffer fills while client 1 streams, its reply is
    // withheld, and it goes on sending (its bytes that do not fit are
    // dropped and reported). It did not wait: no late line about it.
    let mut r: ClassicReceiver<2, 8> = rx(b"");
    let long: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
    let mut cl = [
        Client::new(1, Kind::Paced(100), &long, 0),
        Client::new(2, Kind::Paced(100), b"0123456789abc", 10_000),
    ];
    cl[1].catches = Catches::BOTH;
    let w = World::run(&mut r, &mut cl);
    assert!(w.traces.contains(&Trace::Stalled(2)), "it was held back");
    let about_2 = w.about(2);
    assert!(
        about_2
            .iter()
            .any(|k| matches!(k, VerdictKind::Dropped { .. })),
        "{about_2:?}"
    );
    assert!(
        !about_2
            .iter()
            .any(|k| matches!(k, VerdictKind::Late { .. })),
        "{about_2:?}"
    );
}

/// A receiver of `--classic` without a LIST: it detects each client's
/// convention.
fn rx_detect<const N: usize, const B: usize>() -> ClassicReceiver<N, B> {
    ClassicReceiver::new(
        Default::default(),
        Convention::option(b"--classic").unwrap().unwrap(),
    )
}

#[test]
fn each_client_bit_order_signal_meaning_and_header_is_detected() {
    for items in [
        &b""[..],
        b"lsb",
        b"usr1",
        b"lsb,usr1",
        b"len32",
        b"lsb,len32",
        b"usr1,len64",
        b"lsb,len64,none",
        b"lead",
        b"lsb,usr1,lead",
    ] {
        let wire = Convention::parse(items).unwrap();
        for msg in [
            &b"Hello, 42!"[..],
            "\u{fc}n\u{ef}code \u{2713}".as_bytes(),
            b"a",
            b"Hi\n",
            b"",
        ] {
            for kind in [Kind::Waiting, Kind::Paced(150)] {
                let mut r = rx_detect::<2, 64>();
                let mut cl = [Client::new(4, kind, msg, 0)];
                cl[0].wire = Some(wire);
                let w = World::run(&mut r, &mut cl);
                let mut line = msg.to_vec();
                // On the `lead` wire, a '\n' before the NUL ends the line.
                if !(wire.header == Header::Lead && msg.ends_with(b"\n")) {
                    line.push(b'\n');
                }
                assert_eq!(w.stdout(), line, "{items:?} {msg:?}");
                let silent_end = wire.end == End::None && !wire.header.is_length();
                if !silent_end {
                    assert!(w.verdicts.is_empty(), "{items:?} {msg:?}: {:?}", w.verdicts);
                }
                if !msg.is_empty() {
                    let detected = Trace::Detected {
                        pid: 4,
                        order: wire.order,
                        one: wire.one,
                        header: wire.header,
                    };
                    assert!(w.traces.contains(&detected), "{items:?} {msg:?}");
                }
            }
        }
    }
}

#[test]
fn clients_of_different_conventions_at_once_are_each_detected() {
    let mut r = rx_detect::<4, 64>();
    let mut cl = [
        Client::new(1, Kind::Paced(100), b"first, MSB", 0),
        Client::new(2, Kind::Paced(130), b"second, LSB", 37),
        Client::new(3, Kind::Waiting, b"third, SIGUSR1 is 1", 55),
    ];
    cl[1].wire = Some(Convention::parse(b"lsb").unwrap());
    cl[2].wire = Some(Convention::parse(b"usr1").unwrap());
    let w = World::run(&mut r, &mut cl);
    let mut lines: Vec<_> = w.written.clone();
    lines.sort();
    assert_eq!(
        lines,
        [
            (1, b"first, MSB\n".to_vec()),
            (2, b"second, LSB\n".to_vec()),
            (3, b"third, SIGUSR1 is 1\n".to_vec())
        ]
    );
    assert!(w.verdicts.is_empty(), "{:?}", w.verdicts);
}

#[test]
fn a_list_pins_the_convention_and_nothing_is_suggested() {
    // An LSB client read MSB first, as the LIST says: its bytes as
    // received, each reversed, and no convention suggested.
    let mut r = rx::<2, 64>(b"msb");
    let mut cl = [Client::new(5, Kind::Waiting, b"Hello", 0)];
    cl[0].wire = Some(Convention::parse(b"lsb").unwrap());
    let w = World::run(&mut r, &mut cl);
    let mut expect: Vec<u8> = b"Hello".iter().map(|b| b.reverse_bits()).collect();
    expect.push(b'\n');
    assert_eq!(w.stdout(), expect);
    assert!(!w.traces.iter().any(|t| matches!(t, Trace::Detected { .. })));
    assert!(w
        .verdicts
        .iter()
        .all(|v| matches!(v.kind, VerdictKind::InvalidUtf8 { .. })));
}

#[test]
fn bytes_that_read_as_text_in_no_convention_are_read_by_the_default() {
    // Each reads as a control character, a stray continuation byte or an
    // invalid byte in all four conventions: read MSB first, SIGUSR2 = 1,
    // and printed as received; nothing suggested.
    let mut r = rx_detect::<2, 64>();
    let mut cl = [Client::new(6, Kind::Waiting, b"\x01\x01", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"\x01\x01\n");
    assert!(w.traces.contains(&Trace::Detected {
        pid: 6,
        order: crate::classic::BitOrder::Msb,
        one: Usr2,
        header: Header::None,
    }));
}

#[test]
fn a_client_silent_before_its_convention_is_known_is_decoded_and_reported() {
    // 12 bits, then silence: decoded under the first convention that reads
    // them as text, the unfinished byte reported.
    let mut r = rx_detect::<2, 64>();
    let mut cl = [Client::new(7, Kind::Paced(100), b"Hi", 0)];
    cl[0].die_after = Some(12);
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"H\n");
    assert!(w.verdicts.iter().any(|v| v.kind
        == VerdictKind::PartialByte {
            bits: 4,
            exited: false
        }));
    assert_eq!(r.active(), 0);
}

#[test]
fn a_full_table_ignores_new_processes() {
    let mut r = rx::<1, 64>(b"");
    let mut cl = [
        Client::new(1, Kind::Paced(100), b"in", 0),
        Client::new(2, Kind::Paced(100), b"out", 50),
    ];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"in\n");
    assert!(w.traces.contains(&Trace::NoSlot(2)));
}

#[test]
fn trace_gives_each_bit_with_the_time_since_the_previous_signal() {
    let mut r = rx::<1, 64>(b"");
    let mut cl = [Client::new(1, Kind::Paced(250), "xé".as_bytes(), 0)];
    let w = World::run(&mut r, &mut cl);
    let bits: Vec<_> = w
        .traces
        .iter()
        .filter_map(|t| match t {
            Trace::Bits {
                pid,
                bits,
                n,
                gaps,
                read,
            } => Some((*pid, *bits, *n, *gaps, *read)),
            _ => None,
        })
        .collect();
    let mut gaps = [250; 8];
    gaps[0] = Trace::FIRST;
    let x = Read::Byte {
        byte: b'x',
        offset: 0,
        text: Text::Char('x'),
    };
    assert_eq!(bits[0], (1, b'x', 8, gaps, x));
    let [e1, e2] = "é".as_bytes() else { panic!() };
    assert_eq!(
        bits[1].4,
        Read::Byte {
            byte: *e1,
            offset: 1,
            text: Text::More
        }
    );
    assert_eq!(bits[2].1, *e2);
    assert_eq!(bits[2].3, [250; 8]);
    assert_eq!(
        bits[2].4,
        Read::Byte {
            byte: *e2,
            offset: 2,
            text: Text::Char('é')
        }
    );
    assert_eq!(
        bits[3].4,
        Read::Byte {
            byte: 0,
            offset: 3,
            text: Text::Char('\0')
        }
    );
    assert_eq!(bits.len(), 4);
}

#[test]
fn trace_shows_the_bits_of_a_header_and_of_an_unfinished_byte() {
    let mut r = rx::<1, 64>(b"len32");
    let mut cl = [Client::new(1, Kind::Paced(100), b"ab", 0)];
    cl[0].die_after = Some(32 + 8 + 3);
    let w = World::run(&mut r, &mut cl);
    let reads: Vec<_> = w
        .traces
        .iter()
        .filter_map(|t| match t {
            Trace::Bits { n, read, .. } => Some((*n, *read)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reads,
        [
            (8, Read::Header),
            (8, Read::Header),
            (8, Read::Header),
            (8, Read::Length(2)),
            (
                8,
                Read::Byte {
                    byte: b'a',
                    offset: 0,
                    text: Text::Char('a')
                }
            ),
            (3, Read::Unfinished),
        ]
    );
    assert_eq!(w.stdout(), b"a\n");
}

/// The first bad byte as the standard library sees it.
fn std_bad(bytes: &[u8]) -> Option<u64> {
    core::str::from_utf8(bytes)
        .err()
        .map(|e| e.valid_up_to() as u64)
}

#[test]
fn utf8_agrees_with_the_standard_library() {
    // Every string of up to two bytes, and every three-byte one that
    // starts with a lead of a longer sequence.
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for a in 0..=255u8 {
        cases.push(std::vec![a]);
        for b in 0..=255u8 {
            cases.push(std::vec![a, b]);
            if a >= 0xE0 && b >= 0x80 {
                for c in [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF] {
                    cases.push(std::vec![a, b, c]);
                    cases.push(std::vec![a, b, 0x80, c]);
                }
            }
        }
    }
    for bytes in cases {
        let mut u = Utf8::START;
        let mut chars = std::string::String::new();
        for (i, &b) in bytes.iter().enumerate() {
            if let Text::Char(c) = u.push(b, i as u64) {
                chars.push(c);
            }
        }
        assert_eq!(u.finish(), std_bad(&bytes), "{bytes:x?}");
        if let Ok(s) = core::str::from_utf8(&bytes) {
            assert_eq!(chars, s, "{bytes:x?}");
        }
    }
}

#[test]
fn utf8_errors_are_found_and_decoding_goes_on() {
    let mut u = Utf8::START;
    let texts: Vec<_> = b"a\xc3(\xe2\x82\xac\xff"
        .iter()
        .enumerate()
        .map(|(i, &b)| u.push(b, i as u64))
        .collect();
    assert_eq!(
        texts,
        [
            Text::Char('a'),
            Text::More,
            Text::Char('('),
            Text::More,
            Text::More,
            Text::Char('€'),
            Text::Bad
        ]
    );
    assert_eq!(u.finish(), Some(1));
    let mut u = Utf8::START;
    for (i, &b) in "ok ü".as_bytes().iter().enumerate() {
        u.push(b, i as u64);
    }
    assert_eq!(u.finish(), None);
    u.push(0xF0, 5);
    assert_eq!(u.finish(), Some(5));
    // surrogates and overlong forms are not UTF-8
    for bad in [
        &b"\xed\xa0\x80"[..],
        b"\xc0\x80",
        b"\xe0\x80\x80",
        b"\xf4\x90\x80\x80",
    ] {
        let mut u = Utf8::START;
        for (i, &b) in bad.iter().enumerate() {
            u.push(b, i as u64);
        }
        assert_eq!(u.finish(), Some(0), "{bad:?}");
    }
}

#[test]
fn slow_paced_client_is_taken_as_waiting_harmlessly() {
    // 20 ms per bit is longer than the hold: it is answered per bit,
    // which a client that catches SIGUSR1 survives.
    let mut r = rx::<1, 64>(b"");
    let mut cl = [Client::new(1, Kind::Paced(20_000), b"slow", 0)];
    let w = World::run(&mut r, &mut cl);
    assert_eq!(w.stdout(), b"slow\n");
}

/// The long message of [`held_behind_a_stream`]'s client 1.
const STREAMED: &[u8] = b"abcdefghij";

/// Client 1 (self-paced) has sent 80 bits of [`STREAMED`] and streams;
/// client 2 (waiting per bit) has sent all of `hi`, whose message is held
/// behind 1's, its end withheld.
fn held_behind_a_stream() -> (ClassicReceiver<4, 8>, [Client; 2], World) {
    let mut r = rx::<4, 8>(b"");
    let c = r.convention();
    let mut cl = [
        Client::new(1, Kind::Paced(100), STREAMED, 0),
        Client::new(2, Kind::Waiting, b"hi", 0),
    ];
    let mut w = World::default();
    // 1 paces itself and streams: its 8th byte found the buffer full.
    let long = Encoder::new(c, STREAMED).unwrap();
    for i in 0..80 {
        let sig = long.signal_at(i).unwrap();
        w.on_signal(&mut r, &mut cl, 1, sig, at_us(100 * i));
    }
    assert_eq!(w.written, [(1, b"abcdefg".to_vec())]);
    // 2 waits for a reply per bit; its message ends while 1 streams: it is
    // held, and the acknowledgement of its end withheld.
    let short = Encoder::new(c, b"hi").unwrap();
    w.on_signal(
        &mut r,
        &mut cl,
        2,
        short.signal_at(0).unwrap(),
        at_us(10_000),
    );
    w.drain(&mut r, &mut cl, at_us(20_001));
    for i in 1..short.bits() {
        let sig = short.signal_at(i).unwrap();
        w.on_signal(&mut r, &mut cl, 2, sig, at_us(20_001 + 100 * i));
    }
    assert!(w.traces.contains(&Trace::Stalled(2)));
    (r, cl, w)
}

#[test]
fn a_reply_cut_short_is_neither_sent_nor_called_late() {
    // A write is cut short (in the server: a stop came while stdout was
    // full), then 1's message ends: 2's message is written, but its reply
    // is not sent, so it is not called late either.
    let (mut r, mut cl, mut w) = held_behind_a_stream();
    let sends = w.sends.len();
    w.cut = true;
    let long = Encoder::new(r.convention(), STREAMED).unwrap();
    for i in 80..long.bits() {
        let sig = long.signal_at(i).unwrap();
        w.on_signal(&mut r, &mut cl, 1, sig, at_us(30_000 + 100 * i));
    }
    assert_eq!(w.written.last(), Some(&(2, b"hi\n".to_vec())));
    assert_eq!(w.sends.len(), sends, "nothing sent once cut");
    assert_eq!(w.about(2), [], "about 2: {:?}", w.verdicts);
}

#[test]
fn stop_prints_what_is_being_received_with_its_verdicts_and_sends_nothing() {
    let (mut r, mut cl, mut w) = held_behind_a_stream();
    // Time passes (a poll with nothing due): 2's end is withheld for 7 ms
    // by the time the server stops, but no reply is sent then, so none is
    // called late.
    w.drain(&mut r, &mut cl, at_us(30_000));
    let sends = w.sends.len();
    w.verdicts.clear();

    r.stop(&mut Fx {
        w: &mut w,
        clients: &mut cl,
        now: at_us(30_000),
    });
    assert_eq!(
        w.written[1..],
        [(1, b"hij\n".to_vec()), (2, b"hi\n".to_vec())],
        "the streaming message ends, then the held one is written"
    );
    assert_eq!(
        w.verdicts,
        [Verdict {
            pid: 1,
            kind: VerdictKind::NoNul
        }]
    );
    assert_eq!(w.sends.len(), sends, "nothing sent once stopped");
    assert_eq!(r.active(), 0);
    assert_eq!(r.poll_timeout(), None);
}

/// `n` signals from `pid`, 50 µs apart from `*t` on.
fn bits_from(
    w: &mut World,
    r: &mut ClassicReceiver<4, 64>,
    cl: &mut [Client],
    t: &mut u64,
    pid: Pid,
    n: usize,
) {
    for _ in 0..n {
        *t += 50;
        w.on_signal(r, cl, pid, Usr2, at_us(*t));
    }
}

#[test]
fn only_a_client_alone_and_answered_per_bit_is_tried_on_its_cpu() {
    let mut r = rx::<4, 64>(b"");
    let mut cl = [
        Client::new(21, Kind::Waiting, b"", 0),
        Client::new(22, Kind::Paced(100), b"", 0),
    ];
    let (mut w, mut t) = (World::default(), 0);
    // Its first signal, then SAMPLES gaps: moved to its CPU for the trial.
    bits_from(&mut w, &mut r, &mut cl, &mut t, 21, pin::SAMPLES);
    assert_eq!(r.serving(), None);
    bits_from(&mut w, &mut r, &mut cl, &mut t, 21, 1);
    assert_eq!(r.serving(), Some(21));
    // A second sender: nobody's CPU.
    bits_from(&mut w, &mut r, &mut cl, &mut t, 22, 1);
    assert_eq!(r.serving(), None);
    // Alone again (the other forgotten): tried again; forgotten after its
    // own silence: nobody's CPU.
    w.drain(&mut r, &mut cl, at_us(t + 300_000));
    assert_eq!(r.active(), 1);
    t += 300_000;
    bits_from(&mut w, &mut r, &mut cl, &mut t, 21, pin::SAMPLES + 1);
    assert_eq!(r.serving(), Some(21));
    w.drain(&mut r, &mut cl, at_us(t + 2_000_000));
    assert_eq!(r.active(), 0);
    assert_eq!(r.serving(), None);
    // Never answered per bit: never tried, alone or not.
    let mut r = rx::<4, 64>(b"");
    bits_from(&mut w, &mut r, &mut cl, &mut t, 22, 3 * pin::SAMPLES);
    assert_eq!(r.serving(), None);
    let shared = |t: &Trace| matches!(t, Trace::Shared { pid: 22, .. });
    assert!(!w.traces.iter().any(shared));
}
