//! What SCIM provisioning keeps: a domain's SCIM tokens (by hash), its SCIM
//! users (one account each, with the attributes the identity provider sent),
//! the teams it manages as groups and their members. The memberships of
//! source `scim` are derived from these ([`Tx::sync_scim_memberships`]).

mod groups;
pub(crate) mod query;
mod tokens;
mod users;

use serde::{Deserialize, Serialize};

use super::db::Conn;
use super::{Account, DomainId, OrgId, ScimUserId, StoreError, Team};
use crate::scim::filter::{AttrPath, Filter};

/// A domain's SCIM token, as listed: never the token, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokenRecord {
    /// Its public id: the first 16 hex characters of its SHA-256.
    pub id: String,
    /// The domain it provisions.
    pub domain: DomainId,
    /// What its maker called it.
    pub name: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was revoked; a revoked token no longer authenticates.
    pub revoked_at: Option<i64>,
}

/// Who a SCIM request acts as: the domain of a valid token, and the token's
/// public id (for the audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimClient {
    /// The token's domain.
    pub domain: DomainId,
    /// The token's public id.
    pub token: String,
}

/// An email of a SCIM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimEmail {
    /// The address, in canonical form.
    pub value: String,
    /// `work`, `home`, `other` or what the client sent.
    pub kind: Option<String>,
    /// Whether it is the primary one.
    pub primary: bool,
}

/// The enterprise extension's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enterprise {
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
}

/// What a SCIM client writes of a user besides the account's email and
/// names, which live on the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub enterprise: Enterprise,
    pub emails: Vec<ScimEmail>,
    /// `Some(false)` de-provisions the person from the organization; `None`
    /// (never said) counts as active.
    pub active: Option<bool>,
}

/// A SCIM user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    pub id: ScimUserId,
    pub domain: DomainId,
    /// The account it is.
    pub account: Account,
    pub fields: ScimUserFields,
    /// The teams it is a member of through this domain's SCIM groups.
    pub groups: Vec<Team>,
    /// Increases with every change: the `ETag`.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A team managed as a SCIM group of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub team: Team,
    /// The organization's name (for `organization:team` display names).
    pub org_name: String,
    pub external_id: Option<String>,
    /// The domain's SCIM users that are members, by id.
    pub members: Vec<ScimUserId>,
    /// Increases with every change: the `ETag`.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which resources a list answers, in which order, which page.
#[derive(Debug, Clone, Copy)]
pub struct ScimListQuery<'a> {
    pub filter: Option<&'a Filter>,
    pub sort_by: Option<&'a AttrPath>,
    pub descending: bool,
    /// How many matching resources to skip (`startIndex - 1`).
    pub offset: u64,
    /// At most this many.
    pub limit: u64,
}

/// One page of a list, and how many resources match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimPage<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// The organization of a domain, read inside a transaction.
pub(crate) async fn domain_org(c: &mut Conn<'_>, domain: &DomainId) -> Result<Option<OrgId>, StoreError> {
    let q = super::db::query("SELECT org_id FROM domains WHERE id = $1").text(domain.as_str());
    c.fetch_optional(q).await?.map(|r| r.get::<String>(0).map(OrgId::new)).transpose()
}
