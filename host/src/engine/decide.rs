//! Asking the domain's bound plugins (or the built-in providers) for a
//! decision, with the binding's limits, configuration and failure policy.
//! Both hooks take one path ([`Decider::ask`]); they differ only in the
//! question and in the built-in answer.

use std::sync::Arc;

use tracing::Instrument as _;

use super::audit::HookRecord;
use super::breaker::{Admission, CircuitKey};
use super::compare::Decision;
use super::error::{HookFailure, Rule};
use super::shadow::{Asked, ShadowCall};
use super::{Hook, Host, LoginError, PluginCall};
use crate::builtin;
use crate::plugin::{Account, Assignment, BindingConfig, CallReport, Creation, Limits, PluginHash, Principal};
use crate::runtime::{CallContext, Plugin};
use crate::store::{Binding, FailurePolicy, OrgId};

/// The outcome of a hook whose plugin was not called because its circuit
/// is open, and the failure it stands for (`create-circuit-open`).
const CIRCUIT_OPEN: &str = "circuit-open";

/// A binding with its plugins loaded. Loading (from memory, from the
/// artifact cache, or by compiling) happens before the login's transaction
/// begins, so that it never holds a transaction open (on SQLite, the one
/// write turn). A plugin that cannot be loaded fails only a login that asks
/// it something.
pub(crate) struct Bound {
    pub(crate) binding: Binding,
    creator: Option<Result<Plugin, LoginError>>,
    assigner: Option<Result<Plugin, LoginError>>,
    canary_creator: Option<Result<Plugin, LoginError>>,
    canary_assigner: Option<Result<Plugin, LoginError>>,
}

/// Which of a binding's versions a login runs for a hook.
struct Chosen<'a> {
    hash: &'a PluginHash,
    plugin: &'a Result<Plugin, LoginError>,
    canary: bool,
}

/// A principal's place among 100 buckets, by a stable hash of its provider
/// and subject: a binding's canary serves the buckets below its percent,
/// so a person always sees the same version.
pub fn canary_bucket(provider: &str, subject: &str) -> u8 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new().chain_update(provider).chain_update([0]).chain_update(subject).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u8::try_from(u64::from_be_bytes(first) % 100).unwrap_or(0)
}

impl Bound {
    pub(crate) async fn load(host: &Host, org: &OrgId, binding: Binding) -> Self {
        let creator = match &binding.creator {
            Some(hash) => Some(plugin(host, org, hash).await),
            None => None,
        };
        let assigner = match &binding.assigner {
            Some(hash) => Some(plugin(host, org, hash).await),
            None => None,
        };
        let canary = binding.canary.as_ref();
        let canary_creator = match canary.and_then(|c| c.creator.as_ref()) {
            Some(hash) => Some(plugin(host, org, hash).await),
            None => None,
        };
        let canary_assigner = match canary.and_then(|c| c.assigner.as_ref()) {
            Some(hash) => Some(plugin(host, org, hash).await),
            None => None,
        };
        Self { binding, creator, assigner, canary_creator, canary_assigner }
    }

    /// The version `principal` runs for `hook`: the canary's when the
    /// binding has one for the hook and the principal's bucket is in its
    /// share, else the bound one, if any.
    fn plugin(&self, hook: Hook, principal: &Principal) -> Option<Chosen<'_>> {
        let canary = self.binding.canary.as_ref();
        let (candidate, loaded) = match hook {
            Hook::Create => (canary.and_then(|c| c.creator.as_ref()), self.canary_creator.as_ref()),
            Hook::Assign => (canary.and_then(|c| c.assigner.as_ref()), self.canary_assigner.as_ref()),
        };
        if let (Some(canary), Some((hash, plugin))) = (canary, candidate.zip(loaded))
            && canary_bucket(&principal.provider, &principal.subject) < canary.percent
        {
            return Some(Chosen { hash, plugin, canary: true });
        }
        let (hash, plugin) = match hook {
            Hook::Create => (self.binding.creator.as_ref(), self.creator.as_ref()),
            Hook::Assign => (self.binding.assigner.as_ref(), self.assigner.as_ref()),
        };
        hash.zip(plugin).map(|(hash, plugin)| Chosen { hash, plugin, canary: false })
    }
}

/// The loaded plugin for `hash` ([`Host::load_stored`]), or the rule a
/// login fails under without it (a shadow call's record names it too).
pub(super) async fn plugin(host: &Host, org: &OrgId, hash: &PluginHash) -> Result<Plugin, LoginError> {
    use super::admin::{CompileError, StoredError};
    host.load_stored(org, hash).await.map_err(|e| match e {
        StoredError::Missing => Rule::PluginMissing.into(),
        StoredError::Store(_) => LoginError::Unavailable,
        StoredError::Compile(CompileError::Saturated) => Rule::PluginCompilesSaturated.into(),
        StoredError::Compile(CompileError::Refused(_)) => Rule::PluginRefused.into(),
    })
}

/// A hook's answer (or why there is none) and its audit record, which is
/// kept whether the call succeeded or not; and the call the binding's
/// shadow version makes of the same question, once the login is settled.
pub(crate) struct Decided<T> {
    pub(crate) answer: Result<T, LoginError>,
    pub(crate) record: HookRecord,
    pub(crate) shadow: Option<ShadowCall>,
}

impl<T> Decided<T> {
    fn new(answer: Result<T, LoginError>, record: HookRecord) -> Self {
        Self { answer, record, shadow: None }
    }
}

/// Asks the questions of one login: its organization's plugin slots, the
/// domain provider's binding (if any) and its configuration.
pub(crate) struct Decider<'a> {
    pub(crate) host: &'a Host,
    pub(crate) org: &'a OrgId,
    pub(crate) bound: Option<&'a Bound>,
    pub(crate) config: &'a Arc<BindingConfig>,
    /// Whether a directory (`ldap`) provider vouched for the principal: the
    /// built-in creator then uses the directory's attributes.
    pub(crate) directory: bool,
}

impl Decider<'_> {
    /// The identity creator's decision for `principal`.
    pub(crate) async fn creation(&self, principal: &Principal) -> Decided<Creation> {
        let builtin = || {
            let rng = &mut rand::rng();
            Ok(if self.directory {
                builtin::directory_creation(principal, self.config, rng)
            } else {
                builtin::default_creation(principal, self.config, rng)
            })
        };
        let runtime = &self.host.runtime;
        let mut decided = self
            .ask(Hook::Create, principal, builtin, |plugin, ctx| async move {
                runtime.create(&plugin, principal, &ctx).await
            })
            .await;
        decided.shadow = self.shadow_call(Asked::Create, &decided, Decision::of_creation);
        decided
    }

    /// The assignment provider's answer for `account`.
    pub(crate) async fn assignments(&self, account: &Account, principal: &Principal) -> Decided<Vec<Assignment>> {
        let builtin = || builtin::group_mapping(principal, self.config).map_err(|_| Rule::GroupMappingConfig.into());
        let runtime = &self.host.runtime;
        let mut decided = self
            .ask(Hook::Assign, principal, builtin, |plugin, ctx| async move {
                runtime.assign(&plugin, account, principal, &ctx).await
            })
            .await;
        decided.shadow = self.shadow_call(Asked::Assign(account.clone()), &decided, |list: &Vec<Assignment>| {
            Decision::of_assignments(list)
        });
        decided
    }

    /// The call the binding's shadow version makes, if it has one for the
    /// hook, of the question `decided` answered: same inputs, limits and
    /// configuration, compared with the login's answer.
    fn shadow_call<T>(
        &self,
        asked: Asked,
        decided: &Decided<T>,
        decision: impl Fn(&T) -> Decision,
    ) -> Option<ShadowCall> {
        let hook = asked.hook();
        let binding = &self.bound?.binding;
        let shadow = binding.shadow.as_ref()?;
        let plugin = match hook {
            Hook::Create => shadow.creator.clone()?,
            Hook::Assign => shadow.assigner.clone()?,
        };
        let live = match &decided.answer {
            Ok(answer) => decision(answer),
            // The failure's kind, as a shadow's failure is named.
            Err(_) if decided.record.outcome != "decision" => Decision::Failed(decided.record.outcome.to_owned()),
            Err(error) => Decision::Failed(error.audit_rule().unwrap_or_else(|| error.code().to_owned())),
        };
        Some(ShadowCall {
            asked,
            live_plugin: decided.record.plugin.clone(),
            live,
            ctx: CallContext { limits: limits_of(self.host, binding), config: Arc::clone(self.config), seed: None },
            circuit: CircuitKey {
                domain: binding.domain.clone(),
                provider: binding.provider.clone(),
                hook,
                plugin: plugin.clone(),
            },
            plugin,
        })
    }

    /// Runs `hook`'s bound plugin in a slot of the organization's, with the
    /// binding's limits, and applies the failure policy; `builtin` decides
    /// when nothing is bound or the plugin fails and the binding falls back.
    async fn ask<T, F>(
        &self,
        hook: Hook,
        principal: &Principal,
        builtin: impl Fn() -> Result<T, LoginError>,
        call: impl FnOnce(Plugin, CallContext) -> F,
    ) -> Decided<T>
    where
        F: std::future::Future<Output = CallReport<T>>,
    {
        let Some((bound, Chosen { hash, plugin, canary })) =
            self.bound.and_then(|b| Some((b, b.plugin(hook, principal)?)))
        else {
            return Decided::new(builtin(), HookRecord::builtin(hook));
        };
        let binding = &bound.binding;
        let not_called = |error: LoginError| {
            Decided::new(Err(error.clone()), HookRecord { canary, ..HookRecord::not_called(hook, Some(hash), &error) })
        };
        let plugin = match plugin {
            Ok(plugin) => plugin.clone(),
            Err(error) => return not_called(error.clone()),
        };
        let circuit = CircuitKey {
            domain: binding.domain.clone(),
            provider: binding.provider.clone(),
            hook,
            plugin: hash.clone(),
        };
        let admission = self.host.breakers.admit(&circuit, self.host.auth.clock().now());
        if admission == Admission::Open {
            // The plugin failed too often lately: the failure policy, without calling it.
            let error: LoginError = Rule::Hook { hook, failure: HookFailure::Other(CIRCUIT_OPEN) }.into();
            let mut record = HookRecord { canary, ..HookRecord::not_called(hook, Some(hash), &error) };
            record.outcome = CIRCUIT_OPEN;
            let answer = match binding.failure_policy {
                FailurePolicy::FallBack => {
                    record.fell_back = true;
                    builtin()
                }
                FailurePolicy::FailClosed => Err(error),
            };
            return Decided::new(answer, record);
        }
        let Ok(_slot) = self.host.slots.acquire(self.org).await else {
            return not_called(Rule::PluginCallsSaturated.into());
        };
        let ctx = CallContext { limits: limits_of(self.host, binding), config: Arc::clone(self.config), seed: None };
        let span = tracing::debug_span!("plugin_call", hook = hook.as_str(), plugin = hash.as_str());
        let report = call(plugin, ctx).instrument(span.clone()).await;
        let record = HookRecord { canary, ..record(self.host, hook, hash, &report, binding.failure_policy) };
        let failed = report.outcome.is_err();
        if let Some(change) = self.host.breakers.record(&circuit, admission, failed, self.host.auth.clock().now()) {
            self.host.circuit_changed(self.org, &circuit, change).await;
        }
        tracing::debug!(
            parent: &span,
            fuel = record.fuel,
            duration_us = record.duration_us,
            outcome = record.outcome,
            failure = record.failure.as_deref(),
            "plugin call"
        );
        let answer = match report.outcome {
            Ok(decision) => Ok(decision),
            Err(failure) => match binding.failure_policy {
                FailurePolicy::FallBack => builtin(),
                FailurePolicy::FailClosed => Err(Rule::Hook { hook, failure: HookFailure::from(&failure) }.into()),
            },
        };
        Decided::new(answer, record)
    }
}

/// The binding's limits (the runtime's defaults when it sets none), never
/// above the operator's ceilings, which may have been lowered since the
/// binding was made.
fn limits_of(host: &Host, binding: &Binding) -> Limits {
    binding.limits.unwrap_or_else(|| host.runtime.default_limits()).capped(&host.runtime.ceilings())
}

/// Tells the host's observers about a finished call, and makes its audit
/// record.
fn record<T>(host: &Host, hook: Hook, hash: &PluginHash, report: &CallReport<T>, policy: FailurePolicy) -> HookRecord {
    let failure = report.outcome.as_ref().err();
    let call = PluginCall {
        hook,
        plugin: hash,
        duration: report.stats.duration,
        fuel_used: report.stats.fuel_used,
        failure,
        fell_back: failure.is_some() && policy == FailurePolicy::FallBack,
    };
    for observer in host.observers.iter() {
        observer.plugin_call(&call);
    }
    HookRecord::called(hook, hash, report, call.fell_back)
}

#[cfg(test)]
mod tests {
    use super::canary_bucket;

    #[test]
    fn canary_buckets_are_stable_and_even() {
        assert_eq!(canary_bucket("okta", "00u1"), canary_bucket("okta", "00u1"), "a person keeps their bucket");
        let subjects: Vec<String> = (0..10_000).map(|i| format!("subject-{i}")).collect();
        for percent in [1u8, 20, 50] {
            let served = subjects.iter().filter(|s| canary_bucket("okta", s) < percent).count();
            let share = served as f64 / subjects.len() as f64 * 100.0;
            assert!((share - f64::from(percent)).abs() < 1.5, "{percent}%: {share:.2}%");
        }
        let moved = subjects.iter().filter(|s| canary_bucket("okta", s) != canary_bucket("entra", s)).count();
        assert!(moved > 9_000, "the provider is part of the hash: {moved}");
    }
}
