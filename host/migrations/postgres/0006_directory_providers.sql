-- Directory (`ldap`) providers, PostgreSQL form. Kept in step with ../sqlite/
-- of the same number.
ALTER TABLE providers DROP CONSTRAINT providers_kind_check;
ALTER TABLE providers ADD CONSTRAINT providers_kind_check CHECK (kind IN ('password', 'oidc', 'ldap'));
