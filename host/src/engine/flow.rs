//! The normative login flow (DESIGN.md, "The login flow"), in its order:
//! resolve the domain (1), authenticate with its providers in order (2),
//! find or create the account (3), accept invitations (4), apply
//! memberships (5), and commit it all in one transaction with its audit
//! event (6).
//!
//! Plugins never run inside a transaction. Once the principal is known, a
//! login **reads** what it needs outside any transaction
//! ([`super::plan::Seen`]), **decides** steps 3–5 (asking the bound plugins)
//! as a [`super::plan::Plan`], and **applies** the plan in one short
//! transaction that re-checks what the plan rests on
//! ([`super::apply`]). When a concurrent login of the same person changed
//! it (or won a unique constraint), the login starts over from the read.
//! So "one login, one transaction" holds, and a slow plugin never holds the
//! database (on SQLite, the process's one write turn).

use std::sync::Arc;

use tracing::Instrument as _;

use super::apply::Step;
use super::audit::Trail;
use super::decide::{Bound, Decider};
use super::error::Rule;
use super::shadow::ShadowJob;
use super::{Host, LoginError, LoginRequest, LoginSuccess};
use crate::auth::{Chain, Credential, ProviderConfig};
use crate::plugin::{BindingConfig, Principal};
use crate::store::{Domain, Organization, Provider, StoreError};

/// How often a login starts over when a concurrent login of the same person
/// changed what it read (or the database was busy).
const MAX_ATTEMPTS: u32 = 8;

/// A login once its principal is authenticated: everything steps 3–6 use.
pub(super) struct LoginContext<'a> {
    pub(super) host: &'a Host,
    pub(super) org: Organization,
    pub(super) domain: Domain,
    /// The provider that authenticated the principal.
    pub(super) provider: Provider,
    pub(super) principal: Principal,
    /// That provider's binding, with its plugins loaded; `None` for the
    /// built-in providers.
    pub(super) bound: Option<Bound>,
    /// The binding's configuration, as the plugins and built-ins read it.
    pub(super) config: Arc<BindingConfig>,
}

impl LoginContext<'_> {
    /// Who answers the login's questions: the bound plugins or the built-ins.
    pub(super) fn decider(&self) -> Decider<'_> {
        Decider {
            host: self.host,
            org: &self.org.id,
            bound: self.bound.as_ref(),
            config: &self.config,
            directory: self.provider.kind == crate::store::ProviderKind::Ldap,
        }
    }
}

/// A failed login, and whether its audit event is already committed.
pub(super) struct Failed {
    pub(super) error: LoginError,
    pub(super) audited: bool,
}

impl From<LoginError> for Failed {
    fn from(error: LoginError) -> Self {
        Self { error, audited: false }
    }
}

pub(super) async fn login(host: &Host, request: LoginRequest) -> Result<LoginSuccess, LoginError> {
    // The domain and provider as resolved: never text the request made up.
    let span = tracing::info_span!("login", domain = tracing::field::Empty, provider = tracing::field::Empty);
    async {
        let mut trail = Trail::start();
        let result = run(host, &request, &mut trail).await;
        // The outcome and rule only: never the credential, nor who tried it.
        let (outcome, rule) = match &result {
            Ok(_) => ("success", None),
            Err(failed) => (failed.error.code(), failed.error.audit_rule()),
        };
        tracing::info!(outcome, rule, "login");
        let result = match result {
            Ok(success) => Ok(success),
            Err(Failed { error, audited }) => {
                if !audited {
                    trail.event_id = record_failure(host, &trail, &error).await;
                }
                Err(error)
            }
        };
        submit_shadows(host, trail);
        result
    }
    .instrument(span)
    .await
}

/// A failed login leaves no trace but its audit event. Failures without an
/// account are counted, not written one row each. A failure to record it
/// is counted and logged, never silent. The event's id, when it has a row
/// of its own.
async fn record_failure(host: &Host, trail: &Trail, error: &LoginError) -> Option<i64> {
    let event = trail.event(Err(error));
    let written = match trail.account {
        None => host.store.count_audit(&event).await.map(|()| None),
        Some(_) => host.store.append_audit(&event).await.map(Some),
    };
    written.unwrap_or_else(|e| {
        host.audit_write_failed(&e);
        None
    })
}

/// Hands the login's shadow calls, if its binding has shadow versions, to
/// the host's shadow queue, once the login's outcome and audit event are
/// settled: they never add to its latency nor change its outcome.
fn submit_shadows(host: &Host, trail: Trail) {
    let (Some(org), Some(principal)) = (trail.org, trail.principal) else { return };
    if trail.shadows.is_empty() {
        return;
    }
    host.submit_shadow(ShadowJob {
        org,
        domain: trail.domain,
        provider: trail.provider,
        account: trail.account,
        login_event: trail.event_id,
        principal,
        calls: trail.shadows,
    });
}

async fn run(host: &Host, request: &LoginRequest, trail: &mut Trail) -> Result<LoginSuccess, Failed> {
    // 1. Resolve the domain.
    let domain = resolve_domain(host, request).await?;
    trail.org = Some(domain.org.clone());
    trail.domain = Some(domain.id.clone());
    tracing::Span::current().record("domain", domain.name.as_str());
    let org = host.store.organization(&domain.org).await.map_err(|_| LoginError::Unavailable)?;
    let org = org.ok_or(LoginError::UnknownDomain)?;

    // 2. Authenticate with the domain's providers, in order.
    let (provider, principal) = authenticate(host, &domain, request, trail).await?;
    trail.provider = Some(provider.name.clone());
    tracing::Span::current().record("provider", provider.name.as_str());

    // 3. The domain vouches for its own people only, in storable text.
    check_principal_text(&principal)?;
    if !vouches_for(&domain, &principal.email) {
        return Err(LoginError::ForeignEmail.into());
    }
    trail.principal = Some(principal.clone());
    let login = prepare(host, org, domain, provider, principal).await?;

    // 3–6: read, decide (plugins, outside any transaction), apply in one
    // transaction; start over when a concurrent login changed what was read.
    for attempt in 1..=MAX_ATTEMPTS {
        trail.restart();
        let seen = login.read().await.map_err(|_| LoginError::Unavailable)?;
        let plan = login.decide(&seen, trail).await?;
        match login.apply(&seen, &plan, trail).await {
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

/// Step 1: the domain named by the request, or claiming the email's domain
/// part (password logins only).
async fn resolve_domain(host: &Host, request: &LoginRequest) -> Result<Domain, LoginError> {
    let found = match (&request.domain, &request.credential) {
        (Some(name), _) => host.store.domain_by_name(name).await,
        (None, Credential::Password { email, .. }) => {
            let email = crate::canonical::normalize_email(email);
            let Some(part) = crate::canonical::domain_of(&email) else {
                return Err(LoginError::UnknownDomain);
            };
            host.store.domain_by_email_domain(part).await
        }
        (None, Credential::IdToken(_)) => return Err(LoginError::DomainRequired),
    };
    found.map_err(|_| LoginError::Unavailable)?.ok_or(LoginError::UnknownDomain)
}

/// Step 2: the domain's providers, in their order; the first success wins,
/// and its principal with it. When none succeeds, one generic failure (the
/// attempts are kept for the audit event only).
async fn authenticate(
    host: &Host,
    domain: &Domain,
    request: &LoginRequest,
    trail: &mut Trail,
) -> Result<(Provider, Principal), LoginError> {
    let chain = chain_for(host, domain)?;
    let accounts = super::accounts::StoreAccounts(&host.store);
    let principal = match chain.authenticate(&domain.name, &request.credential, &accounts, request.source).await {
        Ok(authenticated) => {
            // A directory that could not answer before the winner is worth
            // knowing about even when the login succeeds.
            trail.attempts = authenticated.earlier_attempts();
            authenticated.principal
        }
        Err(failure) => {
            trail.attempts = Some(failure.summary());
            return Err(if failure.unavailable() { LoginError::Unavailable } else { LoginError::AuthenticationFailed });
        }
    };
    let provider = domain.providers.iter().find(|p| p.name == principal.provider).cloned();
    Ok((provider.ok_or(LoginError::AuthenticationFailed)?, principal))
}

/// The domain's providers as a chain, in their order. A stored
/// configuration that no longer reads fails the login (`provider-config`).
fn chain_for(host: &Host, domain: &Domain) -> Result<Chain, LoginError> {
    let mut providers: Vec<&Provider> = domain.providers.iter().collect();
    providers.sort_by_key(|p| p.position);
    let configs = providers
        .into_iter()
        .map(|p| {
            let config: serde_json::Value = serde_json::from_str(&p.config).map_err(|_| Rule::ProviderConfig)?;
            let config = ProviderConfig::from_parts(p.kind.as_str(), &config).map_err(|_| Rule::ProviderConfig)?;
            Ok((p.name.clone(), config))
        })
        .collect::<Result<Vec<_>, Rule>>()?;
    Ok(Chain::new(Arc::clone(&host.auth), configs).map_err(|_| Rule::ProviderConfig)?)
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
    let mut all = texts.into_iter().flatten().chain(p.groups.iter().map(String::as_str)).chain(claims);
    match all.find_map(|text| crate::canonical::text(text).err()) {
        Some(e) => Err(Rule::PrincipalText(e).into()),
        None => Ok(()),
    }
}

/// The login's context: the provider's binding with its plugins loaded
/// (before any transaction) and its configuration.
async fn prepare<'a>(
    host: &'a Host,
    org: Organization,
    domain: Domain,
    provider: Provider,
    principal: Principal,
) -> Result<LoginContext<'a>, LoginError> {
    let binding = host.store.binding(&domain.id, &provider.id).await.map_err(|e| match e {
        StoreError::Corrupt { .. } => Rule::BindingConfig.into(),
        _ => LoginError::Unavailable,
    })?;
    let config = Arc::new(binding.as_ref().map(|b| b.config.clone()).unwrap_or_default());
    let bound = match binding {
        Some(binding) => Some(Bound::load(host, &org.id, binding).await),
        None => None,
    };
    Ok(LoginContext { host, org, domain, provider, principal, bound, config })
}
