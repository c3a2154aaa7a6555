//! Integration tests over the real plugin components built from `plugins/`
//! by `scripts/build-plugins`. One binary with one module per concern.

mod cli;
mod examples;
mod hostile;
mod load;

use std::path::PathBuf;
use std::sync::Arc;

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

/// Every plugin crate under `plugins/examples` and `plugins/hostile` is
/// exercised by some test here: a new plugin without a test fails this.
#[test]
fn every_plugin_has_a_test() {
    let sources = [
        include_str!("examples.rs"),
        include_str!("hostile.rs"),
        include_str!("load.rs"),
        include_str!("cli.rs"),
    ]
    .concat();
    let mut missing = Vec::new();
    for dir in ["plugins/examples", "plugins/hostile", "plugins/python"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let name = entry.map(|e| e.file_name().to_string_lossy().into_owned()).unwrap_or_default();
            if !sources.contains(&format!("\"{name}\"")) {
                missing.push(name);
            }
        }
    }
    assert!(missing.is_empty(), "plugins without a test: {missing:?}");
}
