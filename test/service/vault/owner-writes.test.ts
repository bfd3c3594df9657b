import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { signOwnerRequest } from "../../../src/domain/vault/owner-request.js";
import { OTHER_KEY, OTHER_OWNER, OWNER, OWNER_KEY, ownerSignature, putSecret, startVault } from "./harness.js";

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

const value = Buffer.from("s3cr3t-api-key");

describe("Vault owner-signed writes", () => {
  it('stores a secret under "main" by default, versions every write, and lists identifiers only', async () => {
    const h = startVault();
    expect(await putSecret(h, "API_KEY", "first-value-q7")).toBe(1n);
    h.clock.advance(1_000);
    expect(await putSecret(h, "API_KEY", "second-value-q8")).toBe(2n);
    await putSecret(h, "DB", "third-value-q9", "payments");
    const list = { method: "ListSecrets" as const, owner: OWNER, namespace: "" };
    const res = await h.client.listSecrets({ owner: OWNER, namespace: "", signature: ownerSignature(list, h.clock.nowMs()) });
    expect(res.secrets.map((s) => [s.id?.namespace, s.id?.key, s.version])).toEqual([
      ["main", "API_KEY", 2n],
      ["payments", "DB", 1n],
    ]);
    const apiKey = res.secrets[0]!;
    expect(apiKey.updatedAtMs - apiKey.createdAtMs).toBe(1_000n);
    expect(JSON.stringify(res, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toMatch(/value-q/);
    const only = { method: "ListSecrets" as const, owner: OWNER, namespace: "payments" };
    const filtered = await h.client.listSecrets({ owner: OWNER, namespace: "payments", signature: ownerSignature(only, h.clock.nowMs()) });
    expect(filtered.secrets.map((s) => s.id?.key)).toEqual(["DB"]);
  });

  it("answers with the namespace filled in, and accepts a lowercase owner as the same EIP-55 owner", async () => {
    const h = startVault();
    const lower = OWNER.toLowerCase();
    const req = { method: "PutSecret" as const, owner: lower, key: "K", value };
    const res = await h.client.putSecret({ owner: lower, id: { key: "K" }, value, signature: ownerSignature(req, h.clock.nowMs()) });
    expect(res.id).toMatchObject({ key: "K", namespace: "main" });
    expect(h.store.rawRows()[0]!.owner).toBe(OWNER);
  });

  it("refuses a signature by another key (Unauthenticated), naming the address it recovers to", async () => {
    const h = startVault();
    const req = { method: "PutSecret" as const, owner: OWNER, key: "K", value };
    const error = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature: ownerSignature(req, h.clock.nowMs(), OTHER_KEY) }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toContain(`recovers to ${OTHER_OWNER}, not the owner ${OWNER}`);
    expect(h.store.rawRows()).toHaveLength(0);
  });

  it("refuses a tampered request: another value, key or namespace than the one signed", async () => {
    const h = startVault();
    const signed = { method: "PutSecret" as const, owner: OWNER, key: "K", value };
    const signature = ownerSignature(signed, h.clock.nowMs());
    for (const tampered of [
      { id: { key: "K" }, value: Buffer.from("other value") },
      { id: { key: "K2" }, value },
      { id: { key: "K", namespace: "other" }, value },
    ]) {
      const error = await rejection(h.client.putSecret({ owner: OWNER, ...tampered, signature }));
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toContain("signature does not match the request");
    }
    // The untampered request still goes through: failed attempts did not consume the nonce.
    expect((await h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature })).version).toBe(1n);
  });

  it("refuses an expired signature (Unauthenticated) and one that expires too far ahead (InvalidArgument)", async () => {
    const h = startVault();
    const req = { method: "PutSecret" as const, owner: OWNER, key: "K", value };
    const now = h.clock.nowMs();
    const expired = signOwnerRequest(OWNER_KEY, req, { nonce: "n1", expiresAtMs: now });
    const e1 = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature: expired }));
    expect(e1.code).toBe(Code.Unauthenticated);
    expect(e1.rawMessage).toBe("signature expired 0 ms ago; sign the request again with a later expires_at_ms");
    const farAhead = signOwnerRequest(OWNER_KEY, req, { nonce: "n2", expiresAtMs: now + 3_600_001 });
    const e2 = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature: farAhead }));
    expect(e2.code).toBe(Code.InvalidArgument);
    expect(e2.rawMessage).toContain("at most 3600000 ms after now");
  });

  it("refuses a replayed request, and lets a signature expire before its nonce may come back", async () => {
    const h = startVault();
    const req = { method: "PutSecret" as const, owner: OWNER, key: "K", value };
    const signature = ownerSignature(req, h.clock.nowMs());
    await h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature });
    const replay = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature }));
    expect(replay.code).toBe(Code.Unauthenticated);
    expect(replay.rawMessage).toBe("signature.nonce was already used; sign the request again with a new nonce");
    h.clock.advance(300_000);
    const late = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature }));
    expect(late.rawMessage).toContain("signature expired");
    // The same nonce string is fine for another owner.
    const other = { method: "PutSecret" as const, owner: OTHER_OWNER, key: "K", value };
    const otherSig = signOwnerRequest(OTHER_KEY, other, { nonce: signature.nonce, expiresAtMs: h.clock.nowMs() + 1000 });
    expect((await h.client.putSecret({ owner: OTHER_OWNER, id: { key: "K" }, value, signature: otherSig })).version).toBe(1n);
  });

  it("refuses a missing or malformed signature", async () => {
    const h = startVault();
    const missing = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value }));
    expect(missing.code).toBe(Code.Unauthenticated);
    const req = { method: "PutSecret" as const, owner: OWNER, key: "K", value };
    const sig = ownerSignature(req, h.clock.nowMs());
    const short = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature: { ...sig, signature: sig.signature.subarray(0, 64) } }));
    expect(short.code).toBe(Code.Unauthenticated);
    expect(short.rawMessage).toContain("65 bytes");
    const longNonce = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value, signature: { ...sig, nonce: "n".repeat(65) } }));
    expect(longNonce.code).toBe(Code.InvalidArgument);
  });

  it("limits key, namespace and value sizes with InvalidArgument naming the limit", async () => {
    const h = startVault();
    const attempt = (id: { key: string; namespace?: string }, v: Uint8Array) =>
      rejection(h.client.putSecret({ owner: OWNER, id, value: v, signature: ownerSignature({ method: "PutSecret", owner: OWNER, ...id, value: v }, h.clock.nowMs()) }));
    const big = await attempt({ key: "K" }, Buffer.alloc(16_385, 1));
    expect([big.code, big.rawMessage]).toEqual([Code.InvalidArgument, "value must be at most 16384 bytes, got 16385"]);
    const longKey = await attempt({ key: "k".repeat(129) }, value);
    expect([longKey.code, longKey.rawMessage]).toEqual([Code.InvalidArgument, "secret key must be at most 128 characters, got 129"]);
    const longNs = await attempt({ key: "k", namespace: "n".repeat(65) }, value);
    expect(longNs.rawMessage).toBe("secret namespace must be at most 64 characters, got 65");
    const empty = await attempt({ key: "K" }, new Uint8Array(0));
    expect(empty.rawMessage).toBe("value must not be empty");
    expect((await h.client.putSecret({ owner: OWNER, id: { key: "K" }, value: Buffer.alloc(16_384, 1), signature: ownerSignature({ method: "PutSecret", owner: OWNER, key: "K", value: Buffer.alloc(16_384, 1) }, h.clock.nowMs()) })).version).toBe(1n);
    const badOwner = await rejection(h.client.putSecret({ owner: "0x1234", id: { key: "K" }, value }));
    expect([badOwner.code, badOwner.rawMessage]).toEqual([Code.InvalidArgument, "owner must be a 0x-prefixed 20-byte hex address"]);
  });

  it("applies a configured lower value limit", async () => {
    const h = startVault({ maxValueBytes: 8 });
    const v = Buffer.alloc(9, 1);
    const error = await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value: v, signature: ownerSignature({ method: "PutSecret", owner: OWNER, key: "K", value: v }, h.clock.nowMs()) }));
    expect(error.rawMessage).toBe("value must be at most 8 bytes, got 9");
  });

  it("deletes a secret, and answers NotFound for one that does not exist", async () => {
    const h = startVault();
    await putSecret(h, "K", "v");
    const del = { method: "DeleteSecret" as const, owner: OWNER, key: "K" };
    const res = await h.client.deleteSecret({ owner: OWNER, id: { key: "K" }, signature: ownerSignature(del, h.clock.nowMs()) });
    expect(res.id).toMatchObject({ key: "K", namespace: "main" });
    const again = await rejection(h.client.deleteSecret({ owner: OWNER, id: { key: "K" }, signature: ownerSignature(del, h.clock.nowMs()) }));
    expect([again.code, again.rawMessage]).toEqual([Code.NotFound, `secret main/K not found for owner ${OWNER}`]);
  });

  it("does not accept a signature made for another method", async () => {
    const h = startVault();
    await putSecret(h, "K", "v");
    const put = { method: "PutSecret" as const, owner: OWNER, key: "K", value };
    const error = await rejection(h.client.deleteSecret({ owner: OWNER, id: { key: "K" }, signature: ownerSignature(put, h.clock.nowMs()) }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(h.store.rawRows()).toHaveLength(1);
  });

  it("counts calls by method and outcome", async () => {
    const h = startVault();
    await putSecret(h, "K", "v");
    await rejection(h.client.putSecret({ owner: OWNER, id: { key: "K" }, value }));
    const text = await h.registry.metrics();
    expect(text).toContain('ccr_vault_calls_total{method="PutSecret",code="OK"} 1');
    expect(text).toContain('ccr_vault_calls_total{method="PutSecret",code="Unauthenticated"} 1');
    expect(text).toContain('ccr_vault_call_duration_seconds_count{method="PutSecret"} 2');
  });
});
