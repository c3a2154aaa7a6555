//! Prometheus metrics, kept in memory and written as text by hand.
//!
//! - `provisio_logins_total{outcome}`: logins by outcome (`success` or the
//!   login error's code);
//! - `provisio_login_duration_seconds`: a histogram of whole login durations
//!   (authentication, plugin calls and the transaction).
//! - `provisio_http_responses_total{status}`: answers by status class.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the login duration histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default)]
struct Counters {
    logins: BTreeMap<String, u64>,
    /// Cumulative per bucket, then the count of all observations.
    duration_buckets: [u64; BUCKETS.len()],
    duration_count: u64,
    duration_sum: f64,
    responses: BTreeMap<String, u64>,
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
        let seconds = duration.as_secs_f64();
        self.with(|c| {
            *c.logins.entry(outcome.to_owned()).or_default() += 1;
            for (bound, count) in BUCKETS.iter().zip(c.duration_buckets.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            c.duration_count += 1;
            c.duration_sum += seconds;
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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
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
            for (bound, n) in BUCKETS.iter().zip(c.duration_buckets.iter()) {
                let _ = writeln!(out, "provisio_login_duration_seconds_bucket{{le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "provisio_login_duration_seconds_bucket{{le=\"+Inf\"}} {}", c.duration_count);
            let _ = writeln!(out, "provisio_login_duration_seconds_sum {}", c.duration_sum);
            let _ = writeln!(out, "provisio_login_duration_seconds_count {}", c.duration_count);
            let _ = writeln!(out, "# HELP provisio_http_responses_total HTTP responses by status class.");
            let _ = writeln!(out, "# TYPE provisio_http_responses_total counter");
            for (class, n) in &c.responses {
                let _ = writeln!(out, "provisio_http_responses_total{{status=\"{class}\"}} {n}");
            }
            out
        })
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
