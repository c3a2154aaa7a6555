//! A domain's providers in their configured order, and the chain semantics:
//! each provider answers *authenticated*, *rejected* or *not applicable*; the
//! first success wins; when none succeeds, one generic failure, with every
//! attempt's reason kept for the audit log.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plugin::Principal;
use crate::store::ProviderKind;

use super::ldap::{LdapConfig, LdapProvider, LdapServices};
use super::oidc::{JwksError, OidcConfig, OidcProvider};
use super::outcome::{Answer, RejectReason};
use super::password::{self, PasswordAccounts, PasswordConfig};
use super::services::AuthServices;
use super::{Credential, PUBLIC_MESSAGE};

/// Why a provider configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The provider kind is not one the host knows.
    #[error("unknown provider kind `{0}`")]
    UnknownKind(String),
    /// The configuration JSON does not have the kind's shape.
    #[error("invalid provider configuration: {0}")]
    Json(String),
    /// A field has a value out of bounds.
    #[error("`{field}` {problem}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The inline JWKS document is not usable.
    #[error("`jwks`: {0}")]
    Jwks(JwksError),
    /// Two providers of one chain have the same name.
    #[error("two providers are named `{0}`")]
    DuplicateName(String),
    /// A chain has more than one `password` provider (each would count every
    /// failure against the throttle).
    #[error("a domain has at most one password provider")]
    SecondPasswordProvider,
}

/// A provider's kind and configuration. As JSON, adjacently tagged:
/// `{"kind": "oidc", "config": {…}}`; a provider row stores the two parts in
/// two columns, see [`ProviderConfig::from_parts`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "snake_case")]
// A configuration is read once per provider, never in bulk: boxing the
// larger variant would only make every caller's patterns noisier.
#[allow(clippy::large_enum_variant)]
pub enum ProviderConfig {
    /// A `password` provider.
    Password(PasswordConfig),
    /// An `oidc` provider.
    Oidc(OidcConfig),
    /// An `ldap` provider.
    Ldap(LdapConfig),
}

impl ProviderConfig {
    /// Reads a provider row's kind and configuration JSON.
    pub fn from_parts(kind: &str, config: &serde_json::Value) -> Result<Self, ConfigError> {
        let json = |e: serde_json::Error| ConfigError::Json(e.to_string());
        match ProviderKind::parse(kind) {
            Some(ProviderKind::Password) => Ok(Self::Password(PasswordConfig::deserialize(config).map_err(json)?)),
            Some(ProviderKind::Oidc) => Ok(Self::Oidc(OidcConfig::deserialize(config).map_err(json)?)),
            Some(ProviderKind::Ldap) => Ok(Self::Ldap(LdapConfig::deserialize(config).map_err(json)?)),
            None => Err(ConfigError::UnknownKind(kind.chars().take(64).collect())),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Password(_) => ProviderKind::Password,
            Self::Oidc(_) => ProviderKind::Oidc,
            Self::Ldap(_) => ProviderKind::Ldap,
        }
    }

    /// The configuration part without its secrets (the directory's service
    /// account password), as the admin API shows it.
    pub fn public_json(&self) -> serde_json::Value {
        match self {
            Self::Ldap(c) => serde_json::to_value(c.public()).unwrap_or(serde_json::Value::Null),
            other => other.config_json(),
        }
    }

    /// Carries `stored`'s secrets over when this update leaves them out
    /// (they are write-only, so an admin who edits other settings does not
    /// have them).
    pub fn keep_secrets(&mut self, stored: &Self) {
        if let (Self::Ldap(new), Self::Ldap(old)) = (self, stored) {
            new.keep_password(old);
        }
    }

    /// The configuration part, as stored.
    pub fn config_json(&self) -> serde_json::Value {
        let value = match self {
            Self::Password(c) => serde_json::to_value(c),
            Self::Oidc(c) => serde_json::to_value(c),
            Self::Ldap(c) => serde_json::to_value(c),
        };
        value.unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone)]
enum Checker {
    Password,
    Oidc(Box<OidcProvider>),
    Ldap(Box<LdapProvider>),
}

/// One configured provider of a domain.
#[derive(Debug, Clone)]
pub struct Provider {
    name: String,
    checker: Checker,
}

impl Provider {
    /// Checks the configuration and makes the provider.
    pub fn new(name: impl Into<String>, config: ProviderConfig, services: &AuthServices) -> Result<Self, ConfigError> {
        let checker = match config {
            ProviderConfig::Password(PasswordConfig {}) => Checker::Password,
            ProviderConfig::Oidc(c) => Checker::Oidc(Box::new(OidcProvider::new(c, services.oidc())?)),
            ProviderConfig::Ldap(c) => Checker::Ldap(Box::new(LdapProvider::new(c)?)),
        };
        Ok(Self { name: name.into(), checker })
    }

    /// The provider's name inside its domain (the principal's `provider`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The provider's kind.
    pub fn kind(&self) -> ProviderKind {
        match self.checker {
            Checker::Password => ProviderKind::Password,
            Checker::Oidc(_) => ProviderKind::Oidc,
            Checker::Ldap(_) => ProviderKind::Ldap,
        }
    }

    /// This provider's answer to `credential`, presented from `source` when
    /// known (password attempts are throttled per source address too).
    pub async fn authenticate<A: PasswordAccounts + ?Sized>(
        &self,
        services: &AuthServices,
        domain: &str,
        credential: &Credential,
        accounts: &A,
        source: Option<IpAddr>,
    ) -> Answer {
        match (&self.checker, credential) {
            (Checker::Password, Credential::Password { email, password }) => {
                password::authenticate(
                    services.password(),
                    &self.name,
                    domain,
                    email,
                    password.expose(),
                    accounts,
                    source,
                )
                .await
            }
            (Checker::Oidc(oidc), Credential::IdToken(token)) => {
                oidc.authenticate(services.oidc(), &self.name, domain, token.expose()).await
            }
            (Checker::Ldap(ldap), Credential::Password { email: login, password }) => {
                let services = LdapServices {
                    pools: services.ldap_pools(),
                    addresses: services.directory_addresses(),
                    throttle: services.password(),
                };
                ldap.authenticate(services, &self.name, domain, login, password.expose(), source).await
            }
            _ => Answer::NotApplicable,
        }
    }
}

/// Checks a provider's stored kind and configuration completely, as the
/// admin API should before storing it: parsed, and the provider built with
/// these services, so that one that could never work (no keys, a JWKS with
/// no usable key, both `jwks` and `jwks_url`, a URL that is not `https://`
/// or points at a private address, values out of bounds) is refused with
/// what is wrong. Fetches nothing.
pub fn check_provider(
    kind: &str,
    config: &serde_json::Value,
    services: &AuthServices,
) -> Result<ProviderConfig, ConfigError> {
    let parsed = ProviderConfig::from_parts(kind, config)?;
    Provider::new("check", parsed.clone(), services)?;
    Ok(parsed)
}

/// A stored provider configuration as the admin API shows it: without its
/// secrets. Kinds without secrets are shown as stored; an `ldap` one that no
/// longer reads is shown as `{}`.
pub fn public_config(kind: ProviderKind, stored: &str) -> String {
    match kind {
        ProviderKind::Password | ProviderKind::Oidc => stored.to_owned(),
        ProviderKind::Ldap => serde_json::from_str(stored)
            .ok()
            .and_then(|v| ProviderConfig::from_parts(kind.as_str(), &v).ok())
            .map_or_else(|| "{}".to_owned(), |config| config.public_json().to_string()),
    }
}

/// Checks an update of a provider's configuration as [`check_provider`]
/// does, after carrying the stored secrets over where the update leaves
/// them out; the configuration to store.
pub fn check_provider_update(
    kind: ProviderKind,
    update: &serde_json::Value,
    stored: &str,
    services: &AuthServices,
) -> Result<serde_json::Value, ConfigError> {
    let mut parsed = ProviderConfig::from_parts(kind.as_str(), update)?;
    let old = serde_json::from_str(stored).ok().and_then(|v| ProviderConfig::from_parts(kind.as_str(), &v).ok());
    if let Some(old) = old {
        parsed.keep_secrets(&old);
    }
    let json = match parsed {
        // Unchanged, as given, when there is nothing to carry over.
        ProviderConfig::Password(_) | ProviderConfig::Oidc(_) => update.clone(),
        ProviderConfig::Ldap(_) => parsed.config_json(),
    };
    check_provider(kind.as_str(), &json, services)?;
    Ok(json)
}

/// What one provider of the chain answered, without the principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// It authenticated the credential.
    Authenticated,
    /// It rejected the credential, for this reason.
    Rejected(RejectReason),
    /// The credential was not for it.
    NotApplicable,
    /// It could not check the credential (its directory did not answer);
    /// why.
    Unreachable(String),
}

/// One provider's turn, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The provider's name.
    pub provider: String,
    /// The provider's kind.
    pub kind: ProviderKind,
    /// What it answered.
    pub result: AttemptResult,
    /// How long it took.
    pub elapsed: Duration,
}

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Who the credential vouches for; `provider` names the provider that won.
    pub principal: Principal,
    /// Every provider's turn, in order; the last one is the success.
    pub attempts: Vec<Attempt>,
}

/// A failed authentication. Its `Display` is the generic
/// [`PUBLIC_MESSAGE`]; the reasons are in `attempts`, for the audit log only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// Every provider's turn, in order (empty when the domain has none).
    pub attempts: Vec<Attempt>,
}

impl AuthFailure {
    /// True when some provider could not do its work (account lookup or key
    /// fetch failed, directory unreachable) rather than rejecting the
    /// credential: the caller may answer "try again later" instead of
    /// "refused". Says nothing about the account.
    pub fn unavailable(&self) -> bool {
        self.attempts.iter().any(|a| match &a.result {
            AttemptResult::Rejected(r) => r.is_unavailable(),
            AttemptResult::Unreachable(_) => true,
            AttemptResult::Authenticated | AttemptResult::NotApplicable => false,
        })
    }

    /// The reasons, in order, as `provider: code` (for logs and audit).
    pub fn summary(&self) -> String {
        summary(&self.attempts)
    }
}

impl Authenticated {
    /// Every provider's turn, as [`AuthFailure::summary`] writes them, when
    /// one before the winner rejected the credential or could not answer;
    /// `None` when those before all said the credential was not theirs.
    pub fn earlier_attempts(&self) -> Option<String> {
        let noteworthy = self
            .attempts
            .iter()
            .any(|a| matches!(a.result, AttemptResult::Rejected(_) | AttemptResult::Unreachable(_)));
        noteworthy.then(|| summary(&self.attempts))
    }
}

/// Attempts as `provider: code`, in order, comma-separated.
fn summary(attempts: &[Attempt]) -> String {
    let parts: Vec<String> = attempts
        .iter()
        .map(|a| match &a.result {
            AttemptResult::Authenticated => format!("{}: authenticated", a.provider),
            AttemptResult::Rejected(r) => format!("{}: {}", a.provider, r.code()),
            AttemptResult::NotApplicable => format!("{}: not_applicable", a.provider),
            AttemptResult::Unreachable(why) => format!("{}: unreachable ({why})", a.provider),
        })
        .collect();
    parts.join(", ")
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PUBLIC_MESSAGE)
    }
}

impl std::error::Error for AuthFailure {}

/// A domain's providers, in order.
#[derive(Debug, Clone)]
pub struct Chain {
    services: Arc<AuthServices>,
    providers: Vec<Provider>,
}

impl Chain {
    /// Makes each provider (checking its configuration) in the given order.
    /// Names must be unique; at most one `password` provider.
    pub fn new(
        services: Arc<AuthServices>,
        providers: impl IntoIterator<Item = (String, ProviderConfig)>,
    ) -> Result<Self, ConfigError> {
        let mut made: Vec<Provider> = Vec::new();
        for (name, config) in providers {
            if made.iter().any(|p| p.name == name) {
                return Err(ConfigError::DuplicateName(name));
            }
            if config.kind() == ProviderKind::Password && made.iter().any(|p| p.kind() == ProviderKind::Password) {
                return Err(ConfigError::SecondPasswordProvider);
            }
            made.push(Provider::new(name, config, &services)?);
        }
        Ok(Self { services, providers: made })
    }

    /// The providers, in order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The shared services.
    pub fn services(&self) -> &Arc<AuthServices> {
        &self.services
    }

    /// Tries each provider in order; the first that authenticates wins.
    /// `source` is the client's address, when known: password attempts are
    /// throttled per source address as well as per account.
    pub async fn authenticate<A: PasswordAccounts + ?Sized>(
        &self,
        domain: &str,
        credential: &Credential,
        accounts: &A,
        source: Option<IpAddr>,
    ) -> Result<Authenticated, AuthFailure> {
        let mut attempts = Vec::with_capacity(self.providers.len());
        for provider in &self.providers {
            let started = Instant::now();
            let answer = provider.authenticate(&self.services, domain, credential, accounts, source).await;
            let mut attempt = Attempt {
                provider: provider.name.clone(),
                kind: provider.kind(),
                result: AttemptResult::NotApplicable,
                elapsed: started.elapsed(),
            };
            match answer {
                Answer::Authenticated(principal) => {
                    attempt.result = AttemptResult::Authenticated;
                    attempts.push(attempt);
                    return Ok(Authenticated { principal, attempts });
                }
                Answer::Rejected(reason) => attempt.result = AttemptResult::Rejected(reason),
                Answer::Unreachable(why) => attempt.result = AttemptResult::Unreachable(why),
                Answer::NotApplicable => {}
            }
            attempts.push(attempt);
        }
        Err(AuthFailure { attempts })
    }
}
