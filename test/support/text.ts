import fc from "fast-check";
import { z } from "zod";

/**
 * Arbitrary text for property tests, and where a request schema takes text: so a property can send any string in
 * every text field of every request, and fail when a schema grows a field its examples do not reach.
 */

const codeUnit = (from: number, to: number) =>
  fc.integer({ min: from, max: to }).map((unit) => String.fromCharCode(unit));

/**
 * Any string a JSON client can send: every code point, with NUL and unpaired surrogate halves (which may still
 * meet their other half by chance) far more often than chance would give them.
 */
export const anyText = (maxLength = 24) =>
  fc.string({
    unit: fc.oneof(
      { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: fc.constant("\u0000") },
      { weight: 1, arbitrary: codeUnit(0xd800, 0xdbff) },
      { weight: 1, arbitrary: codeUnit(0xdc00, 0xdfff) },
    ),
    maxLength,
  });

/** A field's path: keys and array indexes, written `messages.0.content`. */
export type Path = (string | number)[];

/** The same path with every array index as `*`, as a schema names it. */
export const fieldOf = (path: Path) => path.map((p) => (typeof p === "number" ? "*" : p)).join(".");

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

/** Every field of a request schema that takes a string, from its JSON Schema (the input side, before transforms). */
export function textFields(schema: z.ZodType): string[] {
  const found = new Set<string>();
  const walk = (node: JsonSchema, path: string[]) => {
    const types = ([] as string[]).concat(node.type ?? []);
    if (types.includes("string")) found.add(path.join("."));
    for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key]);
    if (node.items) walk(node.items, [...path, "*"]);
    for (const child of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])])
      walk(child, path);
  };
  walk(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema, []);
  return [...found].sort();
}

/** The path of every string in a value. */
export function stringPaths(value: unknown, path: Path = []): Path[] {
  if (typeof value === "string") return [path];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringPaths(item, [...path, i]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => stringPaths(item, [...path, key]));
  }
  return [];
}

/** A copy of `value` with `text` at `path`. */
export function withText<T>(value: T, path: Path, text: string): T {
  if (path.length === 0) return text as T;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head!] = withText(copy[head!], rest, text);
  return copy as T;
}

/** The path of every object in a value, where a property test may add a key of its own. */
export function objectPaths(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => objectPaths(item, [...path, i]));
  if (value && typeof value === "object") {
    return [path, ...Object.entries(value).flatMap(([key, item]) => objectPaths(item, [...path, key]))];
  }
  return [];
}

/** A copy of `value` with an extra key in the object at `path`. */
export function withKey<T>(value: T, path: Path, key: string): T {
  if (path.length === 0) return { ...(value as object), [key]: "x" } as T;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head!] = withKey(copy[head!], rest, key);
  return copy as T;
}

/**
 * Percent-encoding as a client would send any string in a URL: UTF-8, and an unpaired surrogate as the three
 * bytes a careless encoder writes for it (which are not UTF-8, so a server cannot decode them).
 */
export function percentEncode(text: string): string {
  let encoded = "";
  for (const character of text) {
    try {
      encoded += encodeURIComponent(character);
    } catch {
      const unit = character.charCodeAt(0);
      encoded += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join("");
    }
  }
  return encoded;
}

/** Every zod schema a module exports, by name: a request table must list each one. */
export function schemasOf(module: Record<string, unknown>): Record<string, z.ZodType> {
  return Object.fromEntries(
    Object.entries(module).filter((entry): entry is [string, z.ZodType] => entry[1] instanceof z.ZodType),
  );
}

/**
 * One request a service takes, as an example to vary: every string in its body or query becomes arbitrary text in
 * turn, or `{text}` in its path does.
 */
export interface TextCase {
  /** The request schema it exercises, by the name the coverage check knows it under. */
  schema: string;
  method: string;
  /** `{text}` marks a path parameter that takes the arbitrary text. */
  path: string;
  /** A fresh, valid body each time (a field may have to be unique). */
  body?: () => unknown;
  query?: Record<string, string>;
  /** Who asks, in the spec's own terms (e.g. "user", "admin"). */
  as?: string;
}

export type Send = (request: {
  method: string;
  path: string;
  body?: unknown;
  as?: string;
}) => Promise<{ status: number; body: { detail?: unknown; errors?: unknown } }>;

/** Fails naming each schema without a case, and each text field of a schema that no case's example reaches. */
export function assertEveryTextFieldCovered(schemas: Record<string, z.ZodType>, cases: TextCase[]) {
  const missing: string[] = [];
  for (const [name, schema] of Object.entries(schemas)) {
    const mine = cases.filter((c) => c.schema === name);
    if (mine.length === 0) missing.push(`${name}: no request`);
    const reached = new Set<string>();
    for (const c of mine) {
      if (c.path.includes("{text}")) reached.add("");
      for (const key of Object.keys(c.query ?? {})) reached.add(key);
      if (c.body) for (const path of stringPaths(c.body())) reached.add(fieldOf(path));
    }
    for (const field of textFields(schema))
      if (!reached.has(field)) missing.push(`${name}: ${field || "(itself)"}`);
  }
  if (missing.length > 0) throw new Error(`text fields no example reaches:\n  ${missing.join("\n  ")}`);
}

const queryString = (query: Record<string, string>) =>
  Object.entries(query)
    .map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`)
    .join("&");

/**
 * Arbitrary text in each text field of a request (and as an extra key in each object of its body) never makes the
 * service answer 5xx; text PostgreSQL cannot store is a 422 naming that field. `numRuns` per field.
 */
export async function assertAnyTextIsAnswered(
  c: TextCase,
  send: Send,
  unstorable: (text: string) => string | undefined,
  numRuns: number,
) {
  const url = (path: string, query = c.query) => (query ? `${path}?${queryString(query)}` : path);
  const check = async (
    where: string,
    request: { path: string; body?: unknown },
    expected: string | undefined,
  ) => {
    const reply = await send({ method: c.method, as: c.as, ...request });
    const seen = `${c.method} ${request.path} (${where}): ${reply.status} ${JSON.stringify(reply.body)}`;
    if (reply.status >= 500) throw new Error(seen);
    // Refused, never accepted: for what PostgreSQL cannot store (a 422 naming the field), or earlier, for a rule
    // the text breaks first or a credential the route wants before it reads the body (another 4xx).
    if (expected !== undefined && (reply.status < 400 || reply.status >= 500)) {
      throw new Error(`expected a refusal (${expected}): ${seen}`);
    }
    if (expected !== undefined && reply.status === 422) {
      const errors = (reply.body.errors as string[] | undefined) ?? [];
      const field = expected.split(": ")[0]!;
      const named = errors.some((e) => e === expected || field.startsWith(e.split(": ")[0]!));
      if (!named) throw new Error(`expected the 422 to name ${field}: ${seen}`);
    }
  };
  const property = (run: (text: string) => Promise<void>) =>
    fc.assert(fc.asyncProperty(anyText(), run), { numRuns });

  if (c.path.includes("{text}")) {
    // A lone surrogate cannot be written as UTF-8 at all: such a path is the router's 400, a NUL the check's 422.
    await property((text) =>
      check(
        "path",
        { path: url(c.path.replace("{text}", percentEncode(text))), body: c.body?.() },
        undefined,
      ),
    );
  }
  for (const key of Object.keys(c.query ?? {})) {
    await property(async (text) => {
      const expected = text.includes("\0") ? `${key}: ${unstorable(text)}` : undefined;
      await check(
        `query ${key}`,
        { path: url(c.path, { ...c.query, [key]: text }), body: c.body?.() },
        expected,
      );
    });
  }
  if (!c.body) return;
  for (const path of stringPaths(c.body())) {
    await property(async (text) => {
      const problem = unstorable(text);
      const expected = problem ? `${path.join(".")}: ${problem}` : undefined;
      await check(fieldOf(path), { path: url(c.path), body: withText(c.body!(), path, text) }, expected);
    });
  }
  // A key a schema does not know is dropped, never stored: whatever it holds, the answer is no 5xx. Keys a schema
  // keeps (records) are checked as parsed, as the kit's unit tests show.
  for (const path of objectPaths(c.body())) {
    await property(async (key) => {
      await check(
        `key in ${fieldOf(path) || "body"}`,
        { path: url(c.path), body: withKey(c.body!(), path, key) },
        undefined,
      );
    });
  }
}
