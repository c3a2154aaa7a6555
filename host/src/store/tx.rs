//! `Tx`: the one transaction of a login. Everything a login reads and
//! writes goes through it, and is committed together or not at all.

use super::db::Transaction;
use super::{
    Account, AccountId, Invitation, InvitationId, InvitationState, Membership, NamedMembership, NewAccount,
    NewAuditEvent, OrgId, ProviderId, Role, StoreError, Team, accounts, audit, orgs,
};

/// An open transaction, from [`super::Store::begin`]. Dropping it without
/// [`Tx::commit`] rolls everything back.
///
/// A `Conflict` from [`Tx::insert_account`] or [`Tx::insert_link`] leaves
/// the transaction usable (the statement ran in a savepoint), so the login
/// can look up what the other login committed and go on.
pub struct Tx {
    inner: Transaction,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Tx {
    pub(crate) fn new(inner: Transaction) -> Self {
        Self { inner }
    }

    /// The transaction's connection, for the store's other modules.
    pub(crate) fn conn(&mut self) -> super::db::Conn<'_> {
        self.inner.conn()
    }

    /// Commits everything done in the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await
    }

    /// The account linked to this identity at this provider.
    pub async fn account_by_link(
        &mut self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Account>, StoreError> {
        accounts::account_by_link(&mut self.inner.conn(), provider, subject).await
    }

    /// The account with this email, compared case-insensitively.
    pub async fn account_by_email(&mut self, email: &str) -> Result<Option<Account>, StoreError> {
        accounts::account_by_email(&mut self.inner.conn(), email).await
    }

    /// The account with this id.
    pub async fn account(&mut self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        accounts::account_by_id(&mut self.inner.conn(), id).await
    }

    /// Creates an active account with a new id and the email lower-cased.
    /// `Conflict { what: Unique::AccountEmail }` or `Conflict { what:
    /// Unique::AccountUsername }` when either is taken (case-insensitively).
    pub async fn insert_account(&mut self, new: NewAccount) -> Result<Account, StoreError> {
        accounts::insert_account(&mut self.inner.conn(), new).await
    }

    /// Inserts an account made by [`super::prepare_account`] (its id was
    /// chosen before the transaction, to show it to the plugins). The same
    /// `Conflict`s as [`Tx::insert_account`].
    pub async fn insert_prepared_account(&mut self, account: &Account) -> Result<(), StoreError> {
        accounts::insert_prepared(&mut self.inner.conn(), account).await
    }

    /// Replaces the account's given and family names.
    pub async fn update_names(
        &mut self,
        account: &AccountId,
        given_name: Option<&str>,
        family_name: Option<&str>,
    ) -> Result<(), StoreError> {
        accounts::update_names(&mut self.inner.conn(), account, given_name, family_name).await
    }

    /// Links an identity at a provider to an account; `Conflict { what:
    /// Unique::Link }` when that identity is already linked (to any account).
    pub async fn insert_link(
        &mut self,
        provider: &ProviderId,
        subject: &str,
        account: &AccountId,
    ) -> Result<(), StoreError> {
        accounts::insert_link(&mut self.inner.conn(), provider, subject, account).await
    }

    /// The pending invitations of this email (any case) to the organization,
    /// oldest first.
    pub async fn pending_invitations(&mut self, org: &OrgId, email: &str) -> Result<Vec<Invitation>, StoreError> {
        accounts::pending_invitations(&mut self.inner.conn(), org, email).await
    }

    /// Marks a pending invitation accepted; `NotFound` when it is not
    /// pending (accepted by a concurrent login, or revoked).
    pub async fn accept_invitation(&mut self, id: &InvitationId) -> Result<(), StoreError> {
        accounts::close_invitation(&mut self.inner.conn(), id, InvitationState::Accepted).await
    }

    /// The account's memberships in the organization (every source), with
    /// the names of what they point at.
    pub async fn memberships(&mut self, account: &AccountId, org: &OrgId) -> Result<Vec<NamedMembership>, StoreError> {
        accounts::memberships(&mut self.inner.conn(), account, Some(org)).await
    }

    /// Adds a membership unless this exact one (same source included)
    /// exists; whether it was added. `NotFound` when its team or role is
    /// not one of its organization's.
    pub async fn add_membership(&mut self, membership: &Membership) -> Result<bool, StoreError> {
        accounts::add_membership(&mut self.inner.conn(), membership).await
    }

    /// Removes a membership of exactly this source; whether it was there.
    pub async fn remove_membership(&mut self, membership: &Membership) -> Result<bool, StoreError> {
        accounts::remove_membership(&mut self.inner.conn(), membership).await
    }

    /// Whether the organization has suspended the account.
    pub async fn suspended(&mut self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        accounts::suspended(&mut self.inner.conn(), org, account).await
    }

    /// The organization's team of this name.
    pub async fn team_by_name(&mut self, org: &OrgId, name: &str) -> Result<Option<Team>, StoreError> {
        orgs::team_by_name(&mut self.inner.conn(), org, name).await
    }

    /// The organization's role of this name.
    pub async fn role_by_name(&mut self, org: &OrgId, name: &str) -> Result<Option<Role>, StoreError> {
        orgs::role_by_name(&mut self.inner.conn(), org, name).await
    }

    /// Records an audit event, committed with the rest; its id.
    pub async fn append_audit(&mut self, event: &NewAuditEvent) -> Result<i64, StoreError> {
        audit::append(&mut self.inner.conn(), event).await
    }
}
