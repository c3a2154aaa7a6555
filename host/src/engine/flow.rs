//! The normative login flow (DESIGN.md, "The login flow"): resolve the
//! domain, authenticate, find or create the account, accept invitations,
//! apply memberships, and commit it all in one transaction with its audit
//! event.
//!
//! Plugins never run inside a transaction. A login first **reads** what it
//! needs outside any transaction ([`Seen`]), then **decides**: it asks the
//! bound plugins (the account it would create gets its id and username
//! first, so the assignment hook is shown them) and turns their answers into
//! a [`Plan`]; then it **applies** the plan in one short transaction that
//! re-checks what the plan rests on. When a concurrent login of the same
//! person changed it (or won a unique constraint), the login starts over
//! from the read. So "one login, one transaction" holds, and a slow plugin
//! never holds the database (on SQLite, the process's one write turn).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::decide::{self, Bound, HookRecord};
use super::{Host, LoginError, LoginRequest, LoginSuccess};
use crate::auth::{Chain, Credential, ProviderConfig};
use crate::plugin::{self, Assignment, BindingConfig, Creation, Principal};
use crate::store::{
    Account, AccountState, Domain, Invitation, Membership, MembershipSource, MembershipTarget, NewAccount,
    NewAuditEvent, Organization, Provider, ProviderKind, StoreError, SyncMode, Tx, normalize_email, now_ms,
    prepare_account,
};

/// How often a login starts over when a concurrent login of the same person
/// changed what it read (or the database was busy).
const MAX_ATTEMPTS: u32 = 8;
/// How many usernames with new random digits are tried for a clash.
const USERNAME_TRIES: u32 = 6;

/// Everything the audit event records besides the outcome.
#[derive(Default)]
struct Trail {
    org: Option<crate::store::OrgId>,
    domain: Option<crate::store::DomainId>,
    provider: Option<String>,
    account: Option<crate::store::AccountId>,
    attempts: Option<String>,
    hooks: Vec<HookRecord>,
    decisions: serde_json::Map<String, serde_json::Value>,
}

impl Trail {
    fn event(&self, outcome: &str, rule: Option<String>, started: Instant) -> NewAuditEvent {
        let detail = json!({
            "attempts": self.attempts,
            "hooks": self.hooks,
            "decisions": self.decisions,
            "duration_us": u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
        NewAuditEvent {
            at: now_ms(),
            org: self.org.clone(),
            domain: self.domain.clone(),
            provider: self.provider.clone(),
            account: self.account.clone(),
            outcome: outcome.to_owned(),
            rule,
            detail: detail.to_string(),
        }
    }
}

pub(super) async fn login(host: &Host, request: LoginRequest) -> Result<LoginSuccess, LoginError> {
    let started = Instant::now();
    let mut trail = Trail::default();
    match run(host, &request, &mut trail, started).await {
        Ok(success) => Ok(success),
        Err(Failed { error, audited: true }) => Err(error),
        Err(Failed { error, audited: false }) => {
            // A failed login leaves no trace but its audit event. Failures
            // without an account are counted, not written one row each.
            let failure = super::error::Failure::from(error.clone());
            let event = trail.event(error.code(), failure.rule, started);
            let _ = match trail.account {
                None => host.store.count_audit(&event).await,
                Some(_) => host.store.append_audit(&event).await.map(|_| ()),
            };
            Err(error)
        }
    }
}

/// A failed login, and whether its audit event is already committed.
struct Failed {
    error: LoginError,
    audited: bool,
}

impl From<LoginError> for Failed {
    fn from(error: LoginError) -> Self {
        Self { error, audited: false }
    }
}

/// What a login knows once the principal is authenticated.
struct Login<'a> {
    host: &'a Host,
    org: Organization,
    domain: Domain,
    provider: Provider,
    principal: Principal,
    bound: Option<Bound>,
    config: Arc<BindingConfig>,
}

async fn run(host: &Host, request: &LoginRequest, trail: &mut Trail, started: Instant) -> Result<LoginSuccess, Failed> {
    // 1. Resolve the domain.
    let domain = resolve_domain(host, request).await?;
    trail.org = Some(domain.org.clone());
    trail.domain = Some(domain.id.clone());
    let org = host
        .store
        .organization(&domain.org)
        .await
        .map_err(|_| LoginError::Unavailable)?
        .ok_or(LoginError::UnknownDomain)?;

    // 2. Authenticate with the domain's providers, in order.
    let chain = chain_for(host, &domain)?;
    let accounts = super::accounts::StoreAccounts(&host.store);
    let principal = match chain.authenticate(&domain.name, &request.credential, &accounts, request.source).await {
        Ok(authenticated) => authenticated.principal,
        Err(failure) => {
            trail.attempts = Some(failure.summary());
            let error = if failure.unavailable() { LoginError::Unavailable } else { LoginError::AuthenticationFailed };
            return Err(error.into());
        }
    };
    let provider = domain
        .providers
        .iter()
        .find(|p| p.name == principal.provider)
        .cloned()
        .ok_or(LoginError::AuthenticationFailed)?;
    trail.provider = Some(provider.name.clone());

    // 3. The domain vouches for its own people only, in storable text.
    check_principal_text(&principal)?;
    if !vouches_for(&domain, &principal.email) {
        return Err(LoginError::ForeignEmail.into());
    }

    let binding = host.store.binding(&domain.id, &provider.id).await.map_err(|_| LoginError::Unavailable)?;
    let config = Arc::new(decide::config_of(binding.as_ref())?);
    let bound = match binding {
        Some(binding) => Some(Bound::load(host, &org.id, binding).await),
        None => None,
    };
    let login = Login { host, org, domain, provider, principal, bound, config };

    // 3–6: read, decide (plugins, outside any transaction), apply in one
    // transaction; start over when a concurrent login changed what was read.
    for attempt in 1..=MAX_ATTEMPTS {
        trail.hooks.clear();
        trail.decisions.clear();
        let seen = login.read().await.map_err(|_| LoginError::Unavailable)?;
        let plan = login.decide(&seen, trail).await?;
        match login.apply(&seen, plan, trail, started).await {
            Ok(success) => return Ok(success),
            Err(Step::Retry) => {}
            Err(Step::Fail(error)) => return Err(error.into()),
            Err(Step::Refused(error)) => return Err(Failed { error, audited: true }),
        }
        let pause = rand::random_range(1..=(5 * u64::from(attempt)));
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
    Err(LoginError::Unavailable.into())
}

/// Whether the domain may vouch for `email`: its domain part is one of the
/// domain's verified email domains.
fn vouches_for(domain: &Domain, email: &str) -> bool {
    crate::canonical::domain_of(email).is_some_and(|d| domain.verified_email_domains.iter().any(|v| v == d))
}

/// Refuses a principal holding text the store would refuse (a NUL, a
/// control or invisible format character), before anything is looked up.
fn check_principal_text(p: &Principal) -> Result<(), LoginError> {
    let texts = [Some(p.subject.as_str()), Some(p.email.as_str()), p.given_name.as_deref(), p.family_name.as_deref()];
    let claims = p.claims.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]);
    let all = texts.into_iter().flatten().chain(p.groups.iter().map(String::as_str)).chain(claims);
    for text in all {
        if let Err(e) = crate::canonical::text(text) {
            return Err(LoginError::Provisioning { rule: format!("principal-{}", e.rule()) });
        }
    }
    Ok(())
}

/// How a transaction ended without success.
enum Step {
    /// What the plan rests on changed, or a concurrent login won a race:
    /// start over from the read.
    Retry,
    /// Fail the login; the transaction is rolled back.
    Fail(LoginError),
    /// The login was refused and the transaction, with its audit event,
    /// committed (JIT off: the account just created stays, without access).
    Refused(LoginError),
}

impl From<LoginError> for Step {
    fn from(e: LoginError) -> Self {
        Self::Fail(e)
    }
}

fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict { .. } | StoreError::Busy(_))
}

fn store_step(e: StoreError) -> Step {
    if retryable(&e) { Step::Retry } else { Step::Fail(LoginError::Unavailable) }
}

/// What a login read before deciding, outside any transaction.
struct Seen {
    /// The account linked to the principal's identity at this provider.
    linked: Option<Account>,
    /// Without a link, the account with the principal's email.
    by_email: Option<Account>,
    /// Whether that account is a member of the domain's organization.
    was_member: bool,
    /// The pending invitations of the email to the organization.
    invitations: Vec<Invitation>,
}

impl Seen {
    fn account(&self) -> Option<&Account> {
        self.linked.as_ref().or(self.by_email.as_ref())
    }
}

/// Who the login is for.
enum Who {
    /// An account that exists.
    Existing(Account),
    /// An account to create (its id and username chosen already).
    New(Account),
}

impl Who {
    fn account(&self) -> &Account {
        match self {
            Self::Existing(a) | Self::New(a) => a,
        }
    }
}

/// What the transaction will write.
struct Plan {
    who: Who,
    /// Link the principal's identity to the account.
    link: bool,
    /// New given and family names, when the IdP sent different ones.
    names: Option<(Option<String>, Option<String>)>,
    /// The IdP's memberships, and whether IdP memberships outside them go.
    idp: Option<(Vec<MembershipTarget>, bool)>,
    /// Add the default organization and team.
    default_membership: bool,
    /// JIT off and neither a member nor invited.
    access_denied: bool,
}

impl Login<'_> {
    /// Reads the account and what it has in the organization.
    async fn read(&self) -> Result<Seen, StoreError> {
        let store = &self.host.store;
        let linked = store.account_by_link(&self.provider.id, &self.principal.subject).await?;
        let by_email = match linked {
            Some(_) => None,
            None => store.account_by_email(&self.principal.email).await?,
        };
        let mut seen = Seen { linked, by_email, was_member: false, invitations: Vec::new() };
        if let Some(account) = seen.account() {
            seen.was_member = !store.memberships(&account.id, Some(&self.org.id)).await?.is_empty();
        }
        let email = seen.account().map_or(self.principal.email.clone(), |a| a.email.clone());
        seen.invitations = store.pending_invitations(&self.org.id, &email).await?;
        Ok(seen)
    }

    /// Steps 3–5 as decisions: the account (the creator decides a new one),
    /// and the memberships (the assignment provider decides the IdP's).
    async fn decide(&self, seen: &Seen, trail: &mut Trail) -> Result<Plan, LoginError> {
        let principal = &self.principal;
        let (who, link) = match (&seen.linked, &seen.by_email) {
            (Some(account), _) => (Who::Existing(account.clone()), false),
            (None, found) => {
                // Linking to, or creating, an account needs a verified email.
                if !principal.email_verified {
                    return Err(LoginError::UnverifiedEmail);
                }
                let who = match found {
                    Some(account) => Who::Existing(account.clone()),
                    None => Who::New(self.create(trail).await?),
                };
                (who, self.provider.kind != ProviderKind::Password)
            }
        };
        let account = who.account();
        trail.account = Some(account.id.clone());
        refuse_state(account)?;
        let newly_created = matches!(who, Who::New(_));
        if !newly_created && self.host.store.is_suspended(&self.org.id, &account.id).await.map_err(unavailable)? {
            return Err(LoginError::AccountSuspended);
        }
        // The IdP's names win when they differ (Docker).
        let given = principal.given_name.as_ref().or(account.given_name.as_ref()).cloned();
        let family = principal.family_name.as_ref().or(account.family_name.as_ref()).cloned();
        let names = (given != account.given_name || family != account.family_name).then_some((given, family));
        trail.decisions.insert("invitations_accepted".into(), json!(seen.invitations.len()));

        let mut plan = Plan { who, link, names, idp: None, default_membership: false, access_denied: false };
        if self.domain.jit {
            let binding = self.bound.as_ref().map(|b| &b.binding);
            let sync = binding.is_some_and(|b| b.sync_mode == SyncMode::EveryLogin);
            let has_assigner = binding.is_some_and(|b| b.assigner.is_some());
            if (newly_created || sync) && (!principal.groups.is_empty() || has_assigner) {
                let view = plugin_account(plan.who.account(), newly_created);
                let decided =
                    decide::assignments(self.host, &self.org.id, self.bound.as_ref(), &self.config, &view, principal)
                        .await;
                trail.hooks.push(decided.record);
                let answer = decided.answer?;
                trail.decisions.insert("assignments".into(), json!(answer));
                plan.idp = Some((self.resolve_assignments(&answer).await?, sync));
            } else if principal.groups.is_empty() && !seen.was_member && seen.invitations.is_empty() {
                plan.default_membership = true;
                trail.decisions.insert("default_membership".into(), json!(true));
            }
        } else {
            plan.access_denied = !seen.was_member && seen.invitations.is_empty();
        }
        Ok(plan)
    }

    /// The creator's decision, validated, as an account not yet stored.
    async fn create(&self, trail: &mut Trail) -> Result<Account, LoginError> {
        let principal = &self.principal;
        let decided = decide::creation(self.host, &self.org.id, self.bound.as_ref(), &self.config, principal).await;
        trail.hooks.push(decided.record);
        let new = match decided.answer? {
            Creation::Create(new) => new,
            Creation::Deny(denial) => {
                trail.decisions.insert("creation".into(), json!({"deny": denial.code}));
                return Err(LoginError::Denied { code: denial.code, message: denial.message });
            }
        };
        // The host judges the decision before acting on it (`plugin::judge`).
        let refused = |rule: plugin::judge::Rule| LoginError::Provisioning { rule: rule.into() };
        plugin::judge::created_email(&new, principal).map_err(refused)?;
        let base = match &new.username_hint {
            Some(hint) => plugin::judge::username(hint),
            None => plugin::judge::username(&crate::builtin::username_with_digits(
                &crate::builtin::username_base(principal),
                4,
                &mut rand::rng(),
            )),
        }
        .map_err(refused)?;
        trail.decisions.insert("creation".into(), json!({"create": {"username_hint": new.username_hint}}));
        let username = self.free_username(&base).await?;
        let row = NewAccount {
            email: principal.email.clone(),
            username,
            given_name: new.given_name,
            family_name: new.family_name,
            password_hash: None,
            attributes: new.attributes,
        };
        prepare_account(row).map_err(|e| match e {
            StoreError::Invalid { .. } => LoginError::Provisioning { rule: "create-text".into() },
            _ => LoginError::Unavailable,
        })
    }

    /// `base`, or `base` with random digits appended (more each round) when
    /// it is taken.
    async fn free_username(&self, base: &str) -> Result<String, LoginError> {
        let mut username = base.to_owned();
        for round in 0..USERNAME_TRIES {
            if !self.host.store.username_taken(&username).await.map_err(unavailable)? {
                return Ok(username);
            }
            username = crate::builtin::username_with_digits(base, 2 + round.min(6), &mut rand::rng());
        }
        Err(LoginError::Provisioning { rule: "username-unavailable".into() })
    }

    /// Turns the plugin's names into memberships of the domain's own
    /// organization; a name outside it fails the login with the rule named.
    async fn resolve_assignments(&self, answer: &[Assignment]) -> Result<Vec<MembershipTarget>, LoginError> {
        let (store, org) = (&self.host.store, &self.org);
        // Read the named teams and roles, in order, up to the first name
        // outside the organization; the judge then names that breach.
        let (mut teams, mut roles) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
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
        plugin::judge::assignments(answer, &known).map_err(|rule| LoginError::Provisioning { rule: rule.into() })?;
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

    /// Step 6: applies the plan in one transaction, with the audit event,
    /// after checking that what it rests on still holds.
    async fn apply(&self, seen: &Seen, plan: Plan, trail: &Trail, started: Instant) -> Result<LoginSuccess, Step> {
        let mut tx = self.host.store.begin().await.map_err(store_step)?;
        let account = self.recheck(&mut tx, seen, &plan).await?;
        let newly_created = matches!(plan.who, Who::New(_));
        if let Who::New(new) = &plan.who {
            tx.insert_prepared_account(new).await.map_err(store_step)?;
        }
        if plan.link {
            tx.insert_link(&self.provider.id, &self.principal.subject, &account.id).await.map_err(store_step)?;
        }
        let mut account = account;
        if let Some((given, family)) = &plan.names {
            tx.update_names(&account.id, given.as_deref(), family.as_deref()).await.map_err(store_step)?;
            account.given_name.clone_from(given);
            account.family_name.clone_from(family);
        }

        // 4. Pending invitations are accepted; one naming a team puts the user in it.
        for invitation in &seen.invitations {
            match tx.accept_invitation(&invitation.id).await {
                Ok(()) => {}
                // Accepted (or revoked) meanwhile: read again.
                Err(StoreError::NotFound { .. }) => return Err(Step::Retry),
                Err(e) => return Err(store_step(e)),
            }
            self.add(&mut tx, &account, MembershipTarget::Organization, MembershipSource::Invitation).await?;
            if let Some(team) = &invitation.team {
                self.add(&mut tx, &account, MembershipTarget::Team(team.clone()), MembershipSource::Invitation).await?;
            }
        }

        // 5. Memberships.
        if let Some((desired, sync)) = &plan.idp {
            for target in desired {
                self.add(&mut tx, &account, target.clone(), MembershipSource::Idp).await?;
            }
            if *sync {
                // Memberships from other sources are never removed.
                for existing in tx.memberships(&account.id, &self.org.id).await.map_err(store_step)? {
                    let m = existing.membership;
                    if m.source == MembershipSource::Idp && !desired.contains(&m.target) {
                        tx.remove_membership(&m).await.map_err(store_step)?;
                    }
                }
            }
        }
        if plan.default_membership {
            self.add(&mut tx, &account, MembershipTarget::Organization, MembershipSource::Idp).await?;
            if let Some(team) = &self.domain.default_team {
                self.add(&mut tx, &account, MembershipTarget::Team(team.clone()), MembershipSource::Idp).await?;
            }
        }
        if plan.access_denied {
            if !newly_created {
                return Err(Step::Fail(LoginError::AccessDenied));
            }
            // JIT off: the account just created stays, without access.
            let error = LoginError::AccessDenied;
            let failure = super::error::Failure::from(error.clone());
            commit(tx, trail.event(error.code(), failure.rule, started)).await?;
            return Err(Step::Refused(error));
        }

        let memberships = tx.memberships(&account.id, &self.org.id).await.map_err(store_step)?;
        commit(tx, trail.event("success", None, started)).await?;
        Ok(LoginSuccess {
            account,
            newly_created,
            principal: self.principal.clone(),
            memberships,
            duration: started.elapsed(),
        })
    }

    /// The account the plan is for, as the transaction sees it: the same
    /// one the read found (or still none, for a new one), still allowed in.
    async fn recheck(&self, tx: &mut Tx, seen: &Seen, plan: &Plan) -> Result<Account, Step> {
        let linked = tx.account_by_link(&self.provider.id, &self.principal.subject).await.map_err(store_step)?;
        let by_email = match &linked {
            Some(_) => None,
            None => tx.account_by_email(&self.principal.email).await.map_err(store_step)?,
        };
        let id = |a: &Option<Account>| a.as_ref().map(|a| a.id.clone());
        if id(&linked) != id(&seen.linked) || id(&by_email) != id(&seen.by_email) {
            return Err(Step::Retry);
        }
        match (&plan.who, linked.or(by_email)) {
            (Who::New(new), None) => Ok(new.clone()),
            (Who::Existing(_), Some(now)) => {
                refuse_state(&now)?;
                if tx.suspended(&self.org.id, &now.id).await.map_err(store_step)? {
                    return Err(Step::Fail(LoginError::AccountSuspended));
                }
                Ok(now)
            }
            _ => Err(Step::Retry),
        }
    }

    async fn add(
        &self,
        tx: &mut Tx,
        account: &Account,
        target: MembershipTarget,
        source: MembershipSource,
    ) -> Result<(), Step> {
        let m = Membership { account: account.id.clone(), org: self.org.id.clone(), target, source };
        tx.add_membership(&m).await.map(|_| ()).map_err(store_step)
    }
}

/// Commits the transaction with its audit event.
async fn commit(mut tx: Tx, event: NewAuditEvent) -> Result<(), Step> {
    tx.append_audit(&event).await.map_err(store_step)?;
    tx.commit().await.map_err(store_step)
}

/// A locked or disabled account is refused (AEM).
fn refuse_state(account: &Account) -> Result<(), LoginError> {
    match account.state {
        AccountState::Active => Ok(()),
        AccountState::Locked => Err(LoginError::AccountLocked),
        AccountState::Disabled => Err(LoginError::AccountDisabled),
    }
}

fn unavailable(_: StoreError) -> LoginError {
    LoginError::Unavailable
}

async fn resolve_domain(host: &Host, request: &LoginRequest) -> Result<Domain, LoginError> {
    let found = match (&request.domain, &request.credential) {
        (Some(name), _) => host.store.domain_by_name(name).await,
        (None, Credential::Password { email, .. }) => {
            let email = normalize_email(email);
            let Some(part) = crate::canonical::domain_of(&email) else {
                return Err(LoginError::UnknownDomain);
            };
            host.store.domain_by_email_domain(part).await
        }
        (None, Credential::IdToken(_)) => return Err(LoginError::DomainRequired),
    };
    found.map_err(|_| LoginError::Unavailable)?.ok_or(LoginError::UnknownDomain)
}

fn chain_for(host: &Host, domain: &Domain) -> Result<Chain, LoginError> {
    let mut providers: Vec<&Provider> = domain.providers.iter().collect();
    providers.sort_by_key(|p| p.position);
    let broken = || LoginError::Provisioning { rule: "provider-config".into() };
    let configs = providers
        .into_iter()
        .map(|p| {
            let config: serde_json::Value = serde_json::from_str(&p.config).map_err(|_| broken())?;
            ProviderConfig::from_parts(p.kind.as_str(), &config).map(|c| (p.name.clone(), c)).map_err(|_| broken())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Chain::new(Arc::clone(&host.auth), configs).map_err(|_| broken())
}

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
