//! What `/proc` says about a process.

/// A figure in KiB from `/proc/<pid>/status`, such as `VmRSS` (resident
/// memory now), `VmHWM` (its peak) or `RssAnon` (its anonymous part).
pub fn proc_status_kib(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.split(':').next() == Some(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The resident size in KiB of the mapping of `pid` named `name` in
/// `/proc/<pid>/smaps` (`"[stack]"`, `"[heap]"`); `None` if it has none.
pub fn proc_mapping_rss_kib(pid: i32, name: &str) -> Option<u64> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut lines = smaps.lines();
    lines.find(|l| l.split_whitespace().nth(5) == Some(name))?;
    let rss = lines.find(|l| l.starts_with("Rss:"))?;
    rss.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` runs a dynamically linked program (a shared C library is
/// mapped); `None` if there is no such process.
pub fn proc_is_dynamic(pid: i32) -> Option<bool> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    Some(maps.lines().any(|l| l.contains("/libc.so")))
}

/// The state letter of `pid` (`R`, `S`, `T`, `Z`...) from `/proc/<pid>/stat`;
/// `None` if there is no such process.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    stat[close + 1..].trim_start().chars().next()
}
