import { strict as assert } from "node:assert";
import { createBus, createLogger } from "@gaia/kit";
import { FAKE_ANTHROPIC_KEY } from "./support/fake-anthropic.ts";
import {
  type ChatPlatform,
  eventually,
  startChatPlatform,
  startRealKb,
  type TestUser,
} from "./support/platform.ts";
import { collectSse, parseMaybe, readSse } from "./support/sse.ts";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions, not by types
type Json = Record<string, any>;

const contentOf = (events: { data: unknown }[]) =>
  events
    .map((e) => e.data as Json)
    .filter((d) => d && typeof d === "object")
    .map((d) => (d.type === "content" ? d.content : (d.choices?.[0]?.delta?.content ?? "")))
    .join("");

describe("chat service through the gateway", function () {
  this.timeout(30_000);
  let p: ChatPlatform;
  let alice: TestUser;
  let bob: TestUser;

  before(async function () {
    this.timeout(120_000);
    p = await startChatPlatform();
    [alice, bob] = await Promise.all([p.newUser(), p.newUser()]);
  });
  after(async () => p?.close());

  describe("formats", () => {
    it("v1 answers whole: response, conversation_id, model, provider, usage and OpenAI-like choices", async () => {
      p.openai.enqueue({
        kind: "text",
        chunks: ["The ", "dragon ", "sleeps."],
        usage: { prompt: 30, completion: 3 },
      });
      const { status, body } = await p.call<Json>(alice, "POST", "/api/v1/chat", {
        message: "Where is the dragon?",
      });
      assert.equal(status, 200);
      assert.equal(body.response, "The dragon sleeps.");
      assert.match(body.conversation_id, /^[0-9a-f-]{36}$/);
      assert.equal(body.model, "gpt-4o-mini");
      assert.equal(body.provider, "openai");
      assert.deepEqual(body.usage, { prompt_tokens: 30, completion_tokens: 3, total_tokens: 33 });
      assert.equal(body.choices[0].message.content, "The dragon sleeps.");
      assert.equal(body.choices[0].finish_reason, "stop");
      const sent = p.openai.requests.at(-1)!.body;
      assert.notEqual(sent.stream, true, "a whole answer is asked whole upstream");
      const messages = sent.messages as Json[];
      assert.equal(messages[0]!.role, "system");
      assert.match(messages[0]!.content, /You are Gaia/);
      assert.deepEqual(messages.at(-1), { role: "user", content: "Where is the dragon?" });
    });

    it("v1 streams chat.completion.chunk lines: role first, content in order, a finish with usage, [DONE]", async () => {
      p.openai.enqueue({ kind: "text", chunks: ["a ", "b ", "c"], usage: { prompt: 9, completion: 3 } });
      const response = await p.request(alice, "/api/v1/chat", { message: "stream please", stream: true });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type")!, /text\/event-stream/);
      const events = await collectSse(response);
      const chunks = events.slice(0, -1).map((e) => e.data as Json);
      // One role, on the first chunk, which carries the first text too.
      assert.deepEqual(chunks[0]!.choices[0].delta, { role: "assistant", content: "a " });
      assert.equal(chunks.filter((c) => c.choices[0].delta.role).length, 1);
      assert.equal(contentOf(events), "a b c");
      assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.choices[0].index === 0));
      assert.equal(new Set(chunks.map((c) => c.conversation_id)).size, 1);
      const last = chunks.at(-1)!;
      assert.equal(last.choices[0].finish_reason, "stop");
      assert.deepEqual(last.usage, { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
      assert.equal(events.at(-1)!.data, "[DONE]");
      assert.equal(p.openai.requests.at(-1)!.body.stream, true);
    });

    it("v0.2 answers whole and streams in the chunk format (also at /chat/stream)", async () => {
      const whole = await p.call<Json>(alice, "POST", "/api/v0.2/chat", { message: "v02 whole" });
      assert.equal(whole.status, 200);
      assert.equal(whole.body.response, "openai says: v02 whole");
      assert.equal(whole.body.provider, "openai");
      assert.equal(typeof whole.body.response_time_ms, "number");
      assert.equal(whole.body.fallback_used, false);
      assert.ok(whole.body.conversation_id);
      for (const [path, body] of [
        ["/api/v0.2/chat", { message: "v02 stream", stream: true }],
        ["/api/v0.2/chat/stream", { message: "v02 stream" }],
      ] as const) {
        const events = await collectSse(await p.request(alice, path, body));
        assert.equal(contentOf(events), "openai says: v02 stream");
        assert.equal(events.at(-1)!.data, "[DONE]");
      }
    });

    it("v0.3 answers in the clean format, without provider details", async () => {
      const whole = await p.call<Json>(alice, "POST", "/api/v0.3/chat", { message: "clean" });
      assert.equal(whole.status, 200);
      assert.deepEqual(Object.keys(whole.body).sort(), ["conversation_id", "response"]);
      assert.equal(whole.body.response, "openai says: clean");

      const events = (
        await collectSse(await p.request(alice, "/api/v0.3/chat", { message: "clean stream", stream: true }))
      ).map((e) => e.data as Json);
      assert.deepEqual(events[0], { type: "metadata", conversation_id: events[0]!.conversation_id });
      assert.ok(events.slice(1, -1).every((e) => e.type === "content" && Object.keys(e).length === 2));
      assert.equal(contentOf(events.map((data) => ({ data }))), "openai says: clean stream");
      assert.deepEqual(events.at(-1), { type: "done", conversation_id: events[0]!.conversation_id });
    });

    it("answers the v0.2 self-description and health without credentials", async () => {
      const info = await fetch(`${p.gateway}/api/v0.2`);
      assert.equal(info.status, 200);
      assert.equal(((await info.json()) as Json).default_model, "openai/gpt-4o-mini");
      const health = await fetch(`${p.gateway}/api/v0.2/health`);
      assert.equal(((await health.json()) as Json).status, "healthy");
    });
  });

  describe("conversations", () => {
    it("continues a conversation with its history in the prompt, and stores every message with provider, model and tokens", async () => {
      p.openai.enqueue({ kind: "text", chunks: ["Hi ", "Alice."], usage: { prompt: 11, completion: 2 } });
      const first = await p.call<Json>(alice, "POST", "/api/v1/chat", { message: "I am Alice." });
      const id = first.body.conversation_id;
      p.openai.enqueue({
        kind: "text",
        chunks: ["You ", "are ", "Alice."],
        usage: { prompt: 25, completion: 3 },
      });
      const second = await p.call<Json>(alice, "POST", "/api/v1/chat", {
        message: "Who am I?",
        conversation_id: id,
      });
      assert.equal(second.body.conversation_id, id);
      const sent = p.openai.requests.at(-1)!.body.messages as Json[];
      assert.deepEqual(sent.slice(1), [
        { role: "user", content: "I am Alice." },
        { role: "assistant", content: "Hi Alice." },
        { role: "user", content: "Who am I?" },
      ]);

      const stored = await p.call<Json>(alice, "GET", `/api/v1/conversations/${id}`);
      assert.equal(stored.status, 200);
      assert.equal(stored.body.title, "I am Alice.");
      assert.deepEqual(
        stored.body.messages.map((m: Json) => [
          m.role,
          m.content,
          m.provider,
          m.model,
          m.prompt_tokens,
          m.completion_tokens,
        ]),
        [
          ["user", "I am Alice.", "openai", "gpt-4o-mini", 11, 0],
          ["assistant", "Hi Alice.", "openai", "gpt-4o-mini", 0, 2],
          ["user", "Who am I?", "openai", "gpt-4o-mini", 25, 0],
          ["assistant", "You are Alice.", "openai", "gpt-4o-mini", 0, 3],
        ],
      );
    });

    it("keeps conversations and messages across a restart of the service", async () => {
      const { body } = await p.call<Json>(alice, "POST", "/api/v1/chat", {
        message: "Remember the red door.",
      });
      await p.restartChat();
      const after = await p.call<Json>(alice, "GET", `/api/v1/conversations/${body.conversation_id}`);
      assert.equal(after.status, 200);
      assert.deepEqual(
        after.body.messages.map((m: Json) => m.content),
        ["Remember the red door.", "openai says: Remember the red door."],
      );
      await p.call<Json>(alice, "POST", "/api/v1/chat", {
        message: "Which door?",
        conversation_id: body.conversation_id,
      });
      const sent = p.openai.requests.at(-1)!.body.messages as Json[];
      assert.deepEqual(sent[1], { role: "user", content: "Remember the red door." });
    });

    it("creates, lists, renames, searches by title and content, and soft-deletes", async () => {
      const created = await p.call<Json>(alice, "POST", "/api/v1/conversations", { title: "Quest log" });
      assert.equal(created.status, 201);
      const id = created.body.id;
      await p.call(alice, "POST", `/api/v1/conversations/${id}/messages`, {
        role: "user",
        content: "the amulet of Zarn",
      });

      const list = await p.call<Json>(alice, "GET", "/api/v1/conversations?limit=100");
      assert.ok(list.body.conversations.some((c: Json) => c.id === id && c.message_count === 1));

      const renamed = await p.call<Json>(alice, "PUT", `/api/v1/conversations/${id}`, {
        title: "Zarn quest",
      });
      assert.equal(renamed.body.title, "Zarn quest");

      const byTitle = await p.call<Json>(alice, "GET", "/api/v1/conversations/search?q=zarn%20QUEST");
      assert.deepEqual(
        byTitle.body.conversations.map((c: Json) => c.id),
        [id],
      );
      const byContent = await p.call<Json>(alice, "GET", "/api/v1/conversations/search/amulet");
      assert.deepEqual(
        byContent.body.conversations.map((c: Json) => c.id),
        [id],
      );

      const deleted = await p.call<Json>(alice, "DELETE", `/api/v1/conversations/${id}`);
      assert.equal(deleted.status, 200);
      assert.equal((await p.call(alice, "GET", `/api/v1/conversations/${id}`)).status, 404);
      const later = await p.call<Json>(alice, "GET", "/api/v1/conversations?limit=200");
      assert.ok(!later.body.conversations.some((c: Json) => c.id === id));
      // Soft: the row stays in the database.
      const row = await p.chatRuntime.db.prisma.conversation.findUnique({ where: { id } });
      assert.ok(row?.deletedAt);
    });

    it("speaks v0.3's clean shapes for conversations", async () => {
      const created = await p.call<Json>(alice, "POST", "/api/v0.3/conversations", { title: "Clean one" });
      assert.equal(created.status, 201);
      assert.deepEqual(Object.keys(created.body).sort(), [
        "conversation_id",
        "created_at",
        "title",
        "updated_at",
      ]);
      await p.call(alice, "POST", "/api/v0.3/chat", {
        message: "hello clean",
        conversation_id: created.body.conversation_id,
      });
      const got = await p.call<Json>(alice, "GET", `/api/v0.3/conversations/${created.body.conversation_id}`);
      assert.deepEqual(
        got.body.messages.map((m: Json) => Object.keys(m).sort()),
        [
          ["content", "created_at", "id", "role"],
          ["content", "created_at", "id", "role"],
        ],
      );
      const list = await p.call<Json>(alice, "GET", "/api/v0.3/conversations");
      assert.ok(
        list.body.conversations.some((c: Json) => c.conversation_id === created.body.conversation_id),
      );
    });

    it("keeps every user to their own conversations: another's is 404 whatever the verb", async () => {
      const { body } = await p.call<Json>(alice, "POST", "/api/v1/chat", { message: "secret plans" });
      const id = body.conversation_id;
      assert.equal((await p.call(bob, "GET", `/api/v1/conversations/${id}`)).status, 404);
      assert.equal((await p.call(bob, "GET", `/api/v0.3/conversations/${id}`)).status, 404);
      assert.equal((await p.call(bob, "GET", `/api/v1/conversations/${id}/messages`)).status, 404);
      assert.equal((await p.call(bob, "PUT", `/api/v1/conversations/${id}`, { title: "mine" })).status, 404);
      assert.equal((await p.call(bob, "DELETE", `/api/v1/conversations/${id}`)).status, 404);
      const hijack = await p.call<Json>(bob, "POST", "/api/v1/chat", {
        message: "continue",
        conversation_id: id,
      });
      assert.equal(hijack.status, 404);
      assert.equal(hijack.body.detail, "Conversation not found");
      const search = await p.call<Json>(bob, "GET", "/api/v1/conversations/search?q=secret");
      assert.deepEqual(search.body.conversations, []);
      assert.equal((await p.call(alice, "GET", `/api/v1/conversations/${id}`)).status, 200);
    });

    it("reports chat status and clears a user's history", async () => {
      const user = await p.newUser();
      await p.call(user, "POST", "/api/v1/chat", { message: "one" });
      await p.call(user, "POST", "/api/v1/chat", { message: "two" });
      const status = await p.call<Json>(user, "GET", "/api/v1/chat/status");
      assert.equal(status.body.conversations, 2);
      assert.equal(status.body.message_count, 4);
      const cleared = await p.call<Json>(user, "DELETE", "/api/v1/chat/history");
      assert.equal(cleared.body.conversations_deleted, 2);
      assert.equal((await p.call<Json>(user, "GET", "/api/v0.2/chat/status")).body.conversations, 0);
    });
  });

  describe("personas", () => {
    it("has a built-in default persona, seeded on start", async () => {
      const { body } = await p.call<Json>(alice, "GET", "/api/v1/chat/personas");
      const fallback = body.personas.find((x: Json) => x.is_default);
      assert.equal(fallback.name, "Gaia");
      assert.equal(fallback.created_by, null);
      assert.equal(fallback.builtin, true);
      const current = await p.call<Json>(bob, "GET", "/api/v0.2/personas/current");
      assert.equal(current.body.persona.id, fallback.id);
    });

    it("creates, reads, updates and deletes a persona, and a conversation speaks with it", async () => {
      const created = await p.call<Json>(alice, "POST", "/api/v0.2/personas", {
        name: "Pirate",
        description: "Talks like a pirate",
        system_prompt: "You are a pirate. Arr.",
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.success, true);
      const id = created.body.persona.id;
      assert.equal(
        (await p.call<Json>(alice, "GET", `/api/v1/chat/personas/${id}`)).body.persona.name,
        "Pirate",
      );

      const chat = await p.call<Json>(alice, "POST", "/api/v1/chat", { message: "ahoy", persona_id: id });
      assert.match((p.openai.requests.at(-1)!.body.messages as Json[])[0]!.content, /You are a pirate/);
      // The conversation keeps its persona for the next turn.
      const updated = await p.call<Json>(alice, "PUT", `/api/v0.2/personas/${id}`, {
        system_prompt: "You are a polite pirate.",
      });
      assert.equal(updated.body.persona.system_prompt, "You are a polite pirate.");
      await p.call(alice, "POST", "/api/v1/chat", {
        message: "again",
        conversation_id: chat.body.conversation_id,
      });
      assert.match((p.openai.requests.at(-1)!.body.messages as Json[])[0]!.content, /polite pirate/);
      assert.equal((await p.call<Json>(alice, "GET", "/api/v0.2/personas/current")).body.persona.id, id);

      assert.equal(
        (await p.call(bob, "GET", `/api/v0.2/personas/${id}`)).status,
        404,
        "another user's persona",
      );
      assert.equal((await p.call(bob, "POST", "/api/v1/chat", { message: "x", persona_id: id })).status, 404);
      const deleted = await p.call<Json>(alice, "DELETE", `/api/v1/chat/personas/${id}`);
      assert.equal(deleted.status, 200);
      assert.equal((await p.call(alice, "GET", `/api/v1/chat/personas/${id}`)).status, 404);
    });

    it("sets the persona new conversations start with (personas/set), for its chooser alone", async () => {
      const user = await p.newUser();
      const other = await p.newUser();
      const mine = await p.call<Json>(user, "POST", "/api/v0.2/personas", {
        name: "Bard",
        system_prompt: "You are a bard who answers in verse.",
      });
      const theirs = await p.call<Json>(other, "POST", "/api/v0.2/personas", {
        name: "Spy",
        system_prompt: "You are a spy.",
      });
      const older = await p.call<Json>(user, "POST", "/api/v1/chat", { message: "before choosing" });
      assert.match((p.openai.requests.at(-1)!.body.messages as Json[])[0]!.content, /You are Gaia/);

      const refused = await p.call<Json>(user, "POST", "/api/v0.2/personas/set", {
        persona_id: theirs.body.persona.id,
      });
      assert.equal(refused.status, 422, "another user's persona cannot be chosen");
      assert.match(String(refused.body.detail), /^persona_id: /);
      for (const body of [
        {},
        { persona_id: "" },
        { persona_id: " " },
        { persona_id: 7 },
        { persona_id: "nope" },
      ]) {
        assert.equal((await p.call(user, "POST", "/api/v0.2/personas/set", body)).status, 422);
      }

      const set = await p.call<Json>(user, "POST", "/api/v0.2/personas/set", {
        persona_id: mine.body.persona.id,
      });
      assert.equal(set.status, 200);
      assert.equal(set.body.persona.name, "Bard");
      const current = await p.call<Json>(user, "GET", "/api/v0.2/personas/current");
      assert.equal(current.body.persona.id, mine.body.persona.id);
      assert.equal(
        (await p.call<Json>(other, "GET", "/api/v0.2/personas/current")).body.persona.name,
        "Gaia",
        "each user's choice is their own: the other still has the default",
      );

      const fresh = await p.call<Json>(user, "POST", "/api/v1/chat", { message: "sing" });
      assert.match(
        (p.openai.requests.at(-1)!.body.messages as Json[])[0]!.content,
        /bard who answers in verse/,
      );
      const conversation = await p.call<Json>(
        user,
        "GET",
        `/api/v1/conversations/${fresh.body.conversation_id}`,
      );
      assert.equal(conversation.body.persona_id, mine.body.persona.id, "the new conversation keeps it");
      await p.call(user, "POST", "/api/v1/chat", {
        message: "still me",
        conversation_id: older.body.conversation_id,
      });
      assert.match(
        (p.openai.requests.at(-1)!.body.messages as Json[])[0]!.content,
        /You are Gaia/,
        "a conversation begun before the choice keeps its own persona",
      );

      await p.call(user, "DELETE", `/api/v0.2/personas/${mine.body.persona.id}`);
      const fallback = await p.call<Json>(user, "GET", "/api/v0.2/personas/current");
      assert.notEqual(
        fallback.body.persona.id,
        mine.body.persona.id,
        "a deleted persona is no longer chosen",
      );
      assert.equal((await p.call(user, "GET", "/api/v1/chat/personas/set")).status, 405);
    });

    it("does not let a user change a built-in persona", async () => {
      const { body } = await p.call<Json>(alice, "GET", "/api/v1/chat/personas");
      const builtin = body.personas.find((x: Json) => x.is_default);
      assert.equal(
        (await p.call(alice, "PUT", `/api/v1/chat/personas/${builtin.id}`, { name: "Mine" })).status,
        404,
      );
      assert.equal((await p.call(alice, "DELETE", `/api/v1/chat/personas/${builtin.id}`)).status, 404);
    });
  });

  describe("providers", () => {
    it("falls back to the next provider when the first fails before its first token", async () => {
      p.openai.enqueue({ kind: "error", status: 500 }, { kind: "error", status: 500 });
      const { body } = await p.call<Json>(alice, "POST", "/api/v0.2/chat", { message: "fallback please" });
      assert.equal(body.provider, "anthropic");
      assert.equal(body.model, "claude-haiku-4-5");
      assert.equal(body.fallback_used, true);
      assert.equal(body.response, "anthropic says: fallback please");
      const sent = p.anthropic.requests.at(-1)!;
      assert.equal(
        sent.headers.authorization ?? sent.headers["x-api-key"],
        sent.headers.authorization ? `Bearer ${FAKE_ANTHROPIC_KEY}` : FAKE_ANTHROPIC_KEY,
      );
    });

    it("answers from Anthropic when asked for a Claude model, streamed", async () => {
      p.anthropic.enqueue({ kind: "text", chunks: ["Claude ", "here."] });
      const events = await collectSse(
        await p.request(alice, "/api/v1/chat", { message: "hi", model: "claude-haiku-4-5", stream: true }),
      );
      assert.equal(contentOf(events), "Claude here.");
      assert.equal((events[0]!.data as Json).model, "claude-haiku-4-5");
      assert.equal((events[0]!.data as Json).provider, "anthropic");
    });

    it("refuses a model no configured provider serves, before anything is stored", async () => {
      const before = await p.chatRuntime.db.prisma.message.count();
      const { status, body } = await p.call<Json>(alice, "POST", "/api/v1/chat", {
        message: "x",
        model: "offline/nothing",
      });
      assert.equal(status, 422);
      assert.match(body.detail, /only the "echo" model/);
      assert.equal(await p.chatRuntime.db.prisma.message.count(), before);
    });

    it("ends a stream cut after its first token with an error event, never a clean close", async () => {
      p.openai.enqueue({ kind: "cut", chunks: ["half ", "an "] });
      const clean = (
        await collectSse(await p.request(alice, "/api/v0.3/chat", { message: "cut", stream: true }))
      ).map((e) => e.data as Json);
      assert.equal(contentOf(clean.map((data) => ({ data }))), "half an ");
      assert.equal(clean.at(-1)!.type, "error");
      assert.match(clean.at(-1)!.detail, /stream/);
      assert.ok(!clean.some((e) => e.type === "done"));

      p.openai.enqueue({ kind: "cut", chunks: ["half "] });
      const chunks = await collectSse(
        await p.request(alice, "/api/v1/chat", { message: "cut", stream: true }),
      );
      assert.ok((chunks.at(-1)!.data as Json).error.message);
      assert.ok(!chunks.some((e) => e.data === "[DONE]"));
    });

    it("stops the provider's request when the client goes away mid-stream", async () => {
      const subscriptions = p.chatRuntime.bus.subscriptionCount();
      let release!: () => void;
      p.openai.enqueue({
        kind: "hold",
        chunks: ["first "],
        release: new Promise<void>((r) => (release = r)),
      });
      const controller = new AbortController();
      const response = await p.request(
        alice,
        "/api/v0.3/chat",
        { message: "long answer", stream: true },
        controller.signal,
      );
      for await (const event of readSse(response.body!)) {
        if ((parseMaybe(event.data) as Json).type === "content") break;
      }
      controller.abort();
      const upstream = p.openai.requests.at(-1)!;
      await Promise.race([upstream.finished, new Promise((r) => setTimeout(r, 5000))]);
      assert.equal(upstream.aborted, true, "the provider saw its request closed");
      release();
      await eventually(() => p.chatRuntime.bus.subscriptionCount() === subscriptions);
    });

    it("stops the provider's request when a non-streaming client goes away", async () => {
      let release!: () => void;
      p.openai.enqueue({ kind: "hold", chunks: [], release: new Promise<void>((r) => (release = r)) });
      p.openai.enqueue({ kind: "text", chunks: ["slow"], firstTokenDelayMs: 5000 });
      release();
      const controller = new AbortController();
      const pending = p
        .request(alice, "/api/v1/chat", { message: "whole but slow" }, controller.signal)
        .catch(() => null);
      await eventually(
        () =>
          p.openai.requests.at(-1)?.body.messages &&
          (p.openai.requests.at(-1)!.body.messages as Json[]).at(-1)?.content === "whole but slow",
      );
      controller.abort();
      await pending;
      const upstream = p.openai.requests.at(-1)!;
      await Promise.race([upstream.finished, new Promise((r) => setTimeout(r, 5000))]);
      assert.equal(upstream.aborted, true);
    });

    it("lists models with capabilities and prices, and the offline echo model as such", async () => {
      const { body } = await p.call<Json>(alice, "GET", "/api/v0.2/models");
      const mini = body.models.find((m: Json) => m.id === "gpt-4o-mini");
      assert.deepEqual(mini.pricing, { input_per_1m: 0.15, output_per_1m: 0.6, currency: "USD" });
      assert.equal(mini.capabilities.tools, true);
      assert.equal(mini.available, true);
      assert.equal(mini.default, true);
      const echo = body.models.find((m: Json) => m.id === "echo");
      assert.equal(echo.provider, "offline");
      assert.equal(echo.offline, true);
      const one = await p.call<Json>(alice, "GET", "/api/v0.2/models/claude-haiku-4-5");
      assert.equal(one.body.context_window, 200_000);
      assert.equal((await p.call(alice, "GET", "/api/v0.2/models/nope")).status, 404);
    });

    it("describes providers, their models, live health and counters", async () => {
      const list = await p.call<Json>(alice, "GET", "/api/v0.2/providers");
      assert.deepEqual(
        list.body.providers.map((x: Json) => [x.id, x.configured]),
        [
          ["openai", true],
          ["anthropic", true],
          ["offline", true],
        ],
      );
      const details = await p.call<Json>(alice, "GET", "/api/v0.2/providers/anthropic");
      assert.equal(details.body.default_model, "claude-haiku-4-5");
      assert.ok(details.body.models.length > 0);
      const models = await p.call<Json>(alice, "GET", "/api/v0.2/providers/openai/models");
      assert.ok(models.body.models.every((m: Json) => m.provider === "openai"));
      for (const id of ["openai", "anthropic"]) {
        const health = await p.call<Json>(alice, "GET", `/api/v0.2/providers/${id}/health`);
        assert.equal(health.status, 200);
        assert.equal(health.body.status, "healthy");
      }
      const summary = await p.call<Json>(alice, "GET", "/api/v0.2/performance/summary");
      assert.ok(
        summary.body.requests > 0 && summary.body.latency_ms.samples > 0,
        JSON.stringify(summary.body),
      );
      const perProvider = await p.call<Json>(alice, "GET", "/api/v0.2/performance/providers");
      assert.ok(perProvider.body.providers.openai.requests > 0);
      assert.equal((await p.call(alice, "DELETE", "/api/v0.2/performance/reset")).status, 403);
      const stats = await p.call<Json>(alice, "GET", "/api/v0.2/providers/stats");
      assert.ok(stats.body.providers.openai.requests > 0);
      assert.ok(stats.body.providers.openai.fallbacks >= 1);
      assert.equal((await p.call(alice, "GET", "/api/v0.2/providers/nobody")).status, 404);
    });
  });

  describe("knowledge-base tools", () => {
    it("lets the model search and read the real KB as the caller: their private notes, never another user's", async () => {
      const bob = await p.newUser();
      const kb = await startRealKb(p, {
        "worlds/arden/dragons.md": "# Dragons\n\nDragons of Arden sleep under the Grey Peaks.\n",
        [`users/${alice.userId}/dragons.md`]: "Alice's note: dragons fear the silver bell.\n",
        [`users/${bob.userId}/dragons.md`]: "Bob's note: dragons owe Bob money.\n",
      });
      p.setKbUrl(kb.url);
      try {
        p.openai.enqueue(
          { kind: "tools", calls: [{ id: "call_s", name: "kb_search", arguments: '{"query":"dragons"}' }] },
          {
            kind: "tools",
            calls: [{ id: "call_r", name: "kb_read", arguments: '{"path":"worlds/arden/dragons.md"}' }],
          },
          { kind: "text", chunks: ["Under ", "the ", "Grey ", "Peaks."] },
        );
        const events = (
          await collectSse(
            await p.request(alice, "/api/v0.3/chat", { message: "Where do dragons sleep?", stream: true }),
          )
        ).map((e) => e.data as Json);
        assert.equal(contentOf(events.map((data) => ({ data }))), "Under the Grey Peaks.");
        assert.equal(events.at(-1)!.type, "done");
        const tools = p.openai.requests.at(-3)!.body.tools as Json[];
        assert.deepEqual(
          tools.map((t) => t.function.name),
          ["kb_search", "kb_read"],
        );
        const last = p.openai.requests.at(-1)!.body.messages as Json[];
        const toolResults = last.filter((m) => m.role === "tool");
        assert.equal(toolResults.length, 2);
        // The KB answered as Alice: her own private note is found, Bob's is not.
        const found = [
          ...new Set(JSON.parse(toolResults[0]!.content).results.map((h: Json) => h.path)),
        ].sort();
        assert.deepEqual(found, [`users/${alice.userId}/dragons.md`, "worlds/arden/dragons.md"]);
        assert.ok(!toolResults[0]!.content.includes("Bob"));
        assert.match(JSON.parse(toolResults[1]!.content).content, /Grey Peaks/);

        // Bob's note by path, asked for by Alice's model: not found, not shown.
        p.openai.enqueue(
          {
            kind: "tools",
            calls: [
              {
                id: "call_b",
                name: "kb_read",
                arguments: JSON.stringify({ path: `users/${bob.userId}/dragons.md` }),
              },
            ],
          },
          { kind: "text", chunks: ["Nothing."] },
        );
        await p.call<Json>(alice, "POST", "/api/v1/chat", { message: "Read Bob's note" });
        const denied = (p.openai.requests.at(-1)!.body.messages as Json[]).find((m) => m.role === "tool")!;
        assert.match(denied.content, /No file at/);
        assert.ok(!denied.content.includes("money"));
      } finally {
        p.setKbUrl(`http://127.0.0.1:1`);
        await kb.close();
      }
    });

    it("uses Anthropic's tool format too", async () => {
      const kb = await startRealKb(p, { "npc/mara.md": "Mara keeps the Gilded Boar.\n" });
      p.setKbUrl(kb.url);
      try {
        p.anthropic.enqueue(
          { kind: "tools", calls: [{ id: "toolu_1", name: "kb_read", arguments: '{"path":"npc/mara.md"}' }] },
          { kind: "text", chunks: ["She ", "keeps ", "the ", "inn."] },
        );
        const { body } = await p.call<Json>(alice, "POST", "/api/v1/chat", {
          message: "Who is Mara?",
          model: "claude-haiku-4-5",
        });
        assert.equal(body.response, "She keeps the inn.");
        const sent = p.anthropic.requests.at(-1)!.body;
        assert.deepEqual(
          (sent.tools as Json[]).map((t) => t.name),
          ["kb_search", "kb_read"],
        );
        const turns = sent.messages as Json[];
        assert.equal(turns.at(-2)!.content[0].type, "tool_use");
        assert.equal(turns.at(-1)!.content[0].type, "tool_result");
        assert.match(turns.at(-1)!.content[0].content, /Gilded Boar/);
      } finally {
        p.setKbUrl(`http://127.0.0.1:1`);
        await kb.close();
      }
    });

    it("tells the model the KB is unavailable when it is absent, and still answers", async () => {
      p.openai.enqueue(
        { kind: "tools", calls: [{ id: "call_x", name: "kb_search", arguments: '{"query":"anything"}' }] },
        { kind: "text", chunks: ["I ", "could ", "not ", "check."] },
      );
      const { status, body } = await p.call<Json>(alice, "POST", "/api/v1/chat", {
        message: "Check my notes",
      });
      assert.equal(status, 200);
      assert.equal(body.response, "I could not check.");
      const result = (p.openai.requests.at(-1)!.body.messages as Json[]).find((m) => m.role === "tool")!;
      assert.match(result.content, /knowledge base is unavailable/);
    });
  });

  describe("world updates", () => {
    const holdOpen = () => {
      let release!: () => void;
      p.openai.enqueue({
        kind: "hold",
        chunks: ["The ", "gate "],
        release: new Promise<void>((r) => (release = r)),
      });
      return () => release();
    };

    for (const version of ["v0.3", "v0.2"] as const) {
      it(`interleaves the user's NATS world updates into a ${version} stream and unsubscribes at its end`, async () => {
        const bus = createBus(p.nats.urlFor("game-server"), createLogger("test", "silent"));
        try {
          const before = p.chatRuntime.bus.subscriptionCount();
          const release = holdOpen();
          const response = await p.request(alice, `/api/${version}/chat`, {
            message: "open the gate",
            stream: true,
          });
          const events: { event?: string; data: Json | string }[] = [];
          let publishing: NodeJS.Timeout | undefined;
          for await (const e of readSse(response.body!)) {
            const data = parseMaybe(e.data) as Json;
            events.push({ event: e.event, data });
            const isWorld = e.event === "world_update" || data?.type === "world_update";
            if (!publishing && contentOf([{ data }]).length > 0) {
              assert.equal(p.chatRuntime.bus.subscriptionCount(), before + 1);
              // Publish until it arrives: the subscription reaches the NATS server asynchronously.
              publishing = setInterval(() => {
                void bus.publish(`world.updates.user.${alice.userId}`, { zone: "gate", state: "open" });
                void bus.publish(`world.updates.user.${bob.userId}`, { zone: "bob-only" });
              }, 20);
            }
            if (isWorld && publishing) {
              clearInterval(publishing);
              release();
            }
          }
          const worldAt = events.findIndex(
            (e) => e.event === "world_update" || (e.data as Json)?.type === "world_update",
          );
          assert.ok(worldAt > 0, "a world update arrived");
          const world = events[worldAt]!;
          if (version === "v0.3")
            assert.deepEqual(world.data, { zone: "gate", state: "open", type: "world_update" });
          else assert.deepEqual(world.data, { zone: "gate", state: "open" });
          assert.ok(
            !events.some((e) => JSON.stringify(e.data).includes("bob-only")),
            "only the user's own updates",
          );
          const firstContent = events.findIndex((e) => contentOf([{ data: e.data }]).length > 0);
          assert.ok(firstContent < worldAt, "in the stream, between chunks");
          const last = events.at(-1)!.data;
          assert.ok(last === "[DONE]" || (last as Json).type === "done");
          await eventually(() => p.chatRuntime.bus.subscriptionCount() === before);
        } finally {
          await bus.close();
        }
      });
    }

    it("never forwards a world update forged by a service that may not publish one", async () => {
      const gameServer = createBus(p.nats.urlFor("game-server"), createLogger("test", "silent"));
      const forgers = (["gateway", "auth", "kb"] as const).map((user) =>
        createBus(p.nats.urlFor(user), createLogger("test", "silent")),
      );
      try {
        const release = holdOpen();
        const response = await p.request(alice, "/api/v0.3/chat", { message: "open the gate", stream: true });
        const events: Json[] = [];
        let publishing: NodeJS.Timeout | undefined;
        for await (const e of readSse(response.body!)) {
          const data = parseMaybe(e.data) as Json;
          events.push(data);
          if (!publishing && contentOf([{ data }]).length > 0) {
            // Forgeries go first on every round: the genuine update arriving means the forged ones had their chance.
            publishing = setInterval(() => {
              for (const forger of forgers)
                void forger.publish(`world.updates.user.${alice.userId}`, { zone: "gate", forged: true });
              void gameServer.publish(`world.updates.user.${alice.userId}`, { zone: "gate", state: "open" });
            }, 20);
          }
          if (data?.type === "world_update" && publishing) {
            clearInterval(publishing);
            release();
          }
        }
        const world = events.filter((e) => e?.type === "world_update");
        assert.ok(world.length > 0, "the game server's update arrived");
        assert.ok(!world.some((e) => e.forged), "no forged update reached the stream");
      } finally {
        await Promise.all([gameServer, ...forgers].map((bus) => bus.close()));
      }
    });

    it("streams without NATS, and leaks no subscription", async () => {
      const before = p.chatRuntime.bus.subscriptionCount();
      await p.nats.stop();
      try {
        const events = (
          await collectSse(await p.request(alice, "/api/v0.3/chat", { message: "no nats", stream: true }))
        ).map((e) => e.data as Json);
        assert.equal(events.at(-1)!.type, "done");
        assert.equal(contentOf(events.map((data) => ({ data }))), "openai says: no nats");
        assert.equal(p.chatRuntime.bus.subscriptionCount(), before);
      } finally {
        await p.nats.start();
      }
    });
  });

  describe("scenarios", () => {
    it("streams a game master scene: each agent framed by agent_start and agent_end, content tagged, done last", async () => {
      const events = (
        await collectSse(
          await p.request(alice, "/api/v1/chat/gamemaster", { message: "I enter the tavern", stream: true }),
        )
      ).map((e) => e.data as Json);
      assert.equal(events[0]!.type, "metadata");
      const agents = events.filter((e) => e.type === "agent_start").map((e) => e.agent);
      assert.deepEqual(agents, ["Narrator", "Innkeeper Mara", "Captain Thorne", "Narrator"]);
      let current: string | undefined;
      for (const e of events.slice(1, -1)) {
        if (e.type === "agent_start") current = e.agent;
        else if (e.type === "content") assert.equal(e.agent, current);
        else if (e.type === "agent_end") {
          assert.equal(e.agent, current);
          current = undefined;
        }
      }
      assert.equal(events.at(-1)!.type, "done");
      // Each voice is its own call, with its own instructions, hearing the voices before it.
      const calls = p.openai.requests.slice(-4).map((r) => r.body.messages as Json[]);
      assert.match(calls[1]![0]!.content, /You are Mara/);
      assert.match(calls[2]![0]!.content, /Captain Thorne/);
      assert.match(calls[2]!.at(-1)!.content, /\*\*Innkeeper Mara:\*\*/);
    });

    it("answers the other scenarios whole, with each agent's part", async () => {
      for (const [scenario, agents] of [
        ["worldbuilding", ["Geographer", "Anthropologist", "Historian", "Lead Designer"]],
        ["storytelling", ["The Hero", "The Antagonist", "The Witness", "The Chronicler"]],
        ["problemsolving", ["Technical Expert", "Design Expert", "Production Expert", "Facilitator"]],
      ] as const) {
        const { status, body } = await p.call<Json>(alice, "POST", `/api/v1/chat/${scenario}`, {
          message: "a floating city",
        });
        assert.equal(status, 200);
        assert.deepEqual(
          body.agents.map((a: Json) => a.agent),
          agents,
        );
        assert.ok(body.response.startsWith(`**${agents[0]}:**`));
        const stored = await p.call<Json>(alice, "GET", `/api/v1/conversations/${body.conversation_id}`);
        assert.equal(stored.body.messages[1].content, body.response);
      }
    });
  });

  describe("usage, budgets and events", () => {
    it("records usage per user, key and model, with the catalogue's prices", async () => {
      const user = await p.newUser();
      p.openai.enqueue({ kind: "text", chunks: ["x"], usage: { prompt: 1_000_000, completion: 1_000_000 } });
      await p.call(user, "POST", "/api/v1/chat", { message: "expensive" });
      const current = await p.call<Json>(user, "GET", "/api/v0.2/usage/current");
      assert.equal(current.status, 200);
      assert.deepEqual(current.body.totals, {
        requests: 1,
        prompt_tokens: 1_000_000,
        completion_tokens: 1_000_000,
        total_tokens: 2_000_000,
        cost_usd: 0.75,
      });
      assert.deepEqual(
        current.body.by_model.map((m: Json) => [m.provider, m.model]),
        [["openai", "gpt-4o-mini"]],
      );
      assert.equal(current.body.api_key.id, user.keyId);
      assert.equal(current.body.api_key.totals.cost_usd, 0.75);
      const history = await p.call<Json>(user, "GET", "/api/v0.2/usage/history?days=7");
      assert.equal(history.body.days.length, 1);
      assert.equal(history.body.days[0].cost_usd, 0.75);
      const rows = await p.chatRuntime.db.prisma.usageRecord.findMany({ where: { userId: user.userId } });
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.apiKeyId, user.keyId);
    });

    it("refuses with 429 and a clear detail once an API key's budget, set through the keys API, is spent", async () => {
      const user = await p.newUser();
      const set = await p.call<Json>(user, "PATCH", `/api/v1/auth/keys/${user.keyId}`, { budget_usd: 0.5 });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.budget_usd, 0.5);
      p.openai.enqueue({ kind: "text", chunks: ["x"], usage: { prompt: 1_000_000, completion: 1_000_000 } });
      assert.equal((await p.call(user, "POST", "/api/v1/chat", { message: "spend it" })).status, 200);
      const limits = await p.call<Json>(user, "GET", "/api/v0.2/usage/limits");
      assert.deepEqual(limits.body.key, { budget_usd: 0.5, spent_usd: 0.75, remaining_usd: 0 });
      assert.deepEqual(limits.body.user, { budget_usd: null, spent_usd: 0.75, remaining_usd: null });
      const before = p.openai.requests.length;
      for (const [path, body] of [
        ["/api/v1/chat", { message: "more" }],
        ["/api/v0.3/chat", { message: "more", stream: true }],
        ["/api/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "more" }] }],
        ["/api/v1/chat/gamemaster", { message: "more" }],
      ] as const) {
        const refused = await p.call<Json>(user, "POST", path, body);
        assert.equal(refused.status, 429, path);
        assert.match(refused.body.detail, /API key's monthly budget of \$0.5 is spent/);
        assert.ok(Number(refused.headers.get("retry-after")) > 0);
      }
      assert.equal(p.openai.requests.length, before, "no provider was called");
    });

    it("announces completed messages on NATS", async () => {
      const bus = createBus(p.nats.url, createLogger("test", "silent"));
      const seen: Json[] = [];
      bus.subscribe("gaia.chat.>", (payload, subject) => {
        seen.push({ subject, ...(payload as Json) });
      });
      try {
        // The subscription is live at the server once a probe published through it comes back: the first message
        // of the conversation must not be announced before anyone listens.
        await eventually(async () => {
          await bus.publish("gaia.chat.probe", { probe: true });
          return seen.some((e) => e.subject === "gaia.chat.probe");
        });
        // Core NATS events are fire-and-forget: chat must be connected again after the outage tests above.
        await eventually(() => p.chatRuntime.bus.healthy(), 15_000);
        const chat = await p.call<Json>(alice, "POST", "/api/v1/chat", { message: "announce me" });
        const of = (subject: string) =>
          seen.find((e) => e.subject === subject && e.conversation_id === chat.body.conversation_id);
        // Each event is published on its own when its write is done: they arrive in either order.
        await eventually(
          async () => of("gaia.chat.message.completed") && of("gaia.chat.conversation.created"),
        );
        const event = of("gaia.chat.message.completed")!;
        assert.equal(event.user_id, alice.userId);
        assert.equal(event.provider, "openai");
        assert.equal(event.model, "gpt-4o-mini");
        assert.ok(event.completion_tokens > 0);
        assert.equal(of("gaia.chat.conversation.created")!.user_id, alice.userId);
      } finally {
        await bus.close();
      }
    });
  });

  describe("identity", () => {
    it("refuses a request that did not come through the gateway with an identity", async () => {
      const direct = await fetch(`${p.chatUrl}/api/v1/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "sneaky" }),
      });
      assert.equal(direct.status, 401);
      const forged = await fetch(`${p.chatUrl}/api/v1/conversations`, {
        headers: { "x-gaia-identity": "not.a.jwt" },
      });
      assert.equal(forged.status, 401);
    });

    it("needs chat:create to chat, but not to read", async () => {
      const created = await fetch(`${p.gateway}/api/v1/auth/keys`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.accessToken}` },
        body: JSON.stringify({ name: "read only", permissions: ["kb:read"] }),
      });
      const readOnly = { ...alice, key: ((await created.json()) as Json).key };
      const refused = await p.call<Json>(readOnly, "POST", "/api/v1/chat", { message: "hi" });
      assert.equal(refused.status, 403);
      assert.match(refused.body.detail, /chat:create/);
      assert.equal((await p.call(readOnly, "GET", "/api/v1/conversations")).status, 200);
    });
  });
});

describe("chat with a per-user budget", function () {
  this.timeout(60_000);
  it("refuses with 429 once the user's monthly budget is spent", async () => {
    const p = await startChatPlatform({ chatEnv: { GAIA_USER_BUDGET_USD: "0" } });
    try {
      const user = await p.newUser();
      const refused = await p.call<Json>(user, "POST", "/api/v1/chat", { message: "hi" });
      assert.equal(refused.status, 429);
      assert.match(refused.body.detail, /Your monthly budget of \$0 is spent/);
      const limits = await p.call<Json>(user, "GET", "/api/v0.2/usage/limits");
      assert.equal(limits.body.user.budget_usd, 0);
      assert.equal(p.openai.requests.length, 0);
    } finally {
      await p.close();
    }
  });
});
