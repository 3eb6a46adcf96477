//! The server under pressure from its own stdout (issue "Truthful under
//! pressure", part 1): a pipe read slowly, a pipe never read.
//!
//! The server's stdout here is a pipe that the test reads at its own pace,
//! not a [`minitalk_e2e::Server`] collector that drains it at once. Waits are
//! bounded by generous deadlines that only catch hangs; no test asserts how
//! long something took (the delays are measured by hand for the report).

use std::io::Read;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use minitalk_e2e::{after, ascii_text, binaries, Client, Collector, Finished, Proc, Running};

/// A server whose stdout is left to the test.
struct PipedServer {
    proc: Proc,
    stdout: Option<ChildStdout>,
    stderr: Collector,
}

impl PipedServer {
    /// Starts a server and reads its PID line, byte by byte, so that nothing
    /// after it is taken from the pipe.
    fn start() -> PipedServer {
        let mut cmd = Command::new(&binaries().server);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn(&mut cmd, "server");
        let (stdout, stderr) = proc.take_pipes();
        let mut stdout = stdout.expect("piped stdout");
        let stderr = Collector::start(stderr.expect("piped stderr"));
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while line.last() != Some(&b'\n') {
            match stdout.read(&mut byte) {
                Ok(1) => line.push(byte[0]),
                _ => panic!("the server printed no PID line: {line:?}"),
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&line),
            format!("server PID {}\n", proc.pid())
        );
        PipedServer {
            proc,
            stdout: Some(stdout),
            stderr,
        }
    }

    fn pid_arg(&self) -> String {
        self.proc.pid().to_string()
    }
}

/// Ten-kilobyte messages that differ from each other.
fn message(i: usize) -> String {
    let mut m = format!("message {i}: ");
    m.push_str(&ascii_text(10_000 - m.len(), i as u64 + 1));
    m
}

/// Waits for every client; the finished runs in order.
fn wait_all(clients: Vec<Running>, secs: u64) -> Vec<Finished> {
    let deadline = after(secs);
    clients.into_iter().map(|c| c.wait(deadline)).collect()
}

#[test]
fn a_slow_reader_makes_no_client_fail() {
    let mut server = PipedServer::start();
    // Eight messages of 10 kB: more than the pipe's 64 KiB, so the server
    // waits for its reader for the last ones.
    let messages: Vec<String> = (0..8).map(message).collect();
    let read = Arc::new(Mutex::new(Vec::new()));
    let fast = Arc::new(Mutex::new(false));
    let reader = {
        let (read, fast) = (Arc::clone(&read), Arc::clone(&fast));
        let mut stdout = server.stdout.take().expect("stdout");
        thread::spawn(move || {
            // About 1 kB/s (100 bytes every 100 ms) until the clients are
            // done, then as fast as it comes.
            let mut buf = [0u8; 4096];
            loop {
                let quick = *fast.lock().unwrap();
                let want = if quick { buf.len() } else { 100 };
                match stdout.read(&mut buf[..want]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read.lock().unwrap().extend_from_slice(&buf[..n]),
                }
                if !quick {
                    thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    let started = Instant::now();
    let clients: Vec<Running> = messages
        .iter()
        .map(|m| {
            // One after another, so that they queue in this order.
            let c = Client::new().arg(server.pid_arg()).arg(m).spawn();
            thread::sleep(Duration::from_millis(20));
            c
        })
        .collect();
    let done = wait_all(clients, 600);
    let elapsed = started.elapsed();
    *fast.lock().unwrap() = true;
    for (i, d) in done.iter().enumerate() {
        d.expect_code(0, &format!("client {i} with a slow reader"));
    }
    eprintln!(
        "slow reader: {} clients exited 0 after {:.1} s in all",
        done.len(),
        elapsed.as_secs_f64()
    );
    assert!(server.proc.signal(libc::SIGTERM));
    let status = server.proc.wait(after(30));
    assert_eq!(status.code(), Some(0), "{:?}", server.stderr.text());
    reader.join().expect("reader");
    let out = String::from_utf8(read.lock().unwrap().clone()).expect("UTF-8");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want: Vec<&str> = messages.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(lines, want, "every message, once, whole");
}

#[test]
fn a_pipe_never_read_does_not_keep_the_server_from_stopping() {
    let mut server = PipedServer::start();
    // Seven messages of 10 kB: the pipe's 64 KiB take six, not the seventh.
    let clients: Vec<Running> = (0..7)
        .map(|i| {
            let c = Client::new().arg(server.pid_arg()).arg(message(i)).spawn();
            thread::sleep(Duration::from_millis(20));
            c
        })
        .collect();
    let done = wait_all(clients, 600);
    let failed: Vec<&Finished> = done.iter().filter(|d| d.code() != Some(0)).collect();
    assert!(
        !failed.is_empty(),
        "the scenario needs a message the full pipe cannot take"
    );
    for d in &failed {
        d.expect_code(1, "a client whose message the pipe cannot take");
        assert!(
            d.stderr.contains("its output is not being read"),
            "a clear line: {:?}",
            d.stderr
        );
    }
    assert_eq!(
        server.proc.try_status(),
        None,
        "the server is still running, waiting for its reader"
    );
    let stop = Instant::now();
    assert!(server.proc.signal(libc::SIGTERM));
    let status = server.proc.wait(after(10));
    eprintln!(
        "never-read pipe: SIGTERM to exit {:.1} ms",
        stop.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(status.code(), Some(0), "{:?}", server.stderr.text());
    assert!(server.stderr.wait_closed(after(30)));
    // Everything the clients were told was printed is in the pipe, whole.
    let mut out = Vec::new();
    server
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read");
    let out = String::from_utf8_lossy(&out);
    for (i, d) in done.iter().enumerate() {
        if d.code() == Some(0) {
            assert!(
                out.lines().any(|l| l == message(i)),
                "message {i} confirmed but not printed"
            );
        }
    }
}
