//! `knock`: a process that would die of `SIGUSR1`/`SIGUSR2` (no handler)
//! sends signals to a server, and reports whether the server signalled back.
//!
//! Usage: `knock <PID> [COUNT]`
//!
//! Blocks `SIGUSR1` and `SIGUSR2` without handlers (so an answer stays
//! pending instead of killing it), sends COUNT signals (default 1,
//! alternating `SIGUSR2` and `SIGUSR1`) to PID, waits 300 ms and looks at its
//! pending signals: exit 0 if none arrived, 3 if the server signalled it,
//! 2 on bad usage (any PID below 1 is refused).

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pid = args.first().and_then(|a| a.parse::<i32>().ok());
    let count = args.get(1).map_or(Some(1), |a| a.parse::<u32>().ok());
    let (Some(pid), Some(count)) = (pid, count) else {
        eprintln!("usage: knock <PID> [COUNT]");
        return ExitCode::from(2);
    };
    if pid < 1 {
        eprintln!("knock: refusing PID {pid}");
        return ExitCode::from(2);
    }
    // SAFETY: sigset_t is plain data, initialised by sigemptyset; the calls
    // get valid pointers.
    let pending = unsafe {
        let mut usr: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut usr);
        libc::sigaddset(&mut usr, libc::SIGUSR1);
        libc::sigaddset(&mut usr, libc::SIGUSR2);
        libc::sigprocmask(libc::SIG_BLOCK, &usr, std::ptr::null_mut());
        for i in 0..count {
            let signo = if i % 2 == 0 {
                libc::SIGUSR2
            } else {
                libc::SIGUSR1
            };
            libc::kill(pid, signo);
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(300));
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        [libc::SIGUSR1, libc::SIGUSR2].map(|s| libc::sigismember(&pending, s) == 1)
    };
    if pending.contains(&true) {
        println!(
            "signalled back: SIGUSR1 {}, SIGUSR2 {}",
            pending[0], pending[1]
        );
        return ExitCode::from(3);
    }
    println!("nothing came back");
    ExitCode::SUCCESS
}
