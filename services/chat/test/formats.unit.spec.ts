import { strict as assert } from "node:assert";
import { providerHttpError, titleFrom } from "../src/chat.ts";
import { ChunkBuilder, completionBody } from "../src/formats/openai.ts";
import { worldUpdateBody } from "../src/formats/streams.ts";
import { toAnthropicMessages } from "../src/providers/anthropic.ts";
import { ProviderError } from "../src/providers/types.ts";

describe("wire shapes (unit)", () => {
  it("builds chunks the OpenAI SDK's stream helper accepts: one id, an index, a role first, a finish last", () => {
    const chunks = new ChunkBuilder("gpt-4o-mini", { conversation_id: "c1" });
    const all = [chunks.role(), chunks.content("Hel"), chunks.content("lo"), chunks.finish("stop")];
    assert.equal(new Set(all.map((c) => c.id)).size, 1);
    assert.deepEqual(all[0]!.choices[0]!.delta, { role: "assistant", content: "" });
    assert.ok(all.every((c) => c.object === "chat.completion.chunk" && c.choices[0]!.index === 0));
    assert.ok(all.every((c) => (c as Record<string, unknown>).conversation_id === "c1"));
    assert.equal(all.at(-1)!.choices[0]!.finish_reason, "stop");
    const usage = chunks.usage({ promptTokens: 3, completionTokens: 4 });
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it("streams tool calls as OpenAI does: id and name first, then argument pieces by index", () => {
    const chunks = new ChunkBuilder("m");
    const start = chunks.toolCallStart(0, "call_1", "kb_search").choices[0]!.delta as {
      tool_calls: unknown[];
    };
    assert.deepEqual(start.tool_calls, [
      { index: 0, id: "call_1", type: "function", function: { name: "kb_search", arguments: "" } },
    ]);
    const piece = chunks.toolCallArguments(0, '{"q').choices[0]!.delta as { tool_calls: unknown[] };
    assert.deepEqual(piece.tool_calls, [{ index: 0, function: { arguments: '{"q' } }]);
  });

  it("answers a whole completion with null content when the model only called tools", () => {
    const body = completionBody({
      model: "m",
      text: "",
      toolCalls: [{ id: "c", name: "f", arguments: "{}" }],
      finishReason: "tool_calls",
      usage: { promptTokens: 1, completionTokens: 2 },
    });
    assert.equal(body.choices[0]!.message.content, null);
    assert.deepEqual(body.choices[0]!.message.tool_calls, [
      { id: "c", type: "function", function: { name: "f", arguments: "{}" } },
    ]);
    assert.equal(body.usage.total_tokens, 3);
  });

  it("turns a conversation into Anthropic's alternating turns", () => {
    const turns = toAnthropicMessages([
      { role: "system", content: "be brief" },
      { role: "user", content: "find dragons" },
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "t1", name: "kb_search", arguments: '{"query":"dragons"}' }],
      },
      { role: "tool", toolCallId: "t1", content: '{"results":[]}' },
      { role: "user", content: "and?" },
    ]);
    assert.deepEqual(turns, [
      { role: "user", content: "find dragons" },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "kb_search", input: { query: "dragons" } }],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t1", content: '{"results":[]}' },
          { type: "text", text: "and?" },
        ],
      },
    ]);
  });

  it("frames world updates as objects of type world_update, whatever was published", () => {
    assert.deepEqual(worldUpdateBody({ zone: "forest", type: "ignored" }), {
      zone: "forest",
      type: "world_update",
    });
    assert.deepEqual(worldUpdateBody([1, 2]), { data: [1, 2], type: "world_update" });
    assert.deepEqual(worldUpdateBody("rain"), { data: "rain", type: "world_update" });
  });

  it("titles a new conversation after the first line of its first message", () => {
    assert.equal(titleFrom("  Where is the dragon?\nmore"), "Where is the dragon?");
    const long = titleFrom("x".repeat(100));
    assert.equal(long.length, 60);
    assert.ok(long.endsWith("…"));
    assert.equal(titleFrom("   "), "New conversation");
    // Cut by code points: an emoji across the cut is never split into a lone half that the database would garble.
    const emoji = titleFrom(`${"x".repeat(58)}\u{1f409}\u{1f409}\u{1f409}`);
    assert.equal(emoji, `${"x".repeat(58)}\u{1f409}…`);
    assert.equal(
      titleFrom(`${"x".repeat(50)}${"\u{1f409}".repeat(10)}`),
      `${"x".repeat(50)}${"\u{1f409}".repeat(10)}`,
    );
  });

  it("maps provider failures to the HTTP statuses of the contract", () => {
    assert.equal(providerHttpError(new ProviderError("openai", "timeout", "slow")).status, 504);
    assert.equal(providerHttpError(new ProviderError("openai", "http", "bad", { status: 400 })).status, 400);
    assert.equal(providerHttpError(new ProviderError("openai", "http", "down", { status: 503 })).status, 502);
    assert.equal(providerHttpError(new ProviderError("anthropic", "connection", "refused")).status, 502);
    assert.equal(providerHttpError(new Error("boom")).status, 500);
  });
});
