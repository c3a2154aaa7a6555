//! Recorded runs as regression tests: `provisio plugin test --record DIR`
//! writes one recording per run (the principal, configuration, seed, what
//! the organization was said to hold, what the plugin decided and logged,
//! and what the calls cost), and `--golden DIR` replays every recording and
//! shows a readable diff where a decision, a judgement, a log line or a
//! failure changed. Fuel, duration and memory are reported, and compared
//! only against `--max-fuel`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use provisio::plugin::{Limits, Principal, judge};
use provisio::runtime::{Hooks, TrialReport};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One recorded run: its inputs, and what it must answer again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// The principal the hooks were called on.
    pub principal: Principal,
    /// The binding configuration, a JSON object.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// The seed of random numbers and clocks.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Which hooks ran.
    #[serde(default)]
    pub hooks: Hooks,
    /// The limits, when not the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// What the organization was said to hold (`--org-name`, `--teams`, `--roles`).
    #[serde(default, skip_serializing_if = "OrgRecord::is_empty")]
    pub org: OrgRecord,
    /// Per hook: the decision or failure (without its backtrace), the
    /// judgement and the log lines.
    pub expected: Value,
    /// Per hook, what the recorded calls cost: reported on replay, never
    /// compared.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub measured: Value,
}

/// What a recording says the organization holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    teams: Option<BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    roles: Option<BTreeSet<String>>,
}

impl OrgRecord {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.teams.is_none() && self.roles.is_none()
    }

    pub fn of(org: &judge::Organization) -> Self {
        Self { name: org.name.clone(), teams: org.teams.clone(), roles: org.roles.clone() }
    }

    pub fn organization(&self) -> judge::Organization {
        judge::Organization { name: self.name.clone(), teams: self.teams.clone(), roles: self.roles.clone() }
    }
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// What a replay compares of a report: per hook, the decision or the
/// failure (its backtrace left out: it names build details), the
/// judgement, the log lines and whether they were cut.
pub fn expected(report: &TrialReport) -> Value {
    let report = serde_json::to_value(report).unwrap_or_default();
    let mut out = Map::new();
    for hook in ["create", "assign"] {
        let Some(run) = report.get(hook) else { continue };
        let mut kept = Map::new();
        if let Some(decision) = run.get("decision") {
            kept.insert("decision".into(), decision.clone());
        }
        if let Some(failure) = run.get("failure") {
            let mut failure = failure.clone();
            if let Some(fields) = failure.as_object_mut() {
                fields.remove("backtrace");
            }
            kept.insert("failure".into(), failure);
        }
        if let Some(judged) = run.get("judged") {
            kept.insert("judged".into(), judged.clone());
        }
        kept.insert("logs".into(), run["stats"]["logs"].clone());
        if run["stats"]["logs_truncated"] == Value::Bool(true) {
            kept.insert("logs_truncated".into(), Value::Bool(true));
        }
        out.insert(hook.into(), Value::Object(kept));
    }
    Value::Object(out)
}

/// What a report's calls cost, per hook.
pub fn measured(report: &TrialReport) -> Value {
    let report = serde_json::to_value(report).unwrap_or_default();
    let mut out = Map::new();
    for hook in ["create", "assign"] {
        let Some(stats) = report.get(hook).map(|run| &run["stats"]) else { continue };
        let fields = ["fuel_used", "duration_us", "peak_memory_bytes"].map(|k| (k.to_owned(), stats[k].clone()));
        out.insert(hook.into(), Value::Object(fields.into_iter().collect()));
    }
    Value::Object(out)
}

/// The `*.json` files in `dir` (principals, recordings), in name order;
/// none is an error naming `what` they should have been.
pub fn json_files(dir: &Path, what: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    anyhow::ensure!(!paths.is_empty(), "no {what} (*.json) in {}", dir.display());
    Ok(paths)
}

/// The recordings in `dir`, by file name.
pub fn read_all(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Recording)>> {
    json_files(dir, "recordings")?
        .into_iter()
        .map(|path| {
            let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let recording =
                serde_json::from_slice(&text).with_context(|| format!("{} is not a recording", path.display()))?;
            Ok((path, recording))
        })
        .collect()
}

/// Writes `recording` as `dir/name.json`.
pub fn write(dir: &Path, name: &str, recording: &Recording) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(recording)? + "\n";
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A unified diff of what was recorded and what the plugin answers now,
/// both as pretty JSON; empty when they are equal.
pub fn diff(recorded: &Value, now: &Value) -> String {
    if recorded == now {
        return String::new();
    }
    let (old, new) = (pretty(recorded), pretty(now));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let _ = write!(out, "{hunk}");
    }
    out
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// The calls of `measured` that used more fuel than `max`: "create used N".
pub fn over_fuel(measured: &Value, max: u64) -> Vec<String> {
    ["create", "assign"]
        .into_iter()
        .filter_map(|hook| {
            let used = measured.get(hook)?["fuel_used"].as_u64()?;
            (used > max).then(|| format!("{hook} used {used} fuel, over --max-fuel {max}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_changed_decision_is_shown_as_a_line_diff() {
        let old = json!({"create": {"decision": {"deny": {"code": "a", "message": "m"}}, "logs": []}});
        let new = json!({"create": {"decision": {"deny": {"code": "b", "message": "m"}}, "logs": []}});
        let diff = super::diff(&old, &new);
        assert!(diff.contains("-        \"code\": \"a\",") && diff.contains("+        \"code\": \"b\","), "{diff}");
        assert!(diff.contains(" \"message\": \"m\""), "context lines: {diff}");
        assert_eq!(super::diff(&old, &old), "", "no diff when equal");
    }

    #[test]
    fn fuel_is_compared_only_with_a_maximum() {
        let measured = json!({"create": {"fuel_used": 120}, "assign": {"fuel_used": 80}});
        assert_eq!(super::over_fuel(&measured, 100), vec!["create used 120 fuel, over --max-fuel 100"]);
        assert!(super::over_fuel(&measured, 120).is_empty());
    }
}
