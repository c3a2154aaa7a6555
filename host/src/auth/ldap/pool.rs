//! Connections to one directory, reused across logins and bounded: at most
//! `max_connections` open at once; a login waits for one within its own
//! deadline. A connection is lent to one login at a time, since a user's
//! bind changes who the connection is bound as: each lease starts with the
//! service account's bind, which also proves an idle connection still
//! works. Nothing a login read is kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::super::oidc::JwksAddresses;
use super::connection::{Connection, Fault, Target};

/// An idle connection older than this is closed rather than reused
/// (directories drop idle connections on their own, e.g. after 15 minutes).
const MAX_IDLE: Duration = Duration::from_secs(120);
/// Most pools kept, one per (domain, provider, settings).
const MAX_POOLS: usize = 4096;

/// The pools of every directory provider the process has used.
#[derive(Debug, Default)]
pub struct LdapPools {
    pools: Mutex<HashMap<[u8; 32], Arc<Pool>>>,
}

impl LdapPools {
    /// The pool for `key`'s provider (made now if new). A changed
    /// configuration has a new key, hence new connections.
    pub(super) fn get(&self, key: &[&str], make: impl FnOnce() -> Pool) -> Arc<Pool> {
        let mut hash = Sha256::new();
        for part in key {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let key: [u8; 32] = hash.finalize().into();
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(&key) {
            return Arc::clone(pool);
        }
        if pools.len() >= MAX_POOLS {
            // Pools are caches: drop those no login is using.
            pools.retain(|_, p| Arc::strong_count(p) > 1);
        }
        let pool = Arc::new(make());
        if pools.len() < MAX_POOLS {
            pools.insert(key, Arc::clone(&pool));
        }
        pool
    }
}

/// The connections to one directory provider's servers.
pub(super) struct Pool {
    target: Target,
    service_dn: String,
    service_password: zeroize::Zeroizing<String>,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(Connection, Instant)>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("target", &self.target)
            .field("service_dn", &self.service_dn)
            .finish_non_exhaustive()
    }
}

/// A connection lent to one login, bound as the service account; given
/// back with [`Lease::release`] when it is still sound, closed otherwise.
pub(super) struct Lease {
    pub(super) conn: Connection,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(super) fn new(target: Target, service_dn: &str, service_password: &str, max: u32) -> Self {
        Self {
            target,
            service_dn: service_dn.to_owned(),
            service_password: zeroize::Zeroizing::new(service_password.to_owned()),
            permits: Arc::new(Semaphore::new(max as usize)),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection bound as the service account, before `deadline`: an
    /// idle one that still answers, else a new one.
    pub(super) async fn lease(&self, deadline: Instant, addresses: JwksAddresses) -> Result<Lease, Fault> {
        let left = || deadline.saturating_duration_since(Instant::now());
        let permit = tokio::time::timeout(left(), Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| Fault::Timeout)?
            .map_err(|_| Fault::Timeout)?;
        loop {
            let reused = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                idle.retain(|(_, since)| since.elapsed() < MAX_IDLE);
                idle.pop()
            };
            let Some((mut conn, _)) = reused else { break };
            if conn.is_closed() {
                continue;
            }
            match conn.bind(&self.service_dn, &self.service_password, left()).await {
                Ok(()) => return Ok(Lease { conn, _permit: permit }),
                // The service account's password changed: no other
                // connection would do better.
                Err(Fault::InvalidCredentials) => return Err(Fault::ServiceAccountRefused),
                Err(_) => continue,
            }
        }
        let mut conn = self.target.connect(left(), addresses).await?;
        match conn.bind(&self.service_dn, &self.service_password, left()).await {
            Err(Fault::InvalidCredentials) => return Err(Fault::ServiceAccountRefused),
            other => other?,
        }
        Ok(Lease { conn, _permit: permit })
    }

    /// Gives a sound connection back for the next login.
    pub(super) fn release(&self, lease: Lease) {
        let Lease { conn, _permit } = lease;
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push((conn, Instant::now()));
    }
}
