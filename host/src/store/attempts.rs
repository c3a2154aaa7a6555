//! The password throttle's ledger (`login_attempts`): one row per throttle
//! key, read, changed and written back under a row lock in one short
//! transaction, so that every host on the database counts against the same
//! numbers and concurrent attempts cannot both see the old count.
//!
//! The store does not know the throttle's rule: the caller's closure does
//! (see `crate::auth::ThrottlePolicy::reserve`); the store only makes the
//! read-modify-write atomic. On SQLite the transaction holds the write lock
//! from `BEGIN IMMEDIATE`; on PostgreSQL each row is created if missing
//! (`INSERT … ON CONFLICT DO NOTHING`) and then locked by an `UPDATE …
//! RETURNING`, which waits for a concurrent holder and returns the row as it
//! committed. Rows are always locked in key order (reservations and purges
//! alike), so two transactions never wait for each other in a cycle.

use super::db::{Conn, Row, query};
use super::{Store, StoreError};

/// Most keys one update may touch.
const MAX_KEYS: usize = 16;
/// Longest key, in bytes.
const MAX_KEY_BYTES: usize = 256;

/// What the ledger holds of one key. Times are unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempts {
    /// Failures counted in the current window.
    pub failures: u32,
    /// When the current window started.
    pub window_start: i64,
    /// The last failure.
    pub last_failure: i64,
    /// The end of the current or last lockout; 0 when there was none.
    pub locked_until: i64,
    /// Lockouts since the key was last forgotten.
    pub lockouts: u32,
    /// From when the row may be deleted ([`Store::purge_login_attempts`]).
    pub forget_after: i64,
}

fn read(row: &Row) -> Result<LoginAttempts, StoreError> {
    let count = |i: usize| -> Result<u32, StoreError> {
        let v: i64 = row.get(i)?;
        u32::try_from(v).map_err(|_| StoreError::Database(format!("unexpected count {v} in login_attempts")))
    };
    Ok(LoginAttempts {
        failures: count(0)?,
        window_start: row.get(1)?,
        last_failure: row.get(2)?,
        locked_until: row.get(3)?,
        lockouts: count(4)?,
        forget_after: row.get(5)?,
    })
}

/// The row of `key`, locked until the transaction ends; `None` when there
/// was none (a placeholder row is then held, which the caller writes or
/// deletes).
async fn lock_row(conn: &mut Conn<'_>, key: &str) -> Result<Option<LoginAttempts>, StoreError> {
    // A row deleted by a concurrent success between the two statements is
    // created again: a few turns at most.
    for _ in 0..4 {
        let insert = query(
            "INSERT INTO login_attempts
                 (key, failures, window_start, last_failure, locked_until, lockouts, forget_after)
             VALUES ($1, 0, 0, 0, 0, 0, 0)
             ON CONFLICT (key) DO NOTHING",
        )
        .text(key);
        if conn.execute(insert).await? == 1 {
            return Ok(None);
        }
        let lock = query(
            "UPDATE login_attempts SET failures = failures WHERE key = $1
             RETURNING failures, window_start, last_failure, locked_until, lockouts, forget_after",
        )
        .text(key);
        if let Some(row) = conn.fetch_optional(lock).await? {
            return read(&row).map(Some);
        }
    }
    Err(StoreError::Busy("a login attempt row kept changing".into()))
}

/// The password throttle's ledger.
impl Store {
    /// Reads the ledger's rows of `keys` (`None` where a key has none),
    /// locked against every other writer, lets `update` change them, and
    /// writes back what changed (a row set to `None` is deleted), all in one
    /// transaction; `update`'s answer is returned once committed. `keys`
    /// must be distinct, at most 16, each 1 to 256 bytes (`Invalid`
    /// otherwise). Keep `update` quick: the rows stay locked while it runs.
    pub async fn update_login_attempts<R, F>(&self, keys: &[&str], update: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut [Option<LoginAttempts>]) -> R + Send,
        R: Send,
    {
        let invalid = |reason: &str| StoreError::Invalid { what: "login attempt keys", reason: reason.into() };
        if keys.len() > MAX_KEYS {
            return Err(invalid("more than 16 keys"));
        }
        if keys.iter().any(|k| k.is_empty() || k.len() > MAX_KEY_BYTES) {
            return Err(invalid("a key is empty or longer than 256 bytes"));
        }
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| keys[i]);
        if order.windows(2).any(|w| keys[w[0]] == keys[w[1]]) {
            return Err(invalid("a key is given twice"));
        }
        let mut tx = self.db.begin().await?;
        let mut before = vec![None; keys.len()];
        for &i in &order {
            before[i] = lock_row(&mut tx.conn(), keys[i]).await?;
        }
        let mut after = before.clone();
        let answer = update(&mut after);
        for &i in &order {
            let q = match (before[i], after[i]) {
                (Some(old), Some(new)) if old == new => continue,
                (_, Some(new)) => query(
                    "UPDATE login_attempts SET failures = $2, window_start = $3, last_failure = $4,
                         locked_until = $5, lockouts = $6, forget_after = $7
                     WHERE key = $1",
                )
                .text(keys[i])
                .int(i64::from(new.failures))
                .int(new.window_start)
                .int(new.last_failure)
                .int(new.locked_until)
                .int(i64::from(new.lockouts))
                .int(new.forget_after),
                // Also the placeholder of a key that had no row.
                (_, None) => query("DELETE FROM login_attempts WHERE key = $1").text(keys[i]),
            };
            tx.conn().execute(q).await?;
        }
        tx.commit().await?;
        Ok(answer)
    }

    /// Deletes up to `limit` rows whose `forget_after` is before `now` (unix
    /// milliseconds); how many were deleted. A row some attempt is updating
    /// meanwhile is kept if that attempt moved its `forget_after`.
    pub async fn purge_login_attempts(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        let q = query("SELECT key FROM login_attempts WHERE forget_after < $1 ORDER BY key LIMIT $2")
            .int(now)
            .int(i64::from(limit));
        let rows = self.conn().await?.conn().fetch_all(q).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let mut deleted = 0;
        // In key order, like the updates.
        for row in &rows {
            let key: String = row.get(0)?;
            let q = query("DELETE FROM login_attempts WHERE key = $1 AND forget_after < $2").text(&key).int(now);
            deleted += tx.conn().execute(q).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
