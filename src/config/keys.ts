/**
 * Declarative config keys: each says its type, bounds, default and how to read it from text
 * (environment variables and flags are text; the JSON file has typed values).
 *
 *   const vaultSection = defineSection({
 *     memoWindowMs: integer({ min: 0, max: 60_000, default: 5_000, description: "…" }),
 *     masterKeyFile: string({ description: "…", secret: false }),           // required
 *     databaseUrl: string({ env: "DATABASE_URL", secret: true }).optional(),
 *   });
 *   type VaultConfig = SectionValues<typeof vaultSection>;
 *
 * A key's `expected` phrase completes "config: <section>.<key> must be …".
 */

/** The outcome of parsing one raw value. */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

export interface KeySpec<T> {
  /** Completes "must be …", e.g. "an integer 0–65535". */
  readonly expected: string;
  readonly description: string;
  /** The value when no source sets it; undefined with `required` means the key must be set. */
  readonly defaultValue: T | undefined;
  readonly required: boolean;
  /** Explicit environment variable name instead of the derived `CCR_<SECTION>_<KEY>`. */
  readonly env: string | undefined;
  /** Never echo the value in errors. */
  readonly secret: boolean;
  /** `raw` is a string from env/flags when `fromText`, else any JSON value from the file. */
  parse(raw: unknown, fromText: boolean): ParseResult<T>;
}

/** A key; `.optional()` makes it `T | undefined` when unset and without a default. */
export interface Key<T> extends KeySpec<T> {
  optional(): Key<T | undefined>;
}

export interface KeyOptions<T> {
  readonly description?: string;
  readonly default?: T;
  readonly env?: string;
  readonly secret?: boolean;
}

function makeKey<T>(
  expected: string,
  options: KeyOptions<T>,
  parse: (raw: unknown, fromText: boolean) => ParseResult<T>,
  required = options.default === undefined,
): Key<T> {
  const key: Key<T> = {
    expected,
    description: options.description ?? "",
    defaultValue: options.default,
    required,
    env: options.env,
    secret: options.secret ?? false,
    parse,
    optional: () => makeKey<T | undefined>(expected, options, parse, false),
  };
  return Object.freeze(key);
}

const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value });
const bad: ParseResult<never> = Object.freeze({ ok: false });

function boundsPhrase(kind: string, min: number | undefined, max: number | undefined, unit: string): string {
  const u = unit === "" ? "" : ` ${unit}`;
  if (min !== undefined && max !== undefined) return `${kind} ${min}–${max}${u}`;
  if (min !== undefined) return `${kind} ≥ ${min}${u}`;
  if (max !== undefined) return `${kind} ≤ ${max}${u}`;
  return `${kind}${u === "" ? "" : ` (${unit})`}`;
}

export interface NumberKeyOptions extends KeyOptions<number> {
  readonly min?: number;
  readonly max?: number;
  /** Shown in messages, e.g. "bytes" or "ms". */
  readonly unit?: string;
}

/** A safe integer within [min, max]; text must be plain decimal digits (with optional sign). */
export function integer(options: NumberKeyOptions = {}): Key<number> {
  const { min, max } = options;
  return makeKey(boundsPhrase("an integer", min, max, options.unit ?? ""), options, (raw, fromText) => {
    let value: number;
    if (fromText) {
      if (typeof raw !== "string" || !/^[+-]?\d+$/.test(raw.trim())) return bad;
      value = Number(raw.trim());
    } else {
      if (typeof raw !== "number") return bad;
      value = raw;
    }
    if (!Number.isSafeInteger(value)) return bad;
    if (min !== undefined && value < min) return bad;
    if (max !== undefined && value > max) return bad;
    return ok(value);
  });
}

/** A finite number within [min, max]. */
export function number(options: NumberKeyOptions = {}): Key<number> {
  const { min, max } = options;
  return makeKey(boundsPhrase("a number", min, max, options.unit ?? ""), options, (raw, fromText) => {
    let value: number;
    if (fromText) {
      if (typeof raw !== "string" || raw.trim() === "") return bad;
      value = Number(raw.trim());
    } else {
      if (typeof raw !== "number") return bad;
      value = raw;
    }
    if (!Number.isFinite(value)) return bad;
    if (min !== undefined && value < min) return bad;
    if (max !== undefined && value > max) return bad;
    return ok(value);
  });
}

/** true/false; text accepts true/false, 1/0, yes/no, on/off (any case). */
export function boolean(options: KeyOptions<boolean> = {}): Key<boolean> {
  return makeKey("true or false", options, (raw, fromText) => {
    if (!fromText) return typeof raw === "boolean" ? ok(raw) : bad;
    if (typeof raw === "boolean") return ok(raw);
    if (typeof raw !== "string") return bad;
    const text = raw.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(text)) return ok(true);
    if (["false", "0", "no", "off"].includes(text)) return ok(false);
    return bad;
  });
}

export interface StringKeyOptions extends KeyOptions<string> {
  /** Default 1: empty strings are refused unless minLength is 0. */
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: RegExp;
  /** What the pattern means, for messages, e.g. "a host name or IP address". */
  readonly patternDescription?: string;
}

/** A string; text values are trimmed. */
export function string(options: StringKeyOptions = {}): Key<string> {
  const minLength = options.minLength ?? 1;
  const expected =
    options.patternDescription ??
    (options.pattern !== undefined
      ? `a string matching ${String(options.pattern)}`
      : minLength > 0
        ? options.maxLength !== undefined
          ? `a non-empty string of at most ${options.maxLength} characters`
          : "a non-empty string"
        : "a string");
  return makeKey(expected, options, (raw, fromText) => {
    if (typeof raw !== "string") return bad;
    const value = fromText ? raw.trim() : raw;
    if (value.length < minLength) return bad;
    if (options.maxLength !== undefined && value.length > options.maxLength) return bad;
    if (options.pattern !== undefined && !options.pattern.test(value)) return bad;
    return ok(value);
  });
}

/** One of a fixed set of strings. */
export function oneOf<const V extends string>(values: readonly V[], options: KeyOptions<V> = {}): Key<V> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  return makeKey(expected, options, (raw, fromText) => {
    if (typeof raw !== "string") return bad;
    const value = fromText ? raw.trim() : raw;
    return (values as readonly string[]).includes(value) ? ok(value as V) : bad;
  });
}

export interface ListKeyOptions extends KeyOptions<readonly string[]> {
  /** Each item must match. */
  readonly itemPattern?: RegExp;
  readonly itemDescription?: string;
  readonly minItems?: number;
}

/** A list of strings: a JSON array in the file, comma-separated in env and flags. */
export function stringList(options: ListKeyOptions = {}): Key<readonly string[]> {
  const item = options.itemDescription ?? (options.itemPattern ? `strings matching ${String(options.itemPattern)}` : "strings");
  const min = options.minItems ?? 0;
  const expected = min > 0 ? `a list of at least ${min} ${item} (comma-separated in env and flags)` : `a list of ${item} (comma-separated in env and flags)`;
  return makeKey(expected, options, (raw, fromText) => {
    let items: unknown[];
    if (fromText && typeof raw === "string") {
      items = raw.trim() === "" ? [] : raw.split(",").map((s) => s.trim());
    } else if (Array.isArray(raw)) {
      items = raw;
    } else {
      return bad;
    }
    if (items.length < min) return bad;
    for (const it of items) {
      if (typeof it !== "string" || it === "") return bad;
      if (options.itemPattern !== undefined && !options.itemPattern.test(it)) return bad;
    }
    return ok(Object.freeze([...(items as string[])]));
  });
}

/** A section: named keys. */
export type SectionSpec = Readonly<Record<string, KeySpec<unknown>>>;

export type SectionValues<S extends SectionSpec> = {
  readonly [K in keyof S]: S[K] extends KeySpec<infer T> ? T : never;
};

/** Declares a section (identity at runtime; freezes it and fixes its type). */
export function defineSection<S extends Record<string, KeySpec<unknown>>>(keys: S): Readonly<S> {
  return Object.freeze({ ...keys });
}
