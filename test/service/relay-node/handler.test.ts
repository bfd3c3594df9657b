/**
 * The node's decision path, in memory (upstream handler_test.go N1/N5, ported in spirit): Vault and
 * Capability are fakes behind their generated clients.
 */
import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CapabilityExecuteResponseSchema,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  SecretErrorKind,
  VaultGetSecretsResponseSchema,
  sdk,
  type CapabilityExecuteRequest,
  type CapabilityExecuteResponse,
  type SignedAnswer,
  type VaultGetSecretsRequest,
} from "../../../src/contract/index.js";
import {
  answerSignaturePayload,
  capabilityBindingHash,
  relayResultHash,
  secretsBindingHash,
  type RelayParams,
} from "../../../src/contract/relay-hash.js";
import { ed25519Verify } from "../../../src/domain/crypto/ed25519.js";
import { verifyVaultNodeRequest } from "../../../src/domain/vault/node-request.js";
import { ManualClock } from "../../../src/domain/clock.js";
import type { CapabilityPort, DependencyCallOptions } from "../../../src/services/relay-node/ports.js";
import type { RelayOutcome } from "../../../src/services/relay-node/relay-handler.js";
import {
  authorize,
  CAPABILITY_ID,
  capabilityRequest,
  defaultVaultAnswer,
  DON_SIGNERS,
  ENCLAVE_KEY,
  EXECUTION_ID,
  FakeAttestation,
  makeFakes,
  makeHandler,
  never,
  NOW_MS,
  OTHER_KEY,
  OWNER_EIP55,
  OWNER_LOWER,
  secretsRequest,
  WORKFLOW_ID,
} from "./fixtures.js";

function signed(outcome: RelayOutcome): SignedAnswer {
  if (outcome.kind !== "signed") throw new Error(`expected a signed answer, got ${JSON.stringify(outcome)}`);
  return outcome.answer;
}

function expectRelayError(outcome: RelayOutcome, code: Code, message: string | RegExp): void {
  const answer = signed(outcome);
  expect(answer.result.case).toBe("error");
  if (answer.result.case !== "error") return;
  expect(Code[answer.result.value.code as Code]).toBe(Code[code]);
  if (typeof message === "string") expect(answer.result.value.message).toBe(message);
  else expect(answer.result.value.message).toMatch(message);
}

/** The answer's hash is recomputed from the request and result, and the node's signature verifies. */
function expectValidSignature(params: RelayParams, answer: SignedAnswer, signer: Uint8Array): void {
  const binding = params.case === "getSecrets" ? secretsBindingHash(params.value) : capabilityBindingHash(params.value);
  if (answer.result.case === undefined) throw new Error("no result");
  const hash = relayResultHash(binding, answer.result);
  expect(Buffer.from(answer.resultHash)).toEqual(Buffer.from(hash));
  expect(ed25519Verify(signer, answerSignaturePayload(hash), answer.signature)).toBe(true);
}

describe("confidential.capability.execute", () => {
  it("success: calls the capability with stable metadata and signs the wrapped payload", async () => {
    const { handler, fakes, signer } = makeHandler();
    fakes.capabilityImpl = () => create(CapabilityExecuteResponseSchema, { payload: new TextEncoder().encode("result-proto-bytes") });
    const params: RelayParams = { case: "executeCapability", value: capabilityRequest() };
    const answer = signed(await handler.handle(params, never));

    expect(answer.result.case).toBe("capability");
    if (answer.result.case !== "capability") return;
    expect(answer.result.value.error).toBe("");
    const decoded = fromBinary(sdk.CapabilityResponseSchema, answer.result.value.payload);
    expect(new TextDecoder().decode(decoded.response.value as Uint8Array)).toBe("result-proto-bytes");
    expectValidSignature(params, answer, signer.publicKey);

    expect(fakes.capabilityCalls).toHaveLength(1);
    const call = fakes.capabilityCalls[0]!;
    expect(call.capabilityId).toBe(CAPABILITY_ID);
    expect(call.method).toBe("Execute");
    expect(new TextDecoder().decode(call.payload)).toBe('{"echo":"hello"}');
    expect(call.metadata).toMatchObject({ workflowId: WORKFLOW_ID, owner: OWNER_EIP55, executionId: EXECUTION_ID, referenceId: "17" });
  });

  it("reference id defaults to the request id", async () => {
    const { handler, fakes } = makeHandler();
    await handler.handle({ case: "executeCapability", value: capabilityRequest({ referenceId: "", requestId: "req-9" }) }, never);
    expect(fakes.capabilityCalls[0]!.metadata?.referenceId).toBe("req-9");
  });

  it("a capability failure is returned in result.error, signed (upstream)", async () => {
    const { handler, fakes, signer } = makeHandler();
    fakes.capabilityImpl = () => create(CapabilityExecuteResponseSchema, { error: "execution failed" });
    const params: RelayParams = { case: "executeCapability", value: capabilityRequest() };
    const answer = signed(await handler.handle(params, never));
    expect(answer.result.case).toBe("capability");
    expect(answer.result.value).toMatchObject({ error: "execution failed" });
    expect((answer.result.value as { payload: Uint8Array }).payload).toHaveLength(0);
    expectValidSignature(params, answer, signer.publicKey);
  });

  it("an unknown capability is a signed NotFound", async () => {
    const { handler, fakes } = makeHandler();
    fakes.capabilityImpl = () => {
      throw new ConnectError("no capability missing-cap@1.0.0", Code.NotFound);
    };
    const outcome = await handler.handle({ case: "executeCapability", value: capabilityRequest({ capabilityId: "missing-cap@1.0.0" }) }, never);
    expectRelayError(outcome, Code.NotFound, "capability not found: missing-cap@1.0.0");
  });

  it("a payload that is not a CapabilityRequest is InvalidArgument", async () => {
    const { handler, fakes } = makeHandler();
    const outcome = await handler.handle({ case: "executeCapability", value: capabilityRequest({ payload: new Uint8Array([0xff, 0xff, 0xff]) }) }, never);
    expectRelayError(outcome, Code.InvalidArgument, "payload must be a serialized ccr.sdk.v1.CapabilityRequest");
    expect(fakes.capabilityCalls).toHaveLength(0);
  });

  it("capability service unreachable → unsigned NodeFailure without detail", async () => {
    const { handler, fakes } = makeHandler();
    fakes.capabilityImpl = () => {
      throw new ConnectError("connect ECONNREFUSED 10.0.0.7:7403", Code.Unavailable);
    };
    const outcome = await handler.handle({ case: "executeCapability", value: capabilityRequest() }, never);
    expect(outcome).toEqual({ kind: "failure", code: Code.Unavailable, message: "capability unavailable" });
  });
});

describe("what a pending Vault/Capability call keeps alive", () => {
  // Decoded bytes fields are views on the received buffer (the gateway stream's read chunk, with the
  // attestation document in it): a call that carried such a view would pin the whole buffer for as
  // long as the call is pending (bench/relay-node-memory.ts measures it at 10 000 in flight).
  function fromWire<T extends RelayParams["value"]>(message: T, schema: Parameters<typeof fromBinary>[0]): { decoded: T; wire: ArrayBufferLike } {
    const bytes = toBinary(schema, message as never);
    const wire = new Uint8Array(bytes.length + 64);
    wire.set(bytes, 32);
    return { decoded: fromBinary(schema, wire.subarray(32, 32 + bytes.length)) as unknown as T, wire: wire.buffer };
  }

  it("the capability call carries its own copy of the payload, not a view of the received request", async () => {
    const base = makeFakes();
    const seen: CapabilityExecuteRequest[] = [];
    const capability = { execute: async (req: CapabilityExecuteRequest) => (seen.push(req), create(CapabilityExecuteResponseSchema, { payload: req.payload })) };
    const { handler } = makeHandler({ fakes: { ...base, capability: capability as unknown as typeof base.capability } });
    const { decoded, wire } = fromWire(capabilityRequest(), ExecuteCapabilityRequestSchema);
    expect(decoded.payload.buffer).toBe(wire); // the premise: protobuf-es decodes bytes as views

    signed(await handler.handle({ case: "executeCapability", value: decoded }, never));
    expect(seen).toHaveLength(1);
    expect(new TextDecoder().decode(seen[0]!.payload)).toBe('{"echo":"hello"}');
    expect(seen[0]!.payload.buffer).not.toBe(wire);
  });

  it("the vault call carries its own copy of the enclave key", async () => {
    const base = makeFakes();
    const seen: VaultGetSecretsRequest[] = [];
    const vault = { getSecrets: async (req: VaultGetSecretsRequest) => (seen.push(req), defaultVaultAnswer(req)) };
    const { handler } = makeHandler({ fakes: { ...base, vault: vault as unknown as typeof base.vault } });
    const { decoded, wire } = fromWire(secretsRequest(), GetSecretsRequestSchema);
    expect(decoded.enclavePublicKey.buffer).toBe(wire);

    signed(await handler.handle({ case: "getSecrets", value: decoded }, never));
    expect(seen).toHaveLength(1);
    expect(Buffer.from(seen[0]!.enclavePublicKey)).toEqual(Buffer.from(ENCLAVE_KEY));
    expect(seen[0]!.enclavePublicKey.buffer).not.toBe(wire);
    expect(verifyVaultNodeRequest(seen[0]!)).toBe(true);
  });
});

describe("the request's deadline on the Vault/Capability call", () => {
  // A port that records the options of each call (the grpc-js client sends `timeoutMs` as
  // `grpc-timeout`; test/integration/relay-node/dependency-clients.test.ts checks that on a socket).
  function capturing(answer: () => Promise<CapabilityExecuteResponse> = async () => create(CapabilityExecuteResponseSchema, {})) {
    const options: DependencyCallOptions[] = [];
    const port: CapabilityPort = { execute: async (_req, o) => (options.push(o ?? {}), answer()) };
    return { port, options };
  }

  it("the time left of the request when the call starts, on the node's clock", async () => {
    const clock = new ManualClock(NOW_MS);
    // The attestation check takes 1 200 ms of the request's 5 000.
    const attestation = new FakeAttestation(() => (clock.advance(1_200), { kind: "ok", cache: "miss" }));
    const base = makeFakes();
    const { port, options } = capturing();
    const { handler } = makeHandler({ clock, attestation, fakes: { ...base, capability: port as unknown as typeof base.capability } });
    const signal = new AbortController().signal;
    signed(await handler.handle({ case: "executeCapability", value: capabilityRequest() }, signal, 5_000));
    expect(options).toEqual([{ signal, timeoutMs: 3_800 }]);
  });

  it("at least 1 ms (a deadline already spent is still a deadline), and none when the request has none", async () => {
    const clock = new ManualClock(NOW_MS);
    const attestation = new FakeAttestation(() => (clock.advance(50), { kind: "ok", cache: "miss" }));
    const base = makeFakes();
    const { port, options } = capturing();
    const { handler } = makeHandler({ clock, attestation, fakes: { ...base, capability: port as unknown as typeof base.capability } });
    signed(await handler.handle({ case: "executeCapability", value: capabilityRequest() }, never, 10));
    signed(await handler.handle({ case: "executeCapability", value: capabilityRequest() }, never));
    expect(options).toEqual([{ signal: never, timeoutMs: 1 }, { signal: never }]);
  });

  it("the vault call gets it too", async () => {
    const { handler, fakes } = makeHandler();
    const seen: (number | undefined)[] = [];
    fakes.vaultImpl = (req, ctx) => (seen.push(ctx.timeoutMs()), defaultVaultAnswer(req));
    signed(await handler.handle({ case: "getSecrets", value: secretsRequest() }, never, 4_000));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThan(0);
    expect(seen[0]).toBeLessThanOrEqual(4_000);
  });

  it("the dependency's DeadlineExceeded to the deadline it was sent is the request timing out, not the dependency failing", async () => {
    const base = makeFakes();
    const { port } = capturing(async () => {
      throw new ConnectError("the operation timed out", Code.DeadlineExceeded);
    });
    const { handler } = makeHandler({ fakes: { ...base, capability: port as unknown as typeof base.capability } });
    expect(await handler.handle({ case: "executeCapability", value: capabilityRequest() }, never, 100)).toEqual({ kind: "aborted", timedOut: true });
    // Without a deadline of ours, a DeadlineExceeded is the dependency's own: it is unavailable.
    expect(await handler.handle({ case: "executeCapability", value: capabilityRequest() }, never)).toEqual({
      kind: "failure",
      code: Code.Unavailable,
      message: "capability unavailable",
    });
  });
});

describe("confidential.secrets.get", () => {
  it("calls the Vault with the EIP-55 owner, explicit namespaces, the enclave key and a valid node signature", async () => {
    const { handler, fakes, signer } = makeHandler();
    const params: RelayParams = { case: "getSecrets", value: secretsRequest() };
    const answer = signed(await handler.handle(params, never));
    expectValidSignature(params, answer, signer.publicKey);

    expect(fakes.vaultCalls).toHaveLength(1);
    const call = fakes.vaultCalls[0]!;
    expect(call.owner).toBe(OWNER_EIP55);
    expect(call.workflowId).toBe(WORKFLOW_ID);
    expect(call.executionId).toBe(EXECUTION_ID);
    expect(call.secrets.map((s) => [s.key, s.namespace])).toEqual([
      ["API_KEY", "main"],
      ["DB_PASSWORD", "prod"],
    ]);
    expect(Buffer.from(call.enclavePublicKey)).toEqual(Buffer.from(ENCLAVE_KEY));
    expect(Buffer.from(call.nodePublicKey)).toEqual(Buffer.from(signer.publicKey));
    expect(verifyVaultNodeRequest(call)).toBe(true);
  });

  it("answers in request order with per-secret errors kept per item", async () => {
    const { handler } = makeHandler();
    const answer = signed(
      await handler.handle(
        { case: "getSecrets", value: secretsRequest({ secrets: [{ key: "Z" }, { key: "MISSING_1", namespace: "ns" }, { key: "A" }] }) },
        never,
      ),
    );
    if (answer.result.case !== "secrets") throw new Error("expected secrets");
    const items = answer.result.value.secrets;
    expect(items.map((s) => `${s.id?.namespace}/${s.id?.key}:${s.outcome.case}`)).toEqual(["main/Z:encrypted", "ns/MISSING_1:error", "main/A:encrypted"]);
    expect(items[1]!.outcome.value).toMatchObject({ kind: SecretErrorKind.NOT_FOUND, message: "secret not found: ns/MISSING_1" });
  });

  it.each([
    ["unreachable", Code.Unavailable, "vault unavailable"],
    ["a system failure", Code.Internal, "internal error"],
    ["refusing the node", Code.PermissionDenied, "internal error"],
  ] as const)("vault %s → unsigned NodeFailure with no detail", async (_name, vaultCode, message) => {
    const { handler, fakes } = makeHandler();
    fakes.vaultImpl = () => {
      throw new ConnectError("pg: connection to 10.1.2.3 refused; key=API_KEY", vaultCode);
    };
    const outcome = await handler.handle({ case: "getSecrets", value: secretsRequest() }, never);
    expect(outcome).toEqual({ kind: "failure", code: vaultCode === Code.Unavailable ? Code.Unavailable : Code.Internal, message });
  });

  it("a vault InvalidArgument is about the request: signed, so F+1 nodes can agree on it", async () => {
    const { handler, fakes } = makeHandler();
    fakes.vaultImpl = () => {
      throw new ConnectError("enclave_public_key is not a usable X25519 public key", Code.InvalidArgument);
    };
    expectRelayError(
      await handler.handle({ case: "getSecrets", value: secretsRequest() }, never),
      Code.InvalidArgument,
      "vault rejected the request: enclave_public_key is not a usable X25519 public key",
    );
  });

  it("a malformed vault answer is a NodeFailure, not a signed answer", async () => {
    const { handler, fakes } = makeHandler();
    fakes.vaultImpl = (req) => create(VaultGetSecretsResponseSchema, { results: req.secrets.slice(1).map((s) => ({ id: s })) });
    expect(await handler.handle({ case: "getSecrets", value: secretsRequest() }, never)).toEqual({
      kind: "failure",
      code: Code.Internal,
      message: "internal error",
    });
  });
});

describe("order of checks, each failure a signed RelayError", () => {
  it("invalid params → InvalidArgument with the upstream message, before anything else runs", async () => {
    const { handler, fakes, attestation } = makeHandler();
    expectRelayError(await handler.handle({ case: "getSecrets", value: secretsRequest({ owner: "0xowner" }) }, never), Code.InvalidArgument, "owner must be a 0x-prefixed 20-byte hex address");
    expect(attestation.calls).toHaveLength(0);
    expect(fakes.vaultCalls).toHaveLength(0);
  });

  it.each([
    ["F below ours", { signers: DON_SIGNERS, f: 0 }, "enclave config F 0 is below this DON's F 1"],
    ["count mismatch", { signers: DON_SIGNERS.slice(0, 3), f: 1 }, "enclave config signers count mismatch: enclave reports 3, expected 4"],
    [
      "signer mismatch",
      { signers: [...DON_SIGNERS.slice(0, 3), OTHER_KEY.publicKey], f: 1 },
      `enclave config signer mismatch: ${Buffer.from(OTHER_KEY.publicKey).toString("hex")} is not a member of this DON`,
    ],
  ])("DON config %s → PermissionDenied, before attestation (secrets and capability)", async (_name, enclaveConfig, message) => {
    const { handler, attestation } = makeHandler();
    expectRelayError(await handler.handle({ case: "getSecrets", value: secretsRequest({ enclaveConfig }) }, never), Code.PermissionDenied, message);
    expectRelayError(
      await handler.handle({ case: "executeCapability", value: capabilityRequest({ enclaveConfig }) }, never),
      Code.PermissionDenied,
      message,
    );
    expect(attestation.calls).toHaveLength(0);
  });

  it("attestation refused → PermissionDenied with the verifier's reason; the verifier sees the binding hash", async () => {
    const attestation = new FakeAttestation(() => ({ kind: "rejected", code: "pcr_not_allowed", reason: "attestation: pcr0 not in allowlist", cache: "miss" }));
    const { handler, fakes } = makeHandler({ attestation });
    const request = capabilityRequest();
    expectRelayError(await handler.handle({ case: "executeCapability", value: request }, never), Code.PermissionDenied, "attestation: pcr0 not in allowlist");
    expect(fakes.capabilityCalls).toHaveLength(0);
    expect(Buffer.from(attestation.calls[0]!.bindingHash)).toEqual(Buffer.from(capabilityBindingHash(request)));
    expect(attestation.calls[0]!.requestTimestampMs).toBe(request.timestampMs);
  });

  const victim = "0x0000000000000000000000000000000000000bad";
  const authCases = [
    ["missing", { authorization: undefined }, "authorization: missing workflow node signatures"],
    ["signed by a wrong key", { authorization: authorize({ owner: OWNER_LOWER, workflowId: WORKFLOW_ID, executionId: EXECUTION_ID }, OTHER_KEY) }, "authorization: signed by no configured workflow node"],
    // A compromised enclave naming a victim owner holds only its own workflow's authorization.
    ["owner mismatch", { owner: victim }, /^authorization: workflow node signatures do not cover this owner/],
    ["workflow mismatch", { workflowId: "f".repeat(64) }, /^authorization: workflow node signatures do not cover this owner/],
  ] as const;

  it.each(authCases)("authorization %s → PermissionDenied on secrets.get, vault never called", async (_name, override, message) => {
    const { handler, fakes } = makeHandler();
    expectRelayError(await handler.handle({ case: "getSecrets", value: secretsRequest(override as never) }, never), Code.PermissionDenied, message);
    expect(fakes.vaultCalls).toHaveLength(0);
  });

  it.each(authCases)("authorization %s → PermissionDenied on capability.execute too (upstream left it open)", async (_name, override, message) => {
    const { handler, fakes } = makeHandler();
    expectRelayError(await handler.handle({ case: "executeCapability", value: capabilityRequest(override as never) }, never), Code.PermissionDenied, message);
    expect(fakes.capabilityCalls).toHaveLength(0);
  });
});

describe("determinism across honest nodes", () => {
  it("two nodes give byte-identical results and result hashes for the same request; each signs with its own key", async () => {
    // Separate fakes per node, answering the same bytes (as the memoizing Vault/Capability do).
    const n0 = makeHandler({ index: 0 });
    const n1 = makeHandler({ index: 1 });
    for (const params of [
      { case: "getSecrets", value: secretsRequest({ secrets: [{ key: "B" }, { key: "MISSING" }, { key: "A", namespace: "x" }] }) },
      { case: "executeCapability", value: capabilityRequest() },
      { case: "getSecrets", value: secretsRequest({ workflowId: "" }) },
    ] as RelayParams[]) {
      const a = signed(await n0.handler.handle(params, never));
      const b = signed(await n1.handler.handle(params, never));
      expect(Buffer.from(a.resultHash)).toEqual(Buffer.from(b.resultHash));
      expect(a.result).toEqual(b.result);
      expect(Buffer.from(a.signature)).not.toEqual(Buffer.from(b.signature));
      expectValidSignature(params, a, n0.signer.publicKey);
      expectValidSignature(params, b, n1.signer.publicKey);
    }
  });

  it("a result hash is bound to its request: same result, another request id, another hash", async () => {
    const { handler } = makeHandler();
    const a = signed(await handler.handle({ case: "executeCapability", value: capabilityRequest({ requestId: "r-1" }) }, never));
    const b = signed(await handler.handle({ case: "executeCapability", value: capabilityRequest({ requestId: "r-2", referenceId: "17" }) }, never));
    expect(a.result).toEqual(b.result);
    expect(Buffer.from(a.resultHash)).not.toEqual(Buffer.from(b.resultHash));
  });
});

describe("metrics", () => {
  it("counts requests by method and outcome, attestation verdicts and cache lookups", async () => {
    let n = 0;
    const attestation = new FakeAttestation(() =>
      n++ === 0 ? { kind: "ok", cache: "miss" } : { kind: "rejected", code: "document_too_old", reason: "attestation: document too old", cache: "hit" },
    );
    const { handler, metrics } = makeHandler({ attestation });
    await handler.handle({ case: "getSecrets", value: secretsRequest() }, never);
    await handler.handle({ case: "getSecrets", value: secretsRequest() }, never);
    const text = await metrics.registry.metrics();
    expect(text).toContain('ccr_relay_node_requests_total{method="confidential.secrets.get",outcome="ok",code="OK"} 1');
    expect(text).toContain('ccr_relay_node_requests_total{method="confidential.secrets.get",outcome="rejected",code="PermissionDenied"} 1');
    expect(text).toContain('ccr_relay_node_attestation_verdicts_total{verdict="document_too_old"} 1');
    expect(text).toContain("ccr_relay_node_attestation_cache_hit_ratio 0.5");
  });
});
