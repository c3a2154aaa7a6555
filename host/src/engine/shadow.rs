//! Shadow versions: a binding's candidate creator or assignment provider
//! that runs after each login's live decision, on the same principal,
//! account, configuration and limits, and whose decision never takes
//! effect. It runs off the login's path: the login hands its calls to a
//! bounded queue once its own outcome is settled and returns. Each
//! organization has its own lane ([`ShadowPolicy::queue_per_org`] logins
//! waiting; more are shed and counted), drained by one worker at a time, a
//! batch of logins at a time, whose audit events are written together (one
//! transaction, on SQLite one write turn); all lanes share
//! [`ShadowPolicy::runners`]. So one organization's looping shadow delays
//! only its own comparisons, and a shadow version that keeps failing is
//! skipped for a cool-down (its own circuit, with the host's breaker
//! policy).
//!
//! Each compared login leaves an audit event (`plugin-shadow-agreed` or
//! `plugin-shadow-differed`, naming the login's event) with both decisions,
//! the changes between them, and the shadow call's cost and log lines; the
//! observers hear of each comparison, and of each call shed or skipped
//! (`/metrics`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::Semaphore;

use super::audit::HookRecord;
use super::breaker::{Admission, BreakerPolicy, Breakers, CircuitKey};
use super::compare::{Decision, changes};
use super::{Hook, Host};
use crate::plugin::{Account, PluginHash, Principal};
use crate::runtime::CallContext;
use crate::store::{AccountId, DomainId, NewAuditEvent, OrgId, now_ms};

/// Audit outcome of a login whose shadow decided as the live versions did.
pub const SHADOW_AGREED: &str = "plugin-shadow-agreed";
/// Audit outcome of a login whose shadow decided otherwise (or failed).
pub const SHADOW_DIFFERED: &str = "plugin-shadow-differed";

/// How much shadow work a host takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowPolicy {
    /// Logins of one organization whose shadow calls may wait or be
    /// compared at once; a login beyond them is shed (its shadow calls are
    /// not run).
    pub queue_per_org: usize,
    /// Shadow calls running at once, over all organizations.
    pub runners: usize,
}

impl Default for ShadowPolicy {
    /// 256 logins per organization; half this machine's cores as runners,
    /// at least two. An organization runs one shadow call at a time, so
    /// another organization always finds a runner one looping shadow does
    /// not hold.
    fn default() -> Self {
        Self { queue_per_org: 256, runners: super::default_plugin_calls_per_org().max(2) }
    }
}

/// How a login's shadow call went, for the observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShadowResult {
    /// It decided as the live version did.
    Agreed,
    /// It decided otherwise, or failed.
    Differed,
    /// It was not run: its organization's shadow queue was full.
    Shed,
    /// It was not run: the shadow version failed on most of its latest
    /// calls, and its circuit is open for a cool-down.
    CircuitOpen,
}

impl ShadowResult {
    /// `agreed`, `differed`, `shed` or `circuit-open`, as in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agreed => "agreed",
            Self::Differed => "differed",
            Self::Shed => "shed",
            Self::CircuitOpen => "circuit-open",
        }
    }
}

/// The question a shadow version is asked again.
pub(crate) enum Asked {
    /// Which account should this principal get?
    Create,
    /// Which memberships should this account have? (The account the
    /// assignment provider was shown.)
    Assign(Account),
}

impl Asked {
    pub(crate) fn hook(&self) -> Hook {
        match self {
            Self::Create => Hook::Create,
            Self::Assign(_) => Hook::Assign,
        }
    }
}

/// One hook of a login to run again through its shadow version.
pub(crate) struct ShadowCall {
    pub(crate) asked: Asked,
    /// The shadow version.
    pub(crate) plugin: PluginHash,
    /// The version that decided the login (`None`: the built-in one).
    pub(crate) live_plugin: Option<PluginHash>,
    /// What the login's hook decided (after its failure policy).
    pub(crate) live: Decision,
    /// The binding's limits and configuration, as the live call had them.
    pub(crate) ctx: CallContext,
    /// The shadow version's circuit (its binding, hook and hash).
    pub(crate) circuit: CircuitKey,
}

/// A login's shadow calls, with what its audit event needs.
pub(crate) struct ShadowJob {
    pub(crate) org: OrgId,
    pub(crate) domain: Option<DomainId>,
    pub(crate) provider: Option<String>,
    pub(crate) account: Option<AccountId>,
    /// The login's audit event, when it has a row of its own.
    pub(crate) login_event: Option<i64>,
    pub(crate) principal: Principal,
    pub(crate) calls: Vec<ShadowCall>,
}

/// Each organization's lane, the runners they share, and the shadow
/// versions' circuits.
pub(crate) struct Shadows {
    policy: ShadowPolicy,
    runners: Arc<Semaphore>,
    lanes: Mutex<HashMap<OrgId, Arc<Lane>>>,
    /// Logins handed over and not yet compared, over all organizations.
    pending: AtomicUsize,
    /// A shadow version that keeps failing (a loop to its wall-time limit,
    /// a trap) is skipped for a cool-down, as a bound one would be: it
    /// cannot keep a core busy for nothing.
    breakers: Breakers,
}

/// One organization's shadow work: the logins waiting, how many are
/// waiting or being compared, and whether a worker is draining them (one at
/// a time per organization).
#[derive(Default)]
struct Lane {
    waiting: Mutex<VecDeque<ShadowJob>>,
    queued: AtomicUsize,
    draining: AtomicBool,
}

/// What a shadow event's `detail` keeps of one call.
#[derive(Serialize)]
struct Compared {
    hook: &'static str,
    live: Side,
    shadow: Side,
    agreed: bool,
    /// The changes from the live decision to the shadow's, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    changes: Vec<String>,
    /// The shadow call: outcome, failure, duration, fuel, log lines.
    call: HookRecord,
}

#[derive(Serialize)]
struct Side {
    plugin: Option<PluginHash>,
    decision: Decision,
}

impl Shadows {
    pub(crate) fn new(policy: ShadowPolicy, breaker: BreakerPolicy) -> Self {
        Self {
            runners: Arc::new(Semaphore::new(policy.runners.max(1))),
            policy,
            lanes: Mutex::new(HashMap::new()),
            pending: AtomicUsize::new(0),
            breakers: Breakers::new(breaker),
        }
    }

    fn lane(&self, org: &OrgId) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(lanes.entry(org.clone()).or_default())
    }
}

impl Lane {
    /// Up to [`BATCH`] waiting logins, oldest first.
    fn take(&self) -> Vec<ShadowJob> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let n = waiting.len().min(BATCH);
        waiting.drain(..n).collect()
    }

    /// Whether logins are waiting.
    fn is_empty(&self) -> bool {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

/// Most logins a lane compares before writing their audit events together,
/// in one transaction: on SQLite one write turn for many comparisons.
const BATCH: usize = 64;

impl Host {
    /// Hands a login's shadow calls over to its organization's lane and
    /// returns at once; sheds them when the lane is full.
    pub(crate) fn submit_shadow(&self, job: ShadowJob) {
        let shadows = &self.shadows;
        let lane = shadows.lane(&job.org);
        if lane.queued.fetch_add(1, Ordering::AcqRel) >= shadows.policy.queue_per_org {
            lane.queued.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(org = job.org.as_str(), "shadow calls shed: the organization's queue is full");
            for call in &job.calls {
                self.shadow_result(call.asked.hook(), ShadowResult::Shed);
            }
            return;
        }
        shadows.pending.fetch_add(1, Ordering::AcqRel);
        lane.waiting.lock().unwrap_or_else(|p| p.into_inner()).push_back(job);
        if !lane.draining.swap(true, Ordering::AcqRel) {
            let host = self.clone();
            tokio::spawn(async move { host.drain(&lane).await });
        }
    }

    /// Compares a lane's waiting logins, a batch at a time, until none is
    /// left; then lets the next login start a worker again.
    async fn drain(&self, lane: &Lane) {
        loop {
            let jobs = lane.take();
            if jobs.is_empty() {
                lane.draining.store(false, Ordering::Release);
                // A login handed over between the take and the store starts
                // no worker of its own: take it on, unless another did.
                if lane.is_empty() || lane.draining.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            let n = jobs.len();
            let mut events = Vec::with_capacity(n);
            for job in jobs {
                events.extend(self.compare_shadow(job).await);
            }
            if !events.is_empty()
                && let Err(e) = self.store.append_audits(&events).await
            {
                self.audit_write_failed(&e);
            }
            lane.queued.fetch_sub(n, Ordering::AcqRel);
            self.shadows.pending.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Waits until every login handed to the shadows so far is compared
    /// (its audit event written). For tests and orderly shutdowns.
    pub async fn shadows_settled(&self) {
        while self.shadows.pending.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Runs a login's shadow calls; the audit event saying how they
    /// compare, unless every call was skipped (its circuit open).
    async fn compare_shadow(&self, job: ShadowJob) -> Option<NewAuditEvent> {
        let mut compared = Vec::with_capacity(job.calls.len());
        for call in job.calls {
            let now = self.auth.clock().now();
            let admission = self.shadows.breakers.admit(&call.circuit, now);
            if admission == Admission::Open {
                self.shadow_result(call.asked.hook(), ShadowResult::CircuitOpen);
                continue;
            }
            let (decision, record) = {
                let _runner = self.shadows.runners.acquire().await;
                self.run_shadow(&job.org, &job.principal, &call).await
            };
            let failed = matches!(decision, Decision::Failed(_));
            if let Some(change) = self.shadows.breakers.record(&call.circuit, admission, failed, now) {
                tracing::info!(plugin = call.plugin.as_str(), change = change.outcome(), "shadow circuit");
            }
            let found = changes(&call.live, &decision);
            let result = if found.is_empty() { ShadowResult::Agreed } else { ShadowResult::Differed };
            self.shadow_result(call.asked.hook(), result);
            compared.push(Compared {
                hook: call.asked.hook().as_str(),
                live: Side { plugin: call.live_plugin, decision: call.live },
                shadow: Side { plugin: Some(call.plugin), decision },
                agreed: found.is_empty(),
                changes: found.iter().map(ToString::to_string).collect(),
                call: record,
            });
        }
        if compared.is_empty() {
            return None;
        }
        let agreed = compared.iter().all(|c| c.agreed);
        let detail = serde_json::json!({ "login_event": job.login_event, "calls": compared });
        Some(NewAuditEvent {
            at: now_ms(),
            org: Some(job.org),
            domain: job.domain,
            provider: job.provider,
            account: job.account,
            outcome: if agreed { SHADOW_AGREED } else { SHADOW_DIFFERED }.into(),
            rule: None,
            detail: detail.to_string(),
        })
    }

    /// One shadow call: its decision (or failure) and its record.
    async fn run_shadow(&self, org: &OrgId, principal: &Principal, call: &ShadowCall) -> (Decision, HookRecord) {
        let hook = call.asked.hook();
        let plugin = match super::decide::plugin(self, org, &call.plugin).await {
            Ok(plugin) => plugin,
            Err(error) => {
                let record = HookRecord::not_called(hook, Some(&call.plugin), &error);
                return (Decision::Failed(record.outcome.to_owned()), record);
            }
        };
        match &call.asked {
            Asked::Create => {
                let report = self.runtime.create(&plugin, principal, &call.ctx).await;
                let decision = report.outcome.as_ref().map_or_else(Decision::of_failure, Decision::of_creation);
                (decision, HookRecord::called(hook, &call.plugin, &report, false))
            }
            Asked::Assign(account) => {
                let report = self.runtime.assign(&plugin, account, principal, &call.ctx).await;
                let decision =
                    report.outcome.as_ref().map_or_else(Decision::of_failure, |l| Decision::of_assignments(l));
                (decision, HookRecord::called(hook, &call.plugin, &report, false))
            }
        }
    }

    fn shadow_result(&self, hook: Hook, result: ShadowResult) {
        for observer in self.observers.iter() {
            observer.shadow_compared(hook, result);
        }
    }
}
