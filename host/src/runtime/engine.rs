//! The one wasmtime `Engine`, configured for untrusted code, and the epoch
//! ticker that bounds every call's wall time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::RuntimeConfig;

/// How often the epoch advances. A guest that ignores its deadline is
/// interrupted at most one tick late.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Bytes of linear memory reset in place, rather than returned to the kernel,
/// when the kernel tells which pages were dirtied.
const KEEP_RESIDENT_WITH_PAGEMAP: usize = 4 << 20;

/// Core instances a single component may create (the main module plus the
/// shims and adapters that component tooling adds).
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// Builds the engine: pooling allocator, epoch interruption, fuel, bounded
/// memories, tables, instances and stack, and only the proposals the
/// contract's guests need.
pub(super) fn build(config: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let mut c = code_config(config);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(config)));
    Engine::new(&c)
}

/// An engine that only compiles (in `provisio __compile`): the same code
/// generation as [`build`]'s, so its artifacts load there, without the
/// pooling allocator's reservations (which an address-space limit would
/// refuse, and which compiling does not use).
pub(super) fn build_for_compiling(config: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let mut c = code_config(config);
    c.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    Engine::new(&c)
}

/// The pooling allocator: a fixed number of sandbox slots, reused.
fn pool(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let slots = config.max_concurrent_calls.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .total_core_instances(slots * MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .total_memories(slots * 4)
        .total_tables(slots * 8)
        .total_stacks(slots)
        .table_elements(20_000)
        .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
        .table_keep_resident(16 << 10);
    // Reusing a slot should cost no page faults and no TLB shootdowns: where
    // the kernel can report which pages a call dirtied (PAGEMAP_SCAN, Linux
    // 6.7+), only those are reset with memset, up to a typical plugin's whole
    // footprint; elsewhere only the first 64 KiB are memset and the rest is
    // returned to the kernel.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes).linear_memory_keep_resident(KEEP_RESIDENT_WITH_PAGEMAP);
    } else {
        pool.linear_memory_keep_resident(64 << 10);
    }
    pool
}

/// Everything of the configuration but the instance allocator: what
/// decides the compiled code and how it runs.
fn code_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    // Explicit bounds checks instead of guard pages and signal handlers: a
    // plugin call is short, and with guard pages every instantiation and
    // every `memory.grow` costs an `mprotect` and a TLB shootdown, which
    // dominated the cost of a call (see BENCHMARKS.md).
    c.signals_based_traps(false)
        .memory_guard_size(0)
        .memory_reservation(config.max_memory_bytes)
        .memory_reservation_for_growth(0);
    c.epoch_interruption(true)
        .consume_fuel(true)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        .wasm_component_model(true)
        // Proposals the contract does not need are off; threads, exceptions,
        // function references and async components are not even compiled in.
        .wasm_memory64(false)
        .wasm_gc(false)
        .wasm_stack_switching(false)
        .wasm_relaxed_simd(false)
        .wasm_tail_call(false);
    // A trap's frames name the guest's source file and line when the
    // component carries DWARF line tables (release plugins usually strip
    // them: nothing is kept then).
    c.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
    c
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on its own thread until dropped.
pub(super) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub(super) fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new().name("provisio-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
