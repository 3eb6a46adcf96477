//! The models of the classic 42 wire (`e2e/models/`), checked against each
//! other: a model client to a model server of the matching convention
//! delivers exactly, exits 0, and nobody dies of a signal. Only then are the
//! models worth testing our binaries against.
//!
//! `cargo test -p minitalk-e2e --test classic_models -- --ignored measure`
//! measures the fastest self-pace each model server kind takes without losing
//! a bit (a figure for the client's default pace, not a test).

use minitalk_e2e::after;
use minitalk_e2e::models::{model_client, ModelServer};

const MESSAGE: &str = "Hello, 42! ünïcode too";

/// For self-paced clients: short, because a loaded machine can leave the
/// server unscheduled for longer than a pace, and then two equal signals
/// merge into one; the paces here are far slower than any learner's, so the
/// pairs check the conventions, not the machine.
const SHORT: &str = "ü!";

/// Runs one model client against one model server; checks the message
/// arrived exactly and the client exited 0.
fn pair(server_args: &[&str], client_args: &[&str], message: &str) {
    if let Err(e) = try_pair(server_args, client_args, message) {
        panic!("{e}");
    }
}

/// A self-paced pair: nothing tells the client that a bit was lost, and a
/// loaded machine can leave the server unscheduled for longer than any
/// pace, so two equal signals merge into one (the very fault `--classic`
/// reports to learners). The pair is known good when one of a few attempts
/// delivers exactly; how often each attempt loses a bit is measured by
/// `measure_loss_rate`, not asserted.
fn paced_pair(server_args: &[&str], client_args: &[&str], message: &str) {
    const ATTEMPTS: usize = 5;
    let mut errors = Vec::new();
    for _ in 0..ATTEMPTS {
        match try_pair(server_args, client_args, message) {
            Ok(()) => return,
            Err(e) => errors.push(e),
        }
    }
    panic!(
        "{ATTEMPTS} attempts lost bits or failed:\n{}",
        errors.join("\n")
    );
}

/// One model client against one fresh model server: the client exits 0
/// (a client killed by a signal never does) and the server prints exactly
/// the message.
fn try_pair(server_args: &[&str], client_args: &[&str], message: &str) -> Result<(), String> {
    let server = ModelServer::start(server_args, after(20));
    let client = model_client(client_args, server.pid(), message).wait(after(60));
    let what = format!("server {server_args:?}, client {client_args:?}");
    client.expect_code(0, &what);
    let mut server = server;
    // The client has sent every bit by now: what has not arrived within a
    // few seconds (a message whose NUL was lost) never will.
    let got = server.wait_for_messages(1, after(5));
    let state = server.running.try_status();
    if got == [message] {
        return Ok(());
    }
    Err(format!(
        "{what}: got {got:?}, server {state:?}, stdout {:?}, stderr {:?}; client stderr {:?}",
        server.running.stdout().text(),
        server.running.stderr().text(),
        client.stderr
    ))
}

fn with(base: &[&'static str], wire: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(wire).copied().collect()
}

const WIRES: &[&[&str]] = &[
    &[],
    &["--lsb"],
    &["--usr1"],
    &["--lsb", "--usr1"],
    &["--none"],
    &["--len32"],
    &["--len64"],
    &["--lsb", "--len32", "--none"],
    &["--len64", "--usr1"],
];

#[test]
fn self_paced_clients_to_servers_they_survive() {
    // (server --ack, client catches): a client dies of a signal it does not
    // catch, so each pairs with the servers that send only what it catches.
    for (ack, catch, exit_on) in [
        ("none", "none", None),
        ("end", "usr1", None),
        ("end", "usr1", Some("usr1")),
        ("first", "usr2", None),
        ("first", "both", None),
        ("bit", "both", None),
        ("usr2bit", "both", None),
    ] {
        for pace in ["10000", "20000"] {
            let mut client = vec!["--pace", pace, "--catch", catch];
            if let Some(sig) = exit_on {
                client.extend(["--exit-on", sig]);
            }
            paced_pair(&["--ack", ack], &client, SHORT);
        }
    }
}

#[test]
fn waiting_clients_to_their_servers() {
    for (ack, wait) in [
        ("bit", "bit"),
        ("plus", "bit"),
        ("then", "done"),
        ("plus", "done"),
        ("echo", "echo"),
    ] {
        pair(&["--ack", ack], &["--wait", wait], MESSAGE);
    }
}

#[test]
fn every_wire_convention() {
    for wire in WIRES {
        let none_end = wire.contains(&"--none") && !wire.iter().any(|w| w.starts_with("--len"));
        pair(
            &with(&["--ack", "bit"], wire),
            &with(&["--wait", "bit"], wire),
            MESSAGE,
        );
        if !none_end {
            pair(
                &with(&["--ack", "plus"], wire),
                &with(&["--wait", "done"], wire),
                MESSAGE,
            );
        }
        paced_pair(
            &with(&["--ack", "none"], wire),
            &with(&["--pace", "15000"], wire),
            SHORT,
        );
    }
}

#[test]
fn empty_message_and_a_long_one() {
    pair(&["--ack", "bit"], &["--wait", "bit"], "");
    let long: String = (0..2000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    pair(&["--ack", "bit"], &["--wait", "bit"], &long);
}

const KINDS: [&str; 8] = [
    "none", "end", "first", "bit", "then", "plus", "echo", "usr2bit",
];

/// The server kinds to measure: all, or those listed in `MEASURE_ACKS`
/// (comma-separated).
fn kinds() -> Vec<&'static str> {
    let only = std::env::var("MEASURE_ACKS").unwrap_or_default();
    KINDS
        .into_iter()
        .filter(|k| only.is_empty() || only.split(',').any(|o| o == *k))
        .collect()
}

/// Whether a model client catching both signals, pacing itself at `pace`
/// µs, delivers `message` exactly to a fresh model server of kind `ack`.
fn delivers_at(ack: &str, pace: u32, message: &str) -> bool {
    let server = ModelServer::start(&["--ack", ack], after(20));
    let pace = pace.to_string();
    let client =
        model_client(&["--pace", &pace, "--catch", "both"], server.pid(), message).wait(after(60));
    let got = server.wait_for_messages(1, after(3));
    let ok = client.code() == Some(0) && got == [message];
    if !ok && std::env::var_os("MEASURE_VERBOSE").is_some() {
        eprintln!(
            "{ack} {pace}: client {:?} {:?}, got {got:?}",
            client.status, client.stderr
        );
    }
    ok
}

#[test]
#[ignore = "a measurement, not a test: prints the fastest lossless pace per server kind"]
fn measure_fastest_lossless_pace() {
    let message: String = (0..200).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    for ack in kinds() {
        let fastest = [
            5u32, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 2000,
        ]
        .into_iter()
        .find(|&pace| (0..5).all(|_| delivers_at(ack, pace, &message)));
        println!(
            "server --ack {ack}: fastest lossless pace {fastest:?} µs (5 of 5 tries of 200 bytes)"
        );
    }
}

#[test]
#[ignore = "a measurement, not a test: prints how often each server kind loses bits per pace"]
fn measure_loss_rate() {
    let message: String = (0..200).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let tries = 10;
    for ack in kinds() {
        let mut row = format!("server --ack {ack:8}");
        for pace in [50u32, 100, 200, 400] {
            let lost = (0..tries)
                .filter(|_| !delivers_at(ack, pace, &message))
                .count();
            row += &format!("  {pace} µs: {lost}/{tries} lost");
        }
        println!("{row}");
    }
}
