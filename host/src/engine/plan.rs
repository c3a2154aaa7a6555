//! Steps 3–5 of a login as decisions (DESIGN.md): who the account is (the
//! identity creator decides a new one), which invitations it accepts, and
//! which memberships it gets (the assignment provider decides the IdP's).
//! Nothing here writes: the [`Plan`] is what [`super::apply`] commits.

use std::collections::BTreeMap;

use super::audit::{CreationDecision, Trail};
use super::error::Rule;
use super::flow::LoginContext;
use super::{Host, LoginError};
use crate::plugin::{self, Assignment, Creation, Principal};
use crate::store::{
    Account, AccountState, Invitation, MembershipTarget, NewAccount, OrgId, ProviderId, ProviderKind, Store,
    StoreError, SyncMode, Tx, prepare_account,
};

/// How many usernames with new random digits are tried for a clash.
const USERNAME_TRIES: u32 = 6;

/// Where a login looks accounts up: the store before deciding, the
/// transaction when applying. Both look the same way ([`Reader::find`]).
pub(super) enum Reader<'a> {
    Store(&'a Store),
    Tx(&'a mut Tx),
}

/// The account a principal already has, if any.
#[derive(Default)]
pub(super) struct Found {
    /// The account linked to the principal's identity at the provider.
    pub(super) linked: Option<Account>,
    /// Without a link, the account with the principal's email.
    pub(super) by_email: Option<Account>,
}

impl Found {
    pub(super) fn account(&self) -> Option<&Account> {
        self.linked.as_ref().or(self.by_email.as_ref())
    }

    /// Whether `other` found the same accounts.
    pub(super) fn same_as(&self, other: &Found) -> bool {
        let id = |a: &Option<Account>| a.as_ref().map(|a| a.id.clone());
        id(&self.linked) == id(&other.linked) && id(&self.by_email) == id(&other.by_email)
    }
}

impl Reader<'_> {
    /// Step 3's look-up: by the existing link (provider, subject), else by
    /// the email.
    pub(super) async fn find(&mut self, provider: &ProviderId, principal: &Principal) -> Result<Found, StoreError> {
        let linked = match self {
            Self::Store(store) => store.account_by_link(provider, &principal.subject).await?,
            Self::Tx(tx) => tx.account_by_link(provider, &principal.subject).await?,
        };
        if linked.is_some() {
            return Ok(Found { linked, by_email: None });
        }
        let by_email = match self {
            Self::Store(store) => store.account_by_email(&principal.email).await?,
            Self::Tx(tx) => tx.account_by_email(&principal.email).await?,
        };
        Ok(Found { linked, by_email })
    }

    /// Whether an existing account may log in here: a locked or disabled
    /// account is refused (AEM), and so is one the organization suspended.
    pub(super) async fn admits(
        &mut self,
        org: &OrgId,
        account: &Account,
    ) -> Result<Result<(), LoginError>, StoreError> {
        match account.state {
            AccountState::Active => {}
            AccountState::Locked => return Ok(Err(LoginError::AccountLocked)),
            AccountState::Disabled => return Ok(Err(LoginError::AccountDisabled)),
        }
        let suspended = match self {
            Self::Store(store) => store.is_suspended(org, &account.id).await?,
            Self::Tx(tx) => tx.suspended(org, &account.id).await?,
        };
        Ok(if suspended { Err(LoginError::AccountSuspended) } else { Ok(()) })
    }
}

/// What a login read before deciding, outside any transaction.
pub(super) struct Seen {
    pub(super) found: Found,
    /// Whether that account is a member of the domain's organization.
    pub(super) was_member: bool,
    /// The pending invitations of the email to the organization.
    pub(super) invitations: Vec<Invitation>,
}

/// Who the login is for.
pub(super) enum Who {
    /// An account that exists.
    Existing(Account),
    /// An account to create (its id and username chosen already).
    New(Account),
}

impl Who {
    pub(super) fn account(&self) -> &Account {
        match self {
            Self::Existing(a) | Self::New(a) => a,
        }
    }

    pub(super) fn is_new(&self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// An account's given and family names.
pub(super) struct Names {
    pub(super) given: Option<String>,
    pub(super) family: Option<String>,
}

/// The IdP's memberships, as the assignment provider or group mapping
/// decided them.
pub(super) struct IdpMemberships {
    pub(super) targets: Vec<MembershipTarget>,
    /// Sync mode: IdP memberships outside `targets` are removed.
    pub(super) sync: bool,
}

/// What the transaction will write.
pub(super) struct Plan {
    pub(super) who: Who,
    /// Link the principal's identity to the account.
    pub(super) link: bool,
    /// New names, when the IdP sent different ones.
    pub(super) names: Option<Names>,
    pub(super) idp: Option<IdpMemberships>,
    /// Add the default organization and team.
    pub(super) default_membership: bool,
    /// JIT off and neither a member nor invited.
    pub(super) access_denied: bool,
}

// The conditions of steps 3 and 5, named as DESIGN.md states them.

/// Linking to, or creating, an account needs an email the IdP verified.
fn may_link_or_create(principal: &Principal) -> bool {
    principal.email_verified
}

/// Identities are linked for identity providers; a password login is the
/// account itself.
fn links_identity(kind: ProviderKind) -> bool {
    kind != ProviderKind::Password
}

/// JIT on: the assignment provider runs for a new account, or at every
/// login in sync mode, when the IdP sent groups or a plugin is bound to
/// answer.
fn runs_assignment(newly_created: bool, sync: bool, sent_groups: bool, has_assigner: bool) -> bool {
    (newly_created || sync) && (sent_groups || has_assigner)
}

/// JIT on: without group information, someone who is not yet a member (nor
/// invited) joins the domain's default organization and team.
fn joins_default(sent_groups: bool, seen: &Seen) -> bool {
    !sent_groups && !seen.was_member && seen.invitations.is_empty()
}

/// JIT off: only members and invitees get in.
fn denied_without_jit(seen: &Seen) -> bool {
    !seen.was_member && seen.invitations.is_empty()
}

impl LoginContext<'_> {
    /// Reads the account and what it has in the organization.
    pub(super) async fn read(&self) -> Result<Seen, StoreError> {
        let store = &self.host.store;
        let found = Reader::Store(store).find(&self.provider.id, &self.principal).await?;
        let was_member = match found.account() {
            Some(account) => !store.memberships(&account.id, Some(&self.org.id)).await?.is_empty(),
            None => false,
        };
        let email = found.account().map_or(self.principal.email.as_str(), |a| a.email.as_str());
        let invitations = store.pending_invitations(&self.org.id, email).await?;
        Ok(Seen { found, was_member, invitations })
    }

    /// Steps 3–5 as decisions.
    pub(super) async fn decide(&self, seen: &Seen, trail: &mut Trail) -> Result<Plan, LoginError> {
        let principal = &self.principal;
        // 3. The account: linked, found by email, or created.
        let (who, link) = match &seen.found {
            Found { linked: Some(account), .. } => (Who::Existing(account.clone()), false),
            Found { by_email, .. } => {
                if !may_link_or_create(principal) {
                    return Err(LoginError::UnverifiedEmail);
                }
                let who = match by_email {
                    Some(account) => Who::Existing(account.clone()),
                    None => Who::New(self.create(trail).await?),
                };
                (who, links_identity(self.provider.kind))
            }
        };
        let account = who.account();
        trail.account = Some(account.id.clone());
        if let Who::Existing(account) = &who {
            Reader::Store(&self.host.store).admits(&self.org.id, account).await.map_err(unavailable)??;
        }
        let names = changed_names(account, principal);

        // 4. Invitations.
        trail.decisions.invitations_accepted = Some(seen.invitations.len());

        // 5. Memberships.
        let mut plan = Plan { who, link, names, idp: None, default_membership: false, access_denied: false };
        let sent_groups = !principal.groups.is_empty();
        if !self.domain.jit {
            plan.access_denied = denied_without_jit(seen);
            return Ok(plan);
        }
        let binding = self.bound.as_ref().map(|b| &b.binding);
        let sync = binding.is_some_and(|b| b.sync_mode == SyncMode::EveryLogin);
        let has_assigner = binding.is_some_and(|b| b.assigner.is_some());
        if runs_assignment(plan.who.is_new(), sync, sent_groups, has_assigner) {
            let view = plugin_account(plan.who.account(), plan.who.is_new());
            let decided = self.decider().assignments(&view, principal).await;
            trail.hooks.push(decided.record);
            trail.shadows.extend(decided.shadow);
            let answer = trail.decisions.assignments.insert(decided.answer?);
            let targets = self.resolve_assignments(answer).await?;
            plan.idp = Some(IdpMemberships { targets, sync });
        } else if joins_default(sent_groups, seen) {
            plan.default_membership = true;
            trail.decisions.default_membership = true;
        }
        Ok(plan)
    }

    /// The creator's decision, judged by the host, as an account not yet
    /// stored.
    async fn create(&self, trail: &mut Trail) -> Result<Account, LoginError> {
        let principal = &self.principal;
        let decided = self.decider().creation(principal).await;
        trail.hooks.push(decided.record);
        trail.shadows.extend(decided.shadow);
        let new = match decided.answer? {
            Creation::Create(new) => new,
            Creation::Deny(denial) => {
                trail.decisions.creation = Some(CreationDecision::Deny(denial.code.clone()));
                return Err(LoginError::Denied { code: denial.code, message: denial.message });
            }
        };
        plugin::judge::created_email(&new, principal).map_err(Rule::Decision)?;
        let base = match &new.username_hint {
            Some(hint) => hint.clone(),
            None => {
                let base = crate::builtin::username_base(principal);
                crate::builtin::username_with_digits(&base, 4, &mut rand::rng())
            }
        };
        let base = plugin::judge::username(&base).map_err(Rule::Decision)?;
        trail.decisions.creation = Some(CreationDecision::Create { username_hint: new.username_hint });
        let username = free_username(self.host, &base).await?;
        let row = NewAccount {
            email: principal.email.clone(),
            username,
            given_name: new.given_name,
            family_name: new.family_name,
            password_hash: None,
            attributes: new.attributes,
        };
        prepare_account(row).map_err(|e| match e {
            StoreError::Invalid { .. } => Rule::CreateText.into(),
            _ => LoginError::Unavailable,
        })
    }

    /// Turns the plugin's names into memberships of the domain's own
    /// organization; a name outside it fails the login with the rule named.
    async fn resolve_assignments(&self, answer: &[Assignment]) -> Result<Vec<MembershipTarget>, LoginError> {
        let (store, org) = (&self.host.store, &self.org);
        // Read the named teams and roles, in order, up to the first name
        // outside the organization; the judge then names that breach.
        let (mut teams, mut roles) = (BTreeMap::new(), BTreeMap::new());
        for a in answer {
            let found = match a {
                Assignment::Organization(name) => *name == org.name,
                Assignment::Team(name) if teams.contains_key(name) => true,
                Assignment::Role(name) if roles.contains_key(name) => true,
                Assignment::Team(name) => {
                    let team = store.team_by_name(&org.id, name).await.map_err(unavailable)?;
                    team.map(|team| teams.insert(name.clone(), team.id)).is_some()
                }
                Assignment::Role(name) => {
                    let role = store.role_by_name(&org.id, name).await.map_err(unavailable)?;
                    role.map(|role| roles.insert(name.clone(), role.id)).is_some()
                }
            };
            if !found {
                break;
            }
        }
        let known = plugin::judge::Organization {
            name: Some(org.name.clone()),
            teams: Some(teams.keys().cloned().collect()),
            roles: Some(roles.keys().cloned().collect()),
        };
        plugin::judge::assignments(answer, &known).map_err(Rule::Decision)?;
        // Every name was judged the organization's, so each resolves.
        let mut targets = vec![MembershipTarget::Organization];
        for a in answer {
            let target = match a {
                Assignment::Organization(_) => Some(MembershipTarget::Organization),
                Assignment::Team(name) => teams.get(name).cloned().map(MembershipTarget::Team),
                Assignment::Role(name) => roles.get(name).cloned().map(MembershipTarget::Role),
            };
            if let Some(target) = target
                && !targets.contains(&target)
            {
                targets.push(target);
            }
        }
        Ok(targets)
    }
}

/// The IdP's names win when they differ (Docker): the new names, or `None`
/// when nothing changes.
fn changed_names(account: &Account, principal: &Principal) -> Option<Names> {
    let given = principal.given_name.as_ref().or(account.given_name.as_ref()).cloned();
    let family = principal.family_name.as_ref().or(account.family_name.as_ref()).cloned();
    (given != account.given_name || family != account.family_name).then_some(Names { given, family })
}

/// `base`, or `base` with random digits appended (more each round) when it
/// is taken.
async fn free_username(host: &Host, base: &str) -> Result<String, LoginError> {
    let mut username = base.to_owned();
    for round in 0..USERNAME_TRIES {
        if !host.store.username_taken(&username).await.map_err(unavailable)? {
            return Ok(username);
        }
        username = crate::builtin::username_with_digits(base, 2 + round.min(6), &mut rand::rng());
    }
    Err(Rule::UsernameUnavailable.into())
}

/// The account as the assignment hook is shown it.
fn plugin_account(account: &Account, newly_created: bool) -> plugin::Account {
    plugin::Account {
        id: account.id.as_str().to_owned(),
        username: account.username.clone(),
        email: account.email.clone(),
        given_name: account.given_name.clone(),
        family_name: account.family_name.clone(),
        newly_created,
    }
}

fn unavailable(_: StoreError) -> LoginError {
    LoginError::Unavailable
}
