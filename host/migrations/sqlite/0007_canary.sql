-- Canary versions of a binding, SQLite form. Kept in step with ../postgres/
-- of the same number: a share of the logins (by a stable hash of the
-- principal's provider and subject) runs candidate versions.
ALTER TABLE bindings ADD COLUMN canary_creator_hash TEXT REFERENCES plugins (hash);
ALTER TABLE bindings ADD COLUMN canary_assigner_hash TEXT REFERENCES plugins (hash);
ALTER TABLE bindings ADD COLUMN canary_percent INTEGER NOT NULL DEFAULT 0
    CHECK (canary_percent BETWEEN 0 AND 100);
