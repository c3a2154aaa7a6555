//! The password provider's view of the store: its accounts, and the store as
//! the throttle's [`AttemptLedger`], shared by every host on the database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::auth::{
    AttemptKey, AttemptLedger, AttemptRecord, LedgerFuture, LedgerUnavailable, LookupError, PasswordAccount,
    PasswordAccounts, PasswordHash, ReserveError, ThrottlePolicy,
};
use crate::store::Store;
use crate::store::attempts::LoginAttempts;

/// Looks password accounts up in the store.
pub(super) struct StoreAccounts<'a>(pub(super) &'a Store);

impl PasswordAccounts for StoreAccounts<'_> {
    async fn find_password_account(&self, email: &str) -> Result<Option<PasswordAccount>, LookupError> {
        // No stored email holds a NUL or another control character (the
        // store refuses them), and the databases cannot even compare a NUL:
        // such an email is nobody's, not a failed lookup.
        if crate::canonical::text(email).is_err() {
            return Ok(None);
        }
        let account = self.0.account_by_email(email).await.map_err(|e| LookupError(e.to_string()))?;
        Ok(account.map(|a| PasswordAccount {
            id: a.id.as_str().to_owned(),
            email: a.email,
            // A hash that does not parse is treated like the unusable marker.
            hash: a.password_hash.and_then(|h| PasswordHash::parse(h.as_str()).ok()),
            given_name: a.given_name,
            family_name: a.family_name,
        }))
    }
}

/// One reservation in this many also deletes expired rows (up to
/// [`PURGE_BATCH`]): on average far more than the two rows a reservation
/// may create, so the table holds about the keys seen within a window.
const PURGE_ONE_IN: u8 = 32;
const PURGE_BATCH: u32 = 200;

/// The store keeps the password throttle's counts (`login_attempts`), so
/// that every host on one database counts against the same numbers. Each
/// call is one short transaction; keys are stored as the SHA-256 of
/// [`AttemptKey::as_str`], never as emails or addresses.
impl AttemptLedger for Store {
    fn reserve<'a>(
        &'a self,
        keys: &'a [AttemptKey],
        policy: &'a ThrottlePolicy,
        now: SystemTime,
    ) -> LedgerFuture<'a, Result<(), ReserveError>> {
        Box::pin(async move {
            let outcome =
                update(self, keys, policy, |records| policy.reserve(keys, records, now), Result::is_ok).await?;
            if rand::random::<u8>().is_multiple_of(PURGE_ONE_IN) {
                // Housekeeping only: a failure leaves rows for the next turn.
                let _ = self.purge_login_attempts(millis(now), PURGE_BATCH).await;
            }
            outcome.map_err(ReserveError::Locked)
        })
    }

    fn succeeded<'a>(
        &'a self,
        keys: &'a [AttemptKey],
        policy: &'a ThrottlePolicy,
        _now: SystemTime,
    ) -> LedgerFuture<'a, Result<(), LedgerUnavailable>> {
        Box::pin(update(self, keys, policy, |records| policy.succeed(keys, records), |_| true))
    }
}

/// Applies `change` to the keys' records in one transaction of the store,
/// writing them back when `keep` says so of its outcome.
async fn update<T: Send>(
    store: &Store,
    keys: &[AttemptKey],
    policy: &ThrottlePolicy,
    change: impl FnOnce(&mut [Option<AttemptRecord>]) -> T + Send,
    keep: impl FnOnce(&T) -> bool + Send,
) -> Result<T, LedgerUnavailable> {
    let stored = stored_keys(keys);
    let refs: Vec<&str> = stored.iter().map(String::as_str).collect();
    store
        .update_login_attempts(&refs, |rows| {
            let mut records: Vec<Option<AttemptRecord>> = rows.iter().map(|r| r.map(record)).collect();
            let outcome = change(&mut records);
            if keep(&outcome) {
                write_back(rows, &records, policy.window);
            }
            outcome
        })
        .await
        .map_err(|e| LedgerUnavailable(e.to_string()))
}

fn stored_keys(keys: &[AttemptKey]) -> Vec<String> {
    keys.iter().map(|k| hex::encode(Sha256::digest(k.as_str().as_bytes()))).collect()
}

fn write_back(rows: &mut [Option<LoginAttempts>], records: &[Option<AttemptRecord>], window: Duration) {
    for (row, r) in rows.iter_mut().zip(records) {
        *row = r.map(|r| LoginAttempts {
            failures: r.failures,
            window_start: millis(r.window_start),
            last_failure: millis(r.last_failure),
            locked_until: r.locked_until.map_or(0, millis),
            lockouts: r.lockouts,
            forget_after: millis(r.forget_after(window)),
        });
    }
}

fn record(row: LoginAttempts) -> AttemptRecord {
    AttemptRecord {
        failures: row.failures,
        window_start: time(row.window_start),
        last_failure: time(row.last_failure),
        locked_until: (row.locked_until > 0).then(|| time(row.locked_until)),
        lockouts: row.lockouts,
    }
}

/// Unix milliseconds (0 before the epoch).
fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
