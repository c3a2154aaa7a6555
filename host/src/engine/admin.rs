//! Admin operations that need more than the store: a plugin upload is
//! checked against the contract and precompiled before it is stored, and a
//! binding is checked against the plugins it names.

use serde::Deserialize as _;

use super::Host;
use crate::plugin::{AboveCeiling, BindingConfig, Limits, PluginHash};
use crate::runtime::{LoadError, PluginInfo};
use crate::store::{Binding, DomainId, NewPlugin, OrgId, PluginRecord, ProviderId, StoreError};

/// Why an admin operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The component does not meet the plugin contract.
    #[error(transparent)]
    Plugin(#[from] LoadError),
    /// A binding names a plugin that was never uploaded.
    #[error("no plugin with hash {0} has been uploaded")]
    UnknownPlugin(PluginHash),
    /// A binding puts a plugin in a slot its world does not export.
    #[error("plugin {hash} implements {world}, which cannot serve as the {slot}")]
    WrongSlot {
        /// The plugin's hash.
        hash: PluginHash,
        /// Its world.
        world: String,
        /// `identity creator` or `assignment provider`.
        slot: &'static str,
    },
    /// The binding's configuration is not a JSON object of acceptable size.
    #[error("invalid binding configuration: {0}")]
    Config(String),
    /// The binding's limits do not parse.
    #[error("invalid binding limits: {0}")]
    Limits(String),
    /// A limit of the binding is above the operator's ceiling.
    #[error("the binding's `{limit}` is {asked}, above the operator's ceiling of {ceiling}")]
    AboveCeiling {
        /// The limit's name, as the binding writes it.
        limit: &'static str,
        /// What the binding asked for.
        asked: u64,
        /// The ceiling.
        ceiling: u64,
    },
    /// The organization's compile slot stayed busy (its other uploads or
    /// cold logins were compiling); retrying later may succeed.
    #[error("another plugin of this organization is being compiled; try again later")]
    CompilesSaturated,
    /// The binding names a domain that does not exist.
    #[error("no such domain")]
    UnknownDomain,
    /// A canary that cannot be: a share out of range, or none to promote
    /// or abort.
    #[error("{0}")]
    Canary(String),
    /// A playground run names a provider with no binding.
    #[error("nothing is bound to this provider")]
    UnknownBinding,
    /// The organization's plugin calls stayed busy (its logins, or other
    /// playground runs); retrying later may succeed.
    #[error("this organization's plugin calls are all busy; try again later")]
    CallsSaturated,
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A binding's configuration and limits from the JSON objects an admin
/// wrote: the configuration validated ([`BindingConfig::from_json`]), the
/// limits over the documented defaults (`{}`, or no limits at all, for the
/// runtime's defaults). The ceilings are [`Host::bind`]'s to check.
pub fn binding_settings(
    config: &serde_json::Value,
    limits: &serde_json::Value,
) -> Result<(BindingConfig, Option<Limits>), AdminError> {
    let config = BindingConfig::from_json(config).map_err(|e| AdminError::Config(e.to_string()))?;
    let limits = match limits {
        serde_json::Value::Object(map) if map.is_empty() => None,
        serde_json::Value::Null => None,
        other => Some(Limits::deserialize(other).map_err(|e| AdminError::Limits(e.to_string()))?),
    };
    Ok((config, limits))
}

/// Why a compile for an organization did not happen.
#[derive(Debug)]
pub(crate) enum CompileError {
    /// The organization's compile slot stayed busy.
    Saturated,
    /// The runtime refused the component.
    Refused(LoadError),
}

impl From<CompileError> for AdminError {
    fn from(error: CompileError) -> Self {
        match error {
            CompileError::Saturated => Self::CompilesSaturated,
            CompileError::Refused(e) => Self::Plugin(e),
        }
    }
}

/// Why a stored version could not be loaded.
#[derive(Debug)]
pub(crate) enum StoredError {
    /// Its bytes are not in the store.
    Missing,
    /// The store failed.
    Store(StoreError),
    /// It could not be compiled.
    Compile(CompileError),
}

/// A stored plugin version and what checking it found.
#[derive(Debug, Clone)]
pub struct UploadedPlugin {
    /// The stored record.
    pub record: PluginRecord,
    /// The `plugin check` report.
    pub info: PluginInfo,
}

/// The audit outcome of a binding change.
pub const BINDING_CHANGED: &str = "binding-changed";

/// Whether an audit event's outcome is a login's, rather than an
/// administrator's change (a binding, a refused upload), a plugin
/// circuit's, or a shadow version's comparison.
pub fn is_login_outcome(outcome: &str) -> bool {
    ![
        BINDING_CHANGED,
        "upload-refused",
        "plugin-circuit-opened",
        "plugin-circuit-closed",
        "plugin-circuit-reopened",
        super::shadow::SHADOW_AGREED,
        super::shadow::SHADOW_DIFFERED,
    ]
    .contains(&outcome)
}

impl Host {
    /// Checks `bytes` against the plugin contract (world, imports, `name()`),
    /// precompiles it, and stores it under its content hash, owned by
    /// `owner`. Uploading the same bytes again is harmless.
    pub async fn upload_plugin(&self, bytes: Vec<u8>, owner: &OrgId) -> Result<UploadedPlugin, AdminError> {
        let plugin = match self.compile(owner, &bytes).await {
            Ok(plugin) => plugin,
            Err(CompileError::Saturated) => return Err(AdminError::CompilesSaturated),
            Err(CompileError::Refused(e)) => {
                self.audit_refused_upload(owner, &bytes, &e).await;
                return Err(e.into());
            }
        };
        let info = plugin.info().clone();
        let new = NewPlugin { bytes, world: info.world.to_string(), name: info.name.clone(), owner: owner.clone() };
        let record = self.store.put_plugin(new).await?;
        Ok(UploadedPlugin { record, info })
    }

    /// A stored version, loaded: from the runtime's memory, else from its
    /// artifact on disk, else compiled from its bytes in the store (in
    /// `org`'s one compile slot). Logins, the playground and replays load
    /// bound and candidate versions this one way.
    pub(crate) async fn load_stored(
        &self,
        org: &OrgId,
        hash: &PluginHash,
    ) -> Result<crate::runtime::Plugin, StoredError> {
        if let Some(plugin) = self.runtime.loaded(hash) {
            return Ok(plugin);
        }
        if let Some(plugin) = self.runtime.reload(hash).await {
            return Ok(plugin);
        }
        let bytes = self.store.plugin_bytes(hash).await.map_err(StoredError::Store)?.ok_or(StoredError::Missing)?;
        self.compile(org, &bytes).await.map_err(StoredError::Compile)
    }

    /// Loads (and, when new, compiles) a component in `org`'s one compile
    /// slot, so that an organization's uploads and cold logins compile one at
    /// a time and never take another organization's turn.
    pub(crate) async fn compile(&self, org: &OrgId, bytes: &[u8]) -> Result<crate::runtime::Plugin, CompileError> {
        let _slot = self.compiles.acquire(org).await.map_err(|_| CompileError::Saturated)?;
        self.runtime.load(bytes).await.map_err(CompileError::Refused)
    }

    /// Records a refused upload in the organization's audit log: which
    /// component (hash and size), and why.
    async fn audit_refused_upload(&self, org: &OrgId, bytes: &[u8], error: &LoadError) {
        let rule = match error {
            LoadError::TooComplex { bound, .. } => format!("too-complex:{bound}"),
            LoadError::CompileBudget { budget, .. } => format!("compile-budget:{budget}"),
            _ => "plugin-refused".to_owned(),
        };
        let detail = serde_json::json!({
            "plugin": PluginHash::of(bytes),
            "size": bytes.len(),
            "reason": error.to_string(),
        });
        let event = crate::store::NewAuditEvent {
            at: crate::store::now_ms(),
            org: Some(org.clone()),
            domain: None,
            provider: None,
            account: None,
            outcome: "upload-refused".into(),
            rule: Some(rule),
            detail: detail.to_string(),
        };
        // The refusal stands even when it cannot be recorded.
        if let Err(e) = self.store.append_audit(&event).await {
            self.audit_write_failed(&e);
        }
    }

    /// Checks a provider configuration as completely as can be done without
    /// a login: its shape, its bounds, its keys or key URL (the real
    /// provider is built), so that a provider that could never work is
    /// refused when it is added or changed.
    pub fn check_provider(
        &self,
        kind: crate::store::ProviderKind,
        config: &serde_json::Value,
    ) -> Result<(), crate::auth::ConfigError> {
        crate::auth::check_provider(kind.as_str(), config, &self.auth).map(|_| ())
    }

    /// Checks a provider's new configuration as [`Host::check_provider`]
    /// does, keeping the stored secrets the update leaves out (they are
    /// write-only); the configuration to store.
    pub fn check_provider_update(
        &self,
        kind: crate::store::ProviderKind,
        update: &serde_json::Value,
        stored: &str,
    ) -> Result<serde_json::Value, crate::auth::ConfigError> {
        crate::auth::check_provider_update(kind, update, stored, &self.auth)
    }

    /// Binds plugins to a domain's provider, replacing any earlier binding:
    /// re-binding an older hash is the rollback, effective at the next login.
    /// Each plugin must be one the domain's organization uploaded (any other
    /// hash is refused exactly like one never uploaded), and each limit at
    /// most the operator's ceiling.
    pub async fn bind(&self, binding: &Binding) -> Result<(), AdminError> {
        let domain = self.store.domain(&binding.domain).await?.ok_or(AdminError::UnknownDomain)?;
        let (canary, shadow) = (binding.canary.as_ref(), binding.shadow.as_ref());
        if let Some(canary) = canary
            && !(1..=100).contains(&canary.percent)
        {
            return Err(AdminError::Canary("a canary's `percent` is 1 to 100".into()));
        }
        for (hash, slot, fits) in [
            (&binding.creator, "identity creator", crate::runtime::World::creates as fn(_) -> bool),
            (&binding.assigner, "assignment provider", crate::runtime::World::assigns),
            (&canary.and_then(|c| c.creator.clone()), "identity creator", crate::runtime::World::creates),
            (&canary.and_then(|c| c.assigner.clone()), "assignment provider", crate::runtime::World::assigns),
            (&shadow.and_then(|s| s.creator.clone()), "identity creator", crate::runtime::World::creates),
            (&shadow.and_then(|s| s.assigner.clone()), "assignment provider", crate::runtime::World::assigns),
        ] {
            let Some(hash) = hash else { continue };
            let owned = self.store.owned_plugin(&domain.org, hash).await?;
            let record = owned.ok_or_else(|| AdminError::UnknownPlugin(hash.clone()))?;
            let world = crate::runtime::World::parse(&record.world);
            if !world.is_some_and(fits) {
                return Err(AdminError::WrongSlot { hash: hash.clone(), world: record.world, slot });
            }
        }
        if let Some(limits) = &binding.limits
            && let Some(AboveCeiling { limit, asked, ceiling }) = limits.above(&self.runtime.ceilings())
        {
            return Err(AdminError::AboveCeiling { limit, asked, ceiling });
        }
        self.store.put_binding(binding).await?;
        self.audit_binding(&domain, binding).await;
        Ok(())
    }

    /// Makes the binding's canary versions the live ones (its candidate
    /// creator and assignment provider replace the bound ones they stand
    /// in for), effective at the next login; audited as a binding change.
    pub async fn promote_canary(&self, domain: &DomainId, provider: &ProviderId) -> Result<Binding, AdminError> {
        let mut binding = self.store.binding(domain, provider).await?.ok_or(AdminError::UnknownBinding)?;
        let canary = binding.canary.take().ok_or_else(|| AdminError::Canary("the binding has no canary".into()))?;
        binding.creator = canary.creator.or(binding.creator);
        binding.assigner = canary.assigner.or(binding.assigner);
        self.bind(&binding).await?;
        Ok(binding)
    }

    /// Drops the binding's canary: every login runs the live versions
    /// again, from the next one; audited as a binding change.
    pub async fn abort_canary(&self, domain: &DomainId, provider: &ProviderId) -> Result<Binding, AdminError> {
        let mut binding = self.store.binding(domain, provider).await?.ok_or(AdminError::UnknownBinding)?;
        binding.canary.take().ok_or_else(|| AdminError::Canary("the binding has no canary".into()))?;
        self.bind(&binding).await?;
        Ok(binding)
    }

    /// Records a binding change in the organization's audit log (outcome
    /// `binding-changed`), with the whole binding in its detail: the
    /// binding's history, from which an earlier version is bound again.
    async fn audit_binding(&self, domain: &crate::store::Domain, binding: &Binding) {
        let provider = domain.providers.iter().find(|p| p.id == binding.provider).map(|p| p.name.clone());
        let detail = serde_json::json!({
            "provider_id": binding.provider,
            "creator": binding.creator,
            "assigner": binding.assigner,
            "config": binding.config.to_json(),
            "limits": binding.limits,
            "failure_policy": binding.failure_policy,
            "sync_mode": binding.sync_mode,
            "canary": binding.canary,
            "shadow": binding.shadow,
        });
        let event = crate::store::NewAuditEvent {
            at: crate::store::now_ms(),
            org: Some(domain.org.clone()),
            domain: Some(domain.id.clone()),
            provider,
            account: None,
            outcome: BINDING_CHANGED.into(),
            rule: None,
            detail: detail.to_string(),
        };
        // The binding stands even when its record cannot be written.
        if let Err(e) = self.store.append_audit(&event).await {
            self.audit_write_failed(&e);
        }
    }
}
