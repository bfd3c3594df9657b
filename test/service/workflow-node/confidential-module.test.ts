/**
 * The ConfidentialModule against an in-memory ConfidentialWorkflows (createRouterTransport):
 * upstream's TestComputeBinaryHash, TestConfidentialModule_Execute and
 * TestConfidentialModule_InterfaceMethods (reference chainlink-workflows.md §7.1 items 3–5), mapped
 * onto the gRPC client that replaces upstream's capability registry, plus the ccr additions
 * (authorization, subscribe phase, BinaryURLResolver).
 */
import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  ConfidentialWorkflows,
  type ConfidentialWorkflowRequest,
  ConfidentialWorkflowResponseSchema,
  sdk,
} from "../../../src/contract/index.js";
import { generateEd25519 } from "../../../src/domain/crypto/ed25519.js";
import { WorkflowAuthorizer } from "../../../src/domain/authorization/workflow-authorization.js";
import type { SecretIdentifier } from "../../../src/domain/workflow/attributes.js";
import {
  CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID,
  ConfidentialModule,
  type BinaryURLResolver,
} from "../../../src/services/workflow-node/confidential-module.js";
import { computeBinaryHash } from "../../../src/services/workflow-node/engine-factory.js";
import type { ExecutionHelper } from "../../../src/services/workflow-node/module.js";

/** Upstream `stubExecutionHelper{executionID}`: everything a no-op but the execution id. */
function stubExecutionHelper(executionId: string): ExecutionHelper {
  return {
    getWorkflowExecutionId: () => executionId,
    callCapability: async () => create(sdk.CapabilityResponseSchema),
    getSecrets: async () => [],
    getNodeTimeMs: () => 0,
    emitUserLog: () => undefined,
    recordRelaySigners: () => undefined,
  };
}

const EXEC_ID = "ab".repeat(32);
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const { signer } = generateEd25519();

function enclaveOutput(value: string): Uint8Array {
  return toBinary(
    sdk.ExecutionResultSchema,
    create(sdk.ExecutionResultSchema, { result: { case: "value", value: { kind: { case: "stringValue", value } } } }),
  );
}

/** An in-memory enclave host: records each request and answers with `answer`. */
function fakeEnclave(answer: (request: ConfidentialWorkflowRequest) => Uint8Array | Error) {
  const requests: ConfidentialWorkflowRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ConfidentialWorkflows, {
      execute(request) {
        requests.push(request);
        const out = answer(request);
        if (out instanceof Error) throw out;
        return create(ConfidentialWorkflowResponseSchema, { executionResult: out });
      },
      info() {
        throw new ConnectError("not used", Code.Unimplemented);
      },
    });
  });
  return { client: createClient(ConfidentialWorkflows, transport), requests };
}

function moduleWith(client: ReturnType<typeof fakeEnclave>["client"], overrides: { secrets?: SecretIdentifier[]; resolver?: BinaryURLResolver } = {}) {
  return new ConfidentialModule({
    client,
    binaryUrl: "https://example.com/binary.wasm",
    binaryHash: new TextEncoder().encode("fakehash"),
    workflowId: "wf-123",
    workflowOwner: OWNER,
    workflowName: "my-workflow",
    workflowTag: "v1",
    vaultDonSecrets: overrides.secrets ?? [
      { key: "API_KEY", namespace: "" },
      { key: "SIGNING_KEY", namespace: "custom-ns" },
    ],
    signer,
    ...(overrides.resolver === undefined ? {} : { binaryUrlResolver: overrides.resolver }),
  });
}

const execReq = create(sdk.ExecuteRequestSchema, { config: new TextEncoder().encode("test-config") });

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

describe("TestComputeBinaryHash", () => {
  it("is the SHA-256 of the bytes, deterministic", () => {
    const data = new TextEncoder().encode("hello world");
    const expected = createHash("sha256").update(data).digest();
    expect(Buffer.from(computeBinaryHash(data)).equals(expected)).toBe(true);
    expect(computeBinaryHash(data)).toEqual(computeBinaryHash(data));
  });
});

describe("TestConfidentialModule_Execute", () => {
  it("success", async () => {
    const enclave = fakeEnclave(() => enclaveOutput("enclave-output"));
    const result = await moduleWith(enclave.client).execute(execReq, stubExecutionHelper(EXEC_ID));
    expect(result.result.case).toBe("value");
    expect(result.result.case === "value" && result.result.value.kind).toEqual({ case: "stringValue", value: "enclave-output" });
    expect(enclave.requests).toHaveLength(1);
    expect(enclave.requests[0]?.execution?.workflowId).toBe("wf-123");
    expect(enclave.requests[0]?.execution?.executionId).toBe(EXEC_ID);
  });

  it("default namespace is main", async () => {
    const enclave = fakeEnclave(() => enclaveOutput("ok"));
    await moduleWith(enclave.client, { secrets: [{ key: "SECRET_A", namespace: "" }] }).execute(execReq, stubExecutionHelper(EXEC_ID));
    const secrets = enclave.requests[0]?.vaultDonSecrets ?? [];
    expect(secrets).toHaveLength(1);
    expect(secrets[0]?.key).toBe("SECRET_A");
    // optional on the wire and always set, as upstream
    expect(secrets[0]?.namespace).toBe("main");
  });

  // Upstream "GetExecutable error": a registry that does not know the capability. Here there is no
  // registry; the equivalent is an endpoint that does not serve ConfidentialWorkflows.
  it("enclave endpoint without the capability", async () => {
    const transport = createRouterTransport(() => undefined);
    const module = moduleWith(createClient(ConfidentialWorkflows, transport));
    const error = await failure(module.execute(execReq, stubExecutionHelper(EXEC_ID)));
    expect(error.rawMessage).toContain("confidential-workflows capability execution failed");
    expect(error.code).toBe(Code.Unimplemented);
  });

  it("capability Execute error", async () => {
    const enclave = fakeEnclave(() => new ConnectError("enclave unavailable", Code.Unavailable));
    const error = await failure(moduleWith(enclave.client).execute(execReq, stubExecutionHelper(EXEC_ID)));
    expect(error.rawMessage).toBe("confidential-workflows capability execution failed: enclave unavailable");
    expect(error.code).toBe(Code.Unavailable); // the RPC's code is kept for the caller
  });

  it("nil payload in response", async () => {
    const enclave = fakeEnclave(() => new Uint8Array(0));
    const error = await failure(moduleWith(enclave.client).execute(execReq, stubExecutionHelper(EXEC_ID)));
    expect(error.rawMessage).toContain("returned nil payload");
    expect(error.rawMessage).toBe("confidential-workflows capability returned nil payload");
  });

  it("execution result that is not an ExecutionResult", async () => {
    const enclave = fakeEnclave(() => new Uint8Array([0xff, 0xff, 0xff]));
    const error = await failure(moduleWith(enclave.client).execute(execReq, stubExecutionHelper(EXEC_ID)));
    expect(error.rawMessage).toMatch(/^failed to unmarshal ExecutionResult: /);
  });

  it("a workflow error in the result is a successful execute", async () => {
    const enclave = fakeEnclave(() => toBinary(sdk.ExecutionResultSchema, create(sdk.ExecutionResultSchema, { result: { case: "error", value: "boom" } })));
    const result = await moduleWith(enclave.client).execute(execReq, stubExecutionHelper(EXEC_ID));
    expect(result.result).toEqual({ case: "error", value: "boom" });
  });

  it("request fields are forwarded correctly", async () => {
    const enclave = fakeEnclave(() => enclaveOutput("ok"));
    const binaryHash = createHash("sha256").update("some-binary").digest();
    const module = new ConfidentialModule({
      client: enclave.client,
      binaryUrl: "https://example.com/wasm",
      binaryHash,
      workflowId: "wf-abc",
      workflowOwner: OWNER,
      workflowName: "my-workflow",
      workflowTag: "v2",
      vaultDonSecrets: [
        { key: "K1", namespace: "ns1" },
        { key: "K2", namespace: "" },
      ],
      signer,
      orgId: "org-7",
    });
    await module.execute(execReq, stubExecutionHelper(EXEC_ID));
    const request = enclave.requests[0];
    const execution = request?.execution;
    expect(execution?.workflowId).toBe("wf-abc");
    expect(execution?.binaryUrl).toBe("https://example.com/wasm");
    expect(Buffer.from(execution?.binaryHash ?? []).equals(binaryHash)).toBe(true);
    expect(execution?.owner).toBe(OWNER);
    expect(execution?.executionId).toBe(EXEC_ID);
    expect(execution?.orgId).toBe("org-7");
    const roundTrip = fromBinary(sdk.ExecuteRequestSchema, execution?.executeRequest ?? new Uint8Array());
    expect(new TextDecoder().decode(roundTrip.config)).toBe("test-config");
    expect(request?.vaultDonSecrets.map((s) => [s.key, s.namespace])).toEqual([
      ["K1", "ns1"],
      ["K2", "main"],
    ]);
    // The authorization is what a relay node accepts for exactly this owner, workflow and execution.
    const authorizer = new WorkflowAuthorizer({ workflowNodeKeys: [signer.publicKey], threshold: 1 });
    expect(authorizer.check(request?.authorization, { owner: OWNER, workflowId: "wf-abc", executionId: EXEC_ID }).kind).toBe("authorized");
    expect(authorizer.check(request?.authorization, { owner: OWNER, workflowId: "wf-abc", executionId: "cd".repeat(32) }).kind).toBe("denied");
    expect(authorizer.check(request?.authorization, { owner: "0x" + "11".repeat(20), workflowId: "wf-abc", executionId: EXEC_ID }).kind).toBe(
      "denied",
    );
  });

  it("the subscribe phase (no execution id) carries no secrets and no authorization", async () => {
    const enclave = fakeEnclave(() => enclaveOutput("ok"));
    await moduleWith(enclave.client).execute(execReq, stubExecutionHelper(""));
    const request = enclave.requests[0];
    expect(request?.execution?.executionId).toBe("");
    expect(request?.vaultDonSecrets).toEqual([]);
    expect(request?.authorization).toBeUndefined();
  });

  it("uses the BinaryURLResolver once per execution, and the raw URL without one", async () => {
    const enclave = fakeEnclave(() => enclaveOutput("ok"));
    const calls: Array<{ rawUrl: string; executionId: string }> = [];
    const resolver: BinaryURLResolver = async (rawUrl, context) => {
      calls.push({ rawUrl, executionId: context.executionId });
      return `${rawUrl}?sig=${calls.length}`;
    };
    const module = moduleWith(enclave.client, { resolver });
    await module.execute(execReq, stubExecutionHelper(EXEC_ID));
    await module.execute(execReq, stubExecutionHelper(EXEC_ID));
    expect(calls).toEqual([
      { rawUrl: "https://example.com/binary.wasm", executionId: EXEC_ID },
      { rawUrl: "https://example.com/binary.wasm", executionId: EXEC_ID },
    ]);
    expect(enclave.requests.map((r) => r.execution?.binaryUrl)).toEqual(["https://example.com/binary.wasm?sig=1", "https://example.com/binary.wasm?sig=2"]);

    const failing = moduleWith(enclave.client, {
      resolver: async () => {
        throw new Error("storage service down");
      },
    });
    const error = await failure(failing.execute(execReq, stubExecutionHelper(EXEC_ID)));
    expect(error.rawMessage).toBe("failed to resolve binary URL: storage service down");
    expect(enclave.requests).toHaveLength(2); // nothing was sent
  });

  it("passes the execution deadline to the call", async () => {
    const transport = createRouterTransport(({ service }) => {
      service(ConfidentialWorkflows, {
        execute: (_request, context) =>
          new Promise((_resolve, reject) => context.signal.addEventListener("abort", () => reject(new ConnectError("aborted", Code.Canceled)))),
        info() {
          throw new ConnectError("not used", Code.Unimplemented);
        },
      });
    });
    const controller = new AbortController();
    const pending = moduleWith(createClient(ConfidentialWorkflows, transport)).execute(execReq, stubExecutionHelper(EXEC_ID), { signal: controller.signal });
    controller.abort();
    const error = await failure(pending);
    expect(error.rawMessage).toMatch(/^confidential-workflows capability execution failed: /);
    expect(error.code).toBe(Code.Canceled);
  });
});

describe("TestConfidentialModule_InterfaceMethods", () => {
  it("start and close do nothing, isLegacyDAG is false", () => {
    const module = moduleWith(fakeEnclave(() => enclaveOutput("x")).client);
    expect(() => module.start()).not.toThrow();
    expect(() => module.close()).not.toThrow();
    expect(module.isLegacyDAG()).toBe(false);
    expect(CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID).toBe("confidential-workflows@1.0.0-alpha");
  });
});
