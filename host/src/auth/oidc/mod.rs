//! The `oidc` provider: verifies an OpenID Connect ID token (a JWT signed by
//! the IdP) and reads the principal from its claims.
//!
//! Signatures are checked by the `jsonwebtoken` crate (RustCrypto backends);
//! this module only chooses the key and the algorithm and checks the claims.
//! A token is accepted when, in this order:
//! 1. it is at most 16 KiB and a compact JWS whose header is JSON;
//! 2. its `alg` is in the provider's allowed list (never `none` or HMAC: the
//!    configuration cannot name them), and its `typ`, if any, is not an
//!    access token's (`at+jwt`); a `crit` header is refused;
//! 3. a key of the provider's JWKS fits its `kid` and `alg` (for a JWKS URL,
//!    an unknown `kid` makes the cache fetch the document again, rate-limited);
//! 4. the signature verifies with that key;
//! 5. `iss` is the configured issuer, `aud` names a configured audience;
//!    when `aud` lists several audiences, `azp` is present, and when `azp`
//!    is present it is a configured audience (OpenID Connect Core 3.1.3.7);
//!    `exp` is not past, nor further ahead than `max_token_lifetime_secs`;
//!    `nbf` and `iat`, when present, are not in the future; all with the
//!    leeway;
//! 6. its claims fit the bounds and the principal's shape (see `claims`).
//!
//! `nonce` is not checked: it belongs to the authorization flow that
//! obtained the token, which is not the host's.
//!
//! A `jwks_url` must be `https://` (plain `http://` only on loopback, when
//! the services allow it) and, unless the services allow private JWKS URLs,
//! must not point at a loopback, private, link-local or other non-public
//! address (see `address`); the fetcher enforces the same at connection.

mod address;
mod claims;
mod fetch;
mod jwks;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use address::NonPublic;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize};

pub use address::JwksAddresses;
pub use fetch::{FetchError, FetchFuture, HttpFetcher, JwksCache, JwksCachePolicy, JwksFetcher};
pub use jwks::{JwksError, KeySet, MAX_JWKS_BYTES, MAX_KEYS};

use super::clock::Clock;
use super::clock::unix_seconds;
use super::outcome::{Answer, Oversized, RejectReason};
use super::{ConfigError, MAX_TOKEN_BYTES};

/// A signature algorithm an `oidc` provider may allow. HMAC algorithms and
/// `none` are deliberately absent: an ID token from an IdP is verified with
/// the IdP's public keys only.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    const ALL: [Self; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JOSE name (`RS256`, …, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm with this JOSE name, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Self::RS256 => A::RS256,
            Self::RS384 => A::RS384,
            Self::RS512 => A::RS512,
            Self::PS256 => A::PS256,
            Self::PS384 => A::PS384,
            Self::PS512 => A::PS512,
            Self::ES256 => A::ES256,
            Self::ES384 => A::ES384,
            Self::EdDSA => A::EdDSA,
        }
    }
}

/// An `oidc` provider's configuration, as stored (JSON) in the provider row.
///
/// ```json
/// { "issuer": "https://idp.example.com", "audience": "provisio",
///   "jwks_url": "https://idp.example.com/.well-known/jwks.json" }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The exact `iss` the IdP's tokens carry.
    pub issuer: String,
    /// The client id(s) the tokens must be meant for (`aud`): a string or a
    /// list of strings.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// The IdP's JWKS document, inline. Exactly one of `jwks` and `jwks_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where to fetch the IdP's JWKS document (`https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// How long a fetched JWKS document is used, in seconds (default 300,
    /// between 10 and 86,400).
    #[serde(default = "default_ttl")]
    pub jwks_cache_ttl_secs: u64,
    /// The claim holding the user's groups (default `groups`). A dotted name
    /// (`realm_access.roles`) reaches into nested objects when no top-level
    /// claim has that exact name.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The claim holding the email (default `email`).
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default
    /// 60, at most 600).
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// How far in the future a token's `exp` may lie, in seconds (default
    /// 86,400, between 60 and 604,800): a token that claims to live longer
    /// (`exp: 1e300`) is refused.
    #[serde(default = "default_max_lifetime")]
    pub max_token_lifetime_secs: u64,
    /// Allowed signature algorithms (default `RS256`, `ES256`, `EdDSA`).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<SigningAlgorithm>,
    /// Treat an email as verified when the token has no `email_verified`
    /// claim at all (default false). For identity providers that never send
    /// the claim but own the email domains they assert, such as Microsoft
    /// Entra ID with its tenant's verified domains. An explicit
    /// `email_verified: false` is never overridden.
    #[serde(default)]
    pub assume_email_verified: bool,
}

fn default_ttl() -> u64 {
    300
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_email_claim() -> String {
    "email".into()
}
fn default_leeway() -> u64 {
    60
}
fn default_max_lifetime() -> u64 {
    86_400
}
fn default_algorithms() -> Vec<SigningAlgorithm> {
    vec![SigningAlgorithm::RS256, SigningAlgorithm::ES256, SigningAlgorithm::EdDSA]
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Debug, Clone)]
enum KeySource {
    Inline(Arc<KeySet>),
    Url(String),
}

/// A configured `oidc` provider, ready to verify tokens.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    config: OidcConfig,
    keys: KeySource,
}

fn field(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Field { field, problem: problem.into() }
}

/// What OpenID Connect providers use of the shared services
/// ([`super::AuthServices`]): the JWKS cache, the clock, and the rules for
/// JWKS URLs.
#[derive(Clone, Copy)]
pub(crate) struct OidcServices<'a> {
    pub(crate) jwks: &'a JwksCache,
    pub(crate) clock: &'a dyn Clock,
    /// Whether a JWKS URL may be plain `http://` on loopback.
    pub(crate) allow_http_loopback: bool,
    /// Which addresses a JWKS URL may point at.
    pub(crate) addresses: JwksAddresses,
}

impl OidcProvider {
    /// Checks the configuration against the services' rules for JWKS URLs.
    pub(crate) fn new(config: OidcConfig, services: OidcServices<'_>) -> Result<Self, ConfigError> {
        if config.issuer.is_empty() {
            return Err(field("issuer", "must not be empty"));
        }
        if config.audience.is_empty() || config.audience.iter().any(String::is_empty) {
            return Err(field("audience", "must name at least one client id, none empty"));
        }
        if !(10..=86_400).contains(&config.jwks_cache_ttl_secs) {
            return Err(field("jwks_cache_ttl_secs", "must be between 10 and 86400"));
        }
        if config.leeway_secs > 600 {
            return Err(field("leeway_secs", "must be at most 600"));
        }
        if !(60..=604_800).contains(&config.max_token_lifetime_secs) {
            return Err(field("max_token_lifetime_secs", "must be between 60 and 604800"));
        }
        if config.algorithms.is_empty() {
            return Err(field("algorithms", "must allow at least one algorithm"));
        }
        if config.groups_claim.is_empty() {
            return Err(field("groups_claim", "must not be empty"));
        }
        if config.email_claim.is_empty() {
            return Err(field("email_claim", "must not be empty"));
        }
        let keys = match (&config.jwks, &config.jwks_url) {
            (Some(doc), None) => KeySource::Inline(Arc::new(KeySet::from_value(doc).map_err(ConfigError::Jwks)?)),
            (None, Some(url)) => {
                check_url(url, services.allow_http_loopback, services.addresses)?;
                KeySource::Url(url.clone())
            }
            _ => return Err(field("jwks", "give exactly one of `jwks` and `jwks_url`")),
        };
        Ok(Self { config, keys })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Verifies `token` and reads the principal from it.
    pub(crate) async fn authenticate(
        &self,
        services: OidcServices<'_>,
        provider: &str,
        domain: &str,
        token: &str,
    ) -> Answer {
        match self.verify(services, token).await {
            Ok(claims) => match claims::principal(claims, &self.config, provider, domain) {
                Ok(p) => Answer::Authenticated(p),
                Err(r) => Answer::Rejected(r),
            },
            Err(r) => Answer::Rejected(r),
        }
    }

    /// Steps 1 to 5: the verified claims.
    async fn verify(&self, services: OidcServices<'_>, token: &str) -> Result<claims::Claims, RejectReason> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(RejectReason::OversizedClaims(Oversized::Token(token.len())));
        }
        let header = Header::read(token)?;
        let alg = SigningAlgorithm::from_name(&header.alg)
            .filter(|a| self.config.algorithms.contains(a))
            .ok_or(RejectReason::UnsupportedAlgorithm)?;
        let kid = header.kid.as_deref();
        let keys = self.key_set(services, false).await?;
        let key = match keys.select(kid, alg) {
            Some(key) => key.clone(),
            None if matches!(self.keys, KeySource::Url(_)) => {
                let keys = self.key_set(services, true).await?;
                keys.select(kid, alg).ok_or(RejectReason::UnknownKey)?.clone()
            }
            None => return Err(RejectReason::UnknownKey),
        };
        let mut validation = jsonwebtoken::Validation::new(alg.jwt());
        // The registered claims are checked below, against the injected clock.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<claims::Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature
                | K::InvalidEcdsaKey
                | K::InvalidEddsaKey
                | K::InvalidRsaKey(_)
                | K::InvalidKeyFormat
                | K::InvalidAlgorithm => RejectReason::BadSignature,
                _ => RejectReason::MalformedToken,
            }
        })?;
        let now = unix_seconds(services.clock.now());
        claims::check_registered(&data.claims, &self.config, now)?;
        Ok(data.claims)
    }

    async fn key_set(&self, services: OidcServices<'_>, refresh: bool) -> Result<Arc<KeySet>, RejectReason> {
        match &self.keys {
            KeySource::Inline(keys) => Ok(keys.clone()),
            KeySource::Url(url) => services
                .jwks
                .keys(url, Duration::from_secs(self.config.jwks_cache_ttl_secs), refresh)
                .await
                .map_err(RejectReason::KeysUnavailable),
        }
    }
}

/// The JOSE header fields this module reads.
struct Header {
    alg: String,
    kid: Option<String>,
}

impl Header {
    fn read(token: &str) -> Result<Self, RejectReason> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(RejectReason::MalformedToken);
        };
        let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| RejectReason::MalformedToken)?;
        let serde_json::Value::Object(header) =
            serde_json::from_slice(&bytes).map_err(|_| RejectReason::MalformedToken)?
        else {
            return Err(RejectReason::MalformedToken);
        };
        if header.contains_key("crit") {
            return Err(RejectReason::MalformedToken);
        }
        match header.get("typ").map(|t| t.as_str()) {
            None => {}
            Some(Some(t)) if !is_access_token_type(t) => {}
            Some(Some(_)) => return Err(RejectReason::WrongTokenType),
            Some(None) => return Err(RejectReason::MalformedToken),
        }
        let alg = match header.get("alg") {
            Some(serde_json::Value::String(a)) => a.clone(),
            _ => return Err(RejectReason::MalformedToken),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(serde_json::Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(RejectReason::MalformedToken),
        };
        Ok(Self { alg, kid })
    }
}

fn is_access_token_type(typ: &str) -> bool {
    let t = typ.to_ascii_lowercase();
    t == "at+jwt" || t == "application/at+jwt"
}

/// A JWKS URL must be `https://` with a host; plain `http://` only on the
/// loopback interface and only when allowed; its host must be an address
/// (or `localhost`) that `addresses` allows, and not a number in another
/// notation of an IPv4 address.
fn check_url(url: &str, allow_http_loopback: bool, addresses: JwksAddresses) -> Result<(), ConfigError> {
    let bad = |problem: String| field("jwks_url", problem);
    let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL".into()))?;
    let host = uri.host().ok_or_else(|| bad("has no host".into()))?;
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip = literal.parse::<IpAddr>().ok();
    let loopback = ip.map_or(address::is_localhost(host), |ip| address::classify(ip) == Some(NonPublic::Loopback));
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_http_loopback && loopback => {}
        _ => return Err(bad("must be an https:// URL".into())),
    }
    let refused = |what: String| {
        bad(format!("points at {what}: JWKS URLs must reach a public address unless the operator allows private ones"))
    };
    match ip {
        Some(ip) if !addresses.allows(ip) => {
            let kind = address::classify(ip).map_or_else(|| "a non-public address".to_owned(), |k| k.to_string());
            Err(refused(format!("{kind} ({ip})")))
        }
        Some(_) => Ok(()),
        None if address::is_localhost(host) && !addresses.allows(IpAddr::from([127, 0, 0, 1])) => {
            Err(refused(format!("a loopback address ({host})")))
        }
        None if address::is_numeric_host(host) => {
            Err(bad(format!("has a numeric host `{host}`: write an IP address in dotted form or a DNS name")))
        }
        None => Ok(()),
    }
}
