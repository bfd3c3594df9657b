-- vault_secrets: the Vault's secrets, encrypted at rest (issue 5, "Storage").
--
-- Why these shapes:
-- * (owner, namespace, key) is the secret's identity, as requests name it; owner is the EIP-55
--   address, normalized before it is stored; the namespace defaults to 'main'.
-- * Only ciphertext is stored: AES-256-GCM output (with its tag) and the 12-byte nonce, under the
--   master key named by key_id. Keeping key_id per row lets a rotation re-encrypt row by row while
--   rows under the old key stay readable; the key_id index finds the rows still to rotate.
-- * version counts writes of the secret (1 on create), so a client can tell an overwrite happened.
CREATE TABLE vault_secrets (
  owner text NOT NULL CHECK (owner ~ '^0x[0-9a-fA-F]{40}$'),
  namespace text NOT NULL DEFAULT 'main' CHECK (namespace <> ''),
  key text NOT NULL CHECK (key <> ''),
  ciphertext bytea NOT NULL,
  nonce bytea NOT NULL CHECK (octet_length(nonce) = 12),
  key_id text NOT NULL CHECK (key_id <> ''),
  version bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (owner, namespace, key)
);

CREATE INDEX vault_secrets_key_id_idx ON vault_secrets (key_id);

-- vault_write_nonces: the nonces of owner-signed writes already accepted, kept until the signed
-- request expires, so a replayed request is rejected (insert conflicts) and an expired one is
-- rejected by its expiry alone. Rows past expires_at can be pruned; the index makes that cheap.
CREATE TABLE vault_write_nonces (
  owner text NOT NULL CHECK (owner ~ '^0x[0-9a-fA-F]{40}$'),
  nonce text NOT NULL CHECK (length(nonce) BETWEEN 1 AND 128),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (owner, nonce)
);

CREATE INDEX vault_write_nonces_expires_at_idx ON vault_write_nonces (expires_at);
