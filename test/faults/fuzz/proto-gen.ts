/**
 * Schema-driven malformed input for any protobuf message (driven by the generated descriptors, so
 * every public method of every service is covered without hand-written cases):
 *
 *   - `randomMessage`: a schema-valid message with hostile values (empty, huge, wrong-looking ids,
 *     control characters, unknown enum numbers, extreme integers) — tests validation;
 *   - `mutateBinary`: wire-level corruption of a serialized message (truncation, bit flips, wrong
 *     wire types, overlong varints, lengths past the end, bogus groups, random bytes) — tests parsing;
 *   - `mutateJson`: proto-JSON corruption (wrong types, unknown fields, huge or non-finite numbers,
 *     deep nesting, duplicate keys, bad escapes) and text-level breakage — tests JSON parsing.
 * Every function draws only from the given Prng, so a case reproduces from its seed.
 */
import { create, toBinary, toJson, ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { Prng } from "./prng.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Strings that make validators and parsers work. None is a fetchable URL (servers must not be made to fetch). */
export function hostileString(rng: Prng): string {
  switch (rng.below(22)) {
    case 0:
      return "";
    case 1:
      return "x".repeat(rng.pick([199, 200, 201, 1024, 65_536]));
    case 2:
      return hex(rng.bytes(32)); // a valid-looking 64-hex id
    case 3:
      return hex(rng.bytes(32)).toUpperCase();
    case 4:
      return `0x${hex(rng.bytes(20))}`; // an address, not checksummed
    case 5:
      return "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    case 6:
      return rng.pick(["echo@1.0.0", "http-fetch@1.0.0", "nope@1.0.0", "echo", "@", "echo@", "echo@1.0.0-alpha+x", "confidential-workflows@1.0.0-alpha"]);
    case 7:
      return rng.pick(["main", "MAIN", "../main", "main/..", " main", "a/b", "\u0000", "ns\u0000key"]);
    case 8:
      return "\u0000\u0001\u0002\u001f\u007f";
    case 9:
      return "\ud800"; // a lone surrogate (not valid UTF-16)
    case 10:
      return "ÿ€😀\u202e\ufeff";
    case 11:
      return rng.pick(["%", "%%", "%00", "%zz", "\\", '"', "'", "{", "}", "[]", "null", "true", "-1", "1e309", "NaN"]);
    case 12:
      return "a".repeat(rng.int(1, 64));
    case 13:
      return rng.pick(["ftp://127.0.0.1/x", "data:,x", "javascript:alert(1)", "gopher://x", "not a url", "://", "http:", "https:"]);
    case 14:
      return String(rng.u32());
    case 15:
      return rng.pick(["confidential.secrets.get", "confidential.capability.execute", "Execute", "GET", "POST"]);
    case 16:
      return Buffer.from(rng.bytes(rng.length(64))).toString("latin1");
    case 17:
      return "\n".repeat(rng.int(1, 200));
    case 18:
      return Buffer.from(rng.bytes(rng.length(48))).toString("base64");
    case 19:
      return `req-${rng.u32()}`;
    case 20:
      return "𝔘".repeat(rng.int(50, 150)); // multi-unit characters around length limits
    default:
      return rng.pick(["API_KEY", "missing", "key with spaces", "k".repeat(300)]);
  }
}

export function hostileBytes(rng: Prng): Uint8Array {
  switch (rng.below(8)) {
    case 0:
      return new Uint8Array(0);
    case 1:
      return rng.bytes(32);
    case 2:
      return rng.bytes(rng.pick([31, 33, 63, 64, 65, 96]));
    case 3:
      return rng.bytes(rng.length(2048));
    case 4:
      return new Uint8Array(rng.pick([32, 64, 1024]));
    case 5:
      return new TextEncoder().encode(JSON.stringify({ url: "ftp://x", payload: hostileString(rng) }));
    case 6:
      return new Uint8Array(rng.int(1, 8)).fill(0xff);
    default:
      return rng.bytes(rng.int(1, 16));
  }
}

function int32(rng: Prng): number {
  return rng.pick([0, 1, -1, 0x7fffffff, -0x80000000, rng.int(-1000, 1000), rng.u32() | 0]);
}

function uint32(rng: Prng): number {
  return rng.pick([0, 1, 0xffffffff, rng.u32(), rng.below(100)]);
}

function int64(rng: Prng): bigint {
  return rng.pick([0n, 1n, -1n, 0x7fffffffffffffffn, -0x8000000000000000n, BigInt(Date.now()), BigInt(Date.now() + 3_600_000), BigInt.asIntN(64, BigInt(rng.u32()) * BigInt(rng.u32()) * 3n)]);
}

function uint64(rng: Prng): bigint {
  return rng.pick([0n, 1n, 0xffffffffffffffffn, BigInt(Date.now()), BigInt(rng.u32())]);
}

function scalarValue(rng: Prng, t: ScalarType): unknown {
  switch (t) {
    case ScalarType.STRING:
      return hostileString(rng);
    case ScalarType.BYTES:
      return hostileBytes(rng);
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return rng.pick([0, -0, 1.5, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32(rng);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return uint32(rng);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64(rng);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return uint64(rng);
  }
}

function enumValue(rng: Prng, values: readonly { number: number }[]): number {
  return rng.chance(0.8) && values.length > 0 ? rng.pick(values).number : rng.pick([-1, 99, 0x7fffffff]);
}

function fieldValue(rng: Prng, field: DescField, depth: number): unknown {
  const count = (): number => (rng.chance(0.05) ? rng.int(50, 300) : rng.below(4));
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(rng, field.scalar);
    case "enum":
      return enumValue(rng, field.enum.values);
    case "message":
      return depth >= 4 ? undefined : randomInit(rng, field.message, depth + 1);
    case "list": {
      const n = count();
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) {
        if (field.listKind === "scalar") out.push(scalarValue(rng, field.scalar));
        else if (field.listKind === "enum") out.push(enumValue(rng, field.enum.values));
        else if (depth < 4) out.push(randomInit(rng, field.message, depth + 1));
      }
      return out;
    }
    case "map": {
      const n = count();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = String(field.mapKey === ScalarType.STRING ? hostileString(rng) : rng.u32());
        if (field.mapKind === "scalar") out[key] = scalarValue(rng, field.scalar);
        else if (field.mapKind === "enum") out[key] = enumValue(rng, field.enum.values);
        else if (depth < 4) out[key] = randomInit(rng, field.message, depth + 1);
      }
      return out;
    }
  }
}

/** A random init object for `desc` (most fields set, one case per oneof or none). */
function randomInit(rng: Prng, desc: DescMessage, depth = 0): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const field of desc.fields) {
    if (field.oneof !== undefined) continue;
    if (!rng.chance(0.7)) continue;
    const v = fieldValue(rng, field, depth);
    if (v !== undefined) init[field.localName] = v;
  }
  for (const oneof of desc.oneofs) {
    if (!rng.chance(0.75) || oneof.fields.length === 0) continue;
    const field = rng.pick(oneof.fields);
    const v = fieldValue(rng, field, depth);
    if (v !== undefined) init[oneof.localName] = { case: field.localName, value: v };
  }
  return init;
}

/** A schema-valid message with hostile values. */
export function randomMessage(rng: Prng, desc: DescMessage): Message {
  return create(desc, randomInit(rng, desc) as never);
}

/** Its binary form; lone surrogates and the like are replaced by protobuf-es as it encodes UTF-8. */
export function randomBinary(rng: Prng, desc: DescMessage): Uint8Array {
  return toBinary(desc, randomMessage(rng, desc));
}

// ── binary mutations ───────────────────────────────────────────────────────────────────────────────

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)))));
}

export const BINARY_MUTATIONS = [
  "truncate",
  "bitflip",
  "insert",
  "random",
  "wrong-wire-type",
  "invalid-wire-type",
  "overlong-varint",
  "length-past-end",
  "huge-length",
  "unterminated-group",
  "end-group",
  "field-zero",
  "duplicate-fields",
  "unknown-fields",
  "nested-garbage",
] as const;
export type BinaryMutation = (typeof BINARY_MUTATIONS)[number];

/** Corrupts a serialized message; returns the bytes and what was done. */
export function mutateBinary(rng: Prng, valid: Uint8Array, fieldNumbers: readonly number[]): { bytes: Uint8Array; mutation: BinaryMutation } {
  const mutation = rng.pick(BINARY_MUTATIONS);
  const fieldNo = fieldNumbers.length > 0 ? rng.pick(fieldNumbers) : rng.int(1, 20);
  const at = valid.length === 0 ? 0 : rng.below(valid.length);
  let bytes: Uint8Array;
  switch (mutation) {
    case "truncate":
      bytes = valid.length === 0 ? Uint8Array.of(0x0a) : valid.slice(0, rng.below(valid.length));
      break;
    case "bitflip": {
      bytes = valid.length === 0 ? Uint8Array.of(0xff) : valid.slice();
      const flips = rng.int(1, 8);
      for (let i = 0; i < flips && bytes.length > 0; i++) bytes[rng.below(bytes.length)]! ^= 1 << rng.below(8);
      break;
    }
    case "insert":
      bytes = concat(valid.subarray(0, at), rng.bytes(rng.int(1, 16)), valid.subarray(at));
      break;
    case "random":
      bytes = rng.bytes(rng.length(512));
      break;
    case "wrong-wire-type":
      // A known field with another (valid) wire type than its declared one.
      bytes = concat(valid, varint((fieldNo << 3) | rng.pick([0, 1, 2, 5])), rng.bytes(8));
      break;
    case "invalid-wire-type":
      bytes = concat(varint((fieldNo << 3) | rng.pick([6, 7])), rng.bytes(4), valid);
      break;
    case "overlong-varint":
      bytes = concat(varint(fieldNo << 3), new Uint8Array(rng.int(10, 40)).fill(0xff), [0x01]);
      break;
    case "length-past-end":
      bytes = concat(valid, varint((fieldNo << 3) | 2), varint(rng.int(10, 10_000)), rng.bytes(rng.below(8)));
      break;
    case "huge-length":
      bytes = concat(varint((fieldNo << 3) | 2), [0xff, 0xff, 0xff, 0xff, 0x0f], rng.bytes(4));
      break;
    case "unterminated-group":
      bytes = concat(valid, varint((fieldNo << 3) | 3), rng.bytes(rng.below(6)));
      break;
    case "end-group":
      bytes = concat(varint((fieldNo << 3) | 4), valid);
      break;
    case "field-zero":
      bytes = concat([0x00, 0x01], valid);
      break;
    case "duplicate-fields":
      bytes = concat(valid, valid, valid);
      break;
    case "unknown-fields":
      bytes = concat(valid, varint((rng.int(1000, 536_870_911) << 3) >>> 0 | 2), varint(4), rng.bytes(4));
      break;
    case "nested-garbage": {
      // A length-delimited field that holds another corrupted message.
      const inner = rng.bytes(rng.int(1, 64));
      bytes = concat(valid, varint((fieldNo << 3) | 2), varint(inner.length), inner);
      break;
    }
  }
  return { bytes, mutation };
}

// ── JSON mutations ────────────────────────────────────────────────────────────────────────────────

const RAW = "\u0001RAW\u0001";
const rawToken = (i: number): string => `${RAW}${i}${RAW}`;

/** A JSON value of some type (for wrong-type substitutions). */
function randomJsonValue(rng: Prng): unknown {
  switch (rng.below(9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e21, 2 ** 53 + 1, -(2 ** 63)]);
    case 3:
      return hostileString(rng);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return [hostileString(rng), 1, null];
    case 7:
      return { nested: { value: hostileString(rng) } };
    default:
      return Buffer.from(rng.bytes(8)).toString("base64");
  }
}

export const JSON_MUTATIONS = [
  "wrong-type",
  "unknown-field",
  "raw-number",
  "deep-nesting",
  "null-everywhere",
  "duplicate-key",
  "bad-escape",
  "bytes-not-base64",
  "enum-unknown-name",
  "top-level-non-object",
  "syntax",
  "empty",
  "valid",
] as const;
export type JsonMutation = (typeof JSON_MUTATIONS)[number];

type JsonObj = Record<string, unknown>;

function objects(v: unknown, out: JsonObj[] = []): JsonObj[] {
  if (Array.isArray(v)) for (const x of v) objects(x, out);
  else if (v !== null && typeof v === "object") {
    out.push(v as JsonObj);
    for (const x of Object.values(v)) objects(x, out);
  }
  return out;
}

/** Breaks a JSON text at the syntax level. */
export function breakJsonText(rng: Prng, text: string): string {
  switch (rng.below(10)) {
    case 0:
      return text.slice(0, rng.below(Math.max(1, text.length)));
    case 1:
      return text.replace(/"/, "");
    case 2:
      return `${text},`;
    case 3:
      return text.replace(/}$/, ",}");
    case 4:
      return `\ufeff${text}`;
    case 5:
      return `/* c */${text}`;
    case 6:
      return text.replace(/:/, "=");
    case 7:
      return `${text}${text}`;
    case 8:
      return text.replace(/"([a-z_]+)":/i, "$1:");
    default: {
      const i = rng.below(text.length + 1);
      return text.slice(0, i) + String.fromCharCode(rng.below(128)) + text.slice(i);
    }
  }
}

/** Corrupts a message's proto-JSON; returns the body text and what was done. */
export function mutateJson(rng: Prng, desc: DescMessage, message: Message): { text: string; mutation: JsonMutation } {
  let value: unknown;
  try {
    value = toJson(desc, message);
  } catch {
    value = {};
  }
  const raws: string[] = [];
  const raw = (text: string): string => {
    raws.push(text);
    return rawToken(raws.length - 1);
  };
  const mutation = rng.pick(JSON_MUTATIONS);
  const objs = objects(value);
  const target = objs.length > 0 ? rng.pick(objs) : undefined;
  const keys = target === undefined ? [] : Object.keys(target);
  const key = keys.length > 0 ? rng.pick(keys) : desc.fields.length > 0 ? rng.pick(desc.fields).jsonName : "x";
  switch (mutation) {
    case "wrong-type":
      if (target !== undefined) target[key] = randomJsonValue(rng);
      else value = { [key]: randomJsonValue(rng) };
      break;
    case "unknown-field":
      (target ?? (value = {}) as JsonObj)[rng.pick(["unknownField", "__proto__", "constructor", "$typeName", "x".repeat(1000), hostileString(rng)])] = randomJsonValue(rng);
      break;
    case "raw-number":
      (target ?? (value = {}) as JsonObj)[key] = raw(rng.pick(["1e400", "-1e400", "18446744073709551616", "-9223372036854775809", "0x10", "01", "-0", ".5", "1.", "NaN", "Infinity", "1" + "0".repeat(400)]));
      break;
    case "deep-nesting": {
      const depth = rng.pick([100, 1000, 10_000, 50_000]);
      (target ?? (value = {}) as JsonObj)[key] = raw("[".repeat(depth) + "]".repeat(depth));
      break;
    }
    case "null-everywhere":
      for (const o of objs) for (const k of Object.keys(o)) o[k] = null;
      break;
    case "duplicate-key":
      (target ?? (value = {}) as JsonObj)[key] = raw(`${JSON.stringify(randomJsonValue(rng))}, ${JSON.stringify(key)}: ${JSON.stringify(randomJsonValue(rng))}`);
      break;
    case "bad-escape":
      (target ?? (value = {}) as JsonObj)[key] = raw(rng.pick(['"\\x41"', '"\\u12"', '"\\ud800"', '"\\"', '"\u0001"', '"a\nb"']));
      break;
    case "bytes-not-base64":
      (target ?? (value = {}) as JsonObj)[key] = rng.pick(["***", "YQ", "YQ===", "a b", "_-_-", "%%%", "\u00ff"]);
      break;
    case "enum-unknown-name":
      (target ?? (value = {}) as JsonObj)[key] = rng.pick(["SECRET_ERROR_KIND_NOPE", "NOT_SERVING", "", "1.5"]);
      break;
    case "top-level-non-object":
      value = randomJsonValue(rng);
      break;
    case "syntax":
    case "empty":
    case "valid":
      break;
  }
  let text = JSON.stringify(value) ?? "null";
  text = text.replace(new RegExp(`"${RAW}(\\d+)${RAW}"`, "g"), (_m, i: string) => raws[Number(i)] ?? "null");
  if (mutation === "syntax") text = breakJsonText(rng, text);
  if (mutation === "empty") text = rng.pick(["", " ", "\n"]);
  return { text, mutation };
}

/** The field numbers of a message (for wire-level mutations that target real fields). */
export function fieldNumbers(desc: DescMessage): number[] {
  return desc.fields.map((f) => f.number);
}
