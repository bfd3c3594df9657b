import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/transport/logger.js";

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (l: string) => void lines.push(l) } });
  return { logger, text: () => lines.join(""), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("createLogger redaction", () => {
  it("redacts every secret field name at depth 0, 1 and 2", () => {
    const { logger, text } = capture();
    for (const field of ["value", "secret", "privateKey", "seed", "masterKey", "plaintext"]) {
      logger.info({ [field]: `S0-${field}`, a: { [field]: `S1-${field}` }, b: { c: { [field]: `S2-${field}` } } }, "x");
    }
    expect(text()).not.toMatch(/S[012]-/);
  });

  it("redacts credentials in header objects, by exact header name", () => {
    const { logger, parsed } = capture();
    logger.info({ headers: { authorization: "Bearer t", "x-api-key": "k", accept: "a" } }, "x");
    logger.info({ req: { headers: { authorization: "Bearer t", cookie: "c" } } }, "y");
    const [first, second] = parsed();
    expect(first?.["headers"]).toEqual({ authorization: "[REDACTED]", "x-api-key": "[REDACTED]", accept: "a" });
    expect(second?.["req"]).toEqual({ headers: { authorization: "[REDACTED]", cookie: "[REDACTED]" } });
  });

  it("redacts secret-bearing bindings of child loggers", () => {
    const { logger, text } = capture();
    logger.child({ seed: "child-secret" }).info("x");
    expect(text()).not.toContain("child-secret");
  });
});
