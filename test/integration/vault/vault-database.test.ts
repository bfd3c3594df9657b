import { Code, ConnectError } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { openSecret } from "../../../src/domain/crypto/secret-box.js";
import { resolveVaultKeyring } from "../../../src/domain/vault/keyring.js";
import { vaultRotateKey } from "../../../src/cli/commands/vault-rotate-key.js";
import { rotateVaultKeys } from "../../../src/services/vault/index.js";
import { createPostgresVaultStore, type VaultStore } from "../../../src/store/vault-store.js";
import { describeEachDatabase } from "../../support/databases.js";
import { ENCLAVE_SK, KEY_K1, OWNER, counterRandom, nodeRequest, putSecret, startVault, type VaultHarness } from "../../service/vault/harness.js";

const KEY_K2 = Buffer.alloc(32, 0xbb).toString("hex");
const bothKeys = { activeKeyId: "k2", keys: { k1: KEY_K1, k2: KEY_K2 } };

async function readAll(h: VaultHarness<VaultStore>, keys: string[]): Promise<string[]> {
  const res = await h.client.getSecrets(nodeRequest(h, keys.map((key) => ({ key }))));
  return res.results.map((r) => {
    if (r.outcome.case !== "encrypted") throw new Error(`${r.id?.key}: ${r.outcome.case === "error" ? r.outcome.value.message : "no outcome"}`);
    const box = openSecret(ENCLAVE_SK, r.outcome.value, { owner: OWNER, namespace: "main", key: r.id!.key });
    if (box.kind !== "ok") throw new Error(box.reason);
    return Buffer.from(box.plaintext).toString();
  });
}

describeEachDatabase(
  "vault on a real database",
  (getDb) => {
    it("keeps no plaintext in any column of any row", async () => {
      const { sql } = getDb();
      const h = startVault({}, undefined, createPostgresVaultStore(sql));
      const values = ["plain-Value-one-4411", "plain-Value-two-5522"];
      await putSecret(h, "ONE", values[0]!);
      await putSecret(h, "TWO", values[1]!, "payments");
      expect(await readAll(h, ["ONE"])).toEqual([values[0]]);
      // The rows as Postgres renders them (bytea as \x… hex) and as raw bytes.
      const rendered = await sql<{ row: string }[]>`select t::text as row from vault_secrets t union all select t::text from vault_write_nonces t`;
      const raw = await sql<{ ciphertext: Uint8Array; nonce: Uint8Array }[]>`select ciphertext, nonce from vault_secrets`;
      expect(raw).toHaveLength(2);
      const text = rendered.map((r) => r.row).join("\n");
      for (const value of values) {
        expect(text).not.toContain(value);
        expect(text.toLowerCase()).not.toContain(Buffer.from(value).toString("hex"));
        for (const row of raw) expect(Buffer.from(row.ciphertext).includes(Buffer.from(value))).toBe(false);
      }
    });

    it("detects a ciphertext moved to another row (the AAD binds owner, namespace, key, version)", async () => {
      const { sql } = getDb();
      const h = startVault({}, undefined, createPostgresVaultStore(sql));
      await putSecret(h, "SWAP_A", "value-of-a");
      await putSecret(h, "SWAP_B", "value-of-b");
      await sql`
        update vault_secrets set ciphertext = src.ciphertext, nonce = src.nonce
        from (select ciphertext, nonce from vault_secrets where key = 'SWAP_A') as src
        where vault_secrets.key = 'SWAP_B'`;
      expect(await readAll(h, ["SWAP_A"])).toEqual(["value-of-a"]);
      const error = await h.client.getSecrets(nodeRequest(h, [{ key: "SWAP_B" }])).catch((e: unknown) => ConnectError.from(e));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Internal);
      await sql`delete from vault_secrets where key in ('SWAP_A', 'SWAP_B')`;
    });

    it("rotates keys: old rows stay readable, the rotation re-seals them in batches, the old key can go", async () => {
      const { sql } = getDb();
      const store = createPostgresVaultStore(sql);
      await sql`delete from vault_secrets`;
      const before = startVault({}, undefined, store);
      const keys = ["R1", "R2", "R3", "R4", "R5"];
      for (const key of keys) await putSecret(before, key, `value-${key}`);
      const versions = await sql<{ key: string; version: number }[]>`select key, version from vault_secrets order by key`;

      // The new key is active; rows under k1 are still readable.
      const during = startVault({ keyring: bothKeys }, undefined, store);
      expect(await readAll(during, keys)).toEqual(keys.map((k) => `value-${k}`));
      await putSecret(during, "NEW", "value-NEW"); // new writes go under k2 at once
      expect(Object.fromEntries(await store.countByKeyId())).toEqual({ k1: 5, k2: 1 });

      // Without k1 the rotation refuses, naming the missing key id, and changes nothing.
      const onlyK2 = resolveVaultKeyring({ activeKeyId: "k2", keys: { k2: KEY_K2 } });
      const refused = await rotateVaultKeys({ store, keyring: onlyK2, randomBytes: counterRandom() }).catch((e: unknown) => ConnectError.from(e));
      expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((refused as ConnectError).rawMessage).toContain('sealed under key id "k1", which is not in the keyring');

      const result = await rotateVaultKeys({ store, keyring: resolveVaultKeyring(bothKeys), randomBytes: counterRandom(), batchSize: 2 });
      expect(result.resealed).toBe(5);
      expect(Object.fromEntries(result.rowsByKeyId)).toEqual({ k2: 6 });
      expect(await sql`select key, version from vault_secrets where key <> 'NEW' order by key`).toEqual(versions);

      // Rotation done: a vault with only the new key reads everything; running it again is a no-op.
      const after = startVault({ keyring: { activeKeyId: "k2", keys: { k2: KEY_K2 } } }, undefined, store);
      expect(await readAll(after, [...keys, "NEW"])).toEqual([...keys, "NEW"].map((k) => `value-${k}`));
      expect((await rotateVaultKeys({ store, keyring: onlyK2, randomBytes: counterRandom() })).resealed).toBe(0);
      const out: string[] = [];
      const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(`ERR ${t}`) };
      expect(await vaultRotateKey({ db: getDb(), keyring: resolveVaultKeyring(bothKeys) }, io)).toBe(0);
      expect(out.join("")).toBe('re-sealed 0 secret(s) under key "k2"; secrets by key: k2=6\nno secret uses "k1" any more; it can be removed from the key file\n');
    });
  },
);
