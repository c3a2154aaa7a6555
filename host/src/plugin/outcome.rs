//! The typed outcome of one plugin call and what was measured while it ran.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::LimitKind;

/// Everything one plugin call produced. In JSON, the outcome is either a
/// `decision` or a `failure` field beside `stats`.
#[derive(Debug, Clone)]
pub struct CallReport<T> {
    /// The decision, or why there is none.
    pub outcome: Result<T, CallFailure>,
    /// What was measured during the call.
    pub stats: CallStats,
}

impl<T: Serialize> Serialize for CallReport<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("CallReport", 2)?;
        match &self.outcome {
            Ok(decision) => out.serialize_field("decision", decision)?,
            Err(failure) => out.serialize_field("failure", failure)?,
        }
        out.serialize_field("stats", &self.stats)?;
        out.end()
    }
}

/// Why a call produced no decision. Each kind is distinct so the caller can
/// apply the binding's failure policy and the audit event can name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CallFailure {
    /// The plugin returned `err(message)`. The message is for operators, never end users.
    PluginError {
        /// The plugin's message, truncated to 1 KiB.
        message: String,
    },
    /// The guest trapped (a panic, an `unreachable`, a failed host call).
    Trap {
        /// What wasmtime reported, without host internals.
        message: String,
        /// The guest's call stack, innermost first, with function names when
        /// the component carries a name section.
        backtrace: Vec<String>,
    },
    /// A per-call limit was exceeded.
    LimitExceeded {
        /// Which limit.
        limit: LimitKind,
        /// The limit's value for this call (milliseconds, fuel units or bytes).
        value: u64,
    },
    /// The decision broke a rule of the contract (sizes, forms).
    Malformed {
        /// The stable name of the rule, for example `username-form`, or
        /// `abi` for a value the canonical ABI forbids (a string that is not
        /// UTF-8, a bad discriminant, a pointer out of bounds).
        rule: &'static str,
        /// What was wrong, without echoing large values.
        detail: String,
    },
    /// The plugin could not be started: it does not export the interface that
    /// was called, or the host is at its concurrent-call capacity.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl CallFailure {
    /// The stable name of the failure kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PluginError { .. } => "plugin-error",
            Self::Trap { .. } => "trap",
            Self::LimitExceeded { .. } => "limit-exceeded",
            Self::Malformed { .. } => "malformed",
            Self::Unavailable { .. } => "unavailable",
        }
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PluginError { message } => write!(f, "plugin error: {message}"),
            Self::Trap { message, .. } => write!(f, "trap: {message}"),
            Self::LimitExceeded { limit, value } => {
                write!(f, "limit exceeded: {limit} (limit {value})")
            }
            Self::Malformed { rule, detail } => write!(f, "malformed decision: {rule}: {detail}"),
            Self::Unavailable { reason } => write!(f, "unavailable: {reason}"),
        }
    }
}

/// What was measured during one call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallStats {
    /// Wall time of the call, instantiation included.
    #[serde(rename = "duration_us", serialize_with = "micros")]
    pub duration: Duration,
    /// Fuel units consumed.
    pub fuel_used: u64,
    /// Largest size the guest's linear memories reached together, in bytes.
    pub peak_memory_bytes: u64,
    /// The guest's log lines, in order.
    pub logs: Vec<LogLine>,
    /// True when log output was cut at the log budget.
    pub logs_truncated: bool,
}

/// One line of guest log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Its severity.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// Severity of a guest log line. Output to stdout counts as `info`, stderr as `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        })
    }
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
