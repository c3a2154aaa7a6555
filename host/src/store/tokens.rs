//! Organization API tokens, kept by the SHA-256 of the token: the store
//! never sees a token, only its hash, so nothing it holds or reports (rows,
//! records, errors) can be used to authenticate.

use super::db::{Row, query};
use super::{ApiTokenRecord, OrgId, Store, StoreError, check_name, now_ms};

const ID_LEN: usize = ApiTokenRecord::ID_LEN;
// `revoke_api_token` spells the length out in its SQL.
const _: () = assert!(ID_LEN == 16);

/// The public id of the token whose hash this is.
pub(super) fn public_id(hash: &str) -> String {
    hash.get(..ID_LEN).unwrap_or(hash).to_owned()
}

/// Whether `id` has the form of a public id (16 lower-case hex digits).
pub(super) fn is_public_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn record(row: &Row) -> Result<ApiTokenRecord, StoreError> {
    let hash: String = row.get(0)?;
    Ok(ApiTokenRecord {
        id: public_id(&hash),
        org: OrgId::new(row.get::<String>(1)?),
        name: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

/// Organization API tokens.
impl Store {
    /// Records a new API token of `org` by `hash`, the SHA-256 of the token.
    /// `NotFound` without the organization; `Conflict { what: Unique::ApiToken }`
    /// if the hash is already recorded.
    pub async fn create_api_token(
        &self,
        org: &OrgId,
        name: &str,
        hash: &[u8; 32],
    ) -> Result<ApiTokenRecord, StoreError> {
        check_name("api token name", name)?;
        let hash = hex::encode(hash);
        let record = ApiTokenRecord {
            id: public_id(&hash),
            org: org.clone(),
            name: name.to_owned(),
            created_at: now_ms(),
            revoked_at: None,
        };
        let q = query("INSERT INTO api_tokens (hash, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .text(&hash)
            .text(org.as_str())
            .text(name)
            .int(record.created_at)
            .refers_to("organization");
        let mut tx = self.db.begin().await?;
        tx.conn().execute(q).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The organization the token with this SHA-256 acts for, unless it
    /// was revoked.
    pub async fn api_token_org(&self, hash: &[u8; 32]) -> Result<Option<OrgId>, StoreError> {
        let q = query("SELECT org_id FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL").text(&hex::encode(hash));
        let row = self.conn().await?.conn().fetch_optional(q).await?;
        row.map(|r| r.get::<String>(0).map(OrgId::new)).transpose()
    }

    /// The organization's API tokens, revoked ones included, oldest first.
    pub async fn list_api_tokens(&self, org: &OrgId) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let q = query(
            "SELECT hash, org_id, name, created_at, revoked_at FROM api_tokens
             WHERE org_id = $1 ORDER BY created_at, hash",
        )
        .text(org.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(record).collect()
    }

    /// Revokes the organization's API token with this public id
    /// ([`ApiTokenRecord::id`]); it stops authenticating at once. Revoking a
    /// revoked token keeps its first revocation time. `NotFound` when the
    /// organization has no token with this id.
    pub async fn revoke_api_token(&self, org: &OrgId, id: &str) -> Result<(), StoreError> {
        if !is_public_id(id) {
            return Err(StoreError::NotFound { what: "api token" });
        }
        let q = query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3)
             WHERE org_id = $1 AND substr(hash, 1, 16) = $2",
        )
        .text(org.as_str())
        .text(id)
        .int(now_ms());
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "api token" });
        }
        tx.commit().await
    }
}
