//! The simulated world: one server, clients, stray processes, and the Linux
//! signal semantics between them, in simulated time (µs), driven by one
//! seeded PRNG so that a seed replays a run exactly.
//!
//! Signal semantics modelled:
//! - `kill()` puts a signal in the target's pending set at once. The set has
//!   one slot per signal: a second `SIGUSR1` (or `SIGUSR2`) while one is
//!   pending is lost, and the siginfo kept (the sender's PID) is the first's.
//! - A process handles signals only when it runs: a signal wakes it after a
//!   scheduling latency (usually a few µs, sometimes ms, rarely tens of ms),
//!   and a stopped process (SIGSTOP) runs only once continued.
//! - When it runs, its handlers record every pending signal, the lower
//!   numbered first (`SIGUSR1` = 10 before `SIGUSR2` = 12; a world option
//!   reverses this, as nested handlers would), then its main loop feeds them
//!   to the state machine and acts on its outputs.
//! - Signals to a dead process are dropped. One process's `kill()` calls
//!   land in the order it made them (the sender may be preempted before one,
//!   which delays it and everything after it).
//!
//! The harness loops are those of the real binaries: the server feeds a
//! signal to the [`Server`] when its sender is known or catches both
//! signals, and runs the binary's own driver, [`Server::drive`], with the
//! simulated world behind [`Effects`]; a client passes only the server's
//! signals to its [`Sender`], tells it when each bit went out
//! ([`Sender::sent`], the clock read after the `kill`: a process may be
//! stopped between deciding a bit and sending it), and exits on
//! `Done`/`Failed`.
//! Both orders a main loop may take are exercised: a share of the clients
//! poll after each signal (as the reference client does, taking them one at
//! a time with `sigtimedwait`), the others after all those recorded at one
//! wakeup; at a share of its wakeups the server polls its timers before
//! feeding the signals, at the others after.

use minitalk_protocol::{Duration, Instant};
use std::collections::HashMap;
use std::fmt::Write as _;

use minitalk_protocol::frame;
use minitalk_protocol::{
    Aborted, Catches, Effects, Failure, Heard, Note, Output, Pid, Poll, ProcessState,
    ReceiverConfig, Sender, SenderConfig, Server, Signal,
};

use crate::rng::Rng;

/// Simulated time, in microseconds.
pub type Micros = u64;

/// Capacity of the server's queue, as in the reference server.
pub const QUEUE: usize = 128;
/// The server's index in the process table.
const SERVER: usize = 0;
/// The PID of process index 0.
const PID_BASE: Pid = 1000;
/// The server's PID.
pub const SERVER_PID: Pid = PID_BASE;

pub const MS: Micros = 1_000;
pub const SEC: Micros = 1_000_000;

/// The simulated time `t` as the protocol's [`Instant`].
fn instant(t: Micros) -> Instant {
    Instant::ZERO + Duration::from_micros(t)
}

/// The protocol's [`Instant`] as simulated time.
fn micros(i: Instant) -> Micros {
    i.since_zero().as_micros() as Micros
}

fn index(sig: Signal) -> usize {
    match sig {
        Signal::Usr1 => 0,
        Signal::Usr2 => 1,
    }
}

fn signal(i: usize) -> Signal {
    if i == 0 {
        Signal::Usr1
    } else {
        Signal::Usr2
    }
}

/// How often things go wrong. Probabilities are per signal, per wakeup or
/// per transfer as stated; `*_every` are mean intervals of Poisson
/// processes (0: never).
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Per signal: lost outright.
    pub loss: f64,
    /// Per signal: sent twice (a second `kill()` right after the first).
    pub dup: f64,
    /// Per `SIGUSR2` from the server (mostly "frame accepted"): lost. Rare
    /// in general, so targeted: it is what makes senders retransmit a frame
    /// that was accepted.
    pub usr2_loss: f64,
    /// Per signal: the sender is preempted just before `kill()` (20 µs to
    /// 3 ms): a delay that reorders signals across senders.
    pub preempt: f64,
    /// Per wakeup: a latency of 20 µs to 1 ms instead of a few µs.
    pub slow: f64,
    /// Per wakeup: 1 to 10 ms.
    pub slower: f64,
    /// Per wakeup: 10 to 60 ms.
    pub slowest: f64,
    /// Mean interval of SIGSTOPs of the server (for 250 to 350 ms).
    pub server_stop_every: Micros,
    /// Per transfer: its client is SIGSTOPped once (250 to 350 ms).
    pub client_stop: f64,
    /// Per SIGSTOP (server or client): a long one, 1.5 to 2.9 s, past the
    /// receiver's session timeout (so the session is dropped under the
    /// process's feet) but short of the sender's `give_up`.
    pub long_stop: f64,
    /// Per SIGSTOP of a client (or pause before a `kill`): a very long
    /// one, 3.1 to 8 s, past the
    /// session timeout and past the 5 s that the receiver once remembered a
    /// finished message for.
    pub very_long_stop: f64,
    /// Per transfer: its client is stopped once between deciding to send a
    /// bit and the `kill` (for as long as a client SIGSTOP).
    pub send_pause: f64,
    /// Per batch: the server is runnable but not run for 3.5 to 8 s (a
    /// loaded machine), longer than the senders' `give_up`: their /proc
    /// shows it `R`.
    pub deschedule: f64,
    /// Per batch: a crowd, 32 clients that knock at the same instant.
    pub crowd: f64,
    /// Per transfer: when its client ends, a new process gets its PID and
    /// sends the same text.
    pub pid_reuse: f64,
    /// Per batch: an impostor, a process that speaks the protocol from its
    /// own PID and sends the text of another client of the batch.
    pub impostor: f64,
    /// Per transfer in a world that holds 64 KiB: a message larger than
    /// that (streamed).
    pub huge: f64,
    /// Per transfer: the client sends 2 to 4 messages, not one.
    pub more_messages: f64,
    /// Per transfer: its client is killed part way, at a random one of
    /// the signals it would send if all went well.
    pub kill: f64,
    /// Mean interval of signals to the server from a new process that
    /// catches `SIGUSR1`/`SIGUSR2` (so the server feeds them in).
    pub stray_catching_every: Micros,
    /// Mean interval of signals to the server from a process that does not
    /// catch them (so the server ignores them).
    pub stray_ignored_every: Micros,
    /// Mean interval of signals to a random client from a third party.
    pub stray_client_every: Micros,
}

impl Faults {
    /// Nothing goes wrong; latencies of a few µs.
    pub const NONE: Faults = Faults {
        loss: 0.0,
        dup: 0.0,
        usr2_loss: 0.0,
        preempt: 0.0,
        slow: 0.0,
        slower: 0.0,
        slowest: 0.0,
        server_stop_every: 0,
        client_stop: 0.0,
        long_stop: 0.0,
        very_long_stop: 0.0,
        send_pause: 0.0,
        deschedule: 0.0,
        crowd: 0.0,
        pid_reuse: 0.0,
        impostor: 0.0,
        huge: 0.0,
        more_messages: 0.0,
        kill: 0.0,
        stray_catching_every: 0,
        stray_ignored_every: 0,
        stray_client_every: 0,
    };

    /// Realistic but harsh. A frame of 255 bytes is about 4200 signals and
    /// 4200 wakeups, so per-signal rates must stay well below 1/4200 for a
    /// frame to get through in a few tries; everything else is generous.
    pub const HARSH: Faults = Faults {
        loss: 2e-5,
        dup: 1e-5,
        usr2_loss: 5e-3,
        preempt: 1e-3,
        slow: 2e-2,
        slower: 5e-4,
        slowest: 1e-5,
        server_stop_every: 5 * SEC,
        client_stop: 0.02,
        long_stop: 0.05,
        very_long_stop: 0.05,
        send_pause: 0.01,
        deschedule: 0.01,
        crowd: 0.003,
        pid_reuse: 0.02,
        impostor: 0.05,
        huge: 0.004,
        more_messages: 0.05,
        kill: 0.02,
        stray_catching_every: 4 * SEC,
        stray_ignored_every: 200 * MS,
        stray_client_every: 200 * MS,
    };
}

impl Faults {
    /// Applies overrides such as `loss=1e-4,dup=1e-3,kill=0.1`: each key is
    /// a field name, each value a number.
    pub fn with(mut self, spec: &str) -> Result<Faults, String> {
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("{item}: expected key=value"))?;
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{item}: not a number"))?;
            let us = value as Micros;
            match key.trim() {
                "loss" => self.loss = value,
                "dup" => self.dup = value,
                "usr2_loss" => self.usr2_loss = value,
                "preempt" => self.preempt = value,
                "slow" => self.slow = value,
                "slower" => self.slower = value,
                "slowest" => self.slowest = value,
                "server_stop_every" => self.server_stop_every = us,
                "client_stop" => self.client_stop = value,
                "long_stop" => self.long_stop = value,
                "very_long_stop" => self.very_long_stop = value,
                "send_pause" => self.send_pause = value,
                "deschedule" => self.deschedule = value,
                "crowd" => self.crowd = value,
                "pid_reuse" => self.pid_reuse = value,
                "impostor" => self.impostor = value,
                "huge" => self.huge = value,
                "more_messages" => self.more_messages = value,
                "kill" => self.kill = value,
                "stray_catching_every" => self.stray_catching_every = us,
                "stray_ignored_every" => self.stray_ignored_every = us,
                "stray_client_every" => self.stray_client_every = us,
                other => return Err(format!("{other}: no such fault")),
            }
        }
        Ok(self)
    }
}

/// What a scripted fault does to one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Let chance decide (the world's [`Faults`]).
    Chance,
    /// Deliver it, no fault.
    Deliver,
    /// Lose it.
    Drop,
    /// Send it twice.
    Duplicate,
    /// Kill the sending process instead of sending.
    KillSender,
    /// Send it, then SIGSTOP the sender for this long.
    StopSender(Micros),
    /// Send it, then SIGSTOP its target for this long (before it runs).
    StopTarget(Micros),
    /// Lose it, and have a third party send this signal to its sender at
    /// once: a forged reply.
    LoseAndForge(Signal),
}

/// One signal about to be sent, as a script sees it.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub from: Pid,
    pub to: Pid,
    pub signal: Signal,
}

pub type Script = Box<dyn FnMut(&Sent) -> Fate + Send>;

/// Everything that configures a world.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub faults: Faults,
    pub sender: SenderConfig,
    pub receiver: ReceiverConfig,
    /// Handlers run `SIGUSR2` first (nested handlers without a mask).
    pub usr2_first: bool,
    /// Share of clients whose main loop polls after each reply rather than
    /// after all the replies recorded at one wakeup.
    pub poll_each_share: f64,
    /// Share of the server's wakeups at which its main loop polls the
    /// receiver's timers before feeding it the signals just recorded.
    pub server_timers_first: f64,
    /// The server runs with `--trace`: its output counter (`wchar`) moves
    /// with every signal it handles, not only with its messages.
    pub server_trace: bool,
    /// The "server" is a process that catches the signals, is always
    /// runnable and uses CPU time, and never answers.
    pub server_spins: bool,
}

impl Config {
    pub fn calm() -> Config {
        Config {
            faults: Faults::NONE,
            sender: SenderConfig::default(),
            receiver: ReceiverConfig::default(),
            usr2_first: false,
            poll_each_share: 0.0,
            server_timers_first: 0.0,
            server_trace: false,
            server_spins: false,
        }
    }

    pub fn harsh() -> Config {
        Config {
            faults: Faults::HARSH,
            poll_each_share: 0.7,
            server_timers_first: 0.5,
            ..Config::calm()
        }
    }
}

macro_rules! counters {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $field:ident,)* }) => {
        $(#[$m])*
        pub struct $name { $($(#[$fm])* pub $field: u64,)* }
        impl $name {
            /// Adds `other` field by field.
            pub fn add(&mut self, other: &$name) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

counters! {
    /// What happened, summed over runs.
    #[derive(Clone, Debug, Default)]
    pub struct Stats {
        transfers,
        /// The sender reported `Done`.
        delivered,
        /// Failed on silence, nothing known of the server's process.
        failed_silent,
        /// Failed on silence with the server's process stopped, asleep, or
        /// busy past the cap.
        failed_stopped,
        failed_asleep,
        failed_unanswering,
        failed_retries,
        /// Failed, yet the message was output whole: false negatives.
        false_negatives,
        /// Killed on purpose (neither `Done` nor `Failed`).
        killed,
        /// Killed after the whole message was output.
        killed_after_output,
        /// Lines that end a streamed message cut short.
        truncated_lines,
        /// Held messages thrown away (nothing output).
        discarded,
        /// Message bytes of all transfers.
        bytes,
        /// `SenderStats::retries`, summed.
        retries,
        /// `SenderStats::queued`, summed.
        queued,
        /// Every `kill()` of a `SIGUSR1`/`SIGUSR2`, strays included.
        signals,
        /// `SIGUSR2` replies of the server lost (a targeted fault).
        lost_usr2,
        batches,
        /// Simulated time, µs.
        sim_time,
        // Faults injected.
        lost,
        coalesced,
        duplicated,
        preempted,
        slow,
        slower,
        slowest,
        server_stops,
        /// Server runnable but not run for longer than `give_up`.
        deschedules,
        /// Batches of 32 clients knocking at the same instant.
        crowds,
        client_stops,
        /// Clients stopped between deciding to send a bit and the `kill`.
        send_pauses,
        /// Client stops longer than the session timeout and 5 s.
        very_long_stops,
        /// Processes that got the PID of a client that ended.
        pid_reuses,
        /// Processes that sent another client's text from their own PID.
        impostors,
        /// Messages larger than a 64 KiB hold buffer.
        huge,
        /// Transfers beyond those asked for: PID reusers and impostors.
        extra,
        /// Messages of all transfers (a client may send several).
        messages,
        stray_catching,
        stray_ignored,
        stray_client,
        // Consequences.
        to_dead,
        ignored_at_server,
        ignored_at_client,
        rejected,
        duplicates,
        gap_resets,
        queue_full,
        abandoned_silent,
        abandoned_vanished,
        check_alive,
        peer_gone,
    }
}

/// How a client ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    NotStarted,
    Running,
    Done,
    Failed(Failure),
    Killed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Server,
    Client(usize),
    /// A third party: never runs, drops what it gets.
    Stray,
}

#[derive(Clone, Debug)]
struct Proc {
    kind: Kind,
    /// Its PID: a later process may get the PID of one that ended.
    pid: Pid,
    alive: bool,
    /// Has handlers for `SIGUSR1` and `SIGUSR2` (what the server checks).
    catches: bool,
    /// The pending set: who sent the pending `SIGUSR1` and `SIGUSR2` (the
    /// PID in its siginfo, and the process that sent it).
    pending: [Option<(Pid, usize)>; 2],
    /// A `Run` event is scheduled.
    runnable: bool,
    /// SIGSTOPped until then.
    stopped_until: Micros,
    /// Runnable but waiting for a CPU until then (/proc says `R`).
    descheduled_until: Micros,
    /// CPU time used, in runs (what a sender sees move).
    cpu: u64,
    /// Bytes written (`wchar`).
    written: u64,
    /// Stopped since it last ran.
    was_stopped: bool,
    /// When the process's own timer wants it to run.
    timer_want: Option<Micros>,
    /// The time of the earliest `Timer` event in the queue for it.
    timer_event: Option<Micros>,
    /// When its last signal landed: its `kill()` calls stay in order.
    last_landing: Micros,
    /// Client main loop variant: poll after each reply.
    poll_each: bool,
}

/// A client and the messages it sends, one after the other.
pub struct Client {
    proc_: usize,
    pub pid: Pid,
    pub texts: Vec<String>,
    /// Byte ranges of the frames' payloads, message by message.
    frames: Vec<Vec<(usize, usize)>>,
    /// The message being sent, and its next frame to load.
    message: usize,
    next_frame: usize,
    /// Messages whose sender reported `Done`.
    pub done: usize,
    tx: Sender,
    /// Signals sent so far, and the count at which the client is killed.
    sent: u64,
    kill_after: Option<u64>,
    /// The process is stopped for `.1` between deciding to send its signal
    /// number `.0` and the `kill` (after the sender's `poll`, before `sent`).
    pause_before: Option<(u64, Micros)>,
    /// The signal decided before that pause, sent when the process runs.
    deferred: Option<Signal>,
    /// Whom the server was serving when the process last ran again after a
    /// stop (`Some(None)`: nobody), for scripted tests to check their
    /// scenario.
    pub resumed_while_serving: Option<Option<Pid>>,
    /// It takes the PID of this client when it starts.
    reuses: Option<usize>,
    /// The client that takes its PID once it ended.
    successor: Option<usize>,
    pub start: Micros,
    pub end: Micros,
    pub outcome: Outcome,
}

impl Client {
    /// Its sender's counters.
    pub fn tx_stats(&self) -> minitalk_protocol::SenderStats {
        self.tx.stats()
    }
}

/// One line of the server's output, with every PID whose frames wrote into
/// it (and which process had that PID then).
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub pids: Vec<Pid>,
    procs: Vec<usize>,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Sink {
    lines: Vec<Line>,
    partial: Line,
}

impl Sink {
    /// Appends what the server writes on behalf of `pid`'s session.
    fn write(&mut self, (pid, proc_): (Pid, usize), bytes: &[u8]) {
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            if !self.partial.procs.contains(&proc_) {
                self.partial.pids.push(pid);
                self.partial.procs.push(proc_);
            }
            match chunk.split_last() {
                Some((b'\n', body)) => {
                    self.partial.bytes.extend_from_slice(body);
                    let line = std::mem::take(&mut self.partial);
                    self.lines.push(line);
                }
                _ => self.partial.bytes.extend_from_slice(chunk),
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Arrive {
        to: u32,
        from: Pid,
        /// The sending process (a PID may change hands while it flies).
        by: u32,
        sig: u8,
    },
    Run(u32),
    Timer(u32),
    Start(u32),
    Stop {
        proc_: u32,
        length: u32,
    },
    /// The server waits for a CPU for this long (runnable, `R`).
    Deschedule {
        length: u32,
    },
    ServerStops,
    StrayServer {
        catching: bool,
    },
    StrayClient,
}

/// The event queue: a binary min-heap on `time << 64 | sequence`, written
/// out by hand because `BinaryHeap`'s generic code dominates a debug build.
#[derive(Default)]
struct Events {
    heap: Vec<(u128, Ev)>,
}

impl Events {
    fn push(&mut self, key: u128, ev: Ev) {
        let h = &mut self.heap;
        h.push((key, ev));
        let mut i = h.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if h[parent].0 <= key {
                break;
            }
            h[i] = h[parent];
            i = parent;
        }
        h[i] = (key, ev);
    }

    fn pop(&mut self) -> Option<(u128, Ev)> {
        let h = &mut self.heap;
        let last = h.pop()?;
        if h.is_empty() {
            return Some(last);
        }
        let top = h[0];
        let n = h.len();
        let mut i = 0;
        loop {
            let mut child = 2 * i + 1;
            if child >= n {
                break;
            }
            if child + 1 < n && h[child + 1].0 < h[child].0 {
                child += 1;
            }
            if h[child].0 >= last.0 {
                break;
            }
            h[i] = h[child];
            i = child;
        }
        h[i] = last;
        Some(top)
    }
}

/// The world, with a server whose message buffer holds `N` bytes and whose
/// queue holds `Q` processes.
pub struct World<const N: usize, const Q: usize = QUEUE> {
    cfg: Config,
    rng: Rng,
    now: Micros,
    seq: u64,
    events: Events,
    procs: Vec<Proc>,
    /// Which process has each PID.
    owner: HashMap<Pid, usize>,
    /// The process that sent the signal the server is taking now.
    hearing: Option<usize>,
    /// Which process sent the first byte of the frame the server is
    /// reading from each PID: the writer of that frame's text, even when
    /// the PID changed hands meanwhile (a killed client's last signals may
    /// reach the server after a new process took its PID, and that
    /// process's first bit may complete the old frame).
    frame_author: HashMap<Pid, usize>,
    pub clients: Vec<Client>,
    server: Server<Q, N>,
    sink: Sink,
    pub stats: Stats,
    sends: Vec<(Pid, Signal)>,
    /// Sends stray signals to clients.
    third_party: usize,
    /// Sends stray signals to the server and does not catch them.
    deaf: usize,
    /// Clients spawned and not yet finished: stray signals and server stops
    /// happen only while there are some.
    unfinished: usize,
    script: Option<Script>,
    violation: Option<String>,
    pub trace: bool,
    /// Print every failed transfer when checking.
    pub show_failures: bool,
    /// Clients and lines not yet checked.
    checked_clients: usize,
    checked_lines: usize,
    /// The longest time a client took, start to end.
    pub longest: Micros,
    /// The next random batch is a crowd: its clients start at one instant.
    pub crowd_next: bool,
}

/// What the simulated server does to the world: sends are collected and
/// made after the drain; text goes to the sink; counters count.
struct ServerIo<'a> {
    now: Micros,
    trace: bool,
    sends: Vec<(Pid, Signal)>,
    sink: &'a mut Sink,
    stats: &'a mut Stats,
    procs: &'a [Proc],
    owner: &'a HashMap<Pid, usize>,
    hearing: Option<usize>,
    frame_author: &'a mut HashMap<Pid, usize>,
    /// The writes of an abandoned message's end are under way.
    aborting: bool,
    /// The server's `wchar`, moved by its output and its trace.
    written: u64,
    trace_written: bool,
}

impl Effects for ServerIo<'_> {
    fn send(&mut self, to: Pid, signal: Signal) -> bool {
        self.sends.push((to, signal));
        true
    }

    fn write(&mut self, from: Pid, bytes: &[u8]) {
        self.written += bytes.len() as u64;
        // The end of a cut line belongs to the process that wrote the line,
        // and a frame's text to the process that sent its first byte, even
        // if its PID has a new owner by now.
        let writer = match self.sink.partial.procs.last() {
            Some(&p) if self.aborting => p,
            _ => self
                .frame_author
                .get(&from)
                .copied()
                .unwrap_or(self.owner[&from]),
        };
        self.sink.write((from, writer), bytes);
    }

    fn alive(&mut self, pid: Pid) -> Option<u64> {
        self.stats.check_alive += 1;
        let alive = self.owner.get(&pid).filter(|&&p| self.procs[p].alive);
        if alive.is_none() {
            self.stats.peer_gone += 1;
        }
        // The process's identity, as its start time would be.
        alive.map(|&p| p as u64)
    }

    /// The real server's admission: alive and catching both signals.
    fn catches(&mut self, pid: Pid) -> Catches {
        let both = self
            .owner
            .get(&pid)
            .is_some_and(|&p| self.procs[p].alive && self.procs[p].catches);
        if both {
            Catches::BOTH
        } else {
            Catches::NONE
        }
    }

    fn heard(&mut self, from: Pid, sig: Signal, heard: Heard) {
        if let (Heard::Byte { offset: 0, .. }, Some(by)) = (heard, self.hearing) {
            self.frame_author.insert(from, by);
        }
        if self.trace {
            eprintln!("{:>12} server hears {from} {sig:?}: {heard:?}", self.now);
        }
    }

    fn trace(&mut self, output: &Output<'_>, _: Instant) {
        if self.trace_written {
            self.written += 40; // a line of --trace on stderr
        }
        if self.trace {
            eprintln!("{:>12} server: {output:?}", self.now);
        }
        self.aborting = matches!(output, Output::Abandoned { .. });
        match output {
            Output::Abandoned { vanished: true, .. } => self.stats.abandoned_vanished += 1,
            Output::Abandoned { .. } => self.stats.abandoned_silent += 1,
            Output::Note(Note::Rejected { .. }) => self.stats.rejected += 1,
            Output::Note(Note::Duplicate(_)) => self.stats.duplicates += 1,
            Output::Note(Note::GapReset { .. }) => self.stats.gap_resets += 1,
            Output::Note(Note::QueueFull(_)) => self.stats.queue_full += 1,
            _ => {}
        }
    }

    fn abandoned(&mut self, _: Pid, _: bool, aborted: Aborted) {
        if let Aborted::Discarded { .. } = aborted {
            self.stats.discarded += 1;
        }
    }
}

macro_rules! trace {
    ($w:expr, $($arg:tt)*) => {
        if $w.trace {
            eprintln!("{:>12} {}", $w.now, format_args!($($arg)*));
        }
    };
}

impl<const N: usize, const Q: usize> World<N, Q> {
    pub fn new(cfg: Config, seed: u64) -> Box<Self> {
        let mut w = Box::new(World {
            cfg,
            rng: Rng::new(seed),
            now: 0,
            seq: 0,
            events: Events::default(),
            procs: Vec::new(),
            owner: HashMap::new(),
            hearing: None,
            frame_author: HashMap::new(),
            clients: Vec::new(),
            server: Server::new(cfg.receiver),
            sink: Sink::default(),
            stats: Stats::default(),
            sends: Vec::new(),
            third_party: 0,
            deaf: 0,
            unfinished: 0,
            script: None,
            violation: None,
            trace: false,
            show_failures: false,
            checked_clients: 0,
            checked_lines: 0,
            longest: 0,
            crowd_next: false,
        });
        let server = w.add_proc(Kind::Server, true);
        assert_eq!(server, SERVER);
        w.third_party = w.add_proc(Kind::Stray, false);
        w.deaf = w.add_proc(Kind::Stray, false);
        w
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    pub fn faults(&self) -> Faults {
        self.cfg.faults
    }

    /// Decides the fate of each signal from now on (see [`Fate`]).
    pub fn set_script(&mut self, script: Script) {
        self.script = Some(script);
    }

    /// The server's output so far, line by line.
    pub fn lines(&self) -> &[Line] {
        &self.sink.lines
    }

    fn add_proc(&mut self, kind: Kind, catches: bool) -> usize {
        let pid = PID_BASE + self.procs.len() as Pid;
        self.owner.insert(pid, self.procs.len());
        self.procs.push(Proc {
            kind,
            pid,
            alive: !matches!(kind, Kind::Client(_)),
            catches,
            pending: [None; 2],
            runnable: false,
            stopped_until: 0,
            descheduled_until: 0,
            cpu: 0,
            written: 0,
            was_stopped: false,
            timer_want: None,
            timer_event: None,
            last_landing: 0,
            poll_each: false,
        });
        self.procs.len() - 1
    }

    fn pid(&self, p: usize) -> Pid {
        self.procs[p].pid
    }

    /// The process that has `pid` now.
    fn proc_of(&self, pid: Pid) -> Option<usize> {
        self.owner.get(&pid).copied()
    }

    fn at(&mut self, at: Micros, ev: Ev) {
        self.seq += 1;
        let at = at.max(self.now);
        self.events.push((at as u128) << 64 | self.seq as u128, ev);
    }

    fn violation(&mut self, msg: String) {
        if self.violation.is_none() {
            self.violation = Some(format!("at {} µs: {msg}", self.now));
        }
    }

    /// A client that starts at `start` and sends `text`; returns its index.
    pub fn spawn(&mut self, text: String, start: Micros) -> usize {
        self.spawn_messages(vec![text], start)
    }

    /// A client that starts at `start` and sends `texts`, one message after
    /// the other; returns its index.
    pub fn spawn_messages(&mut self, texts: Vec<String>, start: Micros) -> usize {
        let c = self.spawn_idle(texts, start);
        self.at(start, Ev::Start(c as u32));
        c
    }

    /// A client that starts `delay` after client `of` ends, with its PID
    /// (the kernel reuses PIDs), and sends `text`; returns its index.
    pub fn spawn_with_pid_of(&mut self, of: usize, texts: Vec<String>, delay: Micros) -> usize {
        let c = self.spawn_idle(texts, delay);
        self.clients[c].reuses = Some(of);
        self.clients[of].successor = Some(c);
        c
    }

    fn spawn_idle(&mut self, texts: Vec<String>, start: Micros) -> usize {
        let c = self.clients.len();
        let p = self.add_proc(Kind::Client(c), true);
        self.procs[p].poll_each = self.rng.chance(self.cfg.poll_each_share);
        let frames = texts
            .iter()
            .map(|text| {
                let mut frames = Vec::new();
                let mut at = 0;
                loop {
                    let cut = frame::split_point(&text.as_bytes()[at..]);
                    frames.push((at, at + cut));
                    at += cut;
                    if at == text.len() {
                        return frames;
                    }
                }
            })
            .collect();
        self.clients.push(Client {
            proc_: p,
            pid: self.pid(p),
            texts,
            frames,
            message: 0,
            next_frame: 0,
            done: 0,
            tx: Sender::new(self.cfg.sender, instant(start)),
            sent: 0,
            kill_after: None,
            pause_before: None,
            deferred: None,
            resumed_while_serving: None,
            reuses: None,
            successor: None,
            start,
            end: 0,
            outcome: Outcome::NotStarted,
        });
        self.unfinished += 1;
        c
    }

    /// SIGSTOPs the server at `at` for `length`.
    pub fn stop_server_at(&mut self, at: Micros, length: Micros) {
        self.at(
            at,
            Ev::Stop {
                proc_: SERVER as u32,
                length: length as u32,
            },
        );
    }

    /// The server waits for a CPU from `at` for `length`: runnable, not run.
    pub fn deschedule_server_at(&mut self, at: Micros, length: Micros) {
        let length = length as u32;
        self.at(at, Ev::Deschedule { length });
    }

    /// Stops client `c` for `length` between deciding to send its signal
    /// number `nth` (from 1) and the `kill` that sends it.
    pub fn pause_before_signal(&mut self, c: usize, nth: u64, length: Micros) {
        self.clients[c].pause_before = Some((nth, length));
    }

    /// SIGSTOPs client `c` at `at` for `length`.
    pub fn stop_client_at(&mut self, c: usize, at: Micros, length: Micros) {
        let proc_ = self.clients[c].proc_ as u32;
        let length = length as u32;
        self.at(at, Ev::Stop { proc_, length });
    }

    /// A process that catches the signals sends `signal` to the server at `at`.
    pub fn stray_at(&mut self, at: Micros, catching: bool, signal: Signal) {
        let p = if catching {
            self.add_proc(Kind::Stray, true)
        } else {
            self.deaf
        };
        // Replayed through a one-shot Arrive, bypassing the faults.
        self.at(
            at,
            Ev::Arrive {
                to: SERVER as u32,
                from: self.pid(p),
                by: p as u32,
                sig: index(signal) as u8,
            },
        );
    }

    /// Bits a client's messages take on the wire, all frames once.
    fn wire_bits(&self, c: usize) -> u64 {
        self.clients[c]
            .frames
            .iter()
            .flatten()
            .map(|&(a, b)| (frame::OVERHEAD_BITS + 8 * (b - a)) as u64)
            .sum()
    }

    /// Spawns `k` random clients starting within a random spread, with the
    /// world's faults, then runs until everything is quiet and checks.
    pub fn random_batch(
        &mut self,
        k: usize,
        text: impl Fn(&mut Rng) -> String,
    ) -> Result<(), String> {
        let f = self.cfg.faults;
        let mut spread = *self.rng.pick(&[0, 0, 2 * MS, 50 * MS, 400 * MS]);
        if std::mem::take(&mut self.crowd_next) {
            spread = 0;
            self.stats.crowds += 1;
        }
        let base = self.now + self.rng.range(0, 10 * MS);
        let first = self.clients.len();
        for _ in 0..k {
            let start = base + self.rng.range(0, spread + 1);
            let mut messages = vec![if N >= 1 << 16 && self.rng.chance(f.huge) {
                self.stats.huge += 1;
                let len = self.rng.range(N as u64 + 1, N as u64 + 5000);
                crate::text::message_of_len(&mut self.rng, len as usize)
            } else {
                text(&mut self.rng)
            }];
            if self.rng.chance(f.more_messages) {
                for _ in 0..self.rng.range(1, 4) {
                    // Now and then the same text again.
                    let next = match self.rng.chance(0.3) {
                        true => messages[0].clone(),
                        false => text(&mut self.rng),
                    };
                    messages.push(next);
                }
            }
            let c = self.spawn_messages(messages, start);
            self.random_faults(c, Some(start));
            if self.rng.chance(f.pid_reuse) {
                let again = self.clients[c].texts.clone();
                let delay = self.rng.range(0, 100 * MS);
                let s = self.spawn_with_pid_of(c, again, delay);
                self.random_faults(s, None);
                self.stats.extra += 1;
            }
        }
        if self.rng.chance(f.impostor) {
            let victim = first + self.rng.below(k as u64) as usize;
            let copy = self.clients[victim].texts.clone();
            let start = base + self.rng.range(0, spread + 1);
            let c = self.spawn_messages(copy, start);
            self.random_faults(c, Some(start));
            self.stats.impostors += 1;
            self.stats.extra += 1;
        }
        if f.server_stop_every > 0 {
            let at = base + self.rng.exp(f.server_stop_every);
            self.at(at, Ev::ServerStops);
        }
        if self.rng.chance(f.deschedule) {
            let at = base + self.rng.range(0, 2 * SEC);
            let length = self.rng.range(3500 * MS, 8000 * MS) as u32;
            self.at(at, Ev::Deschedule { length });
        }
        for (every, ev) in [
            (f.stray_catching_every, Ev::StrayServer { catching: true }),
            (f.stray_ignored_every, Ev::StrayServer { catching: false }),
            (f.stray_client_every, Ev::StrayClient),
        ] {
            if every > 0 {
                let at = base + self.rng.exp(every);
                self.at(at, ev);
            }
        }
        self.run(600 * SEC)?;
        self.check()
    }

    /// The per-transfer faults of client `c`, which starts at `start`
    /// (unknown for a client that waits for another to end).
    fn random_faults(&mut self, c: usize, start: Option<Micros>) {
        let f = self.cfg.faults;
        let bits = self.wire_bits(c);
        if self.rng.chance(f.kill) {
            self.clients[c].kill_after = Some(self.rng.range(1, bits + 1));
        }
        // A rough duration: 25 µs a bit, both ways included.
        let est = bits * 25 + MS;
        if let Some(start) = start.filter(|_| self.rng.chance(f.client_stop)) {
            let at = start + self.rng.range(0, est);
            let length = self.stop_length(true);
            let proc_ = self.clients[c].proc_ as u32;
            self.at(at, Ev::Stop { proc_, length });
        }
        if self.rng.chance(f.send_pause) {
            let nth = self.rng.range(1, bits + 1);
            let length = self.stop_length(true) as Micros;
            self.pause_before_signal(c, nth, length);
        }
    }

    /// Runs until no event is left, or fails after `limit` of simulated time.
    pub fn run(&mut self, limit: Micros) -> Result<(), String> {
        let deadline = self.now + limit;
        let start = self.now;
        while let Some((key, ev)) = self.events.pop() {
            let at = (key >> 64) as Micros;
            if self.moot(ev, at) {
                continue;
            }
            if at > deadline {
                return Err(format!(
                    "stuck: still busy {} s after {} µs; serving {:?}, {} queued, next {:?}; {}",
                    limit / SEC,
                    start,
                    self.server.receiver().serving(),
                    self.server.receiver().queued(),
                    ev,
                    self.describe_clients(self.checked_clients)
                ));
            }
            self.now = at;
            self.handle(ev);
            if let Some(v) = self.violation.take() {
                return Err(v);
            }
        }
        self.stats.sim_time += self.now - start;
        Ok(())
    }

    /// Runs the events due by `until`, leaving later ones queued: a
    /// scripted test steps the world to act in the middle of a transfer.
    pub fn run_until(&mut self, until: Micros) -> Result<(), String> {
        while let Some((key, ev)) = self.events.pop() {
            let at = (key >> 64) as Micros;
            if at > until {
                self.events.push(key, ev);
                break;
            }
            if self.moot(ev, at) {
                continue;
            }
            self.now = at;
            self.handle(ev);
            if let Some(v) = self.violation.take() {
                return Err(v);
            }
        }
        Ok(())
    }

    /// Whether `ev`, due at `at`, would change nothing: then it is dropped
    /// without moving the clock, so a batch ends with its last real event.
    fn moot(&self, ev: Ev, at: Micros) -> bool {
        match ev {
            Ev::ServerStops | Ev::StrayServer { .. } | Ev::StrayClient => self.unfinished == 0,
            Ev::Timer(p) => {
                let p = &self.procs[p as usize];
                !p.alive || p.timer_event != Some(at)
            }
            Ev::Run(p) | Ev::Stop { proc_: p, .. } => !self.procs[p as usize].alive,
            Ev::Arrive { .. } | Ev::Start(_) | Ev::Deschedule { .. } => false,
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrive { to, from, by, sig } => {
                self.arrive(to as usize, (from, by as usize), signal(sig as usize))
            }
            Ev::Run(p) => self.run_proc(p as usize),
            Ev::Timer(p) => self.timer(p as usize),
            Ev::Start(c) => self.start(c as usize),
            Ev::Stop { proc_, length } => {
                let (proc_, length) = (proc_ as usize, length as Micros);
                let p = &mut self.procs[proc_];
                if p.alive {
                    p.stopped_until = p.stopped_until.max(self.now + length);
                    p.was_stopped = true;
                    trace!(self, "SIGSTOP {} for {} µs", self.pid(proc_), length);
                    if proc_ == SERVER {
                        self.stats.server_stops += 1;
                    } else {
                        self.stats.client_stops += 1;
                    }
                }
            }
            Ev::Deschedule { length } => {
                let p = &mut self.procs[SERVER];
                p.descheduled_until = p.descheduled_until.max(self.now + length as Micros);
                self.stats.deschedules += 1;
                trace!(self, "server waits for a CPU for {length} µs");
            }
            Ev::ServerStops => {
                if self.unfinished > 0 {
                    let length = self.stop_length(false);
                    self.handle(Ev::Stop {
                        proc_: SERVER as u32,
                        length,
                    });
                    let at = self.now + self.rng.exp(self.cfg.faults.server_stop_every);
                    self.at(at, Ev::ServerStops);
                }
            }
            Ev::StrayServer { catching } => {
                if self.unfinished == 0 {
                    return;
                }
                let sig = signal(self.rng.below(2) as usize);
                let every = if catching {
                    self.stats.stray_catching += 1;
                    let p = self.add_proc(Kind::Stray, true);
                    for _ in 0..self.rng.range(1, 4) {
                        let sig = signal(self.rng.below(2) as usize);
                        self.send(p, SERVER_PID, sig);
                    }
                    self.cfg.faults.stray_catching_every
                } else {
                    self.stats.stray_ignored += 1;
                    self.send(self.deaf, SERVER_PID, sig);
                    self.cfg.faults.stray_ignored_every
                };
                let at = self.now + self.rng.exp(every);
                self.at(at, Ev::StrayServer { catching });
            }
            Ev::StrayClient => {
                if self.unfinished == 0 {
                    return;
                }
                let running: Vec<usize> = (self.checked_clients..self.clients.len())
                    .filter(|&c| self.clients[c].outcome == Outcome::Running)
                    .collect();
                if !running.is_empty() {
                    let c = *self.rng.pick(&running);
                    let sig = signal(self.rng.below(2) as usize);
                    self.stats.stray_client += 1;
                    self.send(self.third_party, self.clients[c].pid, sig);
                }
                let at = self.now + self.rng.exp(self.cfg.faults.stray_client_every);
                self.at(at, Ev::StrayClient);
            }
        }
    }

    /// Process `from` calls `kill(to, sig)`.
    fn send(&mut self, from: usize, to: Pid, sig: Signal) {
        self.stats.signals += 1;
        let sent = Sent {
            from: self.pid(from),
            to,
            signal: sig,
        };
        let fate = match &mut self.script {
            Some(script) => script(&sent),
            None => Fate::Chance,
        };
        let f = self.cfg.faults;
        // One draw decides: lost, duplicated, delayed or none of them.
        let (lost, dup, preempt) = match fate {
            Fate::Chance => {
                let u = self.rng.unit();
                let dup_edge = f.loss + f.dup;
                (
                    u < f.loss,
                    (f.loss..dup_edge).contains(&u),
                    (dup_edge..dup_edge + f.preempt).contains(&u),
                )
            }
            Fate::Deliver => (false, false, false),
            Fate::Drop => (true, false, false),
            Fate::Duplicate => (false, true, false),
            Fate::StopSender(length) | Fate::StopTarget(length) => {
                let stopped = match fate {
                    Fate::StopSender(_) => Some(from),
                    _ => self.proc_of(to),
                };
                if let Some(p) = stopped {
                    let length = length as u32;
                    self.at(
                        self.now,
                        Ev::Stop {
                            proc_: p as u32,
                            length,
                        },
                    );
                }
                (false, false, false)
            }
            Fate::LoseAndForge(forged) => {
                trace!(
                    self,
                    "{} -> {} {:?} LOST, {:?} forged",
                    sent.from,
                    to,
                    sig,
                    forged
                );
                self.stats.lost += 1;
                self.arrive(from, (self.pid(self.third_party), self.third_party), forged);
                return;
            }
            Fate::KillSender => {
                if let Kind::Client(c) = self.procs[from].kind {
                    trace!(self, "kill pid {} (scripted)", self.pid(from));
                    self.exit(c, Outcome::Killed);
                }
                return;
            }
        };
        if fate == Fate::Chance
            && from == SERVER
            && sig == Signal::Usr2
            && self.rng.chance(f.usr2_loss)
        {
            self.stats.lost_usr2 += 1;
            trace!(self, "{} -> {} {:?} LOST (usr2)", sent.from, to, sig);
            return;
        }
        if lost {
            self.stats.lost += 1;
            trace!(self, "{} -> {} {:?} LOST", sent.from, to, sig);
            return;
        }
        let mut landing = self.now;
        if preempt {
            self.stats.preempted += 1;
            landing += self.rng.log_range(20, 3 * MS);
        }
        landing = landing.max(self.procs[from].last_landing);
        self.procs[from].last_landing = landing;
        let Some(target) = self.proc_of(to) else {
            return;
        };
        trace!(
            self,
            "{} -> {} {:?} lands at {}",
            sent.from,
            to,
            sig,
            landing
        );
        self.land(landing, target, (sent.from, from), sig);
        if dup {
            self.stats.duplicated += 1;
            let again = landing + self.rng.range(0, 30);
            self.procs[from].last_landing = again;
            trace!(
                self,
                "{} -> {} {:?} DUPLICATE at {}",
                sent.from,
                to,
                sig,
                again
            );
            self.land(again, target, (sent.from, from), sig);
        }
    }

    fn land(&mut self, at: Micros, to: usize, (from, by): (Pid, usize), sig: Signal) {
        if at <= self.now {
            self.arrive(to, (from, by), sig);
        } else {
            self.at(
                at,
                Ev::Arrive {
                    to: to as u32,
                    from,
                    by: by as u32,
                    sig: index(sig) as u8,
                },
            );
        }
    }

    /// A signal reaches process `to`'s pending set.
    fn arrive(&mut self, to: usize, (from, by): (Pid, usize), sig: Signal) {
        let p = &mut self.procs[to];
        if !p.alive {
            self.stats.to_dead += 1;
            return;
        }
        if p.kind == Kind::Stray {
            return;
        }
        let slot = &mut p.pending[index(sig)];
        if let Some((first, _)) = *slot {
            self.stats.coalesced += 1;
            trace!(
                self,
                "{from} -> {} {sig:?} COALESCED with {first}'s",
                self.pid(to)
            );
            return;
        }
        *slot = Some((from, by));
        self.wake(to);
    }

    /// Makes `p` runnable: it runs after a scheduling latency.
    fn wake(&mut self, p: usize) {
        if self.procs[p].runnable {
            return;
        }
        self.procs[p].runnable = true;
        let latency = self.latency();
        self.at(self.now + latency, Ev::Run(p as u32));
    }

    /// How long a random SIGSTOP lasts.
    fn stop_length(&mut self, client: bool) -> u32 {
        let f = self.cfg.faults;
        if client && self.rng.chance(f.very_long_stop) {
            self.stats.very_long_stops += 1;
            return self.rng.range(3100 * MS, 8000 * MS) as u32;
        }
        let length = if self.rng.chance(f.long_stop) {
            self.rng.range(1500 * MS, 2900 * MS)
        } else {
            self.rng.range(250 * MS, 350 * MS)
        };
        length as u32
    }

    fn latency(&mut self) -> Micros {
        let f = self.cfg.faults;
        let u = self.rng.unit();
        let mut edge = f.slowest;
        if u < edge {
            self.stats.slowest += 1;
            return self.rng.range(10 * MS, 60 * MS);
        }
        edge += f.slower;
        if u < edge {
            self.stats.slower += 1;
            return self.rng.log_range(MS, 10 * MS);
        }
        edge += f.slow;
        if u < edge {
            self.stats.slow += 1;
            return self.rng.log_range(20, MS);
        }
        self.rng.range(2, 20)
    }

    fn set_timer(&mut self, p: usize, want: Option<Micros>) {
        let now = self.now;
        let proc_ = &mut self.procs[p];
        proc_.timer_want = want;
        if let Some(w) = want {
            let w = w.max(now);
            let earlier = match proc_.timer_event {
                Some(e) => w < e,
                None => true,
            };
            if earlier {
                proc_.timer_event = Some(w);
                self.at(w, Ev::Timer(p as u32));
            }
        }
    }

    fn timer(&mut self, p: usize) {
        let now = self.now;
        let proc_ = &mut self.procs[p];
        if proc_.timer_event != Some(now) {
            return;
        }
        proc_.timer_event = None;
        match proc_.timer_want {
            Some(w) if w > now => {
                proc_.timer_event = Some(w);
                self.at(w, Ev::Timer(p as u32));
            }
            Some(_) if proc_.alive => {
                proc_.timer_want = None;
                self.wake(p);
            }
            _ => {}
        }
    }

    fn run_proc(&mut self, p: usize) {
        let now = self.now;
        let proc_ = &mut self.procs[p];
        if !proc_.alive {
            proc_.runnable = false;
            return;
        }
        if now < proc_.stopped_until.max(proc_.descheduled_until) {
            // Stopped (or waiting for a CPU): runs once continued, after
            // the usual latency.
            let until = proc_.stopped_until.max(proc_.descheduled_until);
            let latency = self.latency();
            self.at(until + latency, Ev::Run(p as u32));
            return;
        }
        proc_.runnable = false;
        proc_.cpu += 1;
        if p == SERVER && self.cfg.server_spins {
            // It spins elsewhere: takes the signals, never answers.
            proc_.pending = [None; 2];
            return;
        }
        let order = if self.cfg.usr2_first { [1, 0] } else { [0, 1] };
        let mut taken = [(0, Signal::Usr1); 2];
        let mut senders = [0; 2];
        let mut n = 0;
        for i in order {
            if let Some((from, by)) = proc_.pending[i].take() {
                taken[n] = (from, signal(i));
                senders[n] = by;
                n += 1;
            }
        }
        match proc_.kind {
            Kind::Server => self.server_run(&taken[..n], &senders[..n]),
            Kind::Client(c) => self.client_run(c, &taken[..n]),
            Kind::Stray => {}
        }
    }

    // ----- the server's main loop -----

    fn server_run(&mut self, taken: &[(Pid, Signal)], senders: &[usize]) {
        let t = instant(self.now);
        if self.rng.chance(self.cfg.server_timers_first) {
            self.server_drain();
        }
        for (&(from, sig), &by) in taken.iter().zip(senders) {
            self.hearing = Some(by);
            if self.cfg.server_trace {
                self.procs[SERVER].written += 40; // the signal's trace line
            }
            // The binary's one entry: admission (does an unknown sender
            // catch both signals?), the signal, then the drive.
            let admitted = self.server_io(|server, io| server.handle(from, sig, t, io));
            if admitted.is_none() {
                self.stats.ignored_at_server += 1;
                trace!(self, "server ignores {from} {sig:?}");
            }
        }
        self.hearing = None;
        self.server_drain();
        let want = self.server.receiver().poll_timeout().map(micros);
        self.set_timer(SERVER, want);
    }

    /// The server's [`Server::drive`], with the simulated world as its I/O.
    fn server_drain(&mut self) {
        let t = instant(self.now);
        self.server_io(|server, io| server.drive(t, io));
    }

    /// Runs `f` on the server with the simulated world as its I/O, then
    /// makes the sends it asked for.
    fn server_io<R>(&mut self, f: impl FnOnce(&mut Server<Q, N>, &mut ServerIo<'_>) -> R) -> R {
        let mut io = ServerIo {
            now: self.now,
            trace: self.trace,
            sends: std::mem::take(&mut self.sends),
            sink: &mut self.sink,
            stats: &mut self.stats,
            procs: &self.procs,
            owner: &self.owner,
            hearing: self.hearing,
            frame_author: &mut self.frame_author,
            aborting: false,
            written: self.procs[SERVER].written,
            trace_written: self.cfg.server_trace,
        };
        let r = f(&mut self.server, &mut io);
        let (written, mut sends) = (io.written, io.sends);
        self.procs[SERVER].written = written;
        // Sent once the outputs are drained (the world's `send` needs all of
        // it); a simulated `kill` never fails.
        for &(to, sig) in &sends {
            self.send(SERVER, to, sig);
        }
        sends.clear();
        self.sends = sends;
        r
    }

    // ----- a client's main loop -----

    fn start(&mut self, c: usize) {
        let p = self.clients[c].proc_;
        if let Some(of) = self.clients[c].reuses {
            let pid = self.clients[of].pid;
            self.owner.remove(&self.procs[p].pid);
            self.owner.insert(pid, p);
            self.procs[p].pid = pid;
            self.clients[c].pid = pid;
            self.stats.pid_reuses += 1;
            trace!(self, "a new process gets pid {pid}");
        }
        self.procs[p].alive = true;
        let cl = &mut self.clients[c];
        cl.tx = Sender::new(self.cfg.sender, instant(self.now)).with_seed(cl.pid as u64);
        cl.start = self.now;
        cl.outcome = Outcome::Running;
        trace!(
            self,
            "start pid {} ({} messages)",
            self.pid(p),
            self.clients[c].texts.len()
        );
        // As the real client: the server's counters once before the first bit.
        self.observe_server(c);
        self.client_poll(c);
    }

    /// What a client reads in the server's /proc when a reply is late:
    /// its state, its CPU time and its output counter.
    fn observe_server(&mut self, c: usize) {
        let t = instant(self.now);
        let p = &self.procs[SERVER];
        let (state, cpu) = if self.cfg.server_spins {
            (ProcessState::Runnable, self.now / MS)
        } else if self.now < p.stopped_until {
            (ProcessState::Stopped, p.cpu)
        } else if self.now < p.descheduled_until || p.runnable {
            (ProcessState::Runnable, p.cpu)
        } else {
            (ProcessState::Sleeping, p.cpu)
        };
        let written = p.written;
        let tx = &mut self.clients[c].tx;
        tx.on_receiver_output(written, t);
        tx.on_receiver_process(state, cpu, t);
    }

    fn client_run(&mut self, c: usize, taken: &[(Pid, Signal)]) {
        let t = instant(self.now);
        let p = self.clients[c].proc_;
        if std::mem::take(&mut self.procs[p].was_stopped) {
            self.clients[c].resumed_while_serving = Some(self.server.receiver().serving());
        }
        // Continued after a stop between a decision and its `kill`: the
        // `kill` comes first, then the loop takes the pending signals.
        if let Some(sig) = self.clients[c].deferred.take() {
            self.send(p, SERVER_PID, sig);
            self.clients[c].tx.sent(t);
        }
        if taken.is_empty() {
            // Woken by its timer: a reply is late.
            self.observe_server(c);
        }
        for &(from, sig) in taken {
            // As the real client: only the server's signals count.
            if !self.clients[c].tx.on_signal(from, SERVER_PID, sig, t) {
                self.stats.ignored_at_client += 1;
                continue;
            }
            trace!(self, "pid {} hears {sig:?}", self.pid(p));
            if self.procs[p].poll_each {
                self.client_poll(c);
                if !self.procs[p].alive {
                    return;
                }
            }
        }
        self.client_poll(c);
    }

    fn client_poll(&mut self, c: usize) {
        let t = instant(self.now);
        let p = self.clients[c].proc_;
        if !self.procs[p].alive {
            return;
        }
        loop {
            let cl = &mut self.clients[c];
            match cl.tx.poll(t) {
                Poll::Send(sig) => {
                    cl.sent += 1;
                    if cl.kill_after == Some(cl.sent) {
                        trace!(self, "kill pid {} at its signal {}", cl.pid, cl.sent);
                        return self.exit(c, Outcome::Killed);
                    }
                    if let Some((n, length)) = cl.pause_before {
                        if n == cl.sent {
                            // Stopped between the decision and the `kill`.
                            cl.deferred = Some(sig);
                            self.stats.send_pauses += 1;
                            trace!(self, "SIGSTOP {} before its kill, {length} µs", cl.pid);
                            let proc_ = &mut self.procs[p];
                            proc_.stopped_until = proc_.stopped_until.max(self.now + length);
                            proc_.was_stopped = true;
                            self.wake(p);
                            return;
                        }
                    }
                    self.send(p, SERVER_PID, sig);
                    self.clients[c].tx.sent(t);
                }
                Poll::Wait { until } => {
                    self.set_timer(p, Some(micros(until)));
                    return;
                }
                Poll::NeedPayload => {
                    let m = cl.message;
                    let Some(&(a, b)) = cl.frames[m].get(cl.next_frame) else {
                        let pid = cl.pid;
                        return self.violation(format!("pid {pid} asked for a frame too many"));
                    };
                    let last = cl.next_frame + 1 == cl.frames[m].len();
                    cl.next_frame += 1;
                    if let Err(e) = cl.tx.load(&cl.texts[m][a..b], last) {
                        let pid = cl.pid;
                        return self.violation(format!("pid {pid}: load failed: {e}"));
                    }
                }
                Poll::Done if cl.done == cl.message => {
                    if cl.next_frame != cl.frames[cl.message].len() {
                        let pid = cl.pid;
                        return self.violation(format!("pid {pid} done before its last frame"));
                    }
                    cl.done += 1;
                    if cl.done == cl.texts.len() {
                        return self.exit(c, Outcome::Done);
                    }
                    // The next message: its first frame is loaded at once.
                    cl.message += 1;
                    cl.next_frame = 1;
                    let (a, b) = cl.frames[cl.message][0];
                    let last = cl.frames[cl.message].len() == 1;
                    if let Err(e) = cl.tx.load(&cl.texts[cl.message][a..b], last) {
                        let pid = cl.pid;
                        return self.violation(format!("pid {pid}: load failed: {e}"));
                    }
                }
                Poll::Done => {
                    let pid = cl.pid;
                    return self.violation(format!("pid {pid}: Done twice for one message"));
                }
                Poll::Failed(f) => return self.exit(c, Outcome::Failed(f)),
            }
        }
    }

    /// The client's process ends (exit or kill).
    fn exit(&mut self, c: usize, outcome: Outcome) {
        let p = self.clients[c].proc_;
        let proc_ = &mut self.procs[p];
        proc_.alive = false;
        proc_.pending = [None; 2];
        proc_.timer_want = None;
        let cl = &mut self.clients[c];
        cl.outcome = outcome;
        cl.end = self.now;
        self.unfinished -= 1;
        trace!(self, "pid {} ends: {:?}", cl.pid, outcome);
        if let Some(s) = self.clients[c].successor {
            // Its `start` holds the delay until it starts.
            let at = self.now + self.clients[s].start;
            self.at(at, Ev::Start(s as u32));
        }
    }

    // ----- invariants -----

    fn describe_clients(&self, from: usize) -> String {
        let mut s = String::new();
        for cl in &self.clients[from..] {
            let _ = write!(
                s,
                "\n  pid {}: {:?} after {} of {} messages of {:?} bytes in {:?} frames, {} .. {} µs, {:?}",
                cl.pid,
                cl.outcome,
                cl.done,
                cl.texts.len(),
                cl.texts.iter().map(String::len).collect::<Vec<_>>(),
                cl.frames.iter().map(Vec::len).collect::<Vec<_>>(),
                cl.start,
                cl.end,
                cl.tx.stats()
            );
        }
        s
    }

    /// Checks the clients and the output since the last check, and that the
    /// server is idle; adds the transfers to the stats.
    pub fn check(&mut self) -> Result<(), String> {
        let result = self.check_inner();
        let (clients, lines) = (self.checked_clients, self.checked_lines);
        self.checked_clients = self.clients.len();
        self.checked_lines = self.sink.lines.len();
        self.stats.batches += 1;
        result.map_err(|e| {
            let mut s = e;
            for l in &self.sink.lines[lines..] {
                let _ = write!(s, "\n  line from {:?}: {} bytes", l.pids, l.bytes.len());
            }
            s + &self.describe_clients(clients)
        })
    }

    fn check_inner(&mut self) -> Result<(), String> {
        let clients = self.checked_clients..self.clients.len();
        // Per client, per message: printed whole, or cut (a streamed
        // message abandoned part way). Each client's lines must be its
        // messages in order, each at most once.
        let mut printed: Vec<Vec<Option<bool>>> = clients
            .clone()
            .map(|c| vec![None; self.clients[c].texts.len()])
            .collect();
        let mut cursor = vec![0usize; clients.len()];
        for (i, line) in self.sink.lines[self.checked_lines..].iter().enumerate() {
            let ([pid], [p]) = (&line.pids[..], &line.procs[..]) else {
                return Err(format!("output line {i} interleaves pids {:?}", line.pids));
            };
            let (pid, p) = (*pid, *p);
            let c = match self.procs[p].kind {
                Kind::Client(c) if clients.contains(&c) => c,
                _ => {
                    return Err(format!(
                        "output line {i} from pid {pid}, not a client of this batch"
                    ))
                }
            };
            let k = c - clients.start;
            let texts = &self.clients[c].texts;
            let found = (cursor[k]..texts.len()).find_map(|m| {
                let text = texts[m].as_bytes();
                if line.bytes == text {
                    Some((m, true))
                } else if text.starts_with(&line.bytes) && self.stream_cut(c, m, line.bytes.len()) {
                    Some((m, false))
                } else {
                    None
                }
            });
            let Some((m, whole)) = found else {
                return Err(format!(
                    "output line {i} from pid {pid} ({} bytes) is none of its messages \
                     still to come, whole or a cut of a streamed one: garbled, or output twice",
                    line.bytes.len(),
                ));
            };
            printed[k][m] = Some(whole);
            cursor[k] = m + 1;
        }
        // No client hangs: each is done within 300 s, plus 1 ms for every
        // byte that its batch sends (a client may wait in line behind the
        // others' messages, and a world of slow faults takes up to a few
        // hundred µs a bit: three 70 KB messages took 354 s in one world).
        let batch_bytes: usize = clients
            .clone()
            .flat_map(|c| self.clients[c].texts.iter().map(String::len))
            .sum();
        let hang = 300 * SEC + batch_bytes as Micros * 1_000;
        for c in clients.clone() {
            let k = c - clients.start;
            let cl = &self.clients[c];
            let pid = cl.pid;
            let took = cl.end - cl.start;
            self.longest = self.longest.max(took);
            if took > hang {
                return Err(format!("pid {pid} took {} s", took / SEC));
            }
            if let Some(m) = (0..cl.done).find(|&m| printed[k][m] != Some(true)) {
                return Err(format!(
                    "pid {pid} reported Done for message {m}, but it was not output"
                ));
            }
            if cl.outcome == Outcome::Done && cl.done != cl.texts.len() {
                return Err(format!("pid {pid} ended Done with messages left"));
            }
            // The message it was sending when it failed or was killed.
            let last = printed[k].get(cl.done).copied().flatten();
            self.stats.transfers += 1;
            self.stats.messages += cl.texts.len() as u64;
            self.stats.bytes += cl.texts.iter().map(|t| t.len() as u64).sum::<u64>();
            self.stats.retries += cl.tx.stats().retries;
            self.stats.queued += cl.tx.stats().queued;
            self.stats.truncated_lines +=
                printed[k].iter().filter(|p| **p == Some(false)).count() as u64;
            match cl.outcome {
                Outcome::Done => self.stats.delivered += 1,
                Outcome::Failed(f) => {
                    if self.show_failures {
                        eprintln!(
                            "failed: batch {}: pid {pid}: {f:?}, message {} of {}, {:?}",
                            self.stats.batches,
                            cl.done,
                            cl.texts.len(),
                            cl.tx.stats()
                        );
                    }
                    match f {
                        Failure::Silent | Failure::Gone => self.stats.failed_silent += 1,
                        Failure::Stopped => self.stats.failed_stopped += 1,
                        Failure::Asleep => self.stats.failed_asleep += 1,
                        Failure::Unanswering => self.stats.failed_unanswering += 1,
                        Failure::TooManyRetries => self.stats.failed_retries += 1,
                        Failure::FellSilent | Failure::Rejected => {
                            unreachable!("a classic failure from v1")
                        }
                    }
                    self.stats.false_negatives += u64::from(last == Some(true));
                }
                Outcome::Killed => {
                    self.stats.killed += 1;
                    self.stats.killed_after_output += u64::from(last == Some(true));
                }
                Outcome::Running | Outcome::NotStarted => {
                    return Err(format!("pid {pid} never finished: {:?}", cl.outcome))
                }
            }
        }
        if !self.sink.partial.bytes.is_empty() || self.server.in_message() {
            return Err("the server is idle with a partial line".into());
        }
        if self.server.receiver().serving().is_some()
            || self.server.receiver().queued() > 0
            || self.server.receiver().poll_timeout().is_some()
        {
            return Err(format!(
                "the server is not idle: serving {:?}, {} queued, timeout {:?}",
                self.server.receiver().serving(),
                self.server.receiver().queued(),
                self.server.receiver().poll_timeout()
            ));
        }
        Ok(())
    }

    /// Whether a line of `len` bytes can be what streamed message `m` of
    /// client `c` left when it was cut: whole frames, more than the buffer
    /// holds, not all of them.
    fn stream_cut(&self, c: usize, m: usize, len: usize) -> bool {
        let frames = &self.clients[c].frames[m];
        frames[..frames.len() - 1]
            .iter()
            .any(|&(_, end)| end == len && end > N)
    }
}
