import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { raceAbort, toWireError } from "../../../src/transport/call-observer.js";

describe("toWireError", () => {
  it("passes a ConnectError through", () => {
    const error = new ConnectError("no such secret", Code.NotFound);
    expect(toWireError(error)).toBe(error);
  });

  it("turns anything else into Internal \"internal error\", keeping the original as cause", () => {
    const bug = new TypeError("cannot read properties of undefined (reading 'key')");
    const wire = toWireError(bug);
    expect(wire.code).toBe(Code.Internal);
    expect(wire.rawMessage).toBe("internal error");
    expect(wire.cause).toBe(bug);
    expect(toWireError("a string").rawMessage).toBe("internal error");
  });

  it("prefers the aborted signal's ConnectError over the AbortError a handler got from it", () => {
    const controller = new AbortController();
    const reason = new ConnectError("server shutting down", Code.Unavailable);
    controller.abort(reason);
    expect(toWireError(new DOMException("aborted", "AbortError"), controller.signal)).toBe(reason);
  });
});

describe("raceAbort", () => {
  it("rejects with the signal's reason when it aborts first", async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => undefined);
    const raced = raceAbort(never, controller.signal);
    const reason = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    controller.abort(reason);
    await expect(raced).rejects.toBe(reason);
  });

  it("settles with the promise when it comes first", async () => {
    expect(await raceAbort(Promise.resolve(42), new AbortController().signal)).toBe(42);
  });
});
