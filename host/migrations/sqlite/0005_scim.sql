-- SCIM 2.0 provisioning, SQLite form. Kept in step with ../postgres/ of the
-- same number.

-- A domain's SCIM bearer tokens, kept by SHA-256 (lower-case hex) as API
-- tokens are; the public id is the first 16 characters of the hash.
CREATE TABLE scim_tokens (
    hash        TEXT PRIMARY KEY NOT NULL,
    domain_id   TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX scim_tokens_domain ON scim_tokens (domain_id, created_at);

-- How a domain's SCIM groups name teams: 'team', or 'organization:team'
-- (Docker's convention, the organization's name before the colon).
ALTER TABLE domains ADD COLUMN scim_group_names TEXT NOT NULL DEFAULT 'team'
    CHECK (scim_group_names IN ('team', 'organization:team'));

-- A domain's SCIM User: one account as the domain's identity provider
-- describes it. The account's email and names live on the account.
CREATE TABLE scim_users (
    id               TEXT PRIMARY KEY NOT NULL,
    domain_id        TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_name        TEXT NOT NULL,
    -- user_name with ASCII letters lower-cased: unique in the domain
    user_name_key    TEXT NOT NULL,
    external_id      TEXT,
    display_name     TEXT,
    employee_number  TEXT,
    cost_center      TEXT,
    organization     TEXT,
    division         TEXT,
    department       TEXT,
    -- NULL: the client never said, which counts as active
    active           INTEGER CHECK (active IN (0, 1)),
    -- a deleted user is kept, hidden and inactive, so that the person stays
    -- de-provisioned from the organization until provisioned again
    deleted          INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (domain_id, account_id)
);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users (domain_id, user_name_key) WHERE NOT deleted;
CREATE INDEX scim_users_account ON scim_users (account_id);
-- a list's default order
CREATE INDEX scim_users_domain_created ON scim_users (domain_id, created_at, id);

CREATE TABLE scim_user_emails (
    user_id     TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    -- canonical form (see the host's `canonical` module)
    value       TEXT NOT NULL,
    type        TEXT,
    is_primary  INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
    PRIMARY KEY (user_id, position)
);
CREATE INDEX scim_user_emails_value ON scim_user_emails (value);

-- A team a domain's SCIM client manages as a Group.
CREATE TABLE scim_groups (
    domain_id    TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    team_id      TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    external_id  TEXT,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (domain_id, team_id)
);

-- A Group's members as the SCIM client sent them. The memberships of source
-- 'scim' are derived from these and from the users' `active`.
CREATE TABLE scim_members (
    domain_id  TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
    PRIMARY KEY (domain_id, team_id, user_id),
    FOREIGN KEY (domain_id, team_id) REFERENCES scim_groups (domain_id, team_id) ON DELETE CASCADE
);
CREATE INDEX scim_members_user ON scim_members (user_id);
