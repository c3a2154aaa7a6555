//! Uploaded plugin versions (named by the SHA-256 of their bytes) and the
//! bindings that pin them to a domain's provider.

use crate::plugin::{Limits, PluginHash};

use super::db::{Row, query};
use super::{
    Binding, Canary, DomainId, FailurePolicy, NewPlugin, OrgId, PluginRecord, ProviderId, Shadow, Store, StoreError,
    SyncMode, now_ms, parse_stored,
};

fn plugin(row: &Row) -> Result<PluginRecord, StoreError> {
    Ok(PluginRecord {
        hash: PluginHash::new(row.get::<String>(0)?),
        size: row.get(1)?,
        world: row.get(2)?,
        name: row.get(3)?,
        uploaded_at: row.get(4)?,
        uploaded_by: row.get(5)?,
    })
}

fn binding(row: &Row) -> Result<Binding, StoreError> {
    let (domain, provider) = (DomainId::new(row.get::<String>(0)?), ProviderId::new(row.get::<String>(1)?));
    let of = || format!("the binding of domain {domain} and provider {provider}");
    Ok(Binding {
        creator: row.get::<Option<String>>(2)?.map(PluginHash::new),
        assigner: row.get::<Option<String>>(3)?.map(PluginHash::new),
        config: parse_json("configuration", &row.get::<String>(4)?)
            .map_err(|what| StoreError::Corrupt { what, of: of() })?,
        limits: parse_limits(&row.get::<String>(5)?).map_err(|what| StoreError::Corrupt { what, of: of() })?,
        failure_policy: parse_stored(FailurePolicy::parse, "failure policy", row.get(6)?)?,
        sync_mode: parse_stored(SyncMode::parse, "sync mode", row.get(7)?)?,
        canary: canary(row)?,
        shadow: shadow(row)?,
        domain,
        provider,
    })
}

/// The binding's canary: none unless a share of logins is given to one.
fn canary(row: &Row) -> Result<Option<Canary>, StoreError> {
    let percent: i64 = row.get(10)?;
    let Ok(percent @ 1..=100) = u8::try_from(percent) else { return Ok(None) };
    Ok(Some(Canary {
        creator: row.get::<Option<String>>(8)?.map(PluginHash::new),
        assigner: row.get::<Option<String>>(9)?.map(PluginHash::new),
        percent,
    }))
}

/// The binding's shadow versions: none unless one is named.
fn shadow(row: &Row) -> Result<Option<Shadow>, StoreError> {
    let creator = row.get::<Option<String>>(11)?.map(PluginHash::new);
    let assigner = row.get::<Option<String>>(12)?.map(PluginHash::new);
    Ok((creator.is_some() || assigner.is_some()).then_some(Shadow { creator, assigner }))
}

/// A JSON column the store wrote itself; one that no longer reads is an
/// error (naming the column), never a default.
fn parse_json<T: serde::de::DeserializeOwned>(column: &'static str, text: &str) -> Result<T, &'static str> {
    serde_json::from_str(text).map_err(|_| column)
}

/// The stored limits: `{}` for the runtime's defaults.
fn parse_limits(text: &str) -> Result<Option<Limits>, &'static str> {
    if text.trim() == "{}" { Ok(None) } else { parse_json("limits", text).map(Some) }
}

/// Plugins.
impl Store {
    /// Stores a plugin version and makes `new.owner` one of its owners.
    /// Idempotent: the same bytes uploaded again keep their first record;
    /// the answer is the version as its owner sees it (with the time this
    /// owner first uploaded it).
    pub async fn put_plugin(&self, new: NewPlugin) -> Result<PluginRecord, StoreError> {
        let hash = PluginHash::of(&new.bytes);
        let size = i64::try_from(new.bytes.len())
            .map_err(|_| StoreError::Invalid { what: "plugin", reason: "too large".into() })?;
        let now = now_ms();
        let q = query(
            "INSERT INTO plugins (hash, bytes, size, world, name, uploaded_at, uploaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hash) DO NOTHING",
        )
        .text(hash.as_str())
        .bytes(new.bytes)
        .int(size)
        .text(&new.world)
        .text(&new.name)
        .int(now)
        .text(&format!("org:{}", new.owner));
        let owner =
            query("INSERT INTO plugin_owners (org_id, hash, uploaded_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .text(new.owner.as_str())
                .text(hash.as_str())
                .int(now)
                .refers_to("organization");
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        c.execute(q).await?;
        c.execute(owner).await?;
        let record = c.fetch_optional(owned(&new.owner, &hash)).await?.as_ref().map(plugin).transpose()?;
        tx.commit().await?;
        record.ok_or(StoreError::NotFound { what: "plugin" })
    }

    /// The record of a plugin version, whoever owns it (for the runtime and
    /// the operator; an organization asks [`Store::owned_plugin`]).
    pub async fn plugin(&self, hash: &PluginHash) -> Result<Option<PluginRecord>, StoreError> {
        self.conn()
            .await?
            .conn()
            .fetch_optional(query(PLUGIN_BY_HASH).text(hash.as_str()))
            .await?
            .as_ref()
            .map(plugin)
            .transpose()
    }

    /// The record of a plugin version `org` uploaded; `None` for any other
    /// hash, known or not.
    pub async fn owned_plugin(&self, org: &OrgId, hash: &PluginHash) -> Result<Option<PluginRecord>, StoreError> {
        self.conn().await?.conn().fetch_optional(owned(org, hash)).await?.as_ref().map(plugin).transpose()
    }

    /// The bytes of a plugin version, for the runtime to load.
    pub async fn plugin_bytes(&self, hash: &PluginHash) -> Result<Option<Vec<u8>>, StoreError> {
        let q = query("SELECT bytes FROM plugins WHERE hash = $1").text(hash.as_str());
        self.conn().await?.conn().fetch_optional(q).await?.map(|r| r.get(0)).transpose()
    }

    /// Every plugin version, newest first.
    pub async fn list_plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        let q = query(
            "SELECT hash, size, world, name, uploaded_at, uploaded_by FROM plugins ORDER BY uploaded_at DESC, hash",
        );
        self.conn().await?.conn().fetch_all(q).await?.iter().map(plugin).collect()
    }

    /// The plugin versions `org` uploaded, newest first.
    pub async fn list_owned_plugins(&self, org: &OrgId) -> Result<Vec<PluginRecord>, StoreError> {
        let q = query(
            "SELECT p.hash, p.size, p.world, p.name, o.uploaded_at, p.uploaded_by
             FROM plugin_owners o JOIN plugins p ON p.hash = o.hash
             WHERE o.org_id = $1 ORDER BY o.uploaded_at DESC, p.hash",
        )
        .text(org.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(plugin).collect()
    }
}

/// The version `hash` as its owner `org` sees it.
fn owned(org: &OrgId, hash: &PluginHash) -> super::db::Query {
    query(
        "SELECT p.hash, p.size, p.world, p.name, o.uploaded_at, p.uploaded_by
         FROM plugin_owners o JOIN plugins p ON p.hash = o.hash WHERE o.org_id = $1 AND o.hash = $2",
    )
    .text(org.as_str())
    .text(hash.as_str())
}

const PLUGIN_BY_HASH: &str = "SELECT hash, size, world, name, uploaded_at, uploaded_by FROM plugins WHERE hash = $1";

/// Bindings.
impl Store {
    /// Creates or replaces the binding of a domain's provider. `NotFound`
    /// when the provider is not the domain's or a plugin hash is unknown.
    pub async fn put_binding(&self, b: &Binding) -> Result<(), StoreError> {
        let limits = match &b.limits {
            None => "{}".to_owned(),
            Some(limits) => serde_json::to_string(limits).map_err(|e| StoreError::Database(e.to_string()))?,
        };
        let (canary, shadow) = (b.canary.as_ref(), b.shadow.as_ref());
        let q = query(
            "INSERT INTO bindings (domain_id, provider_id, creator_hash, assigner_hash, config, limits,
                                   failure_policy, sync_mode, updated_at,
                                   canary_creator_hash, canary_assigner_hash, canary_percent,
                                   shadow_creator_hash, shadow_assigner_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (domain_id, provider_id) DO UPDATE SET
                 creator_hash = excluded.creator_hash, assigner_hash = excluded.assigner_hash,
                 config = excluded.config, limits = excluded.limits,
                 failure_policy = excluded.failure_policy, sync_mode = excluded.sync_mode,
                 updated_at = excluded.updated_at, canary_creator_hash = excluded.canary_creator_hash,
                 canary_assigner_hash = excluded.canary_assigner_hash, canary_percent = excluded.canary_percent,
                 shadow_creator_hash = excluded.shadow_creator_hash,
                 shadow_assigner_hash = excluded.shadow_assigner_hash",
        )
        .text(b.domain.as_str())
        .text(b.provider.as_str())
        .opt_text(b.creator.as_ref().map(PluginHash::as_str))
        .opt_text(b.assigner.as_ref().map(PluginHash::as_str))
        .text(&b.config.to_json().to_string())
        .text(&limits)
        .text(b.failure_policy.as_str())
        .text(b.sync_mode.as_str())
        .int(now_ms())
        .opt_text(canary.and_then(|c| c.creator.as_ref()).map(PluginHash::as_str))
        .opt_text(canary.and_then(|c| c.assigner.as_ref()).map(PluginHash::as_str))
        .int(canary.map_or(0, |c| i64::from(c.percent)))
        .opt_text(shadow.and_then(|s| s.creator.as_ref()).map(PluginHash::as_str))
        .opt_text(shadow.and_then(|s| s.assigner.as_ref()).map(PluginHash::as_str))
        .refers_to("provider of the domain or plugin");
        let mut tx = self.db.begin().await?;
        tx.conn().execute(q).await?;
        tx.commit().await
    }

    /// The binding of a domain's provider: what a login runs.
    pub async fn binding(&self, domain: &DomainId, provider: &ProviderId) -> Result<Option<Binding>, StoreError> {
        let q = query(
            "SELECT domain_id, provider_id, creator_hash, assigner_hash, config, limits, failure_policy, sync_mode,
                    canary_creator_hash, canary_assigner_hash, canary_percent, shadow_creator_hash, shadow_assigner_hash
             FROM bindings WHERE domain_id = $1 AND provider_id = $2",
        )
        .text(domain.as_str())
        .text(provider.as_str());
        self.conn().await?.conn().fetch_optional(q).await?.as_ref().map(binding).transpose()
    }

    /// The domain's bindings.
    pub async fn list_bindings(&self, domain: &DomainId) -> Result<Vec<Binding>, StoreError> {
        let q = query(
            "SELECT domain_id, provider_id, creator_hash, assigner_hash, config, limits, failure_policy, sync_mode,
                    canary_creator_hash, canary_assigner_hash, canary_percent, shadow_creator_hash, shadow_assigner_hash
             FROM bindings WHERE domain_id = $1 ORDER BY provider_id",
        )
        .text(domain.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(binding).collect()
    }

    /// Removes the binding of a domain's provider (the provider then uses
    /// the built-in providers); whether there was one.
    pub async fn remove_binding(&self, domain: &DomainId, provider: &ProviderId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM bindings WHERE domain_id = $1 AND provider_id = $2")
            .text(domain.as_str())
            .text(provider.as_str());
        let mut tx = self.db.begin().await?;
        let removed = tx.conn().execute(q).await? > 0;
        tx.commit().await?;
        Ok(removed)
    }
}
