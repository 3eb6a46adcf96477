//! The contract of `server` and `client` (issue "server and client"),
//! checked against the real release binaries.
//!
//! Every test bounds its waits with generous deadlines that only catch
//! hangs, and asserts on events (a line printed, a process ended), never on
//! how long something took. Bad PIDs run inside a private PID namespace.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::thread;
use std::time::Duration;

use minitalk_e2e::{
    after, ascii_text, binaries, clients_in_a_namespace, mixed_text, mixed_text_of_len, proc_state,
    Client, Feed, Finished, Proc, Running, Server, BAD_PIDS, SCRIPTS,
};

/// Sends `message` from the command line and checks that the client exits 0
/// with nothing on stdout or stderr.
fn send(server: &Server, message: impl AsRef<OsStr>) -> Finished {
    let done = Client::to(server).arg(message).run(after(300));
    done.expect_code(0, "client");
    assert_eq!(done.stdout, "", "the client prints nothing on success");
    assert_eq!(done.stderr, "", "the client prints nothing on success");
    done
}

/// Runs one good client on a `--trace` server and stops it; checks that the
/// server printed only that message and that the trace starts with it: no
/// signal reached the server before.
fn assert_no_signal_reached(server: Server) {
    let good = Client::to(&server).arg("the good one").spawn();
    let good_pid = good.pid();
    good.wait(after(120)).expect_code(0, "a good client");
    let stopped = server.stop();
    assert_eq!(
        stopped.output, b"the good one\n",
        "only the good message is printed"
    );
    let first = stopped.stderr.lines().next().unwrap_or_default().to_owned();
    assert_eq!(
        first,
        format!("trace: serving {good_pid} (bits: SIGUSR1 = 0, SIGUSR2 = 1; each acknowledged)"),
        "the server heard something before the good client: {:?}",
        &stopped.stderr[..stopped.stderr.len().min(2000)]
    );
}

/// `--trace` shows each byte of a frame with its meaning: the header's
/// flags, the length, each character once its bytes are in, the CRC.
#[test]
fn the_trace_reads_each_byte_of_a_frame() {
    let server = Server::start_with(&["--trace"]);
    send(&server, "hé\t\n");
    let stopped = server.stop();
    // "  <pid> <- <bits> = 0x.. <meaning>": what comes after the bits.
    let bytes: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|l| l.contains(" <- "))
        .filter_map(|l| l.split_once(" = ").map(|(_, rest)| rest))
        .collect();
    assert_eq!(bytes.len(), 11, "{:?}", stopped.stderr);
    assert_eq!(
        bytes[..7],
        [
            "0xc1  flags: FIRST LAST seq 0 version 1",
            "0x05  length: 5 bytes",
            "0x68  text byte -> 'h'",
            "0xc3  text byte",
            "0xa9  text byte -> 'é'",
            "0x09  text byte -> '\\t'",
            "0x0a  text byte -> '\\n'",
        ]
    );
    for crc in &bytes[7..10] {
        assert!(crc.ends_with("  CRC-32C"), "{crc}");
    }
    assert!(
        bytes[10].ends_with("  CRC-32C, last byte: frame complete"),
        "{}",
        bytes[10]
    );
}

#[test]
fn server_prints_its_pid_first_and_exits_0_on_sigterm() {
    // Server::start checks the first line: `server PID <pid>`, nothing before.
    let server = Server::start();
    let stopped = server.stop();
    assert_eq!(stopped.output, b"", "nothing after the PID line");
    assert_eq!(stopped.stderr, "", "no diagnostics without a reason");
}

#[test]
fn the_server_asks_for_a_short_time_slice_and_keeps_its_nice_value() {
    for no_pin in [false, true] {
        short_slice_unless(no_pin);
    }
}

/// Starts a server with `nice -n 5` (exec'd in place: same PID), as a
/// user who wants it out of the way would, and with `--no-pin` if
/// `no_pin`: it keeps its nice value, and asks for a short time slice
/// unless told to leave scheduling alone.
fn short_slice_unless(no_pin: bool) {
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "5"]).arg(&binaries().server);
    if no_pin {
        cmd.arg("--no-pin");
    }
    let mut server = Running::spawn(cmd, None, "nice -n 5 server");
    let pid = server.pid();
    let started = server.stdout().wait_for(after(30), |b, _| {
        b.starts_with(b"server PID ").then_some(())
    });
    assert!(
        started.is_some(),
        "no PID line: {:?}",
        server.stderr().text()
    );
    // Field 19 of /proc/<pid>/stat (counted from 1) is the nice value.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("(comm)") + 1..];
    let nice: i32 = after_name
        .split_whitespace()
        .nth(19 - 3)
        .unwrap()
        .parse()
        .unwrap();
    // `nice -n 5` adds 5 to ours (this thread's), up to 19.
    // SAFETY: a plain system call on the calling thread (who 0).
    let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    assert_eq!(
        nice,
        (ours + 5).min(19),
        "the server changed its nice value"
    );
    // Linux 6.12 and later show the slice (ns) in /proc/<pid>/sched.
    let sched = std::fs::read_to_string(format!("/proc/{pid}/sched")).unwrap_or_default();
    if let Some(line) = sched.lines().find(|l| l.starts_with("se.slice")) {
        assert_eq!(
            line.ends_with(" 100000"),
            !no_pin,
            "--no-pin {no_pin}: {line}"
        );
    }
    assert!(server.signal(libc::SIGTERM));
    server
        .wait(after(30))
        .expect_code(0, "server after SIGTERM");
}

#[test]
fn server_exits_0_on_sigint() {
    let server = Server::start();
    send(&server, "before SIGINT");
    let stopped = server.stop_with(libc::SIGINT);
    assert_eq!(stopped.output, b"before SIGINT\n");
}

#[test]
fn short_messages_arrive_exactly_once_each() {
    let server = Server::start();
    let messages = [
        "Hello, world!",
        "",
        "x",
        "é",
        "😀",
        " ",
        "  spaces  around  ",
    ];
    for m in messages {
        send(&server, m);
    }
    let stopped = server.stop();
    let expected: String = messages.iter().map(|m| format!("{m}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&stopped.output), expected);
    assert_eq!(stopped.stderr, "");
}

#[test]
fn mixed_scripts_arrive_exactly() {
    let server = Server::start();
    let mut messages: Vec<String> = SCRIPTS.iter().map(|s| s.to_string()).collect();
    messages.push("👨‍👩‍👧‍👦👩‍❤️‍💋‍👨🧑🏿‍🚀".into());
    messages.push("a\u{0301}\u{0302}\u{0303}\u{0323} Z\u{0351}\u{0352}\u{0353}".into());
    messages.push("עברית ועוד English في النص العربي 123".into());
    messages.push(mixed_text(3000, 7));
    for m in &messages {
        send(&server, m);
    }
    let stopped = server.stop();
    let expected: String = messages.iter().map(|m| format!("{m}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&stopped.output), expected);
}

#[test]
fn tabs_and_newlines_are_kept() {
    let server = Server::start();
    let messages = [
        "a\tb",
        "line 1\nline 2",
        "\n",
        "\n\n\n",
        "ends with\n",
        "\r\n\t \u{b}\u{c}",
    ];
    for m in messages {
        send(&server, m);
    }
    let stopped = server.stop();
    let expected: String = messages.iter().map(|m| format!("{m}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&stopped.output), expected);
}

#[test]
fn a_hundred_kilobytes_from_the_command_line() {
    let server = Server::start();
    let message = mixed_text_of_len(100_000, 11);
    let done = send(&server, &message);
    eprintln!("100 KB from the command line: {:?}", done.elapsed);
    let stopped = server.stop();
    assert_eq!(stopped.output.len(), message.len() + 1);
    assert!(
        stopped.output == format!("{message}\n").as_bytes(),
        "100 KB not intact"
    );
}

#[test]
fn messages_around_the_hold_size_arrive_intact() {
    // Up to 64 KiB a message is held whole; one byte more and it streams.
    let server = Server::start();
    let messages = [ascii_text(65_536, 13), ascii_text(65_537, 14)];
    for m in &messages {
        let done = Client::to(&server).stdin(m.as_bytes()).run(after(300));
        done.expect_code(0, "client");
    }
    let stopped = server.stop();
    assert_eq!(stopped.lines(), messages);
}

#[test]
fn messages_from_stdin() {
    let server = Server::start();
    let long = mixed_text_of_len(100_000, 12);
    let cases: [(&[&str], String); 4] = [
        (&[], "from stdin, no MESSAGE".into()),
        (&["-"], "from stdin with '-'\nsecond line\n".into()),
        (&[], String::new()),
        (&["-"], long),
    ];
    for (args, message) in &cases {
        let done = Client::to(&server)
            .args(*args)
            .stdin(message.as_bytes())
            .run(after(300));
        done.expect_code(0, "client reading stdin");
        assert_eq!(done.stderr, "");
    }
    let stopped = server.stop();
    let expected: String = cases.iter().map(|(_, m)| format!("{m}\n")).collect();
    assert!(
        stopped.output == expected.as_bytes(),
        "stdin messages not intact: got {} bytes, expected {}",
        stopped.output.len(),
        expected.len()
    );
}

#[test]
fn a_slow_writer_on_stdin_is_read_as_it_writes() {
    // More than the 64 KiB read-ahead, the rest written slowly: 500 bytes
    // every 250 ms for 8 s. The client must send what has come as it comes,
    // not leave the server without a word for seconds (it gives up on a
    // silent client after 2 s).
    let server = Server::start();
    let message = ascii_text(65_536 + 16_000, 15);
    let feed = Feed {
        bytes: message.clone().into_bytes(),
        burst: 65_536,
        chunk: 500,
        pause: Duration::from_millis(250),
    };
    let done = Client::to(&server).stdin_feed(feed).run(after(300));
    done.expect_code(0, "client reading a slow writer");
    let stopped = server.stop();
    assert_eq!(stopped.lines(), [message]);
}

#[test]
fn a_thousand_messages_in_a_row() {
    let server = Server::start();
    let messages: Vec<String> = (0..1000)
        .map(|i| format!("{i:04} {}", mixed_text(12, i)))
        .collect();
    for m in &messages {
        send(&server, m);
    }
    let lines = server.wait_for_lines(1000, after(60));
    assert_eq!(lines, messages, "all intact, in order");
    let stopped = server.stop();
    assert_eq!(stopped.lines().len(), 1000);
}

#[test]
fn eight_clients_at_once() {
    let server = Server::start();
    let messages: Vec<String> = (0..8)
        .map(|i| format!("client {i}: {}", mixed_text(2000, 100 + i)))
        .collect();
    let runs: Vec<Running> = messages
        .iter()
        .map(|m| Client::to(&server).arg(m).spawn())
        .collect();
    for run in runs {
        run.wait(after(600)).expect_code(0, "one of 8 clients");
    }
    let stopped = server.stop();
    let mut lines = stopped.lines();
    assert_eq!(lines.len(), 8, "exactly one line per message");
    lines.sort();
    let mut expected = messages.clone();
    expected.sort();
    // Each line is one whole message: none cut, none interleaved.
    assert!(lines == expected, "messages were cut or interleaved");
}

#[test]
fn queued_clients_are_served_in_arrival_order() {
    let server = Server::start_with(&["--trace"]);
    let first = Client::to(&server)
        .arg("--progress")
        .arg(mixed_text(20_000, 21))
        .spawn();
    assert!(
        first.wait_for_progress(1, after(120)).is_some(),
        "the first client never got going"
    );
    let mut later = Vec::new();
    for i in 0..3 {
        let run = Client::to(&server).arg(format!("queued {i}")).spawn();
        // Start the next one only once the server has heard this one: it
        // waits in line (or, on a slow machine, the first is done and it is
        // served): the arrival order is set.
        let (waits, served) = (
            format!("trace: {} waits its turn", run.pid()),
            format!("trace: serving {} ", run.pid()),
        );
        let heard = server.wait_for_stderr_any(&[&waits, &served], after(120));
        if heard != waits {
            eprintln!("queued client {i} was served at once: the first one was done");
        }
        later.push(run);
    }
    first.wait(after(300)).expect_code(0, "first client");
    for run in later {
        run.wait(after(300)).expect_code(0, "queued client");
    }
    let stopped = server.stop();
    let lines = stopped.lines();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], mixed_text(20_000, 21));
    assert_eq!(
        lines[1..],
        ["queued 0", "queued 1", "queued 2"],
        "first in, first out"
    );
}

#[test]
fn bad_pids_are_refused_without_sending_a_signal() {
    let mut pids = BAD_PIDS.to_vec();
    pids.push("SELF");
    let run = clients_in_a_namespace(&pids, None);
    for c in &run.clients {
        let pid = &c.pid_arg;
        assert_eq!(c.exit, 2, "client {pid:?} hello: stderr {:?}", c.stderr);
        assert_eq!(c.stdout, "", "client {pid:?}");
        assert!(!c.stderr.is_empty(), "client {pid:?}: no explanation");
    }
    let own = &run.clients[pids.len() - 1].stderr;
    assert!(own.contains("own PID"), "own PID refused with: {own:?}");
    run.assert_nobody_was_signalled(None);
}

#[test]
fn a_pid_without_a_process_fails_fast() {
    // In a fresh namespace PIDs start at 1: 30000 and 4000000 name nobody.
    let run = clients_in_a_namespace(&["30000", "4000000", "4194304"], None);
    for c in &run.clients {
        assert_eq!(c.exit, 2, "stderr {:?}", c.stderr);
        assert!(c.stderr.contains("no process has PID"), "{:?}", c.stderr);
    }
    run.assert_nobody_was_signalled(None);
    // Outside the namespace, with a timing record only: a PID above the
    // kernel's limit, which no process can have.
    let done = Client::new().args(["4194304", "hi"]).run(after(60));
    done.expect_code(2, "client to a PID with no process");
    eprintln!("no-process PID refused in {:?}", done.elapsed);
}

#[test]
fn a_process_that_does_not_catch_the_signals_is_refused_and_survives() {
    let mut sleeper = Proc::spawn(Command::new("sleep").arg("60"), "sleep");
    let done = Client::new()
        .arg(sleeper.pid().to_string())
        .arg("hello")
        .run(after(60));
    done.expect_code(2, "client to `sleep`");
    assert!(
        done.stderr.contains("does not catch SIGUSR1 and SIGUSR2"),
        "{:?}",
        done.stderr
    );
    let quiet = Client::new()
        .args(["--quiet", &sleeper.pid().to_string(), "hello"])
        .run(after(60));
    quiet.expect_code(2, "client --quiet to `sleep`");
    assert_eq!(quiet.stderr, "", "--quiet prints nothing");
    assert!(sleeper.try_status().is_none(), "`sleep` died");
    assert!(
        matches!(proc_state(sleeper.pid()), Some('S' | 'R')),
        "`sleep` is not well"
    );
    // PID 1 of a namespace (a shell without traps) is refused the same way.
    let run = clients_in_a_namespace(&["1"], None);
    assert_eq!(run.clients[0].exit, 2, "{:?}", run.clients[0].stderr);
    assert!(
        run.clients[0].stderr.contains("does not catch"),
        "{:?}",
        run.clients[0].stderr
    );
    run.assert_nobody_was_signalled(None);
}

/// Byte strings that are not UTF-8.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff",
    b"caf\xc3",
    b"\xc3\x28 bad continuation",
    b"\xed\xa0\x80 surrogate",
    b"\xc0\xaf overlong",
    b"\xf4\x90\x80\x80 above U+10FFFF",
    b"fine until \xfe",
];

#[test]
fn invalid_utf8_on_the_command_line_is_refused_before_sending() {
    let server = Server::start_with(&["--trace"]);
    for bad in NOT_UTF8 {
        let done = Client::to(&server)
            .arg(OsStr::from_bytes(bad))
            .run(after(60));
        done.expect_code(2, "client with invalid UTF-8");
        assert!(done.stderr.contains("not valid UTF-8"), "{:?}", done.stderr);
    }
    assert_no_signal_reached(server);
}

#[test]
fn invalid_utf8_on_stdin_is_refused_before_sending() {
    let server = Server::start_with(&["--trace"]);
    let mut long = ascii_text(60_000, 5).into_bytes();
    long.extend_from_slice(b"\xff the end");
    let mut cases: Vec<Vec<u8>> = NOT_UTF8.iter().map(|b| b.to_vec()).collect();
    cases.push(long);
    for bad in cases {
        let done = Client::to(&server).stdin(bad).run(after(60));
        done.expect_code(2, "client with invalid UTF-8 on stdin");
        assert!(
            done.stderr.contains("nothing was sent"),
            "{:?}",
            done.stderr
        );
    }
    assert_no_signal_reached(server);
}

#[test]
fn invalid_utf8_beyond_the_read_ahead_prints_nothing() {
    // 64 KiB are checked before the first signal; a bad byte after that is
    // found once part of the message is out. The server still prints
    // nothing of it: it holds up to 64 KiB, and the client's next read
    // covers the bad byte before it sent more than that.
    let server = Server::start_with(&["--stats"]);
    let mut message = ascii_text(70_000, 6).into_bytes();
    message.extend_from_slice(b"\xc3(");
    let done = Client::to(&server).stdin(message).run(after(300));
    done.expect_code(2, "client with invalid UTF-8 after 70,000 bytes");
    assert!(done.stderr.contains("at byte 70000"), "{:?}", done.stderr);
    server.wait_for_stderr("discarded", after(60));
    send(&server, "next");
    let stopped = server.stop();
    assert_eq!(stopped.output, b"next\n", "nothing of the bad message");
}

#[test]
fn help_version_and_bad_usage() {
    let bins = binaries();
    for (bin, name) in [(&bins.server, "server"), (&bins.client, "client")] {
        for flag in ["--help", "-h"] {
            let done =
                Running::spawn(Command::new(bin).chain_arg(flag), None, name).wait(after(60));
            done.expect_code(0, flag);
            assert!(
                done.stdout.starts_with(&format!("Usage: {name}")),
                "{:?}",
                done.stdout
            );
        }
        for flag in ["--version", "-V"] {
            let done =
                Running::spawn(Command::new(bin).chain_arg(flag), None, name).wait(after(60));
            done.expect_code(0, flag);
            assert!(
                done.stdout.starts_with(&format!("{name} (minitalk) ")),
                "{:?}",
                done.stdout
            );
        }
        let done =
            Running::spawn(Command::new(bin).chain_arg("--bogus"), None, name).wait(after(60));
        done.expect_code(2, "unknown option");
        assert!(!done.stderr.is_empty());
    }
    let help = Client::new().arg("--help").run(after(60)).stdout;
    for option in [
        "--timeout SECS",
        "--stats",
        "--quiet",
        "--help",
        "--version",
    ] {
        assert!(
            help.contains(option),
            "client --help does not mention {option}"
        );
    }
    let server = Server::start();
    let pid = server.pid_arg();
    for args in [
        vec![],
        vec![pid.as_str(), "one", "two"],
        vec!["--timeout", pid.as_str(), "hi"],
        vec!["--timeout", "abc", pid.as_str(), "hi"],
        vec!["--timeout", "0", pid.as_str(), "hi"],
        vec!["--timeout", "-1", pid.as_str(), "hi"],
    ] {
        let done = Client::new().args(&args).run(after(60));
        done.expect_code(2, &format!("client {args:?}"));
    }
    let stopped = server.stop();
    assert_eq!(stopped.output, b"", "bad usage sends nothing");
}

#[test]
fn client_options_work() {
    let server = Server::start();
    let pid = server.pid_arg();
    let stats = Client::new()
        .args(["--stats", &pid, "with stats"])
        .run(after(60));
    stats.expect_code(0, "--stats");
    assert!(
        stats.stderr.starts_with("client: 10 bytes, 80 bits,"),
        "{:?}",
        stats.stderr
    );
    let quiet = Client::new()
        .args(["--quiet", &pid, "quiet"])
        .run(after(60));
    quiet.expect_code(0, "--quiet");
    assert_eq!(quiet.stderr, "");
    let timeout = Client::new()
        .args(["--timeout", "10", &pid, "timeout"])
        .run(after(60));
    timeout.expect_code(0, "--timeout 10");
    let dash = Client::new().args([&pid, "-dash"]).run(after(60));
    dash.expect_code(2, "a message that looks like an option");
    for args in [[&pid, "--", "-dash"], ["--", &pid, "-dash"]] {
        let done = Client::new().args(args).run(after(60));
        done.expect_code(0, "a message that starts with '-', after '--'");
    }
    let stopped = server.stop();
    assert_eq!(
        stopped.lines(),
        ["with stats", "quiet", "timeout", "-dash", "-dash"]
    );
}

/// `Command::arg` that returns the command by value.
trait ChainArg {
    fn chain_arg(self, arg: &str) -> Command;
}

impl ChainArg for Command {
    fn chain_arg(mut self, arg: &str) -> Command {
        self.arg(arg);
        self
    }
}

#[test]
fn concurrent_clients_from_threads_each_get_their_line() {
    // Clients started from several threads, several each, in a row: every
    // message whole, each thread's messages in its own order.
    let server = Server::start();
    let pid = server.pid_arg();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let pid = pid.clone();
            thread::spawn(move || {
                for r in 0..3 {
                    let m = format!("w{w} r{r} {}", mixed_text(300, w * 10 + r));
                    Client::new()
                        .arg(&pid)
                        .arg(&m)
                        .run(after(600))
                        .expect_code(0, "worker client");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    let stopped = server.stop();
    let lines = stopped.lines();
    assert_eq!(lines.len(), 12);
    for w in 0..4u64 {
        let mine: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("w{w} ")))
            .collect();
        let expected: Vec<String> = (0..3)
            .map(|r| format!("w{w} r{r} {}", mixed_text(300, w * 10 + r)))
            .collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "worker {w}");
    }
}

#[test]
fn quiet_silences_usage_errors_wherever_it_stands() {
    for args in [
        &["-q", "--bogus", "42"][..],
        &["--bogus", "-q", "42"],
        &["--timeout", "x", "--quiet", "42"],
        &["-q", "1", "2", "3"],
        &["-q"],
    ] {
        let done = Client::new().args(args).run(after(60));
        done.expect_code(2, &format!("client {args:?}"));
        assert_eq!(done.stderr, "", "client {args:?} must print nothing");
        assert_eq!(done.stdout, "", "client {args:?} must print nothing");
    }
}

#[test]
fn stats_times_a_short_message_truthfully() {
    let server = Server::start_with(&["--stats"]);
    let done = Client::to(&server).args(["--stats", "hi"]).run(after(60));
    done.expect_code(0, "client --stats hi");
    // "client: 2 bytes, 16 bits, 64 signals, 0 retries, <time>, <rate>"
    let time = done
        .stderr
        .trim_end()
        .split(", ")
        .nth(4)
        .unwrap_or_default()
        .to_owned();
    assert!(
        time.chars().any(|c| ('1'..='9').contains(&c)),
        "the time field must not be zero: {:?}",
        done.stderr
    );
    let stopped = server.stop();
    let line = stopped
        .stderr
        .lines()
        .find(|l| l.contains(" bytes in "))
        .unwrap_or_default()
        .to_owned();
    let time = line.split(" bytes in ").nth(1).unwrap_or_default();
    let time = time.split(" (").next().unwrap_or_default();
    assert!(
        time.chars().any(|c| ('1'..='9').contains(&c)),
        "the server's time must not be zero: {line:?} in {:?}",
        stopped.stderr
    );
}
