-- workflow_specs_v2: the workflow node's own record of each workflow it runs, written by the
-- syncer's Activated handler (upsert ON CONFLICT (workflow_id)) and removed on pause or delete.
-- Faithful to upstream chainlink's table as reconstructed in reference chainlink-workflows.md §5.4
-- (PR-era columns), so the upstream ORM queries (§5.3) port unchanged:
-- * workflow is the hex of the decoded binary and config the config text, as upstream stores them;
-- * workflow_id is the id as 64 hex digits (the upsert's conflict key);
-- * workflow_owner is varchar(40): upstream stores the owner as 40 hex digits without 0x;
-- * status is '' / 'active' / 'paused' with no check, as upstream.
-- workflow_tag came from a later upstream ALTER and is created here directly. `attributes` is added
-- by the next migration on its own, as upstream did. Later upstream columns (registered_at, source,
-- storage_bytes, trigger_subscriptions) are not part of this port.
CREATE TABLE workflow_specs_v2 (
  id SERIAL PRIMARY KEY,
  workflow text NOT NULL,
  config text DEFAULT '',
  workflow_id varchar(64) NOT NULL UNIQUE,
  workflow_owner varchar(40) NOT NULL,
  workflow_name varchar(255) NOT NULL,
  workflow_tag varchar(255) NOT NULL,
  status text NOT NULL DEFAULT '',
  binary_url text DEFAULT '',
  config_url text DEFAULT '',
  created_at timestamp with time zone NOT NULL,
  updated_at timestamp with time zone NOT NULL,
  spec_type varchar(255) DEFAULT 'yaml'
);
