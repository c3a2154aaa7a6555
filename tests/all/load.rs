//! Loading: worlds, imports, refusals, and the compile-once caches.

use provisio::runtime::{LoadError, Runtime, RuntimeConfig, World};

use crate::{component, load, runtime};

#[tokio::test]
async fn worlds_names_and_imports_are_reported() {
    let runtime = runtime();
    for (name, world) in [
        ("default-creator", World::IdentityCreatorPlugin),
        ("domain-allowlist", World::IdentityCreatorPlugin),
        ("group-mapper", World::AssignmentProviderPlugin),
        ("noop", World::Provisioner),
    ] {
        let bytes = component(name);
        let plugin = load(&runtime, name).await;
        let info = plugin.info();
        assert_eq!(info.world, world, "{name}");
        assert_eq!(info.name, name);
        assert_eq!(info.hash, Runtime::content_hash(&bytes));
        assert_eq!(info.size_bytes, bytes.len() as u64);
        assert!(
            info.imports.iter().all(|i| i.starts_with("wasi:") || i.starts_with("provisio:plugin/")),
            "{name}: {:?}",
            info.imports
        );
    }
}

#[tokio::test]
async fn refusals_name_the_problem() {
    let runtime = runtime();
    let wrong = runtime.load(&component("hostile-wrong-world")).await.err();
    assert!(
        matches!(&wrong, Some(LoadError::WrongWorld { exports }) if exports.contains("attacker:wrong/greeter")),
        "{wrong:?}"
    );
    let forbidden = runtime.load(&component("hostile-forbidden-import")).await.err();
    assert_eq!(forbidden, Some(LoadError::ForbiddenImport { import: "attacker:exfil/send@0.1.0".into() }));
    assert_eq!(runtime.load(b"not wasm at all").await.err(), Some(LoadError::NotWasm));
    // A core module (the empty one) is not a component.
    assert_eq!(runtime.load(b"\0asm\x01\0\0\0").await.err(), Some(LoadError::CoreModule));
    // A truncated component does not compile.
    let mut truncated = component("noop");
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(runtime.load(&truncated).await.err(), Some(LoadError::Invalid(_))));
    // The runtime is unharmed by all of that.
    load(&runtime, "noop").await;
}

#[tokio::test]
async fn loading_the_same_bytes_twice_compiles_once() {
    let runtime = runtime();
    let first = load(&runtime, "default-creator").await;
    let second = load(&runtime, "default-creator").await;
    assert_eq!(first.info().hash, second.info().hash);
    assert_eq!(first.info().compile_time, second.info().compile_time, "the second load is the cached plugin");
}

#[tokio::test]
async fn artifacts_on_disk_are_reused_and_tampered_ones_are_not_trusted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = || RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() };
    let bytes = component("default-creator");

    let cold = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    let plugin = cold.load(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!plugin.info().from_disk_cache);
    drop(cold);

    let warm = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    let plugin = warm.load(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(plugin.info().from_disk_cache, "a restarted runtime reuses the artifact");
    drop(warm);

    // Flip one byte of every artifact: the host must not deserialize it.
    for entry in std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut artifact = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            let last = artifact.len() - 1;
            artifact[last] ^= 0xff;
            std::fs::write(&path, artifact).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let tampered = Runtime::new(config()).unwrap_or_else(|e| panic!("{e}"));
    let plugin = tampered.load(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!plugin.info().from_disk_cache, "a tampered artifact is recompiled, not loaded");

    // An artifact written with another host's key is not trusted either.
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for entry in std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")).flatten() {
        if entry.path().extension().is_some_and(|e| e == "cwasm") {
            std::fs::copy(entry.path(), other.path().join(entry.file_name())).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let stranger = Runtime::new(RuntimeConfig { cache_dir: Some(other.path().to_owned()), ..RuntimeConfig::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    let plugin = stranger.load(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!plugin.info().from_disk_cache, "another host's artifact is recompiled, not loaded");
}
