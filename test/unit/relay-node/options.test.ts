import { describe, expect, it } from "vitest";
import { resolveRelayNodeOptions, RELAY_NODE_DEFAULTS } from "../../../src/services/relay-node/options.js";
import { DON_SIGNERS, NODE_SIGNERS, nodeOptions, WORKFLOW_NODE } from "../../service/relay-node/fixtures.js";

describe("resolveRelayNodeOptions", () => {
  it("fills defaults, derives the node key and freezes the result", () => {
    const config = resolveRelayNodeOptions(nodeOptions(2, { gateways: [{ url: "http://127.0.0.1:7400/", gatewayId: "gw-1" }] }));
    expect(Buffer.from(config.nodePublicKey)).toEqual(Buffer.from(NODE_SIGNERS[2]!.publicKey));
    expect(config.authorizationThreshold).toBe(1);
    expect(config.maxRequestTimeoutMs).toBe(RELAY_NODE_DEFAULTS.maxRequestTimeoutMs);
    expect(config.reconnect).toEqual(RELAY_NODE_DEFAULTS.reconnect);
    expect(config.gateways).toEqual([{ url: "http://127.0.0.1:7400", gatewayId: "gw-1" }]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("accepts keys as hex", () => {
    const config = resolveRelayNodeOptions({
      nodeKeySeed: "07".repeat(32),
      don: { donId: "d", signers: DON_SIGNERS.map((k) => Buffer.from(k).toString("hex")), f: 1 },
      workflowNodeKeys: ["0x" + Buffer.from(WORKFLOW_NODE.publicKey).toString("hex")],
    });
    expect(config.workflowNodeKeys).toHaveLength(1);
  });

  it.each([
    ["nodeKeySeed", { nodeKeySeed: "abc" }, "relay node config: nodeKeySeed must be a 32-byte ed25519 seed as 64 hex characters"],
    ["a key outside the DON", { nodeKeySeed: new Uint8Array(32).fill(1) }, /^relay node config: nodeKeySeed gives public key [0-9a-f]{64}, which is not among don.signers$/],
    ["don.f", { don: { donId: "d", signers: DON_SIGNERS, f: 2 } }, "relay node config: don a DON with f=2 needs at least 7 signers, got 4"],
    ["workflowNodeKeys", { workflowNodeKeys: [] }, "relay node config: workflowNodeKeys must list at least one workflow node's ed25519 public key"],
    ["authorizationThreshold", { authorizationThreshold: 2 }, "relay node config: authorizationThreshold is 2 but only 1 distinct workflowNodeKeys are configured"],
    ["gateway url", { gateways: [{ url: "ftp://x", gatewayId: "g" }] }, 'relay node config: gateways[0].url must be an http(s) URL, got "ftp://x"'],
    ["duplicate gateway", { gateways: [{ url: "http://a", gatewayId: "g" }, { url: "http://b", gatewayId: "g" }] }, 'relay node config: gateways[1].gatewayId duplicates "g"'],
    ["timeout", { maxRequestTimeoutMs: 0 }, "relay node config: maxRequestTimeoutMs must be an integer in 1..86400000"],
    ["jitter", { reconnect: { jitterRatio: 2 } }, "relay node config: reconnect.jitterRatio must be a number in 0..1"],
    ["attestation policy", { attestation: { allowedPcrSets: [] } }, /^relay node config: attestation attestation policy: allowedPcrSets must list at least one/],
  ] as const)("names the bad key: %s", (_name, override, message) => {
    let thrown: unknown;
    try {
      resolveRelayNodeOptions(nodeOptions(0, override as never));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    const raw = (thrown as { rawMessage: string }).rawMessage;
    if (typeof message === "string") expect(raw).toBe(message);
    else expect(raw).toMatch(message);
  });
});
