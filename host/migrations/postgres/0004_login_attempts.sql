-- The password throttle's ledger, PostgreSQL form. Kept in step with
-- ../sqlite/ of the same number. One row per throttle key: the SHA-256
-- (lower-case hex) of `account:<normalized email>` or `source:<address or
-- IPv6 /64>`, never the email or address itself. Shared by every host on the
-- database, so N hosts allow no more guesses than one.
-- Times are unix milliseconds (locked_until 0: never locked); a row may be
-- deleted from forget_after on.

CREATE TABLE login_attempts (
    key           TEXT CONSTRAINT login_attempts_pkey PRIMARY KEY,
    failures      BIGINT NOT NULL,
    window_start  BIGINT NOT NULL,
    last_failure  BIGINT NOT NULL,
    locked_until  BIGINT NOT NULL,
    lockouts      BIGINT NOT NULL,
    forget_after  BIGINT NOT NULL
);
CREATE INDEX login_attempts_forget_after ON login_attempts (forget_after);
