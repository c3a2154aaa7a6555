//! The loaded plugins kept in memory: a map from content hash to a
//! ready-to-instantiate [`Plugin`], bounded by the size of the plugins'
//! compiled images and evicting the least recently used, with counters for
//! the metrics.
//!
//! Every entry holds a compiled image (about 400 KiB for a small Rust plugin,
//! tens of MiB for a Python one) and an `InstancePre`, so with thousands of
//! tenants the bound is what keeps the process's memory flat. An evicted
//! plugin is loaded again on its next use, from the artifact cache on disk
//! when it is there (under a millisecond) rather than compiled (a hundred
//! milliseconds or more).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::{Plugin, PluginInfo};
use crate::plugin::PluginHash;

/// The most evicted plugins whose [`PluginInfo`] is kept (a few KiB each).
const MAX_KNOWN: usize = 1 << 16;

/// A snapshot of the in-memory plugin cache and of the loads it caused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PluginCacheStats {
    /// Plugins held now.
    pub entries: usize,
    /// The size of their compiled images.
    pub bytes: u64,
    /// The most image bytes it holds (it always keeps the plugin it just
    /// loaded, even a larger one).
    pub max_bytes: u64,
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that had to load the plugin.
    pub misses: u64,
    /// Plugins dropped to make room.
    pub evictions: u64,
    /// Loads that compiled the component.
    pub compiled: u64,
    /// Loads answered by a precompiled artifact from disk.
    pub from_disk: u64,
    /// Components handed to the compiler, whether they compiled or not
    /// (a component refused by the bounds never is).
    pub compiles: u64,
    /// The most compiles that ran at once (at most
    /// `RuntimeConfig::max_concurrent_compiles`).
    pub peak_compiles: u64,
    /// Time spent in those loads (compiling or deserializing, checking the
    /// contract, asking the plugin its name), in seconds.
    pub load_seconds: f64,
}

struct Entry {
    plugin: Plugin,
    bytes: u64,
    last_used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<PluginHash, Entry>,
    /// What was learned loading the plugins dropped since, so that they can
    /// be loaded again from their artifacts alone.
    known: HashMap<PluginHash, PluginInfo>,
    clock: u64,
    stats: PluginCacheStats,
}

/// The bounded, least-recently-used map of loaded plugins.
pub(super) struct PluginCache {
    state: Mutex<State>,
    /// One lock per hash being loaded, so that concurrent first uses of a
    /// plugin compile it once.
    loading: Mutex<HashMap<PluginHash, Arc<tokio::sync::Mutex<()>>>>,
    /// Compiles running now, shared with their [`Compiling`] guards.
    compiling: Arc<AtomicU64>,
}

/// Counts one compile as running until dropped.
pub(super) struct Compiling(Arc<AtomicU64>);

impl Drop for Compiling {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PluginCache {
    pub(super) fn new(max_bytes: u64) -> Self {
        let stats = PluginCacheStats { max_bytes, ..PluginCacheStats::default() };
        Self {
            state: Mutex::new(State { stats, ..State::default() }),
            loading: Mutex::new(HashMap::new()),
            compiling: Arc::default(),
        }
    }

    /// Counts a compile starting; it is over when the guard is dropped.
    pub(super) fn compiling(&self) -> Compiling {
        let now = self.compiling.fetch_add(1, Ordering::SeqCst) + 1;
        let mut state = self.state();
        state.stats.compiles += 1;
        state.stats.peak_compiles = state.stats.peak_compiles.max(now);
        Compiling(self.compiling.clone())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The map stays consistent across a panic elsewhere: keep using it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The plugin for `hash`, marking it recently used; counts a hit or a
    /// miss when `count` is set.
    pub(super) fn get(&self, hash: &PluginHash, count: bool) -> Option<Plugin> {
        let mut state = self.state();
        state.clock += 1;
        let now = state.clock;
        let found = state.entries.get_mut(hash).map(|e| {
            e.last_used = now;
            e.plugin.clone()
        });
        if count {
            match found {
                Some(_) => state.stats.hits += 1,
                None => state.stats.misses += 1,
            }
        }
        found
    }

    /// Keeps `plugin`, whose image is `bytes` long (unless another load of
    /// the same hash got there first, whose plugin is returned), evicting the
    /// least recently used entries beyond the bound.
    pub(super) fn insert(&self, plugin: Plugin, bytes: u64, from_disk: bool, load_seconds: f64) -> Plugin {
        let mut state = self.state();
        state.clock += 1;
        let now = state.clock;
        match from_disk {
            true => state.stats.from_disk += 1,
            false => state.stats.compiled += 1,
        }
        state.stats.load_seconds += load_seconds;
        let hash = plugin.info().hash.clone();
        if !state.entries.contains_key(&hash) {
            state.stats.bytes += bytes;
        }
        let kept = state.entries.entry(hash.clone()).or_insert(Entry { plugin, bytes, last_used: now }).plugin.clone();
        while state.stats.bytes > state.stats.max_bytes && state.entries.len() > 1 {
            // A linear scan: it runs only when a load overflows the cache, and
            // a load costs far more than scanning the entries.
            let oldest = state.entries.iter().filter(|(h, _)| **h != hash).min_by_key(|(_, e)| e.last_used);
            let Some(oldest) = oldest.map(|(h, _)| h.clone()) else { break };
            if let Some(gone) = state.entries.remove(&oldest) {
                state.stats.bytes -= gone.bytes;
                state.stats.evictions += 1;
                if state.known.len() >= MAX_KNOWN {
                    state.known.clear();
                }
                state.known.insert(oldest, gone.plugin.info().clone());
            }
        }
        state.stats.entries = state.entries.len();
        kept
    }

    /// What was learned loading `hash`, if it was loaded and dropped since.
    pub(super) fn known(&self, hash: &PluginHash) -> Option<PluginInfo> {
        self.state().known.get(hash).cloned()
    }

    /// The lock to hold while loading `hash`.
    pub(super) fn loading(&self, hash: &PluginHash) -> Arc<tokio::sync::Mutex<()>> {
        let mut loading = self.loading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        loading.entry(hash.clone()).or_default().clone()
    }

    /// Forgets the load lock of `hash` once its load is over.
    pub(super) fn loaded(&self, hash: &PluginHash) {
        let mut loading = self.loading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the last holder removes it; a waiter still holds a clone.
        if loading.get(hash).is_some_and(|l| Arc::strong_count(l) == 1) {
            loading.remove(hash);
        }
    }

    pub(super) fn stats(&self) -> PluginCacheStats {
        self.state().stats
    }
}
