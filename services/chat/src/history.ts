import type { ChatMessage } from "./types.ts";

/**
 * A cheap token estimate (about four characters a token for English text with the common tokenizers). It only
 * needs to be good enough to keep a prompt inside a context window with room to spare.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** A message's estimated cost in the prompt, with the few tokens of framing every message carries. */
export function messageTokens(message: ChatMessage): number {
  const calls =
    message.role === "assistant"
      ? (message.toolCalls ?? []).reduce((n, c) => n + estimateTokens(c.name + c.arguments), 0)
      : 0;
  return estimateTokens(message.content) + calls + 4;
}

/** The prompt budget of a model: its context window minus what its answer may need. */
export function promptBudget(contextWindow: number, maxOutputTokens: number): number {
  return Math.max(256, contextWindow - Math.min(maxOutputTokens, Math.floor(contextWindow / 4)));
}

/**
 * The messages to send: the system prompt and the new turn always, and as much of the history as fits in the
 * budget, newest first, so the oldest messages are dropped first. The kept history starts at a user message,
 * since a conversation opening with the model's reply confuses models and Anthropic refuses it.
 */
export function fitHistory(
  system: ChatMessage[],
  history: ChatMessage[],
  turn: ChatMessage[],
  budgetTokens: number,
): ChatMessage[] {
  let used = [...system, ...turn].reduce((n, m) => n + messageTokens(m), 0);
  let start = history.length;
  while (start > 0) {
    const cost = messageTokens(history[start - 1]!);
    if (used + cost > budgetTokens) break;
    used += cost;
    start--;
  }
  while (start < history.length && history[start]!.role !== "user") start++;
  return [...system, ...history.slice(start), ...turn];
}
