/**
 * A bad configuration value. It is a ConnectError (InvalidArgument), the project's one error type,
 * with the offending key attached. Its `rawMessage` is the sentence for the operator, e.g.
 * `config: server.port must be an integer 0–65535, got "abc" (from CCR_SERVER_PORT)`;
 * the CLI prints it and exits 2.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export class ConfigError extends ConnectError {
  /** The dotted key, e.g. "server.port"; "" when the error is about the file as a whole. */
  readonly key: string;

  constructor(message: string, key: string, cause?: unknown) {
    super(message, Code.InvalidArgument, undefined, undefined, cause);
    this.key = key;
  }

  // ConnectError's own instanceof check accepts any ConnectError-shaped value; a ConfigError is
  // one that was built by this class.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && Object.prototype.isPrototypeOf.call(ConfigError.prototype, value);
  }
}
