import { join } from "node:path";
import { readEnv } from "@gaia/kit";
import { z } from "zod";

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

export const STORAGE_MODES = ["git", "database", "hybrid"] as const;
export type StorageMode = (typeof STORAGE_MODES)[number];

/** Text a writer keeps in a knowledge base; anything else is refused unless KB_ALLOWED_EXTENSIONS says so. */
const TEXT_EXTENSIONS = "md,markdown,txt,json,yaml,yml,toml,csv";

/** The KB service's own variables; the platform's (database, Redis, NATS, data folder) come with the runtime. */
export const kbEnv = z.object({
  KB_STORAGE_MODE: z.enum(STORAGE_MODES).default("git"),
  /** The remote the KB clones and pushes to (https://, ssh://, git@host:path, or a local path); none: a local repository. */
  KB_GIT_URL: optional(z.string().trim().min(1)),
  KB_GIT_BRANCH: z
    .string()
    .trim()
    .regex(/^[\w.][\w./-]{0,100}$/, "expected a branch name such as main")
    .default("main"),
  /** HTTPS credentials: a user name and a token or password, sent as a Basic header, never written to disk. */
  KB_GIT_USERNAME: optional(z.string()),
  KB_GIT_PASSWORD: optional(z.string()),
  /** An SSH private key (the key's text) for ssh:// and git@ remotes. */
  KB_GIT_SSH_KEY: optional(z.string()),
  /** How often to pull the remote, in seconds; 0 only on demand. */
  KB_SYNC_INTERVAL_S: z.coerce.number().int().min(0).max(86_400).default(60),
  /** The working copy's folder; by default kb under the data folder. */
  KB_PATH: optional(z.string().trim().min(1)),
  KB_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  KB_ALLOWED_EXTENSIONS: z.string().default(TEXT_EXTENSIONS),
  /** How long a cached read or search answer lives, in seconds. */
  KB_CACHE_TTL_S: z.coerce.number().int().min(0).max(86_400).default(300),
  /** The ripgrep binary; when it cannot be run, search uses the built-in scanner. */
  KB_RIPGREP: z.string().default("rg"),
});

export interface KbConfig {
  mode: StorageMode;
  root: string;
  remote?: { url: string; username?: string; password?: string; sshKey?: string };
  branch: string;
  syncIntervalMs: number;
  maxFileBytes: number;
  extensions: ReadonlySet<string>;
  cacheTtlSeconds: number;
  ripgrep: string;
}

export function kbConfig(env: NodeJS.ProcessEnv, dataDir: string): KbConfig {
  const e = readEnv(kbEnv, env);
  return {
    mode: e.KB_STORAGE_MODE,
    root: e.KB_PATH ?? join(dataDir, "kb"),
    ...(e.KB_GIT_URL
      ? {
          remote: {
            url: e.KB_GIT_URL,
            username: e.KB_GIT_USERNAME,
            password: e.KB_GIT_PASSWORD,
            sshKey: e.KB_GIT_SSH_KEY,
          },
        }
      : {}),
    branch: e.KB_GIT_BRANCH,
    syncIntervalMs: e.KB_SYNC_INTERVAL_S * 1000,
    maxFileBytes: e.KB_MAX_FILE_BYTES,
    extensions: new Set(
      e.KB_ALLOWED_EXTENSIONS.split(",")
        .map((x) => x.trim().replace(/^\./, "").toLowerCase())
        .filter(Boolean),
    ),
    cacheTtlSeconds: e.KB_CACHE_TTL_S,
    ripgrep: e.KB_RIPGREP,
  };
}
