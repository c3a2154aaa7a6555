//! How plugin versions are named: the SHA-256 of their bytes.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A plugin version's name: the SHA-256 of its component's bytes, in
/// lower-case hex. A binding pins one; rolling back is binding an older one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PluginHash(String);

impl PluginHash {
    /// The name of the version made of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// A name read from outside (an API path or body, a stored row). Whether
    /// it names an uploaded version is for the store to say.
    pub fn new(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for PluginHash {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_named_by_the_sha256_of_its_bytes() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(PluginHash::of(b"").as_str(), empty);
        assert_ne!(PluginHash::of(b"a"), PluginHash::of(b"b"));
        assert_eq!(serde_json::to_string(&PluginHash::new("ab")).ok().as_deref(), Some("\"ab\""));
    }
}
