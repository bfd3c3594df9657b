/**
 * An in-process socket between postgres.js and PGlite, so the repositories run the SAME postgres.js
 * code (and the same type parsing) on the embedded database and on a Postgres server.
 *
 * postgres.js accepts a custom `socket` factory returning a Duplex (postgres.js README "Custom
 * socket"); for a custom socket it skips `connect` and writes the startup message at once. This
 * Duplex cuts the byte stream postgres.js writes into protocol frames and hands each frame to
 * `PGlite.execProtocolRawStream`, pushing PGlite's raw answer back as readable data
 * (../shared/reference/node-recipes.md §5.2, verified on PGlite 0.5.16).
 *
 * Frames (PostgreSQL protocol v3, "Message Formats"):
 * - before startup, a frame is `int32 length` (including itself) + body; the body of an SSLRequest
 *   or GSSENCRequest is a magic code, answered here with a single 'N' ("not supported");
 * - after startup, a frame is `byte type` + `int32 length` (including itself, not the type byte).
 *
 * PGlite is single-connection and not re-entrant, so frames are executed strictly one at a time:
 * Node's Writable calls `_write` for the next chunk only after the previous callback, and the
 * callback runs after PGlite has answered every frame of the chunk. Use it with `max: 1`.
 */
import { Duplex } from "node:stream";
import type { PGlite } from "@electric-sql/pglite";

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
const TERMINATE = 0x58; // 'X'
const SYNC = 0x53; // 'S'
const SIMPLE_QUERY = 0x51; // 'Q'
const NOT_SUPPORTED = Buffer.from("N");

export class PgliteSocket extends Duplex {
  /** postgres.js reads `readyState` to decide whether to send Terminate and wait for 'close'. */
  readyState: "open" | "closed" = "open";
  private pending: Buffer = Buffer.alloc(0);
  private started = false;
  /** The frames being executed, awaited before a rollback so the two never overlap in PGlite. */
  private executing: Promise<void> = Promise.resolve();

  constructor(private readonly pg: PGlite) {
    super();
  }

  override _read(): void {
    // Data is pushed as PGlite answers; nothing to pull.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const run = this.drainFrames();
    this.executing = run.catch(() => undefined);
    run.then(() => callback(), (error: unknown) => callback(asError(error)));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.readyState = "closed";
    this.executing.then(() => this.rollbackLeftoverTransaction()).then(
      () => callback(error),
      () => callback(error),
    );
  }

  private async drainFrames(): Promise<void> {
    for (;;) {
      if (this.readyState === "closed") return;
      const frame = this.nextFrame();
      if (frame === undefined) return;
      if (!this.started) {
        const code = frame.readInt32BE(4);
        if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
          this.push(NOT_SUPPORTED);
          continue;
        }
        if (code === CANCEL_REQUEST_CODE) {
          // A cancel request would open a second connection, which PGlite cannot have.
          this.end();
          return;
        }
        this.started = true;
        await this.execute(frame, true);
        continue;
      }
      const type = frame[0];
      if (type === TERMINATE) {
        // Not forwarded: PGlite is the whole database, not one backend of it, and closing this
        // connection must not shut it down. A later connection continues the same session (an
        // open transaction is rolled back on close; postgres.js names its statements afresh).
        this.end();
        return;
      }
      await this.execute(frame, type === SYNC || type === SIMPLE_QUERY);
    }
  }

  /** The next complete frame, or undefined when more bytes are needed. */
  private nextFrame(): Buffer | undefined {
    const headerLength = this.started ? 5 : 4;
    if (this.pending.length < headerLength) return undefined;
    const frameLength = this.started ? this.pending.readInt32BE(1) + 1 : this.pending.readInt32BE(0);
    if (this.pending.length < frameLength) return undefined;
    const frame = this.pending.subarray(0, frameLength);
    this.pending = this.pending.subarray(frameLength);
    return frame;
  }

  private async execute(frame: Buffer, syncToFs: boolean): Promise<void> {
    await this.pg.execProtocolRawStream(frame, {
      // Sync to a dataDir only at the end of a request, not after every Parse/Bind/Execute.
      syncToFs,
      // The view points into PGlite's WASM memory, which the next call reuses: copy it.
      onRawData: (data) => {
        if (this.readyState === "open") this.push(Buffer.from(data));
      },
    });
  }

  /**
   * The PGlite session outlives this connection. If the connection drops inside a transaction
   * (postgres.js destroyed it on an error or timeout), roll that transaction back, or the next
   * connection would run inside it.
   */
  private async rollbackLeftoverTransaction(): Promise<void> {
    if (this.pg.closed || !this.started) return;
    if (this.pg.isInTransaction()) await this.pg.exec("ROLLBACK");
  }
}

/** The socket factory for postgres.js: `postgres({ socket: () => pgliteSocket(pg), max: 1 })`. */
export function pgliteSocket(pg: PGlite): PgliteSocket {
  return new PgliteSocket(pg);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
