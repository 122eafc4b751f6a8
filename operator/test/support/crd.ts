import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { load, loadAll } from "js-yaml";

/**
 * The CRD file as the tests read it, and the two things the API server does with its schema that unit tests need
 * without a server: apply defaults (structural defaulting) and check types, enums, required fields, bounds and
 * unknown fields (pruning would drop those silently, so here they are errors).
 */

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, "../../..");

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI schema is arbitrary JSON.
export type Schema = any;

export function readYaml(relative: string): unknown {
  return load(readFileSync(path.join(REPO_ROOT, relative), "utf8"));
}

export function readYamlDocuments(relative: string): unknown[] {
  return loadAll(readFileSync(path.join(REPO_ROOT, relative), "utf8"));
}

let parsed: Schema | undefined;
/** The CRD, parsed once; callers that change it must copy it first. */
export function crd(): Schema {
  parsed ??= readYaml("crds/gaia.dev_gaiaplatforms.yaml");
  return parsed;
}

export function platformSchema(): Schema {
  return crd().spec.versions[0].schema.openAPIV3Schema;
}

/** The API server's structural defaulting: missing fields get their default, then defaults inside those apply. */
export function applyDefaults(value: unknown, schema: Schema): unknown {
  if (Array.isArray(value)) {
    if (schema?.items) for (const item of value) applyDefaults(item, schema.items);
    return value;
  }
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  for (const [key, property] of Object.entries<Schema>(schema?.properties ?? {})) {
    if (!(key in object) && property.default !== undefined) object[key] = structuredClone(property.default);
  }
  for (const [key, child] of Object.entries(object)) {
    const property =
      schema?.properties?.[key] ??
      (typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined);
    if (property) applyDefaults(child, property);
  }
  return object;
}

/** Schema violations of a value, as "path: problem" lines (CEL rules are left to the real API server). */
export function violations(value: unknown, schema: Schema, at = "spec"): string[] {
  const problems: string[] = [];
  if (schema["x-kubernetes-int-or-string"]) {
    if (typeof value !== "string" && !Number.isInteger(value))
      problems.push(`${at}: expected an integer or string`);
  } else if (schema["x-kubernetes-preserve-unknown-fields"]) {
    return problems;
  } else if (schema.type === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      return [`${at}: expected an object`];
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in object)) problems.push(`${at}.${key}: required`);
    for (const [key, child] of Object.entries(object)) {
      const property =
        schema.properties?.[key] ??
        (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
      if (!property) problems.push(`${at}.${key}: unknown field`);
      else problems.push(...violations(child, property, `${at}.${key}`));
    }
  } else if (schema.type === "array") {
    if (!Array.isArray(value)) return [`${at}: expected an array`];
    for (const [i, item] of value.entries()) problems.push(...violations(item, schema.items, `${at}[${i}]`));
  } else if (schema.type === "string") {
    if (typeof value !== "string") return [`${at}: expected a string`];
    if (schema.pattern && !new RegExp(schema.pattern).test(value))
      problems.push(`${at}: does not match ${schema.pattern}`);
  } else if (schema.type === "integer") {
    if (!Number.isInteger(value)) return [`${at}: expected an integer`];
  } else if (schema.type === "boolean" && typeof value !== "boolean") {
    return [`${at}: expected a boolean`];
  }
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: not one of ${schema.enum.join(", ")}`);
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`${at}: above ${schema.maximum}`);
  }
  return problems;
}
