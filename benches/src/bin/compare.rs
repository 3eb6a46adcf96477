//! `compare`: two builds of minitalk, end to end, in one interleaved run.
//!
//! ```text
//! cargo run --release -p minitalk-benches --bin compare -- OLD_DIR NEW_DIR [--rounds N] [--bytes N] [--no-pin]
//! ```
//!
//! Each directory holds a `server` and a `client`. One server of each build
//! runs for the whole measurement; each round sends the same message
//! (10 KB by default) once through each build, client start to client exit,
//! in alternating order (old first in even rounds, new first in odd ones),
//! so that a noisy, shared machine hurts both alike. It prints the medians,
//! [min–max], and the ratio of the new build's median throughput to the
//! old one's: 1.0 is no change, above 1 is faster.
//!
//! Failed client runs (possible on a busy machine) are counted, run again
//! and not timed; a server that did not print every message whole fails
//! the run.

use std::io;
use std::path::PathBuf;

use minitalk_benches::procs::{self, Binaries, Scratch, Server};
use minitalk_benches::{kbit_per_s, machine, Summary};

/// Client runs tried for one measurement before it is given up.
const ATTEMPTS: usize = 3;

const HELP: &str = "
Usage: compare OLD_DIR NEW_DIR [--rounds N] [--bytes N] [--no-pin]

Sends the same message through two builds of minitalk (each directory holds
a server and a client), interleaved over N rounds (default 21), and prints
the medians of each and the ratio new/old of the median throughputs.
--bytes: the message size (default 10240). --no-pin: both sides unpinned.
";

fn usage() -> ! {
    eprintln!("{}", HELP.trim());
    std::process::exit(2);
}

struct Options {
    dirs: Vec<PathBuf>,
    rounds: usize,
    bytes: usize,
    pin: bool,
}

fn main() {
    let mut opts = Options {
        dirs: Vec::new(),
        rounds: 21,
        bytes: 10 * 1024,
        pin: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
        match arg.as_str() {
            "--rounds" => opts.rounds = number().unwrap_or_else(|| usage()),
            "--bytes" => opts.bytes = number().unwrap_or_else(|| usage()),
            "--no-pin" => opts.pin = false,
            "-h" | "--help" => {
                println!("{}", HELP.trim());
                return;
            }
            _ if !arg.starts_with('-') => opts.dirs.push(PathBuf::from(arg)),
            _ => usage(),
        }
    }
    if opts.dirs.len() != 2 {
        usage();
    }
    if let Err(e) = run(&opts) {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

fn run(opts: &Options) -> io::Result<()> {
    let builds: Vec<Binaries> = opts
        .dirs
        .iter()
        .map(|dir| Binaries {
            server: dir.join("server"),
            client: dir.join("client"),
        })
        .collect();
    for path in builds.iter().flat_map(|b| [&b.server, &b.client]) {
        if !path.is_file() {
            return Err(io::Error::other(format!("no binary at {}", path.display())));
        }
    }
    let scratch = Scratch::new("compare")?;
    let message = scratch.message_file("message", opts.bytes)?;
    let args: &[&str] = if opts.pin { &[] } else { &["--no-pin"] };
    let servers = builds
        .iter()
        .map(|b| Server::start(b, args, scratch.path()))
        .collect::<io::Result<Vec<_>>>()?;

    let mut times: [Vec<f64>; 2] = Default::default();
    let mut failures: [Vec<String>; 2] = Default::default();
    for round in 0..opts.rounds {
        eprint!("\rcompare: round {}/{}…", round + 1, opts.rounds);
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let sent = procs::send_until_ok(
                &builds[i],
                &servers[i],
                &message,
                args,
                ATTEMPTS,
                &mut failures[i],
            );
            if let Ok(t) = sent {
                times[i].push(t.as_secs_f64() * 1e3);
            }
        }
    }
    eprintln!();
    for (i, server) in servers.iter().enumerate() {
        let expected = (opts.bytes as u64 + 1) * times[i].len() as u64;
        if failures[i].is_empty() && server.delivered()? != expected {
            return Err(io::Error::other(format!(
                "the server of {} did not print every message whole",
                opts.dirs[i].display()
            )));
        }
    }

    println!("# minitalk: two builds compared\n");
    println!("- machine: {}", machine::describe());
    println!(
        "- a {} B message, client start to exit, {}; {} rounds, interleaved; medians, [min–max]\n",
        opts.bytes,
        if opts.pin {
            "default placement"
        } else {
            "--no-pin on both"
        },
        opts.rounds
    );
    println!("| build | ms | kbit/s | failed runs |");
    println!("|---|---:|---:|---:|");
    let mut medians = [0.0; 2];
    for i in 0..2 {
        let Some(ms) = Summary::of(&times[i]) else {
            return Err(io::Error::other(format!(
                "no successful run of {}",
                opts.dirs[i].display()
            )));
        };
        let kbit = |ms: f64| {
            kbit_per_s(
                8 * opts.bytes as u64,
                std::time::Duration::from_secs_f64(ms / 1e3),
            )
        };
        medians[i] = ms.median;
        println!(
            "| {}: {} | {:.1} [{:.1}–{:.1}] | {:.1} | {} |",
            ["old", "new"][i],
            opts.dirs[i].display(),
            ms.median,
            ms.min,
            ms.max,
            kbit(ms.median),
            failures[i].len()
        );
    }
    println!(
        "\nnew/old throughput (median times, old ÷ new): **{:.3}**",
        medians[0] / medians[1]
    );
    Ok(())
}
