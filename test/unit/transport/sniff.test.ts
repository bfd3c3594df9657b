import { describe, expect, it } from "vitest";
import { http2Preface, sniffProtocol } from "../../../src/transport/one-port.js";

describe("sniffProtocol", () => {
  it("recognises the full HTTP/2 preface, even with a frame after it", () => {
    expect(sniffProtocol(http2Preface)).toBe("h2");
    expect(sniffProtocol(Buffer.concat([http2Preface, Buffer.from([0, 0, 0, 4])]))).toBe("h2");
  });

  it("waits while the bytes are still a prefix of the preface", () => {
    expect(sniffProtocol(Buffer.alloc(0))).toBeUndefined();
    expect(sniffProtocol(Buffer.from("PRI * HTTP/2"))).toBeUndefined();
  });

  it("decides HTTP/1.1 as soon as the bytes differ, even for a PRI-like start", () => {
    expect(sniffProtocol(Buffer.from("POST /ccr.v1.Vault/PutSecret HTTP/1.1\r\n"))).toBe("http/1.1");
    expect(sniffProtocol(Buffer.from("G"))).toBe("http/1.1");
    expect(sniffProtocol(Buffer.from("PRI * HTTP/1.1"))).toBe("http/1.1");
  });
});
