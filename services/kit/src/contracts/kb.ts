import { z } from "zod";

/**
 * The KB's public request bodies: kb parses them, the gateway publishes them in its OpenAPI document. Paths are
 * checked by kb itself (services/kb/src/paths.ts), beyond the length and type said here.
 */

/**
 * A path as kb accepts it (services/kb/src/paths.ts checks the same): relative, "/" between segments, no empty,
 * "." or ".." segment, no backslash or control character. (A segment ".git" is refused too, with 403: no pattern
 * without look-arounds says it.)
 */
const CHAR = String.raw`[^/\\\u0000-\u001f\u007f]`;
const FIRST = String.raw`[^./\\\u0000-\u001f\u007f]`;
const SEGMENT = String.raw`(?:${FIRST}${CHAR}*|\.${FIRST}${CHAR}*|\.\.${CHAR}+)`;
export const FILE_PATH_PATTERN = `^${SEGMENT}(?:/${SEGMENT})*$`;
export const FOLDER_PATH_PATTERN = String.raw`^(?:|/|\.|${SEGMENT}(?:/${SEGMENT})*/?)$`;

const path = z
  .string()
  .max(512)
  .regex(
    new RegExp(FILE_PATH_PATTERN),
    "not a path inside the knowledge base (relative, / between folders, no . or ..)",
  )
  .meta({ description: "A path inside the knowledge base, e.g. worlds/arden/lore.md" });
const folder = z
  .string()
  .max(512)
  .regex(
    new RegExp(FOLDER_PATH_PATTERN),
    "not a folder inside the knowledge base (relative, / between folders, no . or ..)",
  )
  .optional()
  .meta({ description: "A folder inside the knowledge base; the root when absent or empty" });
const version = z.string().trim().min(1).max(64).optional().meta({
  description: "The version (ETag) the change starts from; a stale one is merged or refused with 409",
});
const page = {
  limit: z.number().int().min(1).max(100).default(20),
  offset: z.number().int().min(0).max(10_000).default(0),
};

export const searchBody = z
  .object({
    query: z.string().trim().min(1).max(1000).optional(),
    /** The first platform's clients (and its KB chat paths) send the query as a chat message. */
    message: z.string().trim().min(1).max(1000).optional(),
    mode: z.enum(["words", "phrase", "regex"]).default("words"),
    path: folder,
    case_sensitive: z.boolean().default(false),
    ...page,
  })
  .refine((b) => b.query !== undefined || b.message !== undefined, "give a query")
  .meta({ anyOf: [{ required: ["query"] }, { required: ["message"] }] });

export const readBody = z.object({ path });
export const listBody = z.object({ path: folder });
export const navigateBody = z.object({ path: folder, depth: z.number().int().min(1).max(10).default(3) });

export const writeBody = z.object({
  path,
  content: z.string().max(64 * 1024 * 1024),
  message: z.string().trim().min(1).max(500).optional().meta({ description: "The commit message" }),
  base_version: version,
});

export const moveBody = z
  .object({
    from: path.optional(),
    to: path.optional(),
    /** The first platform's names for the same two fields. */
    old_path: path.optional(),
    new_path: path.optional(),
    base_version: version,
  })
  .refine(
    (b) => (b.from ?? b.old_path) !== undefined && (b.to ?? b.new_path) !== undefined,
    "give from and to",
  )
  .meta({ anyOf: [{ required: ["from", "to"] }, { required: ["old_path", "new_path"] }] });

export const deleteBody = z.object({ path, base_version: version });

export const contextBody = z
  .object({
    name: folder.meta({ description: "The context: a folder with an index file listing its parts" }),
    /** The first platform's KB context chat path sends the context's name as a chat message. */
    message: folder,
    budget_tokens: z.number().int().min(1).max(1_000_000).default(8000),
  })
  .refine((b) => b.name !== undefined || b.message !== undefined, "give the context's name")
  .meta({ anyOf: [{ required: ["name"] }, { required: ["message"] }] });

export const grantBody = z
  .object({
    user_id: z.uuid().optional(),
    role: z.enum(["admin", "developer", "user", "guest"]).optional(),
    path_prefix: z
      .string()
      .max(512)
      .regex(
        new RegExp(FOLDER_PATH_PATTERN.replace(/\/\?\)\$$/, String.raw`(?:/|/\*\*)?)$`)),
        "not a folder inside the knowledge base",
      )
      .meta({ description: 'A folder, e.g. "shared/secret" or "shared/secret/**" ("" is everything)' }),
    can_read: z.boolean(),
    can_write: z.boolean().default(false),
  })
  .refine((b) => (b.user_id === undefined) !== (b.role === undefined), "give exactly one of user_id and role")
  .meta({ oneOf: [{ required: ["user_id"] }, { required: ["role"] }] });

export const resolveBody = z
  .object({
    choice: z.enum(["ours", "theirs", "merged"]),
    content: z
      .string()
      .max(64 * 1024 * 1024)
      .optional(),
  })
  .refine(
    (b) => (b.choice === "merged") === (b.content !== undefined),
    "merged needs content; ours and theirs none",
  );
