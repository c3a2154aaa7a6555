//! What the engine reports about each plugin call, for metrics and the like.
//!
//! A [`LoginObserver`] given to [`HostBuilder::observer`] (or
//! [`Host::with_observer`]) hears of every call a login makes to a bound
//! plugin, whatever the login's outcome: successful, refused because the
//! plugin failed and the binding fails closed, or rolled back later. The
//! built-in providers are not plugin calls and are not reported, nor is a
//! plugin that could not be loaded (the login fails with `plugin-missing` or
//! `plugin-refused` before any call).
//!
//! [`HostBuilder::observer`]: super::HostBuilder::observer
//! [`Host::with_observer`]: super::Host::with_observer

use std::fmt;
use std::time::Duration;

use crate::plugin::{CallFailure, LimitKind, PluginHash};

/// Which question a plugin was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// `identity-creator`: which account should this principal get?
    Create,
    /// `assignment-provider`: which memberships should this account have?
    Assign,
}

impl Hook {
    /// Every hook, in the order a login asks them.
    pub const ALL: [Self; 2] = [Self::Create, Self::Assign];

    /// The hook's stable name (`create` or `assign`), as in audit events and
    /// metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Assign => "assign",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished plugin call.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PluginCall<'a> {
    /// The hook that was called.
    pub hook: Hook,
    /// The plugin version.
    pub plugin: &'a PluginHash,
    /// Wall time of the call, instantiation included.
    pub duration: Duration,
    /// Fuel units consumed.
    pub fuel_used: u64,
    /// Why the call gave no decision; `None` when it gave one (a denial is
    /// a decision).
    pub failure: Option<&'a CallFailure>,
    /// True when the call failed and the binding's `fall-back` policy let the
    /// built-in provider decide instead.
    pub fell_back: bool,
}

impl PluginCall<'_> {
    /// `decision`, or the failure's kind (`plugin-error`, `trap`,
    /// `limit-exceeded`, `malformed`, `unavailable`).
    pub fn outcome(&self) -> &'static str {
        self.failure.map_or("decision", CallFailure::kind)
    }

    /// The limit the call exceeded, if that is how it failed.
    pub fn limit(&self) -> Option<LimitKind> {
        match self.failure {
            Some(CallFailure::LimitExceeded { limit, .. }) => Some(*limit),
            _ => None,
        }
    }
}

/// Hears of every plugin call of every login.
///
/// Called on the login's own task, inside its transaction, right after the
/// call returns: an implementation must be quick and must not block (count,
/// or hand off to a channel).
pub trait LoginObserver: Send + Sync + 'static {
    /// One plugin call finished.
    fn plugin_call(&self, call: &PluginCall<'_>);

    /// An audit event could not be written.
    fn audit_write_failed(&self) {}

    /// A bound plugin's circuit opened, closed or opened again.
    fn circuit_changed(&self, _hook: Hook, _change: super::CircuitChange) {}

    /// A login's shadow call was compared with the live decision, or shed.
    /// Called on the shadow's own task, off the login's path.
    fn shadow_compared(&self, _hook: Hook, _result: super::ShadowResult) {}
}
