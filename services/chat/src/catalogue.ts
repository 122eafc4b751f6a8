/**
 * The models Gaia knows by name: what they can do, how much context they take and what they cost. Prices are
 * US dollars per million tokens and can be overridden per deployment in the provider_pricing table. A model
 * not listed here may still be used (an OpenAI-compatible server serves its own names); it then gets
 * conservative defaults and no price.
 */

export type ProviderKind = "openai" | "anthropic" | "offline";

export interface ModelInfo {
  id: string;
  provider: ProviderKind;
  name: string;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: { streaming: boolean; tools: boolean; vision: boolean };
  pricing: { inputPer1M: number; outputPer1M: number };
  /** False for models not in the catalogue, whose numbers are guesses. */
  known: boolean;
}

const model = (
  provider: ProviderKind,
  id: string,
  name: string,
  contextWindow: number,
  maxOutputTokens: number,
  inputPer1M: number,
  outputPer1M: number,
  vision = true,
): ModelInfo => ({
  id,
  provider,
  name,
  contextWindow,
  maxOutputTokens,
  capabilities: { streaming: true, tools: provider !== "offline", vision },
  pricing: { inputPer1M, outputPer1M },
  known: true,
});

export const ECHO_MODEL = "echo";

export const CATALOGUE: readonly ModelInfo[] = [
  model("openai", "gpt-4o", "GPT-4o", 128_000, 16_384, 2.5, 10),
  model("openai", "gpt-4o-mini", "GPT-4o mini", 128_000, 16_384, 0.15, 0.6),
  model("openai", "gpt-4.1", "GPT-4.1", 1_047_576, 32_768, 2, 8),
  model("openai", "gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, 32_768, 0.4, 1.6),
  model("openai", "gpt-4.1-nano", "GPT-4.1 nano", 1_047_576, 32_768, 0.1, 0.4),
  model("openai", "o3-mini", "o3-mini", 200_000, 100_000, 1.1, 4.4, false),
  model("openai", "o4-mini", "o4-mini", 200_000, 100_000, 1.1, 4.4),
  model("anthropic", "claude-opus-4-1", "Claude Opus 4.1", 200_000, 32_000, 15, 75),
  model("anthropic", "claude-sonnet-4-5", "Claude Sonnet 4.5", 200_000, 64_000, 3, 15),
  model("anthropic", "claude-sonnet-4-0", "Claude Sonnet 4", 200_000, 64_000, 3, 15),
  model("anthropic", "claude-haiku-4-5", "Claude Haiku 4.5", 200_000, 64_000, 1, 5),
  model("anthropic", "claude-3-5-haiku-latest", "Claude Haiku 3.5", 200_000, 8_192, 0.8, 4),
  {
    ...model("offline", ECHO_MODEL, "Offline echo (not an LLM)", 32_000, 4_096, 0, 0, false),
    capabilities: { streaming: true, tools: false, vision: false },
  },
];

const BY_ID = new Map(CATALOGUE.map((m) => [m.id, m]));

export function findModel(id: string): ModelInfo | undefined {
  return BY_ID.get(id);
}

/** The provider a bare model name most likely belongs to, from the naming habits of each vendor. */
export function guessProvider(modelId: string): ProviderKind | undefined {
  if (modelId === ECHO_MODEL) return "offline";
  if (/^claude/i.test(modelId)) return "anthropic";
  if (/^(gpt-|o\d|chatgpt|davinci|text-)/i.test(modelId)) return "openai";
  return undefined;
}

/** Catalogue facts for a model, or conservative defaults for one the catalogue does not list. */
export function modelInfo(provider: ProviderKind, modelId: string): ModelInfo {
  const known = BY_ID.get(modelId);
  if (known && known.provider === provider) return known;
  return {
    id: modelId,
    provider,
    name: modelId,
    contextWindow: 8_192,
    maxOutputTokens: 4_096,
    capabilities: { streaming: true, tools: provider !== "offline", vision: false },
    pricing: { inputPer1M: 0, outputPer1M: 0 },
    known: false,
  };
}

/** Dollars for a number of tokens at per-million prices, rounded to the database's six decimals. */
export function costUsd(
  pricing: { inputPer1M: number; outputPer1M: number },
  usage: { promptTokens: number; completionTokens: number },
): number {
  const cost = (usage.promptTokens * pricing.inputPer1M + usage.completionTokens * pricing.outputPer1M) / 1e6;
  return Math.round(cost * 1e6) / 1e6;
}
