//! The metrics `/metrics` serves, in the OpenMetrics text format
//! (`prometheus-client`).
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
//! - `provisio_audit_write_failures_total`: audit events that could not be
//!   written;
//! - `provisio_plugin_circuit_changes_total{hook,change}`: bound plugins'
//!   circuits that opened (`plugin-circuit-opened`), closed after a good
//!   probe (`plugin-circuit-closed`) or opened again (`plugin-circuit-reopened`);
//! - `provisio_plugin_shadow_total{hook,result}`: logins' shadow calls
//!   whose decision `agreed` or `differed` with the live one, or that were
//!   not run: `shed` (their organization's shadow queue was full) or
//!   `circuit-open` (the shadow version kept failing);
//! - `provisio_http_responses_total{status}`: answers by status class
//!   (`2xx`, `4xx`, …);
//! - `provisio_plugin_cache_*`: the in-memory cache of loaded plugins
//!   (`entries`, `bytes`, `max_bytes`, `hits_total`, `misses_total`,
//!   `evictions_total`) and the loads its misses caused
//!   (`provisio_plugin_loads_total{source}`, `source` being `compiled` or
//!   `disk`, and `provisio_plugin_load_seconds_total`);
//! - `provisio_artifact_cache_*`: the precompiled artifacts on disk
//!   (`files`, `bytes`, `max_bytes`, `evictions_total`), when there is an
//!   artifact cache.
//!
//! Counters and histograms are updated where things happen, each behind its
//! own atomic or lock; the caches' figures are read from the runtime at each
//! scrape (a [`Collector`]). Plugin calls reach these metrics because
//! [`Metrics`] is a [`LoginObserver`] of the host (`AppState::new` installs
//! it).

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::engine::{LoginObserver, PluginCall};
use crate::runtime::Runtime;

/// The content type of the exposition.
pub(super) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the login duration histogram's buckets, in seconds.
const LOGIN_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Upper bounds of the plugin call duration histogram's buckets, in seconds:
/// a sandboxed call costs tens of microseconds, the default wall-time limit
/// is 100 ms.
const PLUGIN_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HookLabels {
    hook: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FailureLabels {
    hook: &'static str,
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CircuitLabels {
    hook: &'static str,
    change: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ShadowLabels {
    hook: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The process's metrics, and the registry that writes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    logins: Family<OutcomeLabels, Counter>,
    login_durations: Histogram,
    plugin_durations: HistogramFamily<HookLabels>,
    plugin_failures: Family<FailureLabels, Counter>,
    limit_hits: Family<LimitLabels, Counter>,
    audit_write_failures: Counter,
    circuit_changes: Family<CircuitLabels, Counter>,
    shadows: Family<ShadowLabels, Counter>,
    responses: Family<StatusLabels, Counter>,
}

impl Metrics {
    /// The metrics of a server whose plugins run in `runtime` (its caches'
    /// figures are read at each scrape).
    pub fn new(runtime: Runtime) -> Self {
        let logins = Family::default();
        let login_durations = Histogram::new(LOGIN_BUCKETS);
        let plugin_durations: HistogramFamily<HookLabels> =
            Family::new_with_constructor(|| Histogram::new(PLUGIN_BUCKETS));
        let plugin_failures = Family::default();
        let limit_hits = Family::default();
        let audit_write_failures = Counter::default();
        let circuit_changes = Family::default();
        let shadows = Family::default();
        let responses = Family::default();

        let mut registry = Registry::with_prefix("provisio");
        registry.register("logins", "Logins by outcome (success or the error code)", logins.clone());
        let help = "Whole login durations";
        registry.register_with_unit("login_duration", help, Unit::Seconds, login_durations.clone());
        let help = "Plugin call durations by hook";
        registry.register_with_unit("plugin_call_duration", help, Unit::Seconds, plugin_durations.clone());
        let help = "Plugin calls without a decision, by kind";
        registry.register("plugin_failures", help, plugin_failures.clone());
        registry.register("plugin_limit_hits", "Limits exceeded by plugin calls", limit_hits.clone());
        let help = "Audit events that could not be written";
        registry.register("audit_write_failures", help, audit_write_failures.clone());
        let help = "Changes of bound plugins' circuits";
        registry.register("plugin_circuit_changes", help, circuit_changes.clone());
        let help = "Shadow calls, by whether they agreed with the live decision (or were shed)";
        registry.register("plugin_shadow", help, shadows.clone());
        registry.register("http_responses", "HTTP responses by status class", responses.clone());
        registry.register_collector(Box::new(Caches(runtime)));

        Self {
            registry,
            logins,
            login_durations,
            plugin_durations,
            plugin_failures,
            limit_hits,
            audit_write_failures,
            circuit_changes,
            shadows,
            responses,
        }
    }

    /// Counts a login with this outcome and duration.
    pub fn login(&self, outcome: &str, duration: Duration) {
        self.logins.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc();
        self.login_durations.observe(duration.as_secs_f64());
    }

    /// Counts a response by its status code's class (`2xx`, `4xx`, …).
    pub fn response(&self, status: u16) {
        let status = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        self.responses.get_or_create(&StatusLabels { status }).inc();
    }

    /// How many logins had this outcome.
    pub fn logins(&self, outcome: &str) -> u64 {
        self.logins.get(&OutcomeLabels { outcome: outcome.to_owned() }).map_or(0, |c| c.get())
    }

    /// The OpenMetrics text exposition (ending with `# EOF`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; a collector's error would leave a
        // partial exposition, which a scraper refuses for its missing EOF.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl LoginObserver for Metrics {
    fn plugin_call(&self, call: &PluginCall<'_>) {
        let hook = call.hook.as_str();
        self.plugin_durations.get_or_create(&HookLabels { hook }).observe(call.duration.as_secs_f64());
        if call.failure.is_some() {
            self.plugin_failures.get_or_create(&FailureLabels { hook, kind: call.outcome() }).inc();
        }
        if let Some(limit) = call.limit() {
            self.limit_hits.get_or_create(&LimitLabels { limit: limit.as_str() }).inc();
        }
    }

    fn audit_write_failed(&self) {
        self.audit_write_failures.inc();
    }

    fn circuit_changed(&self, hook: crate::engine::Hook, change: crate::engine::CircuitChange) {
        self.circuit_changes.get_or_create(&CircuitLabels { hook: hook.as_str(), change: change.outcome() }).inc();
    }

    fn shadow_compared(&self, hook: crate::engine::Hook, result: crate::engine::ShadowResult) {
        self.shadows.get_or_create(&ShadowLabels { hook: hook.as_str(), result: result.as_str() }).inc();
    }
}

/// The runtime's plugin and artifact caches, read at each scrape.
struct Caches(Runtime);

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caches")
    }
}

impl Collector for Caches {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let p = self.0.plugin_cache_stats();
        gauge(&mut encoder, "plugin_cache_entries", "Plugins loaded in memory.", p.entries as u64)?;
        gauge(&mut encoder, "plugin_cache_bytes", "Size of the loaded plugins' compiled images.", p.bytes)?;
        gauge(&mut encoder, "plugin_cache_max_bytes", "The bound on that size.", p.max_bytes)?;
        counter(&mut encoder, "plugin_cache_hits", "Bound plugins a login found loaded.", p.hits)?;
        let help = "Bound plugins a login had to load (from disk, or by compiling).";
        counter(&mut encoder, "plugin_cache_misses", help, p.misses)?;
        counter(&mut encoder, "plugin_cache_evictions", "Plugins dropped to make room.", p.evictions)?;
        let help = "Plugin loads, by where the machine code came from.";
        let loads = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor("plugin_loads", help, None, loads.metric_type())?;
        for (source, n) in [("compiled", p.compiled), ("disk", p.from_disk)] {
            ConstCounter::new(n).encode(family.encode_family(&[("source", source)])?)?;
        }
        let help = "Time spent loading plugins.";
        let load_time = ConstCounter::new(p.load_seconds);
        load_time.encode(encoder.encode_descriptor(
            "plugin_load",
            help,
            Some(&Unit::Seconds),
            load_time.metric_type(),
        )?)?;
        if let Some(a) = self.0.artifact_cache_stats() {
            gauge(&mut encoder, "artifact_cache_files", "Precompiled artifacts on disk.", a.files)?;
            gauge(&mut encoder, "artifact_cache_bytes", "Size of the precompiled artifacts.", a.bytes)?;
            gauge(&mut encoder, "artifact_cache_max_bytes", "The bound on that size.", a.max_bytes)?;
            let help = "Artifacts deleted to stay under the bound.";
            counter(&mut encoder, "artifact_cache_evictions", help, a.evictions)?;
        }
        Ok(())
    }
}

/// One gauge without labels.
fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// One counter without labels (written with its `_total` suffix).
fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}
