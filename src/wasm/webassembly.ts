/**
 * The slice of the global `WebAssembly` API the runtime uses, typed locally.
 *
 * The project compiles against `lib: ES2023` + `@types/node`, neither of which declares the
 * `WebAssembly` namespace (it lives in lib.dom). Declaring it globally here would clash the day
 * someone adds the DOM lib, so the runtime reaches the object through `globalThis` with its own
 * minimal types instead.
 */

/** A compiled module (opaque: only the runtime and the worker look inside). */
export interface WasmModule {
  readonly __wasmModule: unique symbol;
}

export interface WasmImportDescriptor {
  readonly module: string;
  readonly name: string;
  readonly kind: "function" | "table" | "memory" | "global" | "tag";
}

export interface WasmExportDescriptor {
  readonly name: string;
  readonly kind: "function" | "table" | "memory" | "global" | "tag";
}

interface WebAssemblyApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: {
    imports(module: WasmModule): WasmImportDescriptor[];
    exports(module: WasmModule): WasmExportDescriptor[];
  };
  CompileError: new (...args: never[]) => Error;
}

export const webAssembly: WebAssemblyApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Compiles, answering a message instead of throwing on invalid bytes. */
export async function compileWasm(bytes: Uint8Array): Promise<{ kind: "ok"; module: WasmModule } | { kind: "invalid"; message: string }> {
  try {
    return { kind: "ok", module: await webAssembly.compile(bytes) };
  } catch (error) {
    return { kind: "invalid", message: error instanceof Error ? error.message : String(error) };
  }
}
