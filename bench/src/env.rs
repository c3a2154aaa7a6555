//! Paths and environment: the repository, the built plugins and the
//! `provisio` binary, environment variables, random names, the time.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The repository's root (where `target/plugins/` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bytes of `target/plugins/<name>.wasm`.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = repo_root().join("target/plugins").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-plugins first)", path.display()))
}

/// The `provisio` binary next to the running program (`target/release/provisio`
/// for `target/release/login`).
pub fn provisio_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this program");
    let path = exe.parent().expect("this program's directory").join("provisio");
    assert!(
        path.is_file(),
        "no provisio binary at {}: build it with `cargo build --release -p provisio` (or run `scripts/bench`)",
        path.display()
    );
    path
}

/// The environment variable `name` parsed, or `default` when it is unset;
/// panics when it is set but does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v} is not a valid value")),
        _ => default,
    }
}

/// A random lowercase hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(raw)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
