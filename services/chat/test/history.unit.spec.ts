import { strict as assert } from "node:assert";
import { estimateTokens, fitHistory, messageTokens, promptBudget } from "../src/history.ts";
import type { ChatMessage } from "../src/types.ts";

const say = (role: "user" | "assistant", words: number, tag: string): ChatMessage => ({
  role,
  content: `${tag} ${"word ".repeat(words)}`.trim(),
});

describe("history in the prompt (unit)", () => {
  const system: ChatMessage[] = [{ role: "system", content: "You are Gaia." }];
  const turn: ChatMessage[] = [{ role: "user", content: "What now?" }];
  const history = [
    say("user", 100, "u1"),
    say("assistant", 100, "a1"),
    say("user", 100, "u2"),
    say("assistant", 100, "a2"),
    say("user", 100, "u3"),
    say("assistant", 100, "a3"),
  ];

  it("keeps everything that fits, in order, between the system prompt and the new turn", () => {
    const fitted = fitHistory(system, history, turn, 100_000);
    assert.deepEqual(fitted, [...system, ...history, ...turn]);
  });

  it("drops the oldest messages first when the budget is short", () => {
    const fixed = [...system, ...turn].reduce((n, m) => n + messageTokens(m), 0);
    const two = messageTokens(history[4]!) + messageTokens(history[5]!);
    const fitted = fitHistory(system, history, turn, fixed + two + 10);
    assert.deepEqual(
      fitted.map((m) => m.content.split(" ")[0]),
      ["You", "u3", "a3", "What"],
    );
  });

  it("never starts the kept history with the model's reply", () => {
    const fixed = [...system, ...turn].reduce((n, m) => n + messageTokens(m), 0);
    // Room for three messages: a2, u3, a3 fit, but a2 alone would open the history with an assistant turn.
    const three = messageTokens(history[3]!) + messageTokens(history[4]!) + messageTokens(history[5]!);
    const fitted = fitHistory(system, history, turn, fixed + three);
    assert.equal(fitted[1]!.role, "user");
    assert.deepEqual(
      fitted.slice(1, -1).map((m) => m.content.split(" ")[0]),
      ["u3", "a3"],
    );
  });

  it("keeps the system prompt and the new turn even when nothing else fits", () => {
    assert.deepEqual(fitHistory(system, history, turn, 1), [...system, ...turn]);
  });

  it("is pure: the history passed in is left as it was", () => {
    const copy = structuredClone(history);
    fitHistory(system, history, turn, 50);
    assert.deepEqual(history, copy);
  });

  it("estimates about four characters a token and counts tool calls", () => {
    assert.equal(estimateTokens(""), 0);
    assert.equal(estimateTokens("abcdefgh"), 2);
    const plain = messageTokens({ role: "assistant", content: "hi" });
    const withCall = messageTokens({
      role: "assistant",
      content: "hi",
      toolCalls: [{ id: "1", name: "kb_search", arguments: '{"query":"dragons"}' }],
    });
    assert.ok(withCall > plain);
  });

  it("reserves room for the answer in the budget", () => {
    assert.equal(promptBudget(128_000, 16_384), 128_000 - 16_384);
    // A model whose output could fill its window still leaves three quarters for the prompt.
    assert.equal(promptBudget(8_000, 8_000), 6_000);
  });
});
