/**
 * A JSON reader that accepts and rejects exactly what Go's `encoding/json` accepts and rejects, and
 * reports syntax errors in Go's words, so that `parseWorkflowAttributes` (./attributes.ts) can
 * reproduce `json.Unmarshal` (reference chainlink-workflows.md §3.3).
 *
 * Why not `JSON.parse`: it collapses duplicate keys before anyone can see them, strips a leading
 * byte-order mark that Go rejects, and says nothing Go would say. The grammar is RFC 8259 in both,
 * so the differences are only in what survives parsing and in the messages.
 *
 * Like Go's `checkValid`, the whole input is scanned before anything is decoded: a syntax error
 * anywhere wins over a type error earlier in the text. The scanner is iterative (no recursion), so
 * nesting is bounded only by Go's own limit of 10 000 levels.
 */

/** A parsed JSON value with every object entry kept, in order, duplicates included. */
export type GoJsonValue =
  | { readonly kind: "object"; readonly entries: ReadonlyArray<readonly [string, GoJsonValue]> }
  | { readonly kind: "array"; readonly items: readonly GoJsonValue[] }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "number"; readonly text: string }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "null" };

export type GoJsonParse = { readonly kind: "ok"; readonly value: GoJsonValue } | { readonly kind: "syntax-error"; readonly message: string };

/** Go's `maxNestingDepth` (encoding/json/scanner.go). */
const MAX_NESTING_DEPTH = 10_000;

const UNEXPECTED_END = "unexpected end of JSON input";

class SyntaxError_ extends Error {}

/**
 * Parses UTF-8 `bytes` as Go does. Invalid UTF-8 inside strings becomes U+FFFD (Go does the same
 * when it unquotes); a byte-order mark is not skipped (Go rejects it).
 */
export function parseGoJson(bytes: Uint8Array): GoJsonParse {
  const text = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes);
  try {
    return { kind: "ok", value: new Scanner(text).parseDocument() };
  } catch (error) {
    if (error instanceof SyntaxError_) return { kind: "syntax-error", message: error.message };
    throw error;
  }
}

type MutableObject = { kind: "object"; entries: Array<readonly [string, GoJsonValue]> };
type MutableArray = { kind: "array"; items: GoJsonValue[] };
type Frame = { node: MutableObject; key: string } | { node: MutableArray };

class Scanner {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): GoJsonValue {
    const stack: Frame[] = [];
    let value: GoJsonValue | undefined;
    // Each turn either opens a container (and loops to read its first member) or completes a value
    // and attaches it to the enclosing container, closing containers as their ends are read.
    for (;;) {
      this.skipSpace();
      const c = this.need();
      if (c === "{" || c === "[") {
        if (stack.length + 1 > MAX_NESTING_DEPTH) throw this.error(c, "exceeded max depth");
        this.pos += 1;
        this.skipSpace();
        if (c === "{") {
          const node: MutableObject = { kind: "object", entries: [] };
          if (this.need() === "}") {
            this.pos += 1;
            value = node;
          } else {
            stack.push({ node, key: this.readKey() });
            continue;
          }
        } else {
          const node: MutableArray = { kind: "array", items: [] };
          if (this.need() === "]") {
            this.pos += 1;
            value = node;
          } else {
            stack.push({ node });
            continue;
          }
        }
      } else {
        value = this.readScalar(c);
      }
      // Attach `value` to its container; close every container whose end follows.
      for (;;) {
        const frame = stack.at(-1);
        if (frame === undefined) {
          this.skipSpace();
          if (this.pos < this.text.length) throw this.error(this.charAt(this.pos), "after top-level value");
          return value;
        }
        this.skipSpace();
        if ("key" in frame) {
          frame.node.entries.push([frame.key, value]);
          const next = this.need();
          if (next === ",") {
            this.pos += 1;
            this.skipSpace();
            frame.key = this.readKey();
            break;
          }
          if (next !== "}") throw this.error(next, "after object key:value pair");
          this.pos += 1;
          stack.pop();
          value = frame.node;
        } else {
          frame.node.items.push(value);
          const next = this.need();
          if (next === ",") {
            this.pos += 1;
            break;
          }
          if (next !== "]") throw this.error(next, "after array element");
          this.pos += 1;
          stack.pop();
          value = frame.node;
        }
      }
    }
  }

  /** Reads `"key"` and the `:` after it; the cursor is on the opening quote's position. */
  private readKey(): string {
    const c = this.need();
    if (c !== '"') throw this.error(c, "looking for beginning of object key string");
    const key = this.readString();
    this.skipSpace();
    const colon = this.need();
    if (colon !== ":") throw this.error(colon, "after object key");
    this.pos += 1;
    return key;
  }

  private readScalar(c: string): GoJsonValue {
    if (c === '"') return { kind: "string", value: this.readString() };
    if (c === "-" || (c >= "0" && c <= "9")) return { kind: "number", text: this.readNumber() };
    if (c === "t") {
      this.readLiteral("true");
      return { kind: "bool", value: true };
    }
    if (c === "f") {
      this.readLiteral("false");
      return { kind: "bool", value: false };
    }
    if (c === "n") {
      this.readLiteral("null");
      return { kind: "null" };
    }
    throw this.error(c, "looking for beginning of value");
  }

  private readLiteral(word: string): void {
    for (let i = 1; i < word.length; i++) {
      const c = this.charAt(this.pos + i);
      if (c === "") throw new SyntaxError_(UNEXPECTED_END);
      if (c !== word[i]) throw this.error(c, `in literal ${word} (expecting '${word[i]}')`);
    }
    this.pos += word.length;
  }

  private readNumber(): string {
    const start = this.pos;
    if (this.charAt(this.pos) === "-") {
      this.pos += 1;
      const d = this.need();
      if (!isDigit(d)) throw this.error(d, "in numeric literal");
    }
    if (this.charAt(this.pos) === "0") {
      this.pos += 1;
    } else {
      while (isDigit(this.charAt(this.pos))) this.pos += 1;
    }
    if (this.charAt(this.pos) === ".") {
      this.pos += 1;
      const d = this.need();
      if (!isDigit(d)) throw this.error(d, "after decimal point in numeric literal");
      while (isDigit(this.charAt(this.pos))) this.pos += 1;
    }
    const e = this.charAt(this.pos);
    if (e === "e" || e === "E") {
      this.pos += 1;
      let d = this.need();
      if (d === "+" || d === "-") {
        this.pos += 1;
        d = this.need();
      }
      if (!isDigit(d)) throw this.error(d, "in exponent of numeric literal");
      while (isDigit(this.charAt(this.pos))) this.pos += 1;
    }
    return this.text.slice(start, this.pos);
  }

  /** Reads a string literal starting at the opening quote and returns its unescaped value. */
  private readString(): string {
    this.pos += 1;
    let out = "";
    let runStart = this.pos;
    for (;;) {
      const c = this.need();
      if (c === '"') {
        out += this.text.slice(runStart, this.pos);
        this.pos += 1;
        return out;
      }
      if (c < " ") throw this.error(c, "in string literal");
      if (c !== "\\") {
        this.pos += 1;
        continue;
      }
      out += this.text.slice(runStart, this.pos);
      this.pos += 1;
      const escape = this.need();
      this.pos += 1;
      switch (escape) {
        case '"':
        case "\\":
        case "/":
          out += escape;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u":
          out += this.readUnicodeEscape();
          break;
        default:
          throw this.error(escape, "in string escape code");
      }
      runStart = this.pos;
    }
  }

  /**
   * After `\u`: four hex digits; a high surrogate followed by an escaped low surrogate is one code
   * point, and any other surrogate becomes U+FFFD (Go's `unquote`).
   */
  private readUnicodeEscape(): string {
    const unit = this.readHex4();
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
    if (unit <= 0xdbff && this.text.startsWith("\\u", this.pos)) {
      const save = this.pos;
      this.pos += 2;
      const low = this.readHex4();
      if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
      // Not a pair: the first is replaced and the second escape is read on its own.
      this.pos = save;
    }
    return "\uFFFD";
  }

  private readHex4(): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.need();
      const digit = Number.parseInt(c, 16);
      if (!/^[0-9a-fA-F]$/.test(c)) throw this.error(c, "in \\u hexadecimal character escape");
      value = value * 16 + digit;
      this.pos += 1;
    }
    return value;
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      // Go's isSpace: space, \t, \n, \r only.
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos += 1;
      else return;
    }
  }

  /** The character at the cursor; end of input is Go's "unexpected end of JSON input". */
  private need(): string {
    if (this.pos >= this.text.length) throw new SyntaxError_(UNEXPECTED_END);
    return this.charAt(this.pos);
  }

  /** The code point at `index` as a string ("" past the end). */
  private charAt(index: number): string {
    const code = this.text.codePointAt(index);
    return code === undefined ? "" : String.fromCodePoint(code);
  }

  private error(c: string, context: string): SyntaxError_ {
    return new SyntaxError_(`invalid character ${quoteChar(c)} ${context}`);
  }
}

function isDigit(c: string): boolean {
  return c.length === 1 && c >= "0" && c <= "9";
}

/**
 * Go's `quoteChar`: the offending byte quoted like a Go rune literal. Go scans bytes, so for a
 * non-ASCII character it shows the first byte of its UTF-8 encoding read as Latin-1.
 */
export function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  let code = c.codePointAt(0) ?? 0;
  if (code >= 0x80) code = new TextEncoder().encode(c)[0] ?? 0;
  return `'${goQuoteRune(code)}'`;
}

/** strconv.Quote's body for one rune below U+0100. */
function goQuoteRune(code: number): string {
  switch (code) {
    case 0x07:
      return "\\a";
    case 0x08:
      return "\\b";
    case 0x0c:
      return "\\f";
    case 0x0a:
      return "\\n";
    case 0x0d:
      return "\\r";
    case 0x09:
      return "\\t";
    case 0x0b:
      return "\\v";
    case 0x5c:
      return "\\\\";
  }
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code >= 0x80 && code < 0xa0) return `\\u${code.toString(16).padStart(4, "0")}`;
  // U+00AD (soft hyphen) is not printable in Go's unicode tables.
  if (code === 0xad) return "\\u00ad";
  return String.fromCodePoint(code);
}
