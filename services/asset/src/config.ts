import { join } from "node:path";
import { readEnv } from "@gaia/kit";
import { z } from "zod";
import type { ProviderSettings } from "./providers/types.ts";

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" });

/** The providers, by the prefix of their variables: <PREFIX>_API_KEY and <PREFIX>_BASE_URL. */
export const PROVIDER_PREFIXES = {
  openai: "OPENAI",
  stability: "STABILITY",
  midjourney: "MIDJOURNEY",
  meshy: "MESHY",
  mubert: "MUBERT",
  freesound: "FREESOUND",
} as const;
export type ProviderName = keyof typeof PROVIDER_PREFIXES;

const providerVariables = Object.fromEntries(
  Object.values(PROVIDER_PREFIXES).flatMap((prefix) => [
    [`${prefix}_API_KEY`, optional(z.string().min(1))],
    [`${prefix}_BASE_URL`, optional(httpUrl)],
  ]),
);

/** The asset service's own variables; the platform's (database, Redis, NATS, data folder) come with the runtime. */
const providerEnv = z.object(providerVariables);

export const assetEnv = z.object({
  GAIA_ASSET_OPENAI_MODEL: z.string().min(1).default("gpt-image-1"),
  /** Where generated files are kept; by default assets under the data folder. */
  GAIA_ASSET_STORAGE_DIR: optional(z.string().trim().min(1)),
  /** The offline placeholder provider: used when no configured provider can make a request (auto), always, or never. */
  GAIA_ASSET_PLACEHOLDER: z.enum(["auto", "on", "off"]).default("auto"),
  GAIA_ASSET_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  /** A job not done by then fails cleanly (the provider that hangs is given up). */
  GAIA_ASSET_JOB_TIMEOUT_S: z.coerce.number().int().min(1).default(900),
  /** How long a request with "wait": true is held open before it is answered with its job (202). */
  GAIA_ASSET_WAIT_MS: z.coerce.number().int().min(0).default(60_000),
  GAIA_ASSET_POLL_MS: z.coerce.number().int().min(10).default(2_000),
  /** Jobs one replica works on at once. */
  GAIA_ASSET_WORKERS: z.coerce.number().int().min(1).max(256).default(8),
  /** A replica's claim on a job, renewed while it works; a replica that died loses its jobs this long after. */
  GAIA_ASSET_LEASE_S: z.coerce.number().int().min(1).max(3600).default(30),
  GAIA_ASSET_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  GAIA_ASSET_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000),
  GAIA_ASSET_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(200 * 1024 * 1024),
  /** Webhooks may call loopback, link-local and private addresses (local development and tests only). */
  GAIA_ASSET_WEBHOOK_ALLOW_PRIVATE: z.enum(["true", "false"]).default("false"),
  /** The first webhook retry waits up to this long (full jitter), doubling each attempt. */
  GAIA_ASSET_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000),
  /** Monthly spending limit per user in US dollars, shared with chat; unset means unlimited. */
  GAIA_USER_BUDGET_USD: optional(z.coerce.number().min(0)),
});

export interface AssetConfig {
  providers: Partial<Record<ProviderName, ProviderSettings>>;
  openaiModel: string;
  storageDir: string;
  placeholder: "auto" | "on" | "off";
  jobTimeoutMs: number;
  waitMs: number;
  pollMs: number;
  workers: number;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  maxFileBytes: number;
  userBudgetUsd: number | null;
  webhookAllowPrivate: boolean;
  webhookRetryBaseMs: number;
}

export function assetConfig(env: NodeJS.ProcessEnv, dataDir: string): AssetConfig {
  const e = readEnv(assetEnv, env);
  const variables = readEnv(providerEnv, env) as Record<string, string | undefined>;
  const providers: AssetConfig["providers"] = {};
  for (const [name, prefix] of Object.entries(PROVIDER_PREFIXES) as [ProviderName, string][]) {
    const apiKey = variables[`${prefix}_API_KEY`];
    if (apiKey) {
      providers[name] = {
        apiKey,
        baseUrl: variables[`${prefix}_BASE_URL`],
        timeoutMs: e.GAIA_ASSET_PROVIDER_TIMEOUT_MS,
      };
    }
  }
  return {
    providers,
    openaiModel: e.GAIA_ASSET_OPENAI_MODEL,
    storageDir: e.GAIA_ASSET_STORAGE_DIR ?? join(dataDir, "assets"),
    placeholder: e.GAIA_ASSET_PLACEHOLDER,
    jobTimeoutMs: e.GAIA_ASSET_JOB_TIMEOUT_S * 1000,
    waitMs: e.GAIA_ASSET_WAIT_MS,
    pollMs: e.GAIA_ASSET_POLL_MS,
    workers: e.GAIA_ASSET_WORKERS,
    leaseMs: e.GAIA_ASSET_LEASE_S * 1000,
    maxAttempts: e.GAIA_ASSET_MAX_ATTEMPTS,
    retryBaseMs: e.GAIA_ASSET_RETRY_BASE_MS,
    maxFileBytes: e.GAIA_ASSET_MAX_FILE_BYTES,
    userBudgetUsd: e.GAIA_USER_BUDGET_USD ?? null,
    webhookAllowPrivate: e.GAIA_ASSET_WEBHOOK_ALLOW_PRIVATE === "true",
    webhookRetryBaseMs: e.GAIA_ASSET_WEBHOOK_RETRY_BASE_MS,
  };
}
