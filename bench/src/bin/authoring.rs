//! A plugin author's three commands from cold, per language: `provisio
//! plugin new`, `plugin build` (cargo for `wasm32-wasip2` with a fresh
//! target directory, `npm install` of componentize-js and its build, or
//! componentize-py) and `plugin test` (the first compile of the component
//! included), each in a fresh temporary directory, timed by the wall clock.
//! Ratios are against Rust's total; the aim is all three languages, three
//! commands each, in under five minutes.
//!
//! Run with `scripts/bench authoring`. It needs what `scripts/build-plugins`
//! installs (the `wasm32-wasip2` target, componentize-py), Node.js 20 or
//! later with npm, and the package registries.

// A benchmark stops at its first surprise.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use provisio_bench::{provisio_binary, repo_root};

/// Runs `provisio ARGS` in `dir`; its wall time in seconds.
fn timed(dir: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = Command::new(provisio_binary()).args(args).current_dir(dir).output().unwrap();
    assert!(
        output.status.success(),
        "provisio {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}

fn main() {
    let sdk = repo_root().join("plugins/sdk");
    let sdk = sdk.to_string_lossy();
    println!("authoring: each language from cold, in a fresh directory");
    println!("{:<8} {:>8} {:>9} {:>8} {:>9} {:>11}", "lang", "new s", "build s", "test s", "total s", "/ Rust");
    let mut rust_total = 0.0;
    let mut all = 0.0;
    for lang in ["rust", "js", "python"] {
        let parent = tempfile::tempdir().unwrap();
        let name = format!("bench-{lang}");
        let new =
            timed(parent.path(), &["plugin", "new", &name, "--lang", lang, "--world", "provisioner", "--sdk", &sdk]);
        let dir = parent.path().join(&name);
        let build = timed(&dir, &["plugin", "build"]);
        let test = timed(&dir, &["plugin", "test"]);
        let total = new + build + test;
        if lang == "rust" {
            rust_total = total;
        }
        all += total;
        println!("{lang:<8} {new:>8.1} {build:>9.1} {test:>8.1} {total:>9.1} {:>10.2}×", total / rust_total);
    }
    println!();
    println!("all three languages: {all:.0} s; aim under 300 s: {}", if all < 300.0 { "met" } else { "NOT met" });
}
