//! What a plugin call costs by the language it was written in: the group
//! mapper in Rust and in JavaScript (componentize-js, SpiderMonkey) on the
//! assignment hook, and the allow-list creator in Rust and in Python
//! (componentize-py, CPython) on the creation hook, measured interleaved in
//! one run with the same inputs and checked to decide alike; plus each
//! component's size and compile time. Ratios are against the Rust version.
//!
//! Run with `scripts/bench languages` (it also needs
//! `scripts/build-js-plugins`). Set `ITERATIONS` to change the sample count
//! (default 2000).

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use provisio::plugin::{BindingConfig, Principal};
use provisio::runtime::{CallContext, Plugin, Runtime, RuntimeConfig};
use provisio_bench::{Series, account_from, env_or, plugin_bytes, repo_root};

/// Loads a component, with its size and compile time.
async fn load(runtime: &Runtime, name: &str) -> (Plugin, usize, f64) {
    let bytes = plugin_bytes(name);
    let started = Instant::now();
    let plugin = runtime.load(&bytes).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    (plugin, bytes.len(), started.elapsed().as_secs_f64() * 1000.0)
}

fn main() {
    let iterations: usize = env_or("ITERATIONS", 2000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let path = repo_root().join("examples/principals/okta.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let principal: Principal = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let config = BindingConfig::from_json(&serde_json::json!({
            "groups": {"Engineering": "team:engineering, role:developer", "oncall-admins": "role:admin"},
            "default-team": "everyone",
            "allowed-domains": "acme.example",
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let ctx = CallContext { config: Arc::new(config), seed: Some(7), ..CallContext::default() };

        println!("languages: {iterations} interleaved samples per series, current-thread tokio runtime");
        println!("{:<34} {:>12} {:>12}", "component", "size KiB", "compile ms");
        let mut loaded = Vec::new();
        for name in ["group-mapper", "group-mapper-js", "domain-allowlist", "python-allowlist"] {
            let (plugin, size, compile) = load(&runtime, name).await;
            println!("{name:<34} {:>12.0} {compile:>12.0}", size as f64 / 1024.0);
            loaded.push(plugin);
        }
        let [rust_mapper, js_mapper, rust_creator, python_creator] = <[Plugin; 4]>::try_from(loaded).ok().unwrap();

        // Same inputs, same decisions: checked before measuring.
        let created = runtime.create(&rust_creator, &principal, &ctx).await.outcome.unwrap_or_else(|e| panic!("{e}"));
        let account = account_from(&created);
        let by_rust = runtime.assign(&rust_mapper, &account, &principal, &ctx).await;
        let by_js = runtime.assign(&js_mapper, &account, &principal, &ctx).await;
        assert_eq!(by_rust.outcome, by_js.outcome, "the Rust and JavaScript group mappers disagree");
        let by_python = runtime.create(&python_creator, &principal, &ctx).await.outcome.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!((&created, &by_python), (provisio::plugin::Creation::Create(a), provisio::plugin::Creation::Create(b)) if a.email == b.email),
            "the Rust and Python allow-lists disagree"
        );

        let mut series = [
            Series::new("assign: Rust group-mapper", iterations),
            Series::new("assign: JavaScript group-mapper", iterations),
            Series::new("create: Rust domain-allowlist", iterations),
            Series::new("create: Python python-allowlist", iterations),
        ];
        let mut fuel = [0u64; 4];
        for i in 0..iterations + iterations / 10 {
            let warm = i >= iterations / 10;
            for (k, s) in series.iter_mut().enumerate() {
                let t = Instant::now();
                let used = match k {
                    0 => runtime.assign(&rust_mapper, &account, &principal, &ctx).await.stats.fuel_used,
                    1 => runtime.assign(&js_mapper, &account, &principal, &ctx).await.stats.fuel_used,
                    2 => runtime.create(&rust_creator, &principal, &ctx).await.stats.fuel_used,
                    _ => runtime.create(&python_creator, &principal, &ctx).await.stats.fuel_used,
                };
                let elapsed = t.elapsed();
                if warm {
                    s.samples.push(elapsed);
                    fuel[k] = used;
                }
            }
        }
        for s in &mut series {
            s.sort();
        }
        println!();
        println!("{:<34} {:>10} {:>10} {:>14}", "series", "p50 µs", "p99 µs", "fuel per call");
        for (s, fuel) in series.iter().zip(fuel) {
            println!("{:<34} {:>10.1} {:>10.1} {fuel:>14}", s.name, s.p(0.5), s.p(0.99));
        }
        println!();
        let ratio = |a: &Series, b: &Series| (a.p(0.5) / b.p(0.5), a.p(0.99) / b.p(0.99));
        let (js50, js99) = ratio(&series[1], &series[0]);
        let (py50, py99) = ratio(&series[3], &series[2]);
        println!("JavaScript / Rust (assign):  p50 {js50:>7.1}×   p99 {js99:>7.1}×");
        println!("Python / Rust (create):      p50 {py50:>7.1}×   p99 {py99:>7.1}×");
    });
}
