/**
 * parseWorkflowAttributes / isConfidential: upstream's TestParseWorkflowAttributes and
 * TestIsConfidential (reference chainlink-workflows.md §7.1 items 1–2), then the Go encoding/json
 * edge cases of §3.3 that a TypeScript port gets wrong by default.
 */
import { describe, expect, it } from "vitest";
import {
  encodeWorkflowAttributes,
  isConfidential,
  parseWorkflowAttributes,
  secretNamespace,
  type ParsedWorkflowAttributes,
  type WorkflowAttributes,
} from "../../../src/domain/workflow/attributes.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function ok(input: string | Uint8Array | null | undefined): WorkflowAttributes {
  const parsed = parseWorkflowAttributes(typeof input === "string" ? bytes(input) : input);
  if (parsed.kind !== "ok") throw new Error(`expected ok, got: ${parsed.reason}`);
  return parsed.attributes;
}

function reason(input: string | Uint8Array): string {
  const parsed: ParsedWorkflowAttributes = parseWorkflowAttributes(typeof input === "string" ? bytes(input) : input);
  if (parsed.kind !== "invalid") throw new Error(`expected an error, got ${JSON.stringify(parsed.attributes)}`);
  return parsed.reason;
}

describe("TestParseWorkflowAttributes (upstream)", () => {
  it("valid JSON with all fields", () => {
    const attrs = ok('{"confidential":true,"vault_don_secrets":[{"key":"API_KEY"},{"key":"SIGNING_KEY","namespace":"custom-ns"}]}');
    expect(attrs.confidential).toBe(true);
    expect(attrs.vaultDonSecrets).toEqual([
      { key: "API_KEY", namespace: "" },
      { key: "SIGNING_KEY", namespace: "custom-ns" },
    ]);
  });

  it("empty data returns zero value", () => {
    expect(ok(null)).toEqual({ confidential: false, vaultDonSecrets: null });
    expect(ok(undefined)).toEqual({ confidential: false, vaultDonSecrets: null });
    expect(ok(new Uint8Array(0))).toEqual({ confidential: false, vaultDonSecrets: null });
  });

  it("non-confidential workflow", () => {
    expect(ok('{"confidential":false}').confidential).toBe(false);
  });

  it("malformed JSON returns error", () => {
    expect(reason("{not json}")).toContain("failed to parse workflow attributes");
  });
});

describe("TestIsConfidential (upstream)", () => {
  it("returns true for confidential", () => {
    expect(isConfidential(bytes('{"confidential":true}'))).toEqual({ kind: "ok", confidential: true });
  });
  it("returns false for non-confidential", () => {
    expect(isConfidential(bytes('{"confidential":false}'))).toEqual({ kind: "ok", confidential: false });
  });
  it("returns false for empty data", () => {
    expect(isConfidential(undefined)).toEqual({ kind: "ok", confidential: false });
  });
  it("returns error for malformed JSON", () => {
    const result = isConfidential(bytes("broken"));
    expect(result.kind).toBe("invalid");
    expect(result.kind === "invalid" && result.reason).toContain("failed to parse workflow attributes");
  });
});

describe("Go encoding/json semantics (§3.3)", () => {
  it("null, {} and unknown keys are not confidential and not errors", () => {
    expect(ok("null")).toEqual({ confidential: false, vaultDonSecrets: null });
    expect(ok("{}")).toEqual({ confidential: false, vaultDonSecrets: null });
    expect(ok('{"enclave":"nitro","confidential":true}')).toEqual({ confidential: true, vaultDonSecrets: null });
    expect(ok('  {"confidential" : true }\n')).toEqual({ confidential: true, vaultDonSecrets: null });
  });

  it("matches keys case-insensitively, including the Unicode folds of k and s", () => {
    expect(ok('{"Confidential":true}').confidential).toBe(true);
    expect(ok('{"CONFIDENTIAL":true}').confidential).toBe(true);
    expect(ok('{"confid\\u0065ntial":true}').confidential).toBe(true);
    // U+017F LATIN SMALL LETTER LONG S folds to s; U+212A KELVIN SIGN folds to k.
    expect(ok('{"vault_don_\u017fecrets":[{"\u212aey":"A"}]}').vaultDonSecrets).toEqual([{ key: "A", namespace: "" }]);
    // Other look-alikes do not match (here: Cyrillic о).
    expect(ok('{"c\u043enfidential":true}').confidential).toBe(false);
  });

  it("the last duplicate key wins, and null leaves a field as it was", () => {
    expect(ok('{"confidential":true,"confidential":false}').confidential).toBe(false);
    expect(ok('{"confidential":false,"CONFIDENTIAL":true}').confidential).toBe(true);
    expect(ok('{"confidential":true,"confidential":null}').confidential).toBe(true);
  });

  it("a repeated vault_don_secrets decodes into the elements the previous one left (Go reuses the slice)", () => {
    const attrs = ok('{"vault_don_secrets":[{"key":"A","namespace":"x"},{"key":"B"}],"vault_don_secrets":[{"key":"C"}]}');
    // Element 0 is reused without zeroing: its namespace survives; the length becomes 1.
    expect(attrs.vaultDonSecrets).toEqual([{ key: "C", namespace: "x" }]);
    // null drops the slice (and its backing array); [] makes a new empty one.
    expect(ok('{"vault_don_secrets":[{"key":"A"}],"vault_don_secrets":null}').vaultDonSecrets).toBeNull();
    expect(ok('{"vault_don_secrets":[{"key":"A","namespace":"x"}],"vault_don_secrets":[],"vault_don_secrets":[{"key":"B"}]}').vaultDonSecrets).toEqual([
      { key: "B", namespace: "" },
    ]);
    // A null element decodes to nothing: a reused element keeps its old value.
    expect(ok('{"vault_don_secrets":[{"key":"A"}],"vault_don_secrets":[null]}').vaultDonSecrets).toEqual([{ key: "A", namespace: "" }]);
  });

  it("keeps nil and empty secret lists apart, and defaults an absent key and namespace to empty", () => {
    expect(ok('{"confidential":true}').vaultDonSecrets).toBeNull();
    expect(ok('{"vault_don_secrets":null}').vaultDonSecrets).toBeNull();
    expect(ok('{"vault_don_secrets":[]}').vaultDonSecrets).toEqual([]);
    expect(ok('{"vault_don_secrets":[{}]}').vaultDonSecrets).toEqual([{ key: "", namespace: "" }]);
  });

  it("a wrong type is an error with Go's message", () => {
    expect(reason('{"confidential":"true"}')).toBe(
      "failed to parse workflow attributes: json: cannot unmarshal string into Go struct field WorkflowAttributes.confidential of type bool",
    );
    expect(reason('{"confidential":1}')).toBe(
      "failed to parse workflow attributes: json: cannot unmarshal number into Go struct field WorkflowAttributes.confidential of type bool",
    );
    expect(reason('{"vault_don_secrets":{"key":"A"}}')).toBe(
      "failed to parse workflow attributes: json: cannot unmarshal object into Go struct field WorkflowAttributes.vault_don_secrets of type []v2.SecretIdentifier",
    );
    expect(reason('{"vault_don_secrets":["A"]}')).toBe(
      "failed to parse workflow attributes: json: cannot unmarshal string into Go struct field WorkflowAttributes.vault_don_secrets of type v2.SecretIdentifier",
    );
    expect(reason('{"vault_don_secrets":[{"key":7}]}')).toBe(
      "failed to parse workflow attributes: json: cannot unmarshal number into Go struct field SecretIdentifier.vault_don_secrets.key of type string",
    );
  });

  it("reports the first type error, after decoding the rest", () => {
    expect(reason('{"confidential":"yes","vault_don_secrets":5}')).toContain("WorkflowAttributes.confidential of type bool");
  });

  it("a top-level value that is not an object is an error", () => {
    expect(reason("[]")).toBe("failed to parse workflow attributes: json: cannot unmarshal array into Go value of type v2.WorkflowAttributes");
    expect(reason("true")).toBe("failed to parse workflow attributes: json: cannot unmarshal bool into Go value of type v2.WorkflowAttributes");
    expect(reason('"x"')).toBe("failed to parse workflow attributes: json: cannot unmarshal string into Go value of type v2.WorkflowAttributes");
    expect(reason("5")).toBe("failed to parse workflow attributes: json: cannot unmarshal number into Go value of type v2.WorkflowAttributes");
  });

  it("what is not JSON is an error in Go's words", () => {
    expect(reason("{not json}")).toBe("failed to parse workflow attributes: invalid character 'n' looking for beginning of object key string");
    expect(reason("broken")).toBe("failed to parse workflow attributes: invalid character 'b' looking for beginning of value");
    expect(reason("   ")).toBe("failed to parse workflow attributes: unexpected end of JSON input");
    expect(reason('{"confidential":tru')).toBe("failed to parse workflow attributes: unexpected end of JSON input");
    expect(reason('{"confidential":true} x')).toBe("failed to parse workflow attributes: invalid character 'x' after top-level value");
    expect(reason('{"confidential":true,}')).toBe("failed to parse workflow attributes: invalid character '}' looking for beginning of object key string");
    expect(reason('{"confidential" true}')).toBe("failed to parse workflow attributes: invalid character 't' after object key");
    expect(reason('{"a":1 "b":2}')).toBe("failed to parse workflow attributes: invalid character '\"' after object key:value pair");
    expect(reason('{"a":[1 2]}')).toBe("failed to parse workflow attributes: invalid character '2' after array element");
    expect(reason('{"confidential":trUe}')).toBe("failed to parse workflow attributes: invalid character 'U' in literal true (expecting 'u')");
    expect(reason('{"a":01}')).toBe("failed to parse workflow attributes: invalid character '1' after object key:value pair");
    expect(reason('{"a":1.}')).toBe("failed to parse workflow attributes: invalid character '}' after decimal point in numeric literal");
    expect(reason('{"a":-x}')).toBe("failed to parse workflow attributes: invalid character 'x' in numeric literal");
    expect(reason('{"a":1e}')).toBe("failed to parse workflow attributes: invalid character '}' in exponent of numeric literal");
    expect(reason('{"a":"\\q"}')).toBe("failed to parse workflow attributes: invalid character 'q' in string escape code");
    expect(reason('{"a":"\\u12x4"}')).toBe("failed to parse workflow attributes: invalid character 'x' in \\u hexadecimal character escape");
    expect(reason('{"a":"line\nbreak"}')).toBe("failed to parse workflow attributes: invalid character '\\n' in string literal");
  });

  it("a syntax error anywhere wins over an earlier type error (Go checks validity first)", () => {
    expect(reason('{"confidential":"yes"} trailing')).toBe("failed to parse workflow attributes: invalid character 't' after top-level value");
  });

  it("rejects a byte-order mark, as Go does", () => {
    expect(reason(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{"confidential":true}')]))).toBe(
      "failed to parse workflow attributes: invalid character 'ï' looking for beginning of value",
    );
  });

  it("accepts nesting up to Go's limit of 10000 and rejects deeper, without recursion", () => {
    const nested = (depth: number): string => `{"x":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
    expect(ok(nested(10_000)).confidential).toBe(false);
    expect(reason(nested(10_001))).toBe("failed to parse workflow attributes: invalid character '[' exceeded max depth");
  });

  it("decodes string escapes, surrogate pairs, and lone surrogates as U+FFFD", () => {
    expect(ok('{"vault_don_secrets":[{"key":"\\u00e9\\ud83d\\ude00\\ud800x","namespace":"a\\/b\\t"}]}').vaultDonSecrets).toEqual([
      { key: "é😀\uFFFDx", namespace: "a/b\t" },
    ]);
  });
});

describe("the namespace default and the CLI's encoding", () => {
  it('defaults an empty namespace to "main" at use', () => {
    expect(secretNamespace({ key: "A", namespace: "" })).toBe("main");
    expect(secretNamespace({ key: "A", namespace: "ns" })).toBe("ns");
  });

  it("writes empty bytes for ordinary workflows and omits empty fields", () => {
    expect(encodeWorkflowAttributes({ confidential: false })).toEqual(new Uint8Array(0));
    expect(new TextDecoder().decode(encodeWorkflowAttributes({ confidential: true }))).toBe('{"confidential":true}');
    const withSecrets = encodeWorkflowAttributes({
      confidential: true,
      secrets: [
        { key: "API_KEY", namespace: "" },
        { key: "SIGNING_KEY", namespace: "custom-ns" },
      ],
    });
    expect(new TextDecoder().decode(withSecrets)).toBe(
      '{"confidential":true,"vault_don_secrets":[{"key":"API_KEY"},{"key":"SIGNING_KEY","namespace":"custom-ns"}]}',
    );
    expect(ok(withSecrets)).toEqual({
      confidential: true,
      vaultDonSecrets: [
        { key: "API_KEY", namespace: "" },
        { key: "SIGNING_KEY", namespace: "custom-ns" },
      ],
    });
    expect(() => encodeWorkflowAttributes({ confidential: false, secrets: [{ key: "A", namespace: "" }] })).toThrow();
  });
});
