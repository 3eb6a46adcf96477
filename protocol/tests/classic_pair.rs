//! Our classic client against our classic server, in simulation: the two
//! state machines find each other's pacing and the message arrives exactly.

use minitalk_protocol::classic::{
    ClassicPoll, ClassicReceiver, ClassicSender, ClassicSenderConfig, Convention, Pacing,
};
use minitalk_protocol::{Catches, Duration, Effects, Instant, Pid, Signal};

const CLIENT: i32 = 4242;

/// The server's world: what it writes, and its replies on their way.
struct Fx<'a> {
    written: &'a mut Vec<u8>,
    to_client: &'a mut Vec<(Instant, Signal)>,
    arrive: Instant,
}

impl Effects for Fx<'_> {
    fn catches(&mut self, _: Pid) -> Catches {
        Catches::BOTH
    }

    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        assert_eq!(to, CLIENT);
        self.to_client.push((self.arrive, signal));
        true
    }

    fn write(&mut self, _: Pid, bytes: &[u8]) {
        self.written.extend_from_slice(bytes);
    }

    fn alive(&mut self, _: Pid) -> Option<u64> {
        Some(1)
    }
}

/// Runs a whole transfer; every signal takes `latency` to arrive. Returns
/// what the server wrote, whether the client found acknowledgements, and the
/// replies it heard.
fn transfer(items: &[u8], pacing: Option<Pacing>, msg: &[u8]) -> (Vec<u8>, bool, Vec<Signal>) {
    let c = Convention::parse(items).unwrap();
    let mut config = ClassicSenderConfig::default();
    if let Some(p) = pacing {
        config.pacing = p;
    }
    let mut tx = ClassicSender::new(config, c, msg).unwrap();
    let mut rx: ClassicReceiver<4, 32> = ClassicReceiver::new(Default::default(), c);
    let latency = Duration::from_micros(30);
    let mut now = Instant::ZERO;
    let mut written = Vec::new();
    let mut heard = Vec::new();
    let mut to_server: Vec<(Instant, Signal)> = Vec::new();
    let mut to_client: Vec<(Instant, Signal)> = Vec::new();
    let mut done = false;
    for _ in 0..1_000_000 {
        if !done {
            match tx.poll(now) {
                ClassicPoll::Send(s) => {
                    to_server.push((now.saturating_add(latency), s));
                    continue;
                }
                ClassicPoll::Done => done = true,
                ClassicPoll::Failed(f) => panic!("{f:?}"),
                ClassicPoll::Wait { .. } => {}
            }
        }
        // the next event: a delivery, a receiver timer or the sender's deadline
        let tx_at = match tx.poll(now) {
            ClassicPoll::Wait { until } => Some(until),
            _ => None,
        };
        let next = [
            to_server.first().map(|e| e.0),
            to_client.first().map(|e| e.0),
            rx.poll_timeout(),
            tx_at,
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            return (written, tx.acknowledged(), heard);
        };
        now = now.max(next);
        let mut fx = Fx {
            written: &mut written,
            to_client: &mut to_client,
            arrive: now.saturating_add(latency),
        };
        if to_server.first().is_some_and(|e| e.0 <= now) {
            let (_, s) = to_server.remove(0);
            rx.on_signal(CLIENT, s, now, &mut fx);
        }
        rx.poll(now, &mut fx);
        if to_client.first().is_some_and(|e| e.0 <= now) {
            let (_, s) = to_client.remove(0);
            heard.push(s);
            tx.on_reply(s, now);
        }
    }
    panic!("no end");
}

#[test]
fn auto_pacing_finds_our_server_acknowledges_every_bit() {
    for items in [
        &b""[..],
        b"lsb,usr1",
        b"len32",
        b"len64,none",
        b"then",
        b"echo",
    ] {
        let (out, acked, _) = transfer(items, None, "ünïcode".as_bytes());
        assert_eq!(out, "ünïcode\n".as_bytes(), "{items:?}");
        assert!(acked);
    }
}

#[test]
fn fixed_pace_is_answered_per_bit_harmlessly() {
    // It catches both: each bit is answered at once, and it goes on at
    // its pace; still there after its message (this simulation keeps it),
    // it is sent "done".
    let pacing = Pacing::Fixed(Duration::from_micros(150));
    let (out, acked, heard) = transfer(b"", Some(pacing), b"paced");
    assert_eq!(out, b"paced\n");
    assert!(!acked);
    let mut expect = vec![Signal::Usr1; 48];
    expect.push(Signal::Usr2);
    assert_eq!(heard, expect);
}
