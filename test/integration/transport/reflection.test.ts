/**
 * Server reflection over the wire, v1 and v1alpha: what grpcurl and `buf curl` rely on to list,
 * describe and call a ccr server with no proto files.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  Capability,
  ConfidentialWorkflows,
  Gateway,
  RelayNode,
  reflectionV1,
  reflectionV1alpha,
  Vault,
} from "../../../src/contract/index.js";
import { createServiceClient, Http2SessionPool, implement } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";

type Query = reflectionV1.ServerReflectionRequest["messageRequest"];
type Answer = reflectionV1.ServerReflectionResponse["messageResponse"];

const allServices = [
  "ccr.v1.Capability",
  "ccr.v1.ConfidentialWorkflows",
  "ccr.v1.Gateway",
  "ccr.v1.RelayNode",
  "ccr.v1.Vault",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

let t: TestServer;
const sessions = new Http2SessionPool();

beforeAll(async () => {
  t = await startTestServer([
    implement(Gateway, {}),
    implement(RelayNode, {}),
    implement(Vault, {}),
    implement(Capability, {}),
    implement(ConfidentialWorkflows, {}),
  ]);
});

afterAll(async () => {
  sessions.closeAll();
  await t.close();
});

/** Sends the queries on one reflection stream; returns the answers in order. */
type Ask = (queries: Query[]) => Promise<Answer[]>;

const versions: { name: string; ask: () => Ask }[] = [
  {
    name: "v1",
    ask: () => async (queries) => {
      const client = createServiceClient(reflectionV1.ServerReflection, { baseUrl: t.url, protocol: "grpc", sessions });
      const answers: Answer[] = [];
      async function* requests() {
        for (const messageRequest of queries) yield { host: "", messageRequest };
      }
      for await (const response of client.serverReflectionInfo(requests())) answers.push(response.messageResponse);
      return answers;
    },
  },
  {
    name: "v1alpha",
    ask: () => async (queries) => {
      const client = createServiceClient(reflectionV1alpha.ServerReflection, { baseUrl: t.url, protocol: "grpc", sessions });
      const answers: Answer[] = [];
      type AlphaQuery = reflectionV1alpha.ServerReflectionRequest["messageRequest"];
      async function* requests() {
        // Same shape as v1; a v1 ExtensionRequest is copied field by field into the v1alpha one.
        for (const messageRequest of queries) yield { host: "", messageRequest: messageRequest as unknown as AlphaQuery };
      }
      for await (const response of client.serverReflectionInfo(requests())) {
        // Same shape as v1, different type names.
        answers.push(response.messageResponse as unknown as Answer);
      }
      return answers;
    },
  },
];

function files(answer: Answer | undefined): FileDescriptorProto[] {
  if (answer?.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${answer?.case}`);
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

/**
 * A registry from reflection answers. Reflection sends a file before its imports (as grpc-go does);
 * a FileDescriptorSet wants imports first, so order them depth-first.
 */
function registryOf(protos: FileDescriptorProto[]) {
  const byName = new Map(protos.map((p) => [p.name, p]));
  const ordered: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (proto: FileDescriptorProto): void => {
    if (seen.has(proto.name)) return;
    seen.add(proto.name);
    for (const dependency of proto.dependency) {
      const dep = byName.get(dependency);
      if (dep === undefined) throw new Error(`reflection did not send ${dependency}, imported by ${proto.name}`);
      visit(dep);
    }
    ordered.push(proto);
  };
  protos.forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

describe.each(versions)("reflection $name", ({ ask: makeAsk }) => {
  const ask = (queries: Query[]) => makeAsk()(queries);

  it("lists every service: the application's, health and both reflection versions", async () => {
    const [answer] = await ask([{ case: "listServices", value: "" }]);
    expect(answer?.case).toBe("listServicesResponse");
    const names = answer?.case === "listServicesResponse" ? answer.value.service.map((s) => s.name) : [];
    expect(names).toEqual(allServices);
  });

  it("returns a service's file with its imports, and those files build a working registry", async () => {
    const [answer] = await ask([{ case: "fileContainingSymbol", value: "ccr.v1.Gateway" }]);
    const protos = files(answer);
    // gateway.proto imports relay.proto, which imports secrets.proto.
    expect(protos.map((f) => f.name)).toEqual(["ccr/v1/gateway.proto", "ccr/v1/relay.proto", "ccr/v1/secrets.proto"]);
    const registry = registryOf(protos);
    const method = registry.getService("ccr.v1.Gateway")?.methods.find((m) => m.name === "GetSecrets");
    expect(method?.input.typeName).toBe("ccr.v1.GetSecretsRequest");
    expect(method?.input.fields.length).toBeGreaterThan(0);
  });

  it("resolves the input type of every ccr service's methods from what it returns", async () => {
    const services = allServices.filter((s) => s.startsWith("ccr."));
    const answers = await ask(services.map((value) => ({ case: "fileContainingSymbol" as const, value })));
    const protos = answers.flatMap(files);
    const registry = registryOf(protos);
    const vaultPut = registry.getService("ccr.v1.Vault")?.methods.find((m) => m.name === "PutSecret");
    expect(vaultPut?.input.typeName).toBe("ccr.v1.PutSecretRequest");
    // A field whose type lives in an imported file resolves too.
    expect(vaultPut?.input.fields.find((f) => f.name === "id")?.message?.typeName).toBe("ccr.v1.SecretIdentifier");
    for (const name of services) expect(registry.getService(name)?.methods.length).toBeGreaterThan(0);
  });

  it("sends each imported file once per stream, and the requested file always", async () => {
    const answers = await ask([
      { case: "fileContainingSymbol", value: "ccr.v1.Vault" },
      { case: "fileContainingSymbol", value: "ccr.v1.PutSecretRequest" },
      { case: "fileByFilename", value: "ccr/v1/secrets.proto" },
      { case: "fileContainingSymbol", value: "ccr.v1.RelayNode" },
    ]);
    expect(answers.map((a) => files(a).map((f) => f.name))).toEqual([
      ["ccr/v1/vault.proto", "ccr/v1/secrets.proto"],
      ["ccr/v1/vault.proto"],
      ["ccr/v1/secrets.proto"],
      ["ccr/v1/relay_node.proto", "ccr/v1/relay.proto"],
    ]);
  });

  it("finds the file of methods, nested enums, enum values and fields", async () => {
    const answers = await ask([
      { case: "fileContainingSymbol", value: "ccr.v1.Vault.PutSecret" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" },
      { case: "fileContainingSymbol", value: "ccr.v1.SECRET_ERROR_KIND_NOT_FOUND" },
      { case: "fileContainingSymbol", value: "ccr.v1.PutSecretRequest.owner" },
    ]);
    expect(answers.map((a) => files(a)[0]?.name)).toEqual([
      "ccr/v1/vault.proto",
      "grpc/health/v1/health.proto",
      "ccr/v1/secrets.proto",
      "ccr/v1/vault.proto",
    ]);
  });

  it("answers NOT_FOUND for unknown symbols, files and extensions, and no extension numbers", async () => {
    const answers = await ask([
      { case: "fileContainingSymbol", value: "ccr.v1.Nope" },
      { case: "fileByFilename", value: "nope.proto" },
      {
        case: "fileContainingExtension",
        value: create(reflectionV1.ExtensionRequestSchema, { containingType: "ccr.v1.PutSecretRequest", extensionNumber: 100 }),
      },
      { case: "allExtensionNumbersOfType", value: "ccr.v1.PutSecretRequest" },
      { case: "allExtensionNumbersOfType", value: "ccr.v1.Nope" },
    ]);
    expect(answers.map((a) => (a.case === "errorResponse" ? a.value.errorCode : a.case))).toEqual([
      5,
      5,
      5,
      "allExtensionNumbersResponse",
      5,
    ]);
    const numbers = answers[3];
    expect(numbers?.case === "allExtensionNumbersResponse" && numbers.value).toMatchObject({
      baseTypeName: "ccr.v1.PutSecretRequest",
      extensionNumber: [],
    });
  });
});
