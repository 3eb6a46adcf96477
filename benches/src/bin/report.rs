//! `report`: one command that prints how close minitalk runs to the raw
//! signal limit, with the machine it ran on.
//!
//! ```text
//! cargo run --release -p minitalk-benches --bin report [-- --rounds N]
//! ```
//!
//! In one run, interleaved round by round (so that a noisy, shared machine
//! hurts every figure alike), it measures:
//! - the raw kill-and-acknowledge ping-pong, in round trips per second, with
//!   handlers, with `sigwaitinfo`, and mixed as minitalk does (see
//!   `minitalk_benches::pingpong`), unpinned and on one CPU;
//! - the real server and client: a 10 KB message, client start to client
//!   exit, in kbit/s of payload, by default (client pinned, server following
//!   it) and with `--no-pin` on both;
//! - the latency of a 100-byte message, client start to exit.
//!
//! Then it prints the ratios e2e bits/s ÷ raw round trips/s (one bit per
//! round trip: 1.0 would be the raw limit), the server's peak RSS after a
//! 1 KiB and after a 1 MiB message, and the sizes of the static musl
//! binaries. Medians over the rounds, with [min–max]. About two minutes.
//!
//! The binaries measured are the static musl build that `make` ships, built
//! into `target/bench-bins` (the host build if that target is missing), or
//! those in `$MINITALK_BIN_DIR`.

use std::io;
use std::path::Path;
use std::time::Instant;

use minitalk_benches::pingpong::{PingPong, Placement, Wait};
use minitalk_benches::procs::{self, workspace_root, Binaries, Scratch, Server};
use minitalk_benches::{children, kbit_per_s, machine, Summary};

/// Round trips timed per raw measurement (after as many again to warm up).
const ROUND_TRIPS: u64 = 20_000;
/// Client runs of the 100-byte message per round and placement.
const LATENCY_RUNS: usize = 3;
/// The throughput message.
const E2E_BYTES: usize = 10 * 1024;
/// The latency message.
const SMALL_BYTES: usize = 100;
/// Client runs tried for one measurement before it is given up.
const ATTEMPTS: usize = 3;

/// No options: the defaults (client pinned, server following it).
const NO_ARGS: &[&str] = &[];

/// One measurement of a round.
#[derive(Clone, Copy, Debug)]
enum Task {
    Raw(Wait, Placement),
    E2e(Placement),
    Latency(Placement),
}

/// Everything measured, by placement (index: `Placement::ALL`).
#[derive(Default)]
struct Results {
    /// Round trips/s, by wait (`Wait::ALL`) then placement.
    raw: [[Vec<f64>; 2]; 3],
    /// kbit/s of the 10 KB message.
    e2e: [Vec<f64>; 2],
    /// Milliseconds for the 100-byte message.
    latency: [Vec<f64>; 2],
    /// Client runs that failed (and were run again, untimed).
    failures: [Vec<String>; 2],
}

fn main() {
    children::install_panic_hook();
    let mut rounds = 7;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => rounds = n,
                _ => usage(),
            },
            "-h" | "--help" => {
                println!("{}", HELP.trim_end());
                return;
            }
            _ => usage(),
        }
    }
    if let Err(e) = run(rounds) {
        eprintln!("report: {e}");
        std::process::exit(1);
    }
}

const HELP: &str = "
Usage: report [--rounds N]

Measures raw signal round trips and minitalk's end-to-end throughput,
interleaved over N rounds (default 7), and prints a markdown report.
Binaries: $MINITALK_BIN_DIR, else a release build into target/bench-bins.
";

fn usage() -> ! {
    eprintln!("{}", HELP.trim());
    std::process::exit(2);
}

fn run(rounds: usize) -> io::Result<()> {
    let started = Instant::now();
    let bins = Binaries::locate_or_build()?;
    let scratch = Scratch::new("report")?;
    let big = scratch.message_file("10k", E2E_BYTES)?;
    let small = scratch.message_file("100", SMALL_BYTES)?;

    println!("# minitalk speed report\n");
    println!("- machine: {}", machine::describe());
    println!("- load average at start: {}", loadavg());
    println!("- binaries: {}", bins.origin());
    println!("- {rounds} rounds, interleaved; medians over the rounds, [min–max] across them\n");

    let pinned = Server::start(&bins, NO_ARGS, scratch.path())?;
    let free = Server::start(&bins, &["--no-pin"], scratch.path())?;
    let server = |p: Placement| {
        if p == Placement::OneCpu {
            &pinned
        } else {
            &free
        }
    };
    let client_args = |p: Placement| -> &'static [&'static str] {
        if p == Placement::OneCpu {
            &[]
        } else {
            &["--no-pin"]
        }
    };

    let mut tasks = Vec::new();
    for p in Placement::ALL {
        for w in Wait::ALL {
            tasks.push(Task::Raw(w, p));
        }
        tasks.push(Task::E2e(p));
        tasks.push(Task::Latency(p));
    }
    let mut res = Results::default();
    for round in 0..rounds {
        eprint!("\rreport: round {}/{rounds}…", round + 1);
        for &task in &tasks {
            match task {
                Task::Raw(w, p) => {
                    let mut pp = PingPong::start(w, p)?;
                    pp.round_trips(ROUND_TRIPS)?;
                    let t = pp.round_trips(ROUND_TRIPS)?;
                    res.raw[w as usize][p as usize].push(ROUND_TRIPS as f64 / t.as_secs_f64());
                }
                Task::E2e(p) => {
                    let failures = &mut res.failures[p as usize];
                    let sent = procs::send_until_ok(
                        &bins,
                        server(p),
                        &big,
                        client_args(p),
                        ATTEMPTS,
                        failures,
                    );
                    if let Ok(t) = sent {
                        res.e2e[p as usize].push(kbit_per_s(8 * E2E_BYTES as u64, t));
                    }
                }
                Task::Latency(p) => {
                    for _ in 0..LATENCY_RUNS {
                        let failures = &mut res.failures[p as usize];
                        let sent = procs::send_until_ok(
                            &bins,
                            server(p),
                            &small,
                            client_args(p),
                            ATTEMPTS,
                            failures,
                        );
                        if let Ok(t) = sent {
                            res.latency[p as usize].push(t.as_secs_f64() * 1e3);
                        }
                    }
                }
            }
        }
        // A different order each round: no figure always runs first.
        tasks.rotate_left(1);
    }
    eprintln!("\rreport: {rounds} rounds done; now the 1 MiB message for the RSS figures");
    // Every message printed whole; unless a run failed: then the server
    // may have dropped a message, or printed part of one.
    for p in Placement::ALL {
        let expected = (E2E_BYTES as u64 + 1) * res.e2e[p as usize].len() as u64
            + (SMALL_BYTES as u64 + 1) * res.latency[p as usize].len() as u64;
        if res.failures[p as usize].is_empty() && server(p).delivered()? != expected {
            return Err(io::Error::other(
                "a server did not print every message whole",
            ));
        }
    }
    drop((pinned, free));

    print_throughput(&res);
    print_latency(&res);
    print_rss(&bins, &scratch)?;
    print_sizes(&bins);
    println!(
        "\nLoad average at the end: {}. Total time: {:.0} s.",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn print_throughput(res: &Results) {
    // Wire bits of the 10 KB message: payload plus 48 bits per frame.
    let frames = E2E_BYTES.div_ceil(255);
    let wire = 8 * E2E_BYTES + 48 * frames;
    println!("## Throughput: end to end vs. the raw ping-pong floor\n");
    println!(
        "Raw: round trips/s of a bare kill-and-acknowledge ping-pong between two processes. \
         `handlers`: sigaction + ppoll on both sides; `sigwaitinfo`: blocked signals taken \
         with sigwaitinfo on both sides; `mixed`: sigtimedwait on the sending side, handlers \
         on the echoing side, as minitalk's client and server do. E2e: a {} KB message, \
         client start to exit, payload kbit/s.\n",
        E2E_BYTES / 1024,
    );
    println!("| placement | raw handlers, k rt/s | raw sigwaitinfo, k rt/s | raw mixed, k rt/s | e2e {} KB, kbit/s |", E2E_BYTES / 1024);
    println!("|---|---:|---:|---:|---:|");
    for p in Placement::ALL {
        let raw = |w: Wait| fmt(&res.raw[w as usize][p as usize], 1e-3, 1);
        println!(
            "| {} | {} | {} | {} | {} |",
            placement(p),
            raw(Wait::Handlers),
            raw(Wait::Sigwait),
            raw(Wait::Mixed),
            fmt(&res.e2e[p as usize], 1.0, 1),
        );
    }
    println!(
        "\nRatio: e2e bits/s ÷ raw round trips/s, paired within each round. minitalk needs a \
         round trip per bit, so 1.0 is the raw limit ({:.3} at most here: {} signals carry {} \
         payload bits); `mixed` is the fair floor for minitalk's arrangement.\n",
        (8 * E2E_BYTES) as f64 / wire as f64,
        wire,
        8 * E2E_BYTES
    );
    println!("| placement | e2e ÷ handlers | e2e ÷ sigwaitinfo | e2e ÷ mixed |");
    println!("|---|---:|---:|---:|");
    for p in Placement::ALL {
        let e2e = &res.e2e[p as usize];
        let ratio = |w: Wait| -> String {
            let pairs: Vec<f64> = e2e
                .iter()
                .zip(&res.raw[w as usize][p as usize])
                .map(|(kbit, rt)| kbit * 1e3 / rt)
                .collect();
            fmt(&pairs, 1.0, 3)
        };
        println!(
            "| {} | {} | {} | {} |",
            placement(p),
            ratio(Wait::Handlers),
            ratio(Wait::Sigwait),
            ratio(Wait::Mixed),
        );
    }
    println!();
    for p in Placement::ALL {
        let per_rt =
            |w: Wait| Summary::of(&res.raw[w as usize][p as usize]).map_or(0.0, |s| 1e6 / s.median);
        let per_bit = Summary::of(&res.e2e[p as usize]).map_or(0.0, |s| 1e3 / s.median);
        println!(
            "- {}: a raw round trip takes {:.2} µs (handlers), {:.2} µs (sigwaitinfo), \
             {:.2} µs (mixed); minitalk spends {:.2} µs per payload bit.",
            p.name(),
            per_rt(Wait::Handlers),
            per_rt(Wait::Sigwait),
            per_rt(Wait::Mixed),
            per_bit
        );
    }
    for p in Placement::ALL {
        let failures = &res.failures[p as usize];
        if let Some(first) = failures.first() {
            println!(
                "- {}: **{} client runs failed** (run again, untimed); the first: `{first}`",
                p.name(),
                failures.len()
            );
        }
    }
    println!();
}

/// A placement's row name.
fn placement(p: Placement) -> &'static str {
    match p {
        Placement::OneCpu => {
            "one CPU (raw: both pinned; e2e: default, client pinned, server follows)"
        }
        Placement::Unpinned => "unpinned (e2e: `--no-pin` on both)",
    }
}

fn print_latency(res: &Results) {
    let signals = 8 * SMALL_BYTES + 48;
    println!("## Latency of a {SMALL_BYTES}-byte message ({signals} signals)\n");
    println!("Client start to client exit (exec, checks, every bit acknowledged), in ms.\n");
    println!("| placement | runs | median | min | max |");
    println!("|---|---:|---:|---:|---:|");
    for p in Placement::ALL {
        let v = &res.latency[p as usize];
        if let Some(s) = Summary::of(v) {
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} |",
                p.name(),
                v.len(),
                s.median,
                s.min,
                s.max
            );
        }
    }
    println!();
}

fn print_rss(bins: &Binaries, scratch: &Scratch) -> io::Result<()> {
    let kib = scratch.message_file("1KiB", 1024)?;
    let mib = scratch.message_file("1MiB", 1024 * 1024)?;
    let show = |v: Option<u64>| v.map_or("?".into(), |k| format!("{k} KiB"));
    println!("## Server memory (peak RSS, VmHWM)\n");
    println!("| server | at start | after a 1 KiB message | after a 1 MiB message |");
    println!("|---|---:|---:|---:|");

    let server = Server::start(bins, NO_ARGS, scratch.path())?;
    let mut failures = Vec::new();
    let at_start = server.peak_rss_kib();
    procs::send_until_ok(bins, &server, &kib, NO_ARGS, ATTEMPTS, &mut failures)?;
    let after_kib = server.peak_rss_kib();
    // Over 8 million signals: two tries at most, the report must end.
    let sent = procs::send_until_ok(bins, &server, &mib, NO_ARGS, 2, &mut failures);
    let after_mib = server.peak_rss_kib();
    let kind = if bins.is_static() {
        "static"
    } else {
        "dynamically linked"
    };
    println!(
        "| measured build ({kind}) | {} | {} | {} |",
        show(at_start),
        show(after_kib),
        show(after_mib)
    );
    drop(server);

    // The shipped static build, if it was not the one measured: a 1 KiB message only.
    let musl = Binaries::shipped();
    if !bins.is_static() && musl.server.is_file() && musl.client.is_file() {
        let server = Server::start(&musl, NO_ARGS, scratch.path())?;
        let at_start = server.peak_rss_kib();
        let sent = procs::send_until_ok(&musl, &server, &kib, NO_ARGS, ATTEMPTS, &mut failures);
        let after_kib = sent.ok().and(server.peak_rss_kib());
        println!(
            "| static musl build | {} | {} | (not run) |",
            show(at_start),
            show(after_kib)
        );
    }
    println!();
    match sent {
        Ok(t) => println!(
            "The 1 MiB message took {:.1} s ({:.1} kbit/s, default placement).",
            t.as_secs_f64(),
            kbit_per_s(8 << 20, t)
        ),
        Err(e) => println!("The 1 MiB message failed twice (`{e}`): its peak is of partial runs."),
    }
    for f in &failures {
        println!("- a failed client run: `{f}`");
    }
    println!();
    Ok(())
}

fn print_sizes(bins: &Binaries) {
    // The binaries measured above if they are the static build, else the
    // last `cargo build --release --target x86_64-unknown-linux-musl`.
    let rebuilt = bins.is_static();
    let shown = if rebuilt {
        bins.clone()
    } else {
        Binaries::shipped()
    };
    let dir = shown.server.parent().unwrap_or(Path::new("")).to_path_buf();
    println!("## Static binaries (x86_64-unknown-linux-musl, release)\n");
    let size = |name: &str| std::fs::metadata(dir.join(name)).ok().map(|m| m.len());
    match (size("server"), size("client")) {
        (Some(s), Some(c)) => {
            println!("| binary | bytes | KiB |");
            println!("|---|---:|---:|");
            for (name, n) in [("server", s), ("client", c)] {
                println!("| {name} | {n} | {:.1} |", n as f64 / 1024.0);
            }
            if rebuilt {
                println!("\nThe binaries measured above, in {}.", relative(&dir));
            } else {
                println!(
                    "\nAs last built in {} (the report does not rebuild them).",
                    relative(&dir)
                );
            }
        }
        _ => println!(
            "Not built. Build them with `cargo build --release --target x86_64-unknown-linux-musl` \
             (or `cargo xtask static`), then run the report again."
        ),
    }
}

/// `values` times `scale` as `median [min–max]`.
fn fmt(values: &[f64], scale: f64, decimals: usize) -> String {
    match Summary::of(values) {
        Some(s) => format!(
            "{:.d$} [{:.d$}–{:.d$}]",
            s.median * scale,
            s.min * scale,
            s.max * scale,
            d = decimals
        ),
        None => "–".into(),
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let v: Vec<&str> = s.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}
