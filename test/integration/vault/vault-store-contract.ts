/**
 * The VaultStore contract, as one suite body run against every implementation: PGlite, the Postgres
 * server, and the in-memory twin.
 */
import { expect, it } from "vitest";
import type { SealedSecretValue, StoredSecretRow, VaultStore } from "../../../src/store/vault-store.js";

const A = "0x14791697260E4c9A71f18484C9f997B308e59325";
const B = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const C = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
const T = 1_767_225_600_000;

function sealed(tag: string, keyId = "k1"): (version: number) => SealedSecretValue {
  return (version) => ({ ciphertext: Buffer.from(`${tag}:v${version}`), nonce: new Uint8Array(12).fill(version), keyId });
}

export function vaultStoreContract(getStore: () => VaultStore): void {
  it("records a nonce once per owner until it expires", async () => {
    const store = getStore();
    expect(await store.consumeNonce(A, "n-1", T + 1_000, T)).toBe("fresh");
    expect(await store.consumeNonce(A, "n-1", T + 1_000, T + 999)).toBe("replayed");
    expect(await store.consumeNonce(B, "n-1", T + 1_000, T)).toBe("fresh");
    expect(await store.consumeNonce(A, "n-1", T + 5_000, T + 1_000)).toBe("fresh"); // the old record expired
    expect(await store.consumeNonce(A, "n-1", T + 5_000, T + 2_000)).toBe("replayed");
  });

  it("prunes expired nonces", async () => {
    const store = getStore();
    await store.consumeNonce(A, "p-1", T + 10, T);
    await store.consumeNonce(A, "p-2", T + 10, T);
    await store.consumeNonce(A, "p-3", T + 1_000_000, T);
    expect(await store.pruneNonces(T + 10)).toBeGreaterThanOrEqual(2);
    expect(await store.consumeNonce(A, "p-3", T + 1_000_000, T + 20)).toBe("replayed");
  });

  it("creates at version 1, increments on overwrite, and seals for the version stored", async () => {
    const store = getStore();
    const id = { owner: A, namespace: "main", key: "V" };
    const seen: number[] = [];
    expect(await store.put(id, (v) => (seen.push(v), sealed("x")(v)), T)).toEqual({ version: 1 });
    expect(await store.put(id, (v) => (seen.push(v), sealed("y")(v)), T + 5)).toEqual({ version: 2 });
    expect(seen).toEqual([1, 2]);
    const [row] = await store.getMany(A, [{ namespace: "main", key: "V" }]);
    expect(Buffer.from(row!.ciphertext).toString()).toBe("y:v2");
    expect(row!.nonce).toEqual(new Uint8Array(12).fill(2));
    const [meta] = (await store.list(A, "main")).filter((m) => m.key === "V");
    expect(meta).toEqual({ namespace: "main", key: "V", version: 2, createdAtMs: T, updatedAtMs: T + 5 });
  });

  it("gives concurrent writers of one secret distinct versions", async () => {
    const store = getStore();
    const id = { owner: A, namespace: "main", key: "RACE" };
    const results = await Promise.all([1, 2, 3, 4].map((i) => store.put(id, sealed(`w${i}`), T)));
    expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4]);
    const [row] = await store.getMany(A, [{ namespace: "main", key: "RACE" }]);
    expect(row!.version).toBe(4);
    expect(Buffer.from(row!.ciphertext).toString()).toMatch(/^w\d:v4$/);
  });

  it("lists one owner's secrets, optionally one namespace, in bytewise order", async () => {
    const store = getStore();
    for (const [ns, key] of [["zeta", "k"], ["L", "a"], ["L", "B"], ["L", "_"]] as const) await store.put({ owner: C, namespace: ns, key }, sealed("s"), T);
    await store.put({ owner: A, namespace: "L", key: "other-owner" }, sealed("s"), T);
    expect((await store.list(C, undefined)).map((m) => `${m.namespace}/${m.key}`)).toEqual(["L/B", "L/_", "L/a", "zeta/k"]);
    expect((await store.list(C, "zeta")).map((m) => m.key)).toEqual(["k"]);
    expect(await store.list(C, "none")).toEqual([]);
  });

  it("reads many rows at once: present ones only, each once, this owner's only", async () => {
    const store = getStore();
    await store.put({ owner: A, namespace: "g", key: "one" }, sealed("1"), T);
    await store.put({ owner: A, namespace: "g", key: "two" }, sealed("2"), T);
    await store.put({ owner: B, namespace: "g", key: "three" }, sealed("3"), T);
    const rows = await store.getMany(A, [
      { namespace: "g", key: "two" },
      { namespace: "g", key: "missing" },
      { namespace: "g", key: "one" },
      { namespace: "g", key: "two" },
      { namespace: "g", key: "three" },
    ]);
    expect(rows.map((r) => r.key).sort()).toEqual(["one", "two"]);
    expect(rows.every((r) => r.owner === A && r.keyId === "k1")).toBe(true);
    expect(await store.getMany(A, [])).toEqual([]);
  });

  it("deletes, telling whether there was something to delete", async () => {
    const store = getStore();
    const id = { owner: A, namespace: "d", key: "gone" };
    await store.put(id, sealed("d"), T);
    expect(await store.delete(id)).toBe(true);
    expect(await store.delete(id)).toBe(false);
    expect(await store.getMany(A, [{ namespace: "d", key: "gone" }])).toEqual([]);
  });

  it("finds rows under other keys and re-seals only rows unchanged since they were read", async () => {
    const store = getStore();
    await store.put({ owner: B, namespace: "r", key: "a" }, sealed("a", "old"), T);
    await store.put({ owner: B, namespace: "r", key: "b" }, sealed("b", "old"), T);
    const pending = (await store.rowsNotUnderKey("k1", 100)).filter((r) => r.namespace === "r");
    expect(pending.map((r) => r.key)).toEqual(["a", "b"]);
    expect(await store.rowsNotUnderKey("k1", 1)).toHaveLength(1);
    const [a, b] = pending as [StoredSecretRow, StoredSecretRow];
    expect(await store.reseal(a, { ciphertext: Buffer.from("a-new"), nonce: new Uint8Array(12).fill(9), keyId: "k1" })).toBe(true);
    // b is overwritten meanwhile: the stale re-seal must not clobber the new value.
    await store.put({ owner: B, namespace: "r", key: "b" }, sealed("b2", "k1"), T + 1);
    expect(await store.reseal(b, { ciphertext: Buffer.from("stale"), nonce: new Uint8Array(12), keyId: "k1" })).toBe(false);
    const rows = await store.getMany(B, [{ namespace: "r", key: "a" }, { namespace: "r", key: "b" }]);
    const byKey = new Map(rows.map((r) => [r.key, r]));
    expect(Buffer.from(byKey.get("a")!.ciphertext).toString()).toBe("a-new");
    expect(byKey.get("a")!.version).toBe(1); // re-sealing is not a write
    expect(Buffer.from(byKey.get("b")!.ciphertext).toString()).toBe("b2:v2");
    const counts = await store.countByKeyId();
    expect(counts.get("old")).toBeUndefined();
    expect(counts.get("k1")).toBeGreaterThanOrEqual(2);
  });
}
