import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { WorkflowAuthorizationSchema } from "../../../src/contract/index.js";
import { authorizationPayload } from "../../../src/contract/relay-hash.js";
import { WorkflowAuthorizer } from "../../../src/domain/authorization/workflow-authorization.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";

const wfNode = ed25519SignerFromSeed(new Uint8Array(32).fill(0x42));
const wfNode2 = ed25519SignerFromSeed(new Uint8Array(32).fill(0x43));
const stranger = ed25519SignerFromSeed(new Uint8Array(32).fill(0x99));

const subject = {
  owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  workflowId: "a".repeat(64),
  executionId: "b".repeat(64),
};

function signed(signers: Ed25519Signer[], over = subject) {
  return create(WorkflowAuthorizationSchema, {
    signatures: signers.map((s) => ({ signer: s.publicKey, signature: s.sign(authorizationPayload(over)) })),
  });
}

describe("workflow authorization (PRIV-433)", () => {
  const authorizer = new WorkflowAuthorizer({ workflowNodeKeys: [wfNode.publicKey, wfNode2.publicKey], threshold: 1 });

  it("accepts the configured workflow node's signature over this (owner, workflow_id, execution_id)", () => {
    expect(authorizer.check(signed([wfNode]), subject)).toEqual({ kind: "authorized", signers: 1 });
  });

  it("compares owners case-insensitively (a checksummed and a lowercase owner are the same owner)", () => {
    const lower = { ...subject, owner: subject.owner.toLowerCase() };
    expect(authorizer.check(signed([wfNode], lower), subject).kind).toBe("authorized");
  });

  it("denies a request with no signatures", () => {
    expect(authorizer.check(undefined, subject)).toEqual({ kind: "denied", reason: "authorization: missing workflow node signatures" });
    expect(authorizer.check(create(WorkflowAuthorizationSchema), subject).kind).toBe("denied");
  });

  it("denies a signature by a key that is not a configured workflow node", () => {
    expect(authorizer.check(signed([stranger]), subject)).toEqual({
      kind: "denied",
      reason: "authorization: signed by no configured workflow node",
    });
  });

  it.each([
    ["owner", { ...subject, owner: "0x0000000000000000000000000000000000000001" }],
    ["workflow", { ...subject, workflowId: "c".repeat(64) }],
    ["execution", { ...subject, executionId: "d".repeat(64) }],
  ])("denies a %s mismatch (the signature covers another triple)", (_name, signedFor) => {
    const verdict = authorizer.check(signed([wfNode], signedFor), subject);
    expect(verdict).toEqual({
      kind: "denied",
      reason: "authorization: workflow node signatures do not cover this owner, workflow_id and execution_id (0 valid, need 1)",
    });
  });

  it("a valid signature swapped onto another signer key does not count", () => {
    const auth = signed([wfNode]);
    auth.signatures[0]!.signer = wfNode2.publicKey;
    expect(authorizer.check(auth, subject).kind).toBe("denied");
  });

  it("with threshold 2, counts distinct signers only", () => {
    const two = new WorkflowAuthorizer({ workflowNodeKeys: [wfNode.publicKey, wfNode2.publicKey], threshold: 2 });
    expect(two.check(signed([wfNode, wfNode]), subject)).toEqual({
      kind: "denied",
      reason: "authorization: 1 valid workflow node signatures, need 2",
    });
    expect(two.check(signed([wfNode, stranger, wfNode2]), subject)).toEqual({ kind: "authorized", signers: 2 });
  });

  it("remembers verified signatures, and the cache never admits a different triple", () => {
    const a = new WorkflowAuthorizer({ workflowNodeKeys: [wfNode.publicKey], threshold: 1 }, 2);
    const auth = signed([wfNode]);
    expect(a.check(auth, subject).kind).toBe("authorized");
    expect(a.check(auth, subject).kind).toBe("authorized");
    expect(a.check(auth, { ...subject, executionId: "e".repeat(64) }).kind).toBe("denied");
  });

  it("refuses a threshold above the number of configured keys", () => {
    expect(() => new WorkflowAuthorizer({ workflowNodeKeys: [wfNode.publicKey], threshold: 2 })).toThrow(
      "authorization threshold 2 exceeds the 1 distinct workflow-node keys",
    );
  });
});
