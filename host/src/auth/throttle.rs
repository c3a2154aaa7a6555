//! Per-account throttling of password attempts, in memory.
//!
//! After [`ThrottlePolicy::max_failures`] failures within
//! [`ThrottlePolicy::window`], further attempts for the same key are refused
//! for [`ThrottlePolicy::lockout`]; each new lockout before the key is
//! forgotten doubles that delay, up to [`ThrottlePolicy::max_lockout`]. A
//! success forgets the key. The state is per process: with several nodes an
//! attacker gets each node's allowance.
//!
//! Memory is bounded: at most [`ThrottlePolicy::max_tracked`] keys. When full,
//! keys with nothing left to remember are dropped first, then the key whose
//! last failure is oldest (preferring keys that are not locked out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::clock::Clock;

/// The throttle's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures within `window` that start a lockout (default 5).
    pub max_failures: u32,
    /// The window failures are counted in; also how long a key is remembered
    /// after its last failure (default 15 minutes).
    pub window: Duration,
    /// The first lockout (default 1 minute); doubled at each further one.
    pub lockout: Duration,
    /// The longest lockout (default 15 minutes).
    pub max_lockout: Duration,
    /// The most keys tracked at once (default 100,000).
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// Failures counted in the current window.
    failures: u32,
    window_start: SystemTime,
    last_failure: SystemTime,
    locked_until: Option<SystemTime>,
    /// Lockouts since the key was last forgotten.
    lockouts: u32,
}

impl Entry {
    fn locked_at(&self, now: SystemTime) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Nothing worth remembering: not locked, and both the last failure and
    /// the end of the last lockout are older than the window.
    fn expired_at(&self, now: SystemTime, window: Duration) -> bool {
        let last = self.locked_until.map_or(self.last_failure, |u| u.max(self.last_failure));
        !self.locked_at(now) && since(last, now) >= window
    }
}

/// A thread-safe, bounded, per-key failure counter.
#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// A throttle with this policy, reading time from `clock`.
    pub fn new(policy: ThrottlePolicy, clock: Arc<dyn Clock>) -> Self {
        Self { policy, clock, entries: Mutex::new(HashMap::new()) }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// `Err(remaining)` while `key` is locked out.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        match self.lock().get(key).and_then(|e| e.locked_until) {
            Some(until) if now < until => Err(since(now, until)),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt for `key`.
    pub fn failure(&self, key: &str) {
        let now = self.clock.now();
        let policy = &self.policy;
        let mut entries = self.lock();
        if !entries.contains_key(key) && entries.len() >= policy.max_tracked.max(1) {
            make_room(&mut entries, now, policy.window);
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            window_start: now,
            last_failure: now,
            locked_until: None,
            lockouts: 0,
        });
        if entry.expired_at(now, policy.window) {
            entry.lockouts = 0;
        }
        if since(entry.window_start, now) >= policy.window {
            entry.failures = 0;
            entry.window_start = now;
        }
        entry.failures += 1;
        entry.last_failure = now;
        if entry.failures >= policy.max_failures.max(1) {
            let factor = 1u32.checked_shl(entry.lockouts).unwrap_or(u32::MAX);
            let delay = policy.lockout.saturating_mul(factor).min(policy.max_lockout);
            entry.locked_until = Some(now + delay);
            entry.lockouts = entry.lockouts.saturating_add(1);
            entry.failures = 0;
            entry.window_start = now;
        }
    }

    /// Records a successful attempt: the key is forgotten.
    pub fn success(&self, key: &str) {
        self.lock().remove(key);
    }

    /// How many keys are tracked now.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // The map stays consistent even if a holder panicked: every update
        // is a few field writes.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Frees at least one slot: expired keys first, then the oldest failure.
fn make_room(entries: &mut HashMap<String, Entry>, now: SystemTime, window: Duration) {
    entries.retain(|_, e| !e.expired_at(now, window));
    if entries.is_empty() {
        return;
    }
    // O(n), only when the map is full of live keys: far cheaper than the
    // password hash each failure costs.
    let victim = entries.iter().min_by_key(|(_, e)| (e.locked_at(now), e.last_failure)).map(|(k, _)| k.clone());
    if let Some(k) = victim {
        entries.remove(&k);
    }
}

/// `later - earlier`, zero when the clock went backwards.
fn since(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ManualClock;

    fn throttle(max_tracked: usize) -> (Throttle, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at_unix(1_000_000));
        let policy = ThrottlePolicy { max_tracked, ..ThrottlePolicy::default() };
        (Throttle::new(policy, clock.clone()), clock)
    }

    #[test]
    fn lockouts_double_up_to_the_cap() {
        let (t, clock) = throttle(10);
        let mut delays = Vec::new();
        for _ in 0..6 {
            for _ in 0..5 {
                t.failure("a@x");
            }
            let d = t.check("a@x").err().unwrap_or_default();
            delays.push(d.as_secs());
            clock.advance(d);
            assert_eq!(t.check("a@x"), Ok(()));
        }
        assert_eq!(delays, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn keys_are_forgotten_after_the_window_and_on_success() {
        let (t, clock) = throttle(10);
        for _ in 0..5 {
            t.failure("a@x");
        }
        clock.advance(Duration::from_secs(16 * 60));
        for _ in 0..5 {
            t.failure("a@x");
        }
        // The first lockout was forgotten: back to one minute.
        assert_eq!(t.check("a@x"), Err(Duration::from_secs(60)));
        t.success("a@x");
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn memory_is_bounded_and_locked_keys_are_kept() {
        let (t, clock) = throttle(3);
        for _ in 0..5 {
            t.failure("locked@x");
        }
        for i in 0..100 {
            clock.advance(Duration::from_millis(100));
            t.failure(&format!("spray{i}@x"));
        }
        assert_eq!(t.tracked(), 3);
        assert!(t.check("locked@x").is_err());
    }
}
