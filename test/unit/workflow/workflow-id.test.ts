import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkWorkflowMetadata,
  deriveWorkflowId,
  deriveWorkflowIdHex,
  normalizeWorkflowId,
  ownerSpecHex,
} from "../../../src/domain/workflow/workflow-id.js";
import { deriveExecutionId, isExecutionId } from "../../../src/domain/workflow/execution-id.js";

const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("workflow ids (upstream GenerateWorkflowID)", () => {
  it("is sha256(owner bytes ‖ name ‖ binary ‖ config ‖ secretsURL) with byte 0 set to 0x00", () => {
    const binary = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
    const config = utf8('{"greeting":"hi"}');
    const expected = createHash("sha256")
      .update(Buffer.from(OWNER.slice(2), "hex"))
      .update("my-workflow")
      .update(binary)
      .update(config)
      .update("")
      .digest();
    expected[0] = 0;
    const id = deriveWorkflowId({ owner: OWNER, name: "my-workflow", binary, config });
    expect(Buffer.from(id).equals(expected)).toBe(true);
    expect(id[0]).toBe(0);
    expect(deriveWorkflowIdHex({ owner: OWNER, name: "my-workflow", binary, config })).toBe(expected.toString("hex"));
  });

  it("does not depend on the owner's spelling, and changes with every input", () => {
    const base = { owner: OWNER, name: "w", binary: utf8("bin"), config: utf8("cfg") };
    const id = deriveWorkflowIdHex(base);
    expect(deriveWorkflowIdHex({ ...base, owner: OWNER.toLowerCase() })).toBe(id);
    expect(deriveWorkflowIdHex({ ...base, owner: OWNER.slice(2) })).toBe(id);
    expect(deriveWorkflowIdHex({ ...base, owner: Buffer.from(OWNER.slice(2), "hex") })).toBe(id);
    for (const changed of [
      { ...base, name: "w2" },
      { ...base, binary: utf8("bin2") },
      { ...base, config: utf8("cfg2") },
      { ...base, secretsUrl: "https://secrets" },
      { ...base, owner: "0x" + "11".repeat(20) },
    ]) {
      expect(deriveWorkflowIdHex(changed)).not.toBe(id);
    }
  });

  it("normalizes ids and owners the way ccr stores them", () => {
    const id = "AB".repeat(32);
    expect(normalizeWorkflowId(`0x${id}`)).toBe(id.toLowerCase());
    expect(normalizeWorkflowId(id)).toBe(id.toLowerCase());
    expect(normalizeWorkflowId("ab")).toBeUndefined();
    expect(ownerSpecHex(OWNER)).toBe(OWNER.slice(2).toLowerCase());
  });
});

describe("registry metadata checks (WorkflowRegistry 2.0.0 limits)", () => {
  const valid = { name: "n", tag: "t", binaryUrl: "http://x/b", configUrl: "", attributes: new Uint8Array(0) };

  it("accepts the limits exactly and counts bytes, not characters", () => {
    expect(checkWorkflowMetadata({ ...valid, name: "n".repeat(64), tag: "t".repeat(32), attributes: new Uint8Array(1024), binaryUrl: "h".repeat(200) })).toEqual({
      kind: "ok",
    });
    // 32 two-byte characters are 64 bytes: too long for a tag.
    expect(checkWorkflowMetadata({ ...valid, tag: "é".repeat(32) })).toEqual({
      kind: "invalid",
      reason: "workflow tag is 64 bytes; at most 32 allowed (WorkflowTagTooLong)",
    });
  });

  it("rejects in the contract's order with its error names", () => {
    const reason = (input: Partial<typeof valid>): string => {
      const check = checkWorkflowMetadata({ ...valid, ...input });
      return check.kind === "invalid" ? check.reason : "ok";
    };
    expect(reason({ binaryUrl: "" })).toBe("binary URL is required (BinaryURLRequired)");
    expect(reason({ binaryUrl: "h".repeat(201) })).toBe("binary URL is 201 bytes; at most 200 allowed (URLTooLong)");
    expect(reason({ configUrl: "h".repeat(201) })).toBe("config URL is 201 bytes; at most 200 allowed (URLTooLong)");
    expect(reason({ attributes: new Uint8Array(1025) })).toBe("attributes are 1025 bytes; at most 1024 allowed (AttributesTooLong)");
    expect(reason({ tag: "" })).toBe("workflow tag is required (WorkflowTagRequired)");
    expect(reason({ name: "" })).toBe("workflow name is required (WorkflowNameRequired)");
    expect(reason({ name: "n".repeat(65) })).toBe("workflow name is 65 bytes; at most 64 allowed (WorkflowNameTooLong)");
    // Attributes are checked before the tag, the tag before the name.
    expect(reason({ attributes: new Uint8Array(2000), tag: "", name: "" })).toContain("AttributesTooLong");
    expect(reason({ tag: "", name: "" })).toContain("WorkflowTagRequired");
  });
});

describe("execution ids (upstream GenerateExecutionID)", () => {
  it("is hex(sha256(workflow id ‖ trigger event id)): 64 hex digits, one per event", () => {
    const wf = "00".repeat(32);
    const id = deriveExecutionId(wf, "cron-trigger@1.0.0#0:cron:60000");
    expect(id).toBe(createHash("sha256").update(wf + "cron-trigger@1.0.0#0:cron:60000").digest("hex"));
    expect(isExecutionId(id)).toBe(true);
    expect(deriveExecutionId(wf, "cron-trigger@1.0.0#0:cron:60000")).toBe(id);
    expect(deriveExecutionId(wf, "cron-trigger@1.0.0#0:cron:70000")).not.toBe(id);
  });
});
