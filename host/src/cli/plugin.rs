//! `provisio plugin check` and `provisio plugin test`: the plugin developer's
//! loop, running a component exactly as the server would.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use provisio::plugin::{Account, BindingConfig, CallFailure, CallReport, Creation, Limits, Principal};
use provisio::runtime::{CallContext, Plugin, Runtime, RuntimeConfig};
use serde::Serialize;

/// Exit status when the component would be refused at upload.
const EXIT_REFUSED: u8 = 65;

/// Arguments of `provisio plugin test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The component (`.wasm`).
    file: PathBuf,
    /// The principal to run on, as JSON (see `examples/principals/`).
    #[arg(long, short)]
    principal: PathBuf,
    /// The binding's configuration, a JSON object.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Per-call limits as JSON; keys left out keep their production default
    /// (`wall_time` in ms, `fuel`, `memory_bytes`, `output_bytes`, `log_bytes`, `host_argument_bytes`).
    #[arg(long)]
    limits: Option<PathBuf>,
    /// Which hook to run; `both` runs what the plugin exports, creator first.
    #[arg(long, value_enum, default_value_t = Hook::Both)]
    hook: Hook,
    /// Make random numbers and clocks deterministic, so a run replays identically.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Hook {
    Create,
    Assign,
    Both,
}

fn runtime() -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig::default())?)
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
                emit(&format!("{}\n", serde_json::to_string_pretty(info)?));
            } else {
                let mut out = String::new();
                writeln!(out, "ok        {}", file.display())?;
                writeln!(out, "name      {}", info.name)?;
                writeln!(out, "world     provisio:plugin/{}@0.1.0", info.world)?;
                writeln!(out, "sha256    {}", info.hash)?;
                writeln!(out, "size      {} bytes", info.size_bytes)?;
                writeln!(out, "compile   {:.1} ms", info.compile_time.as_secs_f64() * 1000.0)?;
                writeln!(out, "compiled  {} bytes in memory", info.compiled_bytes)?;
                writeln!(out, "imports   {}", info.imports.len())?;
                for import in &info.imports {
                    writeln!(out, "          {import}")?;
                }
                emit(&out);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            if json {
                emit(&format!("{}\n", serde_json::json!({ "refused": refusal })));
            } else {
                emit(&format!("refused   {}: {refusal}\n", file.display()));
            }
            Ok(ExitCode::from(EXIT_REFUSED))
        }
    }
}

#[derive(Serialize)]
struct TestReport<'a> {
    plugin: &'a provisio::runtime::PluginInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    create: Option<CallReport<Creation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assign: Option<CallReport<Vec<provisio::plugin::Assignment>>>,
}

/// `provisio plugin test FILE --principal P.json`.
pub async fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let principal: Principal = read_json(&args.principal)?;
    let config = match &args.config {
        Some(path) => BindingConfig::from_json(&read_json(path)?)
            .with_context(|| format!("{} is not a valid binding configuration", path.display()))?,
        None => BindingConfig::default(),
    };
    let limits: Limits = match &args.limits {
        Some(path) => read_json(path)?,
        None => Limits::default(),
    };
    let runtime = runtime()?;
    let plugin = match load(&runtime, &args.file).await? {
        Ok(plugin) => plugin,
        Err(refusal) => {
            eprintln!("refused: {refusal}");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    };
    let ctx = CallContext { limits, config: Arc::new(config), seed: args.seed };
    let world = plugin.info().world;
    let mut report = TestReport { plugin: plugin.info(), create: None, assign: None };

    let mut account = None;
    if world.creates() && args.hook != Hook::Assign {
        let created = runtime.create(&plugin, &principal, &ctx).await;
        account = match &created.outcome {
            Ok(Creation::Create(new)) => Some(preview_account(&new.username_hint, &new.email, new)),
            Ok(Creation::Deny(_)) | Err(_) => None,
        };
        let stop = created.outcome.is_err() || account.is_none();
        report.create = Some(created);
        if stop {
            return finish(&report, args.json);
        }
    }
    if world.assigns() && args.hook != Hook::Create {
        let account = account.unwrap_or_else(|| account_for(&principal));
        report.assign = Some(runtime.assign(&plugin, &account, &principal, &ctx).await);
    }
    finish(&report, args.json)
}

/// The account the server would hand the assignment provider after this creation.
fn preview_account(hint: &Option<String>, email: &str, new: &provisio::plugin::NewAccount) -> Account {
    Account {
        id: "preview".into(),
        username: hint.clone().unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned()),
        email: email.to_owned(),
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        newly_created: true,
    }
}

/// An account made from the principal, for assignment-only plugins.
fn account_for(p: &Principal) -> Account {
    Account {
        id: "preview".into(),
        username: p.email.split('@').next().unwrap_or_default().to_owned(),
        email: p.email.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        newly_created: true,
    }
}

fn finish(report: &TestReport<'_>, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(report)?));
    } else {
        let mut out = String::new();
        print_human(&mut out, report)?;
        emit(&out);
    }
    let failure = report
        .create
        .as_ref()
        .and_then(|r| r.outcome.as_ref().err())
        .or_else(|| report.assign.as_ref().and_then(|r| r.outcome.as_ref().err()));
    Ok(ExitCode::from(failure.map_or(0, exit_code)))
}

/// Exit status per outcome: 0 a decision (a denial included), then one per failure kind.
fn exit_code(failure: &CallFailure) -> u8 {
    match failure {
        CallFailure::PluginError { .. } => 2,
        CallFailure::Trap { .. } => 3,
        CallFailure::LimitExceeded { .. } => 4,
        CallFailure::Malformed { .. } => 5,
        _ => 6,
    }
}

fn print_human(out: &mut String, report: &TestReport<'_>) -> std::fmt::Result {
    let info = report.plugin;
    writeln!(out, "plugin  {} ({}, sha256 {})", info.name, info.world, &info.hash[..16])?;
    if let Some(r) = &report.create {
        match &r.outcome {
            Ok(Creation::Create(a)) => {
                writeln!(out, "create  create account")?;
                writeln!(out, "          email        {}", a.email)?;
                writeln!(out, "          username     {}", a.username_hint.as_deref().unwrap_or("(host derives)"))?;
                writeln!(out, "          given name   {}", a.given_name.as_deref().unwrap_or("-"))?;
                writeln!(out, "          family name  {}", a.family_name.as_deref().unwrap_or("-"))?;
                for (k, v) in &a.attributes {
                    writeln!(out, "          attribute    {k} = {v}")?;
                }
            }
            Ok(Creation::Deny(d)) => writeln!(out, "create  deny [{}] {}", d.code, d.message)?,
            Err(f) => print_failure(out, "create", f)?,
        }
        print_stats(out, r)?;
    }
    if let Some(r) = &report.assign {
        match &r.outcome {
            Ok(list) if list.is_empty() => writeln!(out, "assign  no memberships")?,
            Ok(list) => {
                writeln!(out, "assign  {} membership(s)", list.len())?;
                for a in list {
                    let (kind, name) = match a {
                        provisio::plugin::Assignment::Organization(n) => ("organization", n),
                        provisio::plugin::Assignment::Team(n) => ("team", n),
                        provisio::plugin::Assignment::Role(n) => ("role", n),
                    };
                    writeln!(out, "          {kind:<13}{name}")?;
                }
            }
            Err(f) => print_failure(out, "assign", f)?,
        }
        print_stats(out, r)?;
    }
    Ok(())
}

fn print_failure(out: &mut String, hook: &str, failure: &CallFailure) -> std::fmt::Result {
    writeln!(out, "{hook:<8}FAILED {failure}")?;
    if let CallFailure::Trap { backtrace, .. } = failure {
        for frame in backtrace.iter().take(16) {
            writeln!(out, "          at {frame}")?;
        }
    }
    Ok(())
}

/// Log lines shown in the human report; `--json` has them all.
const SHOWN_LOG_LINES: usize = 20;
/// Characters of a log line shown in the human report.
const SHOWN_LOG_CHARS: usize = 160;

fn print_stats<T>(out: &mut String, r: &CallReport<T>) -> std::fmt::Result {
    let s = &r.stats;
    writeln!(
        out,
        "        {:.1} µs · fuel {} · peak memory {:.1} KiB",
        s.duration.as_secs_f64() * 1e6,
        s.fuel_used,
        s.peak_memory_bytes as f64 / 1024.0
    )?;
    for line in s.logs.iter().take(SHOWN_LOG_LINES) {
        let text: String = line.message.chars().take(SHOWN_LOG_CHARS).collect();
        let cut = if text.len() < line.message.len() { "…" } else { "" };
        writeln!(out, "        log {:<5} {text}{cut}", line.level.to_string())?;
    }
    if s.logs.len() > SHOWN_LOG_LINES {
        writeln!(out, "        log ({} more lines; --json shows all)", s.logs.len() - SHOWN_LOG_LINES)?;
    }
    Ok(())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
