//! What the providers share across logins: the clock, the password hasher,
//! the throttle's policy and ledger, the JWKS cache, and which JWKS URLs are
//! allowed. Build one per process and share it.

use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::ldap::LdapPools;
use super::oidc::{FetchError, HttpFetcher, JwksAddresses, JwksCache, JwksCachePolicy, JwksFetcher, OidcServices};
use super::password::{Argon2Params, HashError, Hasher, PasswordServices};
use super::throttle::{AttemptLedger, Throttle, ThrottlePolicy};

/// Why [`AuthServicesBuilder::build`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The argon2 parameters are invalid.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The HTTPS client could not be set up.
    #[error(transparent)]
    Fetcher(#[from] FetchError),
}

/// The providers' shared state. See [`AuthServices::builder`].
#[derive(Debug)]
pub struct AuthServices {
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    throttle: ThrottlePolicy,
    ledger: Arc<dyn AttemptLedger>,
    jwks: JwksCache,
    allow_http_loopback: bool,
    jwks_addresses: JwksAddresses,
    ldap: LdapPools,
    directory_addresses: JwksAddresses,
}

impl AuthServices {
    /// A builder with the production defaults.
    pub fn builder() -> AuthServicesBuilder {
        AuthServicesBuilder::default()
    }

    /// The clock every check reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The password hasher (also for the caller to hash new passwords).
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// The password throttle's policy.
    pub fn throttle_policy(&self) -> &ThrottlePolicy {
        &self.throttle
    }

    /// Where password attempts are counted.
    pub fn ledger(&self) -> &dyn AttemptLedger {
        &*self.ledger
    }

    /// The JWKS cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Whether `oidc` providers may use a plain-HTTP JWKS URL on loopback.
    pub fn allow_http_loopback(&self) -> bool {
        self.allow_http_loopback
    }

    /// Which addresses a JWKS URL may point at, and the fetcher connect to.
    pub fn jwks_addresses(&self) -> JwksAddresses {
        self.jwks_addresses
    }

    /// What the password provider uses of these services.
    pub(crate) fn password(&self) -> PasswordServices<'_> {
        PasswordServices { hasher: &self.hasher, policy: &self.throttle, ledger: &*self.ledger, clock: &*self.clock }
    }

    /// What OpenID Connect providers use of these services.
    /// The directory providers' connection pools.
    pub(crate) fn ldap_pools(&self) -> &LdapPools {
        &self.ldap
    }

    /// Which addresses directory providers may connect to (the same classes
    /// as JWKS URLs: public ones only unless the operator allows more).
    pub fn directory_addresses(&self) -> JwksAddresses {
        self.directory_addresses
    }

    pub(crate) fn oidc(&self) -> OidcServices<'_> {
        OidcServices {
            jwks: &self.jwks,
            clock: &*self.clock,
            allow_http_loopback: self.allow_http_loopback,
            addresses: self.jwks_addresses,
        }
    }
}

/// Builds [`AuthServices`].
#[derive(Debug)]
pub struct AuthServicesBuilder {
    clock: Arc<dyn Clock>,
    argon2: Argon2Params,
    max_concurrent_hashes: usize,
    throttle: ThrottlePolicy,
    ledger: Option<Arc<dyn AttemptLedger>>,
    jwks: JwksCachePolicy,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    fetch_timeout: Duration,
    allow_http_loopback: bool,
    allow_private_jwks_urls: bool,
    allow_private_directories: bool,
}

impl Default for AuthServicesBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            clock: Arc::new(SystemClock),
            argon2: Argon2Params::default(),
            max_concurrent_hashes: 2 * cores,
            throttle: ThrottlePolicy::default(),
            ledger: None,
            jwks: JwksCachePolicy::default(),
            fetcher: None,
            fetch_timeout: Duration::from_secs(5),
            allow_http_loopback: false,
            allow_private_jwks_urls: false,
            allow_private_directories: false,
        }
    }
}

impl AuthServicesBuilder {
    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Argon2 parameters for new hashes and the dummy hash (default: OWASP's
    /// 19 MiB, 2 passes, 1 lane).
    pub fn argon2(mut self, params: Argon2Params) -> Self {
        self.argon2 = params;
        self
    }

    /// Most password hashes computed at once (default: twice the cores).
    pub fn max_concurrent_hashes(mut self, n: usize) -> Self {
        self.max_concurrent_hashes = n;
        self
    }

    /// The password throttle's policy (default: [`ThrottlePolicy::default`]).
    pub fn throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.throttle = policy;
        self
    }

    /// Where password attempts are counted (default: a [`Throttle`] in this
    /// process, bounded by the policy's `max_tracked`). Give a ledger shared
    /// by every node (the host's store is one) so that N nodes do not allow
    /// N times the guesses.
    pub fn attempt_ledger(mut self, ledger: Arc<dyn AttemptLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The JWKS cache's policy.
    pub fn jwks_cache(mut self, policy: JwksCachePolicy) -> Self {
        self.jwks = policy;
        self
    }

    /// How JWKS documents are fetched (default: [`HttpFetcher`]).
    pub fn fetcher(mut self, fetcher: Arc<dyn JwksFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Time allowed for one JWKS fetch by the default fetcher (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Lets `jwks_url` be plain `http://` on the loopback interface (for
    /// tests and a local IdP; default off). This also lets JWKS URLs point
    /// at loopback addresses (127.0.0.0/8, `::1`, `localhost`) over
    /// `https://`, and the fetcher connect to them; private and link-local
    /// addresses still need [`allow_private_jwks_urls`](Self::allow_private_jwks_urls).
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    /// Lets JWKS URLs point at any address: loopback, private (10/8,
    /// 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
    /// unspecified and other non-public ones (default off). Off, such a URL
    /// is refused when the provider is configured (an IP literal, or the
    /// name `localhost`), and the default fetcher refuses to connect to a
    /// name that resolves only to such addresses (addresses of a name are
    /// filtered at every connection, which also defeats DNS rebinding). A
    /// tenant's provider must not make the server reach its own network.
    pub fn allow_private_jwks_urls(mut self, allow: bool) -> Self {
        self.allow_private_jwks_urls = allow;
        self
    }

    /// Lets directory (`ldap`) providers connect to loopback, private and
    /// link-local addresses (default false: public addresses only). A
    /// directory's name is resolved at each connection and only allowed
    /// addresses are connected to, so a tenant's provider can neither reach
    /// the server's own network nor tell its open ports from closed ones.
    /// An operator whose organizations' directories sit on the internal
    /// network turns this on.
    pub fn allow_private_directories(mut self, allow: bool) -> Self {
        self.allow_private_directories = allow;
        self
    }

    /// The services. Computes one password hash (the dummy).
    pub fn build(self) -> Result<AuthServices, BuildError> {
        // Name the JWT crypto backend rather than rely on feature detection,
        // which would fail at the first verification if another crate ever
        // enabled a second backend. An error means one is installed already.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let jwks_addresses = match (self.allow_private_jwks_urls, self.allow_http_loopback) {
            (true, _) => JwksAddresses::Any,
            (false, true) => JwksAddresses::PublicAndLoopback,
            (false, false) => JwksAddresses::Public,
        };
        let fetcher = match self.fetcher {
            Some(f) => f,
            None => {
                Arc::new(HttpFetcher::with_addresses(self.allow_http_loopback, self.fetch_timeout, jwks_addresses)?)
            }
        };
        let ledger = match self.ledger {
            Some(l) => l,
            None => Arc::new(Throttle::new(self.throttle.max_tracked)),
        };
        Ok(AuthServices {
            hasher: Hasher::new(self.argon2, self.max_concurrent_hashes)?,
            throttle: self.throttle,
            ledger,
            jwks: JwksCache::new(fetcher, self.clock.clone(), self.jwks),
            clock: self.clock,
            allow_http_loopback: self.allow_http_loopback,
            jwks_addresses,
            ldap: LdapPools::default(),
            directory_addresses: if self.allow_private_directories {
                JwksAddresses::Any
            } else {
                JwksAddresses::Public
            },
        })
    }
}
