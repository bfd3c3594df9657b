import { describe, expect, it } from "vitest";
import { resolveVaultOptions } from "../../../src/services/vault/options.js";

const keyring = { activeKeyId: "k1", keys: { k1: Buffer.alloc(32, 1).toString("base64") } };
const member = Buffer.alloc(32, 4).toString("hex");

describe("resolveVaultOptions", () => {
  it("fills in the defaults and freezes the result", () => {
    const options = resolveVaultOptions({ keyring, donMembers: [member] });
    expect(options).toMatchObject({
      maxClockSkewMs: 30_000,
      maxSignatureLifetimeMs: 3_600_000,
      maxValueBytes: 16_384,
      maxSecretsPerRequest: 64,
      memo: { ttlMs: 60_000, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
      rotationBatchSize: 100,
    });
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.memo)).toBe(true);
    expect([...options.donMembers]).toEqual([member]);
  });

  it("accepts member keys as hex, base64 or bytes", () => {
    const bytes = new Uint8Array(32).fill(4);
    const options = resolveVaultOptions({ keyring, donMembers: [Buffer.from(bytes).toString("base64"), bytes, `0x${member}`] });
    expect([...options.donMembers]).toEqual([member]);
  });

  it("names the option at fault, and lets options only tighten the contract's limits", () => {
    expect(() => resolveVaultOptions({ keyring, donMembers: [] })).toThrow("vault.donMembers must list at least one");
    expect(() => resolveVaultOptions({ keyring, donMembers: ["abcd"] })).toThrow("vault.donMembers[0] must be a 32-byte ed25519 public key");
    expect(() => resolveVaultOptions({ keyring, donMembers: [member], maxValueBytes: 20_000 })).toThrow(
      "vault.maxValueBytes must be an integer from 1 to 16384 (got 20000)",
    );
    expect(() => resolveVaultOptions({ keyring, donMembers: [member], memo: { ttlMs: -1 } })).toThrow("vault.memo.ttlMs must be an integer");
    expect(() => resolveVaultOptions({ keyring: { activeKeyId: "x", keys: {} }, donMembers: [member] })).toThrow("vault.keyring.activeKeyId");
  });
});
