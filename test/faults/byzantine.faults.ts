/**
 * Issue 9, "Byzantine faults": F nodes that return altered results, sign with the wrong key, replay
 * old answers or answer twice; over 10 000 requests the enclave accepts no wrong answer.
 *
 * The DON is N = 4, F = 1. One member — relay-node-3's key — is Byzantine (byzantine/byzantine-node.ts):
 * it completes the real handshake with the member key and then answers EVERY relay request with one
 * of twelve misbehaviours (altered results correctly signed over the altered result, a non-member
 * key, a signature over the wrong payload, a wrong hash, replays of its own and of honest members'
 * old signed answers, old honest results re-signed, double answers, failures, silence), never
 * honestly. The enclave side is the real `RelayClient` (src/services/confidential-workflows) with
 * session-mode attestation from the deployment's dev CA: every answer's quorum certificate is checked
 * by `verifyQuorumCertificate` against a result hash the enclave recomputes from its own request.
 * Two senders of sixteen talk through a tampering gateway (byzantine/tampering-gateway.ts) that
 * colludes with the Byzantine member and replaces every real answer with a forgery, so the enclave's
 * own check is exercised and not only the gateway's.
 *
 * Two suites, the same load and the same claims:
 *   1. 10 000 requests through the REAL gateway process (`ccr gateway`, spawned alone from a fresh
 *      `ccr init` deployment: real quorum, real edge attestation check) with three honest nodes in
 *      this process that sign exactly as real nodes sign (byzantine/honest-nodes.ts: the real secret
 *      box, the real echo answer shape). The cheapest honest path that keeps the real gateway quorum
 *      and the real enclave-side check.
 *   2. 1 000 requests through the whole mesh as OS processes (test/support/process-mesh.ts): the
 *      real gateway and three REAL relay-node processes with the real Vault and Capability.
 *
 * An answer is "correct" when the echo comes back byte for byte, or the stored secret decrypts to its
 * value and the missing one is an error; any other answer the enclave accepts is "wrong" (must be 0).
 * Each suite prints one `[faults] {…}` line with its counts, the moves played and its duration.
 *
 * Knobs (environment): CCR_FAULTS_SEED (replays a run's choices), CCR_FAULTS_BYZANTINE_REQUESTS
 * (suite 1, default 10 000), CCR_FAULTS_BYZANTINE_REAL_REQUESTS (suite 2, default 1 000).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readKeyFile, type DonFile } from "../../src/config/index.js";
import { Gateway } from "../../src/contract/index.js";
import { ed25519SignerFromSeed } from "../../src/domain/crypto/ed25519.js";
import { createServiceClient, createServiceTransport, Http2SessionPool } from "../../src/transport/index.js";
import { demoOwner, putSecret } from "../e2e/workflows.js";
import { FakeNode } from "../support/fake-nodes.js";
import { useProcessMesh, waitFor } from "../support/process-mesh.js";
import { AnswerHistory } from "./byzantine/answer-history.js";
import { BYZANTINE_MOVES, byzantineBehavior, type ByzantineBehavior } from "./byzantine/byzantine-node.js";
import { enclaveSenders, type EnclaveSender } from "./byzantine/enclave-side.js";
import { honestBehavior, HonestOracle } from "./byzantine/honest-nodes.js";
import { startLoneGateway, type LoneGateway } from "./byzantine/lone-gateway.js";
import { runEnclaveLoad, type LoadResult, type Path } from "./byzantine/run.js";
import { recordingGateway, tamperingGateway, TAMPER_MOVES, type TamperingGateway } from "./byzantine/tampering-gateway.js";
import { cpuMs } from "./support/rss.js";
import { faultsSeed, Prng } from "./fuzz/prng.js";

const SEED = faultsSeed();
const CHEAP_REQUESTS = Number(process.env["CCR_FAULTS_BYZANTINE_REQUESTS"] ?? 10_000);
const REAL_REQUESTS = Number(process.env["CCR_FAULTS_BYZANTINE_REAL_REQUESTS"] ?? 1_000);
const CONCURRENCY = 32;
/** Enclave identities; the last TAMPERED of them go through the tampering gateway. */
const SENDERS = 16;
const TAMPERED = 2;
const BYZANTINE = "relay-node-3";
const SECRET = { namespace: "byzantine", key: "API_KEY", value: `byzantine-secret-${SEED.toString(16)}` } as const;
const WORKFLOW_ID = "b2".repeat(32);
/** Any checksummed owner (the cheap path's honest nodes hold the secret for it). */
const CHEAP_OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const ANSWER_OUTCOMES = ["ok", "divergent", "bad_signature", "hash_mismatch", "duplicate", "late", "failure", "rate_limited"] as const;

/** The Byzantine member, the tampering gateways and the enclave senders, for one gateway. */
interface Adversary {
  readonly node: FakeNode;
  readonly behavior: ByzantineBehavior;
  readonly tampering: readonly TamperingGateway[];
  readonly senders: readonly { readonly sender: EnclaveSender; readonly path: Path }[];
  readonly byzantineKeyHex: string;
}

async function setUpAdversary(o: { dir: string; don: DonFile; gatewayUrl: string; owner: string; rng: Prng; sessions: Http2SessionPool }): Promise<Adversary> {
  const history = new AnswerHistory();
  const signer = ed25519SignerFromSeed(readKeyFile(join(o.dir, "keys", `${BYZANTINE}.key`)));
  const byzantineKeyHex = Buffer.from(signer.publicKey).toString("hex");
  expect(o.don.members.find((member) => member.name === BYZANTINE)?.publicKey).toBe(byzantineKeyHex);
  let node: FakeNode | undefined;
  const behavior = byzantineBehavior({ signer, rng: o.rng.fork("byzantine-node"), history, send: (answer) => node?.send({ case: "answer", value: answer }) });
  node = new FakeNode({
    transport: createServiceTransport({ baseUrl: o.gatewayUrl, protocol: "grpc", sessions: new Http2SessionPool() }),
    signer,
    gatewayId: o.don.gatewayId,
    donId: o.don.donId,
    behavior: behavior.behavior,
    recordRequests: false,
  });
  const handshake = await node.handshake;
  expect(handshake.kind, handshake.kind === "refused" ? handshake.error.message : "").toBe("accepted");

  const real = createServiceClient(Gateway, { baseUrl: o.gatewayUrl, protocol: "grpc", sessions: o.sessions });
  const recording = recordingGateway(real, history);
  const tampering = Array.from({ length: TAMPERED }, (_, i) => tamperingGateway(real, { byzantine: signer, f: o.don.f, rng: o.rng.fork(`tamper-${i}`), history }));
  const built = await enclaveSenders({
    dir: o.dir,
    gateways: [...Array.from({ length: SENDERS - TAMPERED }, () => recording), ...tampering.map((t) => t.client)],
    owner: o.owner,
    workflowId: WORKFLOW_ID,
    requestTimeoutMs: 30_000,
  });
  const senders = built.map((sender, i) => ({ sender, path: (i >= SENDERS - TAMPERED ? "tampered" : "direct") as Path }));
  return { node, behavior, tampering, senders, byzantineKeyHex };
}

/** Runs the load, prints the report line, and checks the suite's claims. */
async function runAndCheck(o: {
  readonly label: string;
  readonly gateway: string;
  readonly honest: string;
  readonly adversary: Adversary;
  readonly requests: number;
  readonly rng: Prng;
  readonly metric: (name: string, labels: Readonly<Record<string, string>>) => Promise<number>;
  /** Processes whose CPU time to report (name → pid). */
  readonly pids: Readonly<Record<string, number | undefined>>;
}): Promise<void> {
  const a = o.adversary;
  const cpuBefore = Object.fromEntries(await Promise.all(Object.entries(o.pids).map(async ([name, pid]) => [name, await cpuMs(pid)] as const)));
  const selfBefore = process.cpuUsage();
  const result: LoadResult = await runEnclaveLoad({
    senders: a.senders,
    requests: o.requests,
    concurrency: CONCURRENCY,
    rng: o.rng.fork("payloads"),
    secret: SECRET,
    byzantineKeyHex: a.byzantineKeyHex,
  });
  const { tallies } = result;
  const self = process.cpuUsage(selfBefore);
  // CPU time per request (µs): this process plays the enclave (and, on the cheap path, the nodes).
  const cpuUsPerRequest: Record<string, number> = { "test process": Math.round((self.user + self.system) / o.requests) };
  for (const [name, pid] of Object.entries(o.pids)) cpuUsPerRequest[name] = Math.round((((await cpuMs(pid)) ?? Number.NaN) - (cpuBefore[name] ?? Number.NaN)) * 1000 / o.requests);
  const answers = Object.fromEntries(
    await Promise.all(ANSWER_OUTCOMES.map(async (outcome) => [outcome, await o.metric("ccr_gateway_node_answers_total", { node: BYZANTINE, outcome })] as const)),
  ) as Record<(typeof ANSWER_OUTCOMES)[number], number>;
  const tamperPlayed = Object.fromEntries(TAMPER_MOVES.map((move) => [move, a.tampering.reduce((n, t) => n + t.played[move], 0)])) as Record<string, number>;
  const report = {
    suite: `byzantine/${o.label}`,
    seed: SEED,
    requests: o.requests,
    concurrency: CONCURRENCY,
    durationMs: Math.round(result.durationMs),
    requestsPerSecond: Math.round((o.requests / result.durationMs) * 1000),
    gateway: o.gateway,
    honestNodes: o.honest,
    direct: tallies.direct,
    tampered: tallies.tampered,
    byzantineMovesPlayed: a.behavior.played,
    tamperMovesPlayed: tamperPlayed,
    gatewayVerdictsOnByzantineAnswers: answers,
    cpuUsPerRequest,
  };
  console.log(`[faults] ${JSON.stringify(report)}`);
  const summary = JSON.stringify(report, null, 1);

  // The claim: the enclave accepted no wrong answer, on either path.
  expect(tallies.direct.acceptedWrong + tallies.tampered.acceptedWrong, summary).toBe(0);
  expect(tallies.direct.requests + tallies.tampered.requests).toBe(o.requests);
  // F Byzantine members cost no liveness: with 3 honest members every direct request is answered.
  expect(tallies.direct.acceptedCorrect, summary).toBe(tallies.direct.requests);
  // Every forgery of the colluding gateway was refused by the enclave's own certificate check.
  expect(tallies.tampered.rejected, summary).toBe(tallies.tampered.requests);
  expect(Object.keys(tallies.tampered.rejectedBy), summary).toEqual(["rejected:certificate_invalid"]);
  // The Byzantine member never vouched for an answer the enclave used.
  expect(tallies.direct.byzantineVouched + tallies.tampered.byzantineVouched, summary).toBe(0);
  // Every misbehaviour happened, and the gateway classified the Byzantine answers as such.
  for (const move of BYZANTINE_MOVES) expect(a.behavior.played[move], `${move} never played\n${summary}`).toBeGreaterThan(0);
  for (const move of TAMPER_MOVES) expect(tamperPlayed[move], `${move} never played\n${summary}`).toBeGreaterThan(0);
  expect(answers.ok, summary).toBe(0);
  for (const outcome of ["divergent", "bad_signature", "hash_mismatch", "duplicate", "failure"] as const) {
    expect(answers[outcome], `the gateway counted no ${outcome} answers from ${BYZANTINE}\n${summary}`).toBeGreaterThan(0);
  }
}

describe(`Byzantine member, real gateway process, honest nodes signing as real ones (seed ${SEED}; replay with CCR_FAULTS_SEED=${SEED})`, () => {
  const rng = new Prng(SEED).fork("cheap");
  const sessions = new Http2SessionPool();
  let gateway: LoneGateway | undefined;
  const honest: FakeNode[] = [];
  let adversary: Adversary | undefined;

  beforeAll(async () => {
    gateway = await startLoneGateway({ nodes: 4, f: 1 });
    const g = gateway;
    const oracle = new HonestOracle({ owner: CHEAP_OWNER, ...SECRET });
    for (let i = 0; i < 3; i++) {
      const node = new FakeNode({
        // Each node on its own connection, as separate processes would be.
        transport: createServiceTransport({ baseUrl: g.url, protocol: "grpc", sessions: new Http2SessionPool() }),
        signer: ed25519SignerFromSeed(readKeyFile(join(g.dir, "keys", `relay-node-${i}.key`))),
        gatewayId: g.don.gatewayId,
        donId: g.don.donId,
        behavior: honestBehavior(oracle, rng.fork(`honest-${i}`)),
        recordRequests: false,
      });
      honest.push(node);
      expect((await node.handshake).kind).toBe("accepted");
    }
    adversary = await setUpAdversary({ dir: g.dir, don: g.don, gatewayUrl: g.url, owner: CHEAP_OWNER, rng, sessions });
    await waitFor("the gateway to report 4 nodes connected", async () => (await g.metric("ccr_gateway_nodes_connected")) === 4);
  }, 120_000);

  afterAll(async () => {
    await adversary?.node.stop();
    await Promise.all(honest.map((n) => n.stop()));
    sessions.closeAll();
    await gateway?.close();
  }, 60_000);

  it(`accepts no wrong answer over ${CHEAP_REQUESTS} requests, the Byzantine member misbehaving on every one`, async () => {
    const g = gateway!;
    await runAndCheck({
      label: "gateway-process+signing-nodes",
      gateway: "real gateway process (ccr gateway), N=4 F=1",
      honest: "3 in-process nodes signing as real nodes (fake Vault/Capability)",
      adversary: adversary!,
      requests: CHEAP_REQUESTS,
      rng,
      metric: (name, labels) => g.metric(name, labels),
      pids: { gateway: g.pid },
    });
    expect(g.running(), g.logs()).toBe(true);
    expect(await g.metric("ccr_gateway_requests_in_flight")).toBe(0);
  }, 600_000);
});

describe(`Byzantine member, whole mesh as OS processes with real relay nodes (seed ${SEED})`, () => {
  const mesh = useProcessMesh({ nodes: 4, f: 1 });
  const rng = new Prng(SEED).fork("real");
  const sessions = new Http2SessionPool();
  let adversary: Adversary | undefined;

  beforeAll(async () => {
    const m = mesh();
    // relay-node-3's process goes; the Byzantine node takes its key and its seat.
    await m.kill(BYZANTINE);
    await m.waitForGatewayNodes(3);
    const owner = demoOwner(m).address;
    await putSecret(m, SECRET.namespace, SECRET.key, SECRET.value);
    adversary = await setUpAdversary({ dir: m.dir, don: m.don, gatewayUrl: m.url("gateway"), owner, rng, sessions });
    await m.waitForGatewayNodes(4);
  }, 180_000);

  afterAll(async () => {
    await adversary?.node.stop();
    sessions.closeAll();
  });

  it(`accepts no wrong answer over ${REAL_REQUESTS} requests, the Byzantine member misbehaving on every one`, async () => {
    const m = mesh();
    await runAndCheck({
      label: "process-mesh",
      gateway: "real gateway process (ccr gateway), N=4 F=1",
      honest: "3 real relay-node processes with the real Vault and Capability processes",
      adversary: adversary!,
      requests: REAL_REQUESTS,
      rng,
      metric: (name, labels) => m.metric("gateway", name, labels),
      pids: Object.fromEntries(m.names.filter((n) => n !== BYZANTINE).map((n) => [n, m.pid(n)])),
    });
    for (const name of m.names) if (name !== BYZANTINE) expect(m.running(name), `${name} died\n${m.diagnostics()}`).toBe(true);
    expect(await m.metric("gateway", "ccr_gateway_requests_in_flight")).toBe(0);
  }, 600_000);
});
