-- Organization API tokens, SQLite form. Kept in step with ../postgres/ of the
-- same number. Only the SHA-256 of a token is kept (lower-case hex), never the
-- token itself; a token's public id is the first 16 characters of its hash.
-- Times are unix milliseconds; a revoked token keeps its row, with revoked_at.

CREATE TABLE api_tokens (
    hash        TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX api_tokens_org ON api_tokens (org_id, created_at);
