import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OWNER, nodeRequest, ownerSignature, putSecret, startVault } from "./harness.js";

/** Every spelling of `value` that could end up in a log line. */
function spellings(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  return [value, bytes.toString("base64"), bytes.toString("hex"), JSON.stringify([...bytes])];
}

describe("Vault: secret values stay out of logs and storage", () => {
  it("logs owners, identifiers and sizes but never a value, on success and on failure", async () => {
    const h = startVault();
    const value = "sup3r-s3cret-Value-8472";
    await putSecret(h, "API_KEY", value);
    await h.client.getSecrets(nodeRequest(h, [{ key: "API_KEY" }, { key: "MISSING" }]));
    const list = { method: "ListSecrets" as const, owner: OWNER, namespace: "" };
    await h.client.listSecrets({ owner: OWNER, namespace: "", signature: ownerSignature(list, h.clock.nowMs()) });
    // A failing write carrying the value.
    const put = { method: "PutSecret" as const, owner: OWNER, key: "API_KEY", value: Buffer.from(value) };
    const sig = ownerSignature(put, h.clock.nowMs());
    await h.client.putSecret({ owner: OWNER, id: { key: "API_KEY" }, value: Buffer.from(value), signature: sig });
    await expect(h.client.putSecret({ owner: OWNER, id: { key: "API_KEY" }, value: Buffer.from(value), signature: sig })).rejects.toSatisfy(
      (e: unknown) => ConnectError.from(e).code === Code.Unauthenticated,
    );

    const logs = h.logs();
    expect(logs).toContain('"msg":"secret stored"');
    expect(logs).toContain('"secretId":"main/API_KEY"');
    expect(logs).toContain('"msg":"secrets served"');
    for (const spelling of spellings(value)) expect(logs).not.toContain(spelling);
    expect(logs).not.toContain(Buffer.alloc(32, 0xaa).toString("base64")); // the master key
  });

  it("stores only ciphertext: no stored byte sequence contains the value", async () => {
    const h = startVault();
    const value = "sup3r-s3cret-Value-8472";
    await putSecret(h, "API_KEY", value);
    const [row] = h.store.rawRows();
    expect(row!.keyId).toBe("k1");
    expect(row!.nonce).toHaveLength(12);
    expect(row!.ciphertext).toHaveLength(Buffer.byteLength(value) + 16);
    for (const bytes of [row!.ciphertext, row!.nonce]) expect(Buffer.from(bytes).includes(Buffer.from(value))).toBe(false);
  });
});
