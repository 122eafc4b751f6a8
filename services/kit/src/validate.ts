import type { z } from "zod";
import { unprocessable } from "./errors.ts";

/** One readable line per problem, e.g. `email: Invalid email address`. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

/** Parse untrusted input at a boundary; a mismatch is the client's 422, naming every field at fault. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = describeIssues(result.error);
    throw unprocessable(problems.join("; "), { errors: problems });
  }
  return result.data;
}
