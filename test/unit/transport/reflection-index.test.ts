import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ConfidentialWorkflows, health, Vault } from "../../../src/contract/index.js";
import { answerReflection, ReflectionIndex } from "../../../src/transport/reflection.js";

const names = (protos: Uint8Array[]) => protos.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);

describe("ReflectionIndex", () => {
  const index = new ReflectionIndex([Vault, ConfidentialWorkflows, health.Health]);

  it("lists the services sorted by name", () => {
    expect(index.serviceNames).toEqual(["ccr.v1.ConfidentialWorkflows", "ccr.v1.Vault", "grpc.health.v1.Health"]);
  });

  it("finds files of imported files' symbols too", () => {
    // SecretIdentifier is declared in secrets.proto, which only the services import.
    expect(index.fileContainingSymbol("ccr.v1.SecretIdentifier")?.proto.name).toBe("ccr/v1/secrets.proto");
    expect(index.fileContainingSymbol(".ccr.v1.SecretIdentifier")?.proto.name).toBe("ccr/v1/secrets.proto");
    expect(index.fileByName("ccr/v1/relay.proto")?.proto.name).toBe("ccr/v1/relay.proto");
  });

  it("returns the file, then transitive imports breadth-first, skipping imports already sent", () => {
    const file = index.fileContainingSymbol("ccr.v1.ConfidentialWorkflows");
    expect(file).toBeDefined();
    const sent = new Set<string>();
    expect(names(index.withDependencies(file!, sent))).toEqual([
      "ccr/v1/confidential_workflows.proto",
      "ccr/v1/relay.proto",
      "ccr/v1/secrets.proto",
    ]);
    expect(names(index.withDependencies(file!, sent))).toEqual(["ccr/v1/confidential_workflows.proto"]);
  });

  it("returns file descriptors that keep their import list", () => {
    const [vault] = index.withDependencies(index.fileContainingSymbol("ccr.v1.Vault")!, new Set());
    expect(fromBinary(FileDescriptorProtoSchema, vault!).dependency).toEqual(["ccr/v1/secrets.proto"]);
  });

  it("answers an empty request with InvalidArgument", () => {
    expect(answerReflection(index, { case: undefined }, new Set())).toMatchObject({
      case: "errorResponse",
      value: { errorCode: Code.InvalidArgument },
    });
  });
});
