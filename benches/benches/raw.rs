//! The floor of any 1-bit stop-and-wait protocol: a bare kill-and-acknowledge
//! ping-pong between this process and a forked child (see
//! `minitalk_benches::pingpong`), in round trips per second.
//!
//! Handlers (`sigaction` + `ppoll`) on both sides, `sigwaitinfo` on both
//! sides, and minitalk's own mix (`sigtimedwait` on the sending side,
//! handlers on the echoing side); each unpinned and with both processes
//! pinned to one CPU. minitalk moves one bit per round trip, so its bits per
//! second can at best match the round trips per second measured here.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use minitalk_benches::pingpong::{PingPong, Placement, Wait};

fn raw(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        // One iteration is one round trip: two signals, two wake-ups.
        .throughput(Throughput::Elements(1));
    for wait in Wait::ALL {
        for placement in Placement::ALL {
            let mut pp = PingPong::start(wait, placement).expect("start the ping-pong partner");
            group.bench_function(BenchmarkId::new(wait.name(), placement.name()), |b| {
                b.iter_custom(|round_trips| pp.round_trips(round_trips).expect("ping-pong"));
            });
            drop(pp);
        }
    }
    group.finish();
}

criterion_group!(benches, raw);
criterion_main!(benches);
