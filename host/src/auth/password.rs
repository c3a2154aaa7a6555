//! The `password` provider: argon2id hashes in PHC strings, verified against
//! an account the caller looked up.
//!
//! An unknown account and an account with the unusable-password marker are
//! verified against a dummy hash made with the same parameters as new hashes,
//! so they cost the same time as a wrong password and give the same answer.
//! Hashing and verifying run on tokio's blocking pool, a bounded number at a
//! time, so a flood of attempts cannot exhaust memory or starve the executor.
//!
//! Every attempt is first reserved in the services' [`AttemptLedger`], for
//! the account and, when known, the source address: only a reserved attempt
//! reaches the hash, so a burst of guesses gets no more hash checks than the
//! throttle allows (see [`super::throttle`]).
//!
//! [`AttemptLedger`]: super::AttemptLedger

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash as Phc, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::plugin::Principal;

use super::clock::Clock;
use super::outcome::{Answer, RejectReason};
use super::throttle::{AttemptKey, AttemptLedger, ReserveError, ThrottlePolicy};
use super::{MAX_EMAIL_BYTES, MAX_PASSWORD_BYTES};
use crate::canonical::normalize_email;

/// The `password` provider's configuration: nothing to configure yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {}

/// Argon2id cost parameters for new hashes (verification uses the parameters
/// written in each hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

impl Argon2Params {
    /// The cheapest parameters argon2 accepts: for tests only, never for
    /// real passwords.
    pub const INSECURE_FOR_TESTS: Self = Self { memory_kib: 8, iterations: 1, parallelism: 1 };
}

/// Costliest parameters a stored hash may ask for (a corrupt or hostile row
/// must not make one verification take gigabytes).
const MAX_MEMORY_KIB: u32 = 256 * 1024;
const MAX_ITERATIONS: u32 = 16;
const MAX_PARALLELISM: u32 = 16;

/// Why a password could not be hashed, or a hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The cost parameters are out of argon2's range.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    /// The stored hash is not a PHC string.
    #[error("not a PHC hash string")]
    NotPhc,
    /// The stored hash is not an argon2 hash.
    #[error("not an argon2 hash")]
    NotArgon2,
    /// The stored hash asks for more memory, passes or lanes than allowed.
    #[error("the hash's parameters are costlier than allowed")]
    TooCostly,
    /// Hashing failed (the system's random source, or a task that died).
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// An argon2 hash in PHC string form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
/// `Debug` shows the algorithm and parameters only.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Reads a stored PHC string, checking it is an argon2 hash with
    /// parameters within bounds.
    pub fn parse(phc: &str) -> Result<Self, HashError> {
        let parsed = Phc::new(phc).map_err(|_| HashError::NotPhc)?;
        if Algorithm::try_from(parsed.algorithm).is_err() || parsed.hash.is_none() {
            return Err(HashError::NotArgon2);
        }
        let params = Params::try_from(&parsed).map_err(|e| HashError::InvalidParams(e.to_string()))?;
        if params.m_cost() > MAX_MEMORY_KIB || params.t_cost() > MAX_ITERATIONS || params.p_cost() > MAX_PARALLELISM {
            return Err(HashError::TooCostly);
        }
        Ok(Self(phc.to_owned()))
    }

    /// The PHC string, to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, to store.
    pub fn into_string(self) -> String {
        self.0
    }

    /// `$argon2id$v=19$m=…,t=…,p=…`: everything but salt and hash.
    fn public_part(&self) -> &str {
        let mut cut = self.0.len();
        if let Some((i, _)) = self.0.match_indices('$').nth(3) {
            cut = i;
        }
        self.0.get(..cut).unwrap_or_default()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({}$…)", self.public_part())
    }
}

/// Hashes and verifies passwords with fixed parameters for new hashes.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    params: Argon2Params,
    /// A hash of a random password, made with `params`: what unknown accounts
    /// are verified against.
    dummy: Arc<PasswordHash>,
    permits: Arc<Semaphore>,
    /// Verifications run, shared by clones.
    verifications: Arc<AtomicU64>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher making argon2id hashes with `params`, running at most
    /// `max_concurrent` hash computations at a time. Makes one hash (the
    /// dummy) before returning.
    pub fn new(params: Argon2Params, max_concurrent: usize) -> Result<Self, HashError> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| HashError::InvalidParams(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        // A random password nobody knows (a salt is 16 random bytes).
        let dummy_password = SaltString::generate(&mut OsRng);
        let dummy = Arc::new(hash_with(&argon, dummy_password.as_str())?);
        Ok(Self {
            argon,
            params,
            dummy,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The parameters of new hashes.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// How many password verifications this hasher (and its clones) has
    /// run, against a stored hash or the dummy: the hash checks an attacker
    /// obtained.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes a password on the current thread (tens of milliseconds with
    /// the default parameters).
    pub fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        hash_with(&self.argon, password)
    }

    /// Hashes a password on the blocking pool.
    pub async fn hash_async(&self, password: &str) -> Result<PasswordHash, HashError> {
        let argon = self.argon.clone();
        let password = Zeroizing::new(password.to_owned());
        self.run_blocking(move || hash_with(&argon, &password)).await.unwrap_or_else(|e| Err(HashError::Hashing(e)))
    }

    /// True when `password` matches `hash` (on the current thread).
    pub fn verify(&self, password: &str, hash: &PasswordHash) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        verify_with(&self.argon, password, hash)
    }

    /// True when the hash was made with other parameters than new hashes:
    /// the caller may store a fresh hash after a successful login.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = Phc::new(hash.as_str()) else {
            return true;
        };
        let Ok(p) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != Algorithm::Argon2id.ident()
            || (p.m_cost(), p.t_cost(), p.p_cost())
                != (self.params.memory_kib, self.params.iterations, self.params.parallelism)
    }

    /// Verifies on the blocking pool; `None` verifies against the dummy hash
    /// and always answers false, in about the same time.
    pub(crate) async fn verify_async(&self, password: &str, hash: Option<&PasswordHash>) -> bool {
        let argon = self.argon.clone();
        let password = Zeroizing::new(password.to_owned());
        let (hash, real) = match hash {
            Some(h) => (Arc::new(h.clone()), true),
            None => (self.dummy.clone(), false),
        };
        let verifications = self.verifications.clone();
        let matched = self
            .run_blocking(move || {
                verifications.fetch_add(1, Ordering::Relaxed);
                verify_with(&argon, &password, &hash)
            })
            .await;
        real && matched.unwrap_or(false)
    }

    /// Runs `f` on tokio's blocking pool under a permit, or inline when there
    /// is no tokio runtime.
    async fn run_blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.permits.clone().acquire_owned().await.ok();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn_blocking(f).await.map_err(|e| e.to_string()),
            Err(_) => Ok(f()),
        }
    }
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<PasswordHash, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon.hash_password(password.as_bytes(), &salt).map_err(|e| HashError::Hashing(e.to_string()))?;
    Ok(PasswordHash(hash.to_string()))
}

fn verify_with(argon: &Argon2<'_>, password: &str, hash: &PasswordHash) -> bool {
    Phc::new(hash.as_str()).is_ok_and(|phc| argon.verify_password(password.as_bytes(), &phc).is_ok())
}

/// Hashes a password with the default (production) parameters, on the
/// current thread. Prefer [`Hasher::hash_async`] in async code.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let p = Argon2Params::default();
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .map_err(|e| HashError::InvalidParams(e.to_string()))?;
    hash_with(&Argon2::new(Algorithm::Argon2id, Version::V0x13, params), password).map(PasswordHash::into_string)
}

/// What the password provider needs to know about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAccount {
    /// The host's account id: becomes the principal's subject.
    pub id: String,
    /// The account's email.
    pub email: String,
    /// The password hash, or `None` for the unusable-password marker.
    pub hash: Option<PasswordHash>,
    /// Given name, if any.
    pub given_name: Option<String>,
    /// Family name, if any.
    pub family_name: Option<String>,
}

/// The caller's account lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// Where the password provider looks accounts up: the caller's store.
pub trait PasswordAccounts: Sync {
    /// The account with this email (already trimmed and lower-cased), if any.
    fn find_password_account(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<PasswordAccount>, LookupError>> + Send;
}

/// A lookup result the caller already has: the account, if its email is the
/// one asked for.
impl PasswordAccounts for Option<PasswordAccount> {
    async fn find_password_account(&self, email: &str) -> Result<Option<PasswordAccount>, LookupError> {
        Ok(self.as_ref().filter(|a| normalize_email(&a.email) == email).cloned())
    }
}

/// Accounts in memory, keyed by lower-cased email.
impl PasswordAccounts for HashMap<String, PasswordAccount> {
    async fn find_password_account(&self, email: &str) -> Result<Option<PasswordAccount>, LookupError> {
        Ok(self.get(email).cloned())
    }
}

/// What the password provider uses of the shared services
/// ([`super::AuthServices`]): the hasher, the throttle and the clock.
#[derive(Clone, Copy)]
pub(crate) struct PasswordServices<'a> {
    pub(crate) hasher: &'a Hasher,
    pub(crate) policy: &'a ThrottlePolicy,
    pub(crate) ledger: &'a dyn AttemptLedger,
    pub(crate) clock: &'a dyn Clock,
}

/// The password provider's answer to one email and password, from
/// `source` when known.
pub(crate) async fn authenticate<A: PasswordAccounts + ?Sized>(
    services: PasswordServices<'_>,
    provider: &str,
    domain: &str,
    email: &str,
    password: &str,
    accounts: &A,
    source: Option<IpAddr>,
) -> Answer {
    if email.len() > MAX_EMAIL_BYTES || password.len() > MAX_PASSWORD_BYTES {
        return Answer::Rejected(RejectReason::OversizedCredential);
    }
    let key = normalize_email(email);
    let mut keys = vec![AttemptKey::account(&key)];
    keys.extend(source.map(AttemptKey::source));
    // Counted as a failure before the hash: concurrent guesses cannot
    // outrun the throttle.
    let PasswordServices { hasher, policy, ledger, clock } = services;
    match ledger.reserve(&keys, policy, clock.now()).await {
        Ok(()) => {}
        Err(ReserveError::Locked(_)) => return Answer::Rejected(RejectReason::Throttled),
        Err(ReserveError::Unavailable(e)) => return Answer::Rejected(RejectReason::ThrottleUnavailable(e.0)),
    }
    let account = match accounts.find_password_account(&key).await {
        Ok(a) => a,
        Err(e) => return Answer::Rejected(RejectReason::AccountLookupFailed(e.0)),
    };
    let hash = account.as_ref().and_then(|a| a.hash.as_ref());
    let matched = hasher.verify_async(password, hash).await;
    match account {
        Some(a) if matched => {
            // Not remembering the success only leaves a count that expires:
            // the login goes on.
            let _ = ledger.succeeded(&keys, policy, clock.now()).await;
            Answer::Authenticated(Principal {
                domain: domain.to_owned(),
                provider: provider.to_owned(),
                subject: a.id,
                email: normalize_email(&a.email),
                // The host owns this address: it is the account's own.
                email_verified: true,
                given_name: a.given_name,
                family_name: a.family_name,
                groups: Vec::new(),
                claims: Default::default(),
            })
        }
        account => Answer::Rejected(match account {
            None => RejectReason::UnknownAccount,
            Some(a) if a.hash.is_none() => RejectReason::UnusablePassword,
            Some(_) => RejectReason::WrongPassword,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_debug_hides_salt_and_hash() -> Result<(), HashError> {
        let hasher = Hasher::new(Argon2Params::INSECURE_FOR_TESTS, 1)?;
        let hash = hasher.hash("correct horse")?;
        assert!(hasher.verify("correct horse", &hash));
        assert!(!hasher.verify("wrong horse", &hash));
        assert_eq!(format!("{hash:?}"), "PasswordHash($argon2id$v=19$m=8,t=1,p=1$…)");
        assert!(!hasher.needs_rehash(&hash));
        assert_eq!(PasswordHash::parse(hash.as_str())?, hash);
        Ok(())
    }

    #[test]
    fn stored_hashes_are_checked() -> Result<(), HashError> {
        assert_eq!(PasswordHash::parse("secret"), Err(HashError::NotPhc));
        let pbkdf2 = "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert_eq!(PasswordHash::parse(pbkdf2), Err(HashError::NotArgon2));
        let costly = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert_eq!(PasswordHash::parse(costly), Err(HashError::TooCostly));
        let default = hash_password("x")?;
        assert!(default.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{default}");
        Ok(())
    }
}
