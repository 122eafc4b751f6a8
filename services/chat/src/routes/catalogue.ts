import { notFound, requirePermission } from "@gaia/kit";
import type { Express } from "express";
import { CATALOGUE, type ModelInfo, modelInfo, type ProviderKind } from "../catalogue.ts";
import type { ChatConfig } from "../config.ts";
import type { ChatProvider } from "../providers/types.ts";
import { toProviderError } from "../providers/types.ts";
import type { ModelRouter } from "../router.ts";
import type { ProviderStats } from "../stats.ts";
import type { Accounting } from "../usage.ts";

export interface CatalogueRouteDeps {
  config: ChatConfig;
  router: ModelRouter;
  providers: ReadonlyMap<ProviderKind, ChatProvider>;
  stats: ProviderStats;
  accounting: Accounting;
}

const PROVIDERS: Record<ProviderKind, { name: string; description: string }> = {
  openai: {
    name: "OpenAI",
    description: "OpenAI, or any server speaking its chat-completions API (vLLM, Ollama, Azure)",
  },
  anthropic: { name: "Anthropic", description: "Anthropic's Messages API" },
  offline: {
    name: "Offline echo",
    description: "Not an LLM: repeats the message, so Gaia runs without any provider key",
  },
};
const PROVIDER_IDS = Object.keys(PROVIDERS) as ProviderKind[];
const HEALTH_TIMEOUT_MS = 5_000;

export function mountCatalogue(app: Express, deps: CatalogueRouteDeps) {
  const { config, router, providers, stats, accounting } = deps;
  const defaultTarget = router.resolve(null);

  const configOf = (provider: ProviderKind) => config.providers.find((p) => p.id === provider);
  /** Catalogue models of a provider, plus its configured default model when the catalogue does not list it. */
  const modelsOf = (provider: ProviderKind): ModelInfo[] => {
    const listed = CATALOGUE.filter((m) => m.provider === provider);
    const configured = configOf(provider)?.defaultModel;
    return configured && !listed.some((m) => m.id === configured)
      ? [...listed, modelInfo(provider, configured)]
      : listed;
  };

  const modelView = async (m: ModelInfo) => {
    const pricing = await accounting.pricing(m.provider, m.id);
    return {
      id: m.id,
      provider: m.provider,
      name: m.name,
      context_window: m.contextWindow,
      max_output_tokens: m.maxOutputTokens,
      capabilities: m.capabilities,
      pricing: { input_per_1m: pricing.inputPer1M, output_per_1m: pricing.outputPer1M, currency: "USD" },
      available: providers.has(m.provider),
      default: m.provider === defaultTarget.provider && m.id === defaultTarget.model,
      in_catalogue: m.known,
      ...(m.provider === "offline" ? { offline: true } : {}),
    };
  };

  const providerView = (id: ProviderKind) => {
    const configured = configOf(id);
    return {
      id,
      name: PROVIDERS[id].name,
      description: PROVIDERS[id].description,
      configured: providers.has(id),
      default_model: id === "offline" ? "echo" : (configured?.defaultModel ?? null),
      custom_base_url: Boolean(configured?.baseURL),
      model_count: modelsOf(id).length,
    };
  };

  const providerParam = (value: string): ProviderKind => {
    if (!(PROVIDER_IDS as string[]).includes(value)) throw notFound(`Unknown provider ${value}`);
    return value as ProviderKind;
  };

  app.get("/api/v0.2/providers", (_req, res) => {
    res.json({ providers: PROVIDER_IDS.map(providerView), total: PROVIDER_IDS.length });
  });

  app.get("/api/v0.2/providers/stats", (_req, res) => {
    res.json({
      since: stats.startedAt,
      providers: Object.fromEntries(PROVIDER_IDS.map((id) => [id, stats.snapshot(id)])),
    });
  });

  // The first platform's performance view, from the same counters (this replica's, since its start or reset).
  app.get("/api/v0.2/performance/summary", (_req, res) => {
    res.json({ since: stats.startedAt, ...stats.total() });
  });
  app.get("/api/v0.2/performance/providers", (_req, res) => {
    res.json({
      since: stats.startedAt,
      providers: Object.fromEntries(PROVIDER_IDS.map((id) => [id, stats.snapshot(id)])),
    });
  });
  app.delete("/api/v0.2/performance/reset", requirePermission("admin:all"), (_req, res) => {
    stats.reset();
    res.json({ reset: true, since: stats.startedAt });
  });

  app.get("/api/v0.2/providers/:provider", async (req, res) => {
    const id = providerParam(req.params.provider);
    res.json({
      ...providerView(id),
      models: await Promise.all(modelsOf(id).map(modelView)),
      fallback_order: config.fallbackModels,
      stats: stats.snapshot(id),
    });
  });

  app.get("/api/v0.2/providers/:provider/models", async (req, res) => {
    const id = providerParam(req.params.provider);
    const models = await Promise.all(modelsOf(id).map(modelView));
    res.json({ provider: id, models, total: models.length });
  });

  /** A live probe: the provider's own model list, with a short timeout. */
  app.get("/api/v0.2/providers/:provider/health", async (req, res) => {
    const id = providerParam(req.params.provider);
    const provider = providers.get(id);
    if (!provider) {
      res.status(503).json({ provider: id, status: "unconfigured", detail: `${id} is not configured here` });
      return;
    }
    const started = performance.now();
    const signal = AbortSignal.timeout(HEALTH_TIMEOUT_MS);
    try {
      const models = await provider.listModels(signal);
      res.json({
        provider: id,
        status: "healthy",
        latency_ms: Math.round(performance.now() - started),
        models_listed: models.length,
      });
    } catch (error) {
      const failure = toProviderError(id, error, signal);
      res.status(503).json({
        provider: id,
        status: "unhealthy",
        latency_ms: Math.round(performance.now() - started),
        detail: signal.aborted ? `${id} did not answer within ${HEALTH_TIMEOUT_MS} ms` : failure.message,
      });
    }
  });

  app.get("/api/v0.2/models", async (_req, res) => {
    const models = await Promise.all(PROVIDER_IDS.flatMap(modelsOf).map(modelView));
    res.json({
      models,
      total: models.length,
      default_model: `${defaultTarget.provider}/${defaultTarget.model}`,
    });
  });

  app.get("/api/v0.2/models/*model", async (req, res) => {
    const id = ([] as string[]).concat(req.params.model ?? []).join("/");
    const slash = id.indexOf("/");
    const scoped = slash > 0 && (PROVIDER_IDS as string[]).includes(id.slice(0, slash));
    const wanted = (m: ModelInfo) => (scoped ? `${m.provider}/${m.id}` === id : m.id === id);
    const found = PROVIDER_IDS.flatMap(modelsOf).find(wanted);
    if (!found) throw notFound(`Unknown model ${id}`);
    res.json(await modelView(found));
  });
}
