//! Asking the domain's bound plugins (or the built-in providers) for a
//! decision, with the binding's limits, configuration and failure policy.

use std::sync::Arc;

use serde::Serialize;

use super::{Hook, Host, LoginError, PluginCall};
use crate::builtin;
use crate::plugin::{Account, Assignment, BindingConfig, CallFailure, CallReport, Creation, Limits, Principal};
use crate::runtime::{CallContext, Plugin};
use crate::store::{Binding, FailurePolicy, OrgId};

/// What one hook did, for the audit event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HookRecord {
    /// `create` or `assign`.
    pub(crate) hook: &'static str,
    /// The plugin's content hash, or `None` for the built-in provider.
    pub(crate) plugin: Option<String>,
    /// `decision`, or the failure kind.
    pub(crate) outcome: String,
    /// The failure, when there was one (never a secret: plugins see none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure: Option<String>,
    pub(crate) duration_us: u64,
    pub(crate) fuel: u64,
    /// True when the plugin failed and the built-in provider decided instead.
    pub(crate) fell_back: bool,
}

impl HookRecord {
    fn builtin(hook: Hook) -> Self {
        Self {
            hook: hook.as_str(),
            plugin: None,
            outcome: "decision".into(),
            failure: None,
            duration_us: 0,
            fuel: 0,
            fell_back: false,
        }
    }
}

/// The binding's configuration, parsed; a broken one fails the login.
pub(crate) fn config_of(binding: Option<&Binding>) -> Result<BindingConfig, LoginError> {
    let Some(b) = binding else {
        return Ok(BindingConfig::default());
    };
    if b.config.trim().is_empty() {
        return Ok(BindingConfig::default());
    }
    serde_json::from_str(&b.config)
        .ok()
        .and_then(|v| BindingConfig::from_json(&v).ok())
        .ok_or_else(|| LoginError::Provisioning { rule: "binding-config".into() })
}

/// The binding's limits, never above the operator's ceilings (which may
/// have been lowered since the binding was made).
fn limits_of(host: &Host, binding: &Binding) -> Result<Limits, LoginError> {
    let limits = if binding.limits.trim().is_empty() || binding.limits.trim() == "{}" {
        host.runtime.default_limits()
    } else {
        serde_json::from_str(&binding.limits).map_err(|_| LoginError::Provisioning { rule: "binding-limits".into() })?
    };
    Ok(limits.capped(&host.runtime.ceilings()))
}

/// A binding with its plugins loaded. Loading (from memory, from the
/// artifact cache, or by compiling) happens before the login's transaction
/// begins, so that it never holds a transaction open (on SQLite, the one
/// write turn). A plugin that cannot be loaded fails only a login that asks
/// it something.
pub(crate) struct Bound {
    pub(crate) binding: Binding,
    creator: Option<Result<Plugin, LoginError>>,
    assigner: Option<Result<Plugin, LoginError>>,
}

impl Bound {
    pub(crate) async fn load(host: &Host, org: &OrgId, binding: Binding) -> Self {
        let creator = match binding.creator.as_deref() {
            Some(hash) => Some(plugin(host, org, hash).await),
            None => None,
        };
        let assigner = match binding.assigner.as_deref() {
            Some(hash) => Some(plugin(host, org, hash).await),
            None => None,
        };
        Self { binding, creator, assigner }
    }
}

/// The loaded plugin for `hash`: from the runtime's memory, else from its
/// artifact on disk, else compiled from its bytes in the store (in the
/// organization's one compile slot).
async fn plugin(host: &Host, org: &OrgId, hash: &str) -> Result<Plugin, LoginError> {
    if let Some(p) = host.runtime.loaded(hash) {
        return Ok(p);
    }
    if let Some(p) = host.runtime.reload(hash).await {
        return Ok(p);
    }
    let bytes = host
        .store
        .plugin_bytes(hash)
        .await
        .map_err(|_| LoginError::Unavailable)?
        .ok_or_else(|| LoginError::Provisioning { rule: "plugin-missing".into() })?;
    host.compile(org, &bytes).await.map_err(|e| match e {
        super::admin::CompileError::Saturated => LoginError::Provisioning { rule: "plugin-compiles-saturated".into() },
        super::admin::CompileError::Refused(_) => LoginError::Provisioning { rule: "plugin-refused".into() },
    })
}

/// Tells the host's observers about a finished call, and makes its audit
/// record.
fn record<T>(host: &Host, hook: Hook, hash: &str, report: &CallReport<T>, policy: FailurePolicy) -> HookRecord {
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
    HookRecord {
        hook: hook.as_str(),
        plugin: Some(hash.to_owned()),
        outcome: call.outcome().to_owned(),
        failure: failure.map(ToString::to_string),
        duration_us: u64::try_from(report.stats.duration.as_micros()).unwrap_or(u64::MAX),
        fuel: report.stats.fuel_used,
        fell_back: call.fell_back,
    }
}

/// The rule name a plugin failure is audited under.
fn failure_rule(hook: &str, failure: &CallFailure) -> String {
    match failure {
        CallFailure::LimitExceeded { limit, .. } => format!("{hook}-limit-{limit}"),
        CallFailure::Malformed { rule, .. } => format!("{hook}-{rule}"),
        other => format!("{hook}-{}", other.kind()),
    }
}

/// A hook's answer (or why there is none) and its audit record, which is
/// kept whether the call succeeded or not.
pub(crate) struct Decided<T> {
    pub(crate) answer: Result<T, LoginError>,
    pub(crate) record: HookRecord,
}

/// The record of a hook whose plugin could not even be called.
fn not_called(hook: Hook, hash: Option<&str>, error: &LoginError) -> HookRecord {
    let rule = match error {
        LoginError::Provisioning { rule } => rule.clone(),
        other => other.code().to_owned(),
    };
    HookRecord {
        hook: hook.as_str(),
        plugin: hash.map(str::to_owned),
        outcome: "not-called".into(),
        failure: Some(rule),
        duration_us: 0,
        fuel: 0,
        fell_back: false,
    }
}

/// Runs one hook of a bound plugin in a slot of `org`'s, with the binding's
/// limits, and applies the failure policy; `builtin` decides when nothing is
/// bound or the plugin fails and the binding falls back.
async fn run_hook<T, F>(
    host: &Host,
    org: &OrgId,
    hook: Hook,
    bound: Option<(&Binding, &Result<Plugin, LoginError>)>,
    config: &Arc<BindingConfig>,
    builtin: impl Fn() -> Result<T, LoginError>,
    call: impl FnOnce(Plugin, CallContext) -> F,
) -> Decided<T>
where
    F: std::future::Future<Output = CallReport<T>>,
{
    let Some((binding, plugin)) = bound else {
        return Decided { answer: builtin(), record: HookRecord::builtin(hook) };
    };
    let hash = match hook {
        Hook::Create => binding.creator.as_deref(),
        Hook::Assign => binding.assigner.as_deref(),
    };
    let prepared = plugin.clone().and_then(|plugin| Ok((plugin, limits_of(host, binding)?)));
    let (plugin, limits) = match prepared {
        Ok(ready) => ready,
        Err(error) => return Decided { record: not_called(hook, hash, &error), answer: Err(error) },
    };
    let Ok(_slot) = host.slots.acquire(org).await else {
        let error = LoginError::Provisioning { rule: "plugin-calls-saturated".into() };
        return Decided { record: not_called(hook, hash, &error), answer: Err(error) };
    };
    let ctx = CallContext { limits, config: Arc::clone(config), seed: None };
    let report = call(plugin.clone(), ctx).await;
    let record = record(host, hook, plugin.info().hash.as_str(), &report, binding.failure_policy);
    let answer = match report.outcome {
        Ok(decision) => Ok(decision),
        Err(failure) => match binding.failure_policy {
            FailurePolicy::FallBack => builtin(),
            FailurePolicy::FailClosed => Err(LoginError::Provisioning { rule: failure_rule(hook.as_str(), &failure) }),
        },
    };
    Decided { answer, record }
}

/// The identity creator's decision for `principal`.
pub(crate) async fn creation(
    host: &Host,
    org: &OrgId,
    bound: Option<&Bound>,
    config: &Arc<BindingConfig>,
    principal: &Principal,
) -> Decided<Creation> {
    let builtin = || Ok(builtin::default_creation(principal, config, &mut rand::rng()));
    let plugin = bound.and_then(|b| b.creator.as_ref().map(|p| (&b.binding, p)));
    run_hook(host, org, Hook::Create, plugin, config, builtin, |plugin, ctx| async move {
        host.runtime.create(&plugin, principal, &ctx).await
    })
    .await
}

/// The assignment provider's answer for `account`.
pub(crate) async fn assignments(
    host: &Host,
    org: &OrgId,
    bound: Option<&Bound>,
    config: &Arc<BindingConfig>,
    account: &Account,
    principal: &Principal,
) -> Decided<Vec<Assignment>> {
    let builtin = || {
        builtin::group_mapping(principal, config)
            .map_err(|_| LoginError::Provisioning { rule: "group-mapping-config".into() })
    };
    let plugin = bound.and_then(|b| b.assigner.as_ref().map(|p| (&b.binding, p)));
    run_hook(host, org, Hook::Assign, plugin, config, builtin, |plugin, ctx| async move {
        host.runtime.assign(&plugin, account, principal, &ctx).await
    })
    .await
}
