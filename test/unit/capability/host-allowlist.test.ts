import { describe, expect, it } from "vitest";
import { hostAllowed, parseHostRule } from "../../../src/services/capability/host-allowlist.js";

const rules = ["api.example.com", "*.internal.example", "10.0.0.1:8443", "[::1]"].map((e, i) => parseHostRule(e, `hosts[${i}]`));
const allowed = (url: string): boolean => hostAllowed(rules, new URL(url));

describe("http-fetch host allowlist", () => {
  it("matches a host on any port, case-insensitively", () => {
    expect(allowed("https://api.example.com/x")).toBe(true);
    expect(allowed("https://API.Example.COM:9999/x")).toBe(true);
    expect(allowed("https://evil.com/?api.example.com")).toBe(false);
    expect(allowed("https://api.example.com.evil.com/")).toBe(false);
    expect(allowed("https://xapi.example.com/")).toBe(false);
  });

  it("matches wildcards on subdomains only", () => {
    expect(allowed("https://a.internal.example/")).toBe(true);
    expect(allowed("https://a.b.internal.example/")).toBe(true);
    expect(allowed("https://internal.example/")).toBe(false);
    expect(allowed("https://notinternal.example/")).toBe(false);
  });

  it("matches a host:port entry on that port only (default ports count)", () => {
    expect(allowed("https://10.0.0.1:8443/")).toBe(true);
    expect(allowed("https://10.0.0.1/")).toBe(false);
    const https443 = [parseHostRule("svc.local:443", "h")];
    expect(hostAllowed(https443, new URL("https://svc.local/"))).toBe(true);
    expect(hostAllowed(https443, new URL("http://svc.local/"))).toBe(false);
  });

  it("matches IPv6 literals in brackets", () => {
    expect(allowed("http://[::1]:8080/")).toBe(true);
  });

  it("refuses malformed entries, naming them", () => {
    for (const bad of ["", "http://x.com", "x.com/path", "*.[::1]", "x.com:0", "x.com:70000", "a b"]) {
      expect(() => parseHostRule(bad, "capability.httpFetch.allowedHosts[3]")).toThrow("capability.httpFetch.allowedHosts[3]");
    }
  });
});
