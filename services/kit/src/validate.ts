import type { RequestHandler } from "express";
import type { z } from "zod";
import { unprocessable } from "./errors.ts";
import { unstorable, unstorableText } from "./text.ts";

/** One readable line per problem, e.g. `email: Invalid email address`. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

/**
 * Parse untrusted input at a boundary; a mismatch is the client's 422, naming every field at fault. What the
 * schema keeps is then checked for text PostgreSQL cannot store (fields the schema drops are never stored, so
 * they are not the client's fault), again a 422 naming each field, never a 500 from deep inside a query.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  const problems = result.success ? unstorableText(result.data) : describeIssues(result.error);
  if (problems.length > 0) throw unprocessable(problems.join("; "), { errors: problems });
  return result.data as z.output<S>;
}

/** The decoded path's problems; a segment that does not decode is the router's 400, not this check's. */
function unstorablePath(path: string): string[] {
  for (const segment of path.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      continue;
    }
    const problem = unstorable(decoded);
    if (problem) return [`path: ${problem}`];
  }
  return [];
}

/**
 * Text PostgreSQL cannot store in the request's query string or path is the client's 422 naming it, here at the
 * boundary, rather than a 500 from deep inside a query (or a turn quietly lost). Bodies are checked as parseInput
 * reads them.
 */
export const storableInput: RequestHandler = (req, _res, next) => {
  const problems = [...unstorablePath(req.path), ...unstorableText(req.query)];
  if (problems.length > 0) throw unprocessable(problems.join("; "), { errors: problems });
  next();
};
