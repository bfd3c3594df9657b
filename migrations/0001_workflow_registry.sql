-- workflow_registry: the registry source, standing in for the on-chain WorkflowRegistry 2.0
-- (reference chainlink-workflows.md §8.1). The syncer lists it every tick and diffs it against the
-- running engines; a contract-backed source can replace it without touching the rest.
--
-- Why these shapes:
-- * workflow_id is the 32-byte id as 64 lowercase hex digits without 0x: the same text form that
--   workflow_specs_v2.workflow_id and workflow_executions.workflow_id use, so ids compare and join
--   as plain text and read the same in logs, URLs and rows. The id is sha256(owner‖name‖binary‖
--   config‖secretsURL) with byte 0 set to 0x00 (derived by the registry, not here).
-- * (owner, name, tag) is unique: on chain the record is keyed by keccak(owner, name, tag), and an
--   upsert of an existing (owner, name, tag) is an update that remaps the record to a new
--   workflow_id. The same index serves "the other versions of this owner and name" (a create pauses
--   them unless keep-alive is set; keep-alive is an argument of the upsert, not stored state).
-- * status is text with a check rather than the contract's 0/1 enum, so rows read without a lookup.
-- * attributes are raw bytes (JSON such as {"confidential":true}), at most 1024 of them, as the
--   contract limits them; empty means "no attributes".
-- * Deleting a workflow deletes its row (hard delete): the syncer notices the missing id.
CREATE TABLE workflow_registry (
  workflow_id text PRIMARY KEY CHECK (workflow_id ~ '^[0-9a-f]{64}$'),
  -- EIP-55 checksummed address, normalized by the registry before it is stored.
  owner text NOT NULL CHECK (owner ~ '^0x[0-9a-fA-F]{40}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  tag text NOT NULL CHECK (length(tag) BETWEEN 1 AND 255),
  status text NOT NULL CHECK (status IN ('active', 'paused')),
  don_family text NOT NULL DEFAULT '',
  binary_url text NOT NULL,
  config_url text NOT NULL DEFAULT '',
  secrets_url text NOT NULL DEFAULT '',
  -- SHA-256 of the binary artifact, when the deployer recorded it.
  binary_hash bytea CHECK (binary_hash IS NULL OR octet_length(binary_hash) = 32),
  attributes bytea NOT NULL DEFAULT '' CHECK (octet_length(attributes) <= 1024),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT workflow_registry_owner_name_tag_key UNIQUE (owner, name, tag)
);

-- Listing in a stable order (CLI `workflow list`, paging the syncer's source listing).
CREATE INDEX workflow_registry_created_at_idx ON workflow_registry (created_at, workflow_id);
