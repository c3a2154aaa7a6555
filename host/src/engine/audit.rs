//! What a login's audit event records (DESIGN.md, step 6): who, where, which
//! plugins decided what, how long it took, and the outcome. Typed here, so
//! the event's `detail` has one shape, written in one place.
//!
//! Nothing here is a secret: plugins see none, and the principal's
//! credentials never reach the engine past authentication: the event keeps
//! the principal (what the provider vouched for), never a credential.

use std::time::Instant;

use serde::Serialize;

use super::{Hook, LoginError};
use crate::plugin::{Assignment, CallFailure, CallReport, LogLine, PluginHash, Principal};
use crate::store::{AccountId, DomainId, NewAuditEvent, OrgId, now_ms};

/// What one hook did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HookRecord {
    /// `create` or `assign`.
    #[serde(serialize_with = "hook_name")]
    pub(crate) hook: Hook,
    /// The plugin version, or `None` for the built-in provider.
    pub(crate) plugin: Option<PluginHash>,
    /// `decision`, `not-called`, or the failure kind.
    pub(crate) outcome: &'static str,
    /// The failure, when there was one (never a secret: plugins see none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure: Option<String>,
    pub(crate) duration_us: u64,
    pub(crate) fuel: u64,
    /// True when the plugin failed and the built-in provider decided instead.
    pub(crate) fell_back: bool,
    /// The guest's log lines, as the call's log limit let them through.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) logs: Vec<LogLine>,
    /// True when the guest logged past its limit: `logs` is cut there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) logs_truncated: bool,
    /// True when the plugin was the binding's canary version.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) canary: bool,
}

fn hook_name<S: serde::Serializer>(hook: &Hook, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(hook.as_str())
}

impl HookRecord {
    /// The record of a hook the built-in provider answered.
    pub(crate) fn builtin(hook: Hook) -> Self {
        Self {
            hook,
            plugin: None,
            outcome: "decision",
            failure: None,
            duration_us: 0,
            fuel: 0,
            fell_back: false,
            logs: Vec::new(),
            logs_truncated: false,
            canary: false,
        }
    }

    /// The record of a plugin call that ran: its outcome (`decision` or the
    /// failure's kind), cost and guest log lines.
    pub(crate) fn called<T>(hook: Hook, plugin: &PluginHash, report: &CallReport<T>, fell_back: bool) -> Self {
        let failure = report.outcome.as_ref().err();
        Self {
            hook,
            plugin: Some(plugin.clone()),
            outcome: failure.map_or("decision", CallFailure::kind),
            failure: failure.map(ToString::to_string),
            duration_us: u64::try_from(report.stats.duration.as_micros()).unwrap_or(u64::MAX),
            fuel: report.stats.fuel_used,
            fell_back,
            logs: report.stats.logs.clone(),
            logs_truncated: report.stats.logs_truncated,
            canary: false,
        }
    }

    /// The record of a hook whose plugin could not even be called.
    pub(crate) fn not_called(hook: Hook, plugin: Option<&PluginHash>, error: &LoginError) -> Self {
        let failure = error.audit_rule().unwrap_or_else(|| error.code().to_owned());
        Self {
            hook,
            plugin: plugin.cloned(),
            outcome: "not-called",
            failure: Some(failure),
            duration_us: 0,
            fuel: 0,
            fell_back: false,
            logs: Vec::new(),
            logs_truncated: false,
            canary: false,
        }
    }
}

/// What the identity creator decided.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CreationDecision {
    /// Create the account, with the username hint the creator gave.
    Create {
        /// The creator's hint, if any.
        username_hint: Option<String>,
    },
    /// Refuse, with the creator's code.
    Deny(String),
}

/// The decisions a login took, as its audit event shows them.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Decisions {
    /// How many pending invitations the login accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) invitations_accepted: Option<usize>,
    /// The identity creator's decision, for a new account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) creation: Option<CreationDecision>,
    /// The assignment provider's answer, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) assignments: Option<Vec<Assignment>>,
    /// Whether the domain's default organization and team were given.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) default_membership: bool,
}

/// Everything a login's audit event records besides its outcome, gathered
/// as the login goes.
pub(crate) struct Trail {
    started: Instant,
    pub(crate) org: Option<OrgId>,
    pub(crate) domain: Option<DomainId>,
    pub(crate) provider: Option<String>,
    pub(crate) account: Option<AccountId>,
    /// Which providers were tried and how they answered, when none succeeded
    /// or when one before the winner did not.
    pub(crate) attempts: Option<String>,
    pub(crate) hooks: Vec<HookRecord>,
    pub(crate) decisions: Decisions,
    /// The principal the plugins were (or would have been) called on,
    /// once the domain vouched for it: what a provider said, never a
    /// credential. The playground re-runs plugins on it.
    pub(crate) principal: Option<Principal>,
    /// The calls the binding's shadow versions make once the login is
    /// settled (none without a shadow).
    pub(crate) shadows: Vec<super::shadow::ShadowCall>,
    /// The login's audit event, once written as a row of its own.
    pub(crate) event_id: Option<i64>,
}

/// The `detail` of a login's audit event.
#[derive(Serialize)]
struct Detail<'a> {
    attempts: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: &'a Option<Principal>,
    hooks: &'a [HookRecord],
    decisions: &'a Decisions,
    duration_us: u64,
}

impl Trail {
    /// A trail for a login starting now.
    pub(crate) fn start() -> Self {
        Self {
            started: Instant::now(),
            org: None,
            domain: None,
            provider: None,
            account: None,
            attempts: None,
            hooks: Vec::new(),
            decisions: Decisions::default(),
            principal: None,
            shadows: Vec::new(),
            event_id: None,
        }
    }

    /// When the login started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Forgets the hooks and decisions of an attempt that starts over.
    pub(crate) fn restart(&mut self) {
        self.hooks.clear();
        self.shadows.clear();
        self.decisions = Decisions::default();
    }

    /// The audit event of the login ending with `outcome`.
    pub(crate) fn event(&self, outcome: Result<(), &LoginError>) -> NewAuditEvent {
        let detail = Detail {
            attempts: &self.attempts,
            principal: &self.principal,
            hooks: &self.hooks,
            decisions: &self.decisions,
            duration_us: u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        };
        let (outcome, rule) = match outcome {
            Ok(()) => ("success", None),
            Err(error) => (error.code(), error.audit_rule()),
        };
        NewAuditEvent {
            at: now_ms(),
            org: self.org.clone(),
            domain: self.domain.clone(),
            provider: self.provider.clone(),
            account: self.account.clone(),
            outcome: outcome.to_owned(),
            rule,
            // A struct of plain fields always serializes.
            detail: serde_json::to_string(&detail).unwrap_or_default(),
        }
    }
}
