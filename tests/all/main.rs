//! Integration tests over the real plugin components built from `plugins/`
//! by `scripts/build-plugins`. One binary with one module per concern.

// Tests fail by panicking.
#![allow(clippy::panic)]

mod auth;
pub(crate) mod boundary;
mod browser;
mod cli;
mod compile_bombs;
mod compile_budget;
mod connections;
mod corrupt;
mod dns_verification;
mod engine;
mod engine_inputs;
mod examples;
mod gateway;
mod hostile;
mod http;
pub(crate) mod ldap;
mod lifting;
mod load;
mod observability;
mod oidc_provider;
mod plugin_projects;
mod races;
mod sched;
mod scim_conformance;
pub(crate) mod serve;
mod store;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use provisio::plugin::{BindingConfig, Limits, Principal};
use provisio::runtime::{CallContext, Plugin, Runtime, RuntimeConfig};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bytes of a built plugin component. Fails loudly when the components
/// have not been built: the tests never skip.
pub fn component(name: &str) -> Vec<u8> {
    let path = root().join("target/plugins").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {} ({e}): build the plugins first with scripts/build-plugins", path.display())
    })
}

/// A recorded principal from `examples/principals/`.
pub fn principal(name: &str) -> Principal {
    let path = root().join("examples/principals").join(format!("{name}.json"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not a principal: {e}", path.display()))
}

/// A runtime with the production defaults and no disk cache.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// Loads a built plugin, failing the test if it is refused.
pub async fn load(runtime: &Runtime, name: &str) -> Plugin {
    runtime.load(&component(name)).await.unwrap_or_else(|e| panic!("{name} was refused: {e}"))
}

/// A call context with the given configuration and limits.
pub fn ctx(config: serde_json::Value, limits: Limits) -> CallContext {
    let config = BindingConfig::from_json(&config).unwrap_or_else(|e| panic!("config: {e}"));
    CallContext { limits, config: Arc::new(config), seed: None }
}

/// The name of each plugin component the build makes, as a constant
/// (`HOSTILE_LOOP` for `hostile-loop`, `GROUP_MAPPER_JS` for the JavaScript
/// group mapper), listed at compile time from the directories under
/// `plugins/` (`provisio-test-plugins`). Tests load plugins by these
/// constants; one no test uses is dead code, and dead code is an error here:
/// a plugin without a test does not compile.
#[deny(dead_code)]
pub mod plugins {
    macro_rules! plugin {
        ($constant:ident, $name:literal) => {
            #[doc = concat!("`", $name, "`")]
            pub(crate) const $constant: &str = $name;
        };
    }
    provisio_test_plugins::foreach_plugin!(plugin);
}

/// A database the tests may use: SQLite in a fresh temporary file, or
/// PostgreSQL in a fresh schema of the database named by
/// `PROVISIO_TEST_DATABASE_URL`. Every `open` connects anew (a separate
/// pool, as a separate host would), to the same data.
pub struct TestDatabase {
    url: provisio::store::DatabaseUrl,
    options: provisio::store::StoreOptions,
    _dir: Option<tempfile::TempDir>,
}

// Like `assert!`, these helpers fail the test at once when the database
// cannot be had: the tests never skip silently.
impl TestDatabase {
    /// SQLite, in a file of a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let url = provisio::store::DatabaseUrl::sqlite_file(&dir.path().join("provisio.db"));
        Self { url, options: Default::default(), _dir: Some(dir) }
    }

    /// PostgreSQL in a new schema, when `PROVISIO_TEST_DATABASE_URL` is
    /// set. Without it the PostgreSQL tests are skipped with a message, but
    /// under CI (`CI` set) they fail: CI must test both backends.
    pub fn postgres() -> Option<Self> {
        const VAR: &str = "PROVISIO_TEST_DATABASE_URL";
        let Ok(url) = std::env::var(VAR) else {
            assert!(std::env::var_os("CI").is_none(), "{VAR} must be set under CI: the store tests need PostgreSQL");
            eprintln!("skipping PostgreSQL store tests: {VAR} is not set");
            return None;
        };
        let schema = format!("provisio_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let options = provisio::store::StoreOptions { schema: Some(schema), ..Default::default() };
        Some(Self { url: url.into(), options, _dir: None })
    }

    /// Every backend the tests run on here: SQLite, and PostgreSQL when
    /// configured.
    pub fn all() -> Vec<Self> {
        std::iter::once(Self::sqlite()).chain(Self::postgres()).collect()
    }

    /// Where it is.
    pub fn url(&self) -> &provisio::store::DatabaseUrl {
        &self.url
    }

    /// The PostgreSQL schema it lives in.
    pub fn schema(&self) -> Option<&str> {
        self.options.schema.as_deref()
    }

    /// The backend it is.
    pub fn kind(&self) -> provisio::store::BackendKind {
        match self.options.schema {
            Some(_) => provisio::store::BackendKind::Postgres,
            None => provisio::store::BackendKind::Sqlite,
        }
    }

    /// Opens a store (migrating on first use).
    pub async fn open(&self) -> provisio::store::Store {
        provisio::store::Store::open_with(&self.url, self.options.clone())
            .await
            .unwrap_or_else(|e| panic!("cannot open the test store at {}: {e}", self.url))
    }

    /// Drops the PostgreSQL schema (the SQLite file goes with the temporary
    /// directory).
    pub async fn cleanup(self) {
        if self.options.schema.is_some() {
            let dropped = self.open().await.drop_schema().await;
            dropped.unwrap_or_else(|e| panic!("cannot drop the test schema: {e}"));
        }
    }
}

/// Runs `test` on a fresh store of every backend in turn, then cleans up.
/// A failure names the backend it happened on.
pub async fn each_store(test: impl AsyncFn(provisio::store::Store) -> anyhow::Result<()>) -> anyhow::Result<()> {
    for db in TestDatabase::all() {
        let store = db.open().await;
        let result = test(store.clone()).await;
        store.close().await;
        result.with_context(|| format!("on {}", db.kind()))?;
        db.cleanup().await;
    }
    Ok(())
}
