//! The `provisio plugin` commands, run as a user would run them.

use std::process::{Command, Output};

use serde_json::Value;

use crate::root;

fn provisio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run provisio: {e}"))
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

#[test]
fn check_reports_world_name_imports_and_refuses_with_a_reason() {
    let out = provisio(&["plugin", "check", "target/plugins/group-mapper.wasm", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report = json(&out);
    assert_eq!(report["world"], "assignment-provider-plugin");
    assert_eq!(report["name"], "group-mapper");
    assert!(report["imports"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(report["compile_ms"].as_f64().is_some_and(|ms| ms > 0.0));

    let out = provisio(&["plugin", "check", "target/plugins/hostile-forbidden-import.wasm"]);
    assert_eq!(out.status.code(), Some(65));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("attacker:exfil/send@0.1.0"), "{text}");
}

#[test]
fn test_runs_both_hooks_and_a_seed_replays_identically() {
    let args = [
        "plugin",
        "test",
        "target/plugins/default-creator.wasm",
        "--principal",
        "examples/principals/okta.json",
        "--seed",
        "7",
        "--json",
    ];
    let (a, b) = (provisio(&args), provisio(&args));
    assert!(a.status.success(), "{a:?}");
    let (a, b) = (json(&a), json(&b));
    assert_eq!(a["create"]["decision"], b["create"]["decision"], "a seeded run replays identically");
    let username = a["create"]["decision"]["create"]["username_hint"].as_str().unwrap_or_default().to_owned();
    assert!(username.starts_with("jane.doe"), "{username}");
    assert!(a["create"]["stats"]["fuel_used"].as_u64().is_some_and(|f| f > 0));
    assert!(a["create"]["stats"]["peak_memory_bytes"].as_u64().is_some_and(|m| m > 0));
}

#[test]
fn test_exits_with_the_named_outcome() {
    let config = root().join("target/cli-test-mapping.json");
    std::fs::write(&config, r#"{"groups": {"Engineering": "team:engineering"}}"#).unwrap_or_else(|e| panic!("{e}"));
    let config = config.to_string_lossy().into_owned();
    for (plugin, extra, code, needle) in [
        ("group-mapper", vec!["--config", config.as_str()], 0, "team         engineering"),
        ("hostile-panic", vec![], 3, "boom from hostile-panic"),
        ("hostile-loop", vec![], 4, "limit exceeded: fuel"),
        ("hostile-memory", vec![], 4, "limit exceeded: memory"),
        ("hostile-wrong-world", vec![], 65, ""),
    ] {
        let file = format!("target/plugins/{plugin}.wasm");
        let mut args = vec!["plugin", "test", file.as_str(), "--principal", "examples/principals/okta.json"];
        args.extend(extra);
        let out = provisio(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{plugin}: {text}");
        assert!(text.contains(needle), "{plugin}: {text}");
    }
}
