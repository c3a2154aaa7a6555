//! The playground: a plugin version (stored, or a component that is not)
//! run on a principal with a binding's or the caller's own configuration and
//! limits, judged against the organization's real name, teams and roles, in
//! the organization's own compile and plugin-call slots, so that trying
//! plugins takes nothing from another organization. Writes nothing to the
//! store and nothing to the audit log.

use std::sync::Arc;

use super::Host;
use super::admin::{AdminError, StoredError};
use crate::plugin::{AboveCeiling, BindingConfig, Limits, PluginHash, Principal, judge};
use crate::runtime::{CallContext, Hooks, Plugin, Trial, TrialReport};
use crate::store::{DomainId, OrgId, ProviderId};

/// The plugin a playground run tries.
#[derive(Debug, Clone)]
pub enum TrialPlugin {
    /// A version the organization uploaded.
    Stored(PluginHash),
    /// A component's bytes, checked and compiled as an upload would be, but
    /// not stored.
    Component(Vec<u8>),
}

/// What a playground run tries, and on what.
#[derive(Debug, Clone)]
pub struct PlaygroundRun {
    /// The plugin.
    pub plugin: TrialPlugin,
    /// The principal its hooks are called on.
    pub principal: Principal,
    /// A binding of the organization's whose configuration and limits the
    /// run uses where it gives none of its own.
    pub binding: Option<(DomainId, ProviderId)>,
    /// The configuration; else the binding's, else none.
    pub config: Option<BindingConfig>,
    /// The limits; else the binding's, else the runtime's defaults. Never
    /// above the operator's ceilings.
    pub limits: Option<Limits>,
    /// Which hooks to run.
    pub hooks: Hooks,
    /// Makes random numbers and clocks deterministic.
    pub seed: Option<u64>,
}

/// A playground run's report, with the limits the calls ran under.
#[derive(Debug, serde::Serialize)]
pub struct PlaygroundReport {
    /// The limits each call ran under.
    pub limits: Limits,
    /// What the plugin decided, how a login would judge it, and what each
    /// call cost.
    #[serde(flatten)]
    pub report: TrialReport,
}

impl Host {
    /// Runs `run` for `org`: every plugin and binding it names must be the
    /// organization's own, and its limits at most the operator's ceilings.
    pub async fn try_plugin(&self, org: &OrgId, run: PlaygroundRun) -> Result<PlaygroundReport, AdminError> {
        if let Some(limits) = &run.limits
            && let Some(AboveCeiling { limit, asked, ceiling }) = limits.above(&self.runtime.ceilings())
        {
            return Err(AdminError::AboveCeiling { limit, asked, ceiling });
        }
        let binding = match &run.binding {
            None => None,
            Some((domain, provider)) => {
                let found = self.store.domain(domain).await?.filter(|d| &d.org == org);
                let domain = found.ok_or(AdminError::UnknownDomain)?;
                Some(self.store.binding(&domain.id, provider).await?.ok_or(AdminError::UnknownBinding)?)
            }
        };
        let plugin = match &run.plugin {
            TrialPlugin::Stored(hash) => self.stored_plugin(org, hash).await?,
            TrialPlugin::Component(bytes) => self.compile(org, bytes).await.map_err(AdminError::from)?,
        };
        let limits = run
            .limits
            .or(binding.as_ref().and_then(|b| b.limits))
            .unwrap_or_else(|| self.runtime.default_limits())
            .capped(&self.runtime.ceilings());
        let config = run.config.or_else(|| binding.map(|b| b.config)).unwrap_or_default();
        let organization = self.judged_organization(org).await?;
        let ctx = CallContext { limits, config: Arc::new(config), seed: run.seed };
        let trial = Trial { principal: &run.principal, ctx, hooks: run.hooks, org: organization };
        let _slot = self.slots.acquire(org).await.map_err(|_| AdminError::CallsSaturated)?;
        let report = self.runtime.trial(&plugin, &trial).await;
        Ok(PlaygroundReport { limits, report })
    }

    /// A version `org` uploaded, loaded ([`Host::load_stored`]); any other
    /// hash is refused exactly like one never uploaded.
    pub(super) async fn stored_plugin(&self, org: &OrgId, hash: &PluginHash) -> Result<Plugin, AdminError> {
        let unknown = || AdminError::UnknownPlugin(hash.clone());
        self.store.owned_plugin(org, hash).await?.ok_or_else(unknown)?;
        self.load_stored(org, hash).await.map_err(|e| match e {
            StoredError::Missing => unknown(),
            StoredError::Store(e) => e.into(),
            StoredError::Compile(e) => e.into(),
        })
    }

    /// The organization as a login judges assignments against it.
    async fn judged_organization(&self, org: &OrgId) -> Result<judge::Organization, AdminError> {
        let name = self.store.organization(org).await?.map(|o| o.name);
        let teams = self.store.list_teams(org).await?.into_iter().map(|t| t.name).collect();
        let roles = self.store.list_roles(org).await?.into_iter().map(|r| r.name).collect();
        Ok(judge::Organization { name, teams: Some(teams), roles: Some(roles) })
    }
}
