-- The identity store, SQLite form. Kept in step with ../postgres/ of the same
-- number: same tables, columns, constraints and indexes; only the types differ
-- (INTEGER for BIGINT and BOOLEAN, BLOB for BYTEA).
-- Ids are random hex strings made by the host; times are unix milliseconds.
-- Released migrations are never edited: changes go into a new numbered file.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, name),
    -- lets other tables require a team of the same organization
    UNIQUE (org_id, id)
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
);

CREATE TABLE domains (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL UNIQUE,
    jit              INTEGER NOT NULL CHECK (jit IN (0, 1)),
    default_team_id  TEXT,
    created_at       INTEGER NOT NULL,
    -- the default team belongs to the domain's own organization
    FOREIGN KEY (org_id, default_team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX domains_org ON domains (org_id);

-- Email domains a domain claims (lower-cased): each one belongs to one domain
-- platform-wide, which is how a login finds its domain from an email.
CREATE TABLE email_domains (
    email_domain  TEXT PRIMARY KEY NOT NULL,
    domain_id     TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE
);
CREATE INDEX email_domains_domain ON email_domains (domain_id);

CREATE TABLE providers (
    id          TEXT PRIMARY KEY NOT NULL,
    domain_id   TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    -- the order in which the domain tries its providers (ascending)
    position    INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('password', 'oidc')),
    -- the provider's settings, a JSON document read by the provider itself
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, name),
    UNIQUE (domain_id, id)
);

CREATE TABLE accounts (
    id             TEXT PRIMARY KEY NOT NULL,
    -- stored lower-cased; unique case-insensitively (index below)
    email          TEXT NOT NULL,
    username       TEXT NOT NULL,
    given_name     TEXT,
    family_name    TEXT,
    state          TEXT NOT NULL CHECK (state IN ('active', 'locked', 'disabled')),
    -- a PHC string (argon2id); NULL is the unusable-password marker of an
    -- account that only logs in through an identity provider
    password_hash  TEXT CHECK (password_hash <> ''),
    -- extra attributes from the identity creator: a JSON array of [key, value]
    attributes     TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
CREATE UNIQUE INDEX accounts_username_key ON accounts (lower(username));

-- An identity at an authentication provider, linked to one account.
CREATE TABLE links (
    provider_id  TEXT NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (provider_id, subject)
);
CREATE INDEX links_account ON links (account_id);

-- One row per (membership, source): the same team given by the IdP and by an
-- admin is two rows, so a sync that removes the IdP's keeps the admin's.
-- target_id is the organization's own id for kind 'organization'.
CREATE TABLE memberships (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('organization', 'team', 'role')),
    target_id   TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('idp', 'admin', 'invitation', 'scim')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, org_id, kind, target_id, source)
);
CREATE INDEX memberships_target ON memberships (org_id, kind, target_id);

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- stored lower-cased
    email       TEXT NOT NULL,
    team_id     TEXT,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    created_at  INTEGER NOT NULL,
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX invitations_email ON invitations (org_id, email, state);

-- Uploaded components; a version is immutable and named by its SHA-256.
CREATE TABLE plugins (
    hash         TEXT PRIMARY KEY NOT NULL,
    bytes        BLOB NOT NULL,
    size         INTEGER NOT NULL,
    world        TEXT NOT NULL,
    name         TEXT NOT NULL,
    uploaded_at  INTEGER NOT NULL,
    uploaded_by  TEXT NOT NULL
);

CREATE TABLE bindings (
    domain_id       TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    creator_hash    TEXT REFERENCES plugins (hash),
    assigner_hash   TEXT REFERENCES plugins (hash),
    -- JSON objects: the plugin's configuration and the limit overrides
    config          TEXT NOT NULL,
    limits          TEXT NOT NULL,
    failure_policy  TEXT NOT NULL CHECK (failure_policy IN ('fail-closed', 'fall-back')),
    sync_mode       TEXT NOT NULL CHECK (sync_mode IN ('on-create', 'every-login')),
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (domain_id, provider_id),
    -- the provider belongs to the domain
    FOREIGN KEY (domain_id, provider_id) REFERENCES providers (domain_id, id) ON DELETE CASCADE
);

-- What happened at each login. History: no foreign keys, so events outlive
-- what they mention and record logins at unknown domains too.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    org_id      TEXT,
    domain_id   TEXT,
    -- the provider's name, as the principal carries it
    provider    TEXT,
    account_id  TEXT,
    outcome     TEXT NOT NULL,
    rule        TEXT,
    -- a JSON object; never a secret
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_domain_at ON audit_events (domain_id, at);
CREATE INDEX audit_events_outcome_at ON audit_events (outcome, at);
CREATE INDEX audit_events_org_at ON audit_events (org_id, at);
