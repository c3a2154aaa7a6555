-- Shadow versions of a binding, SQLite form. Kept in step with ../postgres/
-- of the same number: candidate versions that run after each login's live
-- decision, off its path, and whose decisions are compared, never applied.
ALTER TABLE bindings ADD COLUMN shadow_creator_hash TEXT REFERENCES plugins (hash);
ALTER TABLE bindings ADD COLUMN shadow_assigner_hash TEXT REFERENCES plugins (hash);
