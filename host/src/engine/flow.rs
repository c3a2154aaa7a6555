//! The normative login flow (DESIGN.md, "The login flow"): resolve the
//! domain, authenticate, find or create the account, accept invitations,
//! apply memberships, and commit it all in one transaction with its audit
//! event.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::decide::{self, Bound, HookRecord};
use super::{Host, LoginError, LoginRequest, LoginSuccess};
use crate::auth::{Chain, Credential, ProviderConfig};
use crate::plugin::{self, Assignment, BindingConfig, Creation, Principal, validate};
use crate::store::{
    Account, AccountState, Domain, Membership, MembershipSource, MembershipTarget, NewAccount, NewAuditEvent,
    Organization, Provider, StoreError, SyncMode, Tx, normalize_email, now_ms,
};

/// How often a login is retried when a concurrent login of the same person
/// won a unique constraint (or the database was busy).
const MAX_ATTEMPTS: u32 = 8;
/// How many times a clashing username gets new random digits.
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
    match run(host, &request, &mut trail).await {
        Ok(success) => Ok(success),
        Err(Failed { error, audited: true }) => Err(error),
        Err(Failed { error, audited: false }) => {
            // A failed login leaves no trace but its audit event.
            let failure = super::error::Failure::from(error.clone());
            let event = trail.event(error.code(), failure.rule, started);
            let _ = host.store.append_audit(&event).await;
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

async fn run(host: &Host, request: &LoginRequest, trail: &mut Trail) -> Result<LoginSuccess, Failed> {
    let started = Instant::now();
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
    let authenticated = match chain.authenticate(&domain.name, &request.credential, &accounts).await {
        Ok(a) => a,
        Err(failure) => {
            trail.attempts = Some(failure.summary());
            return Err(
                if failure.unavailable() { LoginError::Unavailable } else { LoginError::AuthenticationFailed }.into()
            );
        }
    };
    let principal = authenticated.principal;
    let provider = domain
        .providers
        .iter()
        .find(|p| p.name == principal.provider)
        .cloned()
        .ok_or(LoginError::AuthenticationFailed)?;
    trail.provider = Some(provider.name.clone());
    let binding = host.store.binding(&domain.id, &provider.id).await.map_err(|_| LoginError::Unavailable)?;
    let config = Arc::new(decide::config_of(binding.as_ref())?);
    let bound = match binding {
        Some(binding) => Some(decide::Bound::load(host, binding).await),
        None => None,
    };

    // 3–6, retried when a concurrent login of the same person won a race.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = host.store.begin().await.map_err(|_| Failed::from(LoginError::Unavailable))?;
        match provision(host, &mut tx, &org, &domain, &provider, bound.as_ref(), &config, &principal, trail).await {
            Ok(mut success) => {
                let event = trail.event("success", None, started);
                let committed = match tx.append_audit(&event).await {
                    Ok(_) => tx.commit().await,
                    Err(e) => Err(e),
                };
                match committed {
                    Ok(()) => {
                        success.duration = started.elapsed();
                        return Ok(success);
                    }
                    Err(e) if retryable(&e) && attempt < MAX_ATTEMPTS => {}
                    Err(_) => return Err(LoginError::Unavailable.into()),
                }
            }
            Err(Step::Retry) if attempt < MAX_ATTEMPTS => {}
            Err(Step::Retry) => return Err(LoginError::Unavailable.into()),
            Err(Step::Fail(error)) => return Err(error.into()),
            Err(Step::CommitThenFail(error)) => {
                // JIT off: the account just created stays, without access.
                let failure = super::error::Failure::from(error.clone());
                let event = trail.event(error.code(), failure.rule, started);
                let committed = match tx.append_audit(&event).await {
                    Ok(_) => tx.commit().await,
                    Err(e) => Err(e),
                };
                match committed {
                    Ok(()) => {
                        return Err(Failed { error, audited: true });
                    }
                    Err(e) if retryable(&e) && attempt < MAX_ATTEMPTS => {}
                    Err(_) => return Err(LoginError::Unavailable.into()),
                }
            }
        }
        trail.hooks.clear();
        trail.decisions.clear();
        let pause = rand::random_range(1..=(5 * u64::from(attempt)));
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
}

fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict { .. } | StoreError::Busy(_))
}

/// How a provisioning step ended without success.
enum Step {
    /// A concurrent login won a race: start the transaction again.
    Retry,
    /// Fail the login; the transaction is rolled back.
    Fail(LoginError),
    /// Fail the login but keep what the transaction did.
    CommitThenFail(LoginError),
}

impl From<LoginError> for Step {
    fn from(e: LoginError) -> Self {
        Self::Fail(e)
    }
}

fn store_step(e: StoreError) -> Step {
    if retryable(&e) { Step::Retry } else { Step::Fail(LoginError::Unavailable) }
}

async fn resolve_domain(host: &Host, request: &LoginRequest) -> Result<Domain, LoginError> {
    let found = match (&request.domain, &request.credential) {
        (Some(name), _) => host.store.domain_by_name(name).await,
        (None, Credential::Password { email, .. }) => {
            let email = normalize_email(email);
            let Some((_, part)) = email.rsplit_once('@') else {
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
    let configs = providers
        .into_iter()
        .map(|p| {
            let config: serde_json::Value = serde_json::from_str(&p.config).unwrap_or(json!({}));
            ProviderConfig::from_parts(p.kind.as_str(), &config).map(|c| (p.name.clone(), c))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| LoginError::Provisioning { rule: "provider-config".into() })?;
    Chain::new(Arc::clone(&host.auth), configs).map_err(|_| LoginError::Provisioning { rule: "provider-config".into() })
}

#[allow(clippy::too_many_arguments)]
async fn provision(
    host: &Host,
    tx: &mut Tx,
    org: &Organization,
    domain: &Domain,
    provider: &Provider,
    bound: Option<&Bound>,
    config: &Arc<BindingConfig>,
    principal: &Principal,
    trail: &mut Trail,
) -> Result<LoginSuccess, Step> {
    // 3. Find the account: by link, then by verified email.
    let linked = tx.account_by_link(&provider.id, &principal.subject).await.map_err(store_step)?;
    let (account, newly_created) = match linked {
        Some(account) => (account, false),
        None => match tx.account_by_email(&principal.email).await.map_err(store_step)? {
            Some(account) => {
                if !principal.email_verified {
                    return Err(LoginError::UnverifiedEmail.into());
                }
                if provider.kind != crate::store::ProviderKind::Password {
                    tx.insert_link(&provider.id, &principal.subject, &account.id).await.map_err(store_step)?;
                }
                (account, false)
            }
            None => {
                if !principal.email_verified {
                    return Err(LoginError::UnverifiedEmail.into());
                }
                let account = create_account(host, tx, bound, config, principal, trail).await?;
                if provider.kind != crate::store::ProviderKind::Password {
                    tx.insert_link(&provider.id, &principal.subject, &account.id).await.map_err(store_step)?;
                }
                (account, true)
            }
        },
    };
    trail.account = Some(account.id.clone());
    match account.state {
        AccountState::Active => {}
        AccountState::Locked => return Err(LoginError::AccountLocked.into()),
        AccountState::Disabled => return Err(LoginError::AccountDisabled.into()),
    }
    // The IdP's names win when they differ.
    let account = update_names(tx, account, principal).await?;

    let before = tx.memberships(&account.id, &org.id).await.map_err(store_step)?;
    let was_member = !before.is_empty();

    // 4. Pending invitations are accepted; one naming a team puts the user in it.
    let invitations = tx.pending_invitations(&org.id, &account.email).await.map_err(store_step)?;
    for invitation in &invitations {
        tx.accept_invitation(&invitation.id).await.map_err(store_step)?;
        add(tx, &account, org, MembershipTarget::Organization, MembershipSource::Invitation).await?;
        if let Some(team) = &invitation.team {
            add(tx, &account, org, MembershipTarget::Team(team.clone()), MembershipSource::Invitation).await?;
        }
    }
    trail.decisions.insert("invitations_accepted".into(), json!(invitations.len()));

    // 5. Memberships.
    if domain.jit {
        let sync = bound.is_some_and(|b| b.binding.sync_mode == SyncMode::EveryLogin);
        let has_assigner = bound.is_some_and(|b| b.binding.assigner.is_some());
        if (newly_created || sync) && (!principal.groups.is_empty() || has_assigner) {
            {
                let view = plugin_account(&account, newly_created);
                let (answer, rec) = decide::assignments(host, bound, config, &view, principal).await?;
                trail.hooks.push(rec);
                trail.decisions.insert("assignments".into(), json!(answer));
                let desired = resolve_assignments(tx, org, &answer).await?;
                apply_idp(tx, &account, org, &desired, sync).await?;
            }
        }
        let member_now = !tx.memberships(&account.id, &org.id).await.map_err(store_step)?.is_empty();
        if principal.groups.is_empty() && !was_member && !member_now {
            add(tx, &account, org, MembershipTarget::Organization, MembershipSource::Idp).await?;
            if let Some(team) = &domain.default_team {
                add(tx, &account, org, MembershipTarget::Team(team.clone()), MembershipSource::Idp).await?;
            }
            trail.decisions.insert("default_membership".into(), json!(true));
        }
    } else if !was_member && invitations.is_empty() {
        return Err(if newly_created {
            Step::CommitThenFail(LoginError::AccessDenied)
        } else {
            Step::Fail(LoginError::AccessDenied)
        });
    }

    let memberships = tx.memberships(&account.id, &org.id).await.map_err(store_step)?;
    Ok(LoginSuccess { account, newly_created, principal: principal.clone(), memberships, duration: Default::default() })
}

async fn create_account(
    host: &Host,
    tx: &mut Tx,
    bound: Option<&Bound>,
    config: &Arc<BindingConfig>,
    principal: &Principal,
    trail: &mut Trail,
) -> Result<Account, Step> {
    let (decision, rec) = decide::creation(host, bound, config, principal).await?;
    trail.hooks.push(rec);
    let new = match decision {
        Creation::Create(new) => new,
        Creation::Deny(denial) => {
            trail.decisions.insert("creation".into(), json!({"deny": denial.code}));
            return Err(LoginError::Denied { code: denial.code, message: denial.message }.into());
        }
    };
    // The host validates the decision before acting on it.
    if normalize_email(&new.email) != normalize_email(&principal.email) {
        return Err(LoginError::Provisioning { rule: "created-email-mismatch".into() }.into());
    }
    let base = match &new.username_hint {
        Some(hint) => hint.to_ascii_lowercase(),
        None => crate::builtin::username_with_digits(&crate::builtin::username_base(principal), 4, &mut rand::rng()),
    };
    if !validate::is_username(&base) {
        return Err(LoginError::Provisioning { rule: "username-form".into() }.into());
    }
    trail.decisions.insert("creation".into(), json!({"create": {"username_hint": new.username_hint}}));
    let mut username = base.clone();
    for round in 0..USERNAME_TRIES {
        let row = NewAccount {
            email: normalize_email(&principal.email),
            username: username.clone(),
            given_name: new.given_name.clone(),
            family_name: new.family_name.clone(),
            password_hash: None,
            attributes: new.attributes.clone(),
        };
        match tx.insert_account(row).await {
            Ok(account) => return Ok(account),
            Err(StoreError::Conflict { what: "account username" }) => {
                // A clash: the host appends random digits, more each round.
                let digits = 2 + round.min(6);
                username = crate::builtin::username_with_digits(&base, digits, &mut rand::rng());
            }
            Err(e) => return Err(store_step(e)),
        }
    }
    Err(LoginError::Provisioning { rule: "username-unavailable".into() }.into())
}

async fn update_names(tx: &mut Tx, mut account: Account, principal: &Principal) -> Result<Account, Step> {
    let given = principal.given_name.as_ref().or(account.given_name.as_ref()).cloned();
    let family = principal.family_name.as_ref().or(account.family_name.as_ref()).cloned();
    if given != account.given_name || family != account.family_name {
        tx.update_names(&account.id, given.as_deref(), family.as_deref()).await.map_err(store_step)?;
        account.given_name = given;
        account.family_name = family;
    }
    Ok(account)
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

/// Turns the plugin's names into memberships of the domain's own organization;
/// a name outside it fails the login with the rule named.
async fn resolve_assignments(
    tx: &mut Tx,
    org: &Organization,
    answer: &[Assignment],
) -> Result<Vec<MembershipTarget>, Step> {
    let mut targets = vec![MembershipTarget::Organization];
    for a in answer {
        let target = match a {
            Assignment::Organization(name) if *name == org.name => MembershipTarget::Organization,
            Assignment::Organization(_) => {
                return Err(LoginError::Provisioning { rule: "assignment-foreign-organization".into() }.into());
            }
            Assignment::Team(name) => match tx.team_by_name(&org.id, name).await.map_err(store_step)? {
                Some(team) => MembershipTarget::Team(team.id),
                None => {
                    return Err(LoginError::Provisioning { rule: "assignment-unknown-team".into() }.into());
                }
            },
            Assignment::Role(name) => match tx.role_by_name(&org.id, name).await.map_err(store_step)? {
                Some(role) => MembershipTarget::Role(role.id),
                None => {
                    return Err(LoginError::Provisioning { rule: "assignment-unknown-role".into() }.into());
                }
            },
        };
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    Ok(targets)
}

/// Adds the IdP's memberships; in sync mode also removes IdP memberships the
/// answer no longer has. Memberships from other sources are never removed.
async fn apply_idp(
    tx: &mut Tx,
    account: &Account,
    org: &Organization,
    desired: &[MembershipTarget],
    sync: bool,
) -> Result<(), Step> {
    for target in desired {
        add(tx, account, org, target.clone(), MembershipSource::Idp).await?;
    }
    if sync {
        for existing in tx.memberships(&account.id, &org.id).await.map_err(store_step)? {
            let m = existing.membership;
            if m.source == MembershipSource::Idp && !desired.contains(&m.target) {
                tx.remove_membership(&m).await.map_err(store_step)?;
            }
        }
    }
    Ok(())
}

async fn add(
    tx: &mut Tx,
    account: &Account,
    org: &Organization,
    target: MembershipTarget,
    source: MembershipSource,
) -> Result<(), Step> {
    let m = Membership { account: account.id.clone(), org: org.id.clone(), target, source };
    tx.add_membership(&m).await.map(|_| ()).map_err(store_step)
}
