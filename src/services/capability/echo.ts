/**
 * `echo@1.0.0`: returns its input unchanged. For smoke tests, demos and the benchmark's
 * capability-path baseline. The payload must be UTF-8 JSON (as for every built-in); the output is the
 * very same bytes.
 */
import { parseJsonPayload, type CapabilityExecutor } from "./registry.js";

export const ECHO_ID = "echo@1.0.0";

export function createEchoCapability(): CapabilityExecutor<Uint8Array> {
  return Object.freeze({
    id: ECHO_ID,
    description: "Returns its input payload unchanged.",
    inputSchema: { $schema: "https://json-schema.org/draft/2020-12/schema", description: "Any JSON value." },
    outputSchema: { $schema: "https://json-schema.org/draft/2020-12/schema", description: "The input, byte for byte." },
    parse(payload: Uint8Array) {
      const parsed = parseJsonPayload(payload);
      return parsed.kind === "ok" ? { kind: "ok" as const, input: payload } : parsed;
    },
    async execute(input: Uint8Array) {
      return { kind: "ok" as const, payload: input };
    },
  });
}
