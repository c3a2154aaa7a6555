//! Replay: what candidate plugin versions would have decided for a
//! provider's past logins. The principal each login's audit event kept is
//! run through the candidates (with the binding's configuration and
//! limits, in the organization's own plugin-call slots), and each decision
//! is compared with the one the login took: a creation that becomes a
//! denial (or the reverse, or another denial code), memberships added and
//! removed per team, role and organization. Nothing is written.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::Host;
use super::admin::AdminError;
use super::compare::{Change, Decision, changes, kind};
use crate::plugin::{Assignment, PluginHash, Principal};
use crate::runtime::{CallContext, Plugin, World};
use crate::store::{AuditFilter, DomainId, OrgId, ProviderId};

/// Most past logins one replay reads.
pub const MAX_REPLAY_LOGINS: usize = 5000;
/// Examples of changed decisions a report shows.
const EXAMPLES: usize = 10;

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The domain of the logins.
    pub domain: DomainId,
    /// Their provider.
    pub provider: ProviderId,
    /// The candidate identity creator; its hook is not replayed without one.
    pub creator: Option<PluginHash>,
    /// The candidate assignment provider; likewise.
    pub assigner: Option<PluginHash>,
    /// Only logins at or after this time (unix milliseconds).
    pub since: i64,
    /// At most this many logins, newest first (at most [`MAX_REPLAY_LOGINS`]).
    pub limit: usize,
}

/// What a replay found.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReplayReport {
    /// Past logins replayed (each with its recorded principal).
    pub logins: usize,
    /// Login events read that kept no principal (older than its retention,
    /// or failed before the principal was known), not replayed.
    pub without_principal: usize,
    /// Logins where a candidate decided otherwise.
    pub changed: usize,
    /// How the identity creator's decisions changed.
    pub creations: CreationChanges,
    /// Memberships added and removed, per kind and name.
    pub memberships: Vec<MembershipChange>,
    /// Some changed logins: the audit event, and each decision before and after.
    pub examples: Vec<ReplayExample>,
}

/// How creations changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CreationChanges {
    /// Created before, denied now.
    pub created_then_denied: usize,
    /// Denied before, created now.
    pub denied_then_created: usize,
    /// Denied before and now, with another code.
    pub denial_code_changed: usize,
    /// The candidate failed (a trap, a limit, an error) where a decision was taken.
    pub failed: usize,
}

/// A membership given or taken by the candidate more often than before.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MembershipChange {
    /// `organization`, `team` or `role`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Logins where the candidate gives it and the login did not.
    pub added: usize,
    /// Logins where the login gave it and the candidate does not.
    pub removed: usize,
}

/// One changed login.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReplayExample {
    /// The audit event's id.
    pub event: i64,
    /// The principal's email.
    pub email: String,
    /// The recorded decisions (as the audit event has them).
    pub before: Value,
    /// The candidates' decisions, in the same form.
    pub after: Value,
    /// What changed, in words: `created, then denied`, `team "x" removed`, …
    pub changes: Vec<String>,
}

impl Host {
    /// Replays `request` for `org`: the candidates must be versions the
    /// organization uploaded, each fit for its hook, and the domain its own.
    pub async fn replay(&self, org: &OrgId, request: &ReplayRequest) -> Result<ReplayReport, AdminError> {
        let domain = self.store.domain(&request.domain).await?.filter(|d| &d.org == org);
        let domain = domain.ok_or(AdminError::UnknownDomain)?;
        let provider = domain.providers.iter().find(|p| p.id == request.provider).ok_or(AdminError::UnknownBinding)?;
        let creator = self.candidate(org, request.creator.as_ref(), World::creates, "identity creator").await?;
        let assigner = self.candidate(org, request.assigner.as_ref(), World::assigns, "assignment provider").await?;
        let binding = self.store.binding(&domain.id, &provider.id).await?;
        let limits = binding
            .as_ref()
            .and_then(|b| b.limits)
            .unwrap_or_else(|| self.runtime.default_limits())
            .capped(&self.runtime.ceilings());
        let config = Arc::new(binding.map(|b| b.config).unwrap_or_default());
        let ctx = CallContext { limits, config, seed: None };

        let mut report = ReplayReport::default();
        let mut memberships: BTreeMap<(&'static str, String), (usize, usize)> = BTreeMap::new();
        let mut before_id = None;
        let limit = request.limit.min(MAX_REPLAY_LOGINS);
        'pages: while report.logins < limit {
            let filter = AuditFilter {
                org: Some(org.clone()),
                domain: Some(domain.id.clone()),
                since: Some(request.since),
                before_id,
                limit: 1000,
                ..AuditFilter::default()
            };
            let page = self.store.list_audit(&filter).await?;
            let Some(last) = page.last() else { break };
            before_id = Some(last.id);
            for event in page {
                let login = super::is_login_outcome(&event.event.outcome);
                if !login || event.event.provider.as_deref() != Some(provider.name.as_str()) {
                    continue;
                }
                let detail: Value = serde_json::from_str(&event.event.detail).unwrap_or_default();
                let Some(principal) =
                    detail.get("principal").and_then(|p| serde_json::from_value::<Principal>(p.clone()).ok())
                else {
                    report.without_principal += 1;
                    continue;
                };
                let decisions = &detail["decisions"];
                let mut after = serde_json::Map::new();
                let mut changed = false;
                let mut words = Vec::new();
                if let (Some(plugin), Some(recorded)) = (&creator, decisions.get("creation")) {
                    let _slot = self.slots.acquire(org).await.map_err(|_| AdminError::CallsSaturated)?;
                    let now = self.runtime.create(plugin, &principal, &ctx).await;
                    let now = now.outcome.map_or_else(|f| Decision::of_failure(&f), |c| Decision::of_creation(&c));
                    let recorded = serde_json::from_value(recorded.clone()).unwrap_or(Decision::Failed(String::new()));
                    for change in changes(&recorded, &now) {
                        changed = true;
                        words.push(change.to_string());
                        let counts = &mut report.creations;
                        match change {
                            Change::CreatedThenDenied => counts.created_then_denied += 1,
                            Change::DeniedThenCreated => counts.denied_then_created += 1,
                            Change::DenialCodeChanged => counts.denial_code_changed += 1,
                            _ => counts.failed += 1,
                        }
                    }
                    after.insert("creation".into(), serde_json::to_value(&now).unwrap_or_default());
                }
                if let (Some(plugin), Some(recorded)) = (&assigner, decisions.get("assignments")) {
                    let recorded: Vec<Assignment> = serde_json::from_value(recorded.clone()).unwrap_or_default();
                    let account = crate::runtime::account_for(&principal);
                    let _slot = self.slots.acquire(org).await.map_err(|_| AdminError::CallsSaturated)?;
                    let now = self.runtime.assign(plugin, &account, &principal, &ctx).await;
                    let list = now.outcome.as_ref().ok();
                    let now = now.outcome.as_ref().map_or_else(Decision::of_failure, |l| Decision::of_assignments(l));
                    for change in changes(&Decision::of_assignments(&recorded), &now) {
                        changed = true;
                        words.push(change.to_string());
                        let (a, added) = match change {
                            Change::Added(a) => (a, true),
                            Change::Removed(a) => (a, false),
                            _ => continue,
                        };
                        let entry = memberships.entry((kind(&a), a.name().to_owned())).or_default();
                        if added {
                            entry.0 += 1;
                        } else {
                            entry.1 += 1;
                        }
                    }
                    // The list as the audit event keeps it, or the failure.
                    let shown = match list {
                        Some(list) => serde_json::to_value(list).unwrap_or_default(),
                        None => serde_json::to_value(&now).unwrap_or_default(),
                    };
                    after.insert("assignments".into(), shown);
                }
                report.logins += 1;
                if changed {
                    report.changed += 1;
                    if report.examples.len() < EXAMPLES {
                        report.examples.push(ReplayExample {
                            event: event.id,
                            email: principal.email.clone(),
                            before: decisions.clone(),
                            after: Value::Object(after),
                            changes: words,
                        });
                    }
                }
                if report.logins >= limit {
                    break 'pages;
                }
            }
        }
        report.memberships = memberships
            .into_iter()
            .map(|((kind, name), (added, removed))| MembershipChange { kind, name, added, removed })
            .collect();
        Ok(report)
    }

    /// A candidate version: one of `org`'s, fit for its hook, loaded.
    async fn candidate(
        &self,
        org: &OrgId,
        hash: Option<&PluginHash>,
        fits: fn(World) -> bool,
        slot: &'static str,
    ) -> Result<Option<Plugin>, AdminError> {
        let Some(hash) = hash else { return Ok(None) };
        let plugin = self.stored_plugin(org, hash).await?;
        let world = plugin.info().world;
        if !fits(world) {
            return Err(AdminError::WrongSlot { hash: hash.clone(), world: world.to_string(), slot });
        }
        Ok(Some(plugin))
    }
}
