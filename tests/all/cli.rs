//! The `provisio plugin` commands, run as a user would run them.

use crate::plugins;
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
    assert_eq!(report["name"], plugins::GROUP_MAPPER);
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
    // Two missing decisions would be equal too: the decision is an account.
    assert!(a["create"]["decision"]["create"].is_object(), "{a}");
    assert_eq!(a["create"]["decision"], b["create"]["decision"], "a seeded run replays identically");
    let username = a["create"]["decision"]["create"]["username_hint"].as_str().unwrap_or_default().to_owned();
    let digits = username.strip_prefix("jane.doe").unwrap_or_else(|| panic!("username {username}"));
    assert!(digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()), "username {username}");
    assert!(a["create"]["stats"]["fuel_used"].as_u64().is_some_and(|f| f > 0));
    assert!(a["create"]["stats"]["peak_memory_bytes"].as_u64().is_some_and(|m| m > 0));
}

#[test]
fn test_exits_with_the_named_outcome() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("mapping.json");
    std::fs::write(&config, r#"{"groups": {"Engineering": "team:engineering"}}"#).unwrap_or_else(|e| panic!("{e}"));
    let config = config.to_string_lossy().into_owned();
    // The loop must run out of fuel, not of time, however slow the machine:
    // the wall-time limit at its ceiling leaves it far more than it needs.
    let limits = dir.path().join("limits.json");
    std::fs::write(&limits, r#"{"wall_time": 1000}"#).unwrap_or_else(|e| panic!("{e}"));
    let limits = limits.to_string_lossy().into_owned();
    for (plugin, extra, code, needle) in [
        (plugins::GROUP_MAPPER, vec!["--config", config.as_str()], 0, "team         engineering"),
        (plugins::HOSTILE_PANIC, vec![], 3, "boom from hostile-panic"),
        (plugins::HOSTILE_LOOP, vec!["--limits", limits.as_str()], 4, "limit exceeded: fuel"),
        (plugins::HOSTILE_MEMORY, vec![], 4, "limit exceeded: memory"),
        (plugins::HOSTILE_WRONG_WORLD, vec![], 65, "exports: attacker:wrong/greeter@0.1.0"),
    ] {
        let file = format!("target/plugins/{plugin}.wasm");
        let mut args = vec!["plugin", "test", file.as_str(), "--principal", "examples/principals/okta.json"];
        args.extend(extra);
        let out = provisio(&args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{plugin}: {text}");
        assert!(!needle.is_empty() && text.contains(needle), "{plugin}: {text}");
    }
}

/// `plugin test` on `plugin` with `args` after the principal; its exit
/// status and its stdout and stderr together.
fn plugin_test(plugin: &str, args: &[&str]) -> (Option<i32>, String) {
    let file = format!("target/plugins/{plugin}.wasm");
    let mut all = vec!["plugin", "test", file.as_str(), "--principal", "examples/principals/okta.json"];
    all.extend(args);
    let out = provisio(&all);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[test]
fn test_refuses_what_a_login_refuses_with_the_same_rule() {
    // hostile-impostor creates `admin@<the principal's domain>`: another person.
    let (code, text) = plugin_test(plugins::HOSTILE_IMPOSTOR, &[]);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains("created-email-mismatch"), "{text}");
    let (code, text) = plugin_test(plugins::HOSTILE_IMPOSTOR, &["--json"]);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains(r#""refused": "created-email-mismatch""#), "{text}");

    // The creator the server ships is accepted.
    let (code, text) = plugin_test(plugins::DEFAULT_CREATOR, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("create  create account") && !text.contains("REFUSED"), "{text}");
}

#[test]
fn test_judges_assignments_against_the_organization_given() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("mapping.json");
    let mapping = r#"{"groups": {"Engineering": "team:engineering, role:developer, organization:acme"}}"#;
    std::fs::write(&config, mapping).unwrap_or_else(|e| panic!("{e}"));
    let config = config.to_string_lossy().into_owned();
    let with = |extra: &[&'static str]| {
        let mut args = vec!["--config", config.as_str()];
        args.extend(extra);
        plugin_test(plugins::GROUP_MAPPER, &args)
    };

    let org = ["--org-name", "acme", "--roles", "developer"];
    let (code, text) = with(&[org.as_slice(), &["--teams", "sales,ops"]].concat());
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains("assignment-unknown-team"), "{text}");

    let (code, text) = with(&[org.as_slice(), &["--teams", "sales,engineering"]].concat());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("team         engineering\n"), "{text}");
    assert!(!text.contains("REFUSED") && !text.contains("not judged"), "{text}");

    let (code, text) = with(&["--org-name", "victim", "--teams", "engineering", "--roles", "developer"]);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains("assignment-foreign-organization"), "{text}");

    let (code, text) = with(&["--org-name", "acme", "--teams", "engineering", "--roles", ""]);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains("assignment-unknown-role"), "{text}");

    // Without the organization's names, nothing is pretended.
    let (code, text) = with(&[]);
    assert_eq!(code, Some(0), "{text}");
    for missing in ["not judged: no --teams given", "not judged: no --roles given", "not judged: no --org-name given"] {
        assert!(text.contains(missing), "{missing}: {text}");
    }
}

/// Text a terminal obeys: set the window title, return to the line's
/// start, erase it and forge report lines, then a C1 CSI and a
/// right-to-left override.
const FORGERY: &str =
    r"\u001b]0;owned\u0007\r\u001b[2Kcreate  create account\n          email        ceo@victim.example\u009b\u202e";

#[test]
fn test_shows_plugin_text_escaped() {
    // group-mapper's error message quotes the configuration item it refuses.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("forgery.json");
    let mapping = format!(r#"{{"groups": {{"Engineering": "{FORGERY}"}}}}"#);
    std::fs::write(&config, mapping).unwrap_or_else(|e| panic!("{e}"));
    let config = config.to_string_lossy().into_owned();

    let file = "target/plugins/group-mapper.wasm";
    let args = ["plugin", "test", file, "--principal", "examples/principals/okta.json", "--config", config.as_str()];
    let out = provisio(&args);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for raw in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(raw), "raw {raw:?} in the report: {text:?}");
    }
    assert!(text.contains(r"\u{1b}]0;owned\u{7}\u{d}"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("create") || l.trim_start().starts_with("email")),
        "a forged line: {text}"
    );
    assert_eq!(text.lines().count(), 3, "plugin, failure and stats lines only: {text}");

    let out = provisio(&[args.as_slice(), &["--json"]].concat());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for raw in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(raw), "raw {raw:?} in the JSON: {text:?}");
    }
    for escape in [r"\u001b", r"\u0007", r"\r", r"\n", r"\u009b", r"\u202e"] {
        assert!(text.contains(escape), "{escape}: {text}");
    }
    let report = json(&out);
    let message = report["assign"]["failure"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\u{1b}]0;owned\u{7}\r"), "the JSON string itself is intact: {message:?}");
}
