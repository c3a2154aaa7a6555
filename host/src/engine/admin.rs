//! Admin operations that need more than the store: a plugin upload is
//! checked against the contract and precompiled before it is stored, and a
//! binding is checked against the plugins it names.

use super::Host;
use crate::plugin::{BindingConfig, Limits};
use crate::runtime::{LoadError, PluginInfo};
use crate::store::{Binding, NewPlugin, PluginRecord, StoreError};

/// Why an admin operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The component does not meet the plugin contract.
    #[error(transparent)]
    Plugin(#[from] LoadError),
    /// A binding names a plugin that was never uploaded.
    #[error("no plugin with hash {0} has been uploaded")]
    UnknownPlugin(String),
    /// A binding puts a plugin in a slot its world does not export.
    #[error("plugin {hash} implements {world}, which cannot serve as the {slot}")]
    WrongSlot {
        /// The plugin's hash.
        hash: String,
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
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored plugin version and what checking it found.
#[derive(Debug, Clone)]
pub struct UploadedPlugin {
    /// The stored record.
    pub record: PluginRecord,
    /// The `plugin check` report.
    pub info: PluginInfo,
}

impl Host {
    /// Checks `bytes` against the plugin contract (world, imports, `name()`),
    /// precompiles it, and stores it under its content hash. Uploading the
    /// same bytes again is harmless.
    pub async fn upload_plugin(&self, bytes: Vec<u8>, uploaded_by: &str) -> Result<UploadedPlugin, AdminError> {
        let plugin = self.runtime.load(&bytes).await?;
        let info = plugin.info().clone();
        let new = NewPlugin {
            bytes,
            world: info.world.to_string(),
            name: info.name.clone(),
            uploaded_by: uploaded_by.into(),
        };
        let record = self.store.put_plugin(new).await?;
        Ok(UploadedPlugin { record, info })
    }

    /// Binds plugins to a domain's provider, replacing any earlier binding:
    /// re-binding an older hash is the rollback, effective at the next login.
    pub async fn bind(&self, binding: &Binding) -> Result<(), AdminError> {
        for (hash, slot, fits) in [
            (&binding.creator, "identity creator", crate::runtime::World::creates as fn(_) -> bool),
            (&binding.assigner, "assignment provider", crate::runtime::World::assigns),
        ] {
            let Some(hash) = hash else { continue };
            let record = self.store.plugin(hash).await?.ok_or_else(|| AdminError::UnknownPlugin(hash.clone()))?;
            let world = crate::runtime::World::parse(&record.world);
            if !world.is_some_and(fits) {
                return Err(AdminError::WrongSlot { hash: hash.clone(), world: record.world, slot });
            }
        }
        if !binding.config.trim().is_empty() {
            let value: serde_json::Value =
                serde_json::from_str(&binding.config).map_err(|e| AdminError::Config(e.to_string()))?;
            BindingConfig::from_json(&value).map_err(|e| AdminError::Config(e.to_string()))?;
        }
        if !binding.limits.trim().is_empty() {
            serde_json::from_str::<Limits>(&binding.limits).map_err(|e| AdminError::Limits(e.to_string()))?;
        }
        self.store.put_binding(binding).await?;
        Ok(())
    }
}
