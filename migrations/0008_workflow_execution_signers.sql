-- workflow_executions.relay_signers: which relay DON members vouched for the data a confidential
-- execution used (issue 8: `ccr demo` prints them). The enclave returns a receipt (a quorum
-- certificate) for every relay answer the execution used; the workflow node records the distinct
-- signers of those receipts here.
--
-- Why these shapes:
-- * text[] of ed25519 public keys as 64 lowercase hex digits, sorted and distinct (the engine writes
--   them so): the set is small (at most the DON's N members), read whole and never queried by
--   element, so an array column beats a join table. Hex text, not bytea[], so `psql` and the admin
--   API show the same strings.
-- * NOT NULL DEFAULT '{}': local (non-confidential) executions, executions still running, and every
--   row written before this migration have no signers — an empty array, never null. A constant
--   default does not rewrite the table (PostgreSQL 11+), on PG 15 and PGlite alike.
-- * The check keeps the array one-dimensional and every element a 64-hex key (array_to_string
--   skips NULL elements, so those are refused separately; array_ndims of '{}' is NULL).
ALTER TABLE workflow_executions
  ADD COLUMN relay_signers text[] NOT NULL DEFAULT '{}'
    CHECK (
      coalesce(array_ndims(relay_signers), 1) = 1
      AND array_position(relay_signers, NULL) IS NULL
      AND array_to_string(relay_signers, ',') ~ '^([0-9a-f]{64}(,[0-9a-f]{64})*)?$'
    );
