//! Accounts, their links to external identities, their memberships, and
//! invitations. The functions over a `Conn` are shared by the `Store`
//! (one statement at a time) and the `Tx` of a login.

use super::db::{Conn, Row, query};
use super::{
    Account, AccountId, AccountState, Invitation, InvitationId, InvitationState, Membership, MembershipKind,
    MembershipSource, MembershipTarget, NamedMembership, NewAccount, OrgId, PasswordHash, ProviderId, RoleId, Store,
    StoreError, TeamId, now_ms, parse_stored,
};
use crate::canonical::normalize_email;

/// The columns `account` reads, in its order.
macro_rules! account_columns {
    () => {
        "id, email, username, given_name, family_name, state, password_hash, attributes, created_at"
    };
}

fn account(row: &Row) -> Result<Account, StoreError> {
    let attributes: String = row.get(7)?;
    Ok(Account {
        id: AccountId::new(row.get::<String>(0)?),
        email: row.get(1)?,
        username: row.get(2)?,
        given_name: row.get(3)?,
        family_name: row.get(4)?,
        state: parse_stored(AccountState::parse, "account state", row.get(5)?)?,
        password_hash: row.get::<Option<String>>(6)?.and_then(PasswordHash::new),
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| StoreError::Database(format!("unreadable account attributes: {e}")))?,
        created_at: row.get(8)?,
    })
}

fn invitation(row: &Row) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: InvitationId::new(row.get::<String>(0)?),
        org: OrgId::new(row.get::<String>(1)?),
        email: row.get(2)?,
        team: row.get::<Option<String>>(3)?.map(TeamId::new),
        state: parse_stored(InvitationState::parse, "invitation state", row.get(4)?)?,
        created_at: row.get(5)?,
    })
}

fn named_membership(row: &Row) -> Result<NamedMembership, StoreError> {
    let kind = parse_stored(MembershipKind::parse, "membership kind", row.get(2)?)?;
    let target_id: String = row.get(3)?;
    let target = match kind {
        MembershipKind::Organization => MembershipTarget::Organization,
        MembershipKind::Team => MembershipTarget::Team(TeamId::new(target_id)),
        MembershipKind::Role => MembershipTarget::Role(RoleId::new(target_id)),
    };
    Ok(NamedMembership {
        membership: Membership {
            account: AccountId::new(row.get::<String>(0)?),
            org: OrgId::new(row.get::<String>(1)?),
            target,
            source: parse_stored(MembershipSource::parse, "membership source", row.get(4)?)?,
        },
        name: row.get(5)?,
    })
}

/// The membership's target id as stored: the organization's own id for an
/// organization membership.
fn target_id(m: &Membership) -> &str {
    match &m.target {
        MembershipTarget::Organization => m.org.as_str(),
        MembershipTarget::Team(t) => t.as_str(),
        MembershipTarget::Role(r) => r.as_str(),
    }
}

pub(crate) async fn account_by_id(c: &mut Conn<'_>, id: &AccountId) -> Result<Option<Account>, StoreError> {
    let q = query(concat!("SELECT ", account_columns!(), " FROM accounts WHERE id = $1")).text(id.as_str());
    c.fetch_optional(q).await?.as_ref().map(account).transpose()
}

/// The accounts with these ids, in one statement.
pub(crate) async fn accounts_by_ids(c: &mut Conn<'_>, ids: &[&AccountId]) -> Result<Vec<Account>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(concat!("SELECT ", account_columns!(), " FROM accounts WHERE id IN ({})"), list);
    let q = ids.iter().fold(super::db::assembled(sql), |q, id| q.text(id.as_str()));
    c.fetch_all(q).await?.iter().map(account).collect()
}

pub(crate) async fn account_by_email(c: &mut Conn<'_>, email: &str) -> Result<Option<Account>, StoreError> {
    let q =
        query(concat!("SELECT ", account_columns!(), " FROM accounts WHERE email = $1")).text(&normalize_email(email));
    c.fetch_optional(q).await?.as_ref().map(account).transpose()
}

pub(crate) async fn account_by_link(
    c: &mut Conn<'_>,
    provider: &ProviderId,
    subject: &str,
) -> Result<Option<Account>, StoreError> {
    let q = query(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = (SELECT account_id FROM links WHERE provider_id = $1 AND subject = $2)"
    ))
    .text(provider.as_str())
    .text(subject);
    c.fetch_optional(q).await?.as_ref().map(account).transpose()
}

/// The account `new` describes, with a fresh id, not yet stored. The email
/// must have a canonical form; names and attributes must be storable text.
pub fn prepare_account(new: NewAccount) -> Result<Account, StoreError> {
    super::check_name("username", &new.username)?;
    let email = crate::canonical::email(&new.email)
        .map_err(|e| StoreError::Invalid { what: "email", reason: e.to_string() })?;
    for (what, value) in [("given name", &new.given_name), ("family name", &new.family_name)] {
        if let Some(value) = value {
            super::check_text(what, value)?;
        }
    }
    for (key, value) in &new.attributes {
        super::check_text("attribute name", key)?;
        super::check_text("attribute value", value)?;
    }
    Ok(Account {
        id: AccountId::random(),
        email,
        username: new.username,
        given_name: new.given_name,
        family_name: new.family_name,
        state: AccountState::Active,
        password_hash: new.password_hash,
        attributes: new.attributes,
        created_at: now_ms(),
    })
}

pub(crate) async fn insert_account(c: &mut Conn<'_>, new: NewAccount) -> Result<Account, StoreError> {
    let account = prepare_account(new)?;
    insert_prepared(c, &account).await?;
    Ok(account)
}

/// Inserts an account made by [`prepare_account`].
pub(crate) async fn insert_prepared(c: &mut Conn<'_>, account: &Account) -> Result<(), StoreError> {
    let attributes = serde_json::to_string(&account.attributes).map_err(|e| StoreError::Database(e.to_string()))?;
    let q =
        query(concat!("INSERT INTO accounts (", account_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .text(account.id.as_str())
            .text(&account.email)
            .text(&account.username)
            .opt_text(account.given_name.as_deref())
            .opt_text(account.family_name.as_deref())
            .text(account.state.as_str())
            .opt_text(account.password_hash.as_ref().map(PasswordHash::as_str))
            .text(&attributes)
            .int(account.created_at);
    c.execute_guarded(q).await.map(|_| ())
}

/// Whether an account has this username (case-insensitively).
pub(crate) async fn username_taken(c: &mut Conn<'_>, username: &str) -> Result<bool, StoreError> {
    let q = query("SELECT 1 FROM accounts WHERE lower(username) = $1").text(&username.to_lowercase());
    Ok(c.fetch_optional(q).await?.is_some())
}

pub(crate) async fn update_names(
    c: &mut Conn<'_>,
    id: &AccountId,
    given_name: Option<&str>,
    family_name: Option<&str>,
) -> Result<(), StoreError> {
    for (what, value) in [("given name", given_name), ("family name", family_name)] {
        if let Some(value) = value {
            super::check_text(what, value)?;
        }
    }
    let q = query("UPDATE accounts SET given_name = $2, family_name = $3 WHERE id = $1")
        .text(id.as_str())
        .opt_text(given_name)
        .opt_text(family_name);
    match c.execute(q).await? {
        0 => Err(StoreError::NotFound { what: "account" }),
        _ => Ok(()),
    }
}

pub(crate) async fn insert_link(
    c: &mut Conn<'_>,
    provider: &ProviderId,
    subject: &str,
    account: &AccountId,
) -> Result<(), StoreError> {
    let q = query("INSERT INTO links (provider_id, subject, account_id, created_at) VALUES ($1, $2, $3, $4)")
        .text(provider.as_str())
        .text(subject)
        .text(account.as_str())
        .int(now_ms())
        .refers_to("provider or account");
    c.execute_guarded(q).await.map(|_| ())
}

pub(crate) async fn pending_invitations(
    c: &mut Conn<'_>,
    org: &OrgId,
    email: &str,
) -> Result<Vec<Invitation>, StoreError> {
    let q = query(
        "SELECT id, org_id, email, team_id, state, created_at FROM invitations
         WHERE org_id = $1 AND email = $2 AND state = 'pending' ORDER BY created_at, id",
    )
    .text(org.as_str())
    .text(&normalize_email(email));
    c.fetch_all(q).await?.iter().map(invitation).collect()
}

/// Moves a pending invitation to `state`; `NotFound` when it is not pending.
pub(crate) async fn close_invitation(
    c: &mut Conn<'_>,
    id: &InvitationId,
    state: InvitationState,
) -> Result<(), StoreError> {
    let q = query("UPDATE invitations SET state = $2 WHERE id = $1 AND state = 'pending'")
        .text(id.as_str())
        .text(state.as_str());
    match c.execute(q).await? {
        0 => Err(StoreError::NotFound { what: "pending invitation" }),
        _ => Ok(()),
    }
}

pub(crate) async fn memberships(
    c: &mut Conn<'_>,
    account: &AccountId,
    org: Option<&OrgId>,
) -> Result<Vec<NamedMembership>, StoreError> {
    let q = query(
        "SELECT m.account_id, m.org_id, m.kind, m.target_id, m.source,
                CASE m.kind WHEN 'team' THEN t.name WHEN 'role' THEN r.name ELSE o.name END AS name
         FROM memberships m
         JOIN organizations o ON o.id = m.org_id
         LEFT JOIN teams t ON m.kind = 'team' AND t.id = m.target_id
         LEFT JOIN roles r ON m.kind = 'role' AND r.id = m.target_id
         WHERE m.account_id = $1 AND ($2 IS NULL OR m.org_id = $2)
           AND (m.kind = 'organization' OR t.id IS NOT NULL OR r.id IS NOT NULL)
         ORDER BY o.name, m.kind, name, m.source",
    )
    .text(account.as_str())
    .opt_text(org.map(OrgId::as_str));
    c.fetch_all(q).await?.iter().map(named_membership).collect()
}

/// Adds a membership unless it is there already; whether it was added.
/// `NotFound` when the team or role is not one of the organization's.
pub(crate) async fn add_membership(c: &mut Conn<'_>, m: &Membership) -> Result<bool, StoreError> {
    let (check, what) = match &m.target {
        MembershipTarget::Organization => ("SELECT 1 FROM organizations WHERE id = $1 AND id = $2", "organization"),
        MembershipTarget::Team(_) => ("SELECT 1 FROM teams WHERE id = $1 AND org_id = $2", "team of the organization"),
        MembershipTarget::Role(_) => ("SELECT 1 FROM roles WHERE id = $1 AND org_id = $2", "role of the organization"),
    };
    if c.fetch_optional(query(check).text(target_id(m)).text(m.org.as_str())).await?.is_none() {
        return Err(StoreError::NotFound { what });
    }
    let q = query(
        "INSERT INTO memberships (account_id, org_id, kind, target_id, source, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .text(m.account.as_str())
    .text(m.org.as_str())
    .text(m.target.kind().as_str())
    .text(target_id(m))
    .text(m.source.as_str())
    .int(now_ms())
    .refers_to("account");
    Ok(c.execute(q).await? > 0)
}

/// Removes a membership (of exactly this source); whether it was there.
pub(crate) async fn remove_membership(c: &mut Conn<'_>, m: &Membership) -> Result<bool, StoreError> {
    let q = query(
        "DELETE FROM memberships
         WHERE account_id = $1 AND org_id = $2 AND kind = $3 AND target_id = $4 AND source = $5",
    )
    .text(m.account.as_str())
    .text(m.org.as_str())
    .text(m.target.kind().as_str())
    .text(target_id(m))
    .text(m.source.as_str());
    Ok(c.execute(q).await? > 0)
}

/// Whether the organization has suspended the account, or a SCIM user of
/// one of its domains de-provisioned it (inactive or deleted).
pub(crate) async fn suspended(c: &mut Conn<'_>, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
    let q = query(
        "SELECT 1 FROM suspensions WHERE org_id = $1 AND account_id = $2
         UNION ALL
         SELECT 1 FROM scim_users su JOIN domains d ON d.id = su.domain_id
         WHERE d.org_id = $1 AND su.account_id = $2 AND NOT su.active",
    )
    .text(org.as_str())
    .text(account.as_str());
    Ok(c.fetch_optional(q).await?.is_some())
}

/// Suspensions: an organization's hold on one of its members, which only
/// the organization's own logins and sessions see.
impl Store {
    /// Suspends the account in the organization; whether it was not
    /// suspended already. `NotFound` without the organization or account.
    pub async fn suspend(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        let q = query(
            "INSERT INTO suspensions (org_id, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .text(org.as_str())
        .text(account.as_str())
        .int(now_ms())
        .refers_to("organization or account");
        let mut tx = self.db.begin().await?;
        let added = tx.conn().execute(q).await? > 0;
        tx.commit().await?;
        Ok(added)
    }

    /// Lifts the organization's suspension of the account; whether there was one.
    pub async fn reinstate(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM suspensions WHERE org_id = $1 AND account_id = $2")
            .text(org.as_str())
            .text(account.as_str());
        let mut tx = self.db.begin().await?;
        let removed = tx.conn().execute(q).await? > 0;
        tx.commit().await?;
        Ok(removed)
    }

    /// Whether the organization has suspended the account.
    pub async fn is_suspended(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        suspended(&mut self.conn().await?.conn(), org, account).await
    }
}

/// Accounts.
impl Store {
    /// Whether an account has this username (case-insensitively).
    pub async fn username_taken(&self, username: &str) -> Result<bool, StoreError> {
        username_taken(&mut self.conn().await?.conn(), username).await
    }

    /// The pending invitations of this email to the organization, oldest first.
    pub async fn pending_invitations(&self, org: &OrgId, email: &str) -> Result<Vec<Invitation>, StoreError> {
        pending_invitations(&mut self.conn().await?.conn(), org, email).await
    }

    /// The account with this id.
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        account_by_id(&mut self.conn().await?.conn(), id).await
    }

    /// The account with this email, compared case-insensitively.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        account_by_email(&mut self.conn().await?.conn(), email).await
    }

    /// The account linked to this identity at this provider.
    pub async fn account_by_link(&self, provider: &ProviderId, subject: &str) -> Result<Option<Account>, StoreError> {
        account_by_link(&mut self.conn().await?.conn(), provider, subject).await
    }

    /// Creates an account outside a login (an admin creating a local
    /// password account); the same rules as [`super::Tx::insert_account`].
    pub async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        let mut tx = self.db.begin().await?;
        let account = insert_account(&mut tx.conn(), new).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Accounts by email, `limit` at a time (at most 1000): all of them, or
    /// only the members of `org`; `after_email` is the last email of the
    /// previous page.
    pub async fn list_accounts(
        &self,
        org: Option<&OrgId>,
        after_email: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let q = query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts
             WHERE ($1 IS NULL OR id IN (SELECT account_id FROM memberships WHERE org_id = $1))
               AND ($2 IS NULL OR email > $2)
             ORDER BY email LIMIT $3"
        ))
        .opt_text(org.map(OrgId::as_str))
        .opt_text(after_email.map(normalize_email).as_deref())
        .int(i64::from(limit.min(1000)));
        self.conn().await?.conn().fetch_all(q).await?.iter().map(account).collect()
    }

    /// Locks, unlocks or disables an account.
    pub async fn set_account_state(&self, id: &AccountId, state: AccountState) -> Result<(), StoreError> {
        let q = query("UPDATE accounts SET state = $2 WHERE id = $1").text(id.as_str()).text(state.as_str());
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        tx.commit().await
    }

    /// Sets the password hash, or with `None` makes the password unusable.
    pub async fn set_password_hash(&self, id: &AccountId, hash: Option<&PasswordHash>) -> Result<(), StoreError> {
        let q = query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
            .text(id.as_str())
            .opt_text(hash.map(PasswordHash::as_str));
        let mut tx = self.db.begin().await?;
        if tx.conn().execute(q).await? == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        tx.commit().await
    }

    /// The account's memberships, in every organization or in one, with
    /// the names of what they point at.
    pub async fn memberships(
        &self,
        account: &AccountId,
        org: Option<&OrgId>,
    ) -> Result<Vec<NamedMembership>, StoreError> {
        memberships(&mut self.conn().await?.conn(), account, org).await
    }

    /// Adds a membership (typically with source `Admin`) unless it exists;
    /// whether it was added.
    pub async fn add_membership(&self, membership: &Membership) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let added = add_membership(&mut tx.conn(), membership).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Removes a membership of exactly this source; whether it was there.
    pub async fn remove_membership(&self, membership: &Membership) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let removed = remove_membership(&mut tx.conn(), membership).await?;
        tx.commit().await?;
        Ok(removed)
    }
}

/// Invitations.
impl Store {
    /// Invites an email address to an organization, optionally into one of
    /// its teams. `NotFound` without the organization or the team.
    pub async fn create_invitation(
        &self,
        org: &OrgId,
        email: &str,
        team: Option<&TeamId>,
    ) -> Result<Invitation, StoreError> {
        let email =
            crate::canonical::email(email).map_err(|e| StoreError::Invalid { what: "email", reason: e.to_string() })?;
        let invitation = Invitation {
            id: InvitationId::random(),
            org: org.clone(),
            email,
            team: team.cloned(),
            state: InvitationState::Pending,
            created_at: now_ms(),
        };
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if super::orgs::organization_by_id(&mut c, org).await?.is_none() {
            return Err(StoreError::NotFound { what: "organization" });
        }
        let q = query(
            "INSERT INTO invitations (id, org_id, email, team_id, state, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .text(invitation.id.as_str())
        .text(org.as_str())
        .text(&invitation.email)
        .opt_text(team.map(TeamId::as_str))
        .text(invitation.state.as_str())
        .int(invitation.created_at)
        .refers_to("team of the organization");
        c.execute(q).await?;
        tx.commit().await?;
        Ok(invitation)
    }

    /// The organization's invitations, newest first.
    pub async fn list_invitations(&self, org: &OrgId) -> Result<Vec<Invitation>, StoreError> {
        let q = query(
            "SELECT id, org_id, email, team_id, state, created_at FROM invitations
             WHERE org_id = $1 ORDER BY created_at DESC, id",
        )
        .text(org.as_str());
        self.conn().await?.conn().fetch_all(q).await?.iter().map(invitation).collect()
    }

    /// The pending invitations of this email, from every organization,
    /// oldest first.
    pub async fn invitations_for(&self, email: &str) -> Result<Vec<Invitation>, StoreError> {
        let q = query(
            "SELECT id, org_id, email, team_id, state, created_at FROM invitations
             WHERE email = $1 AND state = 'pending' ORDER BY created_at, id",
        )
        .text(&normalize_email(email));
        self.conn().await?.conn().fetch_all(q).await?.iter().map(invitation).collect()
    }

    /// Accepts a pending invitation of `account`'s email, in one transaction:
    /// the account becomes a member of the inviting organization (and of the
    /// invitation's team), with source `invitation`. `NotFound` when the
    /// account has no such pending invitation.
    pub async fn accept_invitation(&self, id: &InvitationId, account: &Account) -> Result<Invitation, StoreError> {
        let q = query(
            "SELECT id, org_id, email, team_id, state, created_at FROM invitations
             WHERE id = $1 AND email = $2 AND state = 'pending'",
        )
        .text(id.as_str())
        .text(&account.email);
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let found = c.fetch_optional(q).await?.as_ref().map(invitation).transpose()?;
        let invitation = found.ok_or(StoreError::NotFound { what: "pending invitation" })?;
        close_invitation(&mut c, id, InvitationState::Accepted).await?;
        let targets =
            std::iter::once(MembershipTarget::Organization).chain(invitation.team.clone().map(MembershipTarget::Team));
        for target in targets {
            let m = Membership {
                account: account.id.clone(),
                org: invitation.org.clone(),
                target,
                source: MembershipSource::Invitation,
            };
            add_membership(&mut c, &m).await?;
        }
        tx.commit().await?;
        Ok(Invitation { state: InvitationState::Accepted, ..invitation })
    }

    /// Withdraws a pending invitation; `NotFound` when it is not pending.
    pub async fn revoke_invitation(&self, id: &InvitationId) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        close_invitation(&mut tx.conn(), id, InvitationState::Revoked).await?;
        tx.commit().await
    }
}
