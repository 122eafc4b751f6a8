import { strict as assert } from "node:assert";
import OpenAI from "openai";
import { type ChatPlatform, startChatPlatform, type TestUser } from "./support/platform.ts";

/** The official OpenAI SDK, unchanged, pointed at Gaia's gateway with a Gaia API key. */
describe("OpenAI SDK against Gaia's OpenAI-compatible endpoint", function () {
  this.timeout(30_000);
  let p: ChatPlatform;
  let user: TestUser;
  let client: OpenAI;

  before(async function () {
    this.timeout(120_000);
    p = await startChatPlatform();
    user = await p.newUser();
    client = new OpenAI({ apiKey: user.key, baseURL: `${p.gateway}/api/v1`, maxRetries: 0 });
  });
  after(async () => p?.close());

  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    {
      type: "function",
      function: {
        name: "roll_dice",
        description: "Roll dice",
        parameters: { type: "object", properties: { sides: { type: "integer" } }, required: ["sides"] },
      },
    },
  ];

  it("lists the models available here", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    for (const id of ["gpt-4o-mini", "claude-haiku-4-5", "echo"]) assert.ok(ids.includes(id), id);
    const one = await client.models.retrieve("gpt-4o-mini");
    assert.equal(one.owned_by, "openai");
  });

  it("creates a completion", async () => {
    p.openai.enqueue({ kind: "text", chunks: ["Four."], usage: { prompt: 12, completion: 2 } });
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Answer with a number." },
        { role: "user", content: "2+2?" },
      ],
      temperature: 0.2,
    });
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.model, "gpt-4o-mini");
    assert.equal(completion.choices[0]!.message.content, "Four.");
    assert.equal(completion.choices[0]!.finish_reason, "stop");
    assert.deepEqual(completion.usage, { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 });
    const sent = p.openai.requests.at(-1)!.body;
    assert.equal(sent.temperature, 0.2);
    assert.deepEqual(sent.messages, [
      { role: "system", content: "Answer with a number." },
      { role: "user", content: "2+2?" },
    ]);
  });

  it("streams a completion with create({stream: true}), usage last when asked", async () => {
    p.openai.enqueue({
      kind: "text",
      chunks: ["Once ", "upon ", "a ", "time."],
      usage: { prompt: 5, completion: 4 },
    });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Tell a story" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, "Once upon a time.");
    assert.equal(finish, "stop");
    assert.deepEqual(usage, { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
  });

  it("works with the .stream() helper", async () => {
    p.anthropic.enqueue({
      kind: "text",
      chunks: ["Hello ", "from ", "Claude."],
      usage: { prompt: 3, completion: 3 },
    });
    const pieces: string[] = [];
    const runner = client.chat.completions
      .stream({ model: "claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] })
      .on("content", (delta) => pieces.push(delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0]!.message.content, "Hello from Claude.");
    assert.equal(final.choices[0]!.message.role, "assistant");
    assert.equal(final.choices[0]!.finish_reason, "stop");
    assert.deepEqual(pieces, ["Hello ", "from ", "Claude."]);
  });

  it("passes the client's tool calls through, and their results back to the model", async () => {
    p.openai.enqueue(
      { kind: "tools", calls: [{ id: "call_d6", name: "roll_dice", arguments: '{"sides":6}' }] },
      { kind: "text", chunks: ["You ", "rolled ", "4."] },
    );
    const first = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Roll a d6" }],
      tools,
      tool_choice: "auto",
    });
    const call = first.choices[0]!.message.tool_calls![0]!;
    assert.equal(first.choices[0]!.finish_reason, "tool_calls");
    assert.equal(call.type, "function");
    assert.equal(call.type === "function" && call.function.name, "roll_dice");
    assert.deepEqual(JSON.parse(call.type === "function" ? call.function.arguments : ""), { sides: 6 });
    const sentTools = p.openai.requests.at(-1)!.body.tools as { function: { name: string } }[];
    assert.equal(sentTools[0]!.function.name, "roll_dice");
    assert.equal(p.openai.requests.at(-1)!.body.tool_choice, "auto");

    const second = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "user", content: "Roll a d6" },
        first.choices[0]!.message,
        { role: "tool", tool_call_id: call.id, content: "4" },
      ],
      tools,
    });
    assert.equal(second.choices[0]!.message.content, "You rolled 4.");
    const sent = p.openai.requests.at(-1)!.body.messages as Record<string, unknown>[];
    assert.deepEqual(sent.at(-1), { role: "tool", tool_call_id: "call_d6", content: "4" });
    assert.equal((sent.at(-2)!.tool_calls as unknown[]).length, 1);
  });

  it("streams tool calls, from Anthropic too, so the helper assembles them", async () => {
    p.anthropic.enqueue({
      kind: "tools",
      calls: [{ id: "toolu_9", name: "roll_dice", arguments: '{"sides":20}' }],
    });
    const final = await client.chat.completions
      .stream({ model: "claude-haiku-4-5", messages: [{ role: "user", content: "Roll a d20" }], tools })
      .finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    assert.equal(final.choices[0]!.finish_reason, "tool_calls");
    assert.equal(call.id, "toolu_9");
    assert.equal(call.type === "function" && call.function.name, "roll_dice");
    assert.deepEqual(JSON.parse(call.type === "function" ? call.function.arguments : ""), { sides: 20 });
    const sent = p.anthropic.requests.at(-1)!.body.tools as { name: string; input_schema: unknown }[];
    assert.equal(sent[0]!.name, "roll_dice");
  });

  it("raises the SDK's own errors: bad key, refused request, broken stream", async () => {
    const stranger = new OpenAI({
      apiKey: "gaia_nope0000_notarealkeynotarealkeynotarealkey00",
      baseURL: `${p.gateway}/api/v1`,
      maxRetries: 0,
    });
    await assert.rejects(
      stranger.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      OpenAI.AuthenticationError,
    );

    p.openai.enqueue({ kind: "error", status: 400, message: "messages too long" });
    await assert.rejects(
      client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      }),
      (error: InstanceType<typeof OpenAI.APIError>) =>
        error.status === 400 && /messages too long/.test(error.message),
    );

    p.openai.enqueue({ kind: "cut", chunks: ["par", "tial"] });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    let text = "";
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    }, OpenAI.APIError);
    assert.equal(text, "partial");
  });

  it("bills every completion to the key that made it", async () => {
    const rows = await p.chatRuntime.db.prisma.usageRecord.findMany({ where: { userId: user.userId } });
    assert.ok(rows.length >= 5);
    assert.ok(rows.every((r) => r.apiKeyId === user.keyId && r.service === "chat"));
    assert.ok(rows.some((r) => r.provider === "anthropic" && r.model === "claude-haiku-4-5"));
  });
});
