import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { Gateway, health, Vault } from "../../../src/contract/index.js";
import { grpcCodeName, grpcType, methodLabels } from "../../../src/transport/metrics.js";

describe("go-grpc-prometheus labels", () => {
  it("names method kinds as go-grpc-prometheus does", () => {
    expect(grpcType(Vault.method.putSecret)).toBe("unary");
    expect(grpcType(Gateway.method.connectNode)).toBe("bidi_stream");
    expect(grpcType(health.Health.method.watch)).toBe("server_stream");
  });

  it("names codes in title case, OK included", () => {
    expect(grpcCodeName(0)).toBe("OK");
    expect(grpcCodeName(Code.PermissionDenied)).toBe("PermissionDenied");
    expect(grpcCodeName(Code.ResourceExhausted)).toBe("ResourceExhausted");
  });

  it("labels a method with its fully-qualified service and its proto name", () => {
    expect(methodLabels(Vault.method.getSecrets)).toEqual({
      grpc_type: "unary",
      grpc_service: "ccr.v1.Vault",
      grpc_method: "GetSecrets",
    });
  });
});
