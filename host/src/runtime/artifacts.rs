//! Precompiled components on disk, keyed by (content hash, engine
//! compatibility hash) and authenticated with a key only this host holds, so
//! that only artifacts this host wrote are ever deserialized.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

const MAC_LEN: usize = 32;
const KEY_FILE: &str = "artifacts.key";

/// A directory of precompiled components.
pub(super) struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
    engine_hash: String,
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache in `dir`. The authentication key is
    /// read from `dir/artifacts.key`, created with fresh random bytes and mode
    /// 0600 on first use.
    pub(super) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(Self { dir: dir.to_owned(), key, engine_hash: format!("{:016x}", h.finish()) })
    }

    fn path(&self, content_hash: &str) -> PathBuf {
        self.dir.join(format!("{content_hash}-{}.cwasm", self.engine_hash))
    }

    fn mac(&self, content_hash: &str, artifact: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_key());
        mac.update(content_hash.as_bytes());
        mac.update(self.engine_hash.as_bytes());
        mac.update(artifact);
        mac
    }

    /// The component precompiled for `content_hash`, if this host wrote a
    /// valid artifact for it with this engine configuration.
    pub(super) fn load(&self, engine: &Engine, content_hash: &str) -> Option<Component> {
        let bytes = fs::read(self.path(content_hash)).ok()?;
        if bytes.len() < MAC_LEN {
            return None;
        }
        let (tag, artifact) = bytes.split_at(MAC_LEN);
        self.mac(content_hash, artifact).verify_slice(tag).ok()?;
        // SAFETY: `deserialize` trusts its input to be an artifact produced by
        // `Component::serialize` with a compatible engine. The HMAC verified
        // above proves that this host wrote these exact bytes with a key no
        // one else holds, for this content hash and this engine's
        // compatibility hash.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, artifact) };
        component.ok()
    }

    /// Writes the precompiled artifact for `content_hash` atomically.
    pub(super) fn store(&self, content_hash: &str, component: &Component) -> std::io::Result<()> {
        let artifact = component.serialize().map_err(std::io::Error::other)?;
        let tag = self.mac(content_hash, &artifact).finalize().into_bytes();
        let path = self.path(content_hash);
        let mut tmp = tempfile_in(&self.dir)?;
        tmp.1.write_all(&tag)?;
        tmp.1.write_all(&artifact)?;
        tmp.1.sync_all()?;
        fs::rename(&tmp.0, path)
    }
}

fn unreachable_key() -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot happen.
    unreachable!("HMAC-SHA256 accepts any key length")
}

fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(bytes) = fs::read(path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let key: [u8; 32] = rand::random();
    let (tmp, mut file) = tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
    file.write_all(&key)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    // Another process may have raced us: whichever key landed is the key.
    let landed = fs::read(path)?;
    <[u8; 32]>::try_from(landed.as_slice()).map_err(|_| std::io::Error::other("artifact key file is corrupt"))
}

/// A new file with a unique name in `dir`, readable by its owner only.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = format!(".tmp-{}-{:016x}", std::process::id(), rand::random::<u64>());
    let path = dir.join(name);
    let file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    Ok((path, file))
}
