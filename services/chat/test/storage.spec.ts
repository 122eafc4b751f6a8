import { strict as assert } from "node:assert";
import { queryAsOwner } from "../../../test/support/servers.ts";
import { type ChatPlatform, startChatPlatform, type TestUser } from "./support/platform.ts";
import { collectSse } from "./support/sse.ts";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions, not by types
type Json = Record<string, any>;

const NUL = "contains a NUL character (\\u0000), which cannot be stored";

describe("chat: nothing lost, nothing silent (PostgreSQL, Redis, NATS)", function () {
  this.timeout(30_000);
  let p: ChatPlatform;
  let alice: TestUser;

  before(async function () {
    this.timeout(120_000);
    p = await startChatPlatform();
    alice = await p.newUser();
    // A real refusal by the database, for any message carrying the marker: the store fails, nothing else does.
    // Set up as the database's owner: chat's own role may create nothing.
    const url = p.chatRuntime.env.DATABASE_URL!;
    await queryAsOwner(
      url,
      `
      CREATE FUNCTION refuse_marked_message() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
    );
    await queryAsOwner(
      url,
      `
      CREATE TRIGGER refuse_marked_message BEFORE INSERT ON messages FOR EACH ROW
      WHEN (NEW.content LIKE '%[unstorable]%') EXECUTE FUNCTION refuse_marked_message()`,
    );
  });
  after(async () => p?.close());

  const conversations = () => p.chatRuntime.db.prisma.conversation.count({ where: { userId: alice.userId } });
  const usageRows = () => p.chatRuntime.db.prisma.usageRecord.count({ where: { userId: alice.userId } });

  describe("text PostgreSQL cannot store", () => {
    it("refuses a chat message with a NUL with 422 naming the field, and stores nothing", async () => {
      const before = await conversations();
      const asked = p.openai.requests.length;
      for (const path of ["/api/v1/chat", "/api/v0.2/chat", "/api/v0.3/chat", "/api/v1/chat/gamemaster"]) {
        for (const stream of [false, true]) {
          const { status, body } = await p.call<Json>(alice, "POST", path, {
            message: "hi\u0000there",
            stream,
          });
          assert.equal(status, 422, `${path} stream=${stream}`);
          assert.equal(body.detail, `message: ${NUL}`);
          assert.deepEqual(body.errors, [`message: ${NUL}`]);
        }
      }
      assert.equal(await conversations(), before);
      assert.equal(p.openai.requests.length, asked, "no provider was asked");
    });

    it("refuses NUL and unpaired surrogates in conversations, personas and completions, by field", async () => {
      const cases: [string, string, unknown, string][] = [
        ["POST", "/api/v1/conversations", { title: "t\u0000x" }, `title: ${NUL}`],
        ["POST", "/api/v0.3/conversations", { title: "t\u0000x" }, `title: ${NUL}`],
        ["POST", "/api/v1/chat/personas", { name: "n\u0000", system_prompt: "ok" }, `name: ${NUL}`],
        [
          "POST",
          "/api/v0.2/personas",
          { name: "n", system_prompt: "half an emoji \ud83d" },
          "system_prompt: contains an unpaired UTF-16 surrogate (\\ud83d), which is not valid Unicode text",
        ],
        [
          "POST",
          "/api/v1/chat/completions",
          { model: "gpt-4o-mini", messages: [{ role: "user", content: "a\u0000" }] },
          `messages.0.content: ${NUL}`,
        ],
        [
          "POST",
          "/api/v1/chat/completions",
          {
            model: "gpt-4o-mini",
            messages: [{ role: "user", content: "a" }],
            tools: [{ type: "function", function: { name: "f", parameters: { "x\u0000": {} } } }],
          },
          `tools.0.function.parameters: key "x\\u0000" ${NUL}`,
        ],
        ["GET", "/api/v1/conversations/search?q=a%00", undefined, `q: ${NUL}`],
        ["GET", "/api/v1/conversations/search/a%00", undefined, `path: ${NUL}`],
        ["GET", "/api/v0.3/conversations?limit=5&q%00=1", undefined, `key "q\\u0000" ${NUL}`],
      ];
      for (const [method, path, body, detail] of cases) {
        const reply = await p.call<Json>(alice, method, path, body);
        assert.equal(reply.status, 422, `${method} ${path}: ${JSON.stringify(reply.body)}`);
        assert.ok(String(reply.body.detail).startsWith(detail), `${path}: ${reply.body.detail}`);
      }
    });

    it("stores a model's reply with NUL in it, each NUL replaced by U+FFFD", async () => {
      p.openai.enqueue({ kind: "text", chunks: ["a\u0000b", " c\ud800"] });
      const { status, body } = await p.call<Json>(alice, "POST", "/api/v1/chat", { message: "say nothing" });
      assert.equal(status, 200);
      assert.equal(body.response, "a\u0000b c\ud800", "the client hears what the model said");
      const stored = await p.call<Json>(
        alice,
        "GET",
        `/api/v1/conversations/${body.conversation_id}/messages`,
      );
      assert.deepEqual(
        stored.body.messages.map((m: Json) => m.content),
        ["say nothing", "a\ufffdb c\ufffd"],
      );
    });
  });

  describe("a reply that could not be saved", () => {
    it("fails a whole answer with 503, and still bills the provider's tokens", async () => {
      for (const path of ["/api/v1/chat", "/api/v0.2/chat", "/api/v0.3/chat", "/api/v1/chat/storytelling"]) {
        const billed = await usageRows();
        const { status, body } = await p.call<Json>(alice, "POST", path, { message: "[unstorable] hello" });
        assert.equal(status, 503, path);
        assert.equal(body.detail, "The reply could not be saved; try again", path);
        assert.ok((await usageRows()) > billed, `${path}: the provider was paid, so the caller is billed`);
      }
    });

    it("ends a stream with an error event saying the reply was not saved, never done", async () => {
      const clean = (
        await collectSse(
          await p.request(alice, "/api/v0.3/chat", { message: "[unstorable] s", stream: true }),
        )
      ).map((e) => e.data as Json);
      assert.equal(clean.filter((e) => e.type === "content").length > 0, true, "the reply was heard");
      assert.deepEqual(clean.at(-1), { type: "error", detail: "The reply could not be saved; try again" });
      assert.ok(!clean.some((e) => e.type === "done"));

      for (const path of ["/api/v1/chat", "/api/v0.2/chat/stream"]) {
        const billed = await usageRows();
        const chunks = await collectSse(
          await p.request(alice, path, { message: "[unstorable] s", stream: true }),
        );
        const last = chunks.at(-1)!.data as Json;
        assert.equal(last.detail, "The reply could not be saved; try again", path);
        assert.equal(last.error.message, "The reply could not be saved; try again");
        assert.ok(last.conversation_id);
        assert.ok(!chunks.some((e) => e.data === "[DONE]"), path);
        assert.ok((await usageRows()) > billed, path);
      }

      const scene = (
        await collectSse(
          await p.request(alice, "/api/v1/chat/gamemaster", { message: "[unstorable] s", stream: true }),
        )
      ).map((e) => e.data as Json);
      assert.deepEqual(scene.at(-1), { type: "error", detail: "The reply could not be saved; try again" });
    });
  });
});
