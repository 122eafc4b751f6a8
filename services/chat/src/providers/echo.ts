import { setTimeout as sleep } from "node:timers/promises";
import { estimateTokens } from "../history.ts";
import type { Completion, CompletionRequest, StreamEvent } from "../types.ts";
import { type ChatProvider, ProviderError } from "./types.ts";

export const ECHO_LABEL = "[offline echo model: no LLM provider is configured, so this is not an AI reply]";

/** The answer of the echo model: a label, then the last user message repeated. */
export function echoText(request: CompletionRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === "user");
  return `${ECHO_LABEL} You said: ${last?.content ?? ""}`;
}

/**
 * An offline stand-in for an LLM, so `gaia dev` works with no keys. It is labelled in its id, its provider
 * (`offline`) and every reply, and streams word by word like a real model.
 */
export class EchoProvider implements ChatProvider {
  readonly id = "offline" as const;
  readonly #wordDelayMs: number;

  constructor(wordDelayMs = 15) {
    this.#wordDelayMs = wordDelayMs;
  }

  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<StreamEvent> {
    const text = echoText(request);
    const words = text.split(/(?<= )/);
    for (const [i, word] of words.entries()) {
      if (signal.aborted) throw new ProviderError(this.id, "aborted", "The request was cancelled");
      if (i > 0 && this.#wordDelayMs > 0)
        await sleep(this.#wordDelayMs, undefined, { signal }).catch(() => {});
      if (signal.aborted) throw new ProviderError(this.id, "aborted", "The request was cancelled");
      yield { type: "text", text: word };
    }
    yield { type: "usage", usage: usageOf(request, text) };
    yield { type: "finish", reason: "stop" };
  }

  async complete(request: CompletionRequest): Promise<Completion> {
    const text = echoText(request);
    return { text, toolCalls: [], usage: usageOf(request, text), finishReason: "stop" };
  }

  async listModels(): Promise<string[]> {
    return ["echo"];
  }
}

function usageOf(request: CompletionRequest, text: string) {
  return {
    promptTokens: request.messages.reduce((n, m) => n + estimateTokens(m.content), 0),
    completionTokens: estimateTokens(text),
  };
}
