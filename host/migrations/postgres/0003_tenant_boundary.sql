-- The tenant boundary, PostgreSQL form. Kept in step with ../sqlite/ of the
-- same number.
--
-- Email domain claims become pending until verified (by a DNS TXT challenge
-- or the operator's approval). Many domains may claim one email domain while
-- pending; only one claim of an email domain may be verified, platform-wide.
-- Claims made before this migration were never verified: they become pending.
CREATE TABLE email_domain_claims (
    domain_id     TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    -- IDNA ASCII form, lower-cased
    email_domain  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'verified')),
    -- the token to publish at _provisio-challenge.<email_domain> (TXT)
    challenge     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    verified_at   BIGINT,
    -- 'dns' or 'operator'
    verified_by   TEXT CHECK (verified_by IN ('dns', 'operator')),
    PRIMARY KEY (domain_id, email_domain)
);
CREATE UNIQUE INDEX email_domain_claims_verified ON email_domain_claims (email_domain) WHERE state = 'verified';
CREATE INDEX email_domain_claims_name ON email_domain_claims (email_domain);
INSERT INTO email_domain_claims (domain_id, email_domain, state, challenge, created_at)
    SELECT domain_id, email_domain, 'pending', md5(random()::text || email_domain), 0 FROM email_domains;
DROP TABLE email_domains;

-- An organization's suspension of one of its members: the account keeps its
-- memberships, but logins through the organization's domains are refused
-- and its sessions there stop working. The platform-wide account state is
-- the operator's alone.
CREATE TABLE suspensions (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, account_id)
);

-- Which organizations uploaded a plugin version: an organization may bind
-- only versions it uploaded itself.
CREATE TABLE plugin_owners (
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    hash         TEXT NOT NULL REFERENCES plugins (hash),
    uploaded_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, hash)
);
INSERT INTO plugin_owners (org_id, hash, uploaded_at)
    SELECT substr(uploaded_by, 5), hash, uploaded_at FROM plugins
    WHERE uploaded_by LIKE 'org:%' AND substr(uploaded_by, 5) IN (SELECT id FROM organizations);

-- Failed logins without an account are counted in one event per
-- (organization, domain, outcome, rule, minute) instead of one row each:
-- `aggregate_key` names that bucket, `occurrences` how many it holds.
ALTER TABLE audit_events ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN aggregate_key TEXT;
CREATE UNIQUE INDEX audit_events_aggregate ON audit_events (aggregate_key);

-- Emails are stored in their canonical form (see the host's `canonical`
-- module), so they are unique exactly as stored: no database case mapping,
-- which on PostgreSQL would fold a non-ASCII character (the Kelvin sign)
-- into an ASCII one and make two people one.
DROP INDEX accounts_email_key;
CREATE UNIQUE INDEX accounts_email_key ON accounts (email);
