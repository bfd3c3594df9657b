import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { GATEWAY_DEFAULTS, resolveGatewayOptions, type GatewayOptions } from "../../../src/services/gateway/options.js";

const KEYS = Array.from({ length: 4 }, (_, i) => new Uint8Array(32).fill(i + 1));
const BASE: GatewayOptions = { gatewayId: "gw-1", donId: "don-1", members: KEYS, f: 1 };

function errorOf(fn: () => unknown): ConnectError {
  try {
    fn();
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected an error");
}

describe("resolveGatewayOptions", () => {
  it("fills defaults and freezes the result", () => {
    const c = resolveGatewayOptions(BASE);
    expect(c.requestTimeoutMs).toBe(30_000);
    expect(c.nodeSendTimeoutMs).toBe(10_000);
    expect(c.requiredQuorum).toBe(2);
    expect(c.maxInFlight).toBe(GATEWAY_DEFAULTS.maxInFlight);
    expect(c.ingress.global).toEqual({ ratePerSec: 1_000, burst: 2_000 });
    expect(c.nodeAnswerRate).toEqual({ ratePerSec: 2_000, burst: 4_000 });
    expect(c.members.map((m) => m.name)).toEqual(["01010101", "02020202", "03030303", "04040404"]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.members[0])).toBe(true);
  });

  // Upstream NodeSendTimeoutConfig: {}→10 s; {30,5}→5 s; {3,45}→3 s; always ≤ requestTimeout.
  it.each([
    [{}, 30_000, 10_000],
    [{ requestTimeoutMs: 30_000, nodeSendTimeoutMs: 5_000 }, 30_000, 5_000],
    [{ requestTimeoutMs: 3_000, nodeSendTimeoutMs: 45_000 }, 3_000, 3_000],
    [{ requestTimeoutMs: 3_000 }, 3_000, 3_000],
  ])("clamps nodeSendTimeoutMs to the request timeout: %j", (o, request, send) => {
    const c = resolveGatewayOptions({ ...BASE, ...o });
    expect(c.requestTimeoutMs).toBe(request);
    expect(c.nodeSendTimeoutMs).toBe(send);
  });

  it("keeps the request timeout below the server's hard limit by the margin", () => {
    const c = resolveGatewayOptions({ ...BASE, requestTimeoutMs: 30_000, serverHardLimitMs: 10_000, deadlineMarginMs: 100 });
    expect(c.requestTimeoutMs).toBe(9_900);
    expect(c.nodeSendTimeoutMs).toBe(9_900);
  });

  it("accepts member keys as hex and with names", () => {
    const hex = Buffer.from(KEYS[0]!).toString("hex");
    const c = resolveGatewayOptions({ ...BASE, members: [`0x${hex}`, { publicKey: KEYS[1]!, name: "node-b" }, KEYS[2]!, KEYS[3]!] });
    expect(c.members[0]!.publicKey).toEqual(KEYS[0]);
    expect(c.members[1]!.name).toBe("node-b");
  });

  it.each<[string, Partial<GatewayOptions>, string]>([
    ["gatewayId", { gatewayId: "" }, 'gateway option gatewayId must be a non-empty string, got ""'],
    ["donId", { donId: " " }, 'gateway option donId must be a non-empty string, got " "'],
    ["members", { members: [] }, "gateway option members must list at least one DON member, got []"],
    ["short key", { members: [new Uint8Array(31)] , f: 0 }, 'gateway option members[0].publicKey must be a 32-byte ed25519 public key, got "31 bytes"'],
    ["repeated key", { members: [KEYS[0]!, KEYS[0]!], f: 0 }, "gateway option members[1].publicKey must not repeat another member's key"],
    ["N < 3F+1", { f: 2 }, "gateway option f must satisfy N ≥ 3F+1 with N=4 members, got 2"],
    ["negative f", { f: -1 }, "gateway option f must be an integer between 0 and 4, got -1"],
    ["requestTimeoutMs", { requestTimeoutMs: 0 }, "gateway option requestTimeoutMs must be an integer between 1 and 600000, got 0"],
    ["nodeQueueLimit", { nodeQueueLimit: 1.5 }, "gateway option nodeQueueLimit must be an integer between 1 and 10000000, got 1.5"],
    ["ingress.global", { ingress: { global: { ratePerSec: -1 } } }, "gateway option ingress.global.ratePerSec must be a positive number, got -1"],
  ])("refuses a bad %s with InvalidArgument, naming the key", (_name, o, message) => {
    const err = errorOf(() => resolveGatewayOptions({ ...BASE, ...o }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage.startsWith(message)).toBe(true);
  });

  it("requires f", () => {
    const { f: _f, ...noF } = BASE;
    expect(errorOf(() => resolveGatewayOptions(noF as GatewayOptions)).rawMessage).toBe(
      "gateway option f is required (faulty members tolerated), got undefined",
    );
  });
});
