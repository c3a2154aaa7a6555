//! Embedding in a gateway: a [`tower::Layer`] that authenticates each
//! request's `Authorization: Bearer` token and hands the downstream service
//! the caller's [`Identity`] as a request extension.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::routing::get;
//! use axum::{Extension, Router};
//! use provisio::engine::Host;
//! use provisio::gateway::{Gateway, Identity};
//! use provisio::session::SessionSigner;
//! use provisio::store::DatabaseUrl;
//!
//! async fn whoami(Extension(identity): Extension<Identity>) -> String {
//!     format!("{} ({}) teams={:?}", identity.username, identity.email, identity.teams)
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The same database and signing key as `provisio serve`.
//! let host = Host::builder().database_url(DatabaseUrl::sqlite_file("provisio.db".as_ref())).build().await?;
//! // `provisio serve`'s issuer is its URL; its audience `provisio`.
//! let signer = SessionSigner::new(
//!     Some(".provisio/session-signing-key.pem".as_ref()),
//!     "http://127.0.0.1:8080",
//!     "provisio",
//!     std::time::Duration::from_secs(900),
//! )?;
//!
//! // Session tokens, with the account's state checked (cached 30 s), and
//! // ID tokens of the domain `acme`, logged in (JIT included) by the host.
//! let gateway = Gateway::local(host, &signer).id_token_domain("acme").build()?;
//!
//! let app: Router = Router::new().route("/whoami", get(whoami)).layer(gateway.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Offline, with no database: session tokens verified against the server's
//! published keys, fetched (and cached) from its JWKS URL:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use provisio::gateway::{Gateway, SessionKeys};
//!
//! let keys = SessionKeys::url("http://127.0.0.1:8080/.well-known/jwks.json", true)?;
//! // The server's issuer and audience: `provisio serve` issues as its own URL.
//! let gateway = Gateway::offline(keys, "http://127.0.0.1:8080", "provisio").build()?;
//! let app: axum::Router = axum::Router::new().layer(gateway.layer());
//! # Ok(()) }
//! ```
//!
//! # What is accepted
//!
//! The token is read from `Authorization: Bearer <token>` and is either:
//!
//! - a **session token**, as `POST /v1/login` answers: an EdDSA JWT signed
//!   by the server's [`SessionSigner`]. A token
//!   whose `iss` is the session issuer ([`SessionSigner::issuer`]: the
//!   server's `issuer` setting, its URL under `provisio serve`) is a
//!   session token, and is only ever verified as
//!   one: algorithm `EdDSA`, a key of the session keys chosen by the token's
//!   `kid`, the session audience, and an unexpired `exp` (with
//!   [`GatewayBuilder::leeway`], 30 s by default). The session issuer must
//!   therefore differ from every identity provider's issuer.
//! - otherwise an **ID token** of an identity provider: when the gateway has
//!   a [`Host`] and an [`id_token_domain`](GatewayBuilder::id_token_domain),
//!   the token goes through [`Host::login`] with that domain, the same flow
//!   as `POST /v1/login` (verification, just-in-time provisioning, the
//!   audit event). Every request carrying an ID token is one login: a client
//!   that makes many requests should exchange its ID token for a session
//!   token at `POST /v1/login` once. Without a host or a domain, ID tokens
//!   are refused (401).
//!
//! # Modes
//!
//! - **Local** ([`Gateway::local`]): the gateway has a [`Host`] over the
//!   server's database and the server's signing key. Besides ID tokens, it
//!   checks the state of the account a session token names against the
//!   store: a locked or disabled account is refused (403), a deleted one is
//!   refused (401). The answer is cached per account for
//!   [`account_check_ttl`](GatewayBuilder::account_check_ttl) (30 s by
//!   default), so **a locked account's session tokens stop working within
//!   that time**; the cache holds at most
//!   [`account_cache_capacity`](GatewayBuilder::account_cache_capacity)
//!   accounts (10,000 by default).
//! - **Offline** ([`Gateway::offline`]): only the session keys, given as a
//!   JWKS document or fetched from the server's `/.well-known/jwks.json`
//!   (cached 5 minutes, fetched again at once, at most every 30 s, when a
//!   token names an unknown `kid`). There is **no account-state check**: a
//!   locked account's session tokens keep working until they expire
//!   ([`SessionSigner::ttl`]: the server's `session_ttl_secs`, 15 minutes
//!   by default). [`GatewayBuilder::host`] adds a host to an offline
//!   gateway, which then checks account states and accepts ID tokens.
//!
//! # Answers
//!
//! Refusals never reach the downstream service and answer JSON
//! `{ "code", "message", "request_id" }`, the HTTP API's error form, with
//! the request's `x-request-id` (the client's, or a new one):
//! 401 `unauthorized` (no token, a malformed, forged, expired or foreign
//! token) or `authentication-failed` (an ID token the domain's providers
//! refused); 403 `account-locked`, `account-disabled`, `unverified-email`,
//! `denied`, `access-denied` or `provisioning-failed`; 503 `unavailable`
//! (the store or the keys could not be had); 500 `internal` (the configured
//! domain does not exist).
//!
//! The downstream service reads the [`Identity`] extension. A gateway that
//! forwards requests to an upstream passes it on as headers with
//! [`forward_identity`], which first removes any `X-Provisio-*` header the
//! client sent.

mod headers;
mod layer;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use headers::{
    HEADER_ACCOUNT, HEADER_EMAIL, HEADER_ORG, HEADER_PREFIX, HEADER_ROLES, HEADER_TEAMS, HEADER_USERNAME,
    forward_identity, strip_identity_headers,
};
pub use layer::{GatewayLayer, GatewayService};
pub use verify::Refusal;

use crate::auth::SystemClock;
use crate::auth::oidc::{FetchError, HttpFetcher, JwksCache, JwksCachePolicy, JwksError, KeySet};
use crate::engine::Host;
use crate::session::SessionSigner;
use crate::store::{AccountId, OrgId};

/// Who made a request, as the gateway established it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The account's id.
    pub account_id: AccountId,
    /// The account's email.
    pub email: String,
    /// The account's username.
    pub username: String,
    /// The organization the memberships are in, when the account has any.
    pub org: Option<OrgId>,
    /// Team names, sorted.
    pub teams: Vec<String>,
    /// Role names, sorted.
    pub roles: Vec<String>,
    /// What the request presented.
    pub via: Via,
}

/// The kind of token an [`Identity`] was established from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// A Provisio session token. The memberships are those at its login.
    SessionToken,
    /// An identity provider's ID token, logged in for this request.
    IdToken,
}

/// Where the keys that verify session tokens come from.
#[derive(Debug, Clone)]
pub enum SessionKeys {
    /// A JWKS document the caller holds.
    Static(Arc<KeySet>),
    /// A JWKS URL, fetched and cached.
    Url {
        /// The URL, e.g. `https://provisio.example/.well-known/jwks.json`.
        url: String,
        /// The cache it is fetched through.
        cache: Arc<JwksCache>,
    },
}

/// How long a fetched JWKS document is used.
const JWKS_TTL: Duration = Duration::from_secs(300);

impl SessionKeys {
    /// The keys of a JWKS document, e.g. a [`SessionSigner::jwks`].
    pub fn jwks(jwks: &jsonwebtoken::jwk::JwkSet) -> Result<Self, GatewayError> {
        let value = serde_json::to_value(jwks).map_err(|_| GatewayError::Keys(JwksError::NotJwks))?;
        Ok(Self::Static(Arc::new(KeySet::from_value(&value)?)))
    }

    /// The keys fetched from `url` over HTTPS (or plain HTTP too, with
    /// `allow_http`, e.g. for a server on the same machine), 10 s per fetch.
    pub fn url(url: &str, allow_http: bool) -> Result<Self, GatewayError> {
        let fetcher = HttpFetcher::new(allow_http, Duration::from_secs(10))?;
        let cache = JwksCache::new(Arc::new(fetcher), Arc::new(SystemClock), JwksCachePolicy::default());
        Ok(Self::Url { url: url.into(), cache: Arc::new(cache) })
    }
}

/// Why a gateway could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The session keys are not a usable JWKS document.
    #[error("session keys: {0}")]
    Keys(#[from] JwksError),
    /// The JWKS client could not be made.
    #[error("session keys: {0}")]
    Fetch(#[from] FetchError),
    /// A setting is out of range.
    #[error("{0}")]
    Config(&'static str),
}

/// Builds a [`Gateway`]; from [`Gateway::local`] or [`Gateway::offline`].
pub struct GatewayBuilder {
    keys: Result<SessionKeys, GatewayError>,
    issuer: String,
    audience: String,
    host: Option<Host>,
    id_token_domain: Option<String>,
    account_check_ttl: Duration,
    account_cache_capacity: usize,
    leeway: Duration,
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("has_host", &self.host.is_some())
            .field("id_token_domain", &self.id_token_domain)
            .finish_non_exhaustive()
    }
}

impl GatewayBuilder {
    /// Checks account states against this host's store, and logs ID tokens
    /// in through it (with [`GatewayBuilder::id_token_domain`]).
    pub fn host(mut self, host: Host) -> Self {
        self.host = Some(host);
        self
    }

    /// The domain whose providers verify ID tokens (by name). Without it,
    /// only session tokens are accepted.
    pub fn id_token_domain(mut self, domain: impl Into<String>) -> Self {
        self.id_token_domain = Some(domain.into());
        self
    }

    /// How long an account's state is trusted once read (default 30 s): the
    /// longest a locked account's session tokens keep working. Zero reads
    /// it on every request.
    pub fn account_check_ttl(mut self, ttl: Duration) -> Self {
        self.account_check_ttl = ttl;
        self
    }

    /// Most accounts whose state is cached (default 10,000).
    pub fn account_cache_capacity(mut self, capacity: usize) -> Self {
        self.account_cache_capacity = capacity;
        self
    }

    /// Clock skew allowed on a session token's `exp` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The gateway.
    pub fn build(self) -> Result<Gateway, GatewayError> {
        if self.account_cache_capacity == 0 {
            return Err(GatewayError::Config("the account cache capacity must be at least 1"));
        }
        if self.issuer.is_empty() {
            return Err(GatewayError::Config("the session issuer must not be empty"));
        }
        let inner = verify::Verifier {
            keys: self.keys?,
            issuer: self.issuer,
            audience: self.audience,
            host: self.host,
            id_token_domain: self.id_token_domain,
            accounts: verify::AccountCache::new(self.account_check_ttl, self.account_cache_capacity),
            leeway: self.leeway,
        };
        Ok(Gateway { inner: Arc::new(inner) })
    }
}

/// Authenticates bearer tokens; cheap to clone. [`Gateway::layer`] is its
/// tower layer.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<verify::Verifier>,
}

impl Gateway {
    fn builder(keys: Result<SessionKeys, GatewayError>, issuer: &str, audience: &str) -> GatewayBuilder {
        GatewayBuilder {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            host: None,
            id_token_domain: None,
            account_check_ttl: Duration::from_secs(30),
            account_cache_capacity: 10_000,
            leeway: Duration::from_secs(30),
        }
    }

    /// A gateway over a local `host` (the server's database) and the
    /// server's `signer` (its key, issuer and audience).
    pub fn local(host: Host, signer: &SessionSigner) -> GatewayBuilder {
        Self::builder(SessionKeys::jwks(signer.jwks()), signer.issuer(), signer.audience()).host(host)
    }

    /// A gateway with only the session keys, and the server's session
    /// `issuer` and `audience` (its `issuer` and `audience` settings).
    pub fn offline(keys: SessionKeys, issuer: &str, audience: &str) -> GatewayBuilder {
        Self::builder(Ok(keys), issuer, audience)
    }

    /// The caller's identity from an `Authorization` header's value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Identity, Refusal> {
        self.inner.authenticate(authorization).await
    }

    /// The tower layer.
    pub fn layer(&self) -> GatewayLayer {
        GatewayLayer::new(self.clone())
    }
}
