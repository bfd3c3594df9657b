/**
 * The fuzz cases, one generator per public endpoint kind. A case is generated from its own Prng
 * (seed and case index), sent, and classified (classify.ts); the result keeps a printable copy of
 * the input so a finding can be reproduced by hand.
 *
 *   jsonrpc         the gateway's `POST /`: broken JSON, wrong envelope types, huge ids, missing
 *                   fields, wrong versions, batches, bad content types, oversized bodies, and
 *                   well-formed envelopes whose params are wrong in one place
 *   connect-json    Connect unary over HTTP/1.1 with JSON bodies, every method of every server
 *   connect-binary  Connect with protobuf bodies (HTTP/1.1 and HTTP/2): random, truncated and
 *                   wire-corrupted messages; Connect streaming envelopes for streaming methods
 *   grpc            gRPC over raw HTTP/2: bad frames, compression flags, truncated prefixes,
 *                   lying lengths, bad encodings and timeouts, corrupted messages
 *   grpc-web        gRPC-Web over HTTP/1.1, the same frame corruptions
 *   handshake       Gateway.ConnectNode: bad hellos, wrong key lengths, garbage proofs, messages
 *                   out of order, silence (never a valid proof: that would replace a real node)
 *   attestation     well-formed relay requests carrying malformed attestation documents, to the
 *                   gateway (gRPC, Connect JSON, JSON-RPC) and to a relay node (RelayNode unary)
 *   http1-raw       malformed HTTP/1.1 on a fresh connection
 *   h2-raw          the HTTP/2 preface followed by malformed frames
 */
import { create, toBinary, toJsonString, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  ConnectNodeRequestSchema,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  handshakePayload,
  relayBindingHash,
  type RelayParams,
} from "../../../src/contract/index.js";
import type { Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import type { DocumentFactory } from "./attestation-gen.js";
import { classifyConnect, classifyGrpc, classifyJsonRpc, classifyRawHttp1, classifyRawHttp2, type Outcome } from "./classify.js";
import type { Prng } from "./prng.js";
import { breakJsonText, fieldNumbers, hostileString, mutateBinary, mutateJson, randomBinary, randomMessage } from "./proto-gen.js";
import { jsonRpcParams, wellFormedRelayParams, type RelayContext } from "./relay-requests.js";
import { grpcFrame, rawTcp, type H1Client, type H2Client, type ScriptStep, type WireResult } from "./wire.js";

export const CATEGORIES = ["jsonrpc", "connect-json", "connect-binary", "grpc", "grpc-web", "handshake", "attestation", "http1-raw", "h2-raw"] as const;
export type Category = (typeof CATEGORIES)[number];

/** Share of the requests per category. */
export const CATEGORY_WEIGHTS: readonly (readonly [number, Category])[] = [
  [18, "jsonrpc"],
  [17, "connect-json"],
  [14, "connect-binary"],
  [19, "grpc"],
  [4, "grpc-web"],
  [8, "handshake"],
  [14, "attestation"],
  [3, "http1-raw"],
  [3, "h2-raw"],
];

export interface FuzzServer {
  /** The mesh process name ("gateway", "relay-node-0", …). */
  readonly name: string;
  readonly url: string;
  /** Every service it serves (application, health, reflection). */
  readonly services: readonly DescService[];
}

export interface FuzzEnv {
  readonly servers: readonly FuzzServer[];
  readonly gateway: FuzzServer;
  readonly relayNode: FuzzServer;
  readonly relay: RelayContext;
  readonly docs: DocumentFactory;
  readonly handshake: { readonly gatewayId: string; readonly donId: string; readonly memberKeys: readonly Uint8Array[]; readonly stranger: Ed25519Signer };
  readonly h1: H1Client;
  readonly h2: H2Client;
  readonly timeoutMs: number;
  /** A shared buffer larger than the servers' 4 MiB read limit (oversized bodies). */
  readonly oversized: Uint8Array;
}

export interface CaseResult {
  readonly category: Category;
  readonly server: string;
  /** What was sent, printable (method, path, headers, body prefix). */
  readonly input: string;
  readonly variant: string;
  readonly outcome: Outcome;
}

const enc = new TextEncoder();

function preview(body: Uint8Array | string, max = 600): string {
  if (typeof body === "string") return JSON.stringify(body.length > max ? `${body.slice(0, max)}…(${body.length} chars)` : body);
  const hex = Buffer.from(body.subarray(0, max)).toString("hex");
  return `hex:${hex}${body.length > max ? `…(${body.length} bytes)` : ""}`;
}

function describe(method: string, path: string, headers: Readonly<Record<string, string>>, body: Uint8Array | string): string {
  return `${method} ${path} ${JSON.stringify(headers)} ${preview(body)}`;
}

/** A method of the server to aim at, or an unknown path now and then. */
function pickRpc(rng: Prng, server: FuzzServer): { path: string; method: DescMethod | undefined; service: DescService | undefined } {
  if (rng.chance(0.05)) {
    const service = rng.pick(server.services);
    return {
      path: rng.pick([`/${service.typeName}/Nope`, "/no.such.Service/Method", `/${service.typeName}/`, `/${service.typeName.toLowerCase()}/${service.methods[0]?.name ?? "x"}`, "/metrics", "/%2e%2e/x", `/${hostileString(rng).replace(/[^\x21-\x7e]/g, "_").slice(0, 100)}`]),
      method: undefined,
      service,
    };
  }
  // Application services first: they are where the handlers are.
  const service = rng.chance(0.75) ? server.services[0]! : rng.pick(server.services);
  const method = rng.pick(service.methods);
  return { path: `/${service.typeName}/${method.name}`, method, service };
}

const isWatch = (m: DescMethod | undefined): boolean => m?.name === "Watch";

// ── JSON-RPC ──────────────────────────────────────────────────────────────────────────────────────

function jsonRpcBody(env: FuzzEnv, rng: Prng): { body: string | Uint8Array; headers: Record<string, string>; method: string; variant: string } {
  const headers: Record<string, string> = { "content-type": "application/json" };
  let method = "POST";
  const goodMethod = rng.pick(["confidential.secrets.get", "confidential.capability.execute"]);
  const envelope = (over: Record<string, unknown>, drop: readonly string[] = []): string => {
    const e: Record<string, unknown> = { jsonrpc: "2.0", id: `fz-${rng.u32()}`, method: goodMethod, params: {}, ...over };
    for (const k of drop) delete e[k];
    return JSON.stringify(e);
  };
  const variant = rng.pick([
    "random-bytes",
    "broken-json",
    "wrong-jsonrpc",
    "wrong-id-type",
    "huge-id",
    "missing-field",
    "wrong-method",
    "wrong-params-type",
    "batch",
    "content-type",
    "http-method",
    "oversized",
    "params-field-wrong",
    "params-deep",
    "params-attestation",
    "params-attestation",
  ] as const);
  switch (variant) {
    case "random-bytes":
      return { body: rng.bytes(rng.length(2048)), headers, method, variant };
    case "broken-json":
      return { body: breakJsonText(rng, envelope({ params: jsonRpcParams(wellFormedRelayParams(env.relay, rng)) })), headers, method, variant };
    case "wrong-jsonrpc":
      return { body: envelope(rng.pick([{ jsonrpc: "1.0" }, { jsonrpc: 2 }, { jsonrpc: null }, { jsonrpc: "2.0 " }, { jsonrpc: ["2.0"] }, {}]), rng.chance(0.3) ? ["jsonrpc"] : []), headers, method, variant };
    case "wrong-id-type":
      return { body: envelope({ id: rng.pick<unknown>([1, 1.5, -1, null, true, {}, [], ["a"], { id: "x" }, 1e308]) }), headers, method, variant };
    case "huge-id":
      return { body: envelope({ id: rng.pick(["", "x".repeat(201), "x".repeat(rng.int(202, 100_000)), "\u0000".repeat(300), "😀".repeat(120)]) }), headers, method, variant };
    case "missing-field":
      return { body: envelope({}, [rng.pick(["jsonrpc", "id", "method", "params"]), ...(rng.chance(0.3) ? [rng.pick(["jsonrpc", "id", "method", "params"])] : [])]), headers, method, variant };
    case "wrong-method":
      return { body: envelope({ method: rng.pick<unknown>(["", "confidential.secrets.GET", "confidential.secrets.get ", "x".repeat(10_000), 42, null, {}, "rpc.discover", "__proto__"]) }), headers, method, variant };
    case "wrong-params-type":
      return { body: envelope({ params: rng.pick<unknown>([[], [1, 2], "params", 42, true, null]) }), headers, method, variant };
    case "batch":
      return { body: JSON.stringify(rng.pick<unknown>([[], [{ jsonrpc: "2.0", id: "a", method: goodMethod, params: {} }], Array.from({ length: 100 }, (_, i) => ({ id: String(i) }))])), headers, method, variant };
    case "content-type": {
      const h = { ...headers };
      const ct = rng.pick(["text/plain", "", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "APPLICATION/JSONRPC", "application/grpc", "application/json, text/plain"]);
      if (ct === "") delete h["content-type"];
      else h["content-type"] = ct;
      return { body: envelope({ params: jsonRpcParams(wellFormedRelayParams(env.relay, rng)) }), headers: h, method, variant };
    }
    case "http-method":
      method = rng.pick(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]);
      return { body: envelope({}), headers, method, variant };
    case "oversized":
      return { body: env.oversized.subarray(0, rng.pick([1_048_577, 2_000_000])), headers, method, variant };
    case "params-field-wrong": {
      const p = jsonRpcParams(wellFormedRelayParams(env.relay, rng));
      const keys = [...Object.keys(p), "enclave_config", "authorization", "secrets", "session_signature", "payload", "timestamp_ms"];
      const key = rng.pick(keys);
      const bad = rng.pick<unknown>([
        null,
        42,
        -1,
        1.5,
        "not hex or base64 ***",
        "0xzz",
        "",
        [],
        {},
        [1],
        [{}],
        { signers: "x" },
        { signers: ["***"], f: -1 },
        { signers: [], f: 1e12 },
        { signatures: [{ signer: 5 }] },
        { signatures: "x" },
        [{ key: 5 }],
        [{ key: "k", namespace: {} }],
        "9".repeat(25),
        "-5",
        2 ** 64,
        "x".repeat(100_000),
      ]);
      p[key] = bad;
      return { body: envelope({ params: p }), headers, method, variant: `params-field-wrong/${key}` };
    }
    case "params-deep": {
      const depth = rng.pick([100, 10_000, 100_000]);
      const text = envelope({ params: "__DEEP__" }).replace('"__DEEP__"', `${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}`);
      return { body: text, headers, method, variant };
    }
    case "params-attestation": {
      const params = wellFormedRelayParams(env.relay, rng);
      const doc = env.docs.malformed(rng, relayBindingHash(params));
      params.value.attestation = { $typeName: "ccr.v1.Attestation", document: doc.bytes, sessionSignature: rng.chance(0.2) ? rng.bytes(64) : new Uint8Array() };
      return {
        body: JSON.stringify({ jsonrpc: "2.0", id: params.value.requestId, method: params.case === "getSecrets" ? "confidential.secrets.get" : "confidential.capability.execute", params: jsonRpcParams(params) }),
        headers,
        method,
        variant: `params-attestation/${doc.variant}`,
      };
    }
  }
}

async function jsonRpcCase(env: FuzzEnv, rng: Prng): Promise<CaseResult> {
  const { body, headers, method, variant } = jsonRpcBody(env, rng);
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  const r = await env.h1.request(env.gateway.url, { method, path: "/", headers, body: bytes }, env.timeoutMs);
  return { category: "jsonrpc", server: env.gateway.name, input: describe(method, "/", headers, typeof body === "string" ? body : body), variant, outcome: classifyJsonRpc(r) };
}

// ── Connect ───────────────────────────────────────────────────────────────────────────────────────

function connectHeaders(rng: Prng, contentType: string, watch: boolean): Record<string, string> {
  const h: Record<string, string> = { "content-type": contentType };
  if (rng.chance(0.7)) h["connect-protocol-version"] = rng.chance(0.9) ? "1" : rng.pick(["2", "0", "", "one"]);
  if (watch) h["connect-timeout-ms"] = "300";
  else if (rng.chance(0.05)) h["connect-timeout-ms"] = rng.pick(["abc", "-1", "99999999999", "1.5", "0"]);
  if (rng.chance(0.04)) h["content-encoding"] = rng.pick(["gzip", "br", "snappy", "identity", "gzip, gzip"]);
  if (rng.chance(0.02)) h["x-request-id"] = hostileString(rng).replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
  return h;
}

/** A Connect streaming body: envelopes of `payload` (possibly corrupted), then maybe an end flag. */
function connectEnvelopes(rng: Prng, payload: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const n = rng.int(0, 3);
  for (let i = 0; i < n; i++) parts.push(grpcFrame(payload, rng.chance(0.9) ? 0 : rng.pick([1, 2, 0x80, 0xff])));
  if (rng.chance(0.5)) parts.push(grpcFrame(enc.encode("{}"), 0x02));
  if (rng.chance(0.2)) parts.push(rng.bytes(rng.int(1, 4)));
  return Buffer.concat(parts);
}

async function connectCase(env: FuzzEnv, rng: Prng, binary: boolean): Promise<CaseResult> {
  const server = rng.pick(env.servers);
  const { path, method } = pickRpc(rng, server);
  const input: DescMessage | undefined = method?.input;
  const streaming = method !== undefined && method.methodKind !== "unary";
  let body: Uint8Array;
  let variant: string;
  if (input === undefined) {
    body = rng.bytes(rng.length(256));
    variant = "unknown-path";
  } else if (rng.chance(0.002)) {
    body = env.oversized;
    variant = "oversized";
  } else if (binary) {
    const valid = randomBinary(rng, input);
    if (rng.chance(0.3)) {
      body = valid;
      variant = "random-message";
    } else {
      const m = mutateBinary(rng, valid, fieldNumbers(input));
      body = m.bytes;
      variant = m.mutation;
    }
  } else {
    const m = mutateJson(rng, input, randomMessage(rng, input));
    body = enc.encode(m.text);
    variant = m.mutation;
  }
  let contentType = binary ? "application/proto" : "application/json";
  if (streaming && rng.chance(0.7)) {
    contentType = binary ? "application/connect+proto" : "application/connect+json";
    body = connectEnvelopes(rng, body);
    variant = `stream/${variant}`;
  } else if (rng.chance(0.03)) {
    contentType = rng.pick(["application/xml", "text/plain", "application/proto; charset=x", "application/json+proto", ""]);
    variant = `content-type/${variant}`;
  }
  const headers = connectHeaders(rng, contentType, isWatch(method));
  if (contentType === "") delete headers["content-type"];
  const useH2 = binary && rng.chance(0.4);
  const r: WireResult = useH2
    ? await env.h2.request(server.url, { path, headers, body }, env.timeoutMs)
    : await env.h1.request(server.url, { method: "POST", path, headers, body }, env.timeoutMs);
  return {
    category: binary ? "connect-binary" : "connect-json",
    server: server.name,
    input: describe(`POST${useH2 ? " (h2)" : ""}`, path, headers, binary ? body : new TextDecoder().decode(body)),
    variant,
    outcome: classifyConnect(r, { ownDeadline: headers["connect-timeout-ms"] !== undefined }),
  };
}

// ── gRPC and gRPC-Web ─────────────────────────────────────────────────────────────────────────────

function grpcBody(rng: Prng, input: DescMessage | undefined, env: FuzzEnv, json: boolean): { body: Uint8Array; variant: string; encoding?: string } {
  const message = (): Uint8Array => {
    if (input === undefined) return rng.bytes(rng.length(128));
    // The JSON codec (application/grpc+json) mostly gets JSON text, corrupted as for Connect JSON.
    if (json && rng.chance(0.7)) return enc.encode(mutateJson(rng, input, randomMessage(rng, input)).text);
    const valid = randomBinary(rng, input);
    return rng.chance(0.4) ? valid : mutateBinary(rng, valid, fieldNumbers(input)).bytes;
  };
  const variant = rng.pick([
    "one-frame",
    "one-frame",
    "one-frame",
    "truncated-prefix",
    "length-too-long",
    "length-too-short",
    "length-over-limit",
    "compressed-no-encoding",
    "compressed-gzip-garbage",
    "compressed-unknown-encoding",
    "odd-flags",
    "no-frames",
    "two-frames",
    "trailing-garbage",
    "random-body",
    "oversized",
  ] as const);
  switch (variant) {
    case "one-frame":
      return { body: grpcFrame(message()), variant: input === undefined ? "one-frame/unknown-path" : "one-frame" };
    case "truncated-prefix":
      return { body: grpcFrame(message()).subarray(0, rng.int(1, 4)), variant };
    case "length-too-long": {
      const m = message();
      return { body: grpcFrame(m, 0, m.length + rng.int(1, 1000)), variant };
    }
    case "length-too-short": {
      const m = message();
      return { body: grpcFrame(m, 0, Math.max(0, m.length - rng.int(1, 10))), variant };
    }
    case "length-over-limit":
      return { body: grpcFrame(rng.bytes(16), 0, rng.pick([4 * 1024 * 1024 + 1, 0xffffffff])), variant };
    case "compressed-no-encoding":
      return { body: grpcFrame(message(), 1), variant };
    case "compressed-gzip-garbage":
      return { body: grpcFrame(message(), 1), variant, encoding: "gzip" };
    case "compressed-unknown-encoding":
      return { body: grpcFrame(message(), 1), variant, encoding: rng.pick(["snappy", "zstd", "x-garbage", ""]) };
    case "odd-flags":
      return { body: grpcFrame(message(), rng.pick([2, 0x80, 0x7f, 0xff])), variant };
    case "no-frames":
      return { body: new Uint8Array(0), variant };
    case "two-frames":
      return { body: Buffer.concat([grpcFrame(message()), grpcFrame(message())]), variant };
    case "trailing-garbage":
      return { body: Buffer.concat([grpcFrame(message()), rng.bytes(rng.int(1, 7))]), variant };
    case "random-body":
      return { body: rng.bytes(rng.length(1024)), variant };
    case "oversized":
      return { body: grpcFrame(env.oversized), variant };
  }
}

async function grpcCase(env: FuzzEnv, rng: Prng, web: boolean): Promise<CaseResult> {
  const server = rng.pick(env.servers);
  const { path, method } = pickRpc(rng, server);
  const contentType = web
    ? rng.pick(["application/grpc-web+proto", "application/grpc-web", "application/grpc-web+json", "application/grpc-web-text"])
    : rng.chance(0.9)
      ? "application/grpc"
      : rng.pick(["application/grpc+proto", "application/grpc+json", "application/grpc+json", "application/grpc+xml", "application/grpcx"]);
  // An oversized frame costs 4 MiB of loopback traffic: keep them rare.
  let g = grpcBody(rng, method?.input, env, contentType.endsWith("+json"));
  if (g.variant === "oversized" && !rng.chance(0.02)) g = { body: grpcFrame(rng.bytes(8)), variant: "one-frame" };
  const headers: Record<string, string> = { "content-type": contentType };
  if (!web) headers["te"] = "trailers";
  if (g.encoding !== undefined) headers["grpc-encoding"] = g.encoding;
  if (isWatch(method)) headers["grpc-timeout"] = "300m";
  else if (rng.chance(0.05)) headers["grpc-timeout"] = rng.pick(["abc", "1", "99999999999H", "-1S", "1.5S", "100000000n"]);
  if (rng.chance(0.03)) headers["grpc-accept-encoding"] = rng.pick(["gzip", "*", "x,y,z"]);
  const r = web ? await env.h1.request(server.url, { method: "POST", path, headers, body: g.body }, env.timeoutMs) : await env.h2.request(server.url, { path, headers, body: g.body }, env.timeoutMs);
  return { category: web ? "grpc-web" : "grpc", server: server.name, input: describe("POST", path, headers, g.body), variant: g.variant, outcome: classifyGrpc(r, { ownDeadline: headers["grpc-timeout"] !== undefined }) };
}

// ── The node handshake ────────────────────────────────────────────────────────────────────────────

const CONNECT_NODE = "/ccr.v1.Gateway/ConnectNode";

function nodeMessage(m: Parameters<typeof create<typeof ConnectNodeRequestSchema>>[1]): Uint8Array {
  return grpcFrame(toBinary(ConnectNodeRequestSchema, create(ConnectNodeRequestSchema, m)));
}

async function handshakeCase(env: FuzzEnv, rng: Prng): Promise<CaseResult> {
  const h = env.handshake;
  const member = rng.pick(h.memberKeys);
  const hello = (over: { nodePublicKey?: Uint8Array; donId?: string; gatewayId?: string } = {}): Uint8Array =>
    nodeMessage({ message: { case: "hello", value: { nodePublicKey: member, donId: h.donId, gatewayId: h.gatewayId, ...over } } });
  const proof = (signature: Uint8Array): Uint8Array => nodeMessage({ message: { case: "proof", value: { signature } } });
  const variant = rng.pick([
    "hello-wrong-gateway",
    "hello-wrong-don",
    "hello-non-member",
    "hello-key-length",
    "hello-empty",
    "garbage-proof",
    "proof-wrong-length",
    "proof-by-stranger",
    "proof-over-wrong-payload",
    "proof-first",
    "answer-first",
    "heartbeat-first",
    "hello-twice",
    "hello-then-answer",
    "end-immediately",
    "end-after-hello",
    "garbage-frame",
    "garbage-after-hello",
    "silence-then-cancel",
  ] as const);
  let steps: ScriptStep[];
  const sent: Uint8Array[] = [];
  const send = (bytes: Uint8Array): ScriptStep => {
    sent.push(bytes);
    return { kind: "send", bytes };
  };
  const afterChallenge = (bytes: Uint8Array): ScriptStep[] => [send(hello()), { kind: "await-messages", count: 1, timeoutMs: 3_000 }, send(bytes), { kind: "end" }];
  switch (variant) {
    case "hello-wrong-gateway":
      steps = [send(hello({ gatewayId: hostileString(rng) })), { kind: "end" }];
      break;
    case "hello-wrong-don":
      steps = [send(hello({ donId: hostileString(rng) })), { kind: "end" }];
      break;
    case "hello-non-member":
      steps = [send(hello({ nodePublicKey: rng.bytes(32) })), { kind: "end" }];
      break;
    case "hello-key-length":
      steps = [send(hello({ nodePublicKey: rng.pick([new Uint8Array(0), member.subarray(0, 31), Buffer.concat([member, Uint8Array.of(0)]), rng.bytes(64), rng.bytes(1000)]) })), { kind: "end" }];
      break;
    case "hello-empty":
      steps = [send(nodeMessage({ message: { case: "hello", value: {} } })), { kind: "end" }];
      break;
    case "garbage-proof":
      steps = afterChallenge(proof(rng.bytes(64)));
      break;
    case "proof-wrong-length":
      steps = afterChallenge(proof(rng.bytes(rng.pick([0, 1, 63, 65, 128, 4096]))));
      break;
    case "proof-by-stranger":
      // A well-formed signature, by a key that is not the member's, over the right payload shape.
      steps = afterChallenge(proof(h.stranger.sign(handshakePayload({ gatewayId: h.gatewayId, donId: h.donId, timestampMs: Date.now(), nonce: rng.bytes(32), nodePublicKey: member }))));
      break;
    case "proof-over-wrong-payload":
      steps = afterChallenge(proof(h.stranger.sign(rng.bytes(64))));
      break;
    case "proof-first":
      steps = [send(proof(rng.bytes(64))), { kind: "end" }];
      break;
    case "answer-first":
      steps = [send(nodeMessage({ message: { case: "answer", value: { relayId: BigInt(rng.u32()), outcome: { case: "failure", value: { code: 14, message: "x" } } } } })), { kind: "end" }];
      break;
    case "heartbeat-first":
      steps = [send(nodeMessage({ message: { case: "heartbeat", value: { timestampMs: BigInt(Date.now()) } } })), { kind: "end" }];
      break;
    case "hello-twice":
      steps = [send(hello()), { kind: "await-messages", count: 1, timeoutMs: 3_000 }, send(hello()), { kind: "end" }];
      break;
    case "hello-then-answer":
      steps = [send(hello()), { kind: "await-messages", count: 1, timeoutMs: 3_000 }, send(nodeMessage({ message: { case: "answer", value: { relayId: 1n } } })), { kind: "end" }];
      break;
    case "end-immediately":
      steps = [{ kind: "end" }];
      break;
    case "end-after-hello":
      steps = [send(hello()), { kind: "await-messages", count: 1, timeoutMs: 3_000 }, { kind: "end" }];
      break;
    case "garbage-frame":
      steps = [send(grpcFrame(rng.bytes(rng.length(200)))), { kind: "end" }];
      break;
    case "garbage-after-hello":
      steps = [send(hello()), { kind: "await-messages", count: 1, timeoutMs: 3_000 }, send(rng.chance(0.5) ? grpcFrame(rng.bytes(rng.length(100))) : rng.bytes(rng.int(1, 4))), { kind: "end" }];
      break;
    case "silence-then-cancel":
      steps = [send(hello()), { kind: "cancel", ms: rng.int(10, 200) }];
      break;
  }
  const headers = { "content-type": "application/grpc", te: "trailers" };
  const { result } = await env.h2.scriptOnce(env.gateway.url, CONNECT_NODE, headers, steps, env.timeoutMs);
  // A stream the fuzzer cancels itself ends without a status (or with its own reset): expected.
  const classified = classifyGrpc(result);
  const outcome: Outcome =
    variant === "silence-then-cancel" && (classified.cls === "rejected-on-wire" || classified.cls === "client-error") ? { cls: "rejected-on-wire", label: "cancelled by the fuzzer" } : classified;
  return { category: "handshake", server: env.gateway.name, input: `ConnectNode ${variant}: ${sent.map((b) => preview(b, 200)).join(" | ")}`, variant, outcome };
}

// ── Attestation documents in relay requests ───────────────────────────────────────────────────────

async function attestationCase(env: FuzzEnv, rng: Prng): Promise<CaseResult> {
  const params: RelayParams = wellFormedRelayParams(env.relay, rng);
  const doc = env.docs.malformed(rng, relayBindingHash(params));
  const sessionSignature = rng.chance(0.15) ? rng.bytes(rng.pick([64, 63, 0, 100])) : new Uint8Array();
  params.value.attestation = { $typeName: "ccr.v1.Attestation", document: doc.bytes, sessionSignature };
  const route = rng.pick(["gateway-grpc", "gateway-connect-json", "gateway-jsonrpc", "relay-node-grpc", "relay-node-grpc"] as const);
  const variant = `${route}/${doc.variant}`;
  const rpc = params.case === "getSecrets" ? "GetSecrets" : "ExecuteCapability";
  const binary = params.case === "getSecrets" ? toBinary(GetSecretsRequestSchema, params.value) : toBinary(ExecuteCapabilityRequestSchema, params.value);
  switch (route) {
    case "gateway-grpc":
    case "relay-node-grpc": {
      const server = route === "gateway-grpc" ? env.gateway : env.relayNode;
      const path = `/ccr.v1.${route === "gateway-grpc" ? "Gateway" : "RelayNode"}/${rpc}`;
      const headers = { "content-type": "application/grpc", te: "trailers" };
      const r = await env.h2.request(server.url, { path, headers, body: grpcFrame(binary) }, env.timeoutMs);
      return { category: "attestation", server: server.name, input: describe("POST", path, headers, binary), variant, outcome: classifyGrpc(r) };
    }
    case "gateway-connect-json": {
      const path = `/ccr.v1.Gateway/${rpc}`;
      const headers = { "content-type": "application/json", "connect-protocol-version": "1" };
      const text = params.case === "getSecrets" ? toJsonString(GetSecretsRequestSchema, params.value) : toJsonString(ExecuteCapabilityRequestSchema, params.value);
      const r = await env.h1.request(env.gateway.url, { method: "POST", path, headers, body: enc.encode(text) }, env.timeoutMs);
      return { category: "attestation", server: env.gateway.name, input: describe("POST", path, headers, text), variant, outcome: classifyConnect(r) };
    }
    case "gateway-jsonrpc": {
      const headers = { "content-type": "application/json" };
      const text = JSON.stringify({ jsonrpc: "2.0", id: params.value.requestId, method: params.case === "getSecrets" ? "confidential.secrets.get" : "confidential.capability.execute", params: jsonRpcParams(params) });
      const r = await env.h1.request(env.gateway.url, { method: "POST", path: "/", headers, body: enc.encode(text) }, env.timeoutMs);
      return { category: "attestation", server: env.gateway.name, input: describe("POST", "/", headers, text), variant, outcome: classifyJsonRpc(r) };
    }
  }
}

// ── Raw framing ───────────────────────────────────────────────────────────────────────────────────

function http1Garbage(rng: Prng, server: FuzzServer): { bytes: Uint8Array; variant: string } {
  const crlf = "\r\n";
  const variant = rng.pick(["random", "bad-request-line", "bad-version", "bad-header", "huge-header", "bad-chunked", "cl-te-conflict", "negative-length", "nul-bytes", "http09", "pipelined-garbage"] as const);
  let text: string;
  switch (variant) {
    case "random":
      return { bytes: Buffer.concat([rng.bytes(rng.int(1, 512)), Buffer.from(crlf + crlf)]), variant };
    case "bad-request-line":
      text = `${rng.pick(["POST", "G E T", "", "\u0000"])} ${rng.pick(["/", "", "//", "*", "http://x/"])}${crlf}${crlf}`;
      break;
    case "bad-version":
      text = `POST / HTTP/${rng.pick(["9.9", "1.x", "", "2.0"])}${crlf}Host: x${crlf}${crlf}`;
      break;
    case "bad-header":
      text = `POST / HTTP/1.1${crlf}${rng.pick(["Host", "Content-Type", "X"])}${rng.pick([" : x", ":\u0001", "", ": \u0000"])}${crlf}${crlf}`;
      break;
    case "huge-header":
      text = `GET /metrics HTTP/1.1${crlf}Host: x${crlf}X-Big: ${"a".repeat(rng.pick([20_000, 100_000]))}${crlf}${crlf}`;
      break;
    case "bad-chunked":
      text = `POST / HTTP/1.1${crlf}Host: x${crlf}Content-Type: application/json${crlf}Transfer-Encoding: chunked${crlf}${crlf}${rng.pick(["zz", "-1", "ffffffffffffffff", "5;x"])}${crlf}hello${crlf}0${crlf}${crlf}`;
      break;
    case "cl-te-conflict":
      text = `POST /${server.services[0]!.typeName}/${server.services[0]!.methods[0]!.name} HTTP/1.1${crlf}Host: x${crlf}Content-Type: application/json${crlf}Content-Length: 4${crlf}Transfer-Encoding: chunked${crlf}${crlf}0${crlf}${crlf}`;
      break;
    case "negative-length":
      text = `POST / HTTP/1.1${crlf}Host: x${crlf}Content-Length: ${rng.pick(["-1", "abc", "1, 2", "99999999999999999999"])}${crlf}${crlf}`;
      break;
    case "nul-bytes":
      text = `POST /\u0000 HTTP/1.1${crlf}Host: \u0000${crlf}${crlf}`;
      break;
    case "http09":
      text = `GET /${crlf}`;
      break;
    case "pipelined-garbage":
      text = `GET /metrics HTTP/1.1${crlf}Host: x${crlf}${crlf}${"\u00ff".repeat(rng.int(1, 100))}${crlf}${crlf}`;
      break;
  }
  return { bytes: Buffer.from(text, "latin1"), variant };
}

function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array, declared = payload.length): Uint8Array {
  const h = Buffer.alloc(9);
  h.writeUIntBE(declared & 0xffffff, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

function h2Garbage(rng: Prng): { bytes: Uint8Array; variant: string } {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  const settings = h2Frame(0x4, 0, 0, new Uint8Array());
  const variant = rng.pick([
    "random-frames",
    "bad-settings-length",
    "settings-on-stream",
    "data-on-stream-0",
    "headers-garbage-hpack",
    "window-update-zero",
    "ping-wrong-size",
    "unknown-frame-type",
    "frame-too-large",
    "continuation-without-headers",
    "rst-idle-stream",
    "priority-self",
    "truncated-preface",
    "headers-even-stream",
  ] as const);
  let frames: Uint8Array;
  switch (variant) {
    case "random-frames":
      frames = rng.bytes(rng.int(1, 300));
      break;
    case "bad-settings-length":
      frames = h2Frame(0x4, 0, 0, rng.bytes(rng.pick([1, 5, 7])));
      break;
    case "settings-on-stream":
      frames = h2Frame(0x4, 0, 1, new Uint8Array());
      break;
    case "data-on-stream-0":
      frames = h2Frame(0x0, 0, 0, rng.bytes(10));
      break;
    case "headers-garbage-hpack":
      frames = h2Frame(0x1, 0x4 | 0x1, 1, rng.bytes(rng.int(1, 64)));
      break;
    case "window-update-zero":
      frames = h2Frame(0x8, 0, rng.pick([0, 1]), new Uint8Array(4));
      break;
    case "ping-wrong-size":
      frames = h2Frame(0x6, 0, 0, rng.bytes(rng.pick([0, 7, 9])));
      break;
    case "unknown-frame-type":
      frames = h2Frame(rng.int(0x0a, 0xff), rng.below(256), rng.u32() & 0x7fffffff, rng.bytes(rng.int(0, 32)));
      break;
    case "frame-too-large":
      frames = h2Frame(0x0, 0, 1, rng.bytes(16), 0xffffff);
      break;
    case "continuation-without-headers":
      frames = h2Frame(0x9, 0x4, 1, rng.bytes(8));
      break;
    case "rst-idle-stream":
      frames = h2Frame(0x3, 0, rng.int(1, 1000) * 2 + 1, new Uint8Array(4));
      break;
    case "priority-self":
      frames = h2Frame(0x2, 0, 1, Uint8Array.of(0, 0, 0, 1, 16));
      break;
    case "truncated-preface":
      return { bytes: preface.subarray(0, rng.int(3, 23)), variant };
    case "headers-even-stream":
      frames = h2Frame(0x1, 0x4 | 0x1, 2, Uint8Array.of(0x82, 0x86, 0x84));
      break;
  }
  return { bytes: Buffer.concat([preface, settings, frames]), variant };
}

async function rawCase(env: FuzzEnv, rng: Prng, h2: boolean): Promise<CaseResult> {
  const server = rng.pick(env.servers);
  const g = h2 ? h2Garbage(rng) : http1Garbage(rng, server);
  const r = await rawTcp(server.url, g.bytes, 1_500);
  return {
    category: h2 ? "h2-raw" : "http1-raw",
    server: server.name,
    input: `raw ${preview(g.bytes, 300)}`,
    variant: g.variant,
    outcome: h2 ? classifyRawHttp2(r) : classifyRawHttp1(r),
  };
}

/** Generates, sends and classifies one case of `category`. */
export function runCase(env: FuzzEnv, rng: Prng, category: Category): Promise<CaseResult> {
  switch (category) {
    case "jsonrpc":
      return jsonRpcCase(env, rng);
    case "connect-json":
      return connectCase(env, rng, false);
    case "connect-binary":
      return connectCase(env, rng, true);
    case "grpc":
      return grpcCase(env, rng, false);
    case "grpc-web":
      return grpcCase(env, rng, true);
    case "handshake":
      return handshakeCase(env, rng);
    case "attestation":
      return attestationCase(env, rng);
    case "http1-raw":
      return rawCase(env, rng, false);
    case "h2-raw":
      return rawCase(env, rng, true);
  }
}
