//! A plugin author's three commands, in each language, in a fresh
//! directory outside the repository: `provisio plugin new`, `plugin build`
//! (with the language's real tool: cargo for `wasm32-wasip2`,
//! componentize-js from npm, componentize-py from PyPI) and `plugin test`,
//! which replays the template's golden files; then a changed decision is
//! caught with a diff, and `--record` writes the golden files again.

use std::path::Path;
use std::process::Output;

use crate::serve::provisio;

/// Runs `provisio ARGS` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    let output = provisio().current_dir(dir).args(args).output();
    output.unwrap_or_else(|e| panic!("provisio {args:?}: {e}"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `plugin new`, `plugin build`, `plugin test` in `lang`: every step
/// succeeds, and the test replays both golden files.
fn new_build_test(parent: &Path, lang: &str) -> std::path::PathBuf {
    let name = format!("hello-{lang}");
    let sdk = crate::root().join("plugins/sdk");
    let sdk = sdk.to_string_lossy();
    let made = run(parent, &["plugin", "new", &name, "--lang", lang, "--world", "provisioner", "--sdk", &sdk]);
    assert!(made.status.success(), "plugin new --lang {lang}: {}", text(&made));
    let dir = parent.join(&name);
    for file in ["provisio-plugin.toml", "wit/plugin.wit", "config.json", "principals/okta.json", "golden/okta.json"] {
        assert!(dir.join(file).is_file(), "{lang}: {file} was made");
    }
    let built = run(&dir, &["plugin", "build"]);
    assert!(built.status.success(), "plugin build ({lang}): {}", text(&built));
    assert!(dir.join(format!("dist/{name}.wasm")).is_file(), "{lang}: the component is in dist/");
    let tested = run(&dir, &["plugin", "test"]);
    let report = text(&tested);
    assert!(tested.status.success(), "plugin test ({lang}): {report}");
    assert!(report.contains("2 recordings: 2 ok, 0 changed"), "{lang}: {report}");
    dir
}

/// Rust's round trip, and the project's own native tests (`cargo test`,
/// the SDK's `testing` module answering the host's imports).
#[test]
fn a_rust_plugin_from_nothing_to_tested() {
    let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = new_build_test(parent.path(), "rust");
    let native = std::process::Command::new("cargo").args(["test", "--quiet"]).current_dir(&dir).output();
    let native = native.unwrap_or_else(|e| panic!("cargo test: {e}"));
    let report = text(&native);
    assert!(native.status.success(), "cargo test in the project: {report}");
    assert!(report.contains("2 passed"), "both hooks' tests ran: {report}");

    // A panic: `plugin test` shows the trap's backtrace with the source
    // file and line (the template keeps line tables).
    let source = dir.join("src/lib.rs");
    let code = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{e}"));
    let hook = "fn create(principal: Principal, _config: &Config) -> Result<Creation> {";
    assert!(code.contains(hook), "{code}");
    let code = code.replacen(hook, &format!("{hook}\n        panic!(\"no creations today\");"), 1);
    let line = code.lines().position(|l| l.contains("no creations today")).map_or(0, |i| i + 1);
    std::fs::write(&source, code).unwrap_or_else(|e| panic!("{e}"));
    assert!(run(&dir, &["plugin", "build"]).status.success(), "rebuilt");
    let trapped = run(&dir, &["plugin", "test", "--principal", "principals/okta.json"]);
    let report = text(&trapped);
    assert!(report.contains("no creations today"), "the panic's message: {report}");
    assert!(report.contains(&format!("src/lib.rs:{line}")), "the panic's source line {line}: {report}");
}

#[test]
fn a_javascript_plugin_from_nothing_to_tested() {
    let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    new_build_test(parent.path(), "js");
}

/// Python's round trip, then a changed decision: the replay fails with a
/// diff naming the change, and `--record` makes the new decision golden.
#[test]
fn a_python_plugin_from_nothing_to_tested_and_a_changed_decision_caught() {
    let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = new_build_test(parent.path(), "python");
    let source = dir.join("src/app.py");
    let code = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{e}"));
    assert!(code.contains("\"email-not-verified\""), "{code}");
    std::fs::write(&source, code.replace("\"email-not-verified\"", "\"unverified-email\""))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(run(&dir, &["plugin", "build"]).status.success(), "rebuilt");

    let replayed = run(&dir, &["plugin", "test"]);
    let report = text(&replayed);
    assert_eq!(replayed.status.code(), Some(1), "a changed decision fails the replay: {report}");
    assert!(report.contains("ok       golden/okta.json"), "{report}");
    assert!(report.contains("CHANGED  golden/unverified.json"), "{report}");
    assert!(report.contains("-        \"code\": \"email-not-verified\","), "the recorded line: {report}");
    assert!(report.contains("+        \"code\": \"unverified-email\","), "the new line: {report}");
    assert!(report.contains("2 recordings: 1 ok, 1 changed"), "{report}");

    let recorded = run(&dir, &["plugin", "test", "--record", "golden"]);
    assert!(recorded.status.success(), "{}", text(&recorded));
    let golden = std::fs::read_to_string(dir.join("golden/unverified.json")).unwrap_or_else(|e| panic!("{e}"));
    assert!(golden.contains("\"unverified-email\"") && golden.contains("\"fuel_used\""), "{golden}");
    let replayed = run(&dir, &["plugin", "test", "--max-fuel", "1000000000"]);
    assert!(replayed.status.success(), "the new golden files pass: {}", text(&replayed));
    let starved = run(&dir, &["plugin", "test", "--max-fuel", "10"]);
    let report = text(&starved);
    assert_eq!(starved.status.code(), Some(1), "{report}");
    assert!(report.contains("create used") && report.contains("over --max-fuel 10"), "{report}");
}
