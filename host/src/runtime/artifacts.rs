//! Precompiled components on disk, keyed by (content hash, engine
//! compatibility hash) and authenticated with a key only this host holds, so
//! that only artifacts this host wrote are ever deserialized.
//!
//! The directory is bounded in bytes: when a new artifact takes it over the
//! bound, the least recently used artifacts (by modification time, which a
//! load refreshes) are deleted until it is back under nine tenths of it. An
//! evicted artifact costs a compile on the plugin's next load.

use std::collections::HashMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

const KEY_FILE: &str = "artifacts.key";
const EXTENSION: &str = "cwasm";

/// A snapshot of the artifact directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ArtifactCacheStats {
    /// Artifacts on disk.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// The bound on that size.
    pub max_bytes: u64,
    /// Artifacts deleted to stay under the bound.
    pub evictions: u64,
}

/// Which file an artifact was read from: device, inode and length.
type FileId = (u64, u64, u64);

/// A directory of precompiled components.
pub(super) struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
    engine_hash: String,
    stats: Mutex<ArtifactCacheStats>,
    /// The artifacts whose MAC this process verified, by content hash: a
    /// plugin evicted from memory and loaded again from the same file is not
    /// read and hashed a second time. A file replaced by another (the only
    /// way this host rewrites one) has another inode and is verified anew.
    verified: Mutex<HashMap<String, FileId>>,
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache in `dir`. The authentication key is
    /// read from `dir/artifacts.key`, created with fresh random bytes and mode
    /// 0600 on first use.
    pub(super) fn open(dir: &Path, engine: &Engine, max_bytes: u64) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let stats = Mutex::new(ArtifactCacheStats { max_bytes, ..ArtifactCacheStats::default() });
        let engine_hash = format!("{:016x}", h.finish());
        let cache = Self { dir: dir.to_owned(), key, engine_hash, stats, verified: Mutex::default() };
        cache.shrink_to(max_bytes)?;
        Ok(cache)
    }

    pub(super) fn stats(&self) -> ArtifactCacheStats {
        *self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn path(&self, content_hash: &str) -> PathBuf {
        self.dir.join(format!("{content_hash}-{}.{EXTENSION}", self.engine_hash))
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
    ///
    /// The artifact is mapped from its file rather than copied, so that only
    /// the pages a plugin's calls touch are resident, and the kernel may drop
    /// them again under memory pressure.
    pub(super) fn load(&self, engine: &Engine, content_hash: &str) -> Option<Component> {
        let path = self.path(content_hash);
        let meta = fs::metadata(&path).ok()?;
        let id = (meta.dev(), meta.ino(), meta.len());
        let mut verified = self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.get(content_hash) != Some(&id) {
            drop(verified);
            let tag = fs::read(mac_path(&path)).ok()?;
            let artifact = fs::read(&path).ok()?;
            self.mac(content_hash, &artifact).verify_slice(&tag).ok()?;
            verified = self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            verified.insert(content_hash.to_owned(), id);
        }
        drop(verified);
        // Recently used artifacts are the last to be evicted; failing to mark
        // one only makes it a little more likely to go.
        let _ = fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(SystemTime::now()));
        // SAFETY: `deserialize_file` trusts the file to hold an artifact
        // produced by `Component::serialize` with a compatible engine, and to
        // stay unchanged while mapped. The HMAC verified above proves that
        // this host wrote these bytes, for this content hash and this engine's
        // compatibility hash: it keeps out artifacts copied from another
        // host, corrupted ones and those of another build. Artifacts are
        // replaced only by renaming a new file over them, which leaves an
        // existing mapping intact and gives the file a new inode (so it is
        // verified again, see `verified`). It does not protect against
        // someone who can write to this directory between the check and the
        // mapping, or who rewrites a verified file in place; such a person can
        // read the key beside the artifacts as well.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize_file(engine, &path) };
        component.ok()
    }

    /// Writes the precompiled artifact for `content_hash` and its MAC, each
    /// atomically.
    pub(super) fn store(&self, content_hash: &str, component: &Component) -> std::io::Result<()> {
        let artifact = component.serialize().map_err(std::io::Error::other)?;
        self.store_artifact(content_hash, &artifact)
    }

    /// Writes a precompiled artifact (this process's, or its compiler
    /// child's) for `content_hash` and its MAC, each atomically.
    pub(super) fn store_artifact(&self, content_hash: &str, artifact: &[u8]) -> std::io::Result<()> {
        let tag = self.mac(content_hash, artifact).finalize().into_bytes();
        let path = self.path(content_hash);
        write_atomically(&self.dir, &path, artifact)?;
        write_atomically(&self.dir, &mac_path(&path), &tag)?;
        let max = {
            let mut stats = self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            stats.files += 1;
            stats.bytes += artifact.len() as u64;
            (stats.bytes > stats.max_bytes).then_some(stats.max_bytes)
        };
        match max {
            Some(max) => self.shrink_to(max - max / 10),
            None => Ok(()),
        }
    }

    /// Deletes the least recently used artifacts until the directory holds at
    /// most `target` bytes of them, and recounts it (other processes may share
    /// the directory).
    fn shrink_to(&self, target: u64) -> std::io::Result<()> {
        let mut artifacts = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.path().extension().is_some_and(|e| e == EXTENSION)
                && let Ok(meta) = entry.metadata()
            {
                artifacts.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), entry.path()));
            }
        }
        artifacts.sort();
        let mut bytes: u64 = artifacts.iter().map(|a| a.1).sum();
        let mut files = artifacts.len() as u64;
        let mut evicted = 0;
        for (_, len, path) in &artifacts {
            if bytes <= target {
                break;
            }
            // Gone already (another process evicted it) counts as gone.
            if fs::remove_file(path).is_ok() {
                evicted += 1;
            }
            let _ = fs::remove_file(mac_path(path));
            bytes -= len;
            files -= 1;
        }
        let mut stats = self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        stats.bytes = bytes;
        stats.files = files;
        stats.evictions += evicted;
        Ok(())
    }
}

/// Where the MAC of the artifact at `path` is kept.
fn mac_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".mac");
    PathBuf::from(name)
}

/// Writes `bytes` to a new file in `dir` and renames it to `path`.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (tmp, mut file) = tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
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
    write_atomically(path.parent().unwrap_or(Path::new(".")), path, &key)?;
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
