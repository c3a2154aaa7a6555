//! How long threads of this process waited for a CPU, from the kernel's
//! scheduler statistics (`/proc/.../schedstat`, Linux). A wall-time test
//! subtracts that wait from what it measured: what is left is the code's own
//! delay, which a loaded machine does not explain away.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A thread of this process, by its kernel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tid(u32);

/// The ids of this process's threads named `name` (at most 15 bytes, the
/// kernel's bound); empty where the kernel does not say.
pub fn threads_named(name: &str) -> BTreeSet<Tid> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return BTreeSet::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let tid = task.file_name().to_str()?.parse().ok()?;
            (comm.trim_end() == name).then_some(Tid(tid))
        })
        .collect()
}

/// A field of a thread's `schedstat`, in nanoseconds: 0 is the time it ran
/// on a CPU so far, 1 the time it waited on a run queue.
fn schedstat(path: &str, field: usize) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let nanos = stat.split_whitespace().nth(field)?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The time a thread has spent waiting on a run queue so far.
fn run_delay(path: &str) -> Option<Duration> {
    schedstat(path, 1)
}

/// The CPU time the threads of this process named `name` have used so far;
/// `None` where the kernel does not say.
pub fn cpu_time_of(name: &str) -> Option<Duration> {
    std::fs::read_dir("/proc/self/task").ok()?;
    let threads = threads_named(name);
    threads.iter().map(|Tid(tid)| schedstat(&format!("/proc/self/task/{tid}/schedstat"), 0)).sum()
}

/// The run-queue wait of the calling thread and of `others`, summed.
fn waited(others: &[Tid]) -> Option<Duration> {
    let mut total = run_delay("/proc/thread-self/schedstat")?;
    for Tid(tid) in others {
        total += run_delay(&format!("/proc/self/task/{tid}/schedstat"))?;
    }
    Some(total)
}

/// Wall time measured together with how long the calling thread and the
/// threads it depends on waited for a CPU meanwhile.
pub struct Stopwatch {
    started: Instant,
    others: Vec<Tid>,
    waited: Option<Duration>,
}

/// What a [`Stopwatch`] measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Wall time.
    pub elapsed: Duration,
    /// Of which the threads watched waited for a CPU (zero where the kernel
    /// does not say, so that the measure stays conservative).
    pub waited: Duration,
}

impl Measured {
    /// The wall time the scheduler does not explain. Waits anywhere in the
    /// measurement are subtracted, also those before the moment that
    /// matters (a deadline): this errs towards the code, and equals the
    /// wall time on an idle machine, where the best of several trials of a
    /// test is likely measured.
    pub fn unexplained(&self) -> Duration {
        self.elapsed.saturating_sub(self.waited)
    }
}

impl Stopwatch {
    /// Starts timing the calling thread and `others`.
    pub fn start(others: &[Tid]) -> Self {
        let waited = waited(others);
        Self { started: Instant::now(), others: others.to_vec(), waited }
    }

    /// The wall time since the start, and the run-queue wait within it.
    pub fn stop(&self) -> Measured {
        let elapsed = self.started.elapsed();
        let waited = match (self.waited, waited(&self.others)) {
            (Some(before), Some(after)) => after.saturating_sub(before).min(elapsed),
            _ => Duration::ZERO,
        };
        Measured { elapsed, waited }
    }
}

/// The calling thread's own wait can be read here: the kernel keeps
/// scheduler statistics (on Linux, where CI runs). Elsewhere the wall-time
/// tests measure raw wall time.
#[test]
fn the_run_queue_wait_is_readable_on_linux() {
    if cfg!(target_os = "linux") {
        assert!(waited(&[]).is_some(), "/proc/thread-self/schedstat is not readable");
        let watch = Stopwatch::start(&[]);
        std::thread::sleep(Duration::from_millis(5));
        let measured = watch.stop();
        assert!(measured.elapsed >= Duration::from_millis(5) && measured.waited <= measured.elapsed, "{measured:?}");
    }
}
