import { randomBytes } from "node:crypto";
import type { FinishReason, ToolCall, Usage } from "../types.ts";

/** OpenAI's chat-completion shapes, which v1, v0.2 and the OpenAI-compatible endpoint speak. */

export const completionId = () => `chatcmpl-${randomBytes(12).toString("base64url")}`;

export const usageBody = (usage: Usage) => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
});

export const toolCallsBody = (calls: ToolCall[]) =>
  calls.map((call) => ({
    id: call.id,
    type: "function" as const,
    function: { name: call.name, arguments: call.arguments },
  }));

/**
 * Builds `chat.completion.chunk` objects for one answer: the same id and creation time on every chunk, and
 * whatever extra fields a Gaia format adds (conversation_id). The official SDK's `.stream()` helper needs the
 * first chunk to carry `role: "assistant"`, every choice an `index`, and the last a `finish_reason`.
 */
export class ChunkBuilder {
  readonly id = completionId();
  readonly created = Math.floor(Date.now() / 1000);
  model: string;
  readonly #extra: Record<string, unknown>;

  constructor(model: string, extra: Record<string, unknown> = {}) {
    this.model = model;
    this.#extra = extra;
  }

  #chunk(
    delta: Record<string, unknown>,
    finishReason: FinishReason | null = null,
    more: Record<string, unknown> = {},
  ) {
    return {
      ...this.#head(),
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...more,
    };
  }

  /** What every chunk of one completion starts with. */
  #head() {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      ...this.#extra,
    };
  }

  /** The first chunk names the role; it carries the first text when there is one (one write, not two). */
  role(text = "") {
    return this.#chunk({ role: "assistant", content: text });
  }

  content(text: string) {
    return this.#chunk({ content: text });
  }

  toolCallStart(index: number, id: string, name: string) {
    return this.#chunk({ tool_calls: [{ index, id, type: "function", function: { name, arguments: "" } }] });
  }

  toolCallArguments(index: number, args: string) {
    return this.#chunk({ tool_calls: [{ index, function: { arguments: args } }] });
  }

  finish(reason: FinishReason, usage?: Usage) {
    return this.#chunk({}, reason, usage ? { usage: usageBody(usage) } : {});
  }

  /** The trailing usage chunk OpenAI sends when asked with stream_options.include_usage. */
  usage(usage: Usage) {
    return { ...this.#head(), choices: [], usage: usageBody(usage) };
  }
}

/** A non-streamed `chat.completion`. */
export function completionBody(options: {
  model: string;
  text: string;
  toolCalls?: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  extra?: Record<string, unknown>;
}) {
  return {
    id: completionId(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: options.model,
    ...options.extra,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: options.text || (options.toolCalls?.length ? null : ""),
          refusal: null,
          ...(options.toolCalls?.length ? { tool_calls: toolCallsBody(options.toolCalls) } : {}),
        },
        finish_reason: options.finishReason,
        logprobs: null,
      },
    ],
    usage: usageBody(options.usage),
  };
}

/** The error object OpenAI clients look for, in a stream's last event or an error body. */
export const openAIError = (message: string, type = "upstream_error") => ({
  error: { message, type, code: null, param: null },
});
