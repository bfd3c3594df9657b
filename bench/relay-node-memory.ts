/**
 * Relay node memory at 10 000 requests in flight (issue 9, "Memory: RSS … of one node at 10 000
 * requests in flight"):
 *
 *   npx tsx bench/relay-node-memory.ts [--runs 3] [--requests 10000] [--log-level info] [--profile-dir DIR]
 *   --profile-dir writes a V8 CPU profile of the node process (node --cpu-prof) into DIR.
 *   --snapshot-dir writes a V8 heap snapshot of the node idle, at full load and after the release
 *   into DIR (to see where the bytes go; the snapshots pause the node, so such a run's timings mean
 *   nothing).
 *
 * A relay node holds a request only while its Vault or Capability call is pending, so this runs ONE
 * real relay node process, started as an operator starts it (`ccr init`, then
 * `node <bin/node-options> bin/ccr.js relay-node --config DIR/config/relay-node-0.json` (as bin/ccr runs it), its gateway and capability URLs
 * pointed at this process), against:
 *   - a fake gateway (a bare HTTP/2 server in this process speaking gRPC by hand, so the bench's own
 *     CPU stays small beside the node's) that completes the ConnectNode handshake (and checks the
 *     node's proof), then pushes `--requests` valid
 *     `ExecuteCapability(echo@1.0.0)` requests on the stream: attestation in binding mode (b) (the
 *     deployment's dev CA, this build's measurements, one session document, a session signature per
 *     request), the workflow node's authorization (a new execution every 10 requests), the DON's
 *     config — so every one passes every check and reaches its Capability call;
 *   - a fake Capability service (the same kind of server) that holds every call unanswered until
 *     released.
 * The node caps a request's life at 30 s (its maxRequestTimeoutMs), so filling, measuring and
 * draining must fit in that: a run on a machine too busy for it fails with the DeadlineExceeded
 * answers counted, rather than reporting a figure for fewer requests.
 * Per run (a fresh node process each time):
 *   1. warm-up: 200 requests answered at once (JIT, connections, the session document's one full
 *      verification), then a settle;
 *   2. idle: the node's RSS (/proc) and V8 heap / external memory (its /metrics, prom-client's
 *      nodejs_heap_size_used_bytes and nodejs_external_memory_bytes);
 *   3. all requests pushed; once the Capability service holds every one of them (so all are in
 *      flight in the node at once), the same figures again (the median of 5 samples over ~1 s);
 *   4. release: every call answered; every answer must come back signed by the node, its signature
 *      valid, its result the echoed payload. Any missing or wrong answer fails the benchmark.
 * Figures: RSS and heap idle and loaded (MB), the growth per in-flight request (bytes), the time to
 * get all requests in flight and to drain them; median/min/max over the runs. The last line is one
 * JSON object: {"bench":"relay-node-memory",...}.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createServer as createHttp2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { nodeOptions } from "../bin/node-options.js";
import { readDonFile } from "../src/config/index.js";
import {
  CapabilityExecuteRequestSchema,
  CapabilityExecuteResponseSchema,
  ConnectNodeRequestSchema,
  ConnectNodeResponseSchema,
  EnclaveConfigSchema,
  ExecuteCapabilityRequestSchema,
  WorkflowAuthorizationSchema,
  authorizationPayload,
  sdk,
  type ConnectNodeResponse,
  type ExecuteCapabilityRequest,
  type NodeAnswer,
} from "../src/contract/index.js";
import { answerSignaturePayload, capabilityBindingHash, handshakePayload } from "../src/contract/relay-hash.js";
import { type RandomBytes } from "../src/domain/clock.js";
import { ed25519Verify } from "../src/domain/crypto/ed25519.js";
import { generateEnclaveKeys } from "../src/services/confidential-workflows/index.js";
import { encodeCapabilityResponsePayload } from "../src/services/relay-node/translate.js";
import { runToCompletion, startReadyProcess, type ReadyProcess } from "./lib/child.js";
import { roundSig, roundSummary, summarize, type Summary } from "./lib/stats.js";
import { loadDeploymentEnclave } from "./lib/deployment-enclave.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    requests: { type: "string", default: "10000" },
    "log-level": { type: "string", default: "info" },
    "profile-dir": { type: "string" },
    "snapshot-dir": { type: "string" },
  },
  strict: true,
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const LOG_LEVEL = values["log-level"];
for (const [name, v] of [["runs", RUNS], ["requests", REQUESTS]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
}
const WARMUP = 200;
const CALLS_PER_EXECUTION = 10;
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const WORKFLOW_ID = "4d".repeat(32);
/** How long the node may take to get every request to its Capability call. */
const FILL_TIMEOUT_MS = 120_000;

const randomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load3 = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

/** Polls `predicate` every 20 ms until it holds; throws with `what` after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(20);
  }
}

/** A gRPC length-prefixed message (uncompressed). */
function envelope(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits a gRPC byte stream into messages (uncompressed envelopes only: the node sends no others). */
class EnvelopeSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Uint8Array[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Uint8Array[] = [];
    while (this.pending.length >= 5) {
      if (this.pending[0] !== 0) throw new Error(`compressed or unknown envelope flags ${this.pending[0]}`);
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) break;
      out.push(this.pending.subarray(5, 5 + len));
      this.pending = this.pending.subarray(5 + len);
    }
    return out;
  }
}

const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc+proto" } as const;

function grpcError(stream: ServerHttp2Stream, code: Code, message: string): void {
  if (stream.destroyed) return;
  stream.respond({ ...GRPC_HEADERS, "grpc-status": String(code), "grpc-message": encodeURIComponent(message) }, { endStream: true });
}

/**
 * The fakes are bare HTTP/2 servers speaking gRPC by hand, not the ccr runtime: they share the
 * machine's two cores with the node, and a full server stack per call would make the bench measure
 * its own fakes. What the node sees on the wire is the same.
 */
function listen(server: Http2Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** The Capability service: echoes the payload, at once or (when holding) once released. */
class HoldingCapability {
  holding = false;
  inside = 0;
  aborted = 0;
  private held: (() => void)[] = [];
  readonly server: Http2Server = createHttp2Server();

  constructor() {
    this.server.on("stream", (stream, headers) => this.onStream(stream, headers));
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    if (headers[":path"] !== "/ccr.v1.Capability/Execute") {
      grpcError(stream, Code.Unimplemented, `unexpected ${headers[":path"]}`);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => undefined);
    stream.on("end", () => {
      const messages = new EnvelopeSplitter().push(Buffer.concat(chunks));
      if (messages.length !== 1) {
        grpcError(stream, Code.InvalidArgument, `expected one message, got ${messages.length}`);
        return;
      }
      const req = fromBinary(CapabilityExecuteRequestSchema, messages[0] as Uint8Array);
      if (req.capabilityId !== "echo@1.0.0") {
        grpcError(stream, Code.NotFound, `unexpected capability ${req.capabilityId}`);
        return;
      }
      const body = envelope(toBinary(CapabilityExecuteResponseSchema, create(CapabilityExecuteResponseSchema, { payload: req.payload })));
      let answered = false;
      const answer = (): void => {
        answered = true;
        if (stream.destroyed) return;
        stream.respond(GRPC_HEADERS, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(body);
      };
      if (!this.holding) {
        answer();
        return;
      }
      this.inside++;
      this.held.push(answer);
      // Only a close before the release is the node giving up on the call.
      stream.once("close", () => {
        if (!answered) this.aborted++;
      });
    });
  }

  release(): void {
    this.holding = false;
    for (const answer of this.held.splice(0)) answer();
    this.inside = 0;
  }
}

/** The gateway's side of ConnectNode for one node: handshake, then whatever is pushed. */
class FakeGatewaySession {
  readonly answers = new Map<bigint, NodeAnswer>();
  accepted = false;

  constructor(private readonly stream: ServerHttp2Stream) {}

  /** Sends gateway → node messages, encoded at once (one write). */
  send(messages: readonly ConnectNodeResponse[]): void {
    this.stream.write(Buffer.concat(messages.map((m) => envelope(toBinary(ConnectNodeResponseSchema, m)))));
  }
}

class FakeGateway {
  session: FakeGatewaySession | undefined;
  readonly server: Http2Server = createHttp2Server();

  constructor(
    private readonly gatewayId: string,
    private readonly donId: string,
    private readonly members: readonly Uint8Array[],
  ) {
    this.server.on("stream", (stream, headers) => this.onStream(stream, headers));
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    if (headers[":path"] !== "/ccr.v1.Gateway/ConnectNode") {
      grpcError(stream, Code.Unimplemented, `unexpected ${headers[":path"]}`);
      return;
    }
    stream.respond(GRPC_HEADERS);
    stream.on("error", () => undefined);
    const session = new FakeGatewaySession(stream);
    this.session = session;
    const splitter = new EnvelopeSplitter();
    let nodeKey: Uint8Array | undefined;
    let challenge: { gatewayId: string; donId: string; timestampMs: bigint; nonce: Uint8Array } | undefined;
    const fail = (why: string): void => {
      stream.close(2);
      throw new Error(`fake gateway: ${why}`);
    };
    stream.on("data", (chunk: Buffer) => {
      for (const bytes of splitter.push(chunk)) {
        const m = fromBinary(ConnectNodeRequestSchema, bytes).message;
        if (m.case === "answer") {
          session.answers.set(m.value.relayId, m.value);
        } else if (m.case === "hello") {
          if (!this.members.some((k) => Buffer.compare(k, m.value.nodePublicKey) === 0)) fail("not a member");
          nodeKey = m.value.nodePublicKey;
          challenge = { gatewayId: this.gatewayId, donId: this.donId, timestampMs: BigInt(Date.now()), nonce: randomBytes(32) };
          session.send([create(ConnectNodeResponseSchema, { message: { case: "challenge", value: challenge } })]);
        } else if (m.case === "proof") {
          if (nodeKey === undefined || challenge === undefined) return fail("proof before hello");
          if (!ed25519Verify(nodeKey, handshakePayload({ ...challenge, nodePublicKey: nodeKey }), m.value.signature)) fail("bad proof");
          session.accepted = true;
          session.send([create(ConnectNodeResponseSchema, { message: { case: "accepted", value: { heartbeatIntervalMs: 60_000 } } })]);
        }
        // heartbeats need nothing
      }
    });
  }
}

/** Builds valid relay requests exactly as an enclave would, from the deployment directory. */
async function requestFactory(dir: string): Promise<{ make: (i: number) => ExecuteCapabilityRequest; payloadOf: (i: number) => Uint8Array }> {
  const { don, producer, workflowNode } = await loadDeploymentEnclave(dir, "i-bench-mem");
  const keys = generateEnclaveKeys(randomBytes);
  const document = await producer.attest({ publicKey: keys.attestedKeyBlock });
  const enclaveConfig = create(EnclaveConfigSchema, { signers: don.members.map((m) => new Uint8Array(Buffer.from(m.publicKey, "hex"))), f: don.f });
  const authorizations = new Map<number, { executionId: string; authorization: ReturnType<typeof create<typeof WorkflowAuthorizationSchema>> }>();
  const execution = (i: number) => {
    const k = Math.floor(i / CALLS_PER_EXECUTION);
    let a = authorizations.get(k);
    if (a === undefined) {
      const executionId = hex(randomBytes(32));
      a = {
        executionId,
        authorization: create(WorkflowAuthorizationSchema, {
          signatures: [{ signer: workflowNode.publicKey, signature: workflowNode.sign(authorizationPayload({ owner: OWNER, workflowId: WORKFLOW_ID, executionId })) }],
        }),
      };
      authorizations.set(k, a);
    }
    return a;
  };
  const payloadOf = (i: number): Uint8Array => Buffer.from(JSON.stringify({ call: i, pad: "x".repeat(48) }));
  const make = (i: number): ExecuteCapabilityRequest => {
    const { executionId, authorization } = execution(i);
    const req = create(ExecuteCapabilityRequestSchema, {
      requestId: `mem-${i}-${hex(randomBytes(4))}`,
      workflowId: WORKFLOW_ID,
      owner: OWNER,
      executionId,
      referenceId: `ref-${i}`,
      capabilityId: "echo@1.0.0",
      payload: toBinary(sdk.CapabilityRequestSchema, create(sdk.CapabilityRequestSchema, { id: "echo@1.0.0", method: "Execute", payload: payloadOf(i) })),
      enclaveConfig,
      timestampMs: BigInt(Date.now()),
      authorization,
    });
    req.attestation = { $typeName: "ccr.v1.Attestation", document, sessionSignature: keys.signBinding(capabilityBindingHash(req)) };
    return req;
  };
  return { make, payloadOf };
}

/** One gauge from a Prometheus text page; NaN when absent. */
function gauge(page: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, "m").exec(page);
  return m === null ? Number.NaN : Number(m[1]);
}

interface MemorySample {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
}

/** The node's memory: RSS from /proc, heap and external from its /metrics; median of `n` samples. */
async function sampleMemory(node: ReadyProcess, url: string, n: number, gapMs: number): Promise<MemorySample> {
  const rss: number[] = [];
  const heap: number[] = [];
  const ext: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(gapMs);
    const page = await (await fetch(`${url}/metrics`)).text();
    heap.push(gauge(page, "nodejs_heap_size_used_bytes"));
    ext.push(gauge(page, "nodejs_external_memory_bytes"));
    rss.push(node.rssBytes() ?? Number.NaN);
  }
  return { rssBytes: summarize(rss).median, heapUsedBytes: summarize(heap).median, externalBytes: summarize(ext).median };
}

/** With --snapshot-dir: has the node write a heap snapshot (SIGUSR2) and waits until it is complete. */
async function heapSnapshot(node: ReadyProcess): Promise<void> {
  const dir = values["snapshot-dir"];
  if (dir === undefined) return;
  const before = new Set(readdirSync(dir));
  process.kill(node.pid, "SIGUSR2");
  let file: string | undefined;
  let size = -1;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no complete heap snapshot in ${dir} after 300 s`);
    await sleep(1_000);
    file ??= readdirSync(dir).find((f) => !before.has(f) && f.endsWith(".heapsnapshot"));
    if (file === undefined) continue;
    const now = statSync(join(dir, file)).size;
    if (now === size && now > 0) break;
    size = now;
  }
  console.log(`  heap snapshot ${join(dir, file)}`);
}

interface RunResult {
  readonly idle: MemorySample;
  readonly loaded: MemorySample;
  readonly afterRelease: MemorySample;
  readonly fillMs: number;
  readonly drainMs: number;
  readonly inFlight: number;
}

async function oneRun(dir: string, run: number): Promise<RunResult> {
  const don = readDonFile(join(dir, "don.json"));
  const members = don.members.map((m) => new Uint8Array(Buffer.from(m.publicKey, "hex")));
  const gateway = new FakeGateway(don.gatewayId, don.donId, members);
  const capability = new HoldingCapability();
  const servers = [gateway.server, capability.server];
  const [gatewayUrl, capabilityUrl] = await Promise.all(servers.map(listen));
  const configFile = join(dir, "config", "relay-node-0.json");
  const config = JSON.parse(readFileSync(configFile, "utf8")) as { server: { port: number }; relayNode: Record<string, unknown> };
  config.server.port = 0;
  // The Vault is never called (capability requests only); any reachable URL is a valid config.
  config.relayNode = { ...config.relayNode, gatewayUrls: [gatewayUrl], capabilityUrl, vaultUrl: capabilityUrl };
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const profile = [
    ...(values["profile-dir"] === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", values["profile-dir"]]),
    ...(values["snapshot-dir"] === undefined ? [] : ["--heapsnapshot-signal=SIGUSR2", "--diagnostic-dir", values["snapshot-dir"]]),
  ];
  // As `npx ccr relay-node` starts (bin/ccr): with bin/node-options.
  const node = await startReadyProcess(REPO, [...nodeOptions(), ...profile, "bin/ccr.js", "relay-node", "--config", configFile], {
    readyTimeoutMs: 120_000,
    env: { ...process.env, CCR_SERVER_LOG_LEVEL: LOG_LEVEL },
    what: "ccr relay-node",
  });
  const nodeUrl = node.ready["url"] as string;
  const nodeKey = members[0] as Uint8Array;
  try {
    await until(() => gateway.session?.accepted === true, 60_000, () => "the node's handshake");
    const session = gateway.session as FakeGatewaySession;
    const { make, payloadOf } = await requestFactory(dir);
    let relayId = 0n;
    const request = (id: bigint, req: ExecuteCapabilityRequest): ConnectNodeResponse =>
      create(ConnectNodeResponseSchema, { message: { case: "request", value: { relayId: id, params: { case: "executeCapability", value: req }, timeoutMs: 0 } } });
    const check = (id: bigint, i: number): string | undefined => {
      const a = session.answers.get(id);
      if (a === undefined) return "no answer";
      if (a.outcome.case !== "signed") return `unsigned: ${a.outcome.case === "failure" ? `${Code[a.outcome.value.code]} ${a.outcome.value.message}` : "empty"}`;
      const signed = a.outcome.value;
      if (!ed25519Verify(nodeKey, answerSignaturePayload(signed.resultHash), signed.signature)) return "bad signature";
      if (signed.result.case !== "capability") return `result ${signed.result.case}: ${signed.result.case === "error" ? signed.result.value.message : ""}`;
      const expected = encodeCapabilityResponsePayload(payloadOf(i));
      return Buffer.from(signed.result.value.payload).equals(expected) ? undefined : "payload altered";
    };

    // 1. Warm-up, answered at once.
    const warm = Array.from({ length: WARMUP }, () => ++relayId);
    session.send(warm.map((id, i) => request(id, make(i))));
    await until(() => warm.every((id) => session.answers.has(id)), 60_000, () => `warm-up answers (${session.answers.size}/${WARMUP})`);
    const warmFailure = warm.map((id, i) => check(id, i)).find((x) => x !== undefined);
    if (warmFailure !== undefined) throw new Error(`warm-up answer wrong: ${warmFailure}\n${node.stderrTail()}`);
    await sleep(2_000);

    // 2. Idle.
    const idle = await sampleMemory(node, nodeUrl, 5, 200);
    await heapSnapshot(node);

    // 3. Every request in flight, held at the Capability call. Requests are built before the clock
    // starts (the session signatures are the enclave's cost, not the node's).
    capability.holding = true;
    const base = WARMUP;
    const ids = Array.from({ length: REQUESTS }, () => ++relayId);
    const built = ids.map((id, k) => request(id, make(base + k)));
    const t0 = performance.now();
    session.send(built);
    built.length = 0;
    const progress = setInterval(() => process.stderr.write(`  fill: ${capability.inside} in the capability, ${session.answers.size - WARMUP} answered, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`), 2_000);
    await until(
      () => capability.inside >= REQUESTS || session.answers.size > WARMUP,
      FILL_TIMEOUT_MS,
      () => `all ${REQUESTS} requests to reach the capability (${capability.inside} so far)`,
    );
    const fillMs = performance.now() - t0;
    clearInterval(progress);
    if (session.answers.size > WARMUP) {
      const early = ids.map((id, k) => check(id, base + k)).find((x) => x !== undefined && x !== "no answer");
      throw new Error(`the node answered before the capability did: ${early}\n${node.stderrTail()}`);
    }
    const inFlight = capability.inside;
    await sleep(500);
    const loaded = await sampleMemory(node, nodeUrl, 5, 200);
    await heapSnapshot(node);

    // 4. Release: every answer must arrive, signed and right.
    const t1 = performance.now();
    capability.release();
    await until(() => ids.every((id) => session.answers.has(id)), 60_000, () => `answers after release (${session.answers.size - WARMUP}/${REQUESTS})`);
    const drainMs = performance.now() - t1;
    const wrong: Record<string, number> = {};
    ids.forEach((id, k) => {
      const why = check(id, base + k);
      if (why !== undefined) wrong[why] = (wrong[why] ?? 0) + 1;
    });
    if (Object.keys(wrong).length > 0) throw new Error(`wrong answers after release: ${JSON.stringify(wrong)}\n${node.stderrTail()}`);
    if (capability.aborted > 0) throw new Error(`${capability.aborted} capability calls were aborted by the node`);
    await sleep(1_000);
    const afterRelease = await sampleMemory(node, nodeUrl, 3, 200);
    await heapSnapshot(node);

    const perReq = (a: number, b: number): string => `${((b - a) / inFlight / 1024).toFixed(2)} KB`;
    console.log(
      `run ${run + 1}: ${inFlight} in flight after ${fillMs.toFixed(0)} ms; RSS ${(idle.rssBytes / 2 ** 20).toFixed(1)} → ${(loaded.rssBytes / 2 ** 20).toFixed(1)} MB ` +
        `(${perReq(idle.rssBytes, loaded.rssBytes)}/request), heap ${(idle.heapUsedBytes / 2 ** 20).toFixed(1)} → ${(loaded.heapUsedBytes / 2 ** 20).toFixed(1)} MB ` +
        `(${perReq(idle.heapUsedBytes, loaded.heapUsedBytes)}/request), external ${perReq(idle.externalBytes, loaded.externalBytes)}/request; ` +
        `all ${REQUESTS} answers signed and right ${drainMs.toFixed(0)} ms after release; after: RSS ${(afterRelease.rssBytes / 2 ** 20).toFixed(1)} MB, heap ${(afterRelease.heapUsedBytes / 2 ** 20).toFixed(1)} MB`,
    );
    return { idle, loaded, afterRelease, fillMs, drainMs, inFlight };
  } finally {
    await node.stop(10_000);
    for (const s of servers) s.close();
  }
}

async function main(): Promise<void> {
  const loadBefore = load3();
  console.log(`relay node memory: one \`ccr relay-node\` process, ${REQUESTS} capability requests held in flight, ${RUNS} runs; load average ${loadBefore.join(" ")} on ${cpus().length} CPUs`);
  const dir = mkdtempSync(join(tmpdir(), "ccr-bench-node-mem-"));
  try {
    const init = await runToCompletion(process.execPath, ["bin/ccr.js", "init", "--dir", dir, "--nodes", "4", "--f", "1", "--base-port", "40000", "--force"], {
      cwd: REPO,
      timeoutMs: 120_000,
    });
    if (init.exitCode !== 0) throw new Error(`ccr init failed (${init.exitCode}): ${init.stderrTail}`);
    const runs: RunResult[] = [];
    for (let r = 0; r < RUNS; r++) runs.push(await oneRun(dir, r));

    const mb = (xs: number[]): Summary => roundSummary(summarize(xs.map((x) => x / 2 ** 20)), 3);
    const perRequest = (pick: (s: MemorySample) => number): Summary =>
      roundSummary(summarize(runs.map((r) => (pick(r.loaded) - pick(r.idle)) / r.inFlight)), 3);
    const result = {
      inFlight: REQUESTS,
      rssMb: { idle: mb(runs.map((r) => r.idle.rssBytes)), loaded: mb(runs.map((r) => r.loaded.rssBytes)), afterRelease: mb(runs.map((r) => r.afterRelease.rssBytes)) },
      heapUsedMb: {
        idle: mb(runs.map((r) => r.idle.heapUsedBytes)),
        loaded: mb(runs.map((r) => r.loaded.heapUsedBytes)),
        afterRelease: mb(runs.map((r) => r.afterRelease.heapUsedBytes)),
      },
      rssBytesPerInFlight: perRequest((s) => s.rssBytes),
      heapBytesPerInFlight: perRequest((s) => s.heapUsedBytes),
      externalBytesPerInFlight: perRequest((s) => s.externalBytes),
      fillMs: roundSummary(summarize(runs.map((r) => r.fillMs)), 3),
      drainMs: roundSummary(summarize(runs.map((r) => r.drainMs)), 3),
    };
    const t = (s: Summary, d = 1): string => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
    console.log(
      `node RSS idle ${t(result.rssMb.idle)} MB, at ${REQUESTS} in flight ${t(result.rssMb.loaded)} MB: ${t(result.rssBytesPerInFlight, 0)} bytes per in-flight request ` +
        `(heap ${t(result.heapBytesPerInFlight, 0)}, external ${t(result.externalBytesPerInFlight, 0)}); in flight after ${t(result.fillMs, 0)} ms, drained in ${t(result.drainMs, 0)} ms`,
    );
    console.log(
      JSON.stringify({
        bench: "relay-node-memory",
        runs: RUNS,
        requests: REQUESTS,
        logLevel: LOG_LEVEL,
        process: "bin/ccr relay-node --config DIR/config/relay-node-0.json (ccr init; node with bin/node-options); gateway and capability faked in the bench process (bare HTTP/2, gRPC by hand)",
        request: "Gateway stream RelayRequest ExecuteCapability(echo@1.0.0), attestation binding mode (b), workflow authorization; capability holds every call until released",
        loadavgBefore: loadBefore,
        loadavgAfter: load3(),
        results: { ...result, rssMbLoadedMedian: roundSig(result.rssMb.loaded.median, 3) },
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
  process.exit(0);
} catch (e) {
  console.error(e);
  process.exit(1);
}
