//! The identity store: organizations, domains, providers, accounts, links,
//! memberships, invitations, plugins, bindings, audit events and the hashes
//! of organization API tokens, in SQLite
//! (a file, the embedded default) or PostgreSQL (shared by several hosts),
//! chosen at run time from the database URL.
//!
//! This is the only module that uses sqlx; nothing of it shows in the API.
//! [`Store::open`] connects and applies the migrations under
//! `host/migrations/<backend>/`, embedded in the binary.
//!
//! ```no_run
//! # async fn example() -> Result<(), provisio::store::StoreError> {
//! use provisio::store::{DatabaseUrl, Store};
//!
//! let store = Store::open(&DatabaseUrl::new("sqlite://provisio.db?mode=rwc")).await?;
//! let org = store.create_organization("acme").await?;
//! let mut tx = store.begin().await?;
//! let found = tx.account_by_email("Jane@Example.com").await?;
//! tx.commit().await?;
//! # let _ = (org, found); Ok(()) }
//! ```
//!
//! # One login, one transaction
//!
//! A login's reads and writes go through one [`Tx`] from [`Store::begin`]:
//! committed together by [`Tx::commit`], or not at all when the `Tx` is
//! dropped. On SQLite, transactions take the write lock when they begin and
//! queue in arrival order, so keep them short: run plugins before `begin`.
//! On PostgreSQL they run at READ COMMITTED, so every statement sees what
//! other logins committed before it.
//!
//! # Concurrent first logins
//!
//! Uniqueness is the database's job: two logins that create the same person
//! at once (on one host or on several sharing PostgreSQL) both try to insert,
//! and one gets `StoreError::Conflict { what: Unique::AccountEmail }` (or
//! `"link"`). The `Tx` stays usable after a `Conflict`: look the account up
//! again in the same `Tx` and carry on with it. `"account username"` means
//! the username is taken by someone else: pick another and insert again.

mod accounts;
pub mod attempts;
mod audit;
mod claims;
mod db;
mod error;
mod ids;
mod model;
mod orgs;
mod plugins;
mod scim;
mod tokens;
mod tx;
mod url;

use std::time::Duration;

pub use accounts::prepare_account;
pub use error::{StoreError, Unique};
pub use ids::{
    AccountId, AccountState, BackendKind, ClaimState, DomainId, FailurePolicy, InvitationId, InvitationState,
    MembershipKind, MembershipSource, OrgId, ProviderId, ProviderKind, RoleId, ScimGroupNames, ScimUserId, SyncMode,
    TeamId, Verification,
};
pub use model::{
    Account, ApiTokenRecord, AuditEvent, AuditFilter, Binding, Canary, Domain, EmailDomainClaim, Invitation,
    Membership, MembershipTarget, NamedMembership, NewAccount, NewAuditEvent, NewDomain, NewPlugin, NewProvider,
    Organization, PasswordHash, PluginRecord, Provider, Role, Shadow, Team, now_ms,
};
pub(crate) use scim::{
    Enterprise, ScimClient, ScimEmail, ScimGroup, ScimListQuery, ScimTokenRecord, ScimUser, ScimUserFields,
};
pub use tx::Tx;
pub use url::DatabaseUrl;

/// How `Store::open_with` connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Largest number of open connections (default 10).
    pub max_connections: u32,
    /// How long a writer waits for its turn, and anyone for a free
    /// connection, before `StoreError::Busy` (default 10 s).
    pub busy_timeout: Duration,
    /// PostgreSQL only: the schema to keep the tables in, created when
    /// missing (default: the server's `search_path`, usually `public`).
    /// Lets several deployments, or test runs, share one database.
    pub schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 10, busy_timeout: Duration::from_secs(10), schema: None }
    }
}

/// The identity store. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    db: db::Database,
    schema: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).field("schema", &self.schema).finish()
    }
}

impl Store {
    /// Connects to the database at `url` and applies the migrations.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// [`Store::open`] with options.
    pub async fn open_with(url: &DatabaseUrl, options: StoreOptions) -> Result<Self, StoreError> {
        let db = db::Database::open(url, &options).await?;
        Ok(Self { db, schema: options.schema })
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> BackendKind {
        self.db.kind()
    }

    /// Starts the transaction of one login (or of one admin change that
    /// spans several statements). Rolled back when dropped uncommitted.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx::new(self.db.begin().await?))
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Drops the PostgreSQL schema given in `StoreOptions::schema`, with
    /// everything in it, and closes the store. For throwaway stores, such as
    /// a test run's.
    pub async fn drop_schema(self) -> Result<(), StoreError> {
        let schema = self.schema.ok_or_else(|| StoreError::Config("the store was opened without a schema".into()))?;
        self.db.drop_schema(&schema).await
    }

    /// A pooled connection for one read or one single-statement write.
    async fn conn(&self) -> Result<db::Pooled, StoreError> {
        self.db.acquire().await
    }
}

/// Refuses an empty or overlong name before the database sees it.
fn check_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    const MAX_NAME: usize = 256;
    if name.trim().is_empty() {
        return Err(StoreError::Invalid { what, reason: "must not be empty".into() });
    }
    if name.len() > MAX_NAME {
        return Err(StoreError::Invalid { what, reason: format!("longer than {MAX_NAME} bytes") });
    }
    check_text(what, name)
}

/// Refuses text that may not be stored (control and invisible format
/// characters, see [`crate::canonical::text`]) before the database sees it.
fn check_text(what: &'static str, value: &str) -> Result<(), StoreError> {
    crate::canonical::text(value).map_err(|e| StoreError::Invalid { what, reason: e.to_string() })
}

/// Reads a stored enum value, failing on a value no migration allows.
fn parse_stored<T>(parse: fn(&str) -> Option<T>, column: &'static str, value: String) -> Result<T, StoreError> {
    parse(&value).ok_or_else(|| StoreError::Database(format!("unexpected {column} {value:?} in the database")))
}
