import { describe, expect, it } from "vitest";
import { openAtRest, sealAtRest, type RowIdentity } from "../../../src/domain/vault/at-rest.js";
import { resolveVaultKeyring } from "../../../src/domain/vault/keyring.js";

const K1 = Buffer.alloc(32, 1).toString("base64");
const K2 = Buffer.alloc(32, 2).toString("hex");
const keyring = resolveVaultKeyring({ activeKeyId: "k1", keys: { k1: K1, k2: K2 } });
const row: RowIdentity = { owner: "0x14791697260E4c9A71f18484C9f997B308e59325", namespace: "main", key: "API_KEY", version: 3 };
const nonce = new Uint8Array(12).fill(5);
const plaintext = Buffer.from("s3cr3t");
const failed = { kind: "invalid", reason: "authentication failed: the row was altered, moved to another identity or version, or the key is wrong" };

describe("secrets at rest", () => {
  const sealed = sealAtRest(keyring, row, plaintext, nonce);

  it("seals under the active key and opens again", () => {
    expect(sealed.keyId).toBe("k1");
    expect(Buffer.from(sealed.ciphertext).includes(plaintext)).toBe(false);
    expect(sealed.ciphertext).toHaveLength(plaintext.length + 16);
    expect(openAtRest(keyring, row, sealed)).toEqual({ kind: "ok", plaintext: new Uint8Array(plaintext) });
  });

  it("opens under either spelling of the owner", () => {
    expect(openAtRest(keyring, { ...row, owner: row.owner.toLowerCase() }, sealed).kind).toBe("ok");
  });

  it("refuses a ciphertext moved to another owner, namespace, key or version (rows cannot be swapped)", () => {
    expect(openAtRest(keyring, { ...row, owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" }, sealed)).toEqual(failed);
    expect(openAtRest(keyring, { ...row, namespace: "other" }, sealed)).toEqual(failed);
    expect(openAtRest(keyring, { ...row, key: "OTHER" }, sealed)).toEqual(failed);
    expect(openAtRest(keyring, { ...row, version: 2 }, sealed)).toEqual(failed);
  });

  it("refuses a row relabelled to another key id, and names a key id the keyring lacks", () => {
    expect(openAtRest(keyring, row, { ...sealed, keyId: "k2" })).toEqual(failed);
    expect(openAtRest(keyring, row, { ...sealed, keyId: "k9" })).toEqual({ kind: "unknown-key", keyId: "k9" });
  });

  it("keeps old rows readable after the active key changes", () => {
    const rotated = resolveVaultKeyring({ activeKeyId: "k2", keys: { k1: K1, k2: K2 } });
    expect(openAtRest(rotated, row, sealed).kind).toBe("ok");
    const resealed = sealAtRest(rotated, row, plaintext, nonce);
    expect(resealed.keyId).toBe("k2");
    expect(openAtRest(rotated, row, resealed).kind).toBe("ok");
  });
});
