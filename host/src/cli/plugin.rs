//! `provisio plugin check` and `provisio plugin test`: the plugin developer's
//! loop, running a component exactly as the server would, and judging its
//! decision by the rules a login applies (`provisio::plugin::judge`).
//!
//! Every string a plugin controls (names, decisions, messages, log lines) is
//! shown with control and invisible format characters escaped, in the human
//! report and in `--json`, so that a plugin cannot forge or hide report
//! lines on a terminal.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use provisio::canonical::escaped;
use provisio::plugin::judge;
use provisio::plugin::{Assignment, BindingConfig, CallFailure, CallReport, Creation, Limits, Principal};
use provisio::runtime::{
    CallContext, HookRun, Hooks, Judgement, Missing, Plugin, Runtime, RuntimeConfig, Trial, TrialReport,
};
use serde::Serialize;
use serde_json::Value;

use super::golden::{self, OrgRecord, Recording};
use super::project::Manifest;

/// Exit status when the component would be refused at upload.
const EXIT_REFUSED: u8 = 65;
/// Exit status of a malformed decision, and of one a login would refuse.
const EXIT_MALFORMED: u8 = 5;

/// Arguments of `provisio plugin test`.
#[derive(Debug, Args)]
#[command(after_help = "\
The decision is judged by the rules a login applies, with the same rule names: \
the created email must be the principal's (created-email-mismatch), the username \
hint well-formed (username-form), and, given --org-name, --teams and --roles, \
assignments must name the organization (assignment-foreign-organization) and its \
teams (assignment-unknown-team) and roles (assignment-unknown-role). A decision a \
login would refuse exits with status 5, like a malformed one. Assignments that \
cannot be judged without those flags are reported as not judged.")]
pub struct TestArgs {
    /// The component (`.wasm`); in a plugin project (`plugin new`), its
    /// `dist/NAME.wasm`.
    file: Option<PathBuf>,
    /// The principal to run on, as JSON (see `examples/principals/`).
    /// Without it: replay `--golden DIR`, record `--record DIR` from
    /// `principals/*.json`, or, in a plugin project, replay `golden/`.
    #[arg(long, short)]
    principal: Option<PathBuf>,
    /// The binding's configuration, a JSON object.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Per-call limits as JSON; keys left out keep their production default
    /// (`wall_time` in ms, `fuel`, `memory_bytes`, `output_bytes`, `log_bytes`, `host_argument_bytes`).
    #[arg(long)]
    limits: Option<PathBuf>,
    /// Which hook to run; `both` runs what the plugin exports, creator first.
    #[arg(long, value_enum, default_value_t = HookArg::Both)]
    hook: HookArg,
    /// Make random numbers and clocks deterministic, so a run replays identically.
    #[arg(long)]
    seed: Option<u64>,
    /// The name of the domain's organization, which `organization`
    /// assignments must name; without it they are not judged.
    #[arg(long, value_name = "NAME")]
    org_name: Option<String>,
    /// The organization's team names, comma-separated (`--teams ''` for none);
    /// without it `team` assignments are not judged.
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    teams: Option<Vec<String>>,
    /// The organization's role names, comma-separated (`--roles ''` for none);
    /// without it `role` assignments are not judged.
    #[arg(long, value_name = "X,Y", value_delimiter = ',')]
    roles: Option<Vec<String>>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write each run as a recording in DIR: the principal's file name,
    /// with the principal, configuration, seed (0 unless --seed), decisions,
    /// log lines and costs. Without --principal, runs every
    /// `principals/*.json` with `--config` (else `config.json` when there is one).
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Replay every recording in DIR and fail, with a diff, where a
    /// decision, a judgement, a log line or a failure changed.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["principal", "record"])]
    golden: Option<PathBuf>,
    /// Also fail when a call uses more fuel than this (fuel and duration
    /// are otherwise reported, not compared).
    #[arg(long, value_name = "UNITS")]
    max_fuel: Option<u64>,
}

impl TestArgs {
    /// What the flags tell of the organization.
    fn organization(&self) -> judge::Organization {
        let names = |list: &Option<Vec<String>>| {
            list.as_ref().map(|l| {
                l.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).map(str::to_owned).collect::<BTreeSet<_>>()
            })
        };
        judge::Organization { name: self.org_name.clone(), teams: names(&self.teams), roles: names(&self.roles) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HookArg {
    Create,
    Assign,
    Both,
}

fn runtime() -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig::default())?)
}

/// A runtime that keeps compiled components in the project's
/// `dist/.compiled/`, so that testing again compiles only what changed.
fn project_runtime(dir: &Path) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig { cache_dir: Some(dir.join("dist/.compiled")), ..RuntimeConfig::default() })?)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    serde_json::from_slice(&read(path)?).with_context(|| format!("{} is not valid", path.display()))
}

async fn load(runtime: &Runtime, file: &Path) -> anyhow::Result<Result<Plugin, String>> {
    let bytes = read(file)?;
    Ok(runtime.load(&bytes).await.map_err(|e| e.to_string()))
}

/// `provisio plugin check FILE`.
pub async fn check(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    match load(&runtime, file).await? {
        Ok(plugin) => {
            let info = plugin.info();
            if json {
                emit_json(info)?;
            } else {
                let mut out = String::new();
                writeln!(out, "ok        {}", file.display())?;
                writeln!(out, "name      {}", escaped(&info.name))?;
                writeln!(out, "world     provisio:plugin/{}@0.1.0", info.world)?;
                writeln!(out, "sha256    {}", info.hash)?;
                writeln!(out, "size      {} bytes", info.size_bytes)?;
                writeln!(out, "compile   {:.1} ms", info.compile_time.as_secs_f64() * 1000.0)?;
                writeln!(out, "compiled  {} bytes in memory", info.compiled_bytes)?;
                writeln!(out, "imports   {}", info.imports.len())?;
                for import in &info.imports {
                    writeln!(out, "          {}", escaped(import))?;
                }
                emit(&out);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            if json {
                emit_json(&serde_json::json!({ "refused": refusal }))?;
            } else {
                emit(&format!("refused   {}: {}\n", file.display(), escaped(&refusal)));
            }
            Ok(ExitCode::from(EXIT_REFUSED))
        }
    }
}

/// Exit status of a replay whose decisions changed, or over `--max-fuel`.
const EXIT_CHANGED: u8 = 1;

/// `provisio plugin test`: one run (`--principal`), recordings made
/// (`--record`) or replayed (`--golden`, or a project's `golden/`).
pub async fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let here = Path::new(".");
    let (file, project) = match &args.file {
        Some(file) => (file.clone(), false),
        None => (Manifest::read(here)?.component(here), true),
    };
    let runtime = if project { project_runtime(here)? } else { runtime()? };
    let plugin = match load(&runtime, &file).await {
        Ok(Ok(plugin)) => plugin,
        Ok(Err(refusal)) => {
            eprintln!("refused: {}", escaped(&refusal));
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
        Err(e) if project => return Err(e.context("build it first: provisio plugin build")),
        Err(e) => return Err(e),
    };
    let golden = args
        .golden
        .clone()
        .or_else(|| (project && args.principal.is_none() && args.record.is_none()).then(|| PathBuf::from("golden")));
    if let Some(dir) = golden {
        return replay(&runtime, &plugin, &dir, args.max_fuel).await;
    }
    let config_path = args.config.clone().or_else(|| {
        let default = PathBuf::from("config.json");
        (args.principal.is_none() && default.exists()).then_some(default)
    });
    let config: Value = match &config_path {
        Some(path) => read_json(path)?,
        None => Value::Object(serde_json::Map::new()),
    };
    let binding_config = BindingConfig::from_json(&config).with_context(|| {
        format!("{} is not a valid binding configuration", config_path.unwrap_or_default().display())
    })?;
    let limits: Option<Limits> = args.limits.as_ref().map(|path| read_json(path)).transpose()?;
    let hooks = match args.hook {
        HookArg::Create => Hooks::Create,
        HookArg::Assign => Hooks::Assign,
        HookArg::Both => Hooks::Both,
    };
    let org = args.organization();
    let principals = match &args.principal {
        Some(path) => vec![path.clone()],
        None => {
            let Some(_) = &args.record else {
                anyhow::bail!("give --principal P.json, --golden DIR or --record DIR (or run it in a plugin project)");
            };
            golden::json_files(Path::new("principals"), "principals")?
        }
    };
    let seed = args.seed.or(args.record.as_ref().map(|_| 0));
    let mut status = 0;
    for path in &principals {
        let principal: Principal = read_json(path)?;
        let ctx = CallContext { limits: limits.unwrap_or_default(), config: Arc::new(binding_config.clone()), seed };
        let trial = Trial { principal: &principal, ctx, hooks, org: org.clone() };
        let report = runtime.trial(&plugin, &trial).await;
        if let Some(dir) = &args.record {
            let recording = Recording {
                principal: principal.clone(),
                config: config.clone(),
                seed,
                hooks,
                limits,
                org: OrgRecord::of(&org),
                expected: golden::expected(&report),
                measured: golden::measured(&report),
            };
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
            let written = golden::write(dir, &name, &recording)?;
            eprintln!("recorded {}", written.display());
        }
        let code = finish(&report, limits.unwrap_or_default(), args.json)?;
        if status == 0 {
            status = code;
        }
    }
    Ok(ExitCode::from(status))
}

/// Replays every recording in `dir`: `ok` or `CHANGED` with a diff per
/// recording, then a summary; exit status 1 when any changed.
async fn replay(runtime: &Runtime, plugin: &Plugin, dir: &Path, max_fuel: Option<u64>) -> anyhow::Result<ExitCode> {
    let recordings = golden::read_all(dir)?;
    let (mut changed, mut out) = (0, String::new());
    for (path, recording) in &recordings {
        let config = BindingConfig::from_json(&recording.config)
            .with_context(|| format!("{}: `config` is not a valid binding configuration", path.display()))?;
        // Wall time is the machine's, not the plugin's: a replay on a slow
        // machine gets the ceiling's, so that only a decision can change it
        // (fuel, the deterministic budget, stays the recorded limit).
        let limits = recording.limits.unwrap_or(Limits { wall_time: Limits::CEILINGS.wall_time, ..Limits::default() });
        let ctx = CallContext { limits, config: Arc::new(config), seed: recording.seed };
        let trial =
            Trial { principal: &recording.principal, ctx, hooks: recording.hooks, org: recording.org.organization() };
        let report = runtime.trial(plugin, &trial).await;
        let now = golden::expected(&report);
        let measured = golden::measured(&report);
        let diff = golden::diff(&recording.expected, &now);
        let over = max_fuel.map(|max| golden::over_fuel(&measured, max)).unwrap_or_default();
        let name = path.display();
        let cost = costs(&measured, &recording.measured);
        if diff.is_empty() && over.is_empty() {
            writeln!(out, "ok       {name}  {cost}")?;
            continue;
        }
        changed += 1;
        writeln!(out, "CHANGED  {name}  {cost}")?;
        for line in over {
            writeln!(out, "    {line}")?;
        }
        writeln!(out, "    (- recorded, + now)")?;
        for line in json_escaped(&diff).lines() {
            writeln!(out, "    {line}")?;
        }
    }
    writeln!(out, "{} recordings: {} ok, {changed} changed", recordings.len(), recordings.len() - changed)?;
    emit(&out);
    Ok(ExitCode::from(if changed == 0 { 0 } else { EXIT_CHANGED }))
}

/// "create fuel 3544 (recorded 3500) 0.3 ms · assign …".
fn costs(now: &Value, recorded: &Value) -> String {
    let mut parts = Vec::new();
    for hook in ["create", "assign"] {
        let Some(stats) = now.get(hook) else { continue };
        let fuel = stats["fuel_used"].as_u64().unwrap_or(0);
        let was = recorded.get(hook).and_then(|r| r["fuel_used"].as_u64());
        let was = was.map(|w| format!(" (recorded {w})")).unwrap_or_default();
        let ms = stats["duration_us"].as_f64().unwrap_or(0.0) / 1000.0;
        parts.push(format!("{hook} fuel {fuel}{was} {ms:.2} ms"));
    }
    parts.join(" · ")
}

/// Why an assignment was not judged, as the report says it.
fn missing(why: Missing) -> &'static str {
    match why {
        Missing::OrganizationName => "no --org-name given",
        Missing::Teams => "no --teams given",
        Missing::Roles => "no --roles given",
    }
}

fn finish(report: &TrialReport, limits: Limits, json: bool) -> anyhow::Result<u8> {
    if json {
        emit_json(report)?;
    } else {
        let mut out = String::new();
        print_human(&mut out, report, &limits)?;
        emit(&out);
    }
    let create = report.create.as_ref().map(|h| hook_status(&h.call, h.judged.as_ref()));
    let assign = report.assign.as_ref().map(|h| hook_status(&h.call, h.judged.as_ref()));
    Ok([create, assign].into_iter().flatten().find(|&code| code != 0).unwrap_or(0))
}

/// A hook's exit status: its failure's, 5 for a decision a login would
/// refuse, 0 otherwise.
fn hook_status<T>(call: &CallReport<T>, judged: Option<&Judgement>) -> u8 {
    match (&call.outcome, judged) {
        (Err(failure), _) => exit_code(failure),
        (Ok(_), Some(Judgement { refused: Some(_), .. })) => EXIT_MALFORMED,
        (Ok(_), _) => 0,
    }
}

/// Exit status per outcome: 0 a decision (a denial included), then one per failure kind.
fn exit_code(failure: &CallFailure) -> u8 {
    match failure {
        CallFailure::PluginError { .. } => 2,
        CallFailure::Trap { .. } => 3,
        CallFailure::LimitExceeded { .. } => 4,
        CallFailure::Malformed { .. } => EXIT_MALFORMED,
        _ => 6,
    }
}

/// The human report. Every string a plugin controls goes through
/// [`escaped`], so none holds a control character (a line break, a carriage
/// return, an escape sequence) or an invisible format character.
fn print_human(out: &mut String, report: &TrialReport, limits: &Limits) -> std::fmt::Result {
    let info = &report.plugin;
    writeln!(out, "plugin  {} ({}, sha256 {})", escaped(&info.name), info.world, &info.hash.as_str()[..16])?;
    if let Some(HookRun { call: r, judged }) = &report.create {
        match &r.outcome {
            Ok(Creation::Create(a)) => {
                writeln!(out, "create  create account")?;
                writeln!(out, "          email        {}", escaped(&a.email))?;
                let username = a.username_hint.as_deref().map_or("(host derives)".into(), shown);
                writeln!(out, "          username     {username}")?;
                writeln!(out, "          given name   {}", a.given_name.as_deref().map_or("-".into(), shown))?;
                writeln!(out, "          family name  {}", a.family_name.as_deref().map_or("-".into(), shown))?;
                for (k, v) in &a.attributes {
                    writeln!(out, "          attribute    {} = {}", escaped(k), escaped(v))?;
                }
            }
            Ok(Creation::Deny(d)) => writeln!(out, "create  deny [{}] {}", escaped(&d.code), escaped(&d.message))?,
            Err(f) => print_failure(out, "create", f)?,
        }
        print_judgement(out, judged.as_ref())?;
        print_stats(out, r, limits)?;
    }
    if let Some(HookRun { call: r, judged }) = &report.assign {
        match &r.outcome {
            Ok(list) if list.is_empty() => writeln!(out, "assign  no memberships")?,
            Ok(list) => {
                writeln!(out, "assign  {} membership(s)", list.len())?;
                let not_judged = judged.as_ref().map_or(&[][..], |j| &j.not_judged[..]);
                let refused_at = judged.as_ref().and_then(|j| j.refused_at);
                for (i, a) in list.iter().enumerate() {
                    let kind = match a {
                        Assignment::Organization(_) => "organization",
                        Assignment::Team(_) => "team",
                        Assignment::Role(_) => "role",
                    };
                    let name = escaped(a.name());
                    match not_judged.get(i).copied().flatten().map(missing) {
                        _ if refused_at == Some(i) => writeln!(out, "          {kind:<13}{name}  (refused)")?,
                        Some(why) => writeln!(out, "          {kind:<13}{name}  (not judged: {why})")?,
                        None => writeln!(out, "          {kind:<13}{name}")?,
                    }
                }
            }
            Err(f) => print_failure(out, "assign", f)?,
        }
        print_judgement(out, judged.as_ref())?;
        print_stats(out, r, limits)?;
    }
    Ok(())
}

/// A plugin-controlled string as the human report shows it.
fn shown(text: &str) -> String {
    escaped(text).to_string()
}

/// The line saying a login would refuse the decision, with the rule's name.
fn print_judgement(out: &mut String, judged: Option<&Judgement>) -> std::fmt::Result {
    if let Some(rule) = judged.and_then(|j| j.refused) {
        writeln!(out, "        REFUSED by the host: {rule} ({})", rule.describe())?;
    }
    Ok(())
}

fn print_failure(out: &mut String, hook: &str, failure: &CallFailure) -> std::fmt::Result {
    writeln!(out, "{hook:<8}FAILED {}", escaped(&failure.to_string()))?;
    if let CallFailure::Trap { backtrace, .. } = failure {
        for frame in backtrace.iter().take(16) {
            writeln!(out, "          at {}", escaped(frame))?;
        }
    }
    Ok(())
}

/// Log lines shown in the human report; `--json` has them all.
const SHOWN_LOG_LINES: usize = 20;
/// Characters of a log line shown in the human report.
const SHOWN_LOG_CHARS: usize = 160;

/// The call's cost, each part beside its limit: how close the call came.
fn print_stats<T>(out: &mut String, r: &CallReport<T>, limits: &Limits) -> std::fmt::Result {
    let s = &r.stats;
    let share = |used: f64, limit: f64| if limit > 0.0 { used / limit * 100.0 } else { 0.0 };
    let us = s.duration.as_secs_f64() * 1e6;
    let memory = s.peak_memory_bytes as f64;
    writeln!(
        out,
        "        {us:.1} µs ({:.1}% of {} ms) · fuel {} ({:.1}% of {}) · peak memory {:.1} KiB ({:.1}% of {} KiB)",
        share(us, limits.wall_time.as_secs_f64() * 1e6),
        limits.wall_time.as_millis(),
        s.fuel_used,
        share(s.fuel_used as f64, limits.fuel as f64),
        limits.fuel,
        memory / 1024.0,
        share(memory, limits.memory_bytes as f64),
        limits.memory_bytes / 1024,
    )?;
    for line in s.logs.iter().take(SHOWN_LOG_LINES) {
        let text: String = line.message.chars().take(SHOWN_LOG_CHARS).collect();
        let cut = if text.len() < line.message.len() { "…" } else { "" };
        writeln!(out, "        log {:<5} {}{cut}", line.level.to_string(), escaped(&text))?;
    }
    if s.logs.len() > SHOWN_LOG_LINES {
        writeln!(out, "        log ({} more lines; --json shows all)", s.logs.len() - SHOWN_LOG_LINES)?;
    }
    Ok(())
}

/// Writes `value` as pretty JSON, with every control and invisible format
/// character escaped: serde_json escapes only U+0000 to U+001F, and leaves C1
/// controls (U+009B is a terminal's CSI) and bidirectional overrides raw.
fn emit_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    emit(&format!("{}\n", json_escaped(&text)));
    Ok(())
}

/// `json` (serialized, so every such character is inside a string) with the
/// characters [`provisio::canonical::text`] refuses written as `\uXXXX`;
/// the structural line breaks of pretty printing stay.
fn json_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut buf = [0u8; 4];
    for c in json.chars() {
        if c == '\n' || provisio::canonical::text(c.encode_utf8(&mut buf)).is_ok() {
            out.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    out
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use provisio::plugin::{CallStats, LogLevel, LogLine};

    use super::*;

    const FORGERY: &str =
        "\u{1b}]0;owned\u{7}\r\u{1b}[2Kcreate  create account\n  email ceo@victim.example\u{9b}\u{202e}";

    #[test]
    fn log_lines_and_failures_are_shown_escaped_on_their_own_line() {
        let logs = vec![LogLine { level: LogLevel::Info, message: FORGERY.into() }];
        let report: CallReport<()> = CallReport { outcome: Ok(()), stats: CallStats { logs, ..CallStats::default() } };
        let failure = CallFailure::Trap { message: FORGERY.into(), backtrace: vec![FORGERY.into()] };
        let mut out = String::new();
        let stats = print_stats(&mut out, &report, &Limits::default());
        assert!(print_failure(&mut out, "create", &failure).and(stats).is_ok());
        assert!(!out.chars().any(|c| c != '\n' && provisio::canonical::text(&c.to_string()).is_err()), "{out:?}");
        assert_eq!(out.lines().count(), 4, "failure, frame, stats and log lines only: {out}");
        assert!(out.contains(r"at \u{1b}]0;owned\u{7}\u{d}"), "{out}");
        assert!(out.contains(r"log info  \u{1b}]0;owned\u{7}\u{d}\u{1b}[2Kcreate"), "{out}");
    }

    #[test]
    fn json_output_escapes_what_serde_json_leaves_raw() {
        let value = serde_json::json!({ "message": FORGERY, "tag": "a\u{e0041}b" });
        let text = json_escaped(&serde_json::to_string_pretty(&value).unwrap_or_default());
        assert!(!text.chars().any(|c| c != '\n' && provisio::canonical::text(&c.to_string()).is_err()), "{text:?}");
        for escape in [r"\u001b", r"\u009b", r"\u202e", r"\udb40\udc41"] {
            assert!(text.contains(escape), "{escape}: {text}");
        }
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, value, "the same JSON value");
    }
}
