import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EnclaveConfigSchema } from "../../../src/contract/index.js";
import { checkEnclaveConfig, createDonConfig } from "../../../src/domain/authorization/don-config.js";
import { ed25519SignerFromSeed } from "../../../src/domain/crypto/ed25519.js";

const keys = [0, 1, 2, 3].map((i) => ed25519SignerFromSeed(new Uint8Array(32).fill(0x07 + i)).publicKey);
const outsider = ed25519SignerFromSeed(new Uint8Array(32).fill(0x99)).publicKey;
const own = createDonConfig({ donId: "don-1", signers: keys, f: 1 });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function claimed(signers: Uint8Array[], f: number) {
  return create(EnclaveConfigSchema, { signers, f });
}

describe("enclave config must equal the node's DON config (CL112-01)", () => {
  it("accepts the same set in any order", () => {
    expect(checkEnclaveConfig(claimed([keys[2]!, keys[0]!, keys[3]!, keys[1]!], 1), own)).toEqual({ kind: "match" });
  });

  it("rejects F below ours", () => {
    expect(checkEnclaveConfig(claimed(keys, 0), own)).toEqual({
      kind: "mismatch",
      reason: "enclave config F 0 is below this DON's F 1",
    });
  });

  it("rejects F above ours (equality, not a minimum)", () => {
    expect(checkEnclaveConfig(claimed(keys, 2), own)).toEqual({
      kind: "mismatch",
      reason: "enclave config F 2 is above this DON's F 1",
    });
  });

  it("rejects a signer count mismatch", () => {
    expect(checkEnclaveConfig(claimed(keys.slice(0, 3), 1), own)).toEqual({
      kind: "mismatch",
      reason: "enclave config signers count mismatch: enclave reports 3, expected 4",
    });
  });

  it("rejects a signer that is not a member, naming it", () => {
    const verdict = checkEnclaveConfig(claimed([keys[0]!, keys[1]!, keys[2]!, outsider], 1), own);
    expect(verdict).toEqual({
      kind: "mismatch",
      reason: `enclave config signer mismatch: ${hex(outsider)} is not a member of this DON`,
    });
  });

  it("rejects a duplicated member standing in for a missing one", () => {
    const verdict = checkEnclaveConfig(claimed([keys[0]!, keys[0]!, keys[1]!, keys[2]!], 1), own);
    expect(verdict.kind).toBe("mismatch");
    expect(verdict.kind === "mismatch" && verdict.reason).toMatch(/^enclave config signer mismatch: [0-9a-f]{64} is listed twice$/);
  });
});

describe("createDonConfig", () => {
  it("refuses duplicate members and N < 3F+1", () => {
    expect(() => createDonConfig({ donId: "d", signers: [keys[0]!, keys[0]!, keys[1]!, keys[2]!], f: 1 })).toThrow(/listed twice/);
    expect(() => createDonConfig({ donId: "d", signers: keys.slice(0, 3), f: 1 })).toThrow("a DON with f=1 needs at least 4 signers, got 3");
  });
});
