-- no-transaction
-- Directory (`ldap`) providers, SQLite form. Kept in step with ../postgres/ of
-- the same number.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- (https://www.sqlite.org/lang_altertable.html#otheralter). Foreign keys are
-- off while it is, so that dropping the old table deletes nothing that
-- refers to it (links, bindings); the rebuild itself is one transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE providers_rebuilt (
    id          TEXT PRIMARY KEY NOT NULL,
    domain_id   TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    -- the order in which the domain tries its providers (ascending)
    position    INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('password', 'oidc', 'ldap')),
    -- the provider's settings, a JSON document read by the provider itself
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, name),
    UNIQUE (domain_id, id)
);
INSERT INTO providers_rebuilt (id, domain_id, name, position, kind, config, created_at)
    SELECT id, domain_id, name, position, kind, config, created_at FROM providers;
DROP TABLE providers;
ALTER TABLE providers_rebuilt RENAME TO providers;
COMMIT;
PRAGMA foreign_keys = ON;
