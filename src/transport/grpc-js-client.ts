/**
 * An @grpc/grpc-js client driven by the protobuf-es schemas (recipe §3.3): grpc-js does the
 * transport, the generated schemas' toBinary/fromBinary do the serialization, so no protobufjs code
 * is generated. Used by interop tests (does our server speak real gRPC?) and where a grpc-js
 * channel is wanted (its own keepalive, name resolution, load balancing).
 *
 * The promise methods cover unary RPCs; streaming methods are on `raw` (a grpc-js generic client
 * whose method names are the schema's local names, e.g. `raw.connectNode()`).
 */
import { createRequire } from "node:module";
import type * as grpc from "@grpc/grpc-js";
import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * grpc-js, loaded on first use: the transport barrel (index.ts) exports this client, and loading
 * grpc-js costs every process about 10 MB of RSS even when, like every ccr server, it never makes a
 * grpc-js call. grpc-js is CommonJS, so a synchronous require keeps `createGrpcJsClient` synchronous.
 */
let grpcModule: typeof grpc | undefined;
function grpcJs(): typeof grpc {
  return (grpcModule ??= createRequire(import.meta.url)("@grpc/grpc-js") as typeof grpc);
}

export interface GrpcJsCallOptions {
  /** Deadline relative to now. */
  readonly timeoutMs?: number;
  /** Request metadata (ASCII values). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

type UnaryMethodNames<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { methodKind: "unary" } ? K : never;
}[keyof S["method"]];

/** Promise-based unary methods, named as on a connect client (`execute`, `getSecrets`, …). */
export type GrpcJsUnaryMethods<S extends DescService> = {
  [K in UnaryMethodNames<S>]: (
    request: MessageInitShape<S["method"][K]["input"]>,
    options?: GrpcJsCallOptions,
  ) => Promise<MessageShape<S["method"][K]["output"]>>;
};

export interface GrpcJsClient<S extends DescService> {
  readonly unary: GrpcJsUnaryMethods<S>;
  /** The underlying grpc-js client, for streaming methods and channel access. */
  readonly raw: grpc.Client & Record<string, unknown>;
  close(): void;
}

export interface GrpcJsClientOptions {
  /** grpc-js channel options, e.g. `{ "grpc.keepalive_time_ms": 30000 }`. */
  readonly channelOptions?: grpc.ChannelOptions;
}

/** "http://127.0.0.1:7400" or "127.0.0.1:7400" → "127.0.0.1:7400". */
export function grpcTarget(address: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return address;
  const url = new URL(address);
  if (url.protocol !== "http:") {
    throw new ConnectError(`grpc-js client: only cleartext http:// targets are supported, got "${address}"`, Code.InvalidArgument);
  }
  return url.host;
}

function serializer<D extends DescMessage>(desc: D): (value: MessageInitShape<D> | MessageShape<D>) => Buffer {
  return (value) => {
    const message = isMessage(value, desc) ? value : create(desc, value as MessageInitShape<D>);
    return Buffer.from(toBinary(desc, message));
  };
}

function deserializer<D extends DescMessage>(desc: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(desc, bytes);
}

function methodDefinition(method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  const requestStream = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
  const responseStream = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream,
    responseStream,
    requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output) as (value: unknown) => Buffer,
    responseDeserialize: deserializer(method.output),
    originalName: method.name,
  };
}

/** grpc-js status codes have the same numbers as Connect's codes. */
function toConnectError(error: grpc.ServiceError): ConnectError {
  const code = error.code in Code ? (error.code as number as Code) : Code.Unknown;
  const metadata = new Headers();
  for (const [key, value] of Object.entries(error.metadata?.getMap() ?? {})) {
    if (typeof value === "string") metadata.set(key, value);
  }
  return new ConnectError(error.details, code, metadata, undefined, error);
}

export function createGrpcJsClient<S extends DescService>(
  service: S,
  address: string,
  options: GrpcJsClientOptions = {},
): GrpcJsClient<S> {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.localName] = methodDefinition(method);
  const g = grpcJs();
  const Constructor = g.makeGenericClientConstructor(definition, service.name);
  const raw = new Constructor(grpcTarget(address), g.credentials.createInsecure(), options.channelOptions) as grpc.Client &
    Record<string, unknown>;

  const unary: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const def = definition[method.localName]!;
    unary[method.localName] = (request: unknown, callOptions: GrpcJsCallOptions = {}) =>
      new Promise((resolve, reject) => {
        const metadata = new g.Metadata();
        for (const [key, value] of Object.entries(callOptions.headers ?? {})) metadata.set(key, value);
        const grpcOptions: grpc.CallOptions = {};
        if (callOptions.timeoutMs !== undefined) grpcOptions.deadline = Date.now() + callOptions.timeoutMs;
        if (callOptions.signal?.aborted === true) {
          reject(new ConnectError("the call was canceled before it started", Code.Canceled));
          return;
        }
        const call = raw.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          request,
          metadata,
          grpcOptions,
          (error, response) => {
            callOptions.signal?.removeEventListener("abort", onAbort);
            if (error) reject(toConnectError(error));
            else resolve(response);
          },
        );
        const onAbort = (): void => call.cancel();
        callOptions.signal?.addEventListener("abort", onAbort, { once: true });
      });
  }

  return {
    unary: unary as GrpcJsUnaryMethods<S>,
    raw,
    close: () => raw.close(),
  };
}
