//! Throttling of password attempts: the rule, where the counts are kept
//! ([`AttemptLedger`]), and the in-memory ledger ([`Throttle`]).
//!
//! Attempts are counted per key: per account ([`AttemptKey::account`], the
//! normalized email) and per source address ([`AttemptKey::source`], an IPv4
//! address or the /64 of an IPv6 one), each scope with its own allowance
//! ([`ThrottlePolicy::max_failures`], [`ThrottlePolicy::max_failures_per_source`]).
//!
//! An attempt is **reserved before its password is checked**: the
//! reservation counts as a failure at once, atomically for all of its keys,
//! and is refused while any of them is locked out. However many attempts
//! arrive at once, at most the allowance of a key reaches the hash in one
//! window, whichever arrive first. When a key's failures within
//! [`ThrottlePolicy::window`] reach its allowance, it is locked out for
//! [`ThrottlePolicy::lockout`]; each further lockout before the key is
//! forgotten doubles that delay, up to [`ThrottlePolicy::max_lockout`]. A
//! success forgets the account key and gives the source key its reservation
//! back (so a busy office behind one address is only limited by its
//! failures), never more.
//!
//! Every ledger applies the same rule ([`ThrottlePolicy::reserve`] and
//! [`ThrottlePolicy::succeed`] over [`AttemptRecord`]s); they differ in where
//! the records live. [`Throttle`] keeps them in this process, bounded by
//! [`ThrottlePolicy::max_tracked`] keys (when full, keys with nothing left to
//! remember are dropped first, then the key whose last failure is oldest,
//! preferring keys that are not locked out); with several processes each has
//! its own allowance. The host keeps them in its database instead, shared by
//! every node (`impl AttemptLedger for Store`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::canonical::normalize_email;

/// The throttle's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one account within `window` that start a lockout
    /// (default 5).
    pub max_failures: u32,
    /// Failures from one source address (an IPv4 address, or an IPv6 /64)
    /// within `window` that start a lockout of that source (default 100).
    pub max_failures_per_source: u32,
    /// The window failures are counted in; also how long a key is remembered
    /// after its last failure or lockout (default 15 minutes).
    pub window: Duration,
    /// The first lockout (default 1 minute); doubled at each further one.
    pub lockout: Duration,
    /// The longest lockout (default 15 minutes).
    pub max_lockout: Duration,
    /// The most keys the in-memory [`Throttle`] tracks at once (default
    /// 100,000); other ledgers have their own bounds.
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_source: 100,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
}

/// What a key counts attempts of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttemptScope {
    /// One account, by its normalized email.
    Account,
    /// One source address (IPv4) or network (IPv6 /64).
    Source,
}

/// The name attempts are counted under: `account:<email>` or
/// `source:<address>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptKey {
    scope: AttemptScope,
    text: String,
}

impl AttemptKey {
    /// The key of the account with this email (normalized here).
    pub fn account(email: &str) -> Self {
        Self { scope: AttemptScope::Account, text: format!("account:{}", normalize_email(email)) }
    }

    /// The key of a login at a directory provider: what the user typed
    /// (trimmed, lower-cased, control characters escaped), inside its domain
    /// and provider.
    pub fn directory(domain: &str, provider: &str, login: &str) -> Self {
        let login = login.trim().to_lowercase().escape_debug().to_string();
        Self { scope: AttemptScope::Account, text: format!("directory:{domain}/{provider}:{login}") }
    }

    /// The key of console sign-ins from a source address (the address as
    /// [`AttemptKey::source`] writes it): counted like an account, so that a
    /// few wrong tokens lock that address's sign-ins for a while.
    pub fn console(address: IpAddr) -> Self {
        let source = Self::source(address).text;
        Self { scope: AttemptScope::Account, text: format!("console:{source}") }
    }

    /// The key of a source address: the IPv4 address itself (also when
    /// written as an IPv4-mapped IPv6 address), or the /64 network of an IPv6
    /// address, since one subscriber usually holds a whole /64.
    pub fn source(address: IpAddr) -> Self {
        let text = match address {
            IpAddr::V4(v4) => format!("source:{v4}"),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => format!("source:{v4}"),
                None => {
                    let [a, b, c, d, ..] = v6.segments();
                    format!("source:{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
                }
            },
        };
        Self { scope: AttemptScope::Source, text }
    }

    /// What the key counts.
    pub fn scope(&self) -> AttemptScope {
        self.scope
    }

    /// The key as text, as ledgers store it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// What a ledger remembers of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Failures (reservations) counted in the current window.
    pub failures: u32,
    /// When the current window started.
    pub window_start: SystemTime,
    /// The last failure (reservation).
    pub last_failure: SystemTime,
    /// The end of the current or last lockout, if any.
    pub locked_until: Option<SystemTime>,
    /// Lockouts since the key was last forgotten.
    pub lockouts: u32,
}

impl AttemptRecord {
    /// A key seen for the first time at `now`.
    pub fn new(now: SystemTime) -> Self {
        Self { failures: 0, window_start: now, last_failure: now, locked_until: None, lockouts: 0 }
    }

    /// The lockout time left at `now`, if the key is locked out.
    pub fn locked(&self, now: SystemTime) -> Option<Duration> {
        self.locked_until.filter(|until| now < *until).map(|until| since(now, until))
    }

    /// When the record has nothing left worth remembering (not locked, and
    /// both the last failure and the end of the last lockout older than the
    /// window): a ledger may drop it from then on.
    pub fn forget_after(&self, window: Duration) -> SystemTime {
        let last = self.locked_until.map_or(self.last_failure, |u| u.max(self.last_failure));
        last + window
    }

    fn expired_at(&self, now: SystemTime, window: Duration) -> bool {
        now >= self.forget_after(window)
    }
}

impl ThrottlePolicy {
    /// The failures a key of this scope is allowed within the window.
    pub fn max_failures_of(&self, scope: AttemptScope) -> u32 {
        match scope {
            AttemptScope::Account => self.max_failures,
            AttemptScope::Source => self.max_failures_per_source,
        }
        .max(1)
    }

    /// The reservation rule, for ledgers: `records[i]` is what the ledger
    /// holds of `keys[i]` (`None` when nothing), read and written back under
    /// one lock. When some key is locked out at `now`, nothing changes and
    /// the answer is the longest time left; otherwise one failure is counted
    /// on every key (starting a lockout where it reaches the allowance) and
    /// the attempt may go on. `keys` must be distinct.
    pub fn reserve(
        &self,
        keys: &[AttemptKey],
        records: &mut [Option<AttemptRecord>],
        now: SystemTime,
    ) -> Result<(), Duration> {
        let locked = records.iter().flatten().filter_map(|r| r.locked(now)).max();
        if let Some(remaining) = locked {
            return Err(remaining);
        }
        for (key, record) in keys.iter().zip(records.iter_mut()) {
            let record = record.get_or_insert_with(|| AttemptRecord::new(now));
            if record.expired_at(now, self.window) {
                *record = AttemptRecord::new(now);
            }
            if since(record.window_start, now) >= self.window {
                record.failures = 0;
                record.window_start = now;
            }
            record.failures = record.failures.saturating_add(1);
            record.last_failure = now;
            if record.failures >= self.max_failures_of(key.scope) {
                let factor = 1u32.checked_shl(record.lockouts).unwrap_or(u32::MAX);
                let delay = self.lockout.saturating_mul(factor).min(self.max_lockout);
                record.locked_until = Some(now + delay);
                record.lockouts = record.lockouts.saturating_add(1);
                record.failures = 0;
                record.window_start = now;
            }
        }
        Ok(())
    }

    /// The success rule, for ledgers, over what [`ThrottlePolicy::reserve`]
    /// reserved: account keys are forgotten (`None`), source keys get their
    /// reservation back (a lockout already started stays).
    pub fn succeed(&self, keys: &[AttemptKey], records: &mut [Option<AttemptRecord>]) {
        for (key, record) in keys.iter().zip(records.iter_mut()) {
            match key.scope {
                AttemptScope::Account => *record = None,
                AttemptScope::Source => {
                    if let Some(r) = record {
                        r.failures = r.failures.saturating_sub(1);
                    }
                }
            }
        }
    }
}

/// The ledger could not be read or written (an infrastructure problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the attempt ledger is unavailable: {0}")]
pub struct LedgerUnavailable(pub String);

/// Why [`AttemptLedger::reserve`] did not reserve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReserveError {
    /// A key is locked out for this long still; nothing was counted.
    #[error("locked out for {0:?}")]
    Locked(Duration),
    /// The ledger could not be used: the attempt must not go on.
    #[error(transparent)]
    Unavailable(#[from] LedgerUnavailable),
}

/// A boxed future, as [`AttemptLedger`] returns.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where password attempts are counted. Each call must be atomic against
/// every other call on the same keys, from this process or another sharing
/// the ledger, and apply [`ThrottlePolicy::reserve`] and
/// [`ThrottlePolicy::succeed`].
pub trait AttemptLedger: Send + Sync + fmt::Debug {
    /// Reserves one attempt on every key (distinct keys), at `now`.
    fn reserve<'a>(
        &'a self,
        keys: &'a [AttemptKey],
        policy: &'a ThrottlePolicy,
        now: SystemTime,
    ) -> LedgerFuture<'a, Result<(), ReserveError>>;

    /// The attempt reserved on `keys` succeeded.
    fn succeeded<'a>(
        &'a self,
        keys: &'a [AttemptKey],
        policy: &'a ThrottlePolicy,
        now: SystemTime,
    ) -> LedgerFuture<'a, Result<(), LedgerUnavailable>>;
}

/// The in-memory ledger: thread-safe and bounded, per process.
#[derive(Debug)]
pub struct Throttle {
    max_tracked: usize,
    entries: Mutex<HashMap<String, AttemptRecord>>,
}

impl Throttle {
    /// An empty ledger that tracks at most `max_tracked` keys (at least one).
    pub fn new(max_tracked: usize) -> Self {
        Self { max_tracked: max_tracked.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// [`AttemptLedger::reserve`], synchronously.
    pub fn reserve(&self, keys: &[AttemptKey], policy: &ThrottlePolicy, now: SystemTime) -> Result<(), Duration> {
        let mut entries = self.lock();
        let mut records: Vec<Option<AttemptRecord>> = keys.iter().map(|k| entries.get(k.as_str()).copied()).collect();
        policy.reserve(keys, &mut records, now)?;
        for (key, record) in keys.iter().zip(records) {
            let Some(record) = record else { continue };
            if !entries.contains_key(key.as_str()) && entries.len() >= self.max_tracked {
                make_room(&mut entries, now, policy.window);
            }
            entries.insert(key.as_str().to_owned(), record);
        }
        Ok(())
    }

    /// [`AttemptLedger::succeeded`], synchronously.
    pub fn succeeded(&self, keys: &[AttemptKey], policy: &ThrottlePolicy) {
        let mut entries = self.lock();
        let mut records: Vec<Option<AttemptRecord>> = keys.iter().map(|k| entries.get(k.as_str()).copied()).collect();
        policy.succeed(keys, &mut records);
        for (key, record) in keys.iter().zip(records) {
            match record {
                Some(r) => {
                    entries.insert(key.as_str().to_owned(), r);
                }
                None => {
                    entries.remove(key.as_str());
                }
            }
        }
    }

    /// What is remembered of `key`, if anything.
    pub fn record(&self, key: &AttemptKey) -> Option<AttemptRecord> {
        self.lock().get(key.as_str()).copied()
    }

    /// How many keys are tracked now.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, AttemptRecord>> {
        // The map stays consistent even if a holder panicked: every update
        // is a few field writes.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AttemptLedger for Throttle {
    fn reserve<'a>(
        &'a self,
        keys: &'a [AttemptKey],
        policy: &'a ThrottlePolicy,
        now: SystemTime,
    ) -> LedgerFuture<'a, Result<(), ReserveError>> {
        let result = Throttle::reserve(self, keys, policy, now).map_err(ReserveError::Locked);
        Box::pin(std::future::ready(result))
    }

    fn succeeded<'a>(
        &'a self,
        keys: &'a [AttemptKey],
        policy: &'a ThrottlePolicy,
        _now: SystemTime,
    ) -> LedgerFuture<'a, Result<(), LedgerUnavailable>> {
        Throttle::succeeded(self, keys, policy);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Frees at least one slot: expired keys first, then the oldest failure.
fn make_room(entries: &mut HashMap<String, AttemptRecord>, now: SystemTime, window: Duration) {
    let before = entries.len();
    entries.retain(|_, e| !e.expired_at(now, window));
    if entries.len() < before {
        return;
    }
    // O(n), only when the map is full of live keys: far cheaper than the
    // password hash each failure costs.
    let victim = entries.iter().min_by_key(|(_, e)| (e.locked(now).is_some(), e.last_failure)).map(|(k, _)| k.clone());
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
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn policy(max_tracked: usize) -> ThrottlePolicy {
        ThrottlePolicy { max_tracked, ..ThrottlePolicy::default() }
    }

    fn account(email: &str) -> Vec<AttemptKey> {
        vec![AttemptKey::account(email)]
    }

    #[test]
    fn lockouts_double_up_to_the_cap() {
        let (policy, t) = (policy(10), Throttle::new(10));
        let key = account("a@x");
        let mut now = at(0);
        let mut delays = Vec::new();
        for _ in 0..6 {
            // Five reservations go through; the fifth starts the lockout.
            for _ in 0..5 {
                assert_eq!(t.reserve(&key, &policy, now), Ok(()));
            }
            let d = t.reserve(&key, &policy, now).err().unwrap_or_default();
            delays.push(d.as_secs());
            now += d;
        }
        assert_eq!(delays, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn keys_are_forgotten_after_the_window_and_on_success() {
        let (policy, t) = (policy(10), Throttle::new(10));
        let key = account("a@x");
        for _ in 0..5 {
            assert_eq!(t.reserve(&key, &policy, at(0)), Ok(()));
        }
        let later = at(16 * 60);
        for _ in 0..5 {
            assert_eq!(t.reserve(&key, &policy, later), Ok(()));
        }
        // The first lockout was forgotten: back to one minute.
        assert_eq!(t.reserve(&key, &policy, later), Err(Duration::from_secs(60)));
        t.succeeded(&key, &policy);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn a_locked_key_refuses_the_whole_reservation_and_counts_nothing() {
        let (policy, t) = (policy(10), Throttle::new(10));
        let source = AttemptKey::source(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        for _ in 0..5 {
            assert_eq!(t.reserve(&[AttemptKey::account("a@x"), source.clone()], &policy, at(0)), Ok(()));
        }
        assert!(t.reserve(&[AttemptKey::account("a@x"), source.clone()], &policy, at(0)).is_err());
        assert_eq!(t.record(&source).map(|r| r.failures), Some(5));
        // A success forgets the account and gives the source its attempt back.
        let keys = [AttemptKey::account("b@x"), source.clone()];
        assert_eq!(t.reserve(&keys, &policy, at(0)), Ok(()));
        t.succeeded(&keys, &policy);
        assert_eq!(t.record(&keys[0]), None);
        assert_eq!(t.record(&source).map(|r| r.failures), Some(5));
    }

    #[test]
    fn sources_are_addresses_or_ipv6_networks() {
        let key = |a: &str| AttemptKey::source(a.parse().unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(key("192.0.2.1").as_str(), "source:192.0.2.1");
        assert_eq!(key("::ffff:192.0.2.1").as_str(), "source:192.0.2.1");
        assert_eq!(key("2001:db8:1:2:3:4:5:6").as_str(), "source:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), key("2001:db8:1:2::9"));
        assert_eq!(AttemptKey::account(" Jane@Example.COM ").as_str(), "account:jane@example.com");
    }

    #[test]
    fn memory_is_bounded_and_locked_keys_are_kept() {
        let (policy, t) = (policy(3), Throttle::new(3));
        for _ in 0..5 {
            assert_eq!(t.reserve(&account("locked@x"), &policy, at(0)), Ok(()));
        }
        for i in 0..100 {
            let now = at(0) + Duration::from_millis(100 * (i + 1));
            assert_eq!(t.reserve(&account(&format!("spray{i}@x")), &policy, now), Ok(()));
        }
        assert_eq!(t.tracked(), 3);
        assert!(t.reserve(&account("locked@x"), &policy, at(11)).is_err());
    }
}
