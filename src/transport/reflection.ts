/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and `buf curl` list,
 * describe and call every ccr server with no proto files.
 *
 * connect-es has no reflection (connectrpc/connect-es#507) and @grpc/reflection breaks on files
 * with imports (grpc/grpc-node#3018), so this serves the generated, embedded file descriptors
 * directly (recipe §3.2). Like grpc-go, a file answer carries the requested file plus those of its
 * transitive imports not yet sent on this stream. Embedded descriptors carry no source info, so
 * `describe` shows no comments.
 */
import { toBinary, type DescEnum, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { reflectionV1, reflectionV1alpha } from "../contract/index.js";

/** Every file and symbol reachable from a set of services. */
export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly messageTypes = new Set<string>();
  private readonly encoded = new Map<string, Uint8Array>();
  readonly serviceNames: readonly string[];

  constructor(services: readonly DescService[]) {
    const names = new Set<string>();
    for (const service of services) {
      names.add(service.typeName);
      this.addFile(service.file);
    }
    this.serviceNames = Object.freeze([...names].sort());
  }

  /** The file by its proto path, e.g. "ccr/v1/vault.proto". */
  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  /**
   * The file declaring a fully-qualified symbol: a service, method, message (nested too), field,
   * oneof, enum, enum value or extension. A leading "." is accepted.
   */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  isMessageType(typeName: string): boolean {
    return this.messageTypes.has(typeName.startsWith(".") ? typeName.slice(1) : typeName);
  }

  /**
   * The encoded FileDescriptorProtos for an answer: `file` itself, always, then its transitive
   * imports in breadth-first order, skipping those in `sent`. Records what it returns in `sent`.
   */
  withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const visited = new Set<string>();
    const queue: DescFile[] = [file];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const name = next.proto.name;
      if (visited.has(name)) continue;
      visited.add(name);
      if (next === file || !sent.has(name)) {
        out.push(this.encode(next));
        sent.add(name);
      }
      queue.push(...next.dependencies);
    }
    return out;
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file.proto.name);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file.proto.name, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const dependency of file.dependencies) this.addFile(dependency);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const message of file.messages) this.addMessage(file, message);
    for (const enumeration of file.enums) this.addEnum(file, enumeration);
    for (const extension of file.extensions) this.symbols.set(extension.typeName, file);
  }

  private addMessage(file: DescFile, message: DescMessage): void {
    this.symbols.set(message.typeName, file);
    this.messageTypes.add(message.typeName);
    for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(file, nested);
    for (const nested of message.nestedEnums) this.addEnum(file, nested);
    for (const extension of message.nestedExtensions) this.symbols.set(extension.typeName, file);
  }

  private addEnum(file: DescFile, enumeration: DescEnum): void {
    this.symbols.set(enumeration.typeName, file);
    // Enum values are scoped as siblings of their enum (protobuf language spec, "Enum definition").
    const scope = enumeration.typeName.slice(0, enumeration.typeName.length - enumeration.name.length);
    for (const value of enumeration.values) this.symbols.set(`${scope}${value.name}`, file);
  }
}

/** One reflection request, version-neutral. */
export type ReflectionQuery =
  | { case: "fileByFilename"; value: string }
  | { case: "fileContainingSymbol"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: "allExtensionNumbersOfType"; value: string }
  | { case: "listServices"; value: string }
  | { case: undefined; value?: undefined };

/** One reflection answer, version-neutral (the v1 and v1alpha messages have the same shape). */
export type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

function notFound(message: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } };
}

/** Answers one query; `sent` is the stream's record of files already sent. */
export function answerReflection(index: ReflectionIndex, query: ReflectionQuery, sent: Set<string>): ReflectionAnswer {
  switch (query.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.serviceNames.map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = index.fileByName(query.value);
      if (file === undefined) return notFound(`file "${query.value}" not found`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.withDependencies(file, sent) } };
    }
    case "fileContainingSymbol": {
      const file = index.fileContainingSymbol(query.value);
      if (file === undefined) return notFound(`symbol "${query.value}" not found`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.withDependencies(file, sent) } };
    }
    case "fileContainingExtension":
      // ccr's contracts declare no extensions.
      return notFound(
        `extension ${query.value.extensionNumber} of "${query.value.containingType}" not found`,
      );
    case "allExtensionNumbersOfType":
      if (!index.isMessageType(query.value)) return notFound(`type "${query.value}" not found`);
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: query.value, extensionNumber: [] } };
    case undefined:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request: set one message_request field" },
      };
  }
}

/** grpc.reflection.v1.ServerReflection over the index. */
export function reflectionV1Service(index: ReflectionIndex): ServiceImpl<typeof reflectionV1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answerReflection(index, request.messageRequest, sent),
        };
      }
    },
  };
}

/** grpc.reflection.v1alpha.ServerReflection over the index (grpcurl before 1.8.8, older tools). */
export function reflectionV1alphaService(
  index: ReflectionIndex,
): ServiceImpl<typeof reflectionV1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answerReflection(index, request.messageRequest, sent),
        };
      }
    },
  };
}
