-- workflow_artifacts: the artifact store's content (workflow binaries and configs), served by the
-- workflow node's artifact HTTP server at /artifacts/<sha256> — the binary_url / config_url the
-- registry names (issue 7, "Registry").
--
-- Why these shapes:
-- * Content-addressed: the key is the SHA-256 of the bytes (64 lowercase hex digits), so an upload
--   is idempotent, two workflows sharing a binary share one row, and a served artifact can be
--   checked against its own URL. The binary hash the ConfidentialModule sends the enclave is this
--   same SHA-256 of the stored bytes.
-- * In the database rather than in files, so it lives wherever the registry lives (PGlite data
--   directory or a Postgres server) and survives restarts with it.
-- * Rows are never deleted with a workflow: other workflows may reference the same content.
CREATE TABLE workflow_artifacts (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  content bytea NOT NULL,
  size_bytes integer NOT NULL CHECK (size_bytes = octet_length(content)),
  created_at timestamptz NOT NULL
);
