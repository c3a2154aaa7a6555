//! One bearer token to an [`Identity`]: which kind of token it is, its
//! verification, and the cached account-state check.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::{Identity, JWKS_TTL, SessionKeys, Via};
use crate::auth::oidc::SigningAlgorithm;
use crate::auth::{Credential, MAX_TOKEN_BYTES, Secret};
use crate::engine::{Host, LoginError, LoginRequest};
use crate::session::{SessionClaims, SessionMemberships, memberships_of};
use crate::store::{AccountId, AccountState, OrgId};

/// Why a request was refused. `Display` is the message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No bearer token, or one that is malformed, forged, expired, for
    /// another audience, or whose account no longer exists.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The session token's account is locked.
    #[error("this account is locked")]
    AccountLocked,
    /// The session token's account is disabled.
    #[error("this account is disabled")]
    AccountDisabled,
    /// The session token's organization has suspended its account.
    #[error("this account is suspended in this organization")]
    AccountSuspended,
    /// The login of an ID token was refused.
    #[error("{}", .0.public_message())]
    Login(LoginError),
    /// The store or the session keys could not be had; retrying may succeed.
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::Login(LoginError::AuthenticationFailed) => StatusCode::UNAUTHORIZED,
            Self::Unavailable | Self::Login(LoginError::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
            // The configured domain is missing: the gateway's fault.
            Self::Login(LoginError::UnknownDomain | LoginError::DomainRequired) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::AccountLocked | Self::AccountDisabled | Self::AccountSuspended | Self::Login(_) => {
                StatusCode::FORBIDDEN
            }
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::AccountLocked => "account-locked",
            Self::AccountDisabled => "account-disabled",
            Self::AccountSuspended => "account-suspended",
            Self::Unavailable => "unavailable",
            Self::Login(LoginError::UnknownDomain | LoginError::DomainRequired) => "internal",
            Self::Login(e) => e.code(),
        }
    }

    /// The message for the client.
    pub fn public_message(&self) -> String {
        match self {
            Self::Login(LoginError::UnknownDomain | LoginError::DomainRequired) => "internal error".into(),
            _ => self.to_string(),
        }
    }
}

/// What the gateway holds.
pub(super) struct Verifier {
    pub(super) keys: SessionKeys,
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) host: Option<Host>,
    pub(super) id_token_domain: Option<String>,
    pub(super) accounts: AccountCache,
    pub(super) leeway: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("has_host", &self.host.is_some())
            .field("id_token_domain", &self.id_token_domain)
            .finish_non_exhaustive()
    }
}

/// The claims read, unverified, to tell the kind of a token.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    iss: Option<String>,
}

#[derive(Deserialize)]
struct PeekHeader {
    #[serde(default)]
    kid: Option<String>,
}

impl Verifier {
    pub(super) async fn authenticate(&self, authorization: Option<&str>) -> Result<Identity, Refusal> {
        let token = bearer(authorization).ok_or(Refusal::Unauthorized)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Unauthorized);
        }
        let (header, payload) = peek(token).ok_or(Refusal::Unauthorized)?;
        if payload.iss.as_deref() == Some(self.issuer.as_str()) {
            let claims = self.verify_session(token, header.kid.as_deref()).await?;
            self.check_account(&claims).await?;
            Ok(identity(claims))
        } else {
            self.login(token).await
        }
    }

    /// A session token's claims, verified.
    async fn verify_session(&self, token: &str, kid: Option<&str>) -> Result<SessionClaims, Refusal> {
        let key = match &self.keys {
            SessionKeys::Static(keys) => keys.select(kid, SigningAlgorithm::EdDSA).cloned(),
            SessionKeys::Url { url, cache } => {
                let keys = cache.keys(url, JWKS_TTL, false).await.map_err(|_| Refusal::Unavailable)?;
                match keys.select(kid, SigningAlgorithm::EdDSA) {
                    Some(key) => Some(key.clone()),
                    // The server may have a new key: fetch again (rate-limited by the cache).
                    None => {
                        let keys = cache.keys(url, JWKS_TTL, true).await.map_err(|_| Refusal::Unavailable)?;
                        keys.select(kid, SigningAlgorithm::EdDSA).cloned()
                    }
                }
            }
        };
        let key = key.ok_or(Refusal::Unauthorized)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.leeway.as_secs();
        let data =
            jsonwebtoken::decode::<SessionClaims>(token, &key, &validation).map_err(|_| Refusal::Unauthorized)?;
        Ok(data.claims)
    }

    /// Refuses the token of an account that is locked, disabled or gone, or
    /// that the token's organization suspended, when the gateway has a store.
    async fn check_account(&self, claims: &SessionClaims) -> Result<(), Refusal> {
        let Some(host) = &self.host else { return Ok(()) };
        let key = format!("{}/{}", claims.sub, claims.org.as_deref().unwrap_or_default());
        let standing = match self.accounts.get(&key) {
            Some(standing) => standing,
            None => {
                let id = AccountId::new(claims.sub.clone());
                let account = host.store().account(&id).await.map_err(|_| Refusal::Unavailable)?;
                let suspended = match &claims.org {
                    Some(org) => {
                        host.store().is_suspended(&OrgId::new(org), &id).await.map_err(|_| Refusal::Unavailable)?
                    }
                    None => false,
                };
                let standing = account.map(|a| if suspended { Standing::Suspended } else { Standing::State(a.state) });
                self.accounts.put(&key, standing);
                standing
            }
        };
        match standing {
            Some(Standing::State(AccountState::Active)) => Ok(()),
            Some(Standing::State(AccountState::Locked)) => Err(Refusal::AccountLocked),
            Some(Standing::State(AccountState::Disabled)) => Err(Refusal::AccountDisabled),
            Some(Standing::Suspended) => Err(Refusal::AccountSuspended),
            None => Err(Refusal::Unauthorized),
        }
    }

    /// Logs an ID token in through the host.
    async fn login(&self, token: &str) -> Result<Identity, Refusal> {
        let (Some(host), Some(domain)) = (&self.host, &self.id_token_domain) else {
            return Err(Refusal::Unauthorized);
        };
        let request = LoginRequest {
            domain: Some(domain.clone()),
            credential: Credential::IdToken(Secret::new(token)),
            source: None,
        };
        let success = host.login(request).await.map_err(Refusal::Login)?;
        let SessionMemberships { org, teams, roles } = memberships_of(&success);
        // A login just read the account: its standing is fresh.
        let key = format!("{}/{}", success.account.id, org.as_ref().map_or("", OrgId::as_str));
        self.accounts.put(&key, Some(Standing::State(success.account.state)));
        Ok(Identity {
            account_id: success.account.id,
            email: success.account.email,
            username: success.account.username,
            org,
            teams,
            roles,
            via: Via::IdToken,
        })
    }
}

fn identity(claims: SessionClaims) -> Identity {
    Identity {
        account_id: AccountId::new(claims.sub),
        email: claims.email,
        username: claims.username,
        org: claims.org.map(OrgId::new),
        teams: claims.teams,
        roles: claims.roles,
        via: Via::SessionToken,
    }
}

/// The token of `Bearer <token>` (the scheme case-insensitively).
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The header and the `iss` of a compact JWS, unverified.
fn peek(token: &str) -> Option<(PeekHeader, Peek)> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some((header, payload))
}

/// Where an account stands for one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// Its platform-wide state.
    State(AccountState),
    /// Suspended by the organization.
    Suspended,
}

/// Accounts' standings by account and organization, each trusted for `ttl`
/// after it was read.
#[derive(Debug)]
pub(super) struct AccountCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, Option<Standing>)>>,
}

impl AccountCache {
    pub(super) fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ttl, capacity, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<Standing>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached standing (`Some(None)`: the account does not exist), when fresh.
    fn get(&self, id: &str) -> Option<Option<Standing>> {
        let entries = self.lock();
        let (at, state) = entries.get(id)?;
        (at.elapsed() < self.ttl).then_some(*state)
    }

    fn put(&self, id: &str, state: Option<Standing>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(id) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            // Still full: drop the oldest.
            if entries.len() >= self.capacity
                && let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(id.to_owned(), (Instant::now(), state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_reads_the_scheme_case_insensitively() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn the_cache_is_bounded_and_expires() {
        let cache = AccountCache::new(Duration::from_secs(60), 2);
        cache.put("a", Some(Standing::State(AccountState::Active)));
        cache.put("b", Some(Standing::Suspended));
        cache.put("c", None);
        assert_eq!(cache.lock().len(), 2);
        assert_eq!(cache.get("a"), None, "the oldest was dropped");
        assert_eq!(cache.get("c"), Some(None));
        let none = AccountCache::new(Duration::ZERO, 2);
        none.put("a", Some(Standing::State(AccountState::Active)));
        assert_eq!(none.get("a"), None);
    }

    #[test]
    fn the_session_issuer_is_read_unverified() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"k"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"provisio"}"#);
        let peeked = peek(&format!("{header}.{payload}.sig")).map(|(h, p)| (h.kid, p.iss));
        assert_eq!(peeked, Some((Some("k".into()), Some("provisio".into()))));
        assert!(peek("a.b").is_none());
    }
}
