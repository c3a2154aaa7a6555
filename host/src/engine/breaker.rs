//! A circuit breaker per bound plugin: when a binding's plugin (one hook,
//! one version) fails on more than a share of its recent calls, its circuit
//! opens for a cool-down, during which logins apply the binding's failure
//! policy without calling it (so a broken upload cannot add its wall-time
//! limit to every login); then one call is let through, which closes the
//! circuit if it succeeds and opens it again if it fails. Binding another
//! version starts a closed circuit. Times come from the authentication
//! services' clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::Hook;
use crate::plugin::PluginHash;
use crate::store::{DomainId, ProviderId};

/// When a circuit opens, and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// How many of the latest calls are counted.
    pub window: usize,
    /// Calls counted before the circuit may open.
    pub min_calls: usize,
    /// The circuit opens when more than this share of the counted calls failed.
    pub failure_share: f64,
    /// How long an open circuit stays open before letting one call through.
    pub cooldown: Duration,
}

impl Default for BreakerPolicy {
    /// Opens when more than half of the last 20 calls (at least 10) failed,
    /// for 30 seconds.
    fn default() -> Self {
        Self { window: 20, min_calls: 10, failure_share: 0.5, cooldown: Duration::from_secs(30) }
    }
}

/// Whose circuit: a binding's hook and the version bound to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CircuitKey {
    pub(crate) domain: DomainId,
    pub(crate) provider: ProviderId,
    pub(crate) hook: Hook,
    pub(crate) plugin: PluginHash,
}

/// Whether a call may go to the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed: call it.
    Call,
    /// Half open: call it, as the probe that decides the circuit's state.
    Probe,
    /// Open: do not call it.
    Open,
}

/// A change of a circuit's state, to audit and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitChange {
    /// It opened: so many of the counted calls failed.
    Opened {
        /// Failed calls among those counted.
        failures: usize,
        /// Calls counted.
        calls: usize,
    },
    /// Its probe succeeded: it is closed again.
    Closed,
    /// Its probe failed: it is open again for a cool-down.
    Reopened,
}

impl CircuitChange {
    /// The audit outcome of the change.
    pub fn outcome(self) -> &'static str {
        match self {
            Self::Opened { .. } => "plugin-circuit-opened",
            Self::Closed => "plugin-circuit-closed",
            Self::Reopened => "plugin-circuit-reopened",
        }
    }
}

#[derive(Debug, Default)]
struct Circuit {
    /// The counted calls, newest last: `true` for a failure.
    recent: VecDeque<bool>,
    /// While open: until when.
    open_until: Option<SystemTime>,
    /// A probe is in flight.
    probing: bool,
}

/// Every circuit of a host.
#[derive(Debug)]
pub(crate) struct Breakers {
    policy: BreakerPolicy,
    circuits: Mutex<HashMap<CircuitKey, Circuit>>,
}

impl Breakers {
    pub(crate) fn new(policy: BreakerPolicy) -> Self {
        Self { policy, circuits: Mutex::new(HashMap::new()) }
    }

    /// Whether a call for `key` may go to the plugin at `now`.
    pub(crate) fn admit(&self, key: &CircuitKey, now: SystemTime) -> Admission {
        let mut circuits = self.circuits.lock().unwrap_or_else(|p| p.into_inner());
        let Some(circuit) = circuits.get_mut(key) else { return Admission::Call };
        match circuit.open_until {
            None => Admission::Call,
            Some(until) if now < until || circuit.probing => Admission::Open,
            Some(_) => {
                circuit.probing = true;
                Admission::Probe
            }
        }
    }

    /// Counts a finished call (`failed` or not) admitted as `admission`;
    /// the change of state it made, if any.
    pub(crate) fn record(
        &self,
        key: &CircuitKey,
        admission: Admission,
        failed: bool,
        now: SystemTime,
    ) -> Option<CircuitChange> {
        let mut circuits = self.circuits.lock().unwrap_or_else(|p| p.into_inner());
        let circuit = circuits.entry(key.clone()).or_default();
        if admission == Admission::Probe {
            circuit.probing = false;
            return Some(if failed {
                circuit.open_until = Some(now + self.policy.cooldown);
                CircuitChange::Reopened
            } else {
                *circuit = Circuit::default();
                CircuitChange::Closed
            });
        }
        if circuit.open_until.is_some() {
            return None;
        }
        circuit.recent.push_back(failed);
        while circuit.recent.len() > self.policy.window.max(1) {
            circuit.recent.pop_front();
        }
        let calls = circuit.recent.len();
        let failures = circuit.recent.iter().filter(|f| **f).count();
        let over = calls >= self.policy.min_calls.max(1) && failures as f64 > self.policy.failure_share * calls as f64;
        if over {
            circuit.open_until = Some(now + self.policy.cooldown);
            circuit.recent.clear();
            return Some(CircuitChange::Opened { failures, calls });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CircuitKey {
        CircuitKey {
            domain: DomainId::new("d"),
            provider: ProviderId::new("p"),
            hook: Hook::Create,
            plugin: PluginHash::of(b"plugin"),
        }
    }

    #[test]
    fn opens_sheds_half_opens_and_closes() {
        let policy = BreakerPolicy { window: 4, min_calls: 4, failure_share: 0.5, cooldown: Duration::from_secs(60) };
        let (breakers, key, t0) = (Breakers::new(policy), key(), SystemTime::UNIX_EPOCH);
        // Two failures of four is not more than half.
        for failed in [true, false, true, false] {
            assert_eq!(breakers.admit(&key, t0), Admission::Call);
            assert_eq!(breakers.record(&key, Admission::Call, failed, t0), None);
        }
        // The oldest call leaves the window as each new one comes: two of
        // four still, then a third failure among the last four opens it.
        assert_eq!(breakers.record(&key, Admission::Call, true, t0), None);
        assert_eq!(
            breakers.record(&key, Admission::Call, true, t0),
            Some(CircuitChange::Opened { failures: 3, calls: 4 })
        );
        assert_eq!(breakers.admit(&key, t0 + Duration::from_secs(59)), Admission::Open, "shed during the cool-down");
        let later = t0 + Duration::from_secs(60);
        assert_eq!(breakers.admit(&key, later), Admission::Probe, "one call goes through");
        assert_eq!(breakers.admit(&key, later), Admission::Open, "only one");
        assert_eq!(breakers.record(&key, Admission::Probe, true, later), Some(CircuitChange::Reopened));
        assert_eq!(breakers.admit(&key, later), Admission::Open);
        let again = later + Duration::from_secs(60);
        assert_eq!(breakers.admit(&key, again), Admission::Probe);
        assert_eq!(breakers.record(&key, Admission::Probe, false, again), Some(CircuitChange::Closed));
        assert_eq!(breakers.admit(&key, again), Admission::Call, "closed, its count started afresh");
        let other = CircuitKey { plugin: PluginHash::of(b"another version"), ..key.clone() };
        assert_eq!(breakers.admit(&other, again), Admission::Call);
    }
}
