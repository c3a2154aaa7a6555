//! The plugin runtime: the only module that imports wasmtime.
//!
//! A [`Runtime`] owns one engine configured for untrusted code. [`Runtime::load`]
//! checks a component against the contract (which world, which imports),
//! refuses it when it goes beyond the structural [`Bounds`] that keep its
//! compile cheap, compiles it once per content hash (at most
//! `max_concurrent_compiles` at once) and keeps it ready to instantiate;
//! [`Runtime::create`] and [`Runtime::assign`] run one call each in a fresh
//! sandbox with per-call limits and report a typed outcome.

mod artifacts;
mod bindings;
mod bounds;
mod cache;
mod call;
mod compiler;
mod engine;
mod inspect;
mod state;
mod trial;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};

pub use self::artifacts::ArtifactCacheStats;
pub use self::bounds::{Bounds, Complexity};
pub use self::cache::PluginCacheStats;
pub use self::compiler::{CompilerProcess, run_child as run_compiler_child};
pub use self::inspect::World;
use self::state::CallState;
pub(crate) use self::trial::account_for;
pub use self::trial::{HookRun, Hooks, Judgement, Missing, Trial, TrialReport};
use crate::plugin::{
    Account, Assignment, BindingConfig, CallFailure, CallReport, Creation, Limits, PluginHash, Principal, validate,
};

/// How a [`Runtime`] is set up. The defaults suit a server.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where precompiled artifacts are kept; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
    /// The most bytes of precompiled artifacts kept in `cache_dir`; beyond
    /// it the least recently used are deleted.
    pub max_artifact_bytes: u64,
    /// The most bytes of compiled plugin images kept loaded in memory;
    /// beyond it the least recently used plugins are dropped and loaded again
    /// (from `cache_dir`) when next used.
    pub max_loaded_bytes: u64,
    /// Calls that may run at once; further calls wait for a free slot.
    pub max_concurrent_calls: u32,
    /// The ceiling on any call's `memory_bytes` limit.
    pub max_memory_bytes: u64,
    /// The wasm stack a call may use; deeper recursion stops the call.
    pub max_wasm_stack_bytes: usize,
    /// The limits of a call that does not say otherwise.
    pub default_limits: Limits,
    /// The operator's ceilings: a binding asking for more is refused, and a
    /// call never runs with more (default [`Limits::CEILINGS`], with
    /// `memory_bytes` at most `max_memory_bytes`).
    pub ceilings: Limits,
    /// The structural bounds a component must stay within before it is
    /// compiled (see [`Bounds`] for the defaults).
    pub bounds: Bounds,
    /// Compiles that may run at once (at least 1); further loads that must
    /// compile wait for a free slot, so that a burst of uploads queues
    /// instead of multiplying the compilers' threads and memory.
    pub max_concurrent_compiles: u32,
    /// Where compiles run: `None` in this process; a [`CompilerProcess`]
    /// runs each in a child process with its own CPU-time, address-space
    /// and wall-time budget (used when `cache_dir` is set, where the child's
    /// artifact is kept). `provisio serve` uses one.
    pub compiler: Option<CompilerProcess>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_artifact_bytes: 4 << 30,
            max_loaded_bytes: 1 << 30,
            max_concurrent_calls: 128,
            max_memory_bytes: 256 << 20,
            max_wasm_stack_bytes: 512 << 10,
            default_limits: Limits::default(),
            ceilings: Limits::CEILINGS,
            bounds: Bounds::default(),
            max_concurrent_compiles: 2,
            compiler: None,
        }
    }
}

/// Why a runtime could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The engine refused the configuration.
    #[error("the WebAssembly engine could not be configured: {0}")]
    Engine(String),
    /// The artifact cache or the ticker thread could not be set up.
    #[error("the plugin runtime could not start: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a component was refused. Every message names the problem precisely
/// enough for a plugin author to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not WebAssembly.
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    /// A core module instead of a component.
    #[error(
        "this is a core WebAssembly module, not a component: build with `--target wasm32-wasip2` or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// The component did not compile.
    #[error("the component is invalid: {0}")]
    Invalid(String),
    /// The component exports none of the contract's interfaces.
    #[error(
        "the component implements no Provisio world: it exports neither `provisio:plugin/identity-creator@0.1.0` nor `provisio:plugin/assignment-provider@0.1.0` (it exports: {exports})"
    )]
    WrongWorld {
        /// What it does export, comma-separated.
        exports: String,
    },
    /// The component imports something the sandbox does not offer.
    #[error(
        "the component imports `{import}`, which plugins may not use (allowed: provisio:plugin/host, and WASI 0.2 cli, clocks, filesystem, io, random and sockets, all of them denied but for clocks and random)"
    )]
    ForbiddenImport {
        /// The import's full name.
        import: String,
    },
    /// An import or export has a different shape than the contract's.
    #[error("the component does not match the contract: {0}")]
    Mismatch(String),
    /// The component goes beyond one of the structural bounds checked before
    /// compiling (see [`Bounds`]).
    #[error(
        "the component is too complex to compile: its `{bound}` is {value}, over the bound of {limit} (see the upload bounds in the README); make the plugin smaller"
    )]
    TooComplex {
        /// The bound's name, as the table of [`Bounds`] lists it.
        bound: &'static str,
        /// What the component has.
        value: u64,
        /// The bound.
        limit: u64,
    },
    /// Compiling the component went beyond its budget (in a
    /// [`CompilerProcess`]).
    #[error("compiling the component took more than its {budget} budget of {limit}; make the plugin smaller")]
    CompileBudget {
        /// `cpu-time`, `address-space` or `wall-time`.
        budget: &'static str,
        /// The budget.
        limit: String,
    },
    /// The plugin's `name()` call failed.
    #[error("the plugin's name() call failed: {0}")]
    Name(String),
}

/// A component checked against the contract, compiled, and ready to run.
/// Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Loaded>,
}

struct Loaded {
    info: PluginInfo,
    pre: InstancePre<CallState>,
    creator: Option<bindings::CreatorIndices>,
    assigner: Option<bindings::AssignerIndices>,
}

/// What `provisio plugin check` reports about a loaded plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// The plugin version's name: the SHA-256 of the component's bytes.
    pub hash: PluginHash,
    /// The world it implements.
    pub world: World,
    /// What its `name()` returned.
    pub name: String,
    /// Everything it imports.
    pub imports: Vec<String>,
    /// Size of the component in bytes.
    pub size_bytes: u64,
    /// Time spent compiling it (or loading its precompiled artifact).
    #[serde(rename = "compile_ms", serialize_with = "millis_f64")]
    pub compile_time: Duration,
    /// Size of the compiled image (machine code and metadata) in memory.
    pub compiled_bytes: u64,
    /// Whether the precompiled artifact came from the disk cache.
    pub from_disk_cache: bool,
}

impl Plugin {
    /// What was learned while loading the plugin.
    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }
}

/// Per-call settings: limits, the binding's configuration, and an optional
/// seed that makes random numbers and clocks deterministic.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Limits for this call.
    pub limits: Limits,
    /// The binding's configuration, answered through the `config` import.
    pub config: Arc<BindingConfig>,
    /// When set, WASI random is a PRNG seeded with it, the wall clock reads
    /// 2026-01-01T00:00:00Z and the monotonic clock advances 1 µs per reading.
    pub seed: Option<u64>,
}

/// The sandboxed WebAssembly runtime. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    artifacts: Option<Arc<artifacts::ArtifactCache>>,
    loaded: cache::PluginCache,
    slots: tokio::sync::Semaphore,
    /// One permit per compile running, moved into the blocking thread that
    /// compiles, so that a cancelled load keeps its slot until it is over.
    compiles: Arc<tokio::sync::Semaphore>,
    config: RuntimeConfig,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Starts a runtime: builds the engine, starts the epoch ticker and opens
    /// the artifact cache.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = engine::build(&config).map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| RuntimeError::Engine(e.to_string()))?;
        bindings::host_iface::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .and_then(|()| bindings::wit::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let artifacts = match &config.cache_dir {
            Some(dir) => Some(Arc::new(artifacts::ArtifactCache::open(dir, &engine, config.max_artifact_bytes)?)),
            None => None,
        };
        let ticker = engine::EpochTicker::start(&engine)?;
        let slots = tokio::sync::Semaphore::new(config.max_concurrent_calls as usize);
        let compiles = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_compiles.max(1) as usize));
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                artifacts,
                loaded: cache::PluginCache::new(config.max_loaded_bytes),
                slots,
                compiles,
                config,
                _ticker: ticker,
            }),
        })
    }

    /// The limits a call gets when it does not say otherwise.
    pub fn default_limits(&self) -> Limits {
        self.inner.config.default_limits
    }

    /// The operator's ceilings on every limit a binding sets; memory never
    /// above what the sandbox can give (`max_memory_bytes`).
    pub fn ceilings(&self) -> Limits {
        let config = &self.inner.config;
        Limits { memory_bytes: config.ceilings.memory_bytes.min(config.max_memory_bytes), ..config.ceilings }
    }

    /// Checks a component against the contract and makes it ready to run.
    /// Compiles at most once per content hash: later loads of the same bytes
    /// are answered from memory (while the plugin stays among the
    /// `max_loaded_bytes` most recently used), and across restarts or
    /// evictions from the artifact cache. Concurrent loads of the same bytes
    /// wait for one compile. Before compiling, the component is checked
    /// against the [`Bounds`] (a refusal is [`LoadError::TooComplex`]);
    /// compiling waits for one of `max_concurrent_compiles` slots and runs
    /// on a blocking thread, not on the caller's.
    pub async fn load(&self, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let hash = PluginHash::of(bytes);
        self.single_flight(&hash, || self.load_uncached(hash.clone(), bytes)).await
    }

    /// The plugin with this content hash, loaded again from its artifact on
    /// disk without its bytes, when this runtime loaded it before and has
    /// since dropped it to stay under `max_loaded_bytes`. The artifact's MAC
    /// binds it to the hash, so neither the bytes nor their hash are needed;
    /// what was learned at the first load (name, world, imports) is kept.
    /// `None` when the plugin was never loaded here or its artifact is gone:
    /// load it from its bytes then.
    pub async fn reload(&self, hash: &PluginHash) -> Option<Plugin> {
        let info = self.inner.loaded.known(hash)?;
        let reloaded = self.single_flight(hash, || async { self.reload_uncached(info).await.ok_or(()) });
        reloaded.await.ok()
    }

    /// Runs `load` unless the plugin is in memory, at most once at a time per
    /// hash: concurrent callers wait for the first and get its plugin.
    async fn single_flight<E, F: Future<Output = Result<Plugin, E>>>(
        &self,
        hash: &PluginHash,
        load: impl FnOnce() -> F,
    ) -> Result<Plugin, E> {
        if let Some(p) = self.inner.loaded.get(hash, false) {
            return Ok(p);
        }
        let lock = self.inner.loaded.loading(hash);
        let result = {
            let _guard = lock.lock().await;
            match self.inner.loaded.get(hash, false) {
                Some(p) => Ok(p),
                None => load().await,
            }
        };
        drop(lock);
        self.inner.loaded.loaded(hash);
        result
    }

    async fn load_uncached(&self, hash: PluginHash, bytes: &[u8]) -> Result<Plugin, LoadError> {
        inspect::check_header(bytes)?;
        let started = Instant::now();
        let (component, from_disk_cache) = self.compile(&hash, bytes).await?;
        let surface = inspect::surface(&self.inner.engine, &component)?;
        let info = PluginInfo {
            hash,
            world: surface.world,
            name: String::new(),
            imports: surface.imports,
            size_bytes: bytes.len() as u64,
            compile_time: started.elapsed(),
            compiled_bytes: image_size(&component),
            from_disk_cache,
        };
        let mut plugin = self.assemble(&component, info)?;
        let name = self.name(&plugin).await?;
        if let Some(loaded) = Arc::get_mut(&mut plugin.inner) {
            loaded.info.name = name;
        }
        let size = plugin.info().compiled_bytes;
        Ok(self.inner.loaded.insert(plugin, size, from_disk_cache, started.elapsed().as_secs_f64()))
    }

    async fn reload_uncached(&self, mut info: PluginInfo) -> Option<Plugin> {
        let started = Instant::now();
        let (engine, artifacts, hash) = (self.inner.engine.clone(), self.inner.artifacts.clone()?, info.hash.clone());
        let component = tokio::task::spawn_blocking(move || artifacts.load(&engine, hash.as_str())).await.ok()??;
        info.compile_time = started.elapsed();
        info.compiled_bytes = image_size(&component);
        info.from_disk_cache = true;
        let plugin = self.assemble(&component, info).ok()?;
        let size = plugin.info().compiled_bytes;
        Some(self.inner.loaded.insert(plugin, size, true, started.elapsed().as_secs_f64()))
    }

    /// A plugin ready to instantiate: the component linked against the
    /// host's imports, and the indices of the exports its world has.
    fn assemble(&self, component: &Component, info: PluginInfo) -> Result<Plugin, LoadError> {
        let mismatch = |e: wasmtime::Error| LoadError::Mismatch(format!("{e:#}"));
        let pre = self.inner.linker.instantiate_pre(component).map_err(mismatch)?;
        let creator = match info.world.creates() {
            true => Some(bindings::CreatorIndices::new(&pre).map_err(mismatch)?),
            false => None,
        };
        let assigner = match info.world.assigns() {
            true => Some(bindings::AssignerIndices::new(&pre).map_err(mismatch)?),
            false => None,
        };
        Ok(Plugin { inner: Arc::new(Loaded { info, pre, creator, assigner }) })
    }

    /// The plugin with this content hash, if it is loaded already. Counts as
    /// a use: a hit or a miss in [`Runtime::plugin_cache_stats`].
    pub fn loaded(&self, hash: &PluginHash) -> Option<Plugin> {
        self.inner.loaded.get(hash, true)
    }

    /// The in-memory plugin cache: size, bound, hits, misses, evictions and
    /// the loads they caused.
    pub fn plugin_cache_stats(&self) -> PluginCacheStats {
        self.inner.loaded.stats()
    }

    /// The artifact cache on disk, when there is one.
    pub fn artifact_cache_stats(&self) -> Option<ArtifactCacheStats> {
        self.inner.artifacts.as_ref().map(|a| a.stats())
    }

    /// The component for `bytes`: deserialized from the artifact cache, else
    /// checked against the [`Bounds`] and compiled (and stored there), once
    /// one of the `max_concurrent_compiles` slots is free. All of it runs on
    /// blocking threads.
    async fn compile(&self, hash: &PluginHash, bytes: &[u8]) -> Result<(Component, bool), LoadError> {
        let stopped = |e: tokio::task::JoinError| LoadError::Invalid(format!("the compiler stopped: {e}"));
        let (engine, artifacts, bounds) =
            (self.inner.engine.clone(), self.inner.artifacts.clone(), self.inner.config.bounds);
        let (hash, bytes) = (hash.to_string(), Arc::<[u8]>::from(bytes));
        let cached = {
            let (engine, artifacts, hash, bytes) = (engine.clone(), artifacts.clone(), hash.clone(), bytes.clone());
            move || match artifacts.as_ref().and_then(|cache| cache.load(&engine, &hash)) {
                Some(component) => Ok(Some(component)),
                // Compiled components passed the bounds once: only new ones are walked.
                None => bounds.check(&bytes).map(|_| None),
            }
        };
        if let Some(component) = tokio::task::spawn_blocking(cached).await.map_err(stopped)?? {
            return Ok((component, true));
        }
        let closed = |_| LoadError::Invalid("the plugin runtime is shutting down".into());
        let permit = self.inner.compiles.clone().acquire_owned().await.map_err(closed)?;
        if let (Some(process), Some(cache)) = (&self.inner.config.compiler, &artifacts) {
            let _slot = (self.inner.loaded.compiling(), permit);
            let artifact = compiler::compile(process, &self.inner.config, &bytes).await?;
            let (cache, hash) = (cache.clone(), hash.clone());
            let load = move || {
                cache.store_artifact(&hash, &artifact).ok()?;
                cache.load(&engine, &hash)
            };
            let component = tokio::task::spawn_blocking(load).await.map_err(stopped)?;
            let unusable = || LoadError::Invalid("the compiler's artifact could not be loaded".into());
            return component.map(|c| (c, false)).ok_or_else(unusable);
        }
        let compiling = self.inner.loaded.compiling();
        let work = move || {
            // Fields drop in order: the compile is over before its slot is free.
            let _slot = (compiling, permit);
            let component = Component::new(&engine, &bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
            if let Some(cache) = &artifacts {
                // A cache that cannot be written costs a recompile later, nothing more.
                let _ = cache.store(&hash, &component);
            }
            Ok((component, false))
        };
        tokio::task::spawn_blocking(work).await.map_err(stopped)?
    }

    /// The plugin's `name()`, called once per load with the default limits
    /// but the ceiling's wall time: a load's first call may find the machine
    /// busy compiling, and a large component (a JavaScript engine) takes
    /// longer to instantiate the first time than a login's calls do.
    async fn name(&self, plugin: &Plugin) -> Result<String, LoadError> {
        let limits = Limits { wall_time: self.ceilings().wall_time, ..self.default_limits() };
        let ctx = CallContext { limits, ..CallContext::default() };
        let report = call::run(self, plugin, &ctx, call::Call::Name).await;
        match report.outcome {
            Ok(call::Answer::Name(name)) => {
                validate::plugin_name(&name).map_err(|v| LoadError::Name(v.detail))?;
                Ok(name)
            }
            Ok(_) => Err(LoadError::Name("unexpected answer".into())),
            Err(failure) => Err(LoadError::Name(failure.to_string())),
        }
    }

    /// Runs the plugin's identity creator on `principal`.
    pub async fn create(&self, plugin: &Plugin, principal: &Principal, ctx: &CallContext) -> CallReport<Creation> {
        let report = call::run(self, plugin, ctx, call::Call::Create(principal)).await;
        map_report(report, |a| match a {
            call::Answer::Creation(c) => Some(c),
            _ => None,
        })
    }

    /// Runs the plugin's assignment provider on `account` and `principal`.
    pub async fn assign(
        &self,
        plugin: &Plugin,
        account: &Account,
        principal: &Principal,
        ctx: &CallContext,
    ) -> CallReport<Vec<Assignment>> {
        let report = call::run(self, plugin, ctx, call::Call::Assign(account, principal)).await;
        map_report(report, |a| match a {
            call::Answer::Assignments(list) => Some(list),
            _ => None,
        })
    }
}

fn map_report<T>(report: CallReport<call::Answer>, pick: impl FnOnce(call::Answer) -> Option<T>) -> CallReport<T> {
    let outcome = report.outcome.and_then(|a| {
        pick(a).ok_or_else(|| CallFailure::Unavailable { reason: "the call produced another kind of answer".into() })
    });
    CallReport { outcome, stats: report.stats }
}

/// The size of a component's compiled image in memory.
fn image_size(component: &Component) -> u64 {
    let image = component.image_range();
    (image.end as usize).saturating_sub(image.start as usize) as u64
}

fn millis_f64<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}
