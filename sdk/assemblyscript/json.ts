// A small JSON value type, parser and serializer for guests (AssemblyScript).
//
// Why not a library: the AS JSON packages on npm either need a compiler transform or lag behind
// assemblyscript 0.28; guests only need a tree, a strict parser (RFC 8259) and a serializer. Object
// keys keep their order; when a parsed object repeats a key, `get` answers the last one (as
// JavaScript's JSON.parse and Go's encoding/json do). Numbers are f64.

export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

export class JsonValue {
  kind: JsonKind;
  private b: bool = false;
  private n: f64 = 0;
  private s: string = "";
  private items: JsonValue[] = [];
  private names: string[] = [];

  constructor(kind: JsonKind) {
    this.kind = kind;
  }

  isNull(): bool {
    return this.kind == JsonKind.Null;
  }
  isBool(): bool {
    return this.kind == JsonKind.Bool;
  }
  isNumber(): bool {
    return this.kind == JsonKind.Number;
  }
  isString(): bool {
    return this.kind == JsonKind.String;
  }
  isArray(): bool {
    return this.kind == JsonKind.Array;
  }
  isObject(): bool {
    return this.kind == JsonKind.Object;
  }

  /** The boolean; false for any other kind. */
  asBool(): bool {
    return this.kind == JsonKind.Bool ? this.b : false;
  }
  /** The number; NaN for any other kind. */
  asNumber(): f64 {
    return this.kind == JsonKind.Number ? this.n : NaN;
  }
  /** The string; "" for any other kind. */
  asString(): string {
    return this.kind == JsonKind.String ? this.s : "";
  }

  /** Array elements or object values, in order. */
  get length(): i32 {
    return this.kind == JsonKind.Array || this.kind == JsonKind.Object ? this.items.length : 0;
  }
  /** Element `i` of an array (or value `i` of an object); null when out of range. */
  at(i: i32): JsonValue | null {
    if (this.kind != JsonKind.Array && this.kind != JsonKind.Object) return null;
    if (i < 0 || i >= this.items.length) return null;
    return this.items[i];
  }
  /** An object's keys, in order (repeated keys included). */
  keys(): string[] {
    return this.kind == JsonKind.Object ? this.names.slice(0) : [];
  }

  /** An object's member; the last one if the key repeats; null when absent or not an object. */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] == key) return this.items[i];
    }
    return null;
  }
  /** Follows a dotted path of object keys ("data.price"); null when any step is missing. */
  path(dotted: string): JsonValue | null {
    const steps = dotted.split(".");
    let cur: JsonValue | null = this;
    for (let i = 0; i < steps.length; i++) {
      if (cur === null) return null;
      cur = cur.get(steps[i]);
    }
    return cur;
  }
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v !== null && v.isString() ? v.asString() : fallback;
  }
  getNumber(key: string, fallback: f64 = NaN): f64 {
    const v = this.get(key);
    return v !== null && v.isNumber() ? v.asNumber() : fallback;
  }
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    return v !== null && v.isBool() ? v.asBool() : fallback;
  }

  /** Sets an object member (replacing the last one with that key); returns this. */
  set(key: string, value: JsonValue): JsonValue {
    assert(this.kind == JsonKind.Object, "JsonValue.set: not an object");
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] == key) {
        this.items[i] = value;
        return this;
      }
    }
    this.names.push(key);
    this.items.push(value);
    return this;
  }
  /** Appends to an array; returns this. */
  push(value: JsonValue): JsonValue {
    assert(this.kind == JsonKind.Array, "JsonValue.push: not an array");
    this.items.push(value);
    return this;
  }

  /** Compact JSON text. */
  stringify(): string {
    const out: string[] = [];
    writeValue(this, out);
    return out.join("");
  }
  toString(): string {
    return this.stringify();
  }

  // Used by the parser and the factories below.
  static make(kind: JsonKind): JsonValue {
    return new JsonValue(kind);
  }
  setBoolRaw(v: bool): void {
    this.b = v;
  }
  setNumberRaw(v: f64): void {
    this.n = v;
  }
  setStringRaw(v: string): void {
    this.s = v;
  }
  appendRaw(name: string, v: JsonValue): void {
    this.names.push(name);
    this.items.push(v);
  }
}

export function jsonNull(): JsonValue {
  return new JsonValue(JsonKind.Null);
}
export function jsonBool(v: bool): JsonValue {
  const j = new JsonValue(JsonKind.Bool);
  j.setBoolRaw(v);
  return j;
}
export function jsonNumber(v: f64): JsonValue {
  const j = new JsonValue(JsonKind.Number);
  j.setNumberRaw(v);
  return j;
}
export function jsonString(v: string): JsonValue {
  const j = new JsonValue(JsonKind.String);
  j.setStringRaw(v);
  return j;
}
export function jsonArray(): JsonValue {
  return new JsonValue(JsonKind.Array);
}
export function jsonObject(): JsonValue {
  return new JsonValue(JsonKind.Object);
}

// ---------------------------------------------------------------------------------------------
// Serializer

const HEX = "0123456789abcdef";

function numberText(n: f64): string {
  // JSON has no NaN or Infinity.
  if (!isFinite(n)) return "null";
  if (n == Math.floor(n) && Math.abs(n) < 9007199254740992.0) return (<i64>n).toString();
  return n.toString();
}

/** Appends `s` as a JSON string literal. */
export function quoteJson(s: string, out: string[]): void {
  out.push('"');
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc = "";
    if (c == 0x22) esc = '\\"';
    else if (c == 0x5c) esc = "\\\\";
    else if (c < 0x20) {
      if (c == 0x0a) esc = "\\n";
      else if (c == 0x0d) esc = "\\r";
      else if (c == 0x09) esc = "\\t";
      else if (c == 0x08) esc = "\\b";
      else if (c == 0x0c) esc = "\\f";
      else esc = "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    }
    if (esc.length > 0) {
      if (i > start) out.push(s.substring(start, i));
      out.push(esc);
      start = i + 1;
    }
  }
  if (start < s.length) out.push(start == 0 ? s : s.substring(start));
  out.push('"');
}

function writeValue(v: JsonValue, out: string[]): void {
  switch (v.kind) {
    case JsonKind.Null:
      out.push("null");
      break;
    case JsonKind.Bool:
      out.push(v.asBool() ? "true" : "false");
      break;
    case JsonKind.Number:
      out.push(numberText(v.asNumber()));
      break;
    case JsonKind.String:
      quoteJson(v.asString(), out);
      break;
    case JsonKind.Array: {
      out.push("[");
      const n = v.length;
      for (let i = 0; i < n; i++) {
        if (i > 0) out.push(",");
        writeValue(v.at(i)!, out);
      }
      out.push("]");
      break;
    }
    case JsonKind.Object: {
      out.push("{");
      const names = v.keys();
      for (let i = 0; i < names.length; i++) {
        if (i > 0) out.push(",");
        quoteJson(names[i], out);
        out.push(":");
        writeValue(v.at(i)!, out);
      }
      out.push("}");
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

const MAX_DEPTH = 128;
let lastError = "";

/** Why the last `parseJson` returned null. */
export function jsonError(): string {
  return lastError;
}

/** Parses RFC 8259 JSON; null (and `jsonError()`) when the text is not exactly one JSON value. */
export function parseJson(text: string): JsonValue | null {
  const p = new Parser(text);
  let v = p.value();
  if (v !== null) {
    p.ws();
    if (p.pos != text.length) v = p.fail("unexpected trailing characters");
  }
  lastError = v === null ? p.error : "";
  return v;
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

class Parser {
  pos: i32 = 0;
  depth: i32 = 0;
  error: string = "";

  constructor(public text: string) {}

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) this.error = message + " at offset " + this.pos.toString();
    return null;
  }

  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  ws(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  value(): JsonValue | null {
    this.ws();
    const c = this.peek();
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      const s = this.string();
      return s === null ? null : jsonString(s);
    }
    if (c == 0x2d || isDigit(c)) return this.number();
    if (this.literal("true")) return jsonBool(true);
    if (this.literal("false")) return jsonBool(false);
    if (this.literal("null")) return jsonNull();
    return this.fail(c < 0 ? "unexpected end of input" : "unexpected character");
  }

  literal(word: string): bool {
    if (this.text.length - this.pos < word.length) return false;
    if (this.text.substring(this.pos, this.pos + word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  number(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) {
      this.pos++;
    } else if (isDigit(this.peek())) {
      while (isDigit(this.peek())) this.pos++;
    } else {
      return this.fail("invalid number");
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) return this.fail("invalid number");
      while (isDigit(this.peek())) this.pos++;
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (!isDigit(this.peek())) return this.fail("invalid number");
      while (isDigit(this.peek())) this.pos++;
    }
    return jsonNumber(parseFloat(this.text.substring(start, this.pos)));
  }

  /** At a '"': the decoded string, or null. */
  string(): string | null {
    this.pos++; // opening quote
    const parts: string[] = [];
    let start = this.pos;
    while (true) {
      if (this.pos >= this.text.length) {
        this.fail("unterminated string");
        return null;
      }
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) break;
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      if (this.pos > start) parts.push(this.text.substring(start, this.pos));
      this.pos++;
      const e = this.peek();
      this.pos++;
      if (e == 0x22) parts.push('"');
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        let code = 0;
        for (let k = 0; k < 4; k++) {
          const h = hexValue(this.peek());
          if (h < 0) {
            this.fail("invalid \\u escape");
            return null;
          }
          code = (code << 4) | h;
          this.pos++;
        }
        // Surrogate pairs arrive as two escapes and join into one UTF-16 string naturally.
        parts.push(String.fromCharCode(code));
      } else {
        this.pos--;
        this.fail("invalid escape");
        return null;
      }
      start = this.pos;
    }
    const tail = this.text.substring(start, this.pos);
    this.pos++; // closing quote
    if (parts.length == 0) return tail;
    parts.push(tail);
    return parts.join("");
  }

  array(): JsonValue | null {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.pos++;
    const arr = jsonArray();
    this.ws();
    if (this.peek() == 0x5d) {
      this.pos++;
      this.depth--;
      return arr;
    }
    while (true) {
      const v = this.value();
      if (v === null) return null;
      arr.push(v);
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) break;
      if (c != 0x2c) {
        this.pos--;
        return this.fail("expected ',' or ']'");
      }
    }
    this.depth--;
    return arr;
  }

  object(): JsonValue | null {
    if (++this.depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.pos++;
    const obj = jsonObject();
    this.ws();
    if (this.peek() == 0x7d) {
      this.pos++;
      this.depth--;
      return obj;
    }
    while (true) {
      this.ws();
      if (this.peek() != 0x22) return this.fail("expected a string key");
      const key = this.string();
      if (key === null) return null;
      this.ws();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.pos++;
      const v = this.value();
      if (v === null) return null;
      obj.appendRaw(key, v);
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) break;
      if (c != 0x2c) {
        this.pos--;
        return this.fail("expected ',' or '}'");
      }
    }
    this.depth--;
    return obj;
  }
}
