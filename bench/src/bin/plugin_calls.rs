//! Instantiate + create + assign with the example plugins, against the same
//! logic in native Rust, measured interleaved in one run.
//!
//! Run with `scripts/bench plugin_calls` (or `scripts/build-plugins && cargo
//! run --release -p provisio-bench --bin plugin_calls`). Set `ITERATIONS` to
//! change the sample count (default 20000).

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use provisio::builtin::{default_creation, group_mapping};
use provisio::plugin::{BindingConfig, Principal};
use provisio::runtime::{CallContext, Plugin, Runtime, RuntimeConfig};
use provisio_bench::{Series, account_from, env_or, plugin_bytes, repo_root};

async fn load(runtime: &Runtime, name: &str) -> Plugin {
    runtime.load(&plugin_bytes(name)).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn main() {
    let iterations: usize = env_or("ITERATIONS", 20_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let creator = load(&runtime, "default-creator").await;
        let mapper = load(&runtime, "group-mapper").await;
        let noop = load(&runtime, "noop").await;
        let path = repo_root().join("examples/principals/okta.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let principal: Principal = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let config = BindingConfig::from_json(&serde_json::json!({
            "digits": 0,
            "groups": {"Engineering": "team:engineering, role:developer", "oncall-admins": "role:admin"},
            "default-team": "everyone",
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let ctx = CallContext { config: Arc::new(config.clone()), ..CallContext::default() };
        let mut rng = rand::rng();

        // Same inputs, same outputs: checked before measuring.
        let native_created = default_creation(&principal, &config, &mut rng);
        let wasm_created = runtime.create(&creator, &principal, &ctx).await.outcome.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(native_created, wasm_created, "native and WebAssembly creators disagree");
        let account = account_from(&native_created);
        let native_assigned = group_mapping(&principal, &config).unwrap_or_else(|e| panic!("{e}"));
        let wasm_assigned =
            runtime.assign(&mapper, &account, &principal, &ctx).await.outcome.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(native_assigned, wasm_assigned, "native and WebAssembly group mappers disagree");

        let mut native = Series::new("native Rust (create + assign)", iterations);
        let mut wasm = Series::new("WebAssembly (instantiate + create, instantiate + assign)", iterations);
        let mut floor = Series::new("bare instantiate + call of the empty component", iterations);
        let mut fuel = 0u64;
        for i in 0..iterations + iterations / 10 {
            let warm = i >= iterations / 10;

            let t = Instant::now();
            let created = default_creation(&principal, &config, &mut rng);
            let assigned = group_mapping(&principal, &config);
            std::hint::black_box((&created, &assigned));
            let native_time = t.elapsed();

            let t = Instant::now();
            let created = runtime.create(&creator, &principal, &ctx).await;
            let account = account_from(created.outcome.as_ref().unwrap_or_else(|e| panic!("{e}")));
            let assigned = runtime.assign(&mapper, &account, &principal, &ctx).await;
            let wasm_time = t.elapsed();
            assert!(assigned.outcome.is_ok());

            let t = Instant::now();
            std::hint::black_box(runtime.create(&noop, &principal, &ctx).await);
            let floor_time = t.elapsed();

            if warm {
                native.samples.push(native_time);
                wasm.samples.push(wasm_time);
                floor.samples.push(floor_time);
                fuel = created.stats.fuel_used + assigned.stats.fuel_used;
            }
        }

        for s in [&mut native, &mut wasm, &mut floor] {
            s.sort();
        }
        println!("plugin_calls: {iterations} interleaved samples each, current-thread tokio runtime");
        println!("{:<58} {:>10} {:>10}", "series", "p50 µs", "p99 µs");
        for s in [&native, &wasm, &floor] {
            println!("{:<58} {:>10.2} {:>10.2}", s.name, s.p(0.5), s.p(0.99));
        }
        let (n50, n99) = (native.p(0.5), native.p(0.99));
        let (w50, w99) = (wasm.p(0.5), wasm.p(0.99));
        let (f50, f99) = (floor.p(0.5), floor.p(0.99));
        println!();
        println!("WebAssembly / native:                   p50 {:>8.1}×   p99 {:>8.1}×", w50 / n50, w99 / n99);
        println!(
            "WebAssembly / (native + 2 bare calls):  p50 {:>8.2}×   p99 {:>8.2}×",
            w50 / (n50 + 2.0 * f50),
            w99 / (n99 + 2.0 * f99)
        );
        println!("fuel per login (both hooks): {fuel}");
        println!("aim: WebAssembly p50 ≤ 20 µs for both hooks: {}", if w50 <= 20.0 { "met" } else { "NOT met" });
    });
}
