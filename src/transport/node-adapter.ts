/**
 * connect-node's `connectNodeAdapter`, with two repairs for malformed requests (issue 9's fuzzer
 * found both; connect-es / connect-node 2.1.2):
 *
 *  - Over the Connect protocol, a body connect-es cannot decode or decompress is answered
 *    `internal` (HTTP 500): `createBinarySerialization` wraps every protobuf decode error as
 *    Code.Internal ("parse binary: …"), and a compressed envelope without an encoding or an
 *    undecompressable body get the same. connect-go, the protocol's reference implementation,
 *    answers `invalid_argument` (400): it is the client's error. Such an answer is rewritten here
 *    (only these library messages; a Connect unary error body, or a streaming end-stream message). Over gRPC and gRPC-Web the
 *    library's INTERNAL is what gRPC's status table prescribes and stays.
 *  - When writing the answer itself fails (connect-es's gRPC trailer encoding throws URIError on an
 *    error message holding a lone UTF-16 surrogate, e.g. a JSON parse error quoting the input),
 *    connect-node only logs and leaves the response open until the client's deadline. Here the
 *    stream is ended at once (RST_STREAM, or the HTTP/1.1 connection closed).
 */
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Logger } from "./logger.js";
import type { NodeRequest, NodeResponse } from "./http-routes.js";

export interface NodeAdapterOptions extends ConnectRouterOptions {
  readonly routes: (router: ConnectRouter) => void;
  readonly fallback: (req: NodeRequest, res: NodeResponse) => void;
  readonly contextValues: (req: NodeRequest) => ContextValues;
  readonly logger: Logger;
}

/** connect-es's messages for a request body it cannot decode or decompress. */
const UNDECODABLE_BODY = /^(parse binary: .*|received compressed envelope, but do not know how to decompress|decompression failed)$/s;

export function createNodeAdapter(options: NodeAdapterOptions): (req: NodeRequest, res: NodeResponse) => void {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (handler === undefined) {
      options.fallback(req, res);
      return;
    }
    // connect-node's helpers are typed for its own request/response unions; these are the same objects.
    const uReq = universalRequestFromNodeRequest(req as never, res as never, undefined, options.contextValues(req));
    handler(uReq)
      .then(async (uRes) => universalResponseToNodeResponse(await clientErrorForUndecodableBody(uRes), res as never))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.logger.error({ rpc: `${handler.service.typeName}/${handler.method.name}`, err: reason }, "answer could not be written; stream ended");
        if (!res.writableEnded) res.destroy();
      });
  };
}

async function clientErrorForUndecodableBody(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  const header = uRes.header;
  const type = header?.get("content-type") ?? "";
  if (uRes.status === 200 && type.startsWith("application/connect+") && uRes.body !== undefined) {
    return { ...uRes, body: rewriteEndStream(uRes.body as AsyncIterable<Uint8Array>) };
  }
  if (uRes.status !== 500 || header === undefined || header.get("content-type") !== "application/json" || header.has("content-encoding") || uRes.body === undefined) return uRes;
  const chunks: Uint8Array[] = [];
  for await (const chunk of uRes.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const same = { ...uRes, body: oneChunk(bytes) };
  let error: { code?: unknown; message?: unknown };
  try {
    error = JSON.parse(bytes.toString("utf8")) as typeof error;
  } catch {
    return same;
  }
  if (error.code !== "internal" || typeof error.message !== "string" || !UNDECODABLE_BODY.test(error.message)) return same;
  const body = Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" }));
  header.set("content-length", String(body.byteLength));
  return { ...uRes, status: 400, body: oneChunk(body) };
}

/**
 * A Connect streaming answer: connect-es yields each envelope as one chunk; the end-stream envelope
 * (flag 0x02, not compressed) carries `{"error": {...}}` on failure.
 */
async function* rewriteEndStream(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    const flags = chunk[0] ?? 0;
    if ((flags & 0x02) === 0 || (flags & 0x01) !== 0 || chunk.byteLength < 5) {
      yield chunk;
      continue;
    }
    let end: { error?: { code?: unknown; message?: unknown } };
    try {
      end = JSON.parse(Buffer.from(chunk.subarray(5)).toString("utf8")) as typeof end;
    } catch {
      yield chunk;
      continue;
    }
    const error = end.error;
    if (error === undefined || error.code !== "internal" || typeof error.message !== "string" || !UNDECODABLE_BODY.test(error.message)) {
      yield chunk;
      continue;
    }
    const json = Buffer.from(JSON.stringify({ ...end, error: { ...error, code: "invalid_argument" } }));
    const out = Buffer.alloc(5 + json.byteLength);
    out[0] = flags;
    out.writeUInt32BE(json.byteLength, 1);
    json.copy(out, 5);
    yield out;
  }
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
