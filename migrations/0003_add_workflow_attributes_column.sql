-- The workflow attributes (e.g. {"confidential":true,"vault_don_secrets":[...]}) persisted with
-- the spec, so routing to the ConfidentialModule survives restarts. Its own migration, exactly as
-- upstream #21641 added it (reference chainlink-workflows.md §5.1: nullable, default empty bytea).
ALTER TABLE workflow_specs_v2 ADD COLUMN attributes bytea DEFAULT '';
