//! The torture suite (issue "under fire"): the real binaries with stray
//! signals, killed and stopped processes, forged acknowledgements, crowds,
//! bad arguments and long runs.
//!
//! Every case is bounded by deadlines that only catch hangs; none asserts
//! how fast something went. Figures worth watching (latency after a kill,
//! peak memory) are printed: see them with `--nocapture`.
//!
//! The 64-client stress test is `#[ignore]`d; run it with
//! `cargo test -p minitalk-e2e --release --test torture -- --ignored --nocapture`.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use minitalk_e2e::{
    after, ascii_text, clients_in_a_namespace, mixed_text, mixed_text_of_len, proc_is_dynamic,
    proc_mapping_rss_kib, proc_state, Client, Feed, Finished, Hogs, Running, Server, BAD_PIDS,
};

/// The helper that fires random SIGUSR1/SIGUSR2 while ignoring both.
const STORM: &str = env!("CARGO_BIN_EXE_storm");
/// The helper that would die of SIGUSR1/SIGUSR2 and checks none came back.
const KNOCK: &str = env!("CARGO_BIN_EXE_knock");

/// Fires `count` random signals at `target` (a process this test started),
/// with pauses of up to `max_gap_us`; returns how many were sent.
fn storm(target: i32, count: u32, max_gap_us: u32, seed: u64) -> u64 {
    assert!(target >= 1);
    let mut cmd = Command::new(STORM);
    cmd.args([
        target.to_string(),
        count.to_string(),
        max_gap_us.to_string(),
        seed.to_string(),
    ]);
    let done = Running::spawn(cmd, None, "storm").wait(after(120));
    done.expect_code(0, "storm");
    done.stdout
        .trim()
        .parse()
        .expect("storm prints how many it sent")
}

/// Sends `message` from the command line; the client must exit 0.
fn send(server: &Server, message: &str) -> Finished {
    let done = Client::to(server).arg(message).run(after(300));
    done.expect_code(0, "client");
    done
}

/// Waits until `pid`'s state is `T` (stopped).
fn wait_stopped(pid: i32) {
    let deadline = after(30);
    while proc_state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "PID {pid} never stopped");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Starts a client with `--progress` and waits until it has had a frame
/// confirmed: the transfer is under way (the bar is redrawn every 100 ms).
fn start_transfer(server: &Server, message: &str) -> Running {
    let run = Client::to(server).arg("--progress").arg(message).spawn();
    assert!(
        run.wait_for_progress(1, after(120)).is_some(),
        "the transfer never got going: {:?}",
        run.stderr().text()
    );
    run
}

// --- 1. Stray storms --------------------------------------------------------

#[test]
fn stray_storm_at_the_server() {
    storm_during_transfers(Target::Server);
}

#[test]
fn stray_storm_at_the_client() {
    storm_during_transfers(Target::Client);
}

/// Who the storm aims at.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Server,
    Client,
}

/// Five 3,000-character transfers, each under a storm of 200 stray signals
/// aimed at `target`: each message arrives exactly once, intact, the client
/// exits 0, and the next client is served normally.
fn storm_during_transfers(target: Target) {
    let server = Server::start();
    let mut expected = Vec::new();
    for trial in 0..5 {
        let (text_seed, storm_seed) = match target {
            Target::Server => (100 + trial, trial),
            Target::Client => (200 + trial, 50 + trial),
        };
        let message = mixed_text(3000, text_seed);
        let mut client = Client::to(&server).arg("--progress").arg(&message).spawn();
        // The first redraw comes before the first signal.
        client.wait_for_progress(0, after(60));
        let aim = match target {
            Target::Server => server.pid(),
            Target::Client => client.pid(),
        };
        let sent = storm(aim, 200, 1000, storm_seed);
        let overlapped = client.try_status().is_none();
        let done = client.wait(after(300));
        let who = if target == Target::Server {
            "server"
        } else {
            "client"
        };
        done.expect_code(0, "client under a storm");
        eprintln!(
            "storm at the {who}, trial {trial}: {sent} stray signals, \
             transfer still running when it ended: {overlapped}, took {:?}",
            done.elapsed
        );
        expected.push(message);
        let next = format!("next after storm {trial}");
        send(&server, &next);
        expected.push(next);
        assert_eq!(server.wait_for_lines(expected.len(), after(60)), expected);
    }
    let stopped = server.stop();
    assert_eq!(
        stopped.lines(),
        expected,
        "each message exactly once, intact"
    );
}

// --- 2. A client killed mid-message ---------------------------------------

#[test]
fn a_client_killed_mid_message_leaves_no_trace() {
    // --stats: the server says why it discarded a message.
    let server = Server::start_with(&["--stats"]);
    for trial in 0..3 {
        let message = mixed_text(20_000, 300 + trial);
        assert!(message.len() <= 64 * 1024, "must fit the hold buffer");
        let mut client = start_transfer(&server, &message);
        let pid = client.pid();
        assert!(
            client.kill(),
            "the transfer ended before it could be interrupted"
        );
        let killed = Instant::now();
        let next = Client::to(&server).arg(format!("next {trial}")).spawn();
        let done = next.wait(after(60));
        done.expect_code(0, "the next client");
        let latency = killed.elapsed();
        eprintln!(
            "killed client, trial {trial}: next client served {latency:?} after the kill \
             (its own run: {:?})",
            done.elapsed
        );
        // Found dead by the liveness check, not waited out (the next
        // client would be served after a 3 s silence all the same).
        let line = format!("message from {pid} discarded");
        server.wait_for_stderr(&line, after(60));
        let stderr = server.stderr();
        let why = stderr.lines().find(|l| l.contains(&line)).unwrap_or("");
        assert!(why.ends_with("the client vanished"), "{stderr:?}");
    }
    let stopped = server.stop();
    assert_eq!(
        stopped.lines(),
        ["next 0", "next 1", "next 2"],
        "no byte of the killed messages"
    );
}

#[test]
fn a_client_killed_mid_streamed_message_leaves_a_truncated_line() {
    let server = Server::start();
    let message = ascii_text(100_000, 7);
    let mut client = Client::to(&server).arg("--progress").arg(&message).spawn();
    // Beyond 64 KiB the server streams: wait until it has.
    let at = client.wait_for_progress(70_000, after(300));
    assert!(at.is_some(), "the transfer never passed 70,000 bytes");
    assert!(
        client.kill(),
        "the transfer ended before it could be interrupted"
    );
    server.wait_for_stderr("truncated after", after(60));
    send(&server, "next");
    let stopped = server.stop();
    let out = String::from_utf8(stopped.output).expect("UTF-8 output");
    let (partial, rest) = out
        .split_once('\n')
        .expect("the partial line ends with a newline");
    assert_eq!(rest, "next\n");
    assert!(
        partial.len() >= 65_536,
        "streamed part: {} bytes",
        partial.len()
    );
    assert!(
        message.starts_with(partial),
        "the partial line is not a prefix of the message"
    );
    let report = format!("truncated after {} bytes", partial.len());
    assert!(
        stopped.stderr.contains(&report),
        "stderr {:?} lacks {report:?}",
        stopped.stderr
    );
}

// --- 3. The server stopped and continued ----------------------------------

#[test]
fn the_server_stopped_and_continued_mid_transfer() {
    let mut server = Server::start();
    for trial in 0..2 {
        let message = mixed_text(20_000, 400 + trial);
        let mut client = start_transfer(&server, &message);
        assert!(server.signal(libc::SIGSTOP));
        wait_stopped(server.pid());
        assert!(
            client.try_status().is_none(),
            "the transfer ended before the stop"
        );
        thread::sleep(Duration::from_millis(300));
        assert!(server.signal(libc::SIGCONT));
        client
            .wait(after(300))
            .expect_code(0, "client across a stop");
        assert_eq!(
            server.wait_for_lines(trial as usize + 1, after(60))[trial as usize],
            message
        );
    }
    let stopped = server.stop();
    assert_eq!(stopped.lines().len(), 2, "each message once");
}

#[test]
fn a_client_stopped_and_continued_mid_transfer() {
    let server = Server::start();
    let message = mixed_text(20_000, 450);
    let mut client = start_transfer(&server, &message);
    assert!(client.signal(libc::SIGSTOP));
    wait_stopped(client.pid());
    thread::sleep(Duration::from_millis(300));
    assert!(client.signal(libc::SIGCONT));
    client
        .wait(after(300))
        .expect_code(0, "client across its own stop");
    let stopped = server.stop();
    assert_eq!(stopped.lines(), [message], "once, intact");
}

#[test]
fn a_client_stopped_past_the_session_timeout_fails_its_rejected_frames_even_with_trace() {
    // Issue 18, item 7: stopped for 6 s (twice the server's 3 s session
    // timeout) in the middle of a message, the client loses its session; its next frame (not a first) is rejected.
    // With --trace the server's output counter kept moving, which started
    // the client's count of rejections afresh: it was still sending 95 s
    // later. Rejections count whatever the counter does: 16 retries, then
    // exit 1.
    let server = Server::start_with(&["--trace"]);
    let message = ascii_text(100_000, 480);
    let mut client = start_transfer(&server, &message);
    assert!(client.signal(libc::SIGSTOP));
    wait_stopped(client.pid());
    thread::sleep(Duration::from_millis(6000));
    assert!(client.signal(libc::SIGCONT));
    // The bound is the test: the old client was still sending after 95 s.
    let done = client.wait(after(120));
    let stopped = server.stop();
    if done.code() == Some(0) {
        // A server that was itself not run for much of the stop (a heavily
        // loaded machine: seen once) keeps the session,
        // since its own pause is not the client's silence (PROTOCOL.md 4.5):
        // the message then arrives, once and intact.
        assert_eq!(stopped.lines(), [message], "once, intact");
        return;
    }
    done.expect_code(1, "a client whose session was lost");
    assert!(
        done.stderr.contains("the server kept rejecting a frame"),
        "{:?}",
        done.stderr
    );
    assert!(stopped.lines().is_empty(), "nothing of it printed");
}

#[test]
fn a_client_killed_while_queued_leaves_the_line() {
    let server = Server::start_with(&["--trace"]);
    let first = mixed_text(20_000, 460);
    let a = start_transfer(&server, &first);
    let mut b = Client::to(&server).arg("b, killed while waiting").spawn();
    server.wait_for_stderr(&format!("trace: {} waits its turn", b.pid()), after(120));
    assert!(b.kill());
    let c = Client::to(&server).arg("c").spawn();
    server.wait_for_stderr(&format!("trace: {} waits its turn", c.pid()), after(120));
    a.wait(after(300)).expect_code(0, "a");
    c.wait(after(300))
        .expect_code(0, "c, queued behind a killed client");
    let stopped = server.stop();
    assert_eq!(stopped.lines(), [first, "c".to_string()]);
}

#[test]
fn sigterm_mid_message_discards_a_held_message_and_ends_a_streamed_one() {
    // Held (up to 64 KiB): nothing of it is printed.
    let server = Server::start();
    let client = start_transfer(&server, &mixed_text(20_000, 470));
    let stopped = server.stop();
    assert_eq!(stopped.output, b"", "nothing of a held message");
    client
        .wait(after(120))
        .expect_code(1, "client of a server that stopped");
    // Streamed: the partial line is ended, and the stop reported.
    let server = Server::start();
    let message = ascii_text(100_000, 471);
    let client = Client::to(&server).arg("--progress").arg(&message).spawn();
    assert!(client.wait_for_progress(70_000, after(300)).is_some());
    let stopped = server.stop();
    client
        .wait(after(120))
        .expect_code(1, "client of a server that stopped");
    let out = String::from_utf8(stopped.output).expect("UTF-8 output");
    let partial = out.strip_suffix('\n').expect("the partial line is ended");
    assert!(!partial.contains('\n') && message.starts_with(partial) && partial.len() >= 65_536);
    let report = format!(
        "stopped during a message; printed {} bytes of it",
        partial.len()
    );
    assert!(stopped.stderr.contains(&report), "{:?}", stopped.stderr);
}

#[test]
fn a_writer_that_stalls_mid_message_never_gets_a_false_success() {
    // 70,000 bytes on stdin, then 8 s of silence, then the end. The client
    // has sent the first 64 KiB and waits for its stdin: the server gives
    // up on a client silent for 2 s. Whatever the outcome, exit 0 must mean
    // the whole message printed once, and anything else that it was not.
    let server = Server::start_with(&["--stats"]);
    let message = ascii_text(70_010, 480);
    let feed = Feed {
        bytes: message.clone().into_bytes(),
        burst: 70_000,
        chunk: 10,
        pause: Duration::from_secs(8),
    };
    let done = Client::to(&server).stdin_feed(feed).run(after(300));
    eprintln!(
        "writer stalled mid-message: client exit {:?}, {:?}",
        done.code(),
        done.stderr.trim()
    );
    send(&server, "after the stall");
    let stopped = server.stop();
    let lines = stopped.lines();
    match done.code() {
        Some(0) => assert_eq!(lines, [message.as_str(), "after the stall"]),
        Some(1) => assert!(
            !lines.contains(&message),
            "printed, but the client reported failure"
        ),
        _ => panic!("unexpected client end: {:?}", done.stderr),
    }
}

// --- 4. The server killed, or stopped for good ----------------------------

#[test]
fn the_server_killed_mid_transfer_fails_the_client_clearly() {
    for timeout in [None, Some("1")] {
        let mut server = Server::start();
        let mut client = Client::to(&server);
        if let Some(t) = timeout {
            client = client.args(["--timeout", t]);
        }
        let client = client
            .arg("--progress")
            .arg(mixed_text(20_000, 500))
            .spawn();
        assert!(client.wait_for_progress(1, after(120)).is_some());
        server.kill();
        let killed = Instant::now();
        let done = client.wait(after(120));
        done.expect_code(1, "client whose server was killed");
        assert!(
            done.stderr
                .contains("client: delivery failed: the server (PID")
                && done.stderr.contains("has exited"),
            "{:?}",
            done.stderr
        );
        // How soon it noticed is a timing, reported here and not asserted
        // (timings belong in benchmarks); the bound is the wait above.
        eprintln!(
            "server killed, --timeout {timeout:?}: client exited 1 after {:?}",
            killed.elapsed()
        );
    }
}

#[test]
fn the_server_stopped_for_good_times_the_client_out() {
    let mut server = Server::start_with(&["--stats"]);
    let message = mixed_text(20_000, 600);
    let client = Client::to(&server)
        .args(["--timeout", "1", "--progress", &message])
        .spawn();
    assert!(client.wait_for_progress(1, after(120)).is_some());
    assert!(server.signal(libc::SIGSTOP));
    wait_stopped(server.pid());
    let stopped_at = Instant::now();
    let done = client.wait(after(120));
    done.expect_code(1, "client of a stopped server");
    assert!(
        done.stderr.contains("is stopped (SIGSTOP?)"),
        "{:?}",
        done.stderr
    );
    assert!(
        done.stderr.contains("--timeout"),
        "a hint at --timeout: {:?}",
        done.stderr
    );
    eprintln!(
        "server stopped: client with --timeout 1 gave up after {:?}",
        stopped_at.elapsed()
    );
    assert!(server.signal(libc::SIGCONT));
    server.wait_for_stderr("discarded", after(60));
    send(&server, "after the stop");
    let stopped = server.stop();
    assert_eq!(
        stopped.lines(),
        ["after the stop"],
        "nothing of the failed message"
    );
}

// --- 5. Forged acknowledgements ---------------------------------------------

#[test]
fn forged_acknowledgements_do_not_count() {
    let mut server = Server::start();
    let mut printed = Vec::new();
    for trial in 0..3 {
        let message = mixed_text(20_000, 700 + trial);
        let mut client = start_transfer(&server, &message);
        assert!(server.signal(libc::SIGSTOP));
        wait_stopped(server.pid());
        let sent = storm(client.pid(), 5000, 0, 90 + trial);
        // The server is stopped mid-message: a client that exits 0 now
        // counted a forgery.
        let early = client.try_status();
        assert!(
            early.is_none_or_not_success(),
            "the client claimed success while the server was stopped"
        );
        assert!(server.signal(libc::SIGCONT));
        let done = client.wait(after(300));
        eprintln!(
            "forged acks, trial {trial}: {sent} sent, client exit {:?}",
            done.code()
        );
        match done.code() {
            Some(0) => printed.push(message.clone()),
            Some(1) => {}
            _ => panic!("unexpected client end: {:?} {:?}", done.status, done.stderr),
        }
        let marker = format!("after forgeries {trial}");
        send(&server, &marker);
        printed.push(marker);
        // Exit 0 <=> printed exactly once; exit 1: not printed.
        assert_eq!(server.wait_for_lines(printed.len(), after(60)), printed);
    }
    let stopped = server.stop();
    assert_eq!(stopped.lines(), printed);
}

/// `Option<ExitStatus>` is `None` or an unsuccessful status.
trait NotSuccess {
    fn is_none_or_not_success(&self) -> bool;
}

impl NotSuccess for Option<std::process::ExitStatus> {
    fn is_none_or_not_success(&self) -> bool {
        match self {
            None => true,
            Some(status) => !status.success(),
        }
    }
}

// --- 6. Crowds --------------------------------------------------------------

/// `workers` threads each send two 700-character messages, one client run
/// after the other; all must exit 0, every message arrive once, whole, and
/// each worker's two in order.
fn crowd(workers: u64) {
    let server = Server::start();
    let pid = server.pid_arg();
    let message = |w: u64, r: u64| format!("w{w:02}r{r} {}", mixed_text(700 - 6, w * 2 + r));
    let started = Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let pid = pid.clone();
            thread::spawn(move || {
                for r in 0..2 {
                    let done = Client::new().arg(&pid).arg(message(w, r)).run(after(1200));
                    done.expect_code(0, &format!("worker {w} run {r}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a worker failed");
    }
    eprintln!(
        "crowd of {workers}: {} messages in {:?}",
        workers * 2,
        started.elapsed()
    );
    let stopped = server.stop();
    let lines = stopped.lines();
    assert_eq!(lines.len() as u64, workers * 2, "one line per message");
    for w in 0..workers {
        let mine: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("w{w:02}r")))
            .collect();
        assert_eq!(
            mine,
            [&message(w, 0), &message(w, 1)],
            "worker {w}: whole, once, in order"
        );
    }
}

#[test]
fn a_crowd_of_sixteen_clients() {
    crowd(16);
}

#[test]
fn thirty_two_clients_started_at_once() {
    // `for i in $(seq 32); do client PID msg & done`: their first bits land
    // together and all but one are lost to coalescing; they must find
    // their places (issue 18, item 3; the simulation's
    // `thirty_two_clients_that_knock_at_the_same_instant_all_get_through`).
    let server = Server::start();
    let messages: Vec<String> = (0..32)
        .map(|i| format!("c{i:02} {}", mixed_text(300, 900 + i)))
        .collect();
    all_at_once(server, messages, "32 clients at once");
}

/// Starts a client per message, all at once, with the default options:
/// each must exit 0, and the server print every message once, whole.
fn all_at_once(server: Server, messages: Vec<String>, what: &str) {
    let started = Instant::now();
    let clients: Vec<Running> = messages
        .iter()
        .map(|m| Client::to(&server).arg(m).spawn())
        .collect();
    let deadline = after(900);
    for (i, c) in clients.into_iter().enumerate() {
        c.wait(deadline).expect_code(0, &format!("client {i}"));
    }
    eprintln!("{what}: {:?}", started.elapsed());
    let mut lines = server.stop().lines();
    lines.sort();
    let mut want = messages;
    want.sort();
    assert_eq!(lines, want, "every message once, whole");
}

#[test]
fn sixteen_clients_of_ten_kilobytes_at_once_beside_two_busy_loops() {
    // Issue 18, done when: with two CPU hogs running, 16 clients × 10 KB
    // started at once with the default options all exit 0, and every
    // message is printed exactly once. The server waits for a CPU at
    // times: a busy machine, not a silent server.
    let _hogs = Hogs::start(2);
    let server = Server::start();
    let messages: Vec<String> = (0..16)
        .map(|i| {
            let mut m = format!("c{i:02} ");
            m.push_str(&ascii_text(10_000 - m.len(), 1200 + i));
            m
        })
        .collect();
    all_at_once(server, messages, "16 clients × 10 KB beside two busy loops");
}

/// Slow: the client waits out its 20 s (it runs in parallel with the rest).
#[test]
fn a_stopped_server_fails_a_patient_client_after_its_timeout_beside_two_busy_loops() {
    // Issue 18, done when: with two CPU hogs running, a SIGSTOPped server
    // makes a `--timeout 20` client exit 1, no sooner than 20 s, with a
    // last line that says the server is stopped.
    let _hogs = Hogs::start(2);
    let mut server = Server::start();
    let message = mixed_text(20_000, 1300);
    let client = Client::to(&server)
        .args(["--timeout", "20", "--progress", &message])
        .spawn();
    assert!(client.wait_for_progress(1, after(300)).is_some());
    assert!(server.signal(libc::SIGSTOP));
    wait_stopped(server.pid());
    let stopped_at = Instant::now();
    let done = client.wait(after(300));
    let waited = stopped_at.elapsed();
    done.expect_code(1, "client of a stopped server");
    let last = done.stderr.trim_end().rsplit(['\n', '\r']).next();
    assert!(
        last.is_some_and(|l| l.contains("is stopped")),
        "the last line says the server is stopped: {:?}",
        done.stderr
    );
    // A lower bound only: the client waits at least its timeout.
    assert!(
        waited >= Duration::from_secs(20),
        "gave up after {waited:?}"
    );
    eprintln!("server stopped: client with --timeout 20 gave up after {waited:?}");
    assert!(server.signal(libc::SIGCONT));
    server.stop();
}

/// Stress: `cargo test -p minitalk-e2e --release --test torture -- --ignored --nocapture`.
#[test]
#[ignore = "stress test: run with --ignored"]
fn a_crowd_of_sixty_four_clients() {
    crowd(64);
}

// --- 7. Bad arguments under fire ----------------------------------------------

#[test]
fn bad_pids_during_a_transfer_hit_nobody() {
    let mut pids = BAD_PIDS.to_vec();
    pids.push("SELF");
    let legit = mixed_text(2000, 800);
    let run = clients_in_a_namespace(&pids, Some(&legit));
    for c in &run.clients {
        assert_eq!(c.exit, 2, "client {:?}: {:?}", c.pid_arg, c.stderr);
    }
    run.assert_nobody_was_signalled(Some(&legit));
}

#[test]
fn the_server_never_signals_a_process_that_would_die_of_it() {
    let server = Server::start_with(&["--trace"]);
    for count in [1, 48] {
        let mut cmd = Command::new(KNOCK);
        cmd.args([server.pid_arg(), count.to_string()]);
        let run = Running::spawn(cmd, None, "knock");
        let knock_pid = run.pid();
        let done = run.wait(after(60));
        done.expect_code(0, "knock: the server must not answer it");
        server.wait_for_stderr(&format!("ignored a signal from {knock_pid}"), after(60));
    }
    send(&server, "still serving");
    let stopped = server.stop();
    assert_eq!(stopped.lines(), ["still serving"]);
}

// --- 8. Long runs -----------------------------------------------------------

#[test]
fn a_mebibyte_message_and_the_servers_peak_memory() {
    let server = Server::start();
    let small = mixed_text_of_len(1024, 900);
    send(&server, &small);
    server.wait_for_lines(1, after(60));
    let peak_small = server.status_kib("VmHWM");
    let big = mixed_text_of_len(1 << 20, 901);
    let done = Client::to(&server)
        .arg("--stats")
        .stdin(big.as_bytes())
        .run(after(1800));
    done.expect_code(0, "1 MiB client");
    let out = server.wait_for_output(small.len() + 1 + big.len() + 1, after(60));
    let peak_big = server.status_kib("VmHWM");
    eprintln!(
        "server peak RSS (VmHWM): {peak_small} KiB after 1 KiB, {peak_big} KiB after 1 MiB \
         (+{} KiB); 1 MiB: {}",
        peak_big.saturating_sub(peak_small),
        done.stderr.trim()
    );
    let stopped = server.stop();
    assert_eq!(out, stopped.output);
    assert!(
        stopped.output == format!("{small}\n{big}\n").as_bytes(),
        "1 MiB not intact"
    );
    // The 64 KiB hold buffer, plus slack for a few pages.
    assert!(
        peak_big <= peak_small + 64 + 32,
        "peak RSS grew from {peak_small} KiB to {peak_big} KiB"
    );
}

#[test]
fn the_servers_peak_memory_idle_and_after_a_256_kib_message() {
    // Issue 18, item 5: the static server's peak RSS had grown to 176 kB
    // idle, from 104 kB: its 64 KiB hold buffer was zeroed on main's stack,
    // and built twice (in Server::new, then copied into place), and every
    // page of a stack frame is touched (stack probes). Bounds: the static
    // server within 128 KiB, idle and after a 256 KiB message (the hold
    // buffer used whole), and grown by no more than that buffer; for both
    // builds, a stack of one hold buffer and some slack.
    let server = Server::start();
    let pid = server.pid();
    let idle = server.status_kib("VmHWM");
    let idle_stack = proc_mapping_rss_kib(pid, "[stack]").expect("a [stack] mapping");
    let text = mixed_text_of_len(256 << 10, 902);
    Client::to(&server)
        .stdin(text.as_bytes())
        .run(after(600))
        .expect_code(0, "256 KiB client");
    server.wait_for_output(text.len() + 1, after(60));
    let peak = server.status_kib("VmHWM");
    let stack = proc_mapping_rss_kib(pid, "[stack]").expect("a [stack] mapping");
    let dynamic = proc_is_dynamic(pid).expect("the server lives");
    eprintln!(
        "server ({}) peak RSS (VmHWM): {idle} KiB idle, {peak} KiB after 256 KiB; \
         [stack] {idle_stack} KiB idle, {stack} KiB after",
        if dynamic { "glibc" } else { "static" }
    );
    let stopped = server.stop();
    assert_eq!(stopped.output.len(), text.len() + 1);
    for kib in [idle_stack, stack] {
        assert!(
            kib <= 64 + 32,
            "[stack] of {kib} KiB: more than one hold buffer"
        );
    }
    if !dynamic {
        // Only the static server's peak is ours alone: the glibc build's
        // also counts the C library's pages that the run happened to touch
        // (it grew by 132 KiB once, on a loaded machine).
        assert!(
            peak <= idle + 64 + 16,
            "peak RSS grew from {idle} KiB to {peak} KiB"
        );
        assert!(
            idle <= 128 && peak <= 128,
            "{idle} KiB idle, {peak} KiB after"
        );
    }
}

#[test]
fn a_long_run_keeps_the_servers_memory_flat() {
    let server = Server::start();
    // Warm up every path once: a streamed message, a queue, a killed client.
    send(&server, &mixed_text_of_len(100_000, 1000));
    let a = Client::to(&server).arg(mixed_text(3000, 1001)).spawn();
    let b = Client::to(&server).arg("queued").spawn();
    a.wait(after(300)).expect_code(0, "a");
    b.wait(after(300)).expect_code(0, "b");
    let mut killed = start_transfer(&server, &mixed_text(20_000, 1002));
    killed.kill();
    send(&server, "after the kill");
    let warm_up = server.wait_for_lines(4, after(60)).len();
    let (rss0, anon0) = (server.status_kib("VmRSS"), server.status_kib("RssAnon"));

    // The run: a thousand messages, storms, killed clients, a crowd.
    let started = Instant::now();
    let mut expected = Vec::new();
    for i in 0..1000 {
        let m = format!("{i:04} {}", mixed_text(12, 2000 + i));
        send(&server, &m);
        expected.push(m);
    }
    for trial in 0..3 {
        let m = mixed_text(3000, 3000 + trial);
        let c = Client::to(&server).arg("--progress").arg(&m).spawn();
        c.wait_for_progress(0, after(60));
        storm(server.pid(), 200, 1000, trial);
        c.wait(after(300)).expect_code(0, "client under a storm");
        expected.push(m);
        let mut k = start_transfer(&server, &mixed_text(20_000, 4000 + trial));
        assert!(
            k.kill(),
            "the transfer ended before it could be interrupted"
        );
    }
    let crowd: Vec<Running> = (0..16)
        .map(|i| Client::to(&server).arg(format!("crowd {i:02}")).spawn())
        .collect();
    for c in crowd {
        c.wait(after(600)).expect_code(0, "crowd client");
    }
    let long = mixed_text_of_len(100_000, 1003);
    send(&server, &long);
    let total = warm_up + expected.len() + 16 + 1;
    server.wait_for_lines(total, after(60));
    let (rss1, anon1) = (server.status_kib("VmRSS"), server.status_kib("RssAnon"));
    eprintln!(
        "long run ({:?}): server VmRSS {rss0} -> {rss1} KiB, RssAnon {anon0} -> {anon1} KiB",
        started.elapsed()
    );
    let stopped = server.stop();
    let lines = &stopped.lines()[warm_up..];
    assert_eq!(lines.len(), expected.len() + 16 + 1, "one line per message");
    assert_eq!(
        lines[..expected.len()],
        expected,
        "intact, in order, nothing of the killed"
    );
    let mut crowd_lines = lines[expected.len()..expected.len() + 16].to_vec();
    crowd_lines.sort();
    let crowd_expected: Vec<String> = (0..16).map(|i| format!("crowd {i:02}")).collect();
    assert_eq!(crowd_lines, crowd_expected);
    assert_eq!(lines[expected.len() + 16], long);
    // No growth: anonymous memory (stack, data) at most a page more, and
    // resident memory at most a few more pages of the 25 KB program.
    assert!(anon1 <= anon0 + 4, "RssAnon grew: {anon0} -> {anon1} KiB");
    assert!(rss1 <= rss0 + 32, "VmRSS grew: {rss0} -> {rss1} KiB");
}
