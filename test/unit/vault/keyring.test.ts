import { describe, expect, it } from "vitest";
import { formatVaultKeyFile, parseVaultKeyFile, resolveVaultKeyring, withActiveKey } from "../../../src/domain/vault/keyring.js";

const KEY_B64 = Buffer.alloc(32, 7).toString("base64");
const KEY_HEX = Buffer.alloc(32, 8).toString("hex");

describe("vault keyring", () => {
  it("reads base64 and hex keys and round-trips through the key file format", () => {
    const keyring = parseVaultKeyFile(JSON.stringify({ activeKeyId: "2026-11", keys: { "2026-11": KEY_B64, old: `0x${KEY_HEX}` } }));
    expect(keyring.activeKeyId).toBe("2026-11");
    expect(Buffer.from(keyring.keys.get("old")!).toString("hex")).toBe(KEY_HEX);
    const again = parseVaultKeyFile(formatVaultKeyFile(keyring));
    expect(again.activeKeyId).toBe("2026-11");
    expect([...again.keys.keys()].sort()).toEqual(["2026-11", "old"]);
  });

  it("adds a new active key for a rotation, keeping the old ones", () => {
    const keyring = resolveVaultKeyring({ activeKeyId: "a", keys: { a: KEY_B64 } });
    const next = withActiveKey(keyring, "b", new Uint8Array(32).fill(9));
    expect(next.activeKeyId).toBe("b");
    expect([...next.keys.keys()]).toEqual(["a", "b"]);
    expect(() => withActiveKey(next, "a", new Uint8Array(32))).toThrow('key id "a" is already in the keyring');
  });

  it("names the option at fault and never echoes key material", () => {
    const shortKey = Buffer.alloc(16, 3).toString("base64");
    const cases: Array<[unknown, string]> = [
      [null, "vault.keyring must be an object {activeKeyId, keys}"],
      [{ activeKeyId: "", keys: {} }, "vault.keyring.activeKeyId must be 1–64 characters"],
      [{ activeKeyId: "a", keys: { a: shortKey } }, "vault.keyring.keys.a must be 32 bytes, as 44 characters of base64 or 64 hex digits"],
      [{ activeKeyId: "b", keys: { a: KEY_B64 } }, 'vault.keyring.activeKeyId "b" must name a key in vault.keyring.keys'],
      [{ activeKeyId: "a", keys: { a: KEY_B64, "bad id": KEY_B64 } }, 'key id "bad id" must be 1–64 characters'],
    ];
    for (const [input, message] of cases) {
      let error: unknown;
      try {
        resolveVaultKeyring(input);
      } catch (e) {
        error = e;
      }
      expect(String(error)).toContain(message);
      expect(String(error)).not.toContain(shortKey);
      expect(String(error)).not.toContain(KEY_B64);
    }
    expect(() => parseVaultKeyFile("{not json", "/etc/ccr/vault-keys.json")).toThrow("/etc/ccr/vault-keys.json must be JSON");
  });
});
