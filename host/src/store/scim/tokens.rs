//! A domain's SCIM tokens, kept by SHA-256 as organization API tokens are:
//! nothing the store holds or reports can be used to authenticate.

use super::super::db::{Row, query};
use super::super::tokens::{is_public_id, public_id};
use super::super::{DomainId, Store, StoreError, check_name, now_ms};
use super::{ScimClient, ScimTokenRecord};

fn record(row: &Row) -> Result<ScimTokenRecord, StoreError> {
    let hash: String = row.get(0)?;
    Ok(ScimTokenRecord {
        id: public_id(&hash),
        domain: DomainId::new(row.get::<String>(1)?),
        name: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

/// SCIM tokens.
impl Store {
    /// Records a new SCIM token of the domain by `hash`, the SHA-256 of the
    /// token. `NotFound` without the domain.
    pub(crate) async fn create_scim_token(
        &self,
        domain: &DomainId,
        name: &str,
        hash: &[u8; 32],
    ) -> Result<ScimTokenRecord, StoreError> {
        check_name("scim token name", name)?;
        let hash = hex::encode(hash);
        let record = ScimTokenRecord {
            id: public_id(&hash),
            domain: domain.clone(),
            name: name.to_owned(),
            created_at: now_ms(),
            revoked_at: None,
        };
        let q = query("INSERT INTO scim_tokens (hash, domain_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .text(&hash)
            .text(domain.as_str())
            .text(name)
            .int(record.created_at)
            .refers_to("domain");
        let mut tx = self.db.begin().await?;
        tx.conn().execute(q).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The client the token with this SHA-256 authenticates, unless revoked.
    pub(crate) async fn scim_client(&self, hash: &[u8; 32]) -> Result<Option<ScimClient>, StoreError> {
        let hash = hex::encode(hash);
        let q = query("SELECT domain_id FROM scim_tokens WHERE hash = $1 AND revoked_at IS NULL").text(&hash);
        let row = self.conn().await?.conn().fetch_optional(q).await?;
        let domain = row.map(|r| r.get::<String>(0).map(DomainId::new)).transpose()?;
        Ok(domain.map(|domain| ScimClient { domain, token: public_id(&hash) }))
    }

    /// The domain's SCIM tokens, revoked ones included, oldest first.
    pub(crate) async fn list_scim_tokens(&self, domain: &DomainId) -> Result<Vec<ScimTokenRecord>, StoreError> {
        let q = query(
            "SELECT hash, domain_id, name, created_at, revoked_at FROM scim_tokens
             WHERE domain_id = $1 ORDER BY created_at, hash",
        )
        .text(domain.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(record).collect()
    }

    /// Revokes the domain's SCIM token with this public id; it stops
    /// authenticating at once. `NotFound` when the domain has no such token.
    pub(crate) async fn revoke_scim_token(&self, domain: &DomainId, id: &str) -> Result<(), StoreError> {
        if !is_public_id(id) {
            return Err(StoreError::NotFound { what: "scim token" });
        }
        let q = query(
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $3)
             WHERE domain_id = $1 AND substr(hash, 1, 16) = $2",
        )
        .text(domain.as_str())
        .text(id)
        .int(now_ms());
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "scim token" });
        }
        tx.commit().await
    }
}
