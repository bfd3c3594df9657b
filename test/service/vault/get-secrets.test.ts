import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SecretErrorKind, VaultGetSecretsResponseSchema, type VaultGetSecretsResponse } from "../../../src/contract/index.js";
import { openSecret, x25519PublicKey } from "../../../src/domain/crypto/secret-box.js";
import { signVaultNodeRequest } from "../../../src/domain/vault/node-request.js";
import type { VaultStore } from "../../../src/store/vault-store.js";
import { ENCLAVE_SK, NODES, OUTSIDER, OWNER, nodeRequest, putSecret, startVault } from "./harness.js";

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

function opened(response: VaultGetSecretsResponse, index: number, enclaveSk = ENCLAVE_SK): string {
  const result = response.results[index]!;
  if (result.outcome.case !== "encrypted") throw new Error(`result ${index} is not encrypted`);
  const box = openSecret(enclaveSk, result.outcome.value, { owner: OWNER, namespace: result.id!.namespace!, key: result.id!.key });
  if (box.kind !== "ok") throw new Error(box.reason);
  return Buffer.from(box.plaintext).toString("utf8");
}

/** Counts the store reads behind GetSecrets, to see how many computations ran. */
function countingReads(counter: { reads: number }) {
  return (store: VaultStore): VaultStore => ({
    ...store,
    getMany: async (owner, ids) => {
      counter.reads++;
      return store.getMany(owner, ids);
    },
  });
}

describe("Vault.GetSecrets", () => {
  it("returns each secret sealed to the enclave key, and per-item errors for missing and invalid ids", async () => {
    const h = startVault();
    await putSecret(h, "API_KEY", "s3cr3t-api-key");
    await putSecret(h, "DB", "db-password-77", "payments");
    const res = await h.client.getSecrets(
      nodeRequest(h, [{ key: "API_KEY" }, { key: "MISSING" }, { key: "DB", namespace: "payments" }, { key: "bad key!" }]),
    );
    expect(res.results.map((r) => [r.id?.namespace, r.id?.key, r.outcome.case])).toEqual([
      ["main", "API_KEY", "encrypted"],
      ["main", "MISSING", "error"],
      ["payments", "DB", "encrypted"],
      ["main", "bad key!", "error"],
    ]);
    expect(opened(res, 0)).toBe("s3cr3t-api-key");
    expect(opened(res, 2)).toBe("db-password-77");
    expect(res.results[1]!.outcome.value).toMatchObject({ kind: SecretErrorKind.NOT_FOUND, message: "secret not found: main/MISSING" });
    expect(res.results[3]!.outcome.value).toMatchObject({
      kind: SecretErrorKind.INVALID_ID,
      message: 'invalid secret id: secret key may contain only A-Z, a-z, 0-9, "_", "." and "-"',
    });
    const text = await h.registry.metrics();
    expect(text).toContain('ccr_vault_secret_results_total{outcome="encrypted"} 2');
    expect(text).toContain('ccr_vault_secret_results_total{outcome="not_found"} 1');
  });

  it("answers with only per-item errors when nothing is found", async () => {
    const h = startVault();
    const res = await h.client.getSecrets(nodeRequest(h, [{ key: "NOPE" }]));
    expect(res.results).toHaveLength(1);
    expect(res.results[0]!.outcome.value).toMatchObject({ kind: SecretErrorKind.NOT_FOUND });
  });

  it("gives every relay node asking concurrently the same bytes from one computation", async () => {
    const counter = { reads: 0 };
    const h = startVault({}, countingReads(counter));
    await putSecret(h, "API_KEY", "s3cr3t-api-key");
    await putSecret(h, "OTHER", "another-value");
    const secrets = [{ key: "API_KEY" }, { key: "OTHER" }, { key: "MISSING" }];
    const answers = await Promise.all(NODES.map((node) => h.client.getSecrets(nodeRequest(h, secrets, node))));
    expect(counter.reads).toBe(1);
    const bytes = answers.map((a) => Buffer.from(toBinary(VaultGetSecretsResponseSchema, a)).toString("hex"));
    expect(new Set(bytes).size).toBe(1);
    // A node asking later within the window, with its own timestamp, still gets those bytes.
    h.clock.advance(59_000);
    const late = await h.client.getSecrets(nodeRequest(h, secrets, NODES[3]));
    expect(Buffer.from(toBinary(VaultGetSecretsResponseSchema, late)).toString("hex")).toBe(bytes[0]);
    expect(counter.reads).toBe(1);
    const text = await h.registry.metrics();
    expect(text).toContain('ccr_vault_memo_lookups_total{result="computed"} 1');
    expect(text).toContain('ccr_vault_memo_lookups_total{result="joined"} 3');
    expect(text).toContain('ccr_vault_memo_lookups_total{result="hit"} 1');
  });

  it("computes afresh after the memo TTL: new boxes, same values", async () => {
    const h = startVault({ memo: { ttlMs: 1_000 } });
    await putSecret(h, "API_KEY", "s3cr3t-api-key");
    const first = await h.client.getSecrets(nodeRequest(h, [{ key: "API_KEY" }]));
    h.clock.advance(1_000);
    const second = await h.client.getSecrets(nodeRequest(h, [{ key: "API_KEY" }]));
    expect(Buffer.from(toBinary(VaultGetSecretsResponseSchema, second)).equals(Buffer.from(toBinary(VaultGetSecretsResponseSchema, first)))).toBe(false);
    expect(opened(second, 0)).toBe(opened(first, 0));
  });

  it("keeps separate answers for another enclave key, execution, or secret order", async () => {
    const counter = { reads: 0 };
    const h = startVault({}, countingReads(counter));
    await putSecret(h, "A", "value-a");
    await putSecret(h, "B", "value-b");
    await h.client.getSecrets(nodeRequest(h, [{ key: "A" }, { key: "B" }]));
    const otherSk = new Uint8Array(32).fill(0x33);
    const other = await h.client.getSecrets(nodeRequest(h, [{ key: "A" }, { key: "B" }], NODES[0], { enclavePublicKey: x25519PublicKey(otherSk) }));
    expect(opened(other, 0, otherSk)).toBe("value-a");
    await h.client.getSecrets(nodeRequest(h, [{ key: "A" }, { key: "B" }], NODES[0], { executionId: "exec-2" }));
    await h.client.getSecrets(nodeRequest(h, [{ key: "B" }, { key: "A" }]));
    expect(counter.reads).toBe(4);
    // Explicit "main" is the same logical request as an unset namespace.
    await h.client.getSecrets(nodeRequest(h, [{ key: "A", namespace: "main" }, { key: "B" }]));
    expect(counter.reads).toBe(4);
  });

  it("serves only configured DON members (PermissionDenied for others)", async () => {
    const h = startVault();
    const error = await rejection(h.client.getSecrets(nodeRequest(h, [{ key: "A" }], OUTSIDER)));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.rawMessage).toContain("is not a member of the configured DON");
  });

  it("refuses a bad node signature and a stale or future timestamp (Unauthenticated)", async () => {
    const h = startVault();
    const forged = nodeRequest(h, [{ key: "A" }]);
    forged.executionId = "exec-other"; // changed after signing
    const e1 = await rejection(h.client.getSecrets(forged));
    expect([e1.code, e1.rawMessage]).toEqual([Code.Unauthenticated, "node_signature does not verify over the request (layout in docs/vault.md)"]);
    const byOther = nodeRequest(h, [{ key: "A" }]);
    byOther.nodeSignature = signVaultNodeRequest(NODES[1]!, { ...byOther, nodePublicKey: NODES[1]!.publicKey });
    expect((await rejection(h.client.getSecrets(byOther))).code).toBe(Code.Unauthenticated);
    const stale = nodeRequest(h, [{ key: "A" }]);
    h.clock.advance(30_001);
    const e2 = await rejection(h.client.getSecrets(stale));
    expect([e2.code, e2.rawMessage]).toEqual([
      Code.Unauthenticated,
      "timestamp_ms is -30001 ms off the vault's clock (allowed ±30000 ms); check the node's clock and sign a fresh request",
    ]);
    h.clock.advance(-60_002);
    expect((await rejection(h.client.getSecrets(stale))).code).toBe(Code.Unauthenticated);
    h.clock.advance(30_001);
    expect((await h.client.getSecrets(stale)).results).toHaveLength(1);
  });

  it("refuses malformed requests with InvalidArgument saying what to fix", async () => {
    const h = startVault();
    const cases: Array<[Parameters<typeof nodeRequest>[3], Array<{ key: string }>, string]> = [
      [{ owner: "nope" }, [{ key: "A" }], "owner must be a 0x-prefixed 20-byte hex address"],
      [{ workflowId: "" }, [{ key: "A" }], "workflow_id is required"],
      [{ executionId: "" }, [{ key: "A" }], "execution_id is required"],
      [{}, [], "secrets must have 1–64 entries, got 0"],
      [{}, Array.from({ length: 65 }, (_, i) => ({ key: `K${i}` })), "secrets must have 1–64 entries, got 65"],
      [{ enclavePublicKey: new Uint8Array(31) }, [{ key: "A" }], "enclave_public_key must be a 32-byte X25519 public key, got 31 bytes"],
    ];
    for (const [overrides, secrets, message] of cases) {
      const error = await rejection(h.client.getSecrets(nodeRequest(h, secrets, NODES[0], overrides)));
      expect([error.code, error.rawMessage]).toEqual([Code.InvalidArgument, message]);
    }
  });

  it("refuses a low-order enclave key once there is something to seal", async () => {
    const h = startVault();
    await putSecret(h, "A", "value-a");
    const error = await rejection(h.client.getSecrets(nodeRequest(h, [{ key: "A" }], NODES[0], { enclavePublicKey: new Uint8Array(32) })));
    expect([error.code, error.rawMessage]).toEqual([Code.InvalidArgument, "enclave_public_key is not a usable X25519 public key"]);
  });

  it("fails with a bare Internal, not memoized, when a row cannot be decrypted (wrong keyring)", async () => {
    const h = startVault();
    await putSecret(h, "A", "value-a");
    const rows = h.store.rawRows();
    // Simulate a row sealed under a key this vault does not have.
    await h.store.reseal(rows[0]!, { ...rows[0]!, keyId: "gone" });
    const error = await rejection(h.client.getSecrets(nodeRequest(h, [{ key: "A" }])));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("secret main/A cannot be decrypted; the operator must check the vault keyring");
    expect(error.rawMessage).not.toContain("gone");
    // Once the row is readable again, the next call succeeds: the failure was not memoized.
    await h.store.reseal({ ...rows[0]!, keyId: "gone" }, rows[0]!);
    expect(opened(await h.client.getSecrets(nodeRequest(h, [{ key: "A" }])), 0)).toBe("value-a");
  });
});
