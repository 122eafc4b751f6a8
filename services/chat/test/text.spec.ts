import assert from "node:assert/strict";
import { unstorable } from "@gaia/kit";
import * as contracts from "@gaia/kit/contracts/chat";
import {
  assertAnyTextIsAnswered,
  assertEveryTextFieldCovered,
  schemasOf,
  type TextCase,
} from "../../../test/support/text.ts";
import * as conversations from "../src/routes/conversations.ts";
import * as http from "../src/routes/http.ts";
import * as usage from "../src/routes/usage.ts";
import { type ChatPlatform, startChatPlatform, type TestUser } from "./support/platform.ts";

const RUNS = 10;

const prefixed = (prefix: string, module: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(schemasOf(module)).map(([name, schema]) => [`${prefix}.${name}`, schema]),
  );

/** Every request schema of chat (the public bodies live in the kit); `optionalId` is a field type, not a request. */
function requestSchemas() {
  const { "contracts.optionalId": _field, ...bodies } = prefixed("contracts", contracts);
  return {
    ...bodies,
    ...prefixed("conversations", conversations),
    ...prefixed("usage", usage),
    ...prefixed("http", http),
  };
}

function cases(ids: { conversation: string; persona: string }): TextCase[] {
  return [
    {
      schema: "contracts.chatBody",
      method: "POST",
      path: "/api/v1/chat",
      body: () => ({
        message: "hello",
        conversation_id: ids.conversation,
        persona_id: ids.persona,
        model: "gpt-4o-mini",
        stream: false,
      }),
    },
    {
      schema: "contracts.completionRequest",
      method: "POST",
      path: "/api/v1/chat/completions",
      body: () => ({
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "be brief" },
          { role: "developer", content: "be kind" },
          { role: "user", content: [{ type: "text", text: "what is the weather" }] },
          {
            role: "assistant",
            content: "",
            tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: "{}" } }],
          },
          { role: "tool", content: "sunny", tool_call_id: "c1" },
        ],
        tools: [
          {
            type: "function",
            function: { name: "weather", description: "today's weather", parameters: { type: "object" } },
          },
        ],
        tool_choice: { type: "function", function: { name: "weather" } },
        stop: ["\n\n"],
      }),
    },
    {
      schema: "contracts.completionRequest",
      method: "POST",
      path: "/api/v1/chat/completions",
      body: () => ({
        model: "",
        messages: [{ role: "user", content: "hi" }],
        tool_choice: "auto",
        stop: ".",
      }),
    },
    {
      schema: "contracts.createConversationBody",
      method: "POST",
      path: "/api/v1/conversations",
      body: () => ({ title: "a title", persona_id: ids.persona }),
    },
    {
      schema: "contracts.updateConversationBody",
      method: "PATCH",
      path: `/api/v0.3/conversations/${ids.conversation}`,
      body: () => ({ title: "renamed", persona_id: ids.persona }),
    },
    {
      schema: "contracts.addMessageBody",
      method: "POST",
      path: `/api/v1/conversations/${ids.conversation}/messages`,
      body: () => ({ role: "user", content: "a note" }),
    },
    {
      schema: "conversations.searchQuery",
      method: "GET",
      path: "/api/v1/conversations/search",
      query: { q: "dragon" },
    },
    { schema: "conversations.searchQuery", method: "GET", path: "/api/v1/conversations/search/{text}" },
    {
      schema: "http.pageQuery",
      method: "GET",
      path: "/api/v1/conversations",
      query: { limit: "5", offset: "0" },
    },
    {
      schema: "contracts.createPersonaBody",
      method: "POST",
      path: "/api/v1/chat/personas",
      body: () => ({ name: "Bard", description: "sings", system_prompt: "You sing.", builtin: false }),
    },
    {
      schema: "contracts.updatePersonaBody",
      method: "PUT",
      path: `/api/v0.2/personas/${ids.persona}`,
      body: () => ({ name: "Bard", description: "sings", system_prompt: "You sing." }),
    },
    {
      schema: "contracts.selectPersonaBody",
      method: "POST",
      path: "/api/v0.2/personas/set",
      body: () => ({ persona_id: ids.persona }),
    },
    { schema: "usage.historyQuery", method: "GET", path: "/api/v0.2/usage/history", query: { days: "7" } },
    // Path parameters outside any schema: ids, model and provider names.
    { schema: "path", method: "GET", path: "/api/v1/conversations/{text}" },
    { schema: "path", method: "DELETE", path: "/api/v0.3/conversations/{text}" },
    { schema: "path", method: "GET", path: "/api/v1/chat/personas/{text}" },
    { schema: "path", method: "GET", path: "/api/v1/models/{text}" },
    { schema: "path", method: "GET", path: "/api/v0.2/providers/{text}/models" },
  ];
}

describe("chat takes any text without a 5xx, through the gateway (PostgreSQL, Redis, NATS; property)", function () {
  this.timeout(180_000);
  let p: ChatPlatform;
  let alice: TestUser;
  let all: TextCase[];

  before(async function () {
    this.timeout(120_000);
    p = await startChatPlatform();
    alice = await p.newUser();
    const persona = await p.call<{ persona: { id: string } }>(alice, "POST", "/api/v1/chat/personas", {
      name: "Scribe",
      system_prompt: "You write things down.",
    });
    const conversation = await p.call<{ conversation_id: string }>(alice, "POST", "/api/v1/chat", {
      message: "the first words",
    });
    all = cases({ conversation: conversation.body.conversation_id, persona: persona.body.persona.id });
  });
  after(async () => p?.close());

  it("has an example reaching every text field of every request schema", () => {
    assertEveryTextFieldCovered(requestSchemas(), all);
  });

  it("answers arbitrary text in every text field, key and path parameter without a 5xx", async () => {
    const send = ({ method, path, body }: { method: string; path: string; body?: unknown }) =>
      p.call<{ detail?: unknown; errors?: unknown }>(alice, method, path, body);
    for (const c of all) await assertAnyTextIsAnswered(c, send, unstorable, RUNS);
    assert.ok(p.openai.requests.length > 0, "the provider was reached with what got through");
  });
});
