//! `storm`: fires random `SIGUSR1`/`SIGUSR2` at one process, as a stray
//! third party would, while ignoring both signals itself.
//!
//! Usage: `storm <PID> <COUNT> <MAX_GAP_US> [SEED]`
//!
//! Sends COUNT signals, each `SIGUSR1` or `SIGUSR2` at random, with a random
//! pause of 0 to MAX_GAP_US microseconds after each; stops early if the
//! process is gone. Prints how many were sent. Refuses any PID below 1
//! (exit 2): it never signals a process group or every process.

use std::process::ExitCode;
use std::time::Duration;

use minitalk_e2e::XorShift;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    let (Some(pid), Some(count), Some(max_gap)) = (
        args.first().and_then(|a| a.parse::<i32>().ok()),
        number(1),
        number(2),
    ) else {
        eprintln!("usage: storm <PID> <COUNT> <MAX_GAP_US> [SEED]");
        return ExitCode::from(2);
    };
    if pid < 1 {
        eprintln!("storm: refusing PID {pid}");
        return ExitCode::from(2);
    }
    let mut rng = XorShift::new(number(3).unwrap_or(1));
    // SAFETY: SIG_IGN is a valid disposition for these signals.
    unsafe {
        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
        libc::signal(libc::SIGUSR2, libc::SIG_IGN);
    }
    let mut sent = 0u64;
    for _ in 0..count {
        let signo = if rng.below(2) == 0 {
            libc::SIGUSR1
        } else {
            libc::SIGUSR2
        };
        // SAFETY: kill has no memory-safety preconditions; pid >= 1 names one process.
        if unsafe { libc::kill(pid, signo) } != 0 {
            break; // gone
        }
        sent += 1;
        let gap = rng.below(max_gap + 1);
        if gap > 0 {
            std::thread::sleep(Duration::from_micros(gap));
        }
    }
    println!("{sent}");
    ExitCode::SUCCESS
}
