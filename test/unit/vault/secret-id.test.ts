import { describe, expect, it } from "vitest";
import { checkNamespaceFilter, parseSecretId } from "../../../src/domain/vault/secret-id.js";

describe("secret identifiers", () => {
  it('defaults the namespace to "main"', () => {
    expect(parseSecretId({ key: "API_KEY" })).toEqual({ kind: "ok", id: { namespace: "main", key: "API_KEY" } });
    expect(parseSecretId({ key: "API_KEY", namespace: "" })).toEqual({ kind: "ok", id: { namespace: "main", key: "API_KEY" } });
    expect(parseSecretId({ key: "a.b-c_D9", namespace: "payments" })).toEqual({ kind: "ok", id: { namespace: "payments", key: "a.b-c_D9" } });
  });

  it("says which limit an identifier breaks", () => {
    expect(parseSecretId({ key: "" })).toEqual({ kind: "invalid", reason: "secret key must not be empty" });
    expect(parseSecretId({ key: "k".repeat(129) })).toEqual({ kind: "invalid", reason: "secret key must be at most 128 characters, got 129" });
    expect(parseSecretId({ key: "k".repeat(128) }).kind).toBe("ok");
    expect(parseSecretId({ key: "a b" })).toEqual({ kind: "invalid", reason: 'secret key may contain only A-Z, a-z, 0-9, "_", "." and "-"' });
    expect(parseSecretId({ key: "k", namespace: "n".repeat(65) })).toEqual({ kind: "invalid", reason: "secret namespace must be at most 64 characters, got 65" });
    expect(parseSecretId({ key: "k", namespace: "a/b" }).kind).toBe("invalid");
  });

  it("lets ListSecrets filter by nothing (empty) or by a valid namespace", () => {
    expect(checkNamespaceFilter("")).toBeUndefined();
    expect(checkNamespaceFilter("main")).toBeUndefined();
    expect(checkNamespaceFilter("no spaces")).toContain("may contain only");
  });
});
