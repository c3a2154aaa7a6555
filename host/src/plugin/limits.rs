//! Per-call limits of a plugin call, with their documented defaults.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits applied to one plugin call. Every call gets a fresh sandbox, so each
/// limit bounds exactly one call.
///
/// | limit | default | what happens when exceeded |
/// |---|---|---|
/// | `wall_time` | 100 ms | the guest is interrupted (epoch deadline) |
/// | `fuel` | 50,000,000 units (about one per wasm instruction) | the guest traps |
/// | `memory_bytes` | 32 MiB of linear memory | growing memory fails and the call stops |
/// | `output_bytes` | 64 KiB of text in the decision | the decision is discarded |
/// | `log_bytes` | 64 KiB through the host log, and as much through each of stdout and stderr | the call stops |
/// | `host_argument_bytes` | 4 KiB per string passed to a host import (256 bytes for `config` keys) | the call stops |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock time for the call, instantiation included.
    #[serde(with = "millis")]
    pub wall_time: Duration,
    /// Fuel: an instruction budget that makes cost deterministic.
    pub fuel: u64,
    /// Largest linear memory the guest may grow to.
    pub memory_bytes: u64,
    /// Largest decision, counted in bytes of text.
    pub output_bytes: u64,
    /// Largest guest log, in bytes.
    pub log_bytes: u64,
    /// Largest string a guest may pass to a host import.
    pub host_argument_bytes: u64,
}

impl Limits {
    /// The operator's ceilings by default: no binding may ask for more.
    ///
    /// | limit | ceiling |
    /// |---|---|
    /// | `wall_time` | 1 s |
    /// | `fuel` | 1,000,000,000 |
    /// | `memory_bytes` | 256 MiB (the runtime's `max_memory_bytes`) |
    /// | `output_bytes` | 1 MiB |
    /// | `log_bytes` | 1 MiB |
    /// | `host_argument_bytes` | 64 KiB |
    pub const CEILINGS: Self = Self {
        wall_time: Duration::from_millis(1000),
        fuel: 1_000_000_000,
        memory_bytes: 256 << 20,
        output_bytes: 1 << 20,
        log_bytes: 1 << 20,
        host_argument_bytes: 64 << 10,
    };

    /// Each limit with its name, as a binding writes it.
    fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("wall_time", u64::try_from(self.wall_time.as_millis()).unwrap_or(u64::MAX)),
            ("fuel", self.fuel),
            ("memory_bytes", self.memory_bytes),
            ("output_bytes", self.output_bytes),
            ("log_bytes", self.log_bytes),
            ("host_argument_bytes", self.host_argument_bytes),
        ]
    }

    /// The first limit above its ceiling, if any.
    pub fn above(&self, ceilings: &Limits) -> Option<AboveCeiling> {
        self.named()
            .into_iter()
            .zip(ceilings.named())
            .find(|((_, v), (_, max))| v > max)
            .map(|((limit, asked), (_, ceiling))| AboveCeiling { limit, asked, ceiling })
    }

    /// Each limit lowered to its ceiling where it is above it.
    pub fn capped(&self, ceilings: &Limits) -> Limits {
        Limits {
            wall_time: self.wall_time.min(ceilings.wall_time),
            fuel: self.fuel.min(ceilings.fuel),
            memory_bytes: self.memory_bytes.min(ceilings.memory_bytes),
            output_bytes: self.output_bytes.min(ceilings.output_bytes),
            log_bytes: self.log_bytes.min(ceilings.log_bytes),
            host_argument_bytes: self.host_argument_bytes.min(ceilings.host_argument_bytes),
        }
    }
}

/// A limit asked for above its ceiling, in the units a binding writes
/// (milliseconds for `wall_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AboveCeiling {
    /// The limit's name, as a binding writes it.
    pub limit: &'static str,
    /// What was asked for.
    pub asked: u64,
    /// The ceiling.
    pub ceiling: u64,
}

/// Largest key a guest may pass to the `config` host import.
pub(crate) const MAX_CONFIG_KEY_BYTES: u64 = 256;

impl Default for Limits {
    fn default() -> Self {
        Self {
            wall_time: Duration::from_millis(100),
            fuel: 50_000_000,
            memory_bytes: 32 << 20,
            output_bytes: 64 << 10,
            log_bytes: 64 << 10,
            host_argument_bytes: 4 << 10,
        }
    }
}

/// Which limit a call exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LimitKind {
    /// The call ran longer than `wall_time`.
    WallTime,
    /// The call used all of its `fuel`.
    Fuel,
    /// The guest tried to grow its memory beyond `memory_bytes`.
    Memory,
    /// The guest nested calls deeper than the host's wasm stack allows.
    Stack,
    /// The decision was larger than `output_bytes`.
    OutputBytes,
    /// The guest wrote more than `log_bytes` of log.
    LogBytes,
    /// The guest passed a host import a string larger than allowed.
    HostArgument,
}

impl LimitKind {
    /// The stable name of the limit, as used in reports, metrics and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WallTime => "wall-time",
            Self::Fuel => "fuel",
            Self::Memory => "memory",
            Self::Stack => "stack",
            Self::OutputBytes => "output-bytes",
            Self::LogBytes => "log-bytes",
            Self::HostArgument => "host-argument",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
