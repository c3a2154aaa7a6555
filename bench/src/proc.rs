//! A process's memory and CPU time, and the machine's, from `/proc`.

use std::time::Duration;

/// A process's resident memory, as `/proc/<pid>/status` splits it, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: all of it.
    pub rss: u64,
    /// `RssAnon`: anonymous pages (heaps, compiled code made in the process).
    pub anon: u64,
    /// `RssFile`: file-backed pages (mapped files, which the kernel may drop).
    pub file: u64,
    /// `VmHWM`: the peak of `rss`.
    pub peak: u64,
}

/// A process's resident memory, or `None` when it cannot be read.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
    };
    Some(Memory { rss: field("VmRSS:")?, anon: field("RssAnon:")?, file: field("RssFile:")?, peak: field("VmHWM:")? })
}

/// A process's resident memory (`VmRSS` of `/proc/<pid>/status`), in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    memory(pid).map(|m| m.rss)
}

/// A process's CPU time so far, user + system over all its threads
/// (`/proc/<pid>/stat`, at the usual 100 clock ticks per second).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field of the line, utime and stime the 14th and 15th.
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The whole machine's CPU time so far, from `/proc/stat`: (busy, total),
/// summed over every CPU (idle and I/O wait are not busy).
pub fn machine_cpu() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((Duration::from_millis((total - idle) * 10), Duration::from_millis(total * 10)))
}
