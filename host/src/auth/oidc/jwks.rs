//! A JWKS document read into the verification keys it holds, and the choice
//! of the key for one token (by `kid` and algorithm).
//!
//! Keys that cannot verify signatures are left out when the document is read:
//! symmetric (`oct`) keys, encryption keys (`use` other than `sig`), keys
//! whose `key_ops` lack `verify`, curves and key types not supported, and
//! keys that do not parse. A document with no usable key is an error.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};

use super::SigningAlgorithm;

/// Largest JWKS document read, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys read from one document.
pub const MAX_KEYS: usize = 100;

/// Why a JWKS document is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JWKS document (a JSON object with a `keys` array)")]
    NotJwks,
    /// Larger than [`MAX_JWKS_BYTES`] or with more than [`MAX_KEYS`] keys.
    #[error("the JWKS document is too large")]
    TooLarge,
    /// No key in it can verify signatures.
    #[error("the JWKS document has no usable signature key")]
    NoUsableKey,
}

/// Which algorithms a key can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn fits(self, alg: SigningAlgorithm) -> bool {
        use SigningAlgorithm::*;
        match self {
            Self::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Self::P256 => alg == ES256,
            Self::P384 => alg == ES384,
            Self::Ed25519 => alg == EdDSA,
        }
    }
}

/// One verification key.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    kind: KeyKind,
    /// The key's own `alg`, when it names one we know; a key with an `alg`
    /// we do not know is left out.
    alg: Option<SigningAlgorithm>,
    key: DecodingKey,
}

/// The verification keys of one JWKS document.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| (k.kid.as_deref(), k.kind)).collect();
        f.debug_struct("KeySet").field("keys", &kids).finish()
    }
}

impl KeySet {
    /// Reads a JWKS document from its bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| JwksError::NotJwks)?;
        Self::from_value(&doc)
    }

    /// Reads a JWKS document already parsed as JSON.
    pub fn from_value(doc: &serde_json::Value) -> Result<Self, JwksError> {
        let keys = doc.get("keys").and_then(|k| k.as_array()).ok_or(JwksError::NotJwks)?;
        if keys.len() > MAX_KEYS {
            return Err(JwksError::TooLarge);
        }
        let keys: Vec<Key> = keys.iter().filter_map(read_key).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a key set has at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token signed with `alg`: the one with the token's
    /// `kid`; when the token names none, or when no key of the set has a
    /// `kid` at all, the only key that fits `alg`.
    pub(crate) fn select(&self, kid: Option<&str>, alg: SigningAlgorithm) -> Option<&DecodingKey> {
        let fitting = || self.keys.iter().filter(move |k| k.kind.fits(alg) && k.alg.is_none_or(|a| a == alg));
        let only = || {
            let mut all = fitting();
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        };
        let key = match kid {
            Some(kid) if self.keys.iter().any(|k| k.kid.is_some()) => fitting().find(|k| k.kid.as_deref() == Some(kid)),
            _ => only(),
        };
        key.map(|k| &k.key)
    }
}

fn read_key(value: &serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return None;
    }
    if jwk.common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => KeyKind::Ed25519,
        _ => return None,
    };
    // The key's own `alg`, read from the JSON (the crate's enum also lists
    // encryption algorithms).
    let alg = match value.get("alg") {
        None => None,
        Some(a) => Some(a.as_str().and_then(SigningAlgorithm::from_name)?),
    };
    if alg.is_some_and(|a| !kind.fits(a)) {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key { kid: jwk.common.key_id.clone(), kind, alg, key })
}
