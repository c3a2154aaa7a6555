//! Authentication: checks a credential against a domain's providers, in the
//! configured order, and says who it vouches for (a [`Principal`]).
//!
//! This module never touches the database: the caller gives it the
//! providers' configurations and, for passwords, a way to look an account up
//! ([`PasswordAccounts`]) and where to count attempts ([`AttemptLedger`]; by
//! default in memory, the host gives its store so that every node shares
//! the counts). It keeps only caches: the IdPs' keys, and the in-memory
//! throttle when no other ledger is given, in [`AuthServices`], which lives
//! as long as the process. [`check_provider`] checks a provider
//! configuration completely before it is stored.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use provisio::auth::{AuthServices, Chain, Credential, PasswordAccount, ProviderConfig, Secret};
//!
//! let services = Arc::new(AuthServices::builder().build()?);
//! let oidc = ProviderConfig::from_parts("oidc", &serde_json::json!({
//!     "issuer": "https://idp.example.com",
//!     "audience": "provisio",
//!     "jwks_url": "https://idp.example.com/.well-known/jwks.json",
//! }))?;
//! let password = ProviderConfig::from_parts("password", &serde_json::json!({}))?;
//! let chain = Chain::new(services, [("corp-idp".to_owned(), oidc), ("local".to_owned(), password)])?;
//!
//! let accounts: HashMap<String, PasswordAccount> = HashMap::new(); // the caller's store
//! let credential = Credential::IdToken(Secret::new("eyJ…"));
//! let source = Some(std::net::IpAddr::from([192, 0, 2, 10])); // the client's address
//! match chain.authenticate("example.com", &credential, &accounts, source).await {
//!     Ok(done) => println!("{} via {}", done.principal.email, done.principal.provider),
//!     Err(failure) => println!("{failure}"), // always the same generic message
//! }
//! # Ok(()) }
//! ```
//!
//! [`Principal`]: crate::plugin::Principal

mod chain;
mod clock;
pub mod ldap;
pub mod oidc;
mod outcome;
mod password;
mod services;
mod throttle;

use std::fmt;

use zeroize::Zeroizing;

pub use chain::{
    Attempt, AttemptResult, AuthFailure, Authenticated, Chain, ConfigError, Provider, ProviderConfig, check_provider,
    check_provider_update, public_config,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ldap::LdapConfig;
pub use oidc::{OidcConfig, SigningAlgorithm};
pub use outcome::{Answer, Oversized, RejectReason};
pub use password::{
    Argon2Params, HashError, Hasher, LookupError, PasswordAccount, PasswordAccounts, PasswordConfig, PasswordHash,
    hash_password,
};
pub use services::{AuthServices, AuthServicesBuilder, BuildError};
pub use throttle::{
    AttemptKey, AttemptLedger, AttemptRecord, AttemptScope, LedgerFuture, LedgerUnavailable, ReserveError, Throttle,
    ThrottlePolicy,
};

/// The only thing an end user is told when authentication fails, whichever
/// provider refused and why.
pub const PUBLIC_MESSAGE: &str = "authentication failed";

/// Largest ID token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Most groups read from a token.
pub const MAX_GROUPS: usize = 1000;
/// Most bytes in one group name.
pub const MAX_GROUP_BYTES: usize = 256;
/// Most bytes in one claim value (names have their own bounds).
pub const MAX_CLAIM_BYTES: usize = 1024;
/// Most bytes in an email given to the password provider.
pub const MAX_EMAIL_BYTES: usize = 320;
/// Most bytes in a password.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A secret string (a password, a raw token): `Debug` never shows it, and
/// its memory is zeroed when dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself, to check it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// What a user presents to log in.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An email and a password, for the `password` provider; a login (an
    /// email or a login name, as the directory's user filter matches it) and
    /// a password, for the `ldap` providers.
    Password {
        /// The email or login as typed (normalized by the `password`
        /// provider, escaped by the `ldap` ones).
        email: String,
        /// The password.
        password: Secret,
    },
    /// An OpenID Connect ID token (compact JWS), for the `oidc` providers.
    IdToken(Secret),
}
