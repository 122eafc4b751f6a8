import { strict as assert } from "node:assert";
import { createLogger } from "@gaia/kit";
import { chatConfig } from "../src/config.ts";
import { AnthropicProvider } from "../src/providers/anthropic.ts";
import { OpenAIProvider } from "../src/providers/openai.ts";
import { buildProviders } from "../src/providers/registry.ts";
import { type ChatProvider, ProviderError } from "../src/providers/types.ts";
import { ModelRouter, type RoutedEvent } from "../src/router.ts";
import { ProviderStats } from "../src/stats.ts";
import type { CompletionRequest, StreamEvent } from "../src/types.ts";
import { FAKE_ANTHROPIC_KEY, startFakeAnthropic } from "./support/fake-anthropic.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "./support/fake-openai.ts";
import type { FakeProvider } from "./support/fake-provider.ts";

const request = (text = "hello", extra: Partial<CompletionRequest> = {}): CompletionRequest => ({
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "be brief" },
    { role: "user", content: text },
  ],
  ...extra,
});

async function collect(
  stream: AsyncIterable<StreamEvent | RoutedEvent>,
  signal?: AbortController,
  stopAfter = Infinity,
) {
  const events: (StreamEvent | RoutedEvent)[] = [];
  for await (const event of stream) {
    events.push(event);
    if (events.filter((e) => e.type === "text").length >= stopAfter) signal?.abort();
  }
  return events;
}
const textOf = (events: (StreamEvent | RoutedEvent)[]) =>
  events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("");
const never = () => new AbortController().signal;
/** A delay longer than any test here may take. */
const NEVER_MS = 10 * 60_000;

describe("provider adapters against wire-compatible servers", () => {
  let openaiServer: FakeProvider;
  let anthropicServer: FakeProvider;
  let adapters: { name: string; provider: ChatProvider; server: () => FakeProvider; model: string }[];

  before(async () => {
    [openaiServer, anthropicServer] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    adapters = [
      {
        name: "openai",
        provider: new OpenAIProvider(
          {
            id: "openai",
            apiKey: FAKE_OPENAI_KEY,
            baseURL: `${openaiServer.url}/v1`,
            defaultModel: "gpt-4o-mini",
          },
          5000,
        ),
        server: () => openaiServer,
        model: "gpt-4o-mini",
      },
      {
        name: "anthropic",
        provider: new AnthropicProvider(
          {
            id: "anthropic",
            apiKey: FAKE_ANTHROPIC_KEY,
            baseURL: anthropicServer.url,
            defaultModel: "claude-haiku-4-5",
          },
          5000,
        ),
        server: () => anthropicServer,
        model: "claude-haiku-4-5",
      },
    ];
  });
  after(async () => Promise.all([openaiServer?.close(), anthropicServer?.close()]));

  for (const name of ["openai", "anthropic"]) {
    describe(name, () => {
      const the = () => adapters.find((a) => a.name === name)!;

      it("streams text with usage and a finish, sending the system prompt and the key", async () => {
        const { provider, server, model } = the();
        server().enqueue({
          kind: "text",
          chunks: ["Hel", "lo ", "there"],
          usage: { prompt: 7, completion: 3 },
        });
        const events = await collect(provider.stream(request("hi", { model }), never()));
        assert.equal(textOf(events), "Hello there");
        assert.deepEqual(events.at(-1), { type: "finish", reason: "stop" });
        const usage = events.filter((e) => e.type === "usage").at(-1);
        assert.deepEqual(usage, { type: "usage", usage: { promptTokens: 7, completionTokens: 3 } });
        const sent = server().requests.at(-1)!;
        assert.equal(sent.body.stream, true);
        if (name === "openai") {
          assert.deepEqual((sent.body.messages as unknown[])[0], { role: "system", content: "be brief" });
          assert.deepEqual(sent.body.stream_options, { include_usage: true });
        } else {
          assert.equal(sent.body.system, "be brief");
          assert.equal(typeof sent.body.max_tokens, "number");
          assert.equal(sent.headers["x-api-key"], FAKE_ANTHROPIC_KEY);
        }
      });

      it("answers whole when not streaming", async () => {
        const { provider, server, model } = the();
        server().enqueue({ kind: "text", chunks: ["All ", "at once"], usage: { prompt: 5, completion: 2 } });
        const completion = await provider.complete(request("hi", { model }), never());
        assert.deepEqual(completion, {
          text: "All at once",
          toolCalls: [],
          usage: { promptTokens: 5, completionTokens: 2 },
          finishReason: "stop",
        });
        assert.notEqual(server().requests.at(-1)!.body.stream, true);
      });

      it("passes tools to the model and its tool calls back, streamed and whole", async () => {
        const { provider, server, model } = the();
        const tools = [
          {
            name: "kb_search",
            description: "search",
            parameters: { type: "object", properties: { query: { type: "string" } } },
          },
        ];
        const call = { id: "call_1", name: "kb_search", arguments: '{"query":"dragons"}' };
        server().enqueue({ kind: "tools", calls: [call] }, { kind: "tools", calls: [call] });
        const events = await collect(provider.stream(request("find", { model, tools }), never()));
        const start = events.find((e) => e.type === "tool_call_start");
        assert.deepEqual(start, { type: "tool_call_start", index: 0, id: "call_1", name: "kb_search" });
        const args = events.flatMap((e) => (e.type === "tool_call_delta" ? [e.arguments] : [])).join("");
        assert.deepEqual(JSON.parse(args), { query: "dragons" });
        assert.deepEqual(events.at(-1), { type: "finish", reason: "tool_calls" });
        const sentTools = server().requests.at(-1)!.body.tools as Record<string, unknown>[];
        if (name === "openai") assert.equal((sentTools[0]!.function as { name: string }).name, "kb_search");
        else assert.deepEqual(Object.keys(sentTools[0]!).sort(), ["description", "input_schema", "name"]);

        const whole = await provider.complete(request("find", { model, tools }), never());
        assert.equal(whole.finishReason, "tool_calls");
        assert.deepEqual(
          whole.toolCalls.map((c) => ({ ...c, arguments: JSON.parse(c.arguments) })),
          [{ id: "call_1", name: "kb_search", arguments: { query: "dragons" } }],
        );
      });

      it("reports an HTTP error with its status and Retry-After", async () => {
        const { provider, server, model } = the();
        server().enqueue({ kind: "error", status: 429, retryAfter: "1" });
        await assert.rejects(
          collect(provider.stream(request("x", { model }), never())),
          (error: ProviderError) => {
            assert.ok(error instanceof ProviderError);
            assert.equal(error.kind, "http");
            assert.equal(error.status, 429);
            assert.equal(error.retryAfterMs, 1000);
            return true;
          },
        );
      });

      it("reports a stream cut midway as interrupted, after the text that arrived", async () => {
        const { provider, server, model } = the();
        server().enqueue({ kind: "cut", chunks: ["partial ", "answer"] });
        const seen: StreamEvent[] = [];
        await assert.rejects(
          (async () => {
            for await (const event of provider.stream(request("x", { model }), never())) seen.push(event);
          })(),
          (error: ProviderError) => error instanceof ProviderError && error.kind === "interrupted",
        );
        assert.equal(textOf(seen), "partial answer");
      });

      it("closes the upstream request when the caller aborts", async () => {
        const { provider, server, model } = the();
        let release!: () => void;
        server().enqueue({
          kind: "hold",
          chunks: ["one "],
          release: new Promise<void>((r) => (release = r)),
        });
        const controller = new AbortController();
        await assert.rejects(
          collect(provider.stream(request("x", { model }), controller.signal), controller, 1),
          (e: ProviderError) => e.kind === "aborted",
        );
        const recorded = server().requests.at(-1)!;
        await recorded.finished;
        assert.equal(recorded.aborted, true);
        release();
      });

      it("lists the server's models (the health probe)", async () => {
        const models = await the().provider.listModels(never());
        assert.ok(models.length >= 2);
      });
    });
  }

  it("accepts Anthropic keys sent as a bearer token, as SDK 1.14 does", async () => {
    const res = await fetch(`${anthropicServer.url}/v1/models`, {
      headers: { authorization: `Bearer ${FAKE_ANTHROPIC_KEY}` },
    });
    assert.equal(res.status, 200);
    const refused = await fetch(`${anthropicServer.url}/v1/models`, { headers: { "x-api-key": "wrong" } });
    assert.equal(refused.status, 401);
  });

  describe("router: retries, timeouts and fallback", () => {
    const routerWith = (env: Record<string, string> = {}) => {
      const config = chatConfig({
        OPENAI_API_KEY: FAKE_OPENAI_KEY,
        OPENAI_BASE_URL: `${openaiServer.url}/v1`,
        ANTHROPIC_API_KEY: FAKE_ANTHROPIC_KEY,
        ANTHROPIC_BASE_URL: anthropicServer.url,
        ANTHROPIC_DEFAULT_MODEL: "claude-haiku-4-5",
        GAIA_CHAT_RETRY_BASE_MS: "5",
        GAIA_CHAT_MAX_RETRIES: "2",
        GAIA_CHAT_FIRST_TOKEN_TIMEOUT_MS: "300",
        ...env,
      });
      const stats = new ProviderStats();
      return {
        router: new ModelRouter(buildProviders(config), config, stats, createLogger("test", "silent")),
        stats,
      };
    };
    const ask = { messages: [{ role: "user" as const, content: "hi" }] };

    it("retries a 503 with backoff and answers from the same model", async () => {
      const { router, stats } = routerWith();
      const before = openaiServer.requests.length;
      openaiServer.enqueue({ kind: "error", status: 503 });
      const events = await collect(router.stream(ask, "gpt-4o-mini", never()));
      assert.deepEqual(events[0], {
        type: "selected",
        provider: "openai",
        model: "gpt-4o-mini",
        fallbackUsed: false,
      });
      assert.equal(textOf(events), "openai says: hi");
      assert.equal(openaiServer.requests.length - before, 2);
      assert.equal(stats.snapshot("openai").retries, 1);
    });

    it("falls back to the next provider on 5xx before the first token", async () => {
      const { router, stats } = routerWith({ GAIA_CHAT_MAX_RETRIES: "0" });
      openaiServer.enqueue({ kind: "error", status: 500 });
      const events = await collect(router.stream(ask, "gpt-4o-mini", never()));
      assert.deepEqual(events[0], {
        type: "selected",
        provider: "anthropic",
        model: "claude-haiku-4-5",
        fallbackUsed: true,
      });
      assert.equal(textOf(events), "anthropic says: hi");
      assert.equal(stats.snapshot("openai").fallbacks, 1);
    });

    it("falls back when the first token is too slow, and stops waiting for it", async () => {
      const { router } = routerWith({ GAIA_CHAT_MAX_RETRIES: "0" });
      // Its first token would come long after this test's timeout: the answer can only come from not waiting.
      openaiServer.enqueue({ kind: "text", chunks: ["late"], firstTokenDelayMs: NEVER_MS });
      const events = await collect(router.stream(ask, "gpt-4o-mini", never()));
      assert.equal(textOf(events), "anthropic says: hi");
      const slow = openaiServer.requests.at(-1)!;
      await slow.finished;
      assert.equal(slow.aborted, true, "the slow request was closed");
    });

    it("falls back when the connection drops before any answer", async () => {
      const { router } = routerWith({ GAIA_CHAT_MAX_RETRIES: "0" });
      openaiServer.enqueue({ kind: "drop" });
      const events = await collect(router.stream(ask, "gpt-4o-mini", never()));
      assert.equal(textOf(events), "anthropic says: hi");
    });

    it("falls back for non-streamed answers too", async () => {
      const { router } = routerWith({ GAIA_CHAT_MAX_RETRIES: "0" });
      openaiServer.enqueue({ kind: "error", status: 502 });
      const { completion, selected } = await router.complete(ask, "gpt-4o-mini", never());
      assert.equal(selected.provider, "anthropic");
      assert.equal(selected.fallbackUsed, true);
      assert.equal(completion.text, "anthropic says: hi");
    });

    it("gives each upstream request a deadline, and falls back when a whole answer misses it", async () => {
      const { router } = routerWith({ GAIA_CHAT_MAX_RETRIES: "0", GAIA_CHAT_REQUEST_TIMEOUT_MS: "300" });
      openaiServer.enqueue({ kind: "text", chunks: ["too late"], firstTokenDelayMs: NEVER_MS });
      const { completion, selected } = await router.complete(ask, "gpt-4o-mini", never());
      assert.equal(selected.provider, "anthropic");
      assert.equal(completion.text, "anthropic says: hi");
      const slow = openaiServer.requests.at(-1)!;
      await slow.finished;
      assert.equal(slow.aborted, true);
    });

    it("does not fall back when the provider refuses the request itself", async () => {
      const { router } = routerWith();
      const before = anthropicServer.requests.length;
      openaiServer.enqueue({ kind: "error", status: 400, message: "bad tool schema" });
      await assert.rejects(
        collect(router.stream(ask, "gpt-4o-mini", never())),
        (e: ProviderError) => e.status === 400,
      );
      assert.equal(anthropicServer.requests.length, before);
    });

    it("never replays a stream cut after its first token: the error reaches the caller", async () => {
      const { router } = routerWith();
      const before = anthropicServer.requests.length;
      openaiServer.enqueue({ kind: "cut", chunks: ["half "] });
      const seen: RoutedEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const e of router.stream(ask, "gpt-4o-mini", never())) seen.push(e);
        })(),
        (e: ProviderError) => e.kind === "interrupted",
      );
      assert.equal(textOf(seen), "half ");
      assert.equal(anthropicServer.requests.length, before, "no second provider was asked");
    });
  });
});
