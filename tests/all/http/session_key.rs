//! The session signing key on disk.

use provisio::http::{AppState, HttpConfig};

use super::{config, ok, state};
use crate::TestDatabase;

/// The signing key is made once, kept with mode 0600, and read back.
#[tokio::test]
async fn the_session_key_persists() {
    let dir = ok(tempfile::tempdir(), "tempdir");
    let path = dir.path().join("session-key.pem");
    let db = TestDatabase::sqlite();
    let store = db.open().await;
    let with_key = || HttpConfig { signing_key_path: Some(path.clone()), ..config() };
    let first = state(&store, with_key()).await;
    let second = state(&store, with_key()).await;
    assert_eq!(first.signer().kid(), second.signer().kid());
    assert_ne!(first.signer().kid(), state(&store, config()).await.signer().kid());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = ok(std::fs::metadata(&path), "metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    ok(std::fs::write(&path, "garbage"), "overwrite");
    let refused = AppState::new(first.host().clone(), with_key());
    assert!(refused.is_err_and(|e| e.to_string().contains("not an Ed25519")));
    store.close().await;
}
