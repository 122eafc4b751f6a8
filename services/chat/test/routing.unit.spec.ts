import { strict as assert } from "node:assert";
import { createLogger, monthStart, nextMonthStart, retryAfterMs } from "@gaia/kit";
import { costUsd, findModel, guessProvider, modelInfo } from "../src/catalogue.ts";
import { chatConfig } from "../src/config.ts";
import { buildProviders } from "../src/providers/registry.ts";
import { ProviderError } from "../src/providers/types.ts";
import { backoffMs, ModelRouter } from "../src/router.ts";
import { ProviderStats } from "../src/stats.ts";

const routerFor = (env: Record<string, string>) => {
  const config = chatConfig(env);
  return new ModelRouter(buildProviders(config), config, new ProviderStats(), createLogger("test", "silent"));
};

describe("configuration, catalogue and routing (unit)", () => {
  it("answers with the offline echo model when no provider is configured", () => {
    const config = chatConfig({});
    assert.deepEqual(config.providers, []);
    assert.equal(config.defaultModel, "offline/echo");
    assert.deepEqual(routerFor({}).resolve(null), { provider: "offline", model: "echo" });
  });

  it("counts a provider as configured by its key or by a base URL alone (a local server needs no key)", () => {
    const config = chatConfig({
      OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
      OPENAI_DEFAULT_MODEL: "llama3",
    });
    assert.deepEqual(config.providers, [
      { id: "openai", apiKey: undefined, baseURL: "http://127.0.0.1:11434/v1", defaultModel: "llama3" },
    ]);
    assert.equal(config.defaultModel, "openai/llama3");
    assert.throws(() => chatConfig({ ANTHROPIC_BASE_URL: "not a url" }), /ANTHROPIC_BASE_URL/);
  });

  it("resolves model names to providers: explicit, catalogued, by vendor habit, else the compatible server", () => {
    const router = routerFor({ OPENAI_API_KEY: "k", ANTHROPIC_API_KEY: "k" });
    assert.deepEqual(router.resolve("claude-haiku-4-5"), {
      provider: "anthropic",
      model: "claude-haiku-4-5",
    });
    assert.deepEqual(router.resolve("claude-next"), { provider: "anthropic", model: "claude-next" });
    assert.deepEqual(router.resolve("openai/qwen2.5"), { provider: "openai", model: "qwen2.5" });
    assert.deepEqual(router.resolve("qwen2.5"), { provider: "openai", model: "qwen2.5" });
    assert.deepEqual(router.resolve("echo"), { provider: "offline", model: "echo" });
    assert.deepEqual(router.resolve("default"), { provider: "openai", model: "gpt-4o-mini" });
  });

  it("refuses a model whose provider is not configured, naming it", () => {
    const router = routerFor({ OPENAI_API_KEY: "k" });
    assert.throws(() => router.resolve("claude-sonnet-4-5"), /anthropic provider, which is not configured/);
    assert.throws(() => routerFor({}).resolve("mystery"), /Unknown model "mystery"/);
  });

  it("falls back along the configured providers' defaults, never to the echo model", () => {
    const router = routerFor({
      OPENAI_API_KEY: "k",
      ANTHROPIC_API_KEY: "k",
      ANTHROPIC_DEFAULT_MODEL: "claude-haiku-4-5",
    });
    assert.deepEqual(router.chain("gpt-4o"), [
      { provider: "openai", model: "gpt-4o" },
      { provider: "openai", model: "gpt-4o-mini" },
      { provider: "anthropic", model: "claude-haiku-4-5" },
    ]);
    assert.deepEqual(router.chain("echo"), [{ provider: "offline", model: "echo" }]);
    // An unknown prefix is part of a model name on an OpenAI-compatible server (vLLM serves "org/model").
    const explicit = routerFor({
      OPENAI_API_KEY: "k",
      GAIA_CHAT_FALLBACK_MODELS: "anthropic/claude-sonnet-4-5, offline/echo, meta-llama/Llama-3.1-8B",
    });
    assert.deepEqual(explicit.chain(null), [
      { provider: "openai", model: "gpt-4o-mini" },
      { provider: "openai", model: "meta-llama/Llama-3.1-8B" },
    ]);
  });

  it("knows catalogue facts and gives unknown models conservative ones", () => {
    assert.equal(findModel("gpt-4o-mini")?.provider, "openai");
    assert.equal(guessProvider("o3-mini"), "openai");
    assert.equal(guessProvider("llama3"), undefined);
    const unknown = modelInfo("openai", "llama3");
    assert.equal(unknown.known, false);
    assert.equal(unknown.contextWindow, 8_192);
    assert.deepEqual(unknown.pricing, { inputPer1M: 0, outputPer1M: 0 });
  });

  it("prices tokens per million, to six decimals", () => {
    assert.equal(
      costUsd({ inputPer1M: 2.5, outputPer1M: 10 }, { promptTokens: 1000, completionTokens: 500 }),
      0.0075,
    );
    assert.equal(
      costUsd({ inputPer1M: 0.15, outputPer1M: 0.6 }, { promptTokens: 1, completionTokens: 1 }),
      1e-6,
    );
  });

  it("backs off exponentially with jitter, honours a short Retry-After and gives up on a long one", () => {
    assert.equal(
      backoffMs(0, 100, undefined, () => 1),
      100,
    );
    assert.equal(
      backoffMs(3, 100, undefined, () => 1),
      800,
    );
    assert.equal(
      backoffMs(3, 100, undefined, () => 0),
      400,
    );
    assert.equal(
      backoffMs(10, 100, undefined, () => 1),
      4000,
    );
    assert.equal(
      backoffMs(0, 100, 2000, () => 1),
      2000,
    );
    assert.equal(
      backoffMs(0, 100, 60_000, () => 1),
      null,
    );
    const headers = new Headers({ "retry-after": "2" });
    assert.equal(retryAfterMs(headers), 2000);
    assert.equal(retryAfterMs(new Headers({ "retry-after-ms": "150" })), 150);
  });

  it("retries and falls back on the provider's faults, not on the request's", () => {
    const http = (status: number) => new ProviderError("openai", "http", "x", { status });
    assert.ok(http(503).retryable && http(503).fallback);
    assert.ok(http(429).retryable && http(429).fallback);
    assert.ok(!http(401).retryable && http(401).fallback);
    assert.ok(!http(400).retryable && !http(400).fallback);
    assert.ok(new ProviderError("openai", "timeout", "x").fallback);
    assert.ok(new ProviderError("openai", "connection", "x").retryable);
    assert.ok(!new ProviderError("openai", "aborted", "x").fallback);
  });

  it("runs budgets by calendar month in UTC", () => {
    const now = new Date("2026-12-31T23:30:00Z");
    assert.equal(monthStart(now).toISOString(), "2026-12-01T00:00:00.000Z");
    assert.equal(nextMonthStart(now).toISOString(), "2027-01-01T00:00:00.000Z");
  });
});
