//! One plugin call: a fresh `Store` from the plugin's `InstancePre`, the
//! per-call limits armed, the export invoked, and whatever happened turned
//! into a typed outcome.

use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};

use super::bindings::{AssignerGuest, CreatorGuest, wit};
use super::state::{CallState, MemoryRefused};
use super::{CallContext, Plugin, Runtime};
use crate::plugin::types::assignments_text_bytes;
use crate::plugin::{
    Account, Assignment, CallFailure, CallReport, CallStats, Creation, LimitKind, Principal, validate,
};

/// Which export to call.
pub(super) enum Call<'a> {
    Name,
    Create(&'a Principal),
    Assign(&'a Account, &'a Principal),
}

/// What the export answered.
pub(super) enum Answer {
    Name(String),
    Creation(Creation),
    Assignments(Vec<Assignment>),
}

/// Bytes of structure that wasmtime counts, beyond the text, when it lifts a
/// value the guest passes to the host (a list costs its length times the
/// size of one host entry, 32 bytes for an assignment): 256 assignments or
/// 32 attributes take well under this.
const HOSTCALL_STRUCTURE_BYTES: u64 = 16 << 10;

/// What wasmtime says when a value passed from guest to host exceeds the
/// store's hostcall budget (its error type is private).
const HOSTCALL_BUDGET_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Most bytes of a plugin's own error message kept in the report.
const MAX_PLUGIN_ERROR: usize = 1024;

pub(super) async fn run(runtime: &Runtime, plugin: &Plugin, ctx: &CallContext, call: Call<'_>) -> CallReport<Answer> {
    let limits = ctx.limits;
    let inner = &runtime.inner;
    if let Err(reason) = check_exported(plugin, &call) {
        return CallReport { outcome: Err(CallFailure::Unavailable { reason }), stats: CallStats::default() };
    }
    if limits.memory_bytes > inner.config.max_memory_bytes {
        let reason = format!(
            "the memory limit {} exceeds this host's ceiling of {} bytes",
            limits.memory_bytes, inner.config.max_memory_bytes
        );
        return CallReport { outcome: Err(CallFailure::Unavailable { reason }), stats: CallStats::default() };
    }
    let Ok(Ok(_slot)) = tokio::time::timeout(limits.wall_time, inner.slots.acquire()).await else {
        let reason = "every sandbox slot is busy".to_owned();
        return CallReport { outcome: Err(CallFailure::Unavailable { reason }), stats: CallStats::default() };
    };

    let started = Instant::now();
    let deadline = started + limits.wall_time;
    let mut store = Store::new(&inner.engine, CallState::new(ctx));
    store.limiter(|s| &mut s.limiter);
    // Fuel is always armed; `set_fuel` only fails when fuel is disabled.
    let _ = store.set_fuel(limits.fuel);
    // Bound what the host lifts from the guest, in one host-import call or
    // in the decision, before allocating it: a list header claiming millions
    // of entries, or entries aliasing one huge string, fail at once.
    store.set_hostcall_fuel(usize::try_from(hostcall_budget(&limits)).unwrap_or(usize::MAX));
    // Check the clock at every epoch tick: interrupt past the deadline,
    // otherwise yield so that other tasks on this thread keep running.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
    });

    // Guest code is interrupted by the epoch deadline; a wait on the host
    // (a WASI poll, a sleep) is abandoned at the same deadline.
    let result = tokio::time::timeout_at(deadline.into(), invoke(&mut store, plugin, &call)).await;
    let duration = started.elapsed();
    let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let state = store.data_mut();
    // Classify before taking the log: a panic's message is read from it.
    let outcome = match result {
        Err(_elapsed) => {
            Err(CallFailure::LimitExceeded { limit: LimitKind::WallTime, value: millis(limits.wall_time) })
        }
        Ok(Err(error)) => Err(classify(&error, state, ctx, inner.config.max_wasm_stack_bytes as u64)),
        Ok(Ok(Err(message))) => Err(CallFailure::PluginError { message: truncate(message, MAX_PLUGIN_ERROR) }),
        Ok(Ok(Ok(answer))) => check_answer(answer, ctx),
    };
    let logs = state.log.take();
    let mut stats = CallStats {
        duration,
        fuel_used,
        peak_memory_bytes: state.limiter.peak as u64,
        logs,
        logs_truncated: state.log.stdio_full()
            || state.log.cut()
            || matches!(state.exceeded, Some((LimitKind::LogBytes, _))),
    };
    if stats.logs_truncated {
        stats.logs.push(crate::plugin::LogLine {
            level: crate::plugin::LogLevel::Warn,
            message: format!("[log cut at the {}-byte budget]", limits.log_bytes),
        });
    }
    CallReport { outcome, stats }
}

fn check_exported(plugin: &Plugin, call: &Call<'_>) -> Result<(), String> {
    let world = plugin.inner.info.world;
    match call {
        Call::Create(_) if !world.creates() => Err(format!("a {world} plugin does not export identity-creator")),
        Call::Assign(..) if !world.assigns() => Err(format!("a {world} plugin does not export assignment-provider")),
        _ => Ok(()),
    }
}

/// Instantiates the plugin in `store` and invokes the export.
async fn invoke(
    store: &mut Store<CallState>,
    plugin: &Plugin,
    call: &Call<'_>,
) -> wasmtime::Result<Result<Answer, String>> {
    let loaded = &plugin.inner;
    let instance = loaded.pre.instantiate_async(&mut *store).await?;
    let creator = |store: &mut Store<CallState>| -> wasmtime::Result<CreatorGuest> {
        match &loaded.creator {
            Some(indices) => indices.load(&mut *store, &instance),
            None => Err(wasmtime::Error::msg("identity-creator is not exported")),
        }
    };
    let assigner = |store: &mut Store<CallState>| -> wasmtime::Result<AssignerGuest> {
        match &loaded.assigner {
            Some(indices) => indices.load(&mut *store, &instance),
            None => Err(wasmtime::Error::msg("assignment-provider is not exported")),
        }
    };
    Ok(match call {
        Call::Name if loaded.creator.is_some() => Ok(Answer::Name(creator(store)?.call_name(&mut *store).await?)),
        Call::Name => Ok(Answer::Name(assigner(store)?.call_name(&mut *store).await?)),
        Call::Create(principal) => {
            let p = wit::Principal::from(*principal);
            creator(store)?.call_create(&mut *store, &p).await?.map(|c| Answer::Creation(c.into()))
        }
        Call::Assign(account, principal) => {
            let (a, p) = (wit::Account::from(*account), wit::Principal::from(*principal));
            assigner(store)?
                .call_assign(&mut *store, &a, &p)
                .await?
                .map(|list| Answer::Assignments(list.into_iter().map(Into::into).collect()))
        }
    })
}

/// How many bytes a guest may pass to the host in one host-import call or in
/// its decision, as wasmtime counts them while lifting: the larger of the
/// output and host-argument limits, plus room for the values' structure.
fn hostcall_budget(limits: &crate::plugin::Limits) -> u64 {
    limits.output_bytes.max(limits.host_argument_bytes).saturating_add(HOSTCALL_STRUCTURE_BYTES)
}

/// Applies the output-size limit and the contract's structural rules.
fn check_answer(answer: Answer, ctx: &CallContext) -> Result<Answer, CallFailure> {
    let max = ctx.limits.output_bytes;
    let (bytes, verdict) = match &answer {
        Answer::Name(n) => (n.len(), validate::plugin_name(n)),
        Answer::Creation(c) => (c.text_bytes(), validate::creation(c)),
        Answer::Assignments(list) => (assignments_text_bytes(list), validate::assignments(list)),
    };
    if bytes as u64 > max {
        return Err(CallFailure::LimitExceeded { limit: LimitKind::OutputBytes, value: max });
    }
    verdict.map_err(|v| CallFailure::Malformed { rule: v.rule, detail: v.detail })?;
    Ok(answer)
}

/// Names what stopped a call that ended in an error. A limit the host
/// enforced explains the trap that followed it, so limits are checked first.
fn classify(error: &wasmtime::Error, state: &CallState, ctx: &CallContext, stack_bytes: u64) -> CallFailure {
    let limits = &ctx.limits;
    let limit = |limit, value| CallFailure::LimitExceeded { limit, value };
    if let Some((kind, value)) = state.exceeded {
        return limit(kind, value);
    }
    // A refused `memory.grow` traps where it happens, so only the trap it
    // caused is the memory limit; any other trap is reported as what it is.
    if error.chain().any(|e| e.is::<MemoryRefused>()) {
        return limit(LimitKind::Memory, limits.memory_bytes);
    }
    if error.chain().any(|e| e.to_string().contains(HOSTCALL_BUDGET_EXHAUSTED)) {
        // Raised inside a host import (the guest's frames are on the stack),
        // it is an argument too large; raised after the export returned,
        // while lifting its decision, the output is.
        return match error.is::<WasmBacktrace>() {
            true => limit(LimitKind::HostArgument, limits.host_argument_bytes),
            false => limit(LimitKind::OutputBytes, limits.output_bytes),
        };
    }
    if let Some(detail) = abi_violation(error) {
        return CallFailure::Malformed { rule: ABI_RULE, detail };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return limit(LimitKind::WallTime, millis(limits.wall_time)),
        Some(Trap::OutOfFuel) => return limit(LimitKind::Fuel, limits.fuel),
        Some(Trap::StackOverflow) => return limit(LimitKind::Stack, stack_bytes),
        _ => {}
    }
    if state.log.stdio_full() {
        return limit(LimitKind::LogBytes, limits.log_bytes);
    }
    let mut message = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    if let Some(panic) = state.log.panic_message() {
        message = format!("the guest panicked: {panic} ({message})");
    }
    let backtrace = error
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| {
                    let name = match f.func_name() {
                        Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
                        None => format!("<{}>[{}]", f.module().name().unwrap_or("module"), f.func_index()),
                    };
                    // The innermost source position DWARF gives, if any.
                    let place = f.symbols().iter().find_map(|s| Some(format!("{}:{}", s.file()?, s.line()?)));
                    match place {
                        Some(place) => format!("{name} at {place}"),
                        None => name,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    CallFailure::Trap { message, backtrace }
}

/// The rule a value that is not a valid canonical-ABI encoding of its WIT
/// type breaks (invalid UTF-8, a bad discriminant, a pointer out of bounds).
const ABI_RULE: &str = "abi";

/// What was malformed, when wasmtime refused to lift a value the guest passed
/// (its decision, or a host import's argument) because its encoding is
/// invalid. Wasmtime reports these as plain errors, not traps.
fn abi_violation(error: &wasmtime::Error) -> Option<String> {
    if error.is::<Trap>() {
        return None;
    }
    if error.chain().any(|e| e.is::<std::str::Utf8Error>()) {
        return Some("a string is not valid UTF-8".to_owned());
    }
    const LIFT_ERRORS: [&str; 5] =
        ["out of bounds of memory", "discriminant", "not aligned", "byte length too large", "return pointer"];
    let cause = error.root_cause().to_string();
    LIFT_ERRORS.iter().any(|m| cause.contains(m)).then(|| truncate(cause, 256))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}
