-- The password throttle's ledger, SQLite form. Kept in step with ../postgres/
-- of the same number. One row per throttle key: the SHA-256 (lower-case hex)
-- of `account:<normalized email>` or `source:<address or IPv6 /64>`, never the
-- email or address itself. Shared by every host on the database, so N hosts
-- allow no more guesses than one.
-- Times are unix milliseconds (locked_until 0: never locked); a row may be
-- deleted from forget_after on.

CREATE TABLE login_attempts (
    key           TEXT PRIMARY KEY NOT NULL,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL,
    lockouts      INTEGER NOT NULL,
    forget_after  INTEGER NOT NULL
);
CREATE INDEX login_attempts_forget_after ON login_attempts (forget_after);
