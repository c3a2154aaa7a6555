//! What one `Store` holds for the length of one call: the locked-down WASI
//! context, the guest log, the memory limiter, and the host interface the
//! guest may import.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{Level, host_iface};
use super::{BindingConfig, CallContext};
use crate::plugin::limits::MAX_CONFIG_KEY_BYTES;
use crate::plugin::{LimitKind, Limits, LogLevel, LogLine};

/// The data of one call's `Store`.
pub(super) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    pub(super) log: GuestLog,
    config: Arc<BindingConfig>,
    limits: Limits,
    /// A limit a host import or the log enforced, which explains the trap that follows.
    pub(super) exceeded: Option<(LimitKind, u64)>,
}

impl CallState {
    pub(super) fn new(ctx: &CallContext) -> Self {
        let log_budget = usize::try_from(ctx.limits.log_bytes).unwrap_or(usize::MAX);
        let stdout = MemoryOutputPipe::new(log_budget);
        let stderr = MemoryOutputPipe::new(log_budget);
        let mut b = WasiCtxBuilder::new();
        // Deny by default: no preopened directories, no environment, no
        // arguments, an empty stdin, no network of any kind.
        b.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(64 << 10);
        if let Some(seed) = ctx.seed {
            b.secure_random(StdRng::seed_from_u64(seed))
                .insecure_random(StdRng::seed_from_u64(seed ^ 0x5eed))
                .insecure_random_seed(u128::from(seed))
                .wall_clock(FixedWallClock)
                .monotonic_clock(SteppingClock::default());
        }
        Self {
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(ctx.limits.memory_bytes),
            log: GuestLog::new(ctx.limits.log_bytes, stdout, stderr),
            config: Arc::clone(&ctx.config),
            limits: ctx.limits,
            exceeded: None,
        }
    }

    fn over(&mut self, kind: LimitKind, value: u64) -> wasmtime::Error {
        self.exceeded = Some((kind, value));
        wasmtime::Error::msg(format!("limit exceeded: {kind}"))
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl super::bindings::wit::Host for CallState {}

impl host_iface::Host for CallState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let max = self.limits.host_argument_bytes;
        if message.len() as u64 > max {
            return Err(self.over(LimitKind::HostArgument, max));
        }
        if !self.log.push(level.into(), message) {
            let max = self.limits.log_bytes;
            return Err(self.over(LimitKind::LogBytes, max));
        }
        Ok(())
    }

    fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        let max = MAX_CONFIG_KEY_BYTES.min(self.limits.host_argument_bytes);
        if key.len() as u64 > max {
            return Err(self.over(LimitKind::HostArgument, max));
        }
        Ok(self.config.get(&key).map(str::to_owned))
    }
}

/// What every log line costs against the budget beyond its bytes, about what
/// it takes in a report's JSON: so that empty lines are not free.
pub(super) const LOG_LINE_OVERHEAD: u64 = 64;

/// The guest's log for one call: host `log` lines plus captured stdout and
/// stderr, within one byte budget per channel; each line costs its bytes
/// plus [`LOG_LINE_OVERHEAD`].
pub(super) struct GuestLog {
    lines: Vec<LogLine>,
    bytes: u64,
    budget: u64,
    /// Whether `take` left out stdout or stderr lines beyond the budget.
    cut: bool,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl GuestLog {
    fn new(budget: u64, stdout: MemoryOutputPipe, stderr: MemoryOutputPipe) -> Self {
        Self { lines: Vec::new(), bytes: 0, budget, cut: false, stdout, stderr }
    }

    /// Appends a line; false when it would exceed the budget.
    fn push(&mut self, level: LogLevel, message: String) -> bool {
        let len = message.len() as u64 + LOG_LINE_OVERHEAD;
        if self.bytes + len > self.budget {
            return false;
        }
        self.bytes += len;
        self.lines.push(LogLine { level, message });
        true
    }

    /// Whether stdout or stderr filled up to the budget.
    pub(super) fn stdio_full(&self) -> bool {
        let budget = usize::try_from(self.budget).unwrap_or(usize::MAX);
        self.stdout.contents().len() >= budget || self.stderr.contents().len() >= budget
    }

    /// The message of a Rust panic, from the host log (where the SDK's panic
    /// hook sends it) or from stderr (where std's default hook prints it): the
    /// text after the `panicked at FILE:LINE:COL:` line.
    pub(super) fn panic_message(&self) -> Option<String> {
        let from_log = self.lines.iter().rev().find_map(|l| {
            let rest = l.message.strip_prefix("panicked at ")?;
            rest.split_once('\n').map(|(_, m)| m.to_owned())
        });
        let message = from_log.or_else(|| {
            let text = self.stderr.contents();
            let text = String::from_utf8_lossy(&text);
            let mut lines = text.lines();
            lines.find(|l| l.contains(" panicked at "))?;
            lines.next().map(str::to_owned)
        })?;
        Some(message.chars().take(512).collect())
    }

    /// All lines: host log lines first, then stdout (info) and stderr (warn),
    /// each of these two channels within the budget at the same cost per line
    /// as `log` (the lines beyond it are left out, and `cut` tells).
    pub(super) fn take(&mut self) -> Vec<LogLine> {
        let mut lines = std::mem::take(&mut self.lines);
        for (pipe, level) in [(&self.stdout, LogLevel::Info), (&self.stderr, LogLevel::Warn)] {
            let text = pipe.contents();
            let text = String::from_utf8_lossy(&text);
            let mut spent = 0u64;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                spent += line.len() as u64 + LOG_LINE_OVERHEAD;
                if spent > self.budget {
                    self.cut = true;
                    break;
                }
                lines.push(LogLine { level, message: line.to_owned() });
            }
        }
        lines
    }

    /// Whether `take` left out lines of stdout or stderr beyond the budget.
    pub(super) fn cut(&self) -> bool {
        self.cut
    }
}

/// Bounds linear memory growth for one call and records its peak.
pub(super) struct MemoryLimiter {
    limit: usize,
    total: usize,
    pub(super) peak: usize,
}

impl MemoryLimiter {
    fn new(limit: u64) -> Self {
        Self { limit: usize::try_from(limit).unwrap_or(usize::MAX), total: 0, peak: 0 }
    }
}

/// The error a growth beyond the memory limit traps with, where it happens
/// (rather than `memory.grow` answering -1): the call ends there, and only
/// this trap is reported as the memory limit.
#[derive(Debug)]
pub(super) struct MemoryRefused {
    desired: usize,
    limit: usize,
}

impl std::fmt::Display for MemoryRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "linear memory of {} bytes refused: the limit is {} bytes", self.desired, self.limit)
    }
}

impl std::error::Error for MemoryRefused {}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.total - current.min(self.total) + desired;
        if total > self.limit {
            return Err(wasmtime::Error::new(MemoryRefused { desired: total, limit: self.limit }));
        }
        self.total = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 20_000)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        4
    }
}

/// A wall clock stopped at 2026-01-01T00:00:00Z, for deterministic replays.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(1_767_225_600)
    }
}

/// A monotonic clock that advances one microsecond per reading, for deterministic replays.
#[derive(Default)]
struct SteppingClock(std::sync::atomic::AtomicU64);

impl HostMonotonicClock for SteppingClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        self.0.fetch_add(1_000, std::sync::atomic::Ordering::Relaxed) + 1_000
    }
}
