import { describe, expect, it } from "vitest";
import { CallAbort } from "../../../src/transport/call-signal.js";

describe("CallAbort", () => {
  it("runs function and handleEvent listeners once, in order, with the reason set", () => {
    const abort = new CallAbort();
    const seen: string[] = [];
    abort.addEventListener("abort", () => seen.push(`fn:${String(abort.signal.reason)}`));
    abort.addEventListener("abort", { handleEvent: () => seen.push(`obj:${String(abort.reason)}`) });
    abort.abort("gone");
    abort.abort("again");
    expect(seen).toEqual(["fn:gone", "obj:gone"]);
    expect(abort.aborted).toBe(true);
    expect(abort.reason).toBe("gone");
  });

  it("does not run removed listeners, whether one or several were registered", () => {
    const one = new CallAbort();
    const listener = { calls: 0, handleEvent() { this.calls++; } };
    one.addEventListener("abort", listener);
    one.removeEventListener("abort", listener);
    one.abort("x");
    expect(listener.calls).toBe(0);

    const several = new CallAbort();
    const ran: number[] = [];
    const fns = [0, 1, 2].map((i) => () => ran.push(i));
    for (const f of fns) several.addEventListener("abort", f);
    several.removeEventListener("abort", fns[1] as () => void);
    several.abort("y");
    expect(ran).toEqual([0, 2]);
  });

  it("ignores listeners added after the abort (as AbortSignal's 'once' semantics leave nothing to run)", () => {
    const abort = new CallAbort();
    abort.abort("done");
    let ran = false;
    abort.addEventListener("abort", () => (ran = true));
    expect(ran).toBe(false);
  });
});
