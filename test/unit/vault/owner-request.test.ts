import { describe, expect, it } from "vitest";
import { recoverPersonalSigner } from "../../../src/domain/ethereum/eip191.js";
import {
  ownerRequestDigest,
  ownerRequestLayout,
  recoverOwnerRequestSigner,
  signOwnerRequest,
  type OwnerRequest,
} from "../../../src/domain/vault/owner-request.js";
import { vectorNamed } from "./doc-vectors.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const PRIVATE_KEY = Buffer.from("0123456789012345678901234567890123456789012345678901234567890123", "hex");
const OWNER = "0x14791697260E4c9A71f18484C9f997B308e59325";

describe("owner request signatures (docs/vault.md)", () => {
  const v = vectorNamed("vault.md", "owner-put");
  const auth = { nonce: v["nonce"]!, expiresAtMs: BigInt(v["expires_at_ms"]!) };
  const put: OwnerRequest = { method: "PutSecret", owner: v["owner"]!, key: v["key"]!, value: Buffer.from(v["value"]!, "utf8") };

  it("matches the documented PutSecret layout, digest and signature", () => {
    expect(hex(ownerRequestLayout(put, auth))).toBe(v["layout"]);
    expect(hex(ownerRequestDigest(put, auth))).toBe(v["digest"]);
    expect(hex(signOwnerRequest(Buffer.from(v["private_key"]!, "hex"), put, auth).signature)).toBe(v["signature"]);
  });

  it("is an ordinary personal_sign over the 32-byte digest (what a wallet produces)", () => {
    const { signature } = signOwnerRequest(PRIVATE_KEY, put, auth);
    expect(recoverPersonalSigner(ownerRequestDigest(put, auth), signature)).toEqual({ kind: "ok", address: OWNER });
    expect(recoverOwnerRequestSigner(put, auth, signature)).toEqual({ kind: "ok", address: OWNER });
  });

  it("matches the documented DeleteSecret and ListSecrets digests", () => {
    const del = vectorNamed("vault.md", "owner-delete");
    expect(hex(ownerRequestDigest({ method: "DeleteSecret", owner: OWNER, namespace: del["namespace"]!, key: del["key"]! }, auth))).toBe(del["digest"]);
    const list = vectorNamed("vault.md", "owner-list");
    expect(hex(ownerRequestDigest({ method: "ListSecrets", owner: OWNER, namespace: list["namespace"] ?? "" }, auth))).toBe(list["digest"]);
  });

  it("signs the same bytes for either spelling of the owner and for unset vs \"main\" namespace", () => {
    const base = hex(ownerRequestDigest(put, auth));
    expect(hex(ownerRequestDigest({ ...put, owner: OWNER.toLowerCase() }, auth))).toBe(base);
    expect(hex(ownerRequestDigest({ ...put, namespace: "main" }, auth))).toBe(base);
    expect(hex(ownerRequestDigest({ ...put, namespace: "" }, auth))).toBe(base);
  });

  it("changes with every field, and a signature for one method is not one for another", () => {
    const base = hex(ownerRequestDigest(put, auth));
    const variants: Array<[OwnerRequest, typeof auth]> = [
      [{ ...put, key: "API_KEY2" }, auth],
      [{ ...put, namespace: "other" }, auth],
      [{ ...put, value: Buffer.from("s3cr3t-api-kez") }, auth],
      [{ ...put, owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" }, auth],
      [put, { ...auth, nonce: "n-0002" }],
      [put, { ...auth, expiresAtMs: auth.expiresAtMs + 1n }],
      [{ method: "DeleteSecret", owner: OWNER, key: put.method === "PutSecret" ? put.key : "" }, auth],
    ];
    for (const [request, a] of variants) expect(hex(ownerRequestDigest(request, a))).not.toBe(base);
  });

  it("hashes the value instead of embedding it, so the layout never carries the plaintext", () => {
    const layout = Buffer.from(ownerRequestLayout(put, auth));
    expect(layout.includes(Buffer.from("s3cr3t-api-key"))).toBe(false);
  });
});
