//! Loading: worlds, imports, refusals, and the compile-once caches.

use crate::plugins;
use provisio::plugin::PluginHash;
use provisio::runtime::{LoadError, Runtime, RuntimeConfig, World};

use crate::{component, load, runtime};

#[tokio::test]
async fn worlds_names_and_imports_are_reported() {
    let runtime = runtime();
    for (name, world) in [
        (plugins::DEFAULT_CREATOR, World::IdentityCreatorPlugin),
        (plugins::DOMAIN_ALLOWLIST, World::IdentityCreatorPlugin),
        (plugins::GROUP_MAPPER, World::AssignmentProviderPlugin),
        (plugins::NOOP, World::Provisioner),
    ] {
        let bytes = component(name);
        let plugin = load(&runtime, name).await;
        let info = plugin.info();
        assert_eq!(info.world, world, "{name}");
        assert_eq!(info.name, name);
        assert_eq!(info.hash, PluginHash::of(&bytes));
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
    let wrong = runtime.load(&component(plugins::HOSTILE_WRONG_WORLD)).await.err();
    assert!(
        matches!(&wrong, Some(LoadError::WrongWorld { exports }) if exports.contains("attacker:wrong/greeter")),
        "{wrong:?}"
    );
    let forbidden = runtime.load(&component(plugins::HOSTILE_FORBIDDEN_IMPORT)).await.err();
    assert_eq!(forbidden, Some(LoadError::ForbiddenImport { import: "attacker:exfil/send@0.1.0".into() }));
    assert_eq!(runtime.load(b"not wasm at all").await.err(), Some(LoadError::NotWasm));
    // A core module (the empty one) is not a component.
    assert_eq!(runtime.load(b"\0asm\x01\0\0\0").await.err(), Some(LoadError::CoreModule));
    // A truncated component does not compile.
    let mut truncated = component(plugins::NOOP);
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(runtime.load(&truncated).await.err(), Some(LoadError::Invalid(_))));
    // The runtime is unharmed by all of that.
    load(&runtime, plugins::NOOP).await;
}

#[tokio::test]
async fn loading_the_same_bytes_twice_compiles_once() {
    let runtime = runtime();
    let first = load(&runtime, plugins::DEFAULT_CREATOR).await;
    let second = load(&runtime, plugins::DEFAULT_CREATOR).await;
    assert_eq!(first.info().hash, second.info().hash);
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.compiles, stats.compiled, stats.from_disk), (1, 1, 0), "one compile: {stats:?}");
    assert_eq!(stats.entries, 1, "{stats:?}");
    // Asking for it by hash is a use of the cache: a hit, where an unknown
    // hash is a miss.
    assert!(runtime.loaded(&first.info().hash).is_some());
    assert!(runtime.loaded(&provisio::plugin::PluginHash::new("0".repeat(64))).is_none());
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.compiles), (1, 1, 1), "{stats:?}");
}

#[tokio::test]
async fn artifacts_on_disk_are_reused_and_tampered_ones_are_not_trusted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = || RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() };
    let bytes = component(plugins::DEFAULT_CREATOR);

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

    // An artifact written with another host's key is not trusted either
    // (the artifact and its MAC are copied, not the key).
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for entry in std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")).flatten() {
        if entry.file_name() != "artifacts.key" {
            std::fs::copy(entry.path(), other.path().join(entry.file_name())).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let stranger = Runtime::new(RuntimeConfig { cache_dir: Some(other.path().to_owned()), ..RuntimeConfig::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    let plugin = stranger.load(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!plugin.info().from_disk_cache, "another host's artifact is recompiled, not loaded");
}

#[tokio::test]
async fn the_loaded_plugins_are_bounded_by_size_and_reload_from_disk() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let probe = runtime();
    let size = |name: &str| component(name);
    let creator = probe.load(&size(plugins::DEFAULT_CREATOR)).await.unwrap_or_else(|e| panic!("{e}"));
    let mapper = probe.load(&size(plugins::GROUP_MAPPER)).await.unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (creator.info().compiled_bytes, mapper.info().compiled_bytes);
    assert!(a > 100_000 && b > 100_000, "compiled images: {a}, {b}");

    // Room for one of the two plugins, not both.
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        max_loaded_bytes: a.max(b) + a.min(b) / 2,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config).unwrap_or_else(|e| panic!("{e}"));
    let creator = load(&runtime, plugins::DEFAULT_CREATOR).await;
    assert!(runtime.loaded(&creator.info().hash).is_some());
    let mapper = load(&runtime, plugins::GROUP_MAPPER).await;
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.entries, stats.evictions, stats.compiled, stats.from_disk), (1, 1, 2, 0), "{stats:?}");
    assert_eq!(stats.bytes, mapper.info().compiled_bytes);
    assert!(runtime.loaded(&mapper.info().hash).is_some(), "the newest plugin stays");
    assert!(runtime.loaded(&creator.info().hash).is_none(), "the least recently used one went");
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.hits, stats.misses), (2, 1), "{stats:?}");

    // The evicted plugin comes back from its artifact on disk alone (no
    // bytes), with what its first load learned, and still works.
    let again = runtime.reload(&creator.info().hash).await.unwrap_or_else(|| panic!("the artifact is on disk"));
    assert!(again.info().from_disk_cache);
    assert_eq!((again.info().name.as_str(), again.info().world), (plugins::DEFAULT_CREATOR, creator.info().world));
    assert_eq!(again.info().size_bytes, creator.info().size_bytes);
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.entries, stats.evictions, stats.compiled, stats.from_disk), (1, 2, 2, 1), "{stats:?}");
    let principal = crate::principal("okta");
    let report = runtime.create(&again, &principal, &provisio::runtime::CallContext::default()).await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    // Loading its bytes finds it in memory now.
    assert!(load(&runtime, plugins::DEFAULT_CREATOR).await.info().from_disk_cache);
    assert_eq!(runtime.plugin_cache_stats().from_disk, 1);

    // A plugin this runtime never loaded cannot be reloaded by hash, even
    // with its artifact on disk (another runtime's load put it there).
    let fresh = Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() });
    let fresh = fresh.unwrap_or_else(|e| panic!("{e}"));
    assert!(fresh.reload(&mapper.info().hash).await.is_none());
    assert!(load(&fresh, plugins::GROUP_MAPPER).await.info().from_disk_cache);
}

#[tokio::test]
async fn concurrent_first_loads_compile_once() {
    let runtime = runtime();
    let bytes = std::sync::Arc::new(component(plugins::GROUP_MAPPER));
    let loads: Vec<_> = (0..8)
        .map(|_| {
            let (runtime, bytes) = (runtime.clone(), bytes.clone());
            tokio::spawn(async move { runtime.load(&bytes).await.map(|p| p.info().hash.clone()) })
        })
        .collect();
    for load in loads {
        let hash = load.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hash, PluginHash::of(&bytes));
    }
    let stats = runtime.plugin_cache_stats();
    assert_eq!((stats.compiled, stats.entries), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn the_artifact_directory_is_bounded() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let artifacts = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")).flatten().map(|e| e.path());
        entries.filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect()
    };
    let unbounded = RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() };
    let runtime = Runtime::new(unbounded).unwrap_or_else(|e| panic!("{e}"));
    load(&runtime, plugins::NOOP).await;
    let one = artifacts(dir.path());
    assert_eq!(one.len(), 1);
    let size = std::fs::metadata(&one[0]).map(|m| m.len()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runtime.artifact_cache_stats().map(|s| (s.files, s.bytes)), Some((1, size)));

    // Room for about one and a half artifacts: each new one pushes out the oldest.
    let bounded = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        max_artifact_bytes: size * 3 / 2,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(bounded).unwrap_or_else(|e| panic!("{e}"));
    load(&runtime, plugins::GROUP_MAPPER).await;
    load(&runtime, plugins::DEFAULT_CREATOR).await;
    let left = artifacts(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    let creator = PluginHash::of(&component(plugins::DEFAULT_CREATOR));
    assert!(left[0].to_string_lossy().contains(creator.as_str()), "the newest artifact stays: {left:?}");
    let stats = runtime.artifact_cache_stats().unwrap_or_else(|| panic!("a cache dir was given"));
    assert_eq!((stats.files, stats.evictions), (1, 2), "{stats:?}");
    assert!(stats.bytes <= stats.max_bytes, "{stats:?}");
}
