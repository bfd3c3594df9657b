import { describe, expect, it } from "vitest";
import { vaultAddKey } from "../../../src/cli/commands/vault-add-key.js";
import { parseVaultKeyFile } from "../../../src/domain/vault/keyring.js";

describe("vault add-key", () => {
  it("starts a key file, then adds fresh active keys keeping the old ones", () => {
    const first = parseVaultKeyFile(vaultAddKey(undefined, "2026-01"));
    expect(first.activeKeyId).toBe("2026-01");
    const secondText = vaultAddKey(vaultAddKey(undefined, "2026-01"), "2026-11");
    const second = parseVaultKeyFile(secondText);
    expect(second.activeKeyId).toBe("2026-11");
    expect([...second.keys.keys()]).toEqual(["2026-01", "2026-11"]);
    expect(Buffer.from(second.keys.get("2026-11")!).equals(Buffer.from(second.keys.get("2026-01")!))).toBe(false);
    expect(() => vaultAddKey(secondText, "2026-01")).toThrow('key id "2026-01" is already in the keyring');
  });
});
