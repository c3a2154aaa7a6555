//! Session tokens: short-lived JWTs signed with the host's Ed25519 key
//! (EdDSA), whose public half is published as a JWKS document so that a
//! gateway verifies them offline.
//!
//! The HTTP API issues them at login (`POST /v1/login`) and publishes the
//! keys (`/.well-known/jwks.json`); the [`gateway`](crate::gateway) verifies
//! them. Neither needs the other: both use this module.
//!
//! The key is generated on first start and kept in a PKCS#8 PEM file
//! (created with mode 0600); every later start reads it back, so tokens
//! stay valid across restarts.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::engine::LoginSuccess;
use crate::store::{MembershipKind, OrgId};

/// Why the session signing key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("session signing key {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The key file does not hold an Ed25519 PKCS#8 PEM key.
    #[error("session signing key {path}: not an Ed25519 PKCS#8 PEM private key")]
    Format {
        /// The key file.
        path: String,
    },
    /// The key was refused by the JWT library.
    #[error("session signing key: {0}")]
    Key(String),
}

/// What a session token says. `org` is the id of the organization whose
/// memberships it lists; `teams` and `roles` are names in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The issuer (the server's `HttpConfig::issuer`).
    pub iss: String,
    /// The account id.
    pub sub: String,
    /// The audience (the server's `HttpConfig::audience`).
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// A random token id.
    pub jti: String,
    /// The account's email.
    pub email: String,
    /// The account's username.
    pub username: String,
    /// The organization the memberships are in, when the account has any.
    pub org: Option<String>,
    /// Team names.
    pub teams: Vec<String>,
    /// Role names.
    pub roles: Vec<String>,
}

/// Signs session tokens and publishes the key that verifies them.
pub struct SessionSigner {
    key: EncodingKey,
    kid: String,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSigner").field("kid", &self.kid).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl SessionSigner {
    /// A signer with the key kept at `path` (created when missing), or with
    /// a key generated for this process only when `path` is `None`.
    pub fn new(path: Option<&Path>, issuer: &str, audience: &str, ttl: Duration) -> Result<Self, KeyError> {
        let signing = match path {
            Some(path) => load_or_create(path)?,
            None => generate(),
        };
        let der = pkcs8_v1(&signing).to_pkcs8_der().map_err(|e| KeyError::Key(e.to_string()))?;
        let key = EncodingKey::from_ed_der(der.as_bytes());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).map_err(|e| KeyError::Key(e.to_string()))?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| KeyError::Key(e.to_string()))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self { key, kid, jwks: JwkSet { keys: vec![jwk] }, issuer: issuer.into(), audience: audience.into(), ttl })
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The signing key's id (its RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// How long a token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The tokens' `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The tokens' `aud`.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The claims of a session for this login, issued now.
    pub fn claims(&self, login: &LoginSuccess) -> SessionClaims {
        let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let SessionMemberships { org, teams, roles } = memberships_of(login);
        SessionClaims {
            iss: self.issuer.clone(),
            sub: login.account.id.to_string(),
            aud: self.audience.clone(),
            exp: iat.saturating_add(self.ttl.as_secs()),
            iat,
            jti: hex::encode(rand::random::<[u8; 16]>()),
            email: login.account.email.clone(),
            username: login.account.username.clone(),
            org: org.map(|org| org.to_string()),
            teams,
            roles,
        }
    }

    /// The claims of a session token this signer issued, when its signature,
    /// issuer, audience and expiry hold.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        let jwk = self.jwks.keys.first()?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<SessionClaims>(token, &key, &validation).ok().map(|d| d.claims)
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &SessionClaims) -> Result<String, KeyError> {
        self.sign_any(claims)
    }

    /// Signs any claims with this key (EdDSA, with this key's `kid`): how the
    /// demo's identity provider mints ID tokens.
    pub fn sign_any(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::EdDSA) };
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| KeyError::Key(e.to_string()))
    }
}

/// What a session says of a login's memberships.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SessionMemberships {
    /// The organization the memberships are in (the domain's), if any.
    pub(crate) org: Option<OrgId>,
    /// Its team names, sorted, without duplicates.
    pub(crate) teams: Vec<String>,
    /// Its role names, sorted, without duplicates.
    pub(crate) roles: Vec<String>,
}

/// The organization a login's memberships are in, and its team and role
/// names: what a session token says.
pub(crate) fn memberships_of(login: &LoginSuccess) -> SessionMemberships {
    let mut said = SessionMemberships::default();
    for m in &login.memberships {
        said.org.get_or_insert_with(|| m.membership.org.clone());
        let list = match m.membership.target.kind() {
            MembershipKind::Team => &mut said.teams,
            MembershipKind::Role => &mut said.roles,
            MembershipKind::Organization => continue,
        };
        if !list.contains(&m.name) {
            list.push(m.name.clone());
        }
    }
    said.teams.sort();
    said.roles.sort();
    said
}

fn generate() -> SigningKey {
    let seed = Zeroizing::new(rand::random::<[u8; 32]>());
    SigningKey::from_bytes(&seed)
}

/// The key as PKCS#8 v1 (RFC 8410: the seed, without the public key): the
/// form the key file has always had, and the one the JWT library reads.
fn pkcs8_v1(key: &SigningKey) -> KeypairBytes {
    KeypairBytes { secret_key: key.to_bytes(), public_key: None }
}

fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    let key = generate();
    let pem = pkcs8_v1(&key).to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Key(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key(path)?.ok_or_else(|| KeyError::Format { path: path.display().to_string() })
        }
        Err(e) => Err(io(e)),
    }
}

/// The key in `path`, or `None` when there is no such file.
fn read_key(path: &Path) -> Result<Option<SigningKey>, KeyError> {
    let pem = match std::fs::read_to_string(path) {
        Ok(pem) => Zeroizing::new(pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyError::Io { path: path.display().to_string(), source }),
    };
    SigningKey::from_pkcs8_pem(&pem).map(Some).map_err(|_| KeyError::Format { path: path.display().to_string() })
}
