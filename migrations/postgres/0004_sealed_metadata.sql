-- Wallet changesets, swap addresses and audit details are sealed by the vault from this
-- version on. NULL: the rows written by an older version are still in clear (the next unlock
-- seals them). Otherwise: the first audit id whose detail is sealed (older entries stay in
-- clear: the log is append-only).
ALTER TABLE vault ADD COLUMN sealed_since_audit_id BIGINT;
