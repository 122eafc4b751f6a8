import Anthropic from "@anthropic-ai/sdk";
import type {
  ToolChoice as AnthropicToolChoice,
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
} from "@anthropic-ai/sdk/resources/messages/messages";
import { modelInfo } from "../catalogue.ts";
import type { ProviderConfig } from "../config.ts";
import type {
  ChatMessage,
  Completion,
  CompletionRequest,
  FinishReason,
  StreamEvent,
  ToolCall,
  ToolChoice,
} from "../types.ts";
import { type ChatProvider, ProviderError, toProviderError } from "./types.ts";

/** Anthropic's Messages API. Retries are the router's job, so the SDK makes exactly one attempt. */
export class AnthropicProvider implements ChatProvider {
  readonly id = "anthropic" as const;
  readonly #client: Anthropic;

  constructor(config: ProviderConfig, timeoutMs: number) {
    this.#client = new Anthropic({
      apiKey: config.apiKey ?? "unused",
      baseURL: config.baseURL ?? "https://api.anthropic.com",
      maxRetries: 0,
      timeout: timeoutMs,
      // The SDK authenticates with a bearer token; x-api-key as well keeps Anthropic-style proxies working.
      ...(config.apiKey ? { defaultHeaders: { "x-api-key": config.apiKey } } : {}),
    });
  }

  async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<StreamEvent> {
    let finished = false;
    let promptTokens = 0;
    // Anthropic numbers content blocks (text and tool use together); tool calls are numbered on their own.
    const toolIndex = new Map<number, number>();
    try {
      const stream = await this.#client.messages.create(
        { ...toAnthropic(request), stream: true },
        { signal },
      );
      for await (const event of stream) {
        switch (event.type) {
          case "message_start":
            promptTokens = event.message.usage?.input_tokens ?? 0;
            break;
          case "content_block_start":
            if (event.content_block.type === "tool_use") {
              const index = toolIndex.size;
              toolIndex.set(event.index, index);
              yield {
                type: "tool_call_start",
                index,
                id: event.content_block.id,
                name: event.content_block.name,
              };
            } else if (event.content_block.type === "text" && event.content_block.text) {
              yield { type: "text", text: event.content_block.text };
            }
            break;
          case "content_block_delta":
            if (event.delta.type === "text_delta" && event.delta.text) {
              yield { type: "text", text: event.delta.text };
            } else if (event.delta.type === "input_json_delta" && event.delta.partial_json) {
              const index = toolIndex.get(event.index);
              if (index !== undefined)
                yield { type: "tool_call_delta", index, arguments: event.delta.partial_json };
            }
            break;
          case "message_delta":
            yield {
              type: "usage",
              usage: {
                promptTokens: event.usage.input_tokens ?? promptTokens,
                completionTokens: event.usage.output_tokens ?? 0,
              },
            };
            if (event.delta.stop_reason) {
              finished = true;
              yield { type: "finish", reason: finishReason(event.delta.stop_reason) };
            }
            break;
          case "message_stop":
            if (!finished) {
              finished = true;
              yield { type: "finish", reason: "stop" };
            }
            break;
        }
      }
    } catch (error) {
      throw toProviderError(this.id, error, signal);
    }
    // The SDK ends its iteration quietly on abort; a stream without a finish was cancelled or cut.
    if (signal.aborted) throw new ProviderError(this.id, "aborted", "The request was cancelled");
    if (!finished) {
      throw new ProviderError(this.id, "interrupted", "anthropic ended the stream without finishing");
    }
  }

  async complete(request: CompletionRequest, signal: AbortSignal): Promise<Completion> {
    try {
      const message = await this.#client.messages.create(
        { ...toAnthropic(request), stream: false },
        { signal },
      );
      let text = "";
      const toolCalls: ToolCall[] = [];
      for (const block of message.content) {
        if (block.type === "text") text += block.text;
        else if (block.type === "tool_use") {
          toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) });
        }
      }
      return {
        text,
        toolCalls,
        usage: {
          promptTokens: message.usage?.input_tokens ?? 0,
          completionTokens: message.usage?.output_tokens ?? 0,
        },
        finishReason: finishReason(message.stop_reason ?? "end_turn"),
      };
    } catch (error) {
      throw toProviderError(this.id, error, signal);
    }
  }

  async listModels(signal: AbortSignal): Promise<string[]> {
    try {
      const ids: string[] = [];
      for await (const model of this.#client.models.list({}, { signal })) ids.push(model.id);
      return ids;
    } catch (error) {
      throw toProviderError(this.id, error, signal);
    }
  }
}

function finishReason(reason: string): FinishReason {
  if (reason === "max_tokens" || reason === "model_context_window_exceeded") return "length";
  if (reason === "tool_use") return "tool_calls";
  if (reason === "refusal") return "content_filter";
  return "stop";
}

function toAnthropic(request: CompletionRequest): Omit<MessageCreateParamsBase, "stream"> {
  const system = request.messages
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("\n\n");
  return {
    model: request.model,
    // Anthropic requires a ceiling; the model's own is the natural default.
    max_tokens: request.maxTokens ?? Math.min(modelInfo("anthropic", request.model).maxOutputTokens, 8_192),
    messages: toAnthropicMessages(request.messages),
    ...(system ? { system } : {}),
    ...(request.tools?.length
      ? {
          tools: request.tools.map((tool) => ({
            name: tool.name,
            description: tool.description,
            input_schema: { type: "object" as const, ...tool.parameters },
          })),
        }
      : {}),
    ...(request.tools?.length && request.toolChoice
      ? { tool_choice: toAnthropicToolChoice(request.toolChoice) }
      : {}),
    ...(request.temperature !== undefined ? { temperature: Math.min(request.temperature, 1) } : {}),
    ...(request.topP !== undefined ? { top_p: request.topP } : {}),
    ...(request.stop?.length ? { stop_sequences: request.stop } : {}),
  };
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text || "{}");
  } catch {
    return {};
  }
}

/**
 * Anthropic wants alternating user and assistant turns: tool results travel in a user turn, and consecutive
 * messages of one role are merged into one turn of several blocks.
 */
export function toAnthropicMessages(messages: ChatMessage[]): MessageParam[] {
  const turns: { role: "user" | "assistant"; blocks: ContentBlockParam[] }[] = [];
  const push = (role: "user" | "assistant", blocks: ContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks });
  };
  for (const message of messages) {
    switch (message.role) {
      case "system":
        break;
      case "user":
        push("user", message.content ? [{ type: "text", text: message.content }] : []);
        break;
      case "assistant":
        push("assistant", [
          ...(message.content ? [{ type: "text" as const, text: message.content }] : []),
          ...(message.toolCalls ?? []).map((call) => ({
            type: "tool_use" as const,
            id: call.id,
            name: call.name,
            input: parseArguments(call.arguments),
          })),
        ]);
        break;
      case "tool":
        push("user", [{ type: "tool_result", tool_use_id: message.toolCallId, content: message.content }]);
        break;
    }
  }
  return turns.map(({ role, blocks }) => {
    const only = blocks[0];
    // A single text block travels as a plain string, the form every Anthropic-compatible server accepts.
    const content = blocks.length === 1 && only?.type === "text" ? only.text : blocks;
    return { role, content };
  });
}

function toAnthropicToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (choice === "auto") return { type: "auto" };
  if (choice === "none") return { type: "none" };
  if (choice === "required") return { type: "any" };
  return { type: "tool", name: choice.name };
}
