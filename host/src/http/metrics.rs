//! Prometheus metrics, kept in memory and written as text by hand.
//!
//! - `provisio_logins_total{outcome}`: logins by outcome (`success` or the
//!   login error's code);
//! - `provisio_login_duration_seconds`: a histogram of whole login durations
//!   (authentication, plugin calls and the transaction);
//! - `provisio_plugin_call_duration_seconds{hook}`: a histogram of plugin
//!   call durations (`hook` is `create` or `assign`), whatever their outcome;
//! - `provisio_plugin_failures_total{hook,kind}`: plugin calls that gave no
//!   decision, by failure kind (`plugin-error`, `trap`, `limit-exceeded`,
//!   `malformed`, `unavailable`);
//! - `provisio_plugin_limit_hits_total{limit}`: limits plugin calls exceeded,
//!   by limit (`wall-time`, `fuel`, `memory`, `stack`, `output-bytes`,
//!   `log-bytes`, `host-argument`);
//! - `provisio_http_responses_total{status}`: answers by status class;
//! - `provisio_plugin_cache_*`: the in-memory cache of loaded plugins
//!   (`entries`, `bytes`, `max_bytes`, `hits_total`, `misses_total`,
//!   `evictions_total`) and the loads its misses caused
//!   (`provisio_plugin_loads_total{source}`, `source` being `compiled` or
//!   `disk`, and `provisio_plugin_load_seconds_total`);
//! - `provisio_artifact_cache_*`: the precompiled artifacts on disk
//!   (`files`, `bytes`, `max_bytes`, `evictions_total`).
//!
//! Plugin calls reach these counters because [`Metrics`] is a
//! [`LoginObserver`] of the host (`AppState::new` installs it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::engine::{Hook, LoginObserver, PluginCall};
use crate::runtime::{ArtifactCacheStats, PluginCacheStats};

/// Upper bounds of the login duration histogram's buckets, in seconds.
const LOGIN_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Upper bounds of the plugin call duration histogram's buckets, in seconds:
/// a sandboxed call costs tens of microseconds, the default wall-time limit
/// is 100 ms.
const PLUGIN_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// A histogram: cumulative counts per bucket, the count and the sum.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, buckets: vec![0; bounds.len()], count: 0, sum: 0.0 }
    }

    fn observe(&mut self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        for (bound, count) in self.bounds.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// The series of `name`, each with `labels` (`key="value",…` or empty)
    /// before `le`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, n) in self.bounds.iter().zip(&self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = |s: &str| if s.is_empty() { String::new() } else { format!("{{{s}}}") };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

#[derive(Debug)]
struct Counters {
    logins: BTreeMap<String, u64>,
    login_durations: Histogram,
    plugin_durations: BTreeMap<Hook, Histogram>,
    plugin_failures: BTreeMap<(Hook, &'static str), u64>,
    limit_hits: BTreeMap<&'static str, u64>,
    responses: BTreeMap<String, u64>,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            logins: BTreeMap::new(),
            login_durations: Histogram::new(LOGIN_BUCKETS),
            plugin_durations: BTreeMap::new(),
            plugin_failures: BTreeMap::new(),
            limit_hits: BTreeMap::new(),
            responses: BTreeMap::new(),
        }
    }
}

/// The process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        // A panic while counting cannot leave the counters inconsistent
        // enough to matter: keep counting.
        let mut guard = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Counts a login with this outcome and duration.
    pub fn login(&self, outcome: &str, duration: Duration) {
        self.with(|c| {
            *c.logins.entry(outcome.to_owned()).or_default() += 1;
            c.login_durations.observe(duration);
        });
    }

    /// Counts a response by status class (`2xx`, `4xx`, …).
    pub fn response(&self, status: u16) {
        let class = format!("{}xx", status / 100);
        self.with(|c| *c.responses.entry(class).or_default() += 1);
    }

    /// How many logins had this outcome.
    pub fn logins(&self, outcome: &str) -> u64 {
        self.with(|c| c.logins.get(outcome).copied().unwrap_or(0))
    }

    /// The Prometheus text exposition, with the runtime's caches.
    pub fn render(&self, plugins: &PluginCacheStats, artifacts: Option<&ArtifactCacheStats>) -> String {
        let mut out = self.render_counters();
        render_caches(&mut out, plugins, artifacts);
        out
    }

    fn render_counters(&self) -> String {
        self.with(|c| {
            let mut out = String::new();
            // Writing to a String cannot fail.
            let _ = writeln!(out, "# HELP provisio_logins_total Logins by outcome (success or the error code).");
            let _ = writeln!(out, "# TYPE provisio_logins_total counter");
            for (outcome, n) in &c.logins {
                let _ = writeln!(out, "provisio_logins_total{{outcome=\"{}\"}} {n}", escape(outcome));
            }
            let _ = writeln!(out, "# HELP provisio_login_duration_seconds Whole login durations.");
            let _ = writeln!(out, "# TYPE provisio_login_duration_seconds histogram");
            c.login_durations.render(&mut out, "provisio_login_duration_seconds", "");
            let _ = writeln!(out, "# HELP provisio_plugin_call_duration_seconds Plugin call durations by hook.");
            let _ = writeln!(out, "# TYPE provisio_plugin_call_duration_seconds histogram");
            for (hook, histogram) in &c.plugin_durations {
                histogram.render(&mut out, "provisio_plugin_call_duration_seconds", &format!("hook=\"{hook}\""));
            }
            let _ = writeln!(out, "# HELP provisio_plugin_failures_total Plugin calls without a decision, by kind.");
            let _ = writeln!(out, "# TYPE provisio_plugin_failures_total counter");
            for ((hook, kind), n) in &c.plugin_failures {
                let _ = writeln!(out, "provisio_plugin_failures_total{{hook=\"{hook}\",kind=\"{kind}\"}} {n}");
            }
            let _ = writeln!(out, "# HELP provisio_plugin_limit_hits_total Limits exceeded by plugin calls.");
            let _ = writeln!(out, "# TYPE provisio_plugin_limit_hits_total counter");
            for (limit, n) in &c.limit_hits {
                let _ = writeln!(out, "provisio_plugin_limit_hits_total{{limit=\"{limit}\"}} {n}");
            }
            let _ = writeln!(out, "# HELP provisio_http_responses_total HTTP responses by status class.");
            let _ = writeln!(out, "# TYPE provisio_http_responses_total counter");
            for (class, n) in &c.responses {
                let _ = writeln!(out, "provisio_http_responses_total{{status=\"{class}\"}} {n}");
            }
            out
        })
    }
}

impl LoginObserver for Metrics {
    fn plugin_call(&self, call: &PluginCall<'_>) {
        self.with(|c| {
            c.plugin_durations
                .entry(call.hook)
                .or_insert_with(|| Histogram::new(PLUGIN_BUCKETS))
                .observe(call.duration);
            if call.failure.is_some() {
                *c.plugin_failures.entry((call.hook, call.outcome())).or_default() += 1;
            }
            if let Some(limit) = call.limit() {
                *c.limit_hits.entry(limit.as_str()).or_default() += 1;
            }
        });
    }
}

/// One gauge or counter with its help line.
fn series(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

fn render_caches(out: &mut String, p: &PluginCacheStats, artifacts: Option<&ArtifactCacheStats>) {
    series(out, "provisio_plugin_cache_entries", "gauge", "Plugins loaded in memory.", p.entries);
    series(out, "provisio_plugin_cache_bytes", "gauge", "Size of the loaded plugins' compiled images.", p.bytes);
    series(out, "provisio_plugin_cache_max_bytes", "gauge", "The bound on that size.", p.max_bytes);
    let help = "Bound plugins a login found loaded.";
    series(out, "provisio_plugin_cache_hits_total", "counter", help, p.hits);
    let help = "Bound plugins a login had to load (from disk, or by compiling).";
    series(out, "provisio_plugin_cache_misses_total", "counter", help, p.misses);
    series(out, "provisio_plugin_cache_evictions_total", "counter", "Plugins dropped to make room.", p.evictions);
    let _ = writeln!(out, "# HELP provisio_plugin_loads_total Plugin loads, by where the machine code came from.");
    let _ = writeln!(out, "# TYPE provisio_plugin_loads_total counter");
    let _ = writeln!(out, "provisio_plugin_loads_total{{source=\"compiled\"}} {}", p.compiled);
    let _ = writeln!(out, "provisio_plugin_loads_total{{source=\"disk\"}} {}", p.from_disk);
    let help = "Time spent loading plugins.";
    series(out, "provisio_plugin_load_seconds_total", "counter", help, p.load_seconds);
    if let Some(a) = artifacts {
        series(out, "provisio_artifact_cache_files", "gauge", "Precompiled artifacts on disk.", a.files);
        series(out, "provisio_artifact_cache_bytes", "gauge", "Size of the precompiled artifacts.", a.bytes);
        series(out, "provisio_artifact_cache_max_bytes", "gauge", "The bound on that size.", a.max_bytes);
        let help = "Artifacts deleted to stay under the bound.";
        series(out, "provisio_artifact_cache_evictions_total", "counter", help, a.evictions);
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
