import { readEnv } from "@gaia/kit";
import { z } from "zod";
import { ECHO_MODEL, type ProviderKind } from "./catalogue.ts";

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" });
const flag = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1")
  .default(true);

/** The chat service's own variables; the platform's (database, NATS, service URLs) come with the runtime. */
export const chatEnv = z.object({
  OPENAI_API_KEY: optional(z.string()),
  OPENAI_BASE_URL: optional(httpUrl),
  OPENAI_DEFAULT_MODEL: z.string().min(1).default("gpt-4o-mini"),
  ANTHROPIC_API_KEY: optional(z.string()),
  ANTHROPIC_BASE_URL: optional(httpUrl),
  ANTHROPIC_DEFAULT_MODEL: z.string().min(1).default("claude-sonnet-4-5"),
  /** The model used when a request names none; by default the first configured provider's default model. */
  GAIA_CHAT_DEFAULT_MODEL: optional(z.string().min(1)),
  /** Comma-separated `provider/model` list tried in order when the chosen model fails before its first token. */
  GAIA_CHAT_FALLBACK_MODELS: optional(z.string()),
  GAIA_CHAT_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  GAIA_CHAT_RETRY_BASE_MS: z.coerce.number().int().min(0).default(250),
  GAIA_CHAT_FIRST_TOKEN_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
  GAIA_CHAT_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).default(300_000),
  GAIA_CHAT_HISTORY_LIMIT: z.coerce.number().int().min(0).max(1000).default(100),
  GAIA_CHAT_KB_TOOLS: flag,
  /** Monthly spending limit per user in US dollars; unset means unlimited. */
  GAIA_USER_BUDGET_USD: optional(z.coerce.number().min(0)),
});

export interface ProviderConfig {
  id: Exclude<ProviderKind, "offline">;
  apiKey?: string;
  baseURL?: string;
  defaultModel: string;
}

export interface ChatConfig {
  providers: ProviderConfig[];
  /** `provider/model` of the model a request without one gets. */
  defaultModel: string;
  fallbackModels: string[];
  maxRetries: number;
  retryBaseMs: number;
  firstTokenTimeoutMs: number;
  requestTimeoutMs: number;
  historyLimit: number;
  kbTools: boolean;
  userBudgetUsd: number | null;
}

/**
 * A provider counts as configured when it has a key or a base URL: a local OpenAI-compatible server (vLLM,
 * Ollama) needs no key. With none configured, the offline echo model is the default.
 */
export function chatConfig(env: NodeJS.ProcessEnv = process.env): ChatConfig {
  const e = readEnv(chatEnv, env);
  const providers: ProviderConfig[] = [];
  if (e.OPENAI_API_KEY || e.OPENAI_BASE_URL) {
    providers.push({
      id: "openai",
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      defaultModel: e.OPENAI_DEFAULT_MODEL,
    });
  }
  if (e.ANTHROPIC_API_KEY || e.ANTHROPIC_BASE_URL) {
    providers.push({
      id: "anthropic",
      apiKey: e.ANTHROPIC_API_KEY,
      baseURL: e.ANTHROPIC_BASE_URL,
      defaultModel: e.ANTHROPIC_DEFAULT_MODEL,
    });
  }
  const defaults = providers.map((p) => `${p.id}/${p.defaultModel}`);
  return {
    providers,
    defaultModel: e.GAIA_CHAT_DEFAULT_MODEL ?? defaults[0] ?? `offline/${ECHO_MODEL}`,
    fallbackModels: e.GAIA_CHAT_FALLBACK_MODELS
      ? e.GAIA_CHAT_FALLBACK_MODELS.split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : defaults,
    maxRetries: e.GAIA_CHAT_MAX_RETRIES,
    retryBaseMs: e.GAIA_CHAT_RETRY_BASE_MS,
    firstTokenTimeoutMs: e.GAIA_CHAT_FIRST_TOKEN_TIMEOUT_MS,
    requestTimeoutMs: e.GAIA_CHAT_REQUEST_TIMEOUT_MS,
    historyLimit: e.GAIA_CHAT_HISTORY_LIMIT,
    kbTools: e.GAIA_CHAT_KB_TOOLS,
    userBudgetUsd: e.GAIA_USER_BUDGET_USD ?? null,
  };
}
